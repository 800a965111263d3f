//! The conversation workflow's rules: a pure function of (state, event, clock).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::state::{Booking, CallBackReason, Command, DeliveryResult, Event, Outcome, State, TextKind, WakeFacts};

/// What the rules need besides the state: the clock and the recipient's zone.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    /// The recipient's time zone, for the 08:00–20:00 window on non-reply texts.
    pub tz: Tz,
    /// How long the owner gets to answer a customer text before the AI does:
    /// the business's window, or zero when the owner is away or it is after hours.
    pub reply_delay: Duration,
    /// Follow-up delays after our last message; None turns follow-ups off.
    pub follow_ups: Option<[Duration; 3]>,
}

impl Ctx {
    /// When the first follow-up is due after a message sent now (far in the
    /// future when follow-ups are off, so no timer ever fires for it).
    pub fn first_follow_up(&self) -> DateTime<Utc> {
        match self.follow_ups {
            Some(d) => within_window(self.now + d[0], self.tz),
            None => self.now + Duration::days(36_500),
        }
    }
}

/// The new state, what to do, and a short name for the event history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub state: State,
    pub commands: Vec<Command>,
    pub note: &'static str,
}

/// Follow-ups go out this long after our last message (seed flow 2); the default.
pub const FOLLOW_UP_OFFSETS: [Duration; 3] = [Duration::hours(2), Duration::hours(24), Duration::hours(72)];
/// Automated texts that are not a direct reply go out only in this local window
/// (Florida's, the strictest state rule).
const WINDOW_OPEN: (u32, u32) = (8, 20);

pub fn step(state: &State, event: &Event, ctx: &Ctx) -> Decision {
    let d = match super::turns::step(state, event, ctx) {
        Some(d) => d,
        None => step_outside_turns(state, event, ctx),
    };
    with_summary(state, d)
}

/// A conversation that ends tells the owner how (booked, needs follow-up,
/// lost). Runs that end before the customer was reached (the owner was asked
/// to call back instead), or by joining another conversation, do not.
fn with_summary(before: &State, mut d: Decision) -> Decision {
    let State::Done { outcome } = d.state else {
        return d;
    };
    let summarised = matches!(outcome, Outcome::Booked | Outcome::Cancelled | Outcome::NoResponse | Outcome::OptedOut);
    let reached = matches!(before, State::Waiting { .. } | State::Replying { .. } | State::Human { .. });
    if summarised && reached {
        d.commands.push(Command::Text(TextKind::Summary { outcome }));
    }
    d
}

fn step_outside_turns(state: &State, event: &Event, ctx: &Ctx) -> Decision {
    match (state, event) {
        (State::Notice { notice, .. }, Event::Wake(_)) => {
            done(Outcome::Notified, vec![Command::Text(TextKind::Notice(*notice))], "notice_sent")
        }
        (State::Start { .. }, Event::Wake(f)) => start(state, *f),
        (State::Start { call_id: None, caller, .. }, Event::Opened { conversation_id, lead_id, .. }) => {
            super::turns::first_text(*conversation_id, *lead_id, caller, ctx)
        }
        (State::Start { caller, .. }, Event::Opened { conversation_id, lead_id, .. }) => Decision {
            state: State::Greeting { conversation_id: *conversation_id, lead_id: *lead_id, caller: caller.clone() },
            commands: vec![Command::Text(TextKind::TextBack), Command::Text(TextKind::OwnerMissedCall)],
            note: "conversation_opened",
        },
        (State::Start { call_id: Some(_), .. }, Event::Joined { .. }) => {
            done(Outcome::Joined, vec![], "joined_open_conversation")
        }
        (State::Greeting { .. }, Event::Delivered { purpose, result }) if purpose == "text_back" => {
            greeted(state, *result, ctx)
        }
        (State::Waiting { next_at, .. }, Event::Wake(f)) if ctx.now >= *next_at => follow_up(state, *f, ctx),
        _ => keep(state),
    }
}

pub(super) fn keep(state: &State) -> Decision {
    Decision { state: state.clone(), commands: vec![], note: "no_change" }
}

pub(super) fn done(outcome: Outcome, commands: Vec<Command>, note: &'static str) -> Decision {
    Decision { state: State::Done { outcome }, commands, note }
}

fn start(state: &State, f: WakeFacts) -> Decision {
    if !f.business_active {
        return done(Outcome::BusinessInactive, vec![], "business_inactive");
    }
    if f.opted_out {
        return done(Outcome::OptedOut, vec![], "caller_opted_out");
    }
    if f.unreachable {
        let cmd = Command::Text(TextKind::OwnerCallBack { reason: CallBackReason::Landline });
        return done(Outcome::Unreachable, vec![cmd], "caller_not_textable");
    }
    Decision { state: state.clone(), commands: vec![Command::OpenConversation], note: "opening_conversation" }
}

fn greeted(state: &State, result: DeliveryResult, ctx: &Ctx) -> Decision {
    let State::Greeting { conversation_id, lead_id, caller } = state else {
        return keep(state);
    };
    let close = |status: &'static str| Command::Conversation {
        conversation_id: *conversation_id,
        status,
        follow_ups: 0,
        next_at: None,
    };
    match result {
        DeliveryResult::Sent => {
            let next_at = ctx.first_follow_up();
            Decision {
                state: State::Waiting {
                    conversation_id: *conversation_id,
                    lead_id: *lead_id,
                    caller: caller.clone(),
                    text_back_at: ctx.now,
                    follow_ups_sent: 0,
                    next_at,
                    turn: 0,
                    booking: Booking::default(),
                },
                commands: vec![
                    Command::LeadStatus { lead_id: *lead_id, to: "contacted", from: &["new"] },
                    Command::Conversation {
                        conversation_id: *conversation_id,
                        status: "active",
                        follow_ups: 0,
                        next_at: Some(next_at),
                    },
                ],
                note: "text_back_sent",
            }
        }
        DeliveryResult::OptedOut => done(
            Outcome::OptedOut,
            vec![
                close("closed_opted_out"),
                Command::LeadStatus { lead_id: *lead_id, to: "opted_out", from: &["new", "contacted", "qualifying"] },
                Command::Text(TextKind::OwnerCallBack { reason: CallBackReason::OptedOutBefore }),
            ],
            "text_back_refused_opted_out",
        ),
        DeliveryResult::Unreachable => done(
            Outcome::Unreachable,
            vec![
                close("closed_no_response"),
                Command::Text(TextKind::OwnerCallBack { reason: CallBackReason::Landline }),
            ],
            "text_back_unreachable",
        ),
        DeliveryResult::Failed => done(
            Outcome::TextBackFailed,
            vec![
                close("closed_no_response"),
                Command::Text(TextKind::OwnerCallBack { reason: CallBackReason::SendFailed }),
            ],
            "text_back_failed",
        ),
    }
}

fn follow_up(state: &State, f: WakeFacts, ctx: &Ctx) -> Decision {
    let State::Waiting { conversation_id, lead_id, caller, text_back_at, follow_ups_sent, turn, booking, .. } = state
    else {
        return keep(state);
    };
    let close = |status: &'static str, n: u8| Command::Conversation {
        conversation_id: *conversation_id,
        status,
        follow_ups: i32::from(n),
        next_at: None,
    };
    if f.opted_out {
        let lead =
            Command::LeadStatus { lead_id: *lead_id, to: "opted_out", from: &["new", "contacted", "qualifying"] };
        return done(Outcome::OptedOut, vec![close("closed_opted_out", *follow_ups_sent), lead], "caller_opted_out");
    }
    if !f.business_active {
        return done(Outcome::BusinessInactive, vec![close("closed_manual", *follow_ups_sent)], "business_inactive");
    }
    let allowed = within_window(ctx.now, ctx.tz);
    if allowed > ctx.now {
        let mut s = state.clone();
        if let State::Waiting { next_at, .. } = &mut s {
            *next_at = allowed;
        }
        let status = if *follow_ups_sent == 0 { "active" } else { "follow_up" };
        let cmd = Command::Conversation {
            conversation_id: *conversation_id,
            status,
            follow_ups: i32::from(*follow_ups_sent),
            next_at: Some(allowed),
        };
        return Decision { state: s, commands: vec![cmd], note: "follow_up_deferred_to_daytime" };
    }
    let n = follow_ups_sent.saturating_add(1);
    let text = Command::Text(TextKind::FollowUp { turn: *turn, n });
    let Some(offsets) = ctx.follow_ups else {
        return keep(state);
    };
    if usize::from(n) >= offsets.len() {
        let lead =
            Command::LeadStatus { lead_id: *lead_id, to: "unresponsive", from: &["new", "contacted", "qualifying"] };
        return done(Outcome::NoResponse, vec![text, close("closed_no_response", n), lead], "final_follow_up");
    }
    // Keep the planned spacing even when this follow-up went out late (a worker
    // outage): never two follow-ups back to back.
    let i = usize::from(n);
    let gap = offsets[i] - offsets[i - 1];
    let next_at = within_window((*text_back_at + offsets[i]).max(ctx.now + gap), ctx.tz);
    Decision {
        state: State::Waiting {
            conversation_id: *conversation_id,
            lead_id: *lead_id,
            caller: caller.clone(),
            text_back_at: *text_back_at,
            follow_ups_sent: n,
            next_at,
            turn: *turn,
            booking: booking.clone(),
        },
        commands: vec![
            text,
            Command::Conversation {
                conversation_id: *conversation_id,
                status: "follow_up",
                follow_ups: i32::from(n),
                next_at: Some(next_at),
            },
        ],
        note: "follow_up_sent",
    }
}

/// `at` if it falls in the 08:00–20:00 local window, else the next 08:00.
pub fn within_window(at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = at.with_timezone(&tz);
    let t = local.time();
    let open = NaiveTime::from_hms_opt(WINDOW_OPEN.0, 0, 0).unwrap_or_default();
    let close = NaiveTime::from_hms_opt(WINDOW_OPEN.1, 0, 0).unwrap_or_default();
    if t >= open && t < close {
        return at;
    }
    let day = if t >= close { local.date_naive().succ_opt().unwrap_or(local.date_naive()) } else { local.date_naive() };
    // 08:00 exists on every day in every zone (DST shifts happen at night).
    tz.from_local_datetime(&day.and_time(open)).earliest().map(|d| d.with_timezone(&Utc)).unwrap_or(at)
}
