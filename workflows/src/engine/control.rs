//! Signals and operator controls: each is one short transaction on our own
//! tables — never an edit of underway's.

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use activities::domain::RunId;

use super::{runs, EngineError, Workflows};

/// A signal waiting to be consumed by its run's next tick.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingSignal {
    pub id: i64,
    pub kind: String,
    pub payload: sqlx::types::Json<Value>,
}

impl Workflows {
    /// Delivers a signal to a live run in the caller's transaction: stores it
    /// (once per `dedupe_key`, e.g. Twilio's MessageSid), replaces the run's
    /// token — which voids any pending timer, even one being dequeued right
    /// now — and enqueues an immediate tick. Returns false for a duplicate or
    /// a run that has ended.
    pub async fn signal(
        &self,
        conn: &mut PgConnection,
        run_id: RunId,
        kind: &str,
        payload: Value,
        dedupe_key: Option<&str>,
    ) -> Result<bool, EngineError> {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO workflow_signals (business_id, run_id, kind, payload, dedupe_key)
             SELECT business_id, id, $2, $3, $4 FROM workflow_runs
             WHERE id = $1 AND status IN ('active', 'waiting', 'human')
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        )
        .bind(run_id)
        .bind(kind)
        .bind(&payload)
        .bind(dedupe_key)
        .fetch_optional(&mut *conn)
        .await?;
        if inserted.is_none() {
            return Ok(false);
        }
        self.rearm(conn, run_id).await?;
        Ok(true)
    }

    /// Operator: wake a run now (retry after an error, or skip a wait).
    pub async fn wake(&self, conn: &mut PgConnection, run_id: RunId) -> Result<bool, EngineError> {
        self.rearm(conn, run_id).await
    }

    /// Operator: cancel a run. Its pending ticks find no token and do nothing.
    pub async fn cancel(&self, conn: &mut PgConnection, run_id: RunId) -> Result<bool, EngineError> {
        let r = sqlx::query(
            "UPDATE workflow_runs SET status = 'cancelled', wake_token = NULL, wake_at = NULL
             WHERE id = $1 AND status IN ('active', 'waiting', 'human', 'failed')",
        )
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
        if r.rows_affected() == 1 {
            let business_id: activities::domain::BusinessId =
                sqlx::query_scalar("SELECT business_id FROM workflow_runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_one(&mut *conn)
                    .await?;
            runs::record_event(&mut *conn, business_id, run_id, "cancelled", serde_json::json!({"by": "operator"}))
                .await?;
        }
        Ok(r.rows_affected() == 1)
    }

    /// New token, due now, immediate tick: all in the caller's transaction.
    async fn rearm(&self, conn: &mut PgConnection, run_id: RunId) -> Result<bool, EngineError> {
        let token = Uuid::new_v4();
        if let Some(lease) = self.0.cfg.eager_lease {
            return Ok(runs::kick(conn, run_id, token, lease).await?);
        }
        let r = sqlx::query(
            "UPDATE workflow_runs SET status = 'active', wake_token = $2, wake_at = now()
             WHERE id = $1 AND status IN ('active', 'waiting', 'human', 'failed')",
        )
        .bind(run_id)
        .bind(token)
        .execute(&mut *conn)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        self.enqueue_tick(conn, run_id, token, std::time::Duration::ZERO).await?;
        Ok(true)
    }
}

/// Takes the run's unconsumed signals, oldest first, marking them consumed in
/// the tick's transaction (so a crash before commit leaves them pending).
/// Nothing to ask when the lock saw none (most ticks: a timer, a first round).
pub async fn take_signals(conn: &mut PgConnection, run: &super::runs::RunRow) -> sqlx::Result<Vec<PendingSignal>> {
    if !run.pending_signals {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "UPDATE workflow_signals SET consumed_at = now()
         WHERE id IN (SELECT id FROM workflow_signals WHERE run_id = $1 AND consumed_at IS NULL ORDER BY id)
         RETURNING id, kind, payload",
    )
    .bind(run.id)
    .fetch_all(conn)
    .await
    .map(|mut v: Vec<PendingSignal>| {
        v.sort_by_key(|s| s.id);
        v
    })
}
