//! Carries out a transition's commands inside the tick's transaction.

use chrono::Utc;
use minijinja::context;
use sqlx::PgConnection;

use activities::domain::{ConversationId, PhoneNumber};
use activities::store::businesses::Business;
use activities::store::conversations::{self, ConversationUpdate, LeadMove, LeadSource, Opened};
use activities::store::messages::{self, Audience, NewOutbound};
use activities::store::outbox_many::{QueuedNotification, QueuedRow};

use super::state::{Alert, CallBackReason, Command, Event, Notice, State, TextKind};
use super::{alerts, calendar};
use crate::engine::runs::{self, RunRow};
use crate::engine::{EngineError, Workflows};

/// What a batch's rounds leave to the batch to write together: a missed
/// call's text-back and owner alert (their round claims its texts next, also
/// left to the batch, and reads nothing in between), and the lead's move
/// with the conversation's update after a text-back (the round's last
/// statement follows, and reads neither).
#[derive(Default)]
pub(crate) struct Writes {
    pub texts: Vec<QueuedRow>,
    pub notifications: Vec<QueuedNotification>,
    pub pairs: Vec<activities::store::leads_many::Pair>,
}

/// Applies one command; some produce a follow-up event (the conversation
/// opened). In a batch's round (`writes`), a missed call's text-back and
/// owner alert are left to the batch.
pub(crate) async fn apply(
    wf: &Workflows,
    conn: &mut PgConnection,
    (run, business): (&RunRow, &Business),
    states: (&State, &State),
    cmd: &Command,
    writes: Option<&mut Writes>,
) -> Result<Option<Event>, EngineError> {
    // Texts read the caller and conversation from the new state, or from the
    // old one when the new state has ended and no longer carries them.
    let (prev, next) = states;
    let prev = if matches!(next, State::Done { .. }) { prev } else { next };
    match cmd {
        Command::OpenConversation => open(wf, conn, run, business, prev).await,
        Command::Text(kind) => {
            match writes.filter(|_| matches!(kind, TextKind::TextBack | TextKind::OwnerMissedCall)) {
                Some(writes) => leave_text(wf, run, business, prev, *kind, writes)?,
                None => queue_text(wf, conn, run, business, prev, *kind).await?,
            }
            Ok(None)
        }
        Command::LeadStatus { .. } => {
            if let Some(m) = lead_move(cmd) {
                conversations::set_lead_status(&mut *conn, business.id, &m).await?;
            }
            Ok(None)
        }
        Command::Conversation { .. } => {
            if let Some(u) = conversation_update(cmd) {
                conversations::update_conversation(&mut *conn, business.id, &u).await?;
            }
            Ok(None)
        }
        Command::Reply { turn, body } => {
            let (Some(caller), conversation_id) = caller_and_conversation(prev) else {
                return Ok(None);
            };
            let purpose = format!("reply_{turn}");
            queue(conn, run, business, conversation_id, &purpose, Audience::Customer, caller, body, None).await?;
            Ok(None)
        }
        Command::UpdateLead { lead_id, reply } => {
            conversations::apply_facts(&mut *conn, business.id, *lead_id, &reply.extracted, &reply.corrections).await?;
            Ok(None)
        }
        Command::FlagHuman { conversation_id } => {
            conversations::flag_human(&mut *conn, business.id, *conversation_id).await?;
            Ok(None)
        }
        Command::OwnerText { key, body } => {
            let (Some(caller), conversation_id) = caller_and_conversation(prev) else {
                return Ok(None);
            };
            let purpose = format!("owner_msg_{key}");
            let row = NewOutbound {
                business_id: business.id,
                conversation_id,
                run_id: run.id,
                purpose: &purpose,
                audience: Audience::Customer,
                from: &business.twilio_number,
                to: caller,
                body,
                validity_seconds: None,
            };
            messages::queue_human(&mut *conn, &row).await?;
            Ok(None)
        }
        Command::RecordOptOut => {
            if let (Some(caller), _) = caller_and_conversation(prev) {
                activities::store::opt_outs::add_opt_out(&mut *conn, business.id, caller, "said_opt_out").await?;
            }
            Ok(None)
        }
        // The driver runs the responder between transactions; nothing to store.
        Command::Respond { .. } => Ok(None),
        Command::Offer { turn, prefer, exclude, reschedule } => {
            let t = calendar::Turn { business, state: next, now: Utc::now() };
            let written = calendar::offer_times(conn, &t, prefer.as_ref(), exclude, *reschedule).await?;
            reply_with(wf, conn, run, business, next, *turn, written).await
        }
        Command::Book { turn, slot, moving, .. } => {
            let t = calendar::Turn { business, state: next, now: Utc::now() };
            let written = calendar::book(conn, &t, slot, *moving).await?;
            reply_with(wf, conn, run, business, next, *turn, written).await
        }
        Command::CancelAppointment { turn } => {
            let t = calendar::Turn { business, state: next, now: Utc::now() };
            let written = calendar::cancel(conn, &t).await?;
            reply_with(wf, conn, run, business, next, *turn, written).await
        }
    }
}

/// Whether carrying out `cmd` may add a text to the run's outbox (then the
/// round claims its outbox before it commits).
pub(crate) fn may_queue_text(cmd: &Command) -> bool {
    match cmd {
        Command::Text(_)
        | Command::Reply { .. }
        | Command::OwnerText { .. }
        | Command::Offer { .. }
        | Command::Book { .. }
        | Command::CancelAppointment { .. } => true,
        Command::OpenConversation
        | Command::Respond { .. }
        | Command::RecordOptOut
        | Command::UpdateLead { .. }
        | Command::FlagHuman { .. }
        | Command::LeadStatus { .. }
        | Command::Conversation { .. } => false,
    }
}

/// Carries two adjacent commands in one statement when it can: a lead's move
/// and its conversation's update (the round after a text-back has both).
/// False, with nothing written, for any other pair. In a batch's round
/// (`writes`) the pair is left to the batch.
pub(crate) async fn apply_pair(
    conn: &mut PgConnection,
    business: &Business,
    (first, second): (&Command, &Command),
    writes: Option<&mut Writes>,
) -> Result<bool, EngineError> {
    let pair = match (lead_move(first), conversation_update(second)) {
        (Some(m), Some(u)) => Some((m, u)),
        _ => lead_move(second).zip(conversation_update(first)),
    };
    let Some((lead, conversation)) = pair else {
        return Ok(false);
    };
    if let Some(writes) = writes {
        writes.pairs.push((business.id, lead, conversation));
        return Ok(true);
    }
    conversations::move_lead_and_update_conversation(&mut *conn, business.id, &lead, &conversation).await?;
    Ok(true)
}

/// The lead's move a [`Command::LeadStatus`] asks for.
fn lead_move(cmd: &Command) -> Option<LeadMove<'static>> {
    match cmd {
        Command::LeadStatus { lead_id, to, from } => Some(LeadMove { id: *lead_id, to, from }),
        _ => None,
    }
}

/// The conversation's update a [`Command::Conversation`] asks for.
fn conversation_update(cmd: &Command) -> Option<ConversationUpdate<'static>> {
    match cmd {
        Command::Conversation { conversation_id, status, follow_ups, next_at } => Some(ConversationUpdate {
            id: *conversation_id,
            status,
            follow_up_count: *follow_ups,
            next_follow_up_at: *next_at,
        }),
        _ => None,
    }
}

/// Queues the calendar's reply for `turn` and hands its event back to the rules.
async fn reply_with(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    state: &State,
    turn: u32,
    written: calendar::Written,
) -> Result<Option<Event>, EngineError> {
    let (Some(caller), conversation_id) = caller_and_conversation(state) else {
        return Ok(None);
    };
    let body = wf.0.templates.render(written.template, written.ctx)?;
    let purpose = format!("reply_{turn}");
    queue(conn, run, business, conversation_id, &purpose, Audience::Customer, caller, &body, None).await?;
    Ok(Some(written.event))
}

#[allow(clippy::too_many_arguments)]
async fn queue(
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    conversation_id: Option<ConversationId>,
    purpose: &str,
    audience: Audience,
    to: &PhoneNumber,
    body: &str,
    validity_seconds: Option<i32>,
) -> Result<(), EngineError> {
    let row = NewOutbound {
        business_id: business.id,
        conversation_id,
        run_id: run.id,
        purpose,
        audience,
        from: &business.twilio_number,
        to,
        body,
        validity_seconds,
    };
    messages::queue_outbound(&mut *conn, &row).await?;
    Ok(())
}

async fn open(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    state: &State,
) -> Result<Option<Event>, EngineError> {
    let State::Start { call_id, caller, caller_state, .. } = state else {
        return Ok(None);
    };
    let source = if call_id.is_some() { LeadSource::MissedCall } else { LeadSource::Manual };
    // The call's own FromState comes first; without one, their latest text's.
    let state_code = match caller_state {
        Some(code) => Some(code.clone()),
        None => conversations::caller_state(&mut *conn, business.id, caller, *call_id).await?,
    };
    let zone = state_code.as_deref().and_then(activities::domain::us_state::zone_of_state);
    let value = business.avg_job_value;
    let opened = conversations::open_conversation(conn, business.id, caller, source, value, *call_id, zone).await?;
    let (conversation_id, lead_id, zone, created) = match opened {
        Opened::Created { conversation_id, lead_id, zone } => (conversation_id, lead_id, zone, true),
        Opened::Joined { conversation_id, lead_id, zone } => (conversation_id, lead_id, zone, false),
    };
    if call_id.is_some() {
        return Ok(Some(if created {
            Event::Opened { conversation_id, lead_id, zone }
        } else {
            Event::Joined { conversation_id }
        }));
    }
    // A text: its message joins the conversation, and the conversation's own
    // run answers it; this run takes the conversation over only if none is live.
    let adopted = messages::adopt_inbound(&mut *conn, business.id, conversation_id, caller).await?;
    if !created {
        if let Some(owner) = runs::live_run_of(&mut *conn, conversation_id, run.id).await? {
            for message_id in adopted {
                let payload = serde_json::json!({ "message_id": message_id });
                wf.signal(conn, owner, "customer_text", payload, Some(&format!("msg:{message_id}"))).await?;
            }
            return Ok(Some(Event::Joined { conversation_id }));
        }
    }
    Ok(Some(Event::Opened { conversation_id, lead_id, zone }))
}

fn caller_and_conversation(s: &State) -> (Option<&PhoneNumber>, Option<ConversationId>) {
    match s {
        State::Start { caller, .. } => (Some(caller), None),
        State::Greeting { caller, conversation_id, .. }
        | State::Waiting { caller, conversation_id, .. }
        | State::Replying { caller, conversation_id, .. }
        | State::Human { caller, conversation_id, .. } => (Some(caller), Some(*conversation_id)),
        State::Notice { caller, .. } => (Some(caller), None),
        State::Done { .. } => (None, None),
    }
}

/// A missed call's text-back or owner alert, made as [`queue_text`] makes it
/// and left to the batch to insert.
fn leave_text(
    wf: &Workflows,
    run: &RunRow,
    business: &Business,
    prev: &State,
    kind: TextKind,
    writes: &mut Writes,
) -> Result<(), EngineError> {
    let (Some(caller), conversation_id) = caller_and_conversation(prev) else {
        return Ok(());
    };
    if kind != TextKind::TextBack {
        let subject = alerts::Subject { business, state: prev, caller, conversation_id };
        writes.notifications.push(alerts::prepare_missed_call(wf, run, &subject)?);
        return Ok(());
    }
    let body = wf.0.templates.text_back(&business.name, business.ai_greeting.as_deref())?;
    let row = NewOutbound {
        business_id: business.id,
        conversation_id,
        run_id: run.id,
        purpose: &kind.purpose(),
        audience: Audience::Customer,
        from: &business.twilio_number,
        to: caller,
        body: &body,
        validity_seconds: Some(wf.0.cfg.text_back_validity_secs),
    };
    writes.texts.push(QueuedRow::of(&(&row).into()));
    Ok(())
}

async fn queue_text(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    prev: &State,
    kind: TextKind,
) -> Result<(), EngineError> {
    let (caller, conversation_id) = caller_and_conversation(prev);
    let Some(caller) = caller else {
        return Ok(());
    };
    let subject = alerts::Subject { business, state: prev, caller, conversation_id };
    let t = &wf.0.templates;
    let local_time = alerts::local_time(business, Utc::now());
    let caller_display = caller.display_national();
    let link = || alerts::link(wf, conversation_id).unwrap_or_default();
    let (to, audience, body, validity) = match kind {
        TextKind::TextBack => {
            let body = t.text_back(&business.name, business.ai_greeting.as_deref())?;
            (caller, Audience::Customer, body, Some(wf.0.cfg.text_back_validity_secs))
        }
        TextKind::OwnerCallBack { reason } => {
            let reason = match reason {
                CallBackReason::Landline => "it looks like a landline",
                CallBackReason::OptedOutBefore => "they opted out of texts",
                CallBackReason::SendFailed => "the text was refused",
            };
            let ctx = context! { caller => caller_display, time => local_time, reason, link => link() };
            (&business.owner_phone, Audience::Owner, t.render("owner_call_back", ctx)?, None)
        }
        TextKind::FollowUp { n, .. } => {
            let lead = match prev {
                State::Waiting { lead_id, .. } => conversations::get_lead(&mut *conn, business.id, *lead_id).await?,
                _ => None,
            };
            let (name, service) = lead.map(|l| (l.name, l.service_needed)).unwrap_or_default();
            let ctx = context! { business => business.name, name, service };
            (caller, Audience::Customer, t.render(&format!("follow_up_{n}"), ctx)?, None)
        }
        TextKind::Notice(n) => {
            let ctx = context! { business => business.name, phone => business.business_phone.display_national() };
            let name = match n {
                Notice::OptOutConfirmation => "opt_out_confirmation",
                Notice::OptIn => "opt_in",
                Notice::Help => "help",
            };
            (caller, Audience::Customer, t.render(name, ctx)?, None)
        }
        TextKind::OptOutConfirmation => (
            caller,
            Audience::Customer,
            t.render("opt_out_confirmation", context! { business => business.name })?,
            None,
        ),
        TextKind::Help { .. } => {
            let ctx = context! { business => business.name, phone => business.business_phone.display_national() };
            (caller, Audience::Customer, t.render("help", ctx)?, None)
        }
        TextKind::OwnerAlert { alert: Alert::Cancelled, .. } => {
            (&business.owner_phone, Audience::Owner, alerts::cancelled_text(conn, wf, &subject).await?, None)
        }
        // Every other owner alert, and the summary, is a notification (feed, text, email).
        TextKind::OwnerMissedCall | TextKind::OwnerAlert { .. } | TextKind::Summary { .. } => {
            return alerts::notify_owner(wf, conn, run, &subject, kind).await;
        }
        TextKind::HandOff { .. } => (caller, Audience::Customer, t.render("booking_handoff", context! {})?, None),
        TextKind::Forward { message_id } => {
            let Some(m) = messages::get_message(&mut *conn, business.id, message_id).await? else {
                return Ok(());
            };
            let lead = alerts::lead_of(conn, business, prev).await?;
            let body = if m.num_media > 0 { format!("{} [photo]", m.body) } else { m.body };
            let ctx = context! { caller => caller_display, name => lead.name, body, link => link() };
            (&business.owner_phone, Audience::Owner, t.render("owner_forward", ctx)?, None)
        }
    };
    queue(conn, run, business, conversation_id, &kind.purpose(), audience, to, &body, validity).await
}
