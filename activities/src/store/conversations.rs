//! Leads and their conversations. One open conversation per lead is enforced by
//! a partial unique index, so racing calls cannot open two.

use rust_decimal::Decimal;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{FromRow, PgConnection, PgExecutor, Postgres};

use crate::domain::{BusinessId, CallId, ConversationId, LeadId, PhoneNumber};

/// Where a lead came from (the seed's `source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadSource {
    MissedCall,
    Manual,
}

impl LeadSource {
    fn as_str(self) -> &'static str {
        match self {
            LeadSource::MissedCall => "missed_call",
            LeadSource::Manual => "manual",
        }
    }
}

/// The result of asking for a conversation with a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// A new conversation (and lead, if the caller was new) was created.
    Created { conversation_id: ConversationId, lead_id: LeadId, zone: Option<crate::domain::Zone> },
    /// The caller already had an open conversation; the call was attached to it.
    Joined { conversation_id: ConversationId, lead_id: LeadId, zone: Option<crate::domain::Zone> },
}

#[derive(Debug, Clone, FromRow)]
pub struct LeadSummary {
    pub id: LeadId,
    pub phone: PhoneNumber,
    pub name: Option<String>,
    pub service_needed: Option<String>,
    pub status: String,
}

/// Finds or creates the lead (with `zone`, the caller's own time zone when
/// known, unless the lead has one), then opens a conversation unless one is
/// open; the common case, a new conversation, is one statement. The lead's
/// zone comes back with it, as [`lead_zone`] would read it.
#[allow(clippy::too_many_arguments)]
pub async fn open_conversation(
    conn: &mut PgConnection,
    business_id: BusinessId,
    phone: &PhoneNumber,
    source: LeadSource,
    estimated_value: Decimal,
    call_id: Option<CallId>,
    zone: Option<crate::domain::Zone>,
) -> sqlx::Result<Opened> {
    let (lead_id, zone, created): (LeadId, Option<crate::domain::Zone>, Option<ConversationId>) = sqlx::query_as(
        "WITH l AS (
             INSERT INTO leads (business_id, phone, source, estimated_value, time_zone)
             VALUES ($1, $2, $3, $4, $6)
             ON CONFLICT (business_id, phone) DO UPDATE
                SET status = CASE WHEN leads.status IN ('unresponsive', 'lost') THEN 'new' ELSE leads.status END,
                    time_zone = COALESCE(leads.time_zone, EXCLUDED.time_zone)
             RETURNING id, time_zone),
         c AS (
             INSERT INTO conversations (business_id, lead_id, call_id) SELECT $1, id, $5 FROM l
             ON CONFLICT (business_id, lead_id) WHERE status IN ('active', 'human_active', 'follow_up')
             DO NOTHING RETURNING id)
         SELECT l.id, l.time_zone, (SELECT id FROM c) FROM l",
    )
    .bind(business_id)
    .bind(phone)
    .bind(source.as_str())
    .bind(estimated_value)
    .bind(call_id)
    .bind(zone)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(conversation_id) = created {
        return Ok(Opened::Created { conversation_id, lead_id, zone });
    }
    let conversation_id =
        open_conversation_of_lead(&mut *conn, business_id, lead_id).await?.ok_or(sqlx::Error::RowNotFound)?;
    if let Some(call_id) = call_id {
        attach_call(&mut *conn, business_id, conversation_id, call_id).await?;
    }
    Ok(Opened::Joined { conversation_id, lead_id, zone })
}

async fn open_conversation_of_lead(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    lead_id: LeadId,
) -> sqlx::Result<Option<ConversationId>> {
    sqlx::query_scalar(
        "SELECT id FROM conversations WHERE business_id = $1 AND lead_id = $2
           AND status IN ('active', 'human_active', 'follow_up')",
    )
    .bind(business_id)
    .bind(lead_id)
    .fetch_optional(db)
    .await
}

const OPEN_CONVERSATION_FOR: &str = "SELECT c.id FROM conversations c
     WHERE c.business_id = $1 AND c.lead_id = (SELECT l.id FROM leads l WHERE l.business_id = $1 AND l.phone = $2)
       AND c.status IN ('active', 'human_active', 'follow_up')";

/// The caller's open conversation with this business, if any: the lead by
/// its phone first, then its one open conversation by the lead. Written as a
/// join, a plan made before the tables had statistics walked every open
/// conversation of the business and looked each one's lead up (500 of them,
/// ~2,000 buffers, for one inbound text in the conversations bench).
pub async fn open_conversation_for(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    phone: &PhoneNumber,
) -> sqlx::Result<Option<ConversationId>> {
    sqlx::query_scalar(OPEN_CONVERSATION_FOR).bind(business_id).bind(phone).fetch_optional(db).await
}

pub async fn attach_call(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    conversation_id: ConversationId,
    call_id: CallId,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO conversation_calls (business_id, conversation_id, call_id) VALUES ($1, $2, $3)
         ON CONFLICT (call_id) DO NOTHING",
    )
    .bind(business_id)
    .bind(conversation_id)
    .bind(call_id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get_lead(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: LeadId,
) -> sqlx::Result<Option<LeadSummary>> {
    sqlx::query_as("SELECT id, phone, name, service_needed, status FROM leads WHERE business_id = $1 AND id = $2")
        .bind(business_id)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A lead moving forward: to `to` from one of `from` (never backwards).
#[derive(Debug, Clone, Copy)]
pub struct LeadMove<'a> {
    pub id: LeadId,
    pub to: &'a str,
    pub from: &'a [&'a str],
}

/// A conversation's status and follow-up bookkeeping.
#[derive(Debug, Clone, Copy)]
pub struct ConversationUpdate<'a> {
    pub id: ConversationId,
    pub status: &'a str,
    pub follow_up_count: i32,
    pub next_follow_up_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The lead's move with the business at `$1` and its id, `to` and `from` at `$p`, `$p+1`, `$p+2`.
///
/// The business is compared with `IS NOT DISTINCT FROM` (the same test on a
/// `NOT NULL` column) because no index can serve it, so the row is found by
/// its primary key. With `=`, a plan made while `leads` had no statistics (a
/// new deployment's first minute, before autovacuum analyses it) took the
/// business's own index and read every lead of the business to update one:
/// 973 rows read for one at the end of a 20 s bench run, growing with every call.
fn lead_move_sql(p: usize) -> String {
    let (id, to, from) = (p, p + 1, p + 2);
    format!(
        "UPDATE leads SET status = ${to} WHERE id = ${id} AND business_id IS NOT DISTINCT FROM $1 AND status = ANY(${from})"
    )
}

/// The conversation's update with the business at `$1` and its id and fields from `$p`.
fn conversation_sql(p: usize) -> String {
    let (id, status, count, next) = (p, p + 1, p + 2, p + 3);
    format!(
        "UPDATE conversations SET status = ${status}, follow_up_count = ${count}, next_follow_up_at = ${next}
         WHERE business_id = $1 AND id = ${id}"
    )
}

/// Binds a lead's move where [`lead_move_sql`] expects it.
fn bind_lead_move<'q>(q: Query<'q, Postgres, PgArguments>, m: &LeadMove<'q>) -> Query<'q, Postgres, PgArguments> {
    let from: Vec<String> = m.from.iter().map(|s| (*s).to_owned()).collect();
    q.bind(m.id).bind(m.to).bind(from)
}

/// Binds a conversation's update where [`conversation_sql`] expects it.
fn bind_conversation<'q>(
    q: Query<'q, Postgres, PgArguments>,
    u: &ConversationUpdate<'q>,
) -> Query<'q, Postgres, PgArguments> {
    q.bind(u.id).bind(u.status).bind(u.follow_up_count).bind(u.next_follow_up_at)
}

/// Moves a lead forward; `from` lists the statuses it may leave (never backwards).
pub async fn set_lead_status(db: impl PgExecutor<'_>, business_id: BusinessId, m: &LeadMove<'_>) -> sqlx::Result<bool> {
    let sql = lead_move_sql(2);
    let r = bind_lead_move(sqlx::query(&sql).bind(business_id), m).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Sets status and follow-up bookkeeping of a conversation.
pub async fn update_conversation(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    u: &ConversationUpdate<'_>,
) -> sqlx::Result<()> {
    let sql = conversation_sql(2);
    bind_conversation(sqlx::query(&sql).bind(business_id), u).execute(db).await?;
    Ok(())
}

/// A lead's move ([`set_lead_status`]) and a conversation's update
/// ([`update_conversation`]) in one statement: the round after a text-back
/// does both. The lead's move stays conditional on its status.
pub async fn move_lead_and_update_conversation(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    lead: &LeadMove<'_>,
    conversation: &ConversationUpdate<'_>,
) -> sqlx::Result<()> {
    let sql = format!("WITH lead AS ({}) {}", lead_move_sql(2), conversation_sql(5));
    let q = bind_lead_move(sqlx::query(&sql).bind(business_id), lead);
    bind_conversation(q, conversation).execute(db).await?;
    Ok(())
}

/// What we know about a lead, as the responders see it.
pub async fn lead_facts(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: LeadId,
) -> sqlx::Result<crate::responder::LeadFacts> {
    let row: Option<crate::responder::LeadFacts> = sqlx::query_as(
        "SELECT service_needed, service_category, urgency, name, address, preferred_time
         FROM leads WHERE business_id = $1 AND id = $2",
    )
    .bind(business_id)
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Stores what a responder extracted: a known value is kept unless the
/// customer corrected it; `unknown` urgency is always replaceable.
pub async fn apply_facts(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: LeadId,
    facts: &crate::responder::LeadFacts,
    corrections: &[&str],
) -> sqlx::Result<()> {
    let corrected = |f: &str| corrections.contains(&f);
    sqlx::query(
        "UPDATE leads SET
            service_needed = CASE WHEN $3 OR service_needed IS NULL THEN COALESCE($4, service_needed) ELSE service_needed END,
            service_category = CASE WHEN $3 OR service_category IS NULL THEN COALESCE($5, service_category) ELSE service_category END,
            urgency = CASE WHEN urgency IS NULL OR urgency = 'unknown' OR $6 THEN COALESCE($7, urgency) ELSE urgency END,
            name = CASE WHEN $8 OR name IS NULL THEN COALESCE($9, name) ELSE name END,
            address = CASE WHEN $10 OR address IS NULL THEN COALESCE($11, address) ELSE address END,
            preferred_time = CASE WHEN $12 OR preferred_time IS NULL THEN COALESCE($13, preferred_time) ELSE preferred_time END
         WHERE business_id = $1 AND id = $2",
    )
    .bind(business_id)
    .bind(id)
    .bind(corrected("service_needed"))
    .bind(&facts.service_needed)
    .bind(&facts.service_category)
    .bind(corrected("urgency") || facts.urgency.as_deref() == Some("emergency"))
    .bind(&facts.urgency)
    .bind(corrected("name"))
    .bind(&facts.name)
    .bind(corrected("address"))
    .bind(&facts.address)
    .bind(corrected("preferred_time"))
    .bind(&facts.preferred_time)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a conversation as needing the owner (the dashboard highlights it).
pub async fn flag_human(db: impl PgExecutor<'_>, business_id: BusinessId, id: ConversationId) -> sqlx::Result<()> {
    sqlx::query("UPDATE conversations SET needs_human = true WHERE business_id = $1 AND id = $2")
        .bind(business_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The lead's own time zone, when we know it.
pub async fn lead_zone(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: LeadId,
) -> sqlx::Result<Option<crate::domain::Zone>> {
    let z: Option<Option<crate::domain::Zone>> =
        sqlx::query_scalar("SELECT time_zone FROM leads WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(z.flatten())
}

/// The state Twilio reported for this caller: from the call, else their latest text.
pub async fn caller_state(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    phone: &PhoneNumber,
    call_id: Option<CallId>,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT s FROM (
            SELECT caller_state AS s, 0 AS rank, created_at FROM calls WHERE business_id = $1 AND id = $3
            UNION ALL
            SELECT sender_state, 1, created_at FROM messages
             WHERE business_id = $1 AND from_phone = $2 AND direction = 'inbound' AND sender_state IS NOT NULL
         ) x WHERE s IS NOT NULL ORDER BY rank, created_at DESC LIMIT 1",
    )
    .bind(business_id)
    .bind(phone)
    .bind(call_id)
    .fetch_optional(db)
    .await
}

#[cfg(test)]
#[path = "conversations_tests.rs"]
pub(crate) mod tests;
