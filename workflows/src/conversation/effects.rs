//! Carries out a transition's commands inside the tick's transaction.

use chrono::Utc;
use minijinja::context;
use sqlx::PgConnection;

use activities::domain::{ConversationId, PhoneNumber};
use activities::store::businesses::Business;
use activities::store::conversations::{self, LeadSource, Opened};
use activities::store::messages::{self, Audience, NewOutbound};

use super::state::{CallBackReason, Command, Event, State, TextKind};
use crate::engine::runs::RunRow;
use crate::engine::{EngineError, Workflows};

/// Applies one command; some produce a follow-up event (the conversation opened).
pub(crate) async fn apply(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    states: (&State, &State),
    cmd: &Command,
) -> Result<Option<Event>, EngineError> {
    // Texts read the caller and conversation from the new state, or from the
    // old one when the new state has ended and no longer carries them.
    let (prev, next) = states;
    let prev = if matches!(next, State::Done { .. }) { prev } else { next };
    match cmd {
        Command::OpenConversation => open(conn, business, prev).await,
        Command::Text(kind) => {
            queue_text(wf, conn, run, business, prev, *kind).await?;
            Ok(None)
        }
        Command::LeadStatus { lead_id, to, from } => {
            conversations::set_lead_status(&mut *conn, business.id, *lead_id, to, from).await?;
            Ok(None)
        }
        Command::Conversation { conversation_id, status, follow_ups, next_at } => {
            conversations::update_conversation(
                &mut *conn,
                business.id,
                *conversation_id,
                status,
                *follow_ups,
                *next_at,
            )
            .await?;
            Ok(None)
        }
    }
}

async fn open(conn: &mut PgConnection, business: &Business, state: &State) -> Result<Option<Event>, EngineError> {
    let State::Start { call_id, caller, .. } = state else {
        return Ok(None);
    };
    let opened = conversations::open_conversation(
        conn,
        business.id,
        caller,
        LeadSource::MissedCall,
        business.avg_job_value,
        *call_id,
    )
    .await?;
    Ok(Some(match opened {
        Opened::Created { conversation_id, lead_id } => Event::Opened { conversation_id, lead_id },
        Opened::Joined { conversation_id, .. } => Event::Joined { conversation_id },
    }))
}

fn caller_and_conversation(s: &State) -> (Option<&PhoneNumber>, Option<ConversationId>) {
    match s {
        State::Start { caller, .. } => (Some(caller), None),
        State::Greeting { caller, conversation_id, .. } | State::Waiting { caller, conversation_id, .. } => {
            (Some(caller), Some(*conversation_id))
        }
        State::Done { .. } => (None, None),
    }
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
    let t = &wf.0.templates;
    let local_time = Utc::now().with_timezone(&business.timezone.tz()).format("%-I:%M %p").to_string();
    let caller_display = caller.display_national();
    let (to, audience, body, validity) = match kind {
        TextKind::TextBack => {
            let body = t.text_back(&business.name, business.ai_greeting.as_deref())?;
            (caller, Audience::Customer, body, Some(wf.0.cfg.text_back_validity_secs))
        }
        TextKind::OwnerMissedCall => {
            let ctx = context! { caller => caller_display, time => local_time, after_hours => !business.is_open_at(Utc::now()) };
            (&business.owner_phone, Audience::Owner, t.render("owner_missed_call", ctx)?, None)
        }
        TextKind::OwnerCallBack { reason } => {
            let reason = match reason {
                CallBackReason::Landline => "it looks like a landline",
                CallBackReason::OptedOutBefore => "they opted out of texts",
                CallBackReason::SendFailed => "the text was refused",
            };
            let ctx = context! { caller => caller_display, time => local_time, reason };
            (&business.owner_phone, Audience::Owner, t.render("owner_call_back", ctx)?, None)
        }
        TextKind::FollowUp(n) => {
            let lead = match prev {
                State::Waiting { lead_id, .. } => conversations::get_lead(&mut *conn, business.id, *lead_id).await?,
                _ => None,
            };
            let (name, service) = lead.map(|l| (l.name, l.service_needed)).unwrap_or_default();
            let ctx = context! { business => business.name, name, service };
            (caller, Audience::Customer, t.render(&format!("follow_up_{n}"), ctx)?, None)
        }
    };
    let purpose = kind.purpose();
    let row = NewOutbound {
        business_id: business.id,
        conversation_id,
        run_id: run.id,
        purpose: &purpose,
        audience,
        from: &business.twilio_number,
        to,
        body: &body,
        validity_seconds: validity,
    };
    messages::queue_outbound(&mut *conn, &row).await?;
    Ok(())
}
