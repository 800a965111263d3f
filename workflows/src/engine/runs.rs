//! Rows of `workflow_runs`, `workflow_events` and `workflow_signals`.

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::{types::Json, FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use activities::domain::{BusinessId, ConversationId, RunId};

/// A workflow run, with its state still as JSON.
#[derive(Debug, Clone, FromRow)]
pub struct RunRow {
    pub id: RunId,
    pub business_id: BusinessId,
    pub kind: String,
    pub status: String,
    pub state: Json<serde_json::Value>,
    pub wake_token: Option<Uuid>,
    pub conversation_id: Option<ConversationId>,
}

impl RunRow {
    /// A tick may act only if the run is live and its token is the current one.
    pub fn accepts(&self, token: Uuid) -> bool {
        matches!(self.status.as_str(), "active" | "waiting") && self.wake_token == Some(token)
    }

    pub fn state<S: DeserializeOwned>(&self) -> serde_json::Result<S> {
        serde_json::from_value(self.state.0.clone())
    }
}

/// Creates a run unless one with this `(kind, subject_key)` exists. Returns the
/// new run's id and its first token, or None for a duplicate start.
pub async fn insert_run(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    kind: &str,
    subject_key: &str,
    state: &impl Serialize,
) -> sqlx::Result<Option<(RunId, Uuid)>> {
    let token = Uuid::new_v4();
    let id: Option<RunId> = sqlx::query_scalar(
        "INSERT INTO workflow_runs (business_id, kind, subject_key, state, wake_token, wake_at)
         VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (kind, subject_key) DO NOTHING RETURNING id",
    )
    .bind(business_id)
    .bind(kind)
    .bind(subject_key)
    .bind(Json(state))
    .bind(token)
    .fetch_optional(db)
    .await?;
    Ok(id.map(|id| (id, token)))
}

/// The run's kind, which picks the driver a tick runs (None: no such run).
pub async fn kind_of(db: impl PgExecutor<'_>, id: RunId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT kind FROM workflow_runs WHERE id = $1").bind(id).fetch_optional(db).await
}

/// Locks the run for the rest of the transaction: one tick at a time per run.
pub async fn lock_run(conn: &mut PgConnection, id: RunId) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as(
        "SELECT id, business_id, kind, status, state, wake_token, conversation_id
         FROM workflow_runs WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// What a tick leaves behind: the state, and either a wake-up or an end.
pub struct Save<'a, S> {
    pub state: &'a S,
    pub status: &'a str,
    pub wake_token: Option<Uuid>,
    pub wake_at: Option<DateTime<Utc>>,
    pub conversation_id: Option<ConversationId>,
}

pub async fn save_run<S: Serialize>(conn: &mut PgConnection, id: RunId, s: &Save<'_, S>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE workflow_runs SET state = $2, status = $3, wake_token = $4, wake_at = $5,
                conversation_id = COALESCE($6, conversation_id), last_error = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(Json(s.state))
    .bind(s.status)
    .bind(s.wake_token)
    .bind(s.wake_at)
    .bind(s.conversation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves mid-tick progress without touching the token or wake-up.
pub async fn save_state<S: Serialize>(
    conn: &mut PgConnection,
    id: RunId,
    state: &S,
    conversation_id: Option<ConversationId>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE workflow_runs SET state = $2, conversation_id = COALESCE($3, conversation_id) WHERE id = $1")
        .bind(id)
        .bind(Json(state))
        .bind(conversation_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn record_error(db: impl PgExecutor<'_>, id: RunId, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE workflow_runs SET attempts = attempts + 1, last_error = $2 WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// One line of the operator-visible history.
pub async fn record_event(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    run_id: RunId,
    kind: &str,
    detail: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO workflow_events (business_id, run_id, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(business_id)
        .bind(run_id)
        .bind(kind)
        .bind(detail)
        .execute(db)
        .await?;
    Ok(())
}

/// The live run (other than `except`) that owns a conversation, if any.
pub async fn live_run_of(
    db: impl PgExecutor<'_>,
    conversation_id: ConversationId,
    except: RunId,
) -> sqlx::Result<Option<RunId>> {
    sqlx::query_scalar(
        "SELECT id FROM workflow_runs WHERE conversation_id = $1 AND id <> $2
           AND status IN ('active', 'waiting', 'human') ORDER BY created_at DESC LIMIT 1",
    )
    .bind(conversation_id)
    .bind(except)
    .fetch_optional(db)
    .await
}
