//! The queries the owner dashboard stands on, each scoped to one business:
//! figures for today and this month (in the business's zone), recent
//! activity, the calls, leads and conversations lists (filters, newest first,
//! keyset pages), and one conversation with its messages. `callrecover bench
//! dashboard` times them on a seeded million-message database.

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::domain::{BusinessId, ConversationId};
use crate::notify::prefs::local_instant;
use crate::store::businesses::Business;
use crate::store::messages::{self, Message};
use crate::store::metrics::{self, DayFigures};

/// Where a page ends: the last row's time and id; the next page is older.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page of a list, newest first, and the cursor of the next (None: last page).
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// Page size bounds: a phone screen's worth, and no unbounded reads.
pub const MAX_PAGE: i64 = 100;

fn page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more { rows.last().map(key) } else { None };
    Page { items: rows, next }
}

/// Today's and this month's figures, local to the business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub today: DayFigures,
    pub month: DayFigures,
}

pub async fn figures(conn: &mut PgConnection, b: &Business, now: DateTime<Utc>) -> sqlx::Result<Figures> {
    let tz = b.timezone.tz();
    let date = now.with_timezone(&tz).date_naive();
    let midnight = local_instant(tz, date, NaiveTime::MIN);
    let first = date.with_day(1).unwrap_or(date);
    let month_start = local_instant(tz, first, NaiveTime::MIN);
    let today = metrics::day_figures(&mut *conn, b.id, midnight, now, b.avg_job_value).await?;
    let month = metrics::day_figures(&mut *conn, b.id, month_start, now, b.avg_job_value).await?;
    Ok(Figures { today, month })
}

/// One line of the activity feed: a call or a text.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct Activity {
    /// `call` or `message`.
    pub kind: String,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// The customer's number.
    pub phone: String,
    /// The call's status, or the text's direction.
    pub detail: String,
    pub conversation_id: Option<Uuid>,
}

/// The newest calls and customer texts, newest first.
pub async fn recent_activity(
    conn: &mut PgConnection,
    business_id: BusinessId,
    limit: i64,
) -> sqlx::Result<Vec<Activity>> {
    sqlx::query_as(
        "(SELECT 'call' AS kind, id, created_at AS at, caller_phone AS phone, status AS detail,
                 NULL::uuid AS conversation_id
          FROM calls WHERE business_id = $1 ORDER BY created_at DESC LIMIT $2)
         UNION ALL
         (SELECT 'message', id, created_at,
                 CASE WHEN direction = 'inbound' THEN from_phone ELSE to_phone END, direction, conversation_id
          FROM messages WHERE business_id = $1 AND audience = 'customer' ORDER BY created_at DESC LIMIT $2)
         ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(business_id)
    .bind(limit.clamp(1, MAX_PAGE))
    .fetch_all(conn)
    .await
}

mod lists;

pub use lists::{
    calls, conversation, conversations, leads, CallFilter, CallRow, ConversationFilter, ConversationRow, LeadFilter,
    LeadRow,
};

/// One conversation and its whole transcript (customer side), oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub conversation: ConversationRow,
    pub messages: Vec<Message>,
}

/// Most texts a conversation view loads.
pub const TRANSCRIPT_LIMIT: i64 = 500;

pub async fn conversation_view(
    conn: &mut PgConnection,
    business_id: BusinessId,
    id: ConversationId,
) -> sqlx::Result<Option<ConversationView>> {
    let Some(conversation) = conversation(&mut *conn, business_id, id).await? else {
        return Ok(None);
    };
    let messages = messages::transcript(&mut *conn, business_id, id, TRANSCRIPT_LIMIT).await?;
    Ok(Some(ConversationView { conversation, messages }))
}

#[cfg(test)]
mod tests;
