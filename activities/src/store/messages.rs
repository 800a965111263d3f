//! Messages: the transcript and the SMS outbox (see the migration's comment).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::domain::{BusinessId, ConversationId, MessageId, PhoneNumber, RunId};
use crate::sms::OPT_OUT_CONFIRMATION;

/// Who an outbound text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Audience {
    Customer,
    Owner,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Customer => "customer",
            Audience::Owner => "owner",
        }
    }
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub business_id: BusinessId,
    pub conversation_id: Option<ConversationId>,
    pub run_id: Option<RunId>,
    pub purpose: Option<String>,
    pub direction: String,
    pub audience: String,
    pub from_phone: PhoneNumber,
    pub to_phone: PhoneNumber,
    pub body: String,
    pub validity_seconds: Option<i32>,
    pub twilio_message_sid: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub error_code: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub num_media: i32,
    pub created_at: DateTime<Utc>,
}

impl Message {
    /// Queued or maybe-sent: delivery is not finished.
    pub fn is_pending(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "sending")
    }
}

/// An outbound text with its final body, keyed by `(run_id, purpose)`.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    pub business_id: BusinessId,
    pub conversation_id: Option<ConversationId>,
    pub run_id: RunId,
    pub purpose: &'a str,
    pub audience: Audience,
    pub from: &'a PhoneNumber,
    pub to: &'a PhoneNumber,
    pub body: &'a str,
    pub validity_seconds: Option<i32>,
}

pub(crate) const COLUMNS: &str = "id, business_id, conversation_id, run_id, purpose, direction, audience, from_phone, \
    to_phone, body, validity_seconds, twilio_message_sid, status, attempts, error_code, last_error, \
    last_attempt_at, next_attempt_at, num_media, created_at";

/// A pending row (alias `m`) that no live sender holds: `queued`, or
/// `sending` with a retry scheduled or its sender's lease (`$2`, in ms) run
/// out (the sender died). Two workers never send the same row at once.
pub(crate) const CLAIMABLE: &str = "(m.status = 'queued' OR (m.status = 'sending' \
    AND (m.next_attempt_at IS NOT NULL OR m.last_attempt_at < now() - make_interval(secs => $2::float8 / 1000))))";

/// The row (alias `m`) is for a customer who opted out, of this business or
/// of all. The one text such a number still gets is the confirmation of the
/// opt-out itself (47 CFR 64.1200(a)(12)): its purpose is bound as `$3`.
pub(crate) fn opted_out() -> String {
    let opted = super::opt_outs::opted_out_sql("m.to_phone", "m.business_id");
    format!("(m.audience = 'customer' AND m.purpose IS DISTINCT FROM $3 AND {opted})")
}

/// Any outbox row. `NewOutbound` is the common case (a run's text, due at
/// once); owner notifications may belong to no run (the notification
/// dispatcher sends those) and may be held until quiet hours end.
#[derive(Debug, Clone)]
pub struct OutboxRow<'a> {
    pub business_id: BusinessId,
    pub conversation_id: Option<ConversationId>,
    /// The run that sends it, or None for the notification dispatcher.
    pub run_id: Option<RunId>,
    pub purpose: &'a str,
    pub audience: Audience,
    pub from: &'a PhoneNumber,
    pub to: &'a PhoneNumber,
    pub body: &'a str,
    pub validity_seconds: Option<i32>,
    /// Not sent before this instant; None = as soon as possible.
    pub not_before: Option<DateTime<Utc>>,
}

impl<'a> From<&NewOutbound<'a>> for OutboxRow<'a> {
    fn from(m: &NewOutbound<'a>) -> Self {
        OutboxRow {
            business_id: m.business_id,
            conversation_id: m.conversation_id,
            run_id: Some(m.run_id),
            purpose: m.purpose,
            audience: m.audience,
            from: m.from,
            to: m.to,
            body: m.body,
            validity_seconds: m.validity_seconds,
            not_before: None,
        }
    }
}

/// Inserts the outbox row; a second insert for the same `(run, purpose)` is a no-op.
pub async fn queue_outbound(db: impl PgExecutor<'_>, m: &NewOutbound<'_>) -> sqlx::Result<Option<MessageId>> {
    queue_row(db, &m.into()).await
}

/// Inserts any outbox row. Rows without a run are not deduplicated here
/// (NULL run ids never conflict): their caller must be once-only itself.
pub async fn queue_row(db: impl PgExecutor<'_>, m: &OutboxRow<'_>) -> sqlx::Result<Option<MessageId>> {
    let sender = match m.audience {
        Audience::Customer => "ai",
        Audience::Owner => "system",
    };
    insert_outbound(db, m, sender).await
}

/// The owner's own words to the customer (sender `human`), through the same outbox.
pub async fn queue_human(db: impl PgExecutor<'_>, m: &NewOutbound<'_>) -> sqlx::Result<Option<MessageId>> {
    insert_outbound(db, &m.into(), "human").await
}

async fn insert_outbound(db: impl PgExecutor<'_>, m: &OutboxRow<'_>, sender: &str) -> sqlx::Result<Option<MessageId>> {
    sqlx::query_scalar(
        "INSERT INTO messages (business_id, conversation_id, run_id, purpose, direction, audience, sender_type,
                               from_phone, to_phone, body, validity_seconds, next_attempt_at)
         VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (run_id, purpose) DO NOTHING RETURNING id",
    )
    .bind(m.business_id)
    .bind(m.conversation_id)
    .bind(m.run_id)
    .bind(m.purpose)
    .bind(m.audience.as_str())
    .bind(sender)
    .bind(m.from)
    .bind(m.to)
    .bind(m.body)
    .bind(m.validity_seconds)
    .bind(m.not_before)
    .fetch_optional(db)
    .await
}

/// Undelivered outbound rows that belong to no run and are due: what the
/// notification dispatcher sends. A `sending` row is due only when a retry was
/// scheduled or its sender's lease ran out (`deliver` claims it again anyway).
pub async fn due_without_run(
    db: impl PgExecutor<'_>,
    lease: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m
         WHERE run_id IS NULL AND direction = 'outbound' AND status IN ('queued', 'sending')
           AND (next_attempt_at IS NULL OR next_attempt_at <= now()) AND {CLAIMABLE}
         ORDER BY COALESCE(next_attempt_at, created_at), id LIMIT $1 FOR UPDATE SKIP LOCKED"
    );
    sqlx::query_as(&sql).bind(limit).bind(lease_ms).fetch_all(db).await
}

pub async fn by_purpose(db: impl PgExecutor<'_>, run_id: RunId, purpose: &str) -> sqlx::Result<Option<Message>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE run_id = $1 AND purpose = $2");
    sqlx::query_as(&sql).bind(run_id).bind(purpose).fetch_optional(db).await
}

/// What [`claim_for_send`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This worker may send; the status the row had (`sending`: a dead
    /// sender's attempt that may have reached the provider).
    Claimed(String),
    /// Another worker holds the row (or it is no longer pending).
    Held,
    /// The recipient opted out; nothing was claimed.
    OptedOut,
}

/// Claims a row for one send attempt and commits the evidence that a send may
/// happen, before the provider call: only a [`CLAIMABLE`] row, and nothing
/// when the row is for a customer who opted out ([`opted_out`], asked in the
/// same statement).
pub async fn claim_for_send(db: impl PgExecutor<'_>, id: MessageId, lease: std::time::Duration) -> sqlx::Result<Claim> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let sql = format!(
        "WITH prev AS (SELECT m.id, m.status, {} AS opted, {CLAIMABLE} AS claimable
                       FROM messages m WHERE m.id = $1 FOR UPDATE OF m),
              u AS (UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, last_attempt_at = now(),
                           next_attempt_at = NULL
                    FROM prev WHERE m.id = prev.id AND prev.claimable AND NOT prev.opted
                    RETURNING prev.status)
         SELECT COALESCE((SELECT opted FROM prev), false), (SELECT status FROM u)",
        opted_out()
    );
    let (opted_out, previous): (bool, Option<String>) =
        sqlx::query_as(&sql).bind(id).bind(lease_ms).bind(OPT_OUT_CONFIRMATION).fetch_one(db).await?;
    Ok(match (opted_out, previous) {
        (true, _) => Claim::OptedOut,
        (false, Some(status)) => Claim::Claimed(status),
        (false, None) => Claim::Held,
    })
}

pub async fn mark_sent(db: impl PgExecutor<'_>, id: MessageId, sid: &str) -> sqlx::Result<()> {
    record_sent(db, &[SentText { id, sid: sid.to_owned(), at: Utc::now() }]).await
}

/// A text the provider accepted, with its sid and when it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentText {
    pub id: MessageId,
    pub sid: String,
    pub at: DateTime<Utc>,
}

/// The update that records sent texts (`sent` with its sid, unless a row is
/// no longer pending: a later outcome stands), its ids, sids and times bound
/// at `$first` and the two after ([`sent_arrays`]); with `run`, only that
/// run's texts (its parameter's number), which also steers the plan to the
/// run's pending rows: without statistics, a plan of `id = ANY(..)` alone
/// scanned every pending text of every run. A statement of its own in
/// [`record_sent`]; a tick's next round runs it inside the statement that
/// locks its run.
pub fn record_sent_sql(first: usize, run: Option<usize>) -> String {
    record_sent_scoped_sql(first, &run.map(|r| format!("run_id = ${r} AND ")).unwrap_or_default())
}

/// [`record_sent_sql`] for the texts of any of the runs `$runs` (a uuid array).
pub fn record_sent_of_runs_sql(first: usize, runs: usize) -> String {
    record_sent_scoped_sql(first, &format!("run_id = ANY(${runs}::uuid[]) AND "))
}

fn record_sent_scoped_sql(first: usize, of_run: &str) -> String {
    let (ids, sids, ats) = (first, first + 1, first + 2);
    format!(
        "UPDATE messages SET status = 'sent', twilio_message_sid = (${sids}::text[])[array_position(${ids}::uuid[], id)],
                sent_at = (${ats}::timestamptz[])[array_position(${ids}::uuid[], id)], next_attempt_at = NULL, last_error = NULL
         WHERE {of_run}id = ANY(${ids}::uuid[]) AND status IN ('queued', 'sending')"
    )
}

/// The three arrays of [`record_sent_sql`], in its order.
pub fn sent_arrays(sent: &[SentText]) -> (Vec<uuid::Uuid>, Vec<String>, Vec<DateTime<Utc>>) {
    let ids = sent.iter().map(|s| s.id.0).collect();
    let sids = sent.iter().map(|s| s.sid.clone()).collect();
    let ats = sent.iter().map(|s| s.at).collect();
    (ids, sids, ats)
}

/// Records sent texts in one statement ([`record_sent_sql`]).
pub async fn record_sent(db: impl PgExecutor<'_>, sent: &[SentText]) -> sqlx::Result<()> {
    let (ids, sids, ats) = sent_arrays(sent);
    sqlx::query(&record_sent_sql(1, None)).bind(ids).bind(sids).bind(ats).execute(db).await?;
    Ok(())
}

/// A final failure: `failed` (provider said no) or `blocked` (we refused to send).
pub async fn mark_failed(
    db: impl PgExecutor<'_>,
    id: MessageId,
    status: &str,
    code: Option<i64>,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET status = $2, error_code = $3, last_error = $4, next_attempt_at = NULL
         WHERE id = $1 AND status IN ('queued', 'sending')",
    )
    .bind(id)
    .bind(status)
    .bind(code.and_then(|c| i32::try_from(c).ok()))
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// Schedules another attempt. `definitely_unsent` puts the row back to `queued`;
/// otherwise it stays `sending` and the next attempt reconciles first.
pub async fn mark_retry(
    db: impl PgExecutor<'_>,
    id: MessageId,
    at: DateTime<Utc>,
    definitely_unsent: bool,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE messages SET next_attempt_at = $2, last_error = $4,
                status = CASE WHEN $3 THEN 'queued' ELSE status END
         WHERE id = $1 AND status IN ('queued', 'sending')",
    )
    .bind(id)
    .bind(at)
    .bind(definitely_unsent)
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// Applies a Twilio status callback to the text it names (`message_id`,
/// from the callback's URL; texts sent before the URL carried it are found
/// by sid). Statuses only move forward: a late `sent` never overwrites
/// `delivered`. A report that beats the record of its send (the row still
/// `sending`, no sid) records the sid and the send too; a row holding
/// another sid is left alone.
pub async fn apply_delivery_status(
    db: impl PgExecutor<'_>,
    message_id: Option<MessageId>,
    sid: &str,
    status: &str,
    error_code: Option<i32>,
) -> sqlx::Result<Option<(BusinessId, PhoneNumber)>> {
    let row = match message_id {
        Some(_) => "id = $4 AND (twilio_message_sid IS NULL OR twilio_message_sid = $1)",
        None => "twilio_message_sid = $1",
    };
    let sql = format!(
        "UPDATE messages SET status = $2, error_code = COALESCE($3, error_code),
                twilio_message_sid = $1, next_attempt_at = NULL,
                sent_at = CASE WHEN status IN ('queued', 'sending') THEN COALESCE(sent_at, now()) ELSE sent_at END
         WHERE {row}
           AND (CASE status WHEN 'sending' THEN 0 WHEN 'queued' THEN 0 WHEN 'sent' THEN 1
                 WHEN 'delivered' THEN 2 WHEN 'undelivered' THEN 2 WHEN 'failed' THEN 2 ELSE 3 END)
             < (CASE $2 WHEN 'sent' THEN 1 ELSE 2 END)
         RETURNING business_id, to_phone"
    );
    sqlx::query_as(&sql).bind(sid).bind(status).bind(error_code).bind(message_id).fetch_optional(db).await
}

/// Every text to or from a phone, oldest first (the simulator's phone view).
pub async fn for_phone(db: impl PgExecutor<'_>, phone: &PhoneNumber, limit: i64) -> sqlx::Result<Vec<Message>> {
    let sql = format!(
        "SELECT * FROM (SELECT {COLUMNS} FROM messages WHERE to_phone = $1 OR from_phone = $1
           ORDER BY created_at DESC, id DESC LIMIT $2) m ORDER BY created_at, id"
    );
    sqlx::query_as(&sql).bind(phone).bind(limit).fetch_all(db).await
}

/// Owner alerts of a business, oldest first.
pub async fn owner_messages(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    let sql = format!(
        "SELECT * FROM (SELECT {COLUMNS} FROM messages WHERE business_id = $1 AND audience = 'owner'
           ORDER BY created_at DESC, id DESC LIMIT $2) m ORDER BY created_at, id"
    );
    sqlx::query_as(&sql).bind(business_id).bind(limit).fetch_all(db).await
}

/// A customer's text as Twilio delivered it.
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    pub business_id: BusinessId,
    pub conversation_id: Option<ConversationId>,
    pub from: &'a PhoneNumber,
    pub to: &'a PhoneNumber,
    pub body: &'a str,
    pub sid: &'a str,
    pub num_media: i32,
    /// Twilio's `FromState`, for the sender's time zone.
    pub sender_state: Option<&'a str>,
}

/// Stores an inbound text once per MessageSid; None when Twilio retried it.
pub async fn insert_inbound(db: impl PgExecutor<'_>, m: &NewInbound<'_>) -> sqlx::Result<Option<MessageId>> {
    sqlx::query_scalar(
        "INSERT INTO messages (business_id, conversation_id, direction, audience, sender_type, from_phone, to_phone,
                               body, twilio_message_sid, status, num_media, sender_state)
         VALUES ($1, $2, 'inbound', 'customer', 'caller', $3, $4, $5, $6, 'received', $7, $8)
         ON CONFLICT (twilio_message_sid) DO NOTHING RETURNING id",
    )
    .bind(m.business_id)
    .bind(m.conversation_id)
    .bind(m.from)
    .bind(m.to)
    .bind(m.body)
    .bind(m.sid)
    .bind(m.num_media)
    .bind(m.sender_state)
    .fetch_optional(db)
    .await
}

/// Attaches earlier inbound texts of this caller that arrived before the conversation existed.
pub async fn adopt_inbound(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    conversation_id: ConversationId,
    caller: &PhoneNumber,
) -> sqlx::Result<Vec<MessageId>> {
    sqlx::query_scalar(
        "UPDATE messages SET conversation_id = $2
         WHERE business_id = $1 AND from_phone = $3 AND direction = 'inbound' AND conversation_id IS NULL
           AND created_at > now() - interval '1 day'
         RETURNING id",
    )
    .bind(business_id)
    .bind(conversation_id)
    .bind(caller)
    .fetch_all(db)
    .await
}

/// The customer-facing transcript of a conversation, oldest first.
pub async fn transcript(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    conversation_id: ConversationId,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    let sql = format!(
        "SELECT * FROM (SELECT {COLUMNS} FROM messages
           WHERE business_id = $1 AND conversation_id = $2 AND audience = 'customer'
           ORDER BY created_at DESC, id DESC LIMIT $3) m ORDER BY created_at, id"
    );
    sqlx::query_as(&sql).bind(business_id).bind(conversation_id).bind(limit).fetch_all(db).await
}

pub async fn get_message(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: MessageId,
) -> sqlx::Result<Option<Message>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE business_id = $1 AND id = $2");
    sqlx::query_as(&sql).bind(business_id).bind(id).fetch_optional(db).await
}

/// The conversation of the owner's most recent alert (where an owner's reply belongs).
pub async fn last_alerted_conversation(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
) -> sqlx::Result<Option<ConversationId>> {
    sqlx::query_scalar(
        "SELECT conversation_id FROM messages
         WHERE business_id = $1 AND audience = 'owner' AND conversation_id IS NOT NULL
           -- an alert held through quiet hours has not reached the owner yet
           AND NOT (status = 'queued' AND attempts = 0 AND next_attempt_at > now())
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(business_id)
    .fetch_optional(db)
    .await
}

#[cfg(test)]
#[path = "messages_claim_tests.rs"]
mod claim_tests;
