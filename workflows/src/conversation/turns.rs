//! The live conversation: customer texts, the owner's window, AI replies,
//! takeover and hand-back, opt-out and HELP. Pure, like the rest of the rules.

use chrono::{DateTime, Duration, Utc};

use activities::domain::{ConversationId, LeadId, PhoneNumber};
use activities::responder::Reply;

use super::state::{Alert, Booking, Command, Event, Outcome, SignalKind, State, TextKind};
use super::transition::{done, keep, within_window, Ctx, Decision};

/// Leads that can still move forward (never back from booked or completed).
const OPEN_LEAD: &[&str] = &["new", "contacted", "qualifying"];

/// The rules for signals and replies; None lets the follow-up rules decide.
pub(super) fn step(state: &State, event: &Event, ctx: &Ctx) -> Option<Decision> {
    if let Some(d) = super::booking::on_calendar(state, event) {
        return Some(d);
    }
    let ids = live(state)?;
    Some(match event {
        Event::Signal(SignalKind::OptOut) => opted_out(&ids),
        Event::Signal(SignalKind::Help { key }) => help(state, *key),
        Event::Signal(SignalKind::CustomerText { message_id }) => match state {
            State::Human { .. } => forwarded(state, *message_id, ctx),
            _ => customer_wrote(&ids, state, ctx),
        },
        Event::Signal(SignalKind::TakeOver) => taken_over(&ids, state),
        Event::Signal(SignalKind::ReturnToAi) => returned(&ids, state, ctx),
        Event::Signal(SignalKind::OwnerMessage { key, body }) => owner_wrote(&ids, *key, body),
        Event::Wake(facts) => match state {
            State::Replying { due_at, turn, since, .. } if ctx.now >= *due_at => {
                if facts.opted_out {
                    opted_out(&ids)
                } else if !facts.business_active {
                    done(Outcome::BusinessInactive, vec![close(&ids, "closed_manual")], "business_inactive")
                } else if let Some(daytime) = deferred(*since, ctx) {
                    let mut s = state.clone();
                    if let State::Replying { due_at, .. } = &mut s {
                        *due_at = daytime;
                    }
                    Decision { state: s, commands: vec![], note: "reply_deferred_to_daytime" }
                } else {
                    Decision {
                        state: state.clone(),
                        commands: vec![Command::Respond { turn: *turn }],
                        note: "responding",
                    }
                }
            }
            _ => return None,
        },
        Event::Responded { turn, reply } => match state {
            State::Replying { turn: t, .. } if t == turn => replied(&ids, *turn, reply, ctx),
            _ => keep(state),
        },
        _ => return None,
    })
}

/// A reply within five minutes of the customer's text is a direct reply and
/// may go out at any hour; a later one waits for 08:00–20:00 local time.
fn deferred(since: Option<DateTime<Utc>>, ctx: &Ctx) -> Option<DateTime<Utc>> {
    let since = since?;
    if ctx.now - since <= DIRECT_REPLY {
        return None;
    }
    let open = within_window(ctx.now, ctx.tz);
    (open > ctx.now).then_some(open)
}

/// How long after a customer's text our answer still counts as a direct reply.
const DIRECT_REPLY: Duration = Duration::minutes(5);

/// What identifies a live conversation in any of its states.
pub(super) struct Ids {
    pub(super) conversation_id: ConversationId,
    pub(super) lead_id: LeadId,
    pub(super) caller: PhoneNumber,
    pub(super) turn: u32,
    pub(super) booking: Booking,
}

pub(super) fn live(state: &State) -> Option<Ids> {
    match state {
        State::Greeting { conversation_id, lead_id, caller } => Some(Ids {
            conversation_id: *conversation_id,
            lead_id: *lead_id,
            caller: caller.clone(),
            turn: 0,
            booking: Booking::default(),
        }),
        State::Waiting { conversation_id, lead_id, caller, turn, booking, .. }
        | State::Replying { conversation_id, lead_id, caller, turn, booking, .. }
        | State::Human { conversation_id, lead_id, caller, turn, booking, .. } => Some(Ids {
            conversation_id: *conversation_id,
            lead_id: *lead_id,
            caller: caller.clone(),
            turn: *turn,
            booking: booking.clone(),
        }),
        State::Start { .. } | State::Notice { .. } | State::Done { .. } => None,
    }
}

/// The first text from a new number opened a conversation: reply to it.
pub(super) fn first_text(
    conversation_id: ConversationId,
    lead_id: LeadId,
    caller: &PhoneNumber,
    ctx: &Ctx,
) -> Decision {
    let ids = Ids { conversation_id, lead_id, caller: caller.clone(), turn: 0, booking: Booking::default() };
    let mut d = replying(&ids, ctx, None);
    d.note = "conversation_opened_by_text";
    d
}

fn replying(ids: &Ids, ctx: &Ctx, keep: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>) -> Decision {
    // A burst keeps the first text's deadline: one reply answers them all.
    let (due_at, since) = keep.unwrap_or((ctx.now + ctx.reply_delay, Some(ctx.now)));
    Decision {
        state: State::Replying {
            conversation_id: ids.conversation_id,
            lead_id: ids.lead_id,
            caller: ids.caller.clone(),
            turn: ids.turn,
            due_at,
            since,
            booking: ids.booking.clone(),
        },
        commands: vec![
            Command::Conversation {
                conversation_id: ids.conversation_id,
                status: "active",
                follow_ups: 0,
                next_at: None,
            },
            Command::LeadStatus { lead_id: ids.lead_id, to: "qualifying", from: &["new", "contacted"] },
        ],
        note: "customer_replied",
    }
}

fn customer_wrote(ids: &Ids, state: &State, ctx: &Ctx) -> Decision {
    let keep = match state {
        State::Replying { due_at, since, .. } => Some((*due_at, *since)),
        _ => None,
    };
    replying(ids, ctx, keep)
}

fn replied(ids: &Ids, turn: u32, reply: &Reply, ctx: &Ctx) -> Decision {
    if reply.opt_out {
        // The model may catch a revocation the keyword pass missed; it never un-flags one.
        let mut d = opted_out(ids);
        d.commands.insert(0, Command::RecordOptOut);
        d.note = "customer_opted_out_in_words";
        return d;
    }
    let next = turn + 1;
    let next_at = ctx.first_follow_up();
    let mut commands = vec![
        Command::UpdateLead { lead_id: ids.lead_id, reply: Box::new(reply.clone()) },
        Command::Conversation {
            conversation_id: ids.conversation_id,
            status: "active",
            follow_ups: 0,
            next_at: Some(next_at),
        },
    ];
    let plan = super::booking::plan(&ids.booking, turn, reply);
    if reply.emergency {
        commands.push(Command::Text(TextKind::OwnerAlert { alert: Alert::Emergency, turn }));
    }
    if reply.human_needed {
        commands.push(Command::FlagHuman { conversation_id: ids.conversation_id });
        commands.push(Command::Text(TextKind::OwnerAlert { alert: Alert::HumanNeeded, turn }));
    }
    if reply.qualified {
        commands.push(Command::LeadStatus { lead_id: ids.lead_id, to: "qualified", from: OPEN_LEAD });
    }
    match plan {
        super::booking::Plan::Command(cmd) => commands.push(cmd),
        super::booking::Plan::HandOff => return super::booking::hand_off(ids, turn, commands),
        super::booking::Plan::Reply => {
            commands.insert(0, Command::Reply { turn, body: reply.text.clone() });
            // While times are on offer the owner hears of the lead when it is
            // booked or handed over, not at every turn of the choosing.
            if reply.qualified && ids.booking.offers == 0 {
                commands.push(Command::Text(TextKind::OwnerAlert { alert: Alert::Qualified, turn }));
            }
        }
    }
    Decision { state: waiting_from_now(ids, ctx, next_at, next), commands, note: "replied" }
}

/// Waiting for the customer, with the follow-up schedule restarted from now
/// (our message just went out, or the owner just handed back).
fn waiting_from_now(ids: &Ids, ctx: &Ctx, next_at: DateTime<Utc>, turn: u32) -> State {
    State::Waiting {
        conversation_id: ids.conversation_id,
        lead_id: ids.lead_id,
        caller: ids.caller.clone(),
        text_back_at: ctx.now,
        follow_ups_sent: 0,
        next_at,
        turn,
        booking: ids.booking.clone(),
    }
}

pub(super) fn close(ids: &Ids, status: &'static str) -> Command {
    Command::Conversation { conversation_id: ids.conversation_id, status, follow_ups: 0, next_at: None }
}

fn opted_out(ids: &Ids) -> Decision {
    done(
        Outcome::OptedOut,
        vec![
            close(ids, "closed_opted_out"),
            Command::LeadStatus { lead_id: ids.lead_id, to: "opted_out", from: OPEN_LEAD_OR_QUALIFIED },
            Command::Text(TextKind::OptOutConfirmation),
        ],
        "customer_opted_out",
    )
}

const OPEN_LEAD_OR_QUALIFIED: &[&str] = &["new", "contacted", "qualifying", "qualified", "unresponsive"];

fn help(state: &State, key: i64) -> Decision {
    Decision { state: state.clone(), commands: vec![Command::Text(TextKind::Help { key })], note: "help_requested" }
}

fn forwarded(state: &State, message_id: activities::domain::MessageId, ctx: &Ctx) -> Decision {
    let mut s = state.clone();
    if let State::Human { unanswered, .. } = &mut s {
        unanswered.get_or_insert(ctx.now);
    }
    Decision { state: s, commands: vec![Command::Text(TextKind::Forward { message_id })], note: "forwarded_to_owner" }
}

/// The owner's own text goes out, and the conversation is theirs until they hand it back.
fn owner_wrote(ids: &Ids, key: i64, body: &str) -> Decision {
    Decision {
        state: State::Human {
            conversation_id: ids.conversation_id,
            lead_id: ids.lead_id,
            caller: ids.caller.clone(),
            turn: ids.turn,
            unanswered: None,
            booking: ids.booking.clone(),
        },
        commands: vec![Command::OwnerText { key, body: body.to_owned() }, close(ids, "human_active")],
        note: "owner_wrote",
    }
}

fn taken_over(ids: &Ids, state: &State) -> Decision {
    if matches!(state, State::Human { .. }) {
        return keep(state);
    }
    let unanswered = match state {
        State::Replying { since, due_at, .. } => Some(since.unwrap_or(*due_at)),
        _ => None,
    };
    Decision {
        state: State::Human {
            conversation_id: ids.conversation_id,
            lead_id: ids.lead_id,
            caller: ids.caller.clone(),
            turn: ids.turn,
            unanswered,
            booking: ids.booking.clone(),
        },
        commands: vec![close(ids, "human_active")],
        note: "owner_took_over",
    }
}

fn returned(ids: &Ids, state: &State, ctx: &Ctx) -> Decision {
    let State::Human { unanswered, .. } = state else {
        return keep(state);
    };
    if let Some(since) = unanswered {
        // Answer what the customer wrote while the owner had the conversation
        // (at once, or at 08:00 if it is no longer a direct reply at night).
        let mut d = replying(ids, ctx, Some((ctx.now, Some(*since))));
        d.note = "returned_to_ai";
        return d;
    }
    let next_at = ctx.first_follow_up();
    Decision {
        state: waiting_from_now(ids, ctx, next_at, ids.turn),
        commands: vec![Command::Conversation {
            conversation_id: ids.conversation_id,
            status: "active",
            follow_ups: 0,
            next_at: Some(next_at),
        }],
        note: "returned_to_ai",
    }
}
