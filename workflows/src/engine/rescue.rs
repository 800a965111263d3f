//! Rescues ticks that underway 0.2.0 loses when the database goes away under
//! them. If the worker's own transaction dies while a tick runs (a restart or
//! failover of PostgreSQL), the tick fails, underway's attempt to record the
//! failure fails too, and `process_next_task` returns through `?` before it
//! aborts the tick's heartbeat (worker.rs, `handle_task_error(..).await?` ahead
//! of `heartbeat_task.abort()`). The detached heartbeat keeps the task
//! `in_progress` and fresh for the life of the process, so underway never
//! retries it, and the run would wait forever (found by `crash-test
//! --restart-postgres`).
//!
//! A run still `active` whose current tick has been in progress longer than
//! the rescue delay, with no transaction holding the run, gets a new token and
//! a new tick; the old task is marked failed. Tokens fence the old tick: if it
//! was only slow and comes back, it finds the token moved and does nothing.
//! A task lost the same way after its tick had done its work (its token is no
//! longer the run's) is marked cancelled: nothing is left for it to do.

use std::time::Duration;

use uuid::Uuid;

use activities::domain::{BusinessId, RunId};

use super::{runs, EngineError, Workflows, QUEUE};

/// Rescues every stuck tick it finds; returns how many.
pub async fn rescue(wf: &Workflows, after: Duration) -> Result<usize, EngineError> {
    let mut tx = wf.0.pool.begin().await?;
    let stuck: Vec<(RunId, BusinessId, Uuid)> = sqlx::query_as(
        "SELECT r.id, r.business_id, t.id FROM underway.task t
         JOIN workflow_runs r ON r.id = (t.input->>'run_id')::uuid AND r.wake_token = (t.input->>'token')::uuid
         WHERE t.task_queue_name = $1 AND t.state = 'in_progress' AND r.status = 'active'
           AND t.last_attempt_at < now() - make_interval(secs => $2)
         FOR UPDATE OF r SKIP LOCKED",
    )
    .bind(QUEUE)
    .bind(after.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    for (run_id, business_id, task_id) in &stuck {
        let token = Uuid::new_v4();
        sqlx::query("UPDATE workflow_runs SET wake_token = $2, updated_at = now() WHERE id = $1")
            .bind(run_id)
            .bind(token)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE underway.task SET state = 'failed', updated_at = now() WHERE task_queue_name = $1 AND id = $2",
        )
        .bind(QUEUE)
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
        let data = serde_json::json!({ "task_id": task_id });
        runs::record_event(&mut *tx, *business_id, *run_id, "tick_rescued", data).await?;
        wf.enqueue_tick(&mut tx, *run_id, token, Duration::ZERO).await?;
        tracing::warn!(run_id = %run_id, task_id = %task_id, "rescued a tick underway had lost");
    }
    let superseded = sqlx::query(
        "UPDATE underway.task t SET state = 'cancelled', updated_at = now()
         WHERE t.task_queue_name = $1 AND t.state = 'in_progress'
           AND t.last_attempt_at < now() - make_interval(secs => $2)
           AND NOT EXISTS (SELECT 1 FROM workflow_runs r
                           WHERE r.id = (t.input->>'run_id')::uuid AND r.wake_token = (t.input->>'token')::uuid
                             AND r.status = 'active')",
    )
    .bind(QUEUE)
    .bind(after.as_secs_f64())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if superseded > 0 {
        tracing::warn!(superseded, "closed ticks underway had lost after they did their work");
    }
    tx.commit().await?;
    Ok(stuck.len() + usize::try_from(superseded).unwrap_or(0))
}
