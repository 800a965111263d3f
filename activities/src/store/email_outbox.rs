//! The email outbox: owner emails committed with their final subject and body,
//! claimed by the dispatcher (`FOR UPDATE SKIP LOCKED`), sent with no
//! transaction open, then marked. `stored` = no SMTP server: kept, never sent.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::domain::ids::{EmailId, NotificationId};
use crate::domain::BusinessId;

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Email {
    pub id: EmailId,
    pub business_id: BusinessId,
    pub notification_id: Option<NotificationId>,
    pub dedupe_key: String,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, business_id, notification_id, dedupe_key, to_address, subject, body, status, attempts, \
    next_attempt_at, last_attempt_at, last_error, sent_at, created_at";

/// Claims up to `limit` due emails for one send attempt each, committing the
/// evidence (`sending`, attempts + 1) before any SMTP call. A `sending` row
/// whose sender went silent for `lease` is claimable again.
pub async fn claim_due(db: impl PgExecutor<'_>, lease: std::time::Duration, limit: i64) -> sqlx::Result<Vec<Email>> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let sql = format!(
        "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, last_attempt_at = now()
         WHERE id IN (SELECT id FROM email_outbox
                      WHERE (status = 'queued' AND next_attempt_at <= now())
                         OR (status = 'sending' AND last_attempt_at < now() - make_interval(secs => $1::float8 / 1000))
                      ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql).bind(lease_ms).bind(limit).fetch_all(db).await
}

/// With no SMTP server configured: due emails become `stored` (kept for
/// operators, never attempted). Returns how many.
pub async fn store_due(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let r =
        sqlx::query("UPDATE email_outbox SET status = 'stored' WHERE status = 'queued' AND next_attempt_at <= now()")
            .execute(db)
            .await?;
    Ok(r.rows_affected())
}

pub async fn mark_sent(db: impl PgExecutor<'_>, id: EmailId) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE email_outbox SET status = 'sent', sent_at = now(), last_error = NULL
         WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Back to `queued`, to be tried again at `at`.
pub async fn mark_retry(db: impl PgExecutor<'_>, id: EmailId, at: DateTime<Utc>, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE email_outbox SET status = 'queued', next_attempt_at = $2, last_error = $3
         WHERE id = $1 AND status = 'sending'",
    )
    .bind(id)
    .bind(at)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// A final failure: the server refused it, or we gave up.
pub async fn mark_failed(db: impl PgExecutor<'_>, id: EmailId, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE email_outbox SET status = 'failed', last_error = $2 WHERE id = $1 AND status = 'sending'")
        .bind(id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// A business's emails, newest first (the operators' and dashboard's outbox view).
pub async fn for_business(db: impl PgExecutor<'_>, business_id: BusinessId, limit: i64) -> sqlx::Result<Vec<Email>> {
    let sql =
        format!("SELECT {COLUMNS} FROM email_outbox WHERE business_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2");
    sqlx::query_as(&sql).bind(business_id).bind(limit).fetch_all(db).await
}
