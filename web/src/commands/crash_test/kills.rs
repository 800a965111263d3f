//! Killing workers and measuring recovery.
//!
//! At each kill we snapshot, in one statement, the work in flight: the ticks
//! running (underway tasks `in_progress`, the dead worker's among them; and
//! eager ticks: runs announced by NOTIFY and not yet moved on, each held by a
//! live worker, by the dead one, or by no one yet) and the outbound texts not
//! yet delivered (`queued`, or `sending`: maybe at Twilio already). An
//! announced run counts as done once it has left `active` or been announced
//! anew after the kill. The kill has been recovered from once every one of those
//! ticks has finished (retaken by a live worker if its own died) and every
//! one of those texts is delivered or finally failed. Recovery time is from
//! the SIGKILL to that moment, polled every 100 ms: it includes the heartbeat
//! timeout before a dead worker's ticks are retaken, and the send lease
//! before its maybe-sent texts are reconciled with Twilio. Work merely
//! queued at the kill (a backlog) is not counted: it was not interrupted.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use super::fleet::Fleet;
use super::plan::Plan;

const POLL: Duration = Duration::from_millis(100);

/// One kill and what it interrupted.
#[derive(Debug, Clone)]
pub struct Kill {
    /// From the start of the traffic.
    pub at: Duration,
    pub instant: Instant,
    pub worker: usize,
    /// Ticks running, runs waiting for one (the backlog), and texts undelivered, at the kill.
    pub ticks_running: usize,
    pub runs_due: usize,
    pub texts_pending: usize,
    /// Of those, texts marked `sending`: maybe at Twilio already.
    pub texts_maybe_sent: usize,
    /// Kill to all that work done; None if it never was.
    pub recovered_after: Option<Duration>,
}

/// The work outstanding at a kill.
struct Outstanding {
    ticks: Vec<Uuid>,
    texts: Vec<Uuid>,
    /// Runs announced for an eager tick, and the database's clock at the snapshot.
    announced: Vec<Uuid>,
    at: chrono::DateTime<chrono::Utc>,
}

/// Kills workers as planned (restarting each at once) while polling
/// recovery; returns once every kill has recovered or the settle timeout
/// after the last kill has passed.
pub async fn run(fleet: &mut Fleet, pool: &PgPool, plan: &Plan, started: Instant) -> anyhow::Result<Vec<Kill>> {
    let mut kills: Vec<Kill> = Vec::new();
    let mut watching: Vec<(usize, Outstanding)> = Vec::new();
    let mut next = plan.kills.iter().peekable();
    let mut deadline = None;
    loop {
        if let Some((at, victim)) = next.next_if(|(at, _)| started + *at <= Instant::now()) {
            let (kill, outstanding) = kill_one(fleet, pool, *victim % fleet.workers().max(1), started).await?;
            let (w, t) = (kill.worker, kill.at.as_secs_f64());
            eprintln!("crash-test: killed worker-{w} at {t:.2}s (planned {:.2}s)", at.as_secs_f64());
            watching.push((kills.len(), outstanding));
            kills.push(kill);
            if next.peek().is_none() {
                deadline = Some(Instant::now() + plan.settle_timeout);
            }
        }
        let mut still = Vec::new();
        for (i, o) in watching {
            // The database may be restarting (fault injection): ask again next poll.
            if remaining(pool, &o).await.is_ok_and(|n| n == 0) {
                kills[i].recovered_after = Some(kills[i].instant.elapsed());
            } else {
                still.push((i, o));
            }
        }
        watching = still;
        let all_killed = next.peek().is_none();
        if all_killed && (watching.is_empty() || deadline.is_some_and(|d| Instant::now() > d)) {
            return Ok(kills);
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn kill_one(
    fleet: &mut Fleet,
    pool: &PgPool,
    worker: usize,
    started: Instant,
) -> anyhow::Result<(Kill, Outstanding)> {
    let instant = Instant::now();
    fleet.kill_worker(worker).await?;
    let (o, runs_due, maybe_sent) = snapshot(pool).await?;
    fleet.restart_worker(worker)?;
    let kill = Kill {
        at: instant.duration_since(started),
        instant,
        worker,
        ticks_running: o.ticks.len() + o.announced.len(),
        runs_due,
        texts_pending: o.texts.len(),
        texts_maybe_sent: maybe_sent,
        recovered_after: None,
    };
    Ok((kill, o))
}

/// The snapshot, retried while the database is away (a restart takes seconds).
async fn snapshot(pool: &PgPool) -> sqlx::Result<(Outstanding, usize, usize)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match outstanding(pool).await {
            Err(e) if Instant::now() < deadline => {
                eprintln!("crash-test: snapshot at a kill failed ({e}); retrying");
                tokio::time::sleep(POLL).await;
            }
            r => return r,
        }
    }
}

/// One statement, so one consistent snapshot: (in flight, runs due, texts maybe sent).
async fn outstanding(pool: &PgPool) -> sqlx::Result<(Outstanding, usize, usize)> {
    type Row = (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, chrono::DateTime<chrono::Utc>, i64, i64);
    let (ticks, texts, announced, at, runs_due, maybe_sent): Row = sqlx::query_as(
        "SELECT ARRAY(SELECT id FROM underway.task WHERE task_queue_name = $1 AND state = 'in_progress'),
                ARRAY(SELECT id FROM messages WHERE direction = 'outbound' AND status IN ('queued', 'sending')),
                ARRAY(SELECT id FROM workflow_runs WHERE status = 'active' AND kicked_at IS NOT NULL),
                now(),
                (SELECT count(*) FROM workflow_runs
                 WHERE (status = 'active' AND kicked_at IS NULL) OR (status = 'waiting' AND wake_at <= now())),
                (SELECT count(*) FROM messages WHERE direction = 'outbound' AND status = 'sending')",
    )
    .bind(workflows::engine::QUEUE)
    .fetch_one(pool)
    .await?;
    let count = |n: i64| usize::try_from(n).unwrap_or(0);
    Ok((Outstanding { ticks, texts, announced, at }, count(runs_due), count(maybe_sent)))
}

/// How much of the snapshot's work is still not done: ticks not finished
/// (running, or back to pending for a retry) and texts not delivered.
async fn remaining(pool: &PgPool, o: &Outstanding) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM underway.task WHERE task_queue_name = $1 AND id = ANY($2)
                   AND state IN ('pending', 'in_progress'))
              + (SELECT count(*) FROM messages WHERE id = ANY($3) AND status IN ('queued', 'sending'))
              + (SELECT count(*) FROM workflow_runs WHERE id = ANY($4) AND status = 'active'
                   AND (kicked_at IS NULL OR kicked_at <= $5))",
    )
    .bind(workflows::engine::QUEUE)
    .bind(&o.ticks)
    .bind(&o.texts)
    .bind(&o.announced)
    .bind(o.at)
    .fetch_one(pool)
    .await
}
