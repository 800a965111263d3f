//! Durable timers in our own table. A run that sleeps keeps `status =
//! 'waiting'` and `wake_at`; every worker sweeps due runs each poll period and
//! enqueues an immediate tick with the run's current token. A run handed to
//! a worker by NOTIFY (`eager`) whose lease ran out is swept the same way:
//! underway's queue is the safety net for a lost notification or a dead worker.
//! Moving `wake_at` voids the lease as a claim: a worker that only now gets to
//! the notification finds it changed and leaves the run to underway. `SKIP LOCKED`
//! and the move to `active` make each wake-up enqueue once, however many
//! workers sweep.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use activities::domain::RunId;

use super::{EngineError, Workflows};

/// How many due runs one sweep wakes; the rest wait for the next sweep.
const BATCH: i64 = 500;

pub(crate) async fn sweep_every(wf: Workflows, period: Duration, stop: CancellationToken) {
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let rescue_after = wf.0.cfg.rescue_after;
    // Lost ticks are looked for a few times per rescue delay, not every poll.
    let rescue_every = (rescue_after / 4).max(period);
    let mut last_rescue = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        if last_rescue.elapsed() >= rescue_every {
            last_rescue = std::time::Instant::now();
            if let Err(e) = super::rescue::rescue(&wf, rescue_after).await {
                tracing::error!(error = %e, "looking for lost ticks failed");
            }
        }
        loop {
            match sweep(&wf).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(error = %e, "timer sweep failed");
                    break;
                }
            }
        }
    }
}

/// Wakes every run whose timer is due; returns how many.
pub async fn sweep(wf: &Workflows) -> Result<usize, EngineError> {
    let mut tx = wf.0.pool.begin().await?;
    let due: Vec<(RunId, Uuid)> = sqlx::query_as(
        "UPDATE workflow_runs SET status = 'active', kicked_at = NULL, wake_at = now()
         WHERE id IN (SELECT id FROM workflow_runs
                      WHERE (status = 'waiting' OR (status = 'active' AND kicked_at IS NOT NULL))
                        AND wake_at <= now() AND wake_token IS NOT NULL
                      ORDER BY wake_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, wake_token",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for (run_id, token) in &due {
        wf.enqueue_tick(&mut tx, *run_id, *token, Duration::ZERO).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}
