//! The owner's notification feed (the dashboard's activity list) and the
//! business's notification preferences.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor};

use crate::domain::ids::NotificationId;
use crate::domain::{BusinessId, ConversationId};
use crate::notify::NotificationPrefs;

/// A feed row as the dashboard lists it.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct FeedItem {
    pub id: NotificationId,
    pub business_id: BusinessId,
    pub event: String,
    pub conversation_id: Option<ConversationId>,
    pub dedupe_key: Option<String>,
    pub data: Json<serde_json::Value>,
    pub read: bool,
    /// Set when quiet hours hold the SMS and email back until then.
    pub held_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A notification's feed row, keyed by `(business, dedupe_key)`.
#[derive(Debug, Clone)]
pub struct NewFeedItem<'a> {
    pub business_id: BusinessId,
    pub event: &'a str,
    pub conversation_id: Option<ConversationId>,
    pub dedupe_key: &'a str,
    pub data: &'a serde_json::Value,
    pub held_until: Option<DateTime<Utc>>,
}

/// Inserts the feed row; None when this business already has one with this
/// key (the notification was already made, so nothing else may be queued).
pub async fn insert_feed(db: impl PgExecutor<'_>, n: &NewFeedItem<'_>) -> sqlx::Result<Option<NotificationId>> {
    sqlx::query_scalar(
        "INSERT INTO notifications (business_id, event, conversation_id, dedupe_key, data, held_until)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (business_id, dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(n.business_id)
    .bind(n.event)
    .bind(n.conversation_id)
    .bind(n.dedupe_key)
    .bind(Json(n.data))
    .bind(n.held_until)
    .fetch_optional(db)
    .await
}

/// Whether this business already has a notification with this key.
pub async fn exists(db: impl PgExecutor<'_>, business_id: BusinessId, dedupe_key: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM notifications WHERE business_id = $1 AND dedupe_key = $2)")
        .bind(business_id)
        .bind(dedupe_key)
        .fetch_one(db)
        .await
}

/// The newest feed rows of a business, newest first.
pub async fn recent(db: impl PgExecutor<'_>, business_id: BusinessId, limit: i64) -> sqlx::Result<Vec<FeedItem>> {
    sqlx::query_as(
        "SELECT id, business_id, event, conversation_id, dedupe_key, data, read, held_until, created_at
         FROM notifications WHERE business_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(business_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The business's notification preferences (None: no such business).
pub async fn prefs(db: impl PgExecutor<'_>, business_id: BusinessId) -> sqlx::Result<Option<NotificationPrefs>> {
    let row: Option<Json<serde_json::Value>> =
        sqlx::query_scalar("SELECT notification_prefs FROM businesses WHERE id = $1")
            .bind(business_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|j| NotificationPrefs::from_json(&j.0)))
}

/// Replaces the business's notification preferences.
pub async fn set_prefs(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    prefs: &NotificationPrefs,
) -> sqlx::Result<bool> {
    let r = sqlx::query("UPDATE businesses SET notification_prefs = $2 WHERE id = $1")
        .bind(business_id)
        .bind(Json(prefs.to_json()))
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}
