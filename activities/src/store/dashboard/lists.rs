//! The dashboard's lists: calls, leads and conversations of one business,
//! filtered, newest first, a keyset page at a time (`(time, id) < cursor`, so
//! page N costs what page 1 does).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{page, Cursor, Page, MAX_PAGE};
use crate::domain::{BusinessId, ConversationId};

#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// `missed`, `answered`, `voicemail`, …
    pub status: Option<String>,
    pub after_hours: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct CallRow {
    pub id: Uuid,
    pub caller_phone: String,
    pub status: String,
    pub is_after_hours: bool,
    pub duration_seconds: Option<i32>,
    pub created_at: DateTime<Utc>,
}

pub async fn calls(
    conn: &mut PgConnection,
    business_id: BusinessId,
    f: &CallFilter,
    limit: i64,
    before: Option<Cursor>,
) -> sqlx::Result<Page<CallRow>> {
    let limit = limit.clamp(1, MAX_PAGE);
    let rows = sqlx::query_as(
        "SELECT id, caller_phone, status, is_after_hours, duration_seconds, created_at FROM calls
         WHERE business_id = $1 AND ($2::text IS NULL OR status = $2)
           AND ($3::boolean IS NULL OR is_after_hours = $3)
           AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
         ORDER BY created_at DESC, id DESC LIMIT $6",
    )
    .bind(business_id)
    .bind(f.status.as_deref())
    .bind(f.after_hours)
    .bind(before.map(|c| c.at))
    .bind(before.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(page(rows, limit, |r: &CallRow| Cursor { at: r.created_at, id: r.id }))
}

#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    /// `new`, `qualified`, `booked`, …
    pub status: Option<String>,
    /// Part of the name or of the phone number.
    pub search: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct LeadRow {
    pub id: Uuid,
    pub phone: String,
    pub name: Option<String>,
    pub service_needed: Option<String>,
    pub urgency: Option<String>,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// `%…%` for ILIKE, with the pattern characters of the search taken literally.
fn contains(search: &str) -> String {
    let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

pub async fn leads(
    conn: &mut PgConnection,
    business_id: BusinessId,
    f: &LeadFilter,
    limit: i64,
    before: Option<Cursor>,
) -> sqlx::Result<Page<LeadRow>> {
    let limit = limit.clamp(1, MAX_PAGE);
    let search = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(contains);
    let rows = sqlx::query_as(
        "SELECT id, phone, name, service_needed, urgency, status, created_at FROM leads
         WHERE business_id = $1 AND ($2::text IS NULL OR status = $2)
           AND ($3::text IS NULL OR name ILIKE $3 OR phone LIKE $3)
           AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
         ORDER BY created_at DESC, id DESC LIMIT $6",
    )
    .bind(business_id)
    .bind(f.status.as_deref())
    .bind(search)
    .bind(before.map(|c| c.at))
    .bind(before.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await?;
    Ok(page(rows, limit, |r: &LeadRow| Cursor { at: r.created_at, id: r.id }))
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// `active`, `human_active`, `closed_booked`, …
    pub status: Option<String>,
}

/// A conversation with its lead and its latest customer-side text.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct ConversationRow {
    pub id: Uuid,
    pub status: String,
    pub lead_id: Uuid,
    pub name: Option<String>,
    pub phone: String,
    pub last_body: Option<String>,
    pub last_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.status, c.lead_id, l.name, l.phone, m.body AS last_body,
    m.created_at AS last_at, c.updated_at
    FROM conversations c JOIN leads l ON l.id = c.lead_id
    LEFT JOIN LATERAL (SELECT body, created_at FROM messages
                       WHERE conversation_id = c.id AND audience = 'customer'
                       ORDER BY created_at DESC LIMIT 1) m ON true";

pub async fn conversations(
    conn: &mut PgConnection,
    business_id: BusinessId,
    f: &ConversationFilter,
    limit: i64,
    before: Option<Cursor>,
) -> sqlx::Result<Page<ConversationRow>> {
    let limit = limit.clamp(1, MAX_PAGE);
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS}
         WHERE c.business_id = $1 AND ($2::text IS NULL OR c.status = $2)
           AND ($3::timestamptz IS NULL OR (c.updated_at, c.id) < ($3, $4))
         ORDER BY c.updated_at DESC, c.id DESC LIMIT $5"
    );
    let rows = sqlx::query_as(&sql)
        .bind(business_id)
        .bind(f.status.as_deref())
        .bind(before.map(|c| c.at))
        .bind(before.map(|c| c.id))
        .bind(limit + 1)
        .fetch_all(conn)
        .await?;
    Ok(page(rows, limit, |r: &ConversationRow| Cursor { at: r.updated_at, id: r.id }))
}

pub async fn conversation(
    conn: &mut PgConnection,
    business_id: BusinessId,
    id: ConversationId,
) -> sqlx::Result<Option<ConversationRow>> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} WHERE c.business_id = $1 AND c.id = $2");
    sqlx::query_as(&sql).bind(business_id).bind(id).fetch_optional(conn).await
}
