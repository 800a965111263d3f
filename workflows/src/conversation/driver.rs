//! Runs one tick of a conversation workflow: transition under the run's row
//! lock, commit, deliver the outbox with no transaction open, repeat until
//! nothing is due, then schedule the next wake-up with a fresh token.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Utc;
use sqlx::PgConnection;

use activities::domain::{ConversationId, LeadId, Zone};
use activities::sms::Delivery;
use activities::store::businesses::Business;
use activities::store::messages::{self, SentText};
use activities::store::run_outbox::ClaimedOutbox;

use super::effects::{apply, apply_pair, may_queue_text, Writes};
use super::respond;
use super::state::{Command, DeliveryResult, Event, SignalKind, State, WakeFacts};
use super::transition::{step, Ctx};
use crate::engine::drive::{self, Next};
use crate::engine::runs::{self, RunRow};
use crate::engine::tick::{IN_FLIGHT_RECHECK, MAX_ROUNDS};
use crate::engine::{EngineError, TickInput, Workflows};

/// The text-back's outbox purpose.
const TEXT_BACK: &str = "text_back";

pub(crate) async fn tick(wf: &Workflows, input: &TickInput) -> Result<(), EngineError> {
    Member::new(input.clone()).finish_alone(wf).await
}

/// One run's tick between its rounds: what the next round needs, whether it
/// runs alone or shares its transaction with other runs' (`batch`).
pub(super) struct Member {
    pub(super) input: TickInput,
    pub(super) memo: Memo,
    /// Wake again after this long: a send was in flight elsewhere.
    pub(super) recheck: Option<Duration>,
    /// The model's answer, for the next round.
    pub(super) injected: Option<Event>,
    /// Rounds committed so far.
    rounds: usize,
}

impl Member {
    pub(super) fn new(input: TickInput) -> Self {
        Self { input, memo: Memo::default(), recheck: None, injected: None, rounds: 0 }
    }

    /// The next round's forced wake: a recheck, or, after many rounds, a
    /// hand-over to a fresh tick rather than spinning.
    pub(super) fn force_wake(&self) -> Option<Duration> {
        if self.rounds >= MAX_ROUNDS {
            Some(Duration::ZERO)
        } else {
            self.recheck
        }
    }

    /// The rest of the tick, each round in a transaction of its own.
    pub(super) async fn finish_alone(mut self, wf: &Workflows) -> Result<(), EngineError> {
        while self.round_alone(wf).await? {}
        Ok(())
    }

    /// One round in a transaction of its own; false when the tick is over.
    async fn round_alone(&mut self, wf: &Workflows) -> Result<bool, EngineError> {
        let Some((mut tx, run)) = drive::lock_for_tick(wf, &self.input, &mut self.memo.sent).await? else {
            return Ok(false);
        };
        let business = drive::business_of(wf, &mut tx, &run).await?;
        let given = Given { force_wake: self.force_wake(), injected: self.injected.take(), deferred: None };
        self.recheck = None;
        let committed = transact(wf, &mut tx, run, &business, &mut self.memo, given).await?;
        tx.commit().await?;
        self.after_commit(wf, committed).await
    }

    /// What follows a round's commit: its sends, or the model's answer for
    /// the next round (the slow call, with no transaction open: a text
    /// arriving meanwhile moves the token and this answer is dropped). False
    /// when the tick is over.
    pub(super) async fn after_commit(&mut self, wf: &Workflows, committed: Committed) -> Result<bool, EngineError> {
        let handed_over = self.rounds >= MAX_ROUNDS;
        self.rounds += 1;
        match committed {
            Committed::Finished | Committed::Later => Ok(false),
            Committed::Deliver(outbox) => {
                let outcomes = drive::deliver_due(wf, &self.input, &outbox.due, &mut self.memo.sent).await?;
                self.input = self.input.claimed();
                let text_back =
                    outbox.due.iter().zip(&outcomes).find(|(d, _)| d.message.purpose.as_deref() == Some(TEXT_BACK));
                self.memo.text_back = text_back.and_then(|(_, outcome)| delivery_result(outcome));
                if drive::in_flight(&outcomes) {
                    // A dead sender's claim lasts one lease: no point looking later than that.
                    self.recheck = Some(IN_FLIGHT_RECHECK.min(wf.0.cfg.retry.lease));
                }
                Ok(!handed_over)
            }
            Committed::Respond { .. } if handed_over => Ok(false),
            Committed::Respond { turn, ctx } => {
                self.input = self.input.claimed();
                let reply = drive::renewing(wf, &self.input, respond::respond(wf, &ctx)).await?;
                self.injected = Some(Event::Responded { turn, reply: Box::new(reply) });
                Ok(true)
            }
        }
    }
}

/// What a tick reads once and keeps for its later rounds: a tick lasts
/// milliseconds (or one model call). The business is not here: each round
/// takes it from the process's cache as of the version its lock saw.
#[derive(Default, Clone)]
pub(super) struct Memo {
    /// The lead's own time zone (None: the business's), as the open or the
    /// first read of it found it.
    lead_zone: Option<(LeadId, Option<Zone>)>,
    /// What the text-back just sent came to, for the very next round (which
    /// then need not read it back); taken by that round.
    text_back: Option<DeliveryResult>,
    /// The texts the last round sent, recorded by the next one's transaction.
    pub(super) sent: Vec<SentText>,
}

/// What a round's transaction leaves to do once it has committed.
pub(super) enum Committed {
    Finished,
    Deliver(ClaimedOutbox),
    Respond {
        turn: u32,
        ctx: Box<respond::ResponseContext>,
    },
    /// Its claim or save was left to its batch ([`Later`]), which puts what
    /// that came to in its place before the commit.
    Later,
}

/// What a round is given besides its run.
pub(super) struct Given<'l> {
    /// Wake again after this long regardless (see [`Member::force_wake`]).
    pub force_wake: Option<Duration>,
    /// The model's answer.
    pub injected: Option<Event>,
    /// In a batch's round: where the round leaves its last statement (the
    /// claim that saves its progress, or its save) for the batch to make
    /// with the other runs' in one.
    pub deferred: Option<&'l mut Deferred>,
}

/// What the rounds of a batch leave to it, to write with one statement per
/// kind before the batch commits: the missed call's text-backs and owner
/// alerts, then the rounds' last statements.
#[derive(Default)]
pub(super) struct Deferred {
    pub writes: Writes,
    pub later: Vec<Later>,
}

/// A round's last statement, left to its batch.
pub(super) struct Later {
    pub run: RunRow,
    pub state: State,
    pub conversation_id: Option<ConversationId>,
    pub notes: Vec<(&'static str, serde_json::Value)>,
    pub what: LaterWhat,
}

pub(super) enum LaterWhat {
    /// It queued texts: claim them, saving its progress.
    Claim,
    /// Nothing to send: its wake-up or end, as planned.
    Save {
        status: &'static str,
        wake_token: Option<uuid::Uuid>,
        wake_at: Option<chrono::DateTime<Utc>>,
        /// The run ends, and its history says so (`status` as the note, added
        /// to the round's when it is left to the batch).
        ends: bool,
    },
}

/// The round's writes on the locked run's connection, up to (not including)
/// its commit: what is left to do after the commit is returned.
pub(super) async fn transact(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: RunRow,
    business: &Business,
    memo: &mut Memo,
    given: Given<'_>,
) -> Result<Committed, EngineError> {
    let Given { force_wake, injected, deferred } = given;
    // A round handing over or rechecking claims nothing, so it writes all it queues itself.
    let mut deferred = deferred.filter(|_| force_wake.is_none());
    let mut state: State = run.state().map_err(|e| EngineError::State(run.id, e))?;
    let mut conversation_id = run.conversation_id;
    let mut queue = observe(&mut *conn, &run, business, &state, memo.text_back.take()).await?;
    if let Some(e) = injected {
        queue.push_front(e);
    }
    let now = Utc::now();
    let ctx = Ctx {
        now,
        tz: recipient_zone(&mut *conn, business, &state, &mut memo.lead_zone).await?,
        reply_delay: reply_delay(business, now),
        follow_ups: wf.0.cfg.follow_ups,
    };
    let mut respond_turn = None;
    let mut queued = false;
    // The round's history, written by the statement that saves the run.
    let mut notes = Vec::new();
    while let Some(event) = queue.pop_front() {
        let d = step(&state, &event, &ctx);
        if d.state != state || !d.commands.is_empty() {
            notes.push((d.note, serde_json::json!({"from": state.name(), "to": d.state.name()})));
        }
        let mut commands = d.commands.iter().peekable();
        while let Some(cmd) = commands.next() {
            queued |= may_queue_text(cmd);
            if let Command::Respond { turn } = cmd {
                respond_turn = Some(*turn);
                continue;
            }
            if let Some(&second) = commands.peek() {
                // Only the text-back's round leaves its pair: its last statement follows.
                let greeted = matches!(state, State::Greeting { .. });
                let writes = deferred.as_deref_mut().filter(|_| greeted).map(|d| &mut d.writes);
                if apply_pair(&mut *conn, business, (cmd, second), writes).await? {
                    commands.next();
                    continue;
                }
            }
            let writes = deferred.as_deref_mut().map(|d| &mut d.writes);
            if let Some(follow) = apply(wf, &mut *conn, (&run, business), (&state, &d.state), cmd, writes).await? {
                if let Event::Opened { conversation_id: c, .. } | Event::Joined { conversation_id: c } = &follow {
                    conversation_id = Some(*c);
                }
                if let Event::Opened { lead_id, zone, .. } = &follow {
                    memo.lead_zone = Some((*lead_id, *zone));
                }
                queue.push_back(follow);
            }
        }
        state = d.state;
    }
    let key = (run.business_id, run.id);
    if let Some(turn) = respond_turn {
        let ctx = respond::load(&mut *conn, business, &state).await?;
        runs::save_state(&mut *conn, key, &state, conversation_id, wf.lease(), &notes).await?;
        return Ok(Committed::Respond { turn, ctx: Box::new(ctx) });
    }
    if let Some(deferred) = deferred {
        if let Some(what) = left_for_batch(&run, &state, queued) {
            if let LaterWhat::Save { status, ends: true, .. } = what {
                notes.push((status, serde_json::json!({})));
            }
            deferred.later.push(Later { run, state, conversation_id, notes, what });
            return Ok(Committed::Later);
        }
    }
    let progress = drive::Progress { state: &state, conversation_id, notes: &mut notes };
    let outbox = drive::claim_round(wf, &mut *conn, &run, queued, force_wake, progress).await?;
    if outbox.due.is_empty() {
        let wake = Wake { force: force_wake, retry: outbox.next_retry, notes: &notes };
        schedule(wf, &mut *conn, &run, &state, conversation_id, wake).await?;
        return Ok(Committed::Finished);
    }
    Ok(Committed::Deliver(outbox))
}

/// The last statement of a round with no forced wake that its batch can make
/// with the other runs': the claim of the texts it queued, or, when it queued
/// none and the lock found none pending (so the claim would find nothing),
/// its save, unless its next tick is due already. None: the round makes it itself.
fn left_for_batch(run: &RunRow, state: &State, queued: bool) -> Option<LaterWhat> {
    if queued {
        return Some(LaterWhat::Claim);
    }
    if run.pending_texts {
        return None;
    }
    let next = next_of(state, None, Wake { force: None, retry: None, notes: &[] });
    let p = drive::plan(run, &next);
    let ends = p.end_note.is_some();
    (!p.due_now).then_some(LaterWhat::Save { status: p.status, wake_token: p.wake_token, wake_at: p.wake_at, ends })
}

/// Turns what the database shows into events for the transition; a
/// text-back this tick just sent is known without reading it back.
async fn observe(
    conn: &mut PgConnection,
    run: &RunRow,
    business: &Business,
    state: &State,
    text_back: Option<DeliveryResult>,
) -> Result<VecDeque<Event>, EngineError> {
    let mut events = VecDeque::new();
    for s in crate::engine::control::take_signals(&mut *conn, run).await? {
        let kind = signal_kind(&s);
        let detail = serde_json::json!({"signal_id": s.id, "kind": s.kind, "understood": kind.is_some()});
        runs::record_event(&mut *conn, run.business_id, run.id, "signal_received", detail).await?;
        events.extend(kind.map(Event::Signal));
    }
    match state {
        State::Start { caller, .. } | State::Waiting { caller, .. } | State::Replying { caller, .. } => {
            // The lock read both for the state's caller.
            debug_assert_eq!(run.state.0.get("caller").and_then(|c| c.as_str()), Some(caller.as_str()));
            let (opted_out, unreachable) = (run.caller_opted_out, run.caller_unreachable);
            let facts = WakeFacts { business_active: business.is_active(), opted_out, unreachable };
            events.push_back(Event::Wake(facts));
        }
        State::Greeting { .. } => {
            let result = match text_back {
                Some(known) => Some(known),
                None => messages::by_purpose(&mut *conn, run.id, TEXT_BACK)
                    .await?
                    .and_then(|m| final_result(&m.status, m.error_code)),
            };
            if let Some(result) = result {
                events.push_back(Event::Delivered { purpose: TEXT_BACK.into(), result });
            }
        }
        State::Notice { .. } => {
            events.push_back(Event::Wake(WakeFacts { business_active: true, opted_out: false, unreachable: false }))
        }
        State::Human { .. } | State::Done { .. } => {}
    }
    Ok(events)
}

fn signal_kind(s: &crate::engine::control::PendingSignal) -> Option<SignalKind> {
    Some(match s.kind.as_str() {
        "customer_text" => SignalKind::CustomerText {
            message_id: serde_json::from_value(s.payload.0.get("message_id")?.clone()).ok()?,
        },
        "opt_out" => SignalKind::OptOut,
        "help" => SignalKind::Help { key: s.id },
        "take_over" => SignalKind::TakeOver,
        "return_to_ai" => SignalKind::ReturnToAi,
        "owner_message" => SignalKind::OwnerMessage { key: s.id, body: s.payload.0.get("body")?.as_str()?.to_owned() },
        _ => return None,
    })
}

/// Non-reply texts keep 08:00-20:00 in the customer's zone when Twilio told
/// us their state, else in the business's. The lead's zone is read once a tick.
async fn recipient_zone(
    conn: &mut PgConnection,
    business: &Business,
    state: &State,
    memo: &mut Option<(LeadId, Option<Zone>)>,
) -> Result<chrono_tz::Tz, EngineError> {
    let lead_id = match state {
        State::Greeting { lead_id, .. }
        | State::Waiting { lead_id, .. }
        | State::Replying { lead_id, .. }
        | State::Human { lead_id, .. } => *lead_id,
        _ => return Ok(business.timezone.tz()),
    };
    let zone = match *memo {
        Some((known, zone)) if known == lead_id => zone,
        _ => activities::store::conversations::lead_zone(&mut *conn, business.id, lead_id).await?,
    };
    *memo = Some((lead_id, zone));
    Ok(zone.unwrap_or(business.timezone).tz())
}

/// The owner's window to answer first: skipped when they are away or it is after hours.
fn reply_delay(business: &Business, now: chrono::DateTime<Utc>) -> chrono::Duration {
    let present = business.owner_status == "available" && business.is_open_at(now);
    if present {
        chrono::Duration::seconds(i64::from(business.owner_window_seconds.max(0)))
    } else {
        chrono::Duration::zero()
    }
}

/// A delivery attempt's outcome as the transition sees it: None while it is not final.
fn delivery_result(d: &Delivery) -> Option<DeliveryResult> {
    match d {
        Delivery::Sent { .. } => Some(DeliveryResult::Sent),
        Delivery::Blocked | Delivery::OptedOut => Some(DeliveryResult::OptedOut),
        Delivery::Unreachable => Some(DeliveryResult::Unreachable),
        Delivery::Failed => Some(DeliveryResult::Failed),
        Delivery::RetryAt(_) | Delivery::InFlight => None,
    }
}

fn final_result(status: &str, code: Option<i32>) -> Option<DeliveryResult> {
    match (status, code) {
        ("sent" | "delivered", _) => Some(DeliveryResult::Sent),
        ("blocked", _) | ("failed" | "undelivered", Some(21610 | 30004)) => Some(DeliveryResult::OptedOut),
        ("failed" | "undelivered", Some(21211 | 21614 | 21635 | 30005 | 30006)) => Some(DeliveryResult::Unreachable),
        ("failed" | "undelivered", _) => Some(DeliveryResult::Failed),
        _ => None,
    }
}

/// What besides the state's own timer may wake the run.
pub(super) struct Wake<'a> {
    pub force: Option<Duration>,
    pub retry: Option<chrono::DateTime<Utc>>,
    pub notes: &'a runs::Notes<'a>,
}

/// Ends the run, or sets its next wake-up (engine-level; the conversation
/// only says what "nothing to wait for" means in each state).
pub(super) async fn schedule(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    state: &State,
    conversation_id: Option<activities::domain::ConversationId>,
    wake: Wake<'_>,
) -> Result<(), EngineError> {
    drive::schedule(wf, conn, run, &next_of(state, conversation_id, wake)).await
}

fn next_of<'a>(
    state: &'a State,
    conversation_id: Option<activities::domain::ConversationId>,
    wake: Wake<'a>,
) -> Next<'a, State> {
    let idle_status = match state {
        State::Done { .. } => "completed",
        State::Human { .. } => "human",
        _ => "failed",
    };
    Next {
        state,
        state_name: state.name(),
        timer: state.wake_at(),
        idle_status,
        conversation_id,
        force_wake: wake.force,
        retry: wake.retry,
        notes: wake.notes,
    }
}
