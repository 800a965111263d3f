//! The loop that hands queued ticks to underway's worker, in place of
//! underway's own `Worker::run_every`.
//!
//! `run_every` stops for good, and the worker process exits 0, whenever its
//! shutdown listener hears anything, and fails whenever its `task_change`
//! listener hears a payload it cannot read. Both listeners take their
//! connections from the pool, and both sit in one `select!` with the poll
//! timer, which drops a `recv` in the middle of reconnecting after a database
//! restart: the connection it had just LISTENed on goes back to the pool still
//! listening, and the next listener to draw it hears another channel's
//! notifications. The fault crash test caught a worker exiting 0 after a
//! PostgreSQL restart that way.
//!
//! Here the only stop is ours (`stop`), and the `task_change` listener runs
//! in a task of its own, never cancelled mid-reconnect, that only wakes the
//! loop: anything it hears at worst costs one empty dequeue. Each wake-up (a
//! notification or the poll) starts a drainer if a slot is free; a drainer
//! takes ticks until the queue is empty, and after an error waits for the
//! next wake-up instead of retrying at once against a database that is away.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use underway::{Queue, Task, Worker};

/// What underway's trigger on `underway.task` sends on `task_change`.
#[derive(Deserialize)]
struct TaskChange {
    task_queue_name: String,
}

/// Runs `task` from `queue` (named `queue_name`) until `stop` fires, then
/// waits up to the task's timeout for the ones in progress to finish.
pub(crate) async fn run_until<T: Task + Sync>(
    queue: Arc<Queue<T>>,
    queue_name: &str,
    task: T,
    listen_pool: PgPool,
    poll: Duration,
    concurrency: usize,
    stop: CancellationToken,
) {
    let grace = task.timeout().try_into().unwrap_or(Duration::from_secs(300));
    let worker = Worker::new(queue, task);
    // One wake-up per task made pending, as many as could start a drainer:
    // a burst of new tasks starts that many drainers, not one.
    let (wake, mut woken) = mpsc::channel(concurrency.max(1));
    let listener = AbortOnDrop(tokio::spawn(listen(listen_pool, queue_name.to_owned(), wake, poll)));
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut drainers = JoinSet::new();
    let mut timer = tokio::time::interval(poll);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(()) = woken.recv() => {}
            _ = timer.tick() => {}
        }
        while drainers.try_join_next().is_some() {}
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            let (worker, stop) = (worker.clone(), stop.clone());
            drainers.spawn(async move {
                drain(&worker, &stop).await;
                drop(slot);
            });
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, async { while drainers.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!(left = drainers.len(), "ticks still running at shutdown; they are retried after their lease");
    }
}

/// Takes ticks until none is due, the database fails, or `stop` fires.
async fn drain<T: Task + Sync>(worker: &Worker<T>, stop: &CancellationToken) {
    while !stop.is_cancelled() {
        match worker.process_next_task().await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not take a tick; trying again at the next poll");
                return;
            }
        }
    }
}

/// Wakes the loop for every task made pending on `queue`; reconnects after
/// a lost connection (the poll covers the gap).
async fn listen(pool: PgPool, queue: String, wake: mpsc::Sender<()>, poll: Duration) {
    loop {
        if let Err(e) = listen_once(&pool, &queue, &wake).await {
            tracing::warn!(error = %e, "task listener lost its connection; polling covers the gap");
        }
        tokio::time::sleep(poll.min(Duration::from_secs(1))).await;
    }
}

async fn listen_once(pool: &PgPool, queue: &str, wake: &mpsc::Sender<()>) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("task_change").await?;
    loop {
        let note = listener.recv().await?;
        match serde_json::from_str::<TaskChange>(note.payload()) {
            // Full: every slot already has a wake-up coming.
            Ok(change) if change.task_queue_name == queue => _ = wake.try_send(()),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "unreadable task_change notification; ignored"),
        }
    }
}

/// Aborts a spawned task when dropped: a loop that is itself aborted takes
/// the tasks it started down with it.
pub(crate) struct AbortOnDrop<T>(pub tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
