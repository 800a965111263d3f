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

/// The owner's text of a notification, queued with its feed row.
#[derive(Debug, Clone)]
pub struct OwnerText<'a> {
    /// The run that sends it, or None for the notification dispatcher.
    pub run_id: Option<crate::domain::RunId>,
    pub purpose: &'a str,
    pub from: &'a crate::domain::PhoneNumber,
    pub to: &'a crate::domain::PhoneNumber,
    pub body: &'a str,
}

/// The owner's email of a notification, queued with its feed row.
#[derive(Debug, Clone)]
pub struct OwnerEmail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// The feed row and, in the same statement, the owner's text (an outbox row
/// of `messages`, sender `system`) and email, each held until the feed row's
/// `held_until`. None, and nothing queued, when this business already has a
/// notification with this key. One round trip where three were.
pub async fn insert_with_outbox(
    db: impl PgExecutor<'_>,
    n: &NewFeedItem<'_>,
    text: Option<&OwnerText<'_>>,
    email: Option<&OwnerEmail<'_>>,
) -> sqlx::Result<Option<NotificationId>> {
    sqlx::query_scalar(
        "WITH f AS (
             INSERT INTO notifications (business_id, event, conversation_id, dedupe_key, data, held_until)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (business_id, dedupe_key) DO NOTHING RETURNING id),
         m AS (
             INSERT INTO messages (business_id, conversation_id, run_id, purpose, direction, audience, sender_type,
                                   from_phone, to_phone, body, next_attempt_at)
             SELECT $1, $3, $7, $8, 'outbound', 'owner', 'system', $9, $10, $11, $6 FROM f WHERE $12
             ON CONFLICT (run_id, purpose) DO NOTHING),
         e AS (
             INSERT INTO email_outbox (business_id, notification_id, dedupe_key, to_address, subject, body,
                                       next_attempt_at)
             SELECT $1, f.id, $4, $13, $14, $15, COALESCE($6, now()) FROM f WHERE $16
             ON CONFLICT (business_id, dedupe_key) DO NOTHING)
         SELECT id FROM f",
    )
    .bind(n.business_id)
    .bind(n.event)
    .bind(n.conversation_id)
    .bind(n.dedupe_key)
    .bind(Json(n.data))
    .bind(n.held_until)
    .bind(text.and_then(|t| t.run_id))
    .bind(text.map(|t| t.purpose))
    .bind(text.map(|t| t.from))
    .bind(text.map(|t| t.to))
    .bind(text.map(|t| t.body))
    .bind(text.is_some())
    .bind(email.map(|e| e.to))
    .bind(email.map(|e| e.subject))
    .bind(email.map(|e| e.body))
    .bind(email.is_some())
    .fetch_optional(db)
    .await
}
