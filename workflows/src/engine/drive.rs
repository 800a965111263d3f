//! What every kind's driver shares: take the run under its row lock if the
//! tick still owns it, deliver the outbox with no transaction open, and leave
//! the run either ended or with its next wake-up under a fresh token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use activities::domain::{ConversationId, RunId};
use activities::sms::{self, Callbacks, Delivery};
use activities::store::businesses::Business;
use activities::store::messages::SentText;
use activities::store::run_outbox::{self, ClaimedOutbox, DueText};

use super::runs::{self, Notes, RunRow, Save};
use super::{EngineError, TickInput, Workflows};

/// Opens a round: a transaction holding the run's row lock, if the run exists
/// and `input.token` is still its token. Otherwise the tick is stale (a signal
/// or a cancel moved the token on) and there is nothing to do. A tick handed
/// over by NOTIFY also needs the run's lease to be the one it was announced
/// with: another worker that took it first has renewed it.
///
/// Whatever it finds, the transaction records the texts the tick's previous
/// round sent (`sent`, emptied) once it holds the lock, in the statement that
/// takes it: no statement or commit of their own. A tick that fails before
/// this commits leaves them `sending`, and the next attempt reconciles them
/// with the provider.
pub(crate) async fn lock_for_tick(
    wf: &Workflows,
    input: &TickInput,
    sent: &mut Vec<SentText>,
) -> Result<Option<(Transaction<'static, Postgres>, RunRow)>, EngineError> {
    let mut tx = wf.0.pool.begin().await?;
    let run = runs::lock_run_recording(&mut tx, input.run_id, &std::mem::take(sent)).await?;
    let Some(run) = run else {
        tx.commit().await?;
        return Ok(None);
    };
    if !owns(&run, input) {
        tx.commit().await?;
        return Ok(None);
    }
    Ok(Some((tx, run)))
}

/// Whether the tick still owns the locked run: its token is the run's, and
/// for a tick handed over by NOTIFY, the lease is still the one announced
/// (another worker that took it first has renewed it).
pub(crate) fn owns(run: &RunRow, input: &TickInput) -> bool {
    let claimed_elsewhere = input.claim.is_some_and(|at| run.wake_at != Some(at));
    run.accepts(input.token) && !claimed_elsewhere
}

/// The locked run's business, from the process's cache as of the version the
/// lock saw (read again only when it changed).
pub(crate) async fn business_of(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
) -> Result<Business, EngineError> {
    let business = wf.0.businesses.current(&mut *conn, run.business_id, &run.business_version).await?;
    business.ok_or(EngineError::BusinessMissing(run.id))
}

/// Runs `work` (a send, a model call: no transaction open) while renewing the
/// lease of a run handed over by NOTIFY every half lease, so a slow provider
/// does not look like a dead worker; a worker that dies stops renewing, and
/// the sweep takes the run one lease later. Runs ticked by underway have no
/// lease and the renewal changes nothing.
pub(crate) async fn renewing<T>(wf: &Workflows, input: &TickInput, work: impl std::future::Future<Output = T>) -> T {
    renewing_all(wf, &[(input.run_id, input.token)], work).await
}

/// [`renewing`] for several runs at once (a batch's, while its slowest send is out).
pub(crate) async fn renewing_all<T>(
    wf: &Workflows,
    held: &[(RunId, Uuid)],
    work: impl std::future::Future<Output = T>,
) -> T {
    let lease = wf.lease();
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + lease / 2, lease / 2);
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = every.tick() => {
                for (run_id, token) in held {
                    if let Err(e) = runs::renew_lease(&wf.0.pool, *run_id, *token, lease).await {
                        tracing::warn!(%run_id, error = %e, "could not renew the lease");
                    }
                }
            }
        }
    }
}

/// What a round leaves of its run when it sends: its state, conversation
/// and history (the notes are taken by whichever statement writes them).
pub(crate) struct Progress<'a, 'n, S> {
    pub state: &'a S,
    pub conversation_id: Option<ConversationId>,
    pub notes: &'a mut Vec<(&'n str, serde_json::Value)>,
}

/// Ends a round's writes: its due texts claimed with the round's commit,
/// before any send, and when there are some, its progress saved with the
/// lease renewed. A round that queued texts (`queued`) does both in one
/// statement; one that queued none claims only if the lock found texts
/// pending, and saves in a statement of its own when that claim found some
/// due. A round handing over to a fresh tick (`force_wake`) claims nothing
/// and only reads the next retry. With nothing due the caller schedules the
/// run, with whatever notes are left (none, if the claim took them).
pub(crate) async fn claim_round<S: Serialize>(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    queued: bool,
    force_wake: Option<Duration>,
    progress: Progress<'_, '_, S>,
) -> Result<ClaimedOutbox, EngineError> {
    let key = (run.business_id, run.id);
    let (send_lease, lease) = (wf.0.cfg.retry.lease, wf.lease());
    if force_wake.is_some() {
        let next_retry = if run.pending_texts || queued {
            run_outbox::outbox_of_run(&mut *conn, run.id).await?.next_retry
        } else {
            None
        };
        return Ok(ClaimedOutbox { due: Vec::new(), next_retry });
    }
    if queued {
        let notes = std::mem::take(progress.notes);
        let (state, conversation_id) = (progress.state, progress.conversation_id);
        return Ok(runs::claim_saving_state(conn, key, send_lease, state, conversation_id, lease, &notes).await?);
    }
    if !run.pending_texts {
        return Ok(ClaimedOutbox::default());
    }
    let outbox = run_outbox::claim_run_outbox(&mut *conn, run.id, send_lease).await?;
    if !outbox.due.is_empty() {
        let notes = std::mem::take(progress.notes);
        runs::save_state(conn, key, progress.state, progress.conversation_id, lease, &notes).await?;
    }
    Ok(outbox)
}

/// Sends the due outbox rows the round claimed, with no transaction open:
/// each recipient's texts one after another in their order, different
/// recipients at once, so the owner's alert never waits on the caller's
/// provider request (a slow or hanging one holds only its own lane). Returns
/// what each came to, in the rows' order; the texts sent are added to `sent`
/// for the next round to record ([`lock_for_tick`]).
pub(crate) async fn deliver_due(
    wf: &Workflows,
    input: &TickInput,
    due: &[DueText],
    sent: &mut Vec<SentText>,
) -> Result<Vec<Delivery>, EngineError> {
    let lanes = futures_util::future::join_all(lanes(due).into_iter().map(|lane| deliver_lane(wf, lane)));
    let mut attempts = Vec::with_capacity(due.len());
    let mut failed = None;
    for lane in renewing(wf, input, lanes).await {
        match lane {
            Ok(lane) => attempts.extend(lane),
            Err(e) => failed = Some(e),
        }
    }
    attempts.sort_by_key(|a| a.index);
    sent.extend(attempts.iter().filter_map(|a| match &a.outcome {
        Delivery::Sent { sid } => Some(SentText { id: due[a.index].message.id, sid: sid.clone(), at: a.at }),
        _ => None,
    }));
    match failed {
        Some(e) => Err(e),
        None => Ok(attempts.into_iter().map(|a| a.outcome).collect()),
    }
}

/// The due texts grouped by recipient, each group in the rows' order (by index).
pub(super) fn lanes(due: &[DueText]) -> Vec<Vec<(usize, &DueText)>> {
    let mut lanes: Vec<Vec<(usize, &DueText)>> = Vec::new();
    for (i, d) in due.iter().enumerate() {
        match lanes.iter_mut().find(|l| l[0].1.message.to_phone == d.message.to_phone) {
            Some(lane) => lane.push((i, d)),
            None => lanes.push(vec![(i, d)]),
        }
    }
    lanes
}

/// One text's attempt in a round: its place in the round's rows, what it
/// came to, and when that was known (a send's `sent_at`).
struct Attempt {
    index: usize,
    outcome: Delivery,
    at: DateTime<Utc>,
}

/// One recipient's texts, in order. A database error stops the lane; its
/// unsent rows stay claimed and are taken again when the send lease ends.
async fn deliver_lane(wf: &Workflows, lane: Vec<(usize, &DueText)>) -> Result<Vec<Attempt>, EngineError> {
    let cfg = &wf.0.cfg;
    let cb = Callbacks { status_url: cfg.status_callback.clone() };
    let mut attempts = Vec::with_capacity(lane.len());
    for (index, DueText { message: m, claim }) in lane {
        let outcome = sms::send_claimed(&wf.0.pool, &cfg.transport, m, claim, &cb, &cfg.retry).await?;
        tracing::debug!(message_id = %m.id, ?outcome, "delivery attempt");
        attempts.push(Attempt { index, outcome, at: Utc::now() });
    }
    Ok(attempts)
}

/// True when a text is being sent by another worker right now (look again later).
pub(crate) fn in_flight(outcomes: &[Delivery]) -> bool {
    outcomes.iter().any(|o| matches!(o, Delivery::InFlight))
}

/// How a round leaves its run.
pub(crate) struct Next<'a, S> {
    pub state: &'a S,
    /// The state's name, for the log.
    pub state_name: &'a str,
    /// When the state itself wants to be woken (a follow-up, a reminder).
    pub timer: Option<DateTime<Utc>>,
    /// The run's status when nothing is left to wait for: `completed`, `human`
    /// (only a signal wakes it), or `failed` (a state that should have had a timer).
    pub idle_status: &'static str,
    pub conversation_id: Option<ConversationId>,
    /// Wake again after this long regardless (a send in flight elsewhere, or
    /// a tick that has run many rounds handing over to a fresh one).
    pub force_wake: Option<Duration>,
    /// The earliest retry of the run's undelivered texts
    /// ([`activities::store::run_outbox::RunOutbox::next_retry`], read in this transaction).
    pub retry: Option<DateTime<Utc>>,
    /// The round's history, written with the run.
    pub notes: &'a Notes<'a>,
}

/// How a run is left: its status, token and wake-up, the note its end adds
/// to the history, and whether its next tick is due already (then enqueued).
pub(crate) struct Planned {
    pub status: &'static str,
    pub wake_token: Option<Uuid>,
    pub wake_at: Option<DateTime<Utc>>,
    pub end_note: Option<&'static str>,
    pub due_now: bool,
}

/// The state's timer, the earliest outbox retry or the forced wake,
/// whichever comes first, under a fresh token; with none, the run's end.
pub(crate) fn plan<S>(run: &RunRow, next: &Next<'_, S>) -> Planned {
    let now = Utc::now();
    let forced = next.force_wake.map(|d| now + chrono::Duration::from_std(d).unwrap_or_default());
    let Some(wake_at) = [next.timer, next.retry, forced].into_iter().flatten().min() else {
        let status = next.idle_status;
        if status == "failed" {
            tracing::error!(run_id = %run.id, state = next.state_name, "run has nothing to wait for");
        }
        let end_note = (status != "human").then_some(status);
        return Planned { status, wake_token: None, wake_at: None, end_note, due_now: false };
    };
    // A future wake-up is a row in our indexed table, not a delayed underway
    // task: underway's dequeue scans every pending task, so thousands of
    // sleeping runs would slow every live tick. The timer sweeper
    // (engine/timers.rs) enqueues the tick when it comes due.
    let due_now = wake_at <= now;
    let status = if due_now { "active" } else { "waiting" };
    Planned { status, wake_token: Some(Uuid::new_v4()), wake_at: Some(wake_at), end_note: None, due_now }
}

/// Ends the run (its end in the history too), or sets its next wake-up
/// ([`plan`]), enqueuing its tick at once if that is due already.
pub(crate) async fn schedule<S: Serialize>(
    wf: &Workflows,
    conn: &mut PgConnection,
    run: &RunRow,
    next: &Next<'_, S>,
) -> Result<(), EngineError> {
    let p = plan(run, next);
    let mut notes = next.notes.to_vec();
    notes.extend(p.end_note.map(|status| (status, serde_json::json!({}))));
    let (state, conversation_id, key) = (next.state, next.conversation_id, (run.business_id, run.id));
    let (status, wake_token, wake_at) = (p.status, p.wake_token, p.wake_at);
    let save = Save { state, status, wake_token, wake_at, conversation_id, notes: &notes };
    runs::save_run(conn, key, &save).await?;
    match wake_token.filter(|_| p.due_now) {
        Some(token) => wf.enqueue_tick(conn, run.id, token, Duration::ZERO).await,
        None => Ok(()),
    }
}
