//! Eager ticks: the first tick of a started or signalled run runs at once in
//! a worker that heard of it, without a trip through underway's queue (an
//! enqueue, a dequeue, an attempt row and a completion, ~10 statements and 4
//! commits per tick, and its own ceiling of a few hundred jobs/s here).
//!
//! The transaction that starts or signals a run sets `kicked_at`, a lease in
//! `wake_at` and a new token, and NOTIFYs `callrecover_kick` (PostgreSQL sends
//! it only if that transaction commits). Every worker process listens and
//! queues what it hears, renewing the leases of the runs still queued
//! (`backlog`: a burst waits in the queues instead of running out its leases);
//! the first to lock the run with the announced lease still in place runs the
//! tick and renews the lease each round. Nothing is lost if no one hears: when the
//! lease runs out (no worker was listening, the notification was dropped with
//! a lost connection, the worker died mid-tick), the timer sweep hands the run
//! to underway under the same token, exactly as it wakes a sleeping run.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::backlog::Backlog;
use super::runs::KICK_CHANNEL;
use super::worker_loop::AbortOnDrop;
use super::{EngineError, TickInput, Workflows};
use activities::domain::RunId;

/// `EAGER_LEASE_MS` when the engine is built without one.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);

/// Listens for handed-over runs until `stop` fires, queueing each as heard
/// (reconnecting after a lost connection), while the queued runs are ticked
/// with at most `concurrency` at once and their leases kept alive.
pub(crate) async fn listen(wf: Workflows, stop: CancellationToken) {
    let backlog = Arc::new(Backlog::default());
    let _ticking = AbortOnDrop(tokio::spawn(tick_waiting(wf.clone(), backlog.clone())));
    let _renewing = AbortOnDrop(tokio::spawn(renew_every(wf.clone(), backlog.clone())));
    loop {
        if let Err(e) = hear(&wf, &backlog, &stop).await {
            tracing::warn!(error = %e, "eager tick listener lost its connection; the timer sweep covers the gap");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wf.0.cfg.poll.min(Duration::from_secs(1))) => {}
        }
    }
}

/// Queues every run announced, as soon as it is heard.
async fn hear(wf: &Workflows, backlog: &Backlog, stop: &CancellationToken) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(wf.pool()).await?;
    listener.listen(KICK_CHANNEL).await?;
    loop {
        let note = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            n = listener.recv() => n?,
        };
        match serde_json::from_str::<TickInput>(note.payload()) {
            Ok(input) => {
                if !backlog.push(input).await {
                    tracing::warn!("eager tick queue full; the timer sweep will take the run");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "unreadable eager tick notification; the timer sweep will take the run")
            }
        }
    }
}

/// Ticks queued runs in the order heard, `concurrency` at once.
async fn tick_waiting(wf: Workflows, backlog: Arc<Backlog>) {
    let slots = Arc::new(Semaphore::new(wf.0.cfg.concurrency.max(1)));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let mut batch = backlog.next_many(wf.0.cfg.eager_batch).await;
        let now = chrono::Utc::now();
        // Those whose lease ran out (a renewal failed) are the timer sweep's: it hands them to underway.
        batch.retain(|input| input.claim.is_none_or(|lease| lease > now));
        if batch.is_empty() {
            continue;
        }
        let wf = wf.clone();
        tokio::spawn(async move {
            run_batch(&wf, batch).await;
            drop(permit);
        });
    }
}

/// The runs taken together: conversations' rounds share their transactions
/// (`conversation::batch`), any other kind ticks alone, all at once.
async fn run_batch(wf: &Workflows, batch: Vec<TickInput>) {
    let (mut together, mut apart): (Vec<_>, Vec<_>) =
        batch.into_iter().partition(|i| i.kind.as_deref() == Some(super::CONVERSATION));
    if together.len() == 1 {
        apart.append(&mut together);
    }
    let batched = async {
        for (run_id, result) in crate::conversation::batch::tick_batch(wf, together).await {
            if let Err(e) = result {
                failed(wf, run_id, &e).await;
            }
        }
    };
    let alone = futures_util::future::join_all(apart.iter().map(|input| run(wf, input)));
    tokio::join!(batched, alone);
}

/// Every quarter lease, renews the leases of queued runs about to run out.
async fn renew_every(wf: Workflows, backlog: Arc<Backlog>) {
    let lease = wf.lease();
    let mut every = tokio::time::interval(lease / 4);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match backlog.renew(wf.pool(), lease).await {
            Ok((0, _)) => {}
            Ok((renewed, waiting)) => tracing::debug!(renewed, waiting, "leases of queued runs renewed"),
            Err(e) => tracing::warn!(error = %e, "could not renew the leases of queued runs"),
        }
    }
}

/// One handed-over tick. A failure is left to the lease: once it runs out the
/// sweep hands the run to underway, which retries with backoff.
pub(crate) async fn run(wf: &Workflows, input: &TickInput) {
    if let Err(e) = super::tick::dispatch(wf, input).await {
        failed(wf, input.run_id, &e).await;
    }
}

async fn failed(wf: &Workflows, run_id: RunId, e: &EngineError) {
    tracing::warn!(%run_id, error = %e, "eager tick failed; underway takes the run when its lease ends");
    let _ = super::runs::record_error(wf.pool(), run_id, &e.to_string()).await;
}
