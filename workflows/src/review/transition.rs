//! The review-request rules: a pure function of (state, facts, clock). One
//! request, at most one reminder, nothing after; never to an opted-out
//! number; only 08:00–20:00 in the customer's zone (these are not replies).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::state::{Command, Facts, Outcome, RequestStatus, State, TextKind};
use crate::conversation::transition::within_window;

/// The clock, the recipient's zone and how long after the request the reminder waits.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub reminder_delay: Duration,
}

/// The new state, what to do, and a short name for the event history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub state: State,
    pub commands: Vec<Command>,
    pub note: &'static str,
}

/// The seed's delays: the request 2 h after the job, the reminder 48 h after the request.
pub const DEFAULT_DELAYS: [Duration; 2] = [Duration::hours(2), Duration::hours(48)];

/// When the request goes out for a job completed at `completed_at`: after
/// `delay`, moved to the next 08:00 if that falls at night for the customer.
pub fn send_at(completed_at: DateTime<Utc>, delay: Duration, tz: Tz) -> DateTime<Utc> {
    within_window(completed_at + delay, tz)
}

pub fn step(state: &State, facts: Facts, ctx: &Ctx) -> Decision {
    let due_at = match state {
        State::Scheduled { due_at, .. } | State::Requested { due_at, .. } => *due_at,
        State::Done { .. } => return keep(state),
    };
    if facts.clicked {
        return done(Outcome::Clicked, vec![], "review_link_clicked");
    }
    if facts.opted_out {
        return done(Outcome::OptedOut, vec![Command::Status(RequestStatus::OptedOut)], "customer_opted_out");
    }
    if !facts.business_active {
        return done(Outcome::Cancelled, vec![Command::Status(RequestStatus::Cancelled)], "business_inactive");
    }
    if facts.unreachable {
        return done(Outcome::Cancelled, vec![Command::Status(RequestStatus::Cancelled)], "number_unreachable");
    }
    if ctx.now < due_at {
        return keep(state);
    }
    let allowed = within_window(ctx.now, ctx.tz);
    if allowed > ctx.now {
        return Decision { state: with_due_at(state, allowed), commands: vec![], note: "deferred_to_daytime" };
    }
    match state {
        State::Scheduled { review_request_id, lead_id, completed_at, .. } => Decision {
            state: State::Requested {
                review_request_id: *review_request_id,
                lead_id: *lead_id,
                sent_at: ctx.now,
                due_at: ctx.now + ctx.reminder_delay,
            },
            commands: vec![
                Command::Text(TextKind::Request { today: same_local_day(*completed_at, ctx.now, ctx.tz) }),
                Command::Status(RequestStatus::Sent),
            ],
            note: "review_requested",
        },
        State::Requested { .. } => done(
            Outcome::Reminded,
            vec![Command::Text(TextKind::Reminder), Command::Status(RequestStatus::Reminded)],
            "review_reminded",
        ),
        State::Done { .. } => keep(state),
    }
}

fn keep(state: &State) -> Decision {
    Decision { state: state.clone(), commands: vec![], note: "no_change" }
}

fn done(outcome: Outcome, commands: Vec<Command>, note: &'static str) -> Decision {
    Decision { state: State::Done { outcome }, commands, note }
}

fn with_due_at(state: &State, at: DateTime<Utc>) -> State {
    let mut s = state.clone();
    if let State::Scheduled { due_at, .. } | State::Requested { due_at, .. } = &mut s {
        *due_at = at;
    }
    s
}

/// "Thanks for choosing us today" only when it still is that day for the customer.
fn same_local_day(a: DateTime<Utc>, b: DateTime<Utc>, tz: Tz) -> bool {
    a.with_timezone(&tz).date_naive() == b.with_timezone(&tz).date_naive()
}
