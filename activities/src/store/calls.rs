//! Calls: one row per inbound call, keyed by Twilio's CallSid.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgExecutor, Postgres};

use super::webhook_events::WebhookEvent;
use crate::domain::{BusinessId, CallId, PhoneNumber};

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct Call {
    pub id: CallId,
    pub business_id: BusinessId,
    pub twilio_call_sid: String,
    pub caller_phone: PhoneNumber,
    pub status: String,
    pub dial_call_status: Option<String>,
    pub screened: bool,
    pub screen_accepted_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<i32>,
    pub is_after_hours: bool,
    pub created_at: DateTime<Utc>,
    /// The caller's state as Twilio reported it (FromState), e.g. "AZ".
    pub caller_state: Option<String>,
}

/// A call as the incoming-call webhook records it.
#[derive(Debug, Clone)]
pub struct NewCall<'a> {
    pub business_id: BusinessId,
    pub call_sid: &'a str,
    pub caller: &'a PhoneNumber,
    pub is_after_hours: bool,
    pub screened: bool,
    pub caller_state: Option<&'a str>,
}

/// How the dial ended, as decided from the action callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Answered,
    Missed,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Missed => "missed",
        }
    }
}

const COLUMNS: &str = "id, business_id, twilio_call_sid, caller_phone, status, dial_call_status, \
    screened, screen_accepted_at, duration_seconds, is_after_hours, created_at, caller_state";

/// The call inserted, or the row already there when Twilio retried the
/// webhook, as CTE `found` with `created` (true when this request inserted
/// it); binds [`NewCall`] as `$1`–`$6` ([`bind_new_call`]).
fn upsert_found() -> String {
    format!(
        "WITH ins AS (
            INSERT INTO calls (business_id, twilio_call_sid, caller_phone, is_after_hours, screened, caller_state)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (twilio_call_sid) DO NOTHING
            RETURNING {COLUMNS}, true AS created),
         found AS (
            SELECT * FROM ins
            UNION ALL
            SELECT {COLUMNS}, false AS created FROM calls WHERE twilio_call_sid = $2
            LIMIT 1)"
    )
}

fn bind_new_call<'q>(sql: &'q str, c: &NewCall<'q>) -> QueryAs<'q, Postgres, CallWithFlag, PgArguments> {
    sqlx::query_as(sql)
        .bind(c.business_id)
        .bind(c.call_sid)
        .bind(c.caller)
        .bind(c.is_after_hours)
        .bind(c.screened)
        .bind(c.caller_state)
}

/// Inserts the call, or returns the existing row when Twilio retries the webhook.
/// The bool is true when this request created it.
pub async fn upsert_ringing(db: impl PgExecutor<'_>, c: &NewCall<'_>) -> sqlx::Result<(Call, bool)> {
    let sql = format!("{} SELECT * FROM found", upsert_found());
    let row = bind_new_call(&sql, c).fetch_one(db).await?;
    Ok((row.call, row.created))
}

/// [`upsert_ringing`] and the webhook's audit row in one statement, so the
/// incoming-call webhook needs no transaction of its own. The audit row says
/// `audit.outcome` when this request created the call, `duplicate` when
/// Twilio retried it.
pub async fn upsert_ringing_audited(
    db: impl PgExecutor<'_>,
    c: &NewCall<'_>,
    audit: &WebhookEvent<'_>,
) -> sqlx::Result<(Call, bool)> {
    let sql = format!(
        "{},
         audit AS (
            INSERT INTO webhook_events (business_id, endpoint, provider_sid, idempotency_token, outcome, params)
            SELECT $1, $7, $8, $9, CASE WHEN f.created THEN $10 ELSE 'duplicate' END, $11 FROM found f)
         SELECT * FROM found",
        upsert_found()
    );
    let row = bind_new_call(&sql, c)
        .bind(audit.endpoint)
        .bind(audit.provider_sid)
        .bind(audit.idempotency_token)
        .bind(audit.outcome)
        .bind(&audit.params)
        .fetch_one(db)
        .await?;
    Ok((row.call, row.created))
}

#[derive(FromRow)]
struct CallWithFlag {
    #[sqlx(flatten)]
    call: Call,
    created: bool,
}

/// A call as a callback finds it, with the version of its business's row
/// ([`super::business_cache`]), so the business need not be read again.
#[derive(Debug, Clone, FromRow)]
pub struct FoundCall {
    #[sqlx(flatten)]
    pub call: Call,
    pub business_version: String,
}

/// The call of a Twilio callback, by the id our own TwiML put in its URL
/// (the request's signature proves Twilio sent it; the business is the call's).
pub async fn find_by_id(db: impl PgExecutor<'_>, id: CallId) -> sqlx::Result<Option<FoundCall>> {
    sqlx::query_as(&found_sql("id")).bind(id).fetch_optional(db).await
}

pub async fn find_by_sid(db: impl PgExecutor<'_>, call_sid: &str) -> sqlx::Result<Option<FoundCall>> {
    sqlx::query_as(&found_sql("twilio_call_sid")).bind(call_sid).fetch_optional(db).await
}

fn found_sql(key: &str) -> String {
    let version = super::business_cache::version_sql("b");
    format!(
        "SELECT {COLUMNS}, (SELECT {version} FROM businesses b WHERE b.id = calls.business_id) AS business_version
         FROM calls WHERE {key} = $1"
    )
}

/// The business's call `$2` (business `$1`) while it still rings. The
/// business is compared with `IS NOT DISTINCT FROM`, which no index serves,
/// so the call is found by its key: with `=`, a plan made before `calls` had
/// statistics took the (business, status) index and read every ringing call
/// of the business (125 of them in the bench's one-business flood).
const RINGING_CALL: &str = "id = $2 AND business_id IS NOT DISTINCT FROM $1 AND status = 'ringing'";

/// The owner pressed 1 on the whisper for this call.
pub async fn record_screen_accept(
    db: impl PgExecutor<'_>,
    business_id: BusinessId,
    id: CallId,
    dial_call_sid: Option<&str>,
) -> sqlx::Result<bool> {
    let sql = format!(
        "UPDATE calls SET screen_accepted_at = COALESCE(screen_accepted_at, now()),
                dial_call_sid = COALESCE($3, dial_call_sid)
         WHERE {RINGING_CALL}"
    );
    let r = sqlx::query(&sql).bind(business_id).bind(id).bind(dial_call_sid).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// A call [`finish_call`] just ended, and whether its caller has opted out
/// (of this business or of all), read by the same statement.
#[derive(Debug, Clone, FromRow)]
pub struct Finished {
    #[sqlx(flatten)]
    pub call: Call,
    pub caller_opted_out: bool,
}

/// How the dial ended, as the action callback reported it.
#[derive(Debug, Clone, Copy)]
pub struct CallEnd<'a> {
    pub outcome: CallOutcome,
    pub dial_call_status: &'a str,
    pub duration_seconds: Option<i32>,
}

/// The CTEs that finish a ringing call, for a statement that goes on from
/// them: `upd` (the call moved to its final status, with its caller's
/// opt-out, no row when it had already finished) and `audit` (the
/// callback's row: `audit.outcome` when it finished the call, `duplicate`
/// when it had already finished). Binds `$1`–`$10` ([`bind_finish`]).
pub fn finish_ctes() -> String {
    format!(
        "upd AS (
            UPDATE calls SET status = $3, dial_call_status = $4, duration_seconds = $5, ended_at = now()
            WHERE {RINGING_CALL}
            RETURNING {COLUMNS}, {} AS caller_opted_out),
         audit AS (
            INSERT INTO webhook_events (business_id, endpoint, provider_sid, idempotency_token, outcome, params)
            VALUES ($1, $6, $7, $8, CASE WHEN EXISTS (SELECT 1 FROM upd) THEN $9 ELSE 'duplicate' END, $10))",
        super::opt_outs::opted_out_sql("calls.caller_phone", "calls.business_id")
    )
}

/// Binds [`finish_ctes`]'s `$1`–`$10`: the call `id` of `business_id`, how it ended, the callback's audit row.
pub fn bind_finish<'q, O>(
    q: QueryAs<'q, Postgres, O, PgArguments>,
    (business_id, id): (BusinessId, CallId),
    end: &CallEnd<'q>,
    audit: &'q WebhookEvent<'q>,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    q.bind(business_id)
        .bind(id)
        .bind(end.outcome.as_str())
        .bind(end.dial_call_status)
        .bind(end.duration_seconds)
        .bind(audit.endpoint)
        .bind(audit.provider_sid)
        .bind(audit.idempotency_token)
        .bind(audit.outcome)
        .bind(&audit.params)
}

/// Moves a ringing call to its final status and writes the callback's audit
/// row, in one statement ([`finish_ctes`]). Returns None if it was already
/// finished (a retried callback), so the caller must not start anything twice.
pub async fn finish_call(
    db: impl PgExecutor<'_>,
    key: (BusinessId, CallId),
    end: &CallEnd<'_>,
    audit: &WebhookEvent<'_>,
) -> sqlx::Result<Option<Finished>> {
    let sql = format!("WITH {} SELECT * FROM upd", finish_ctes());
    bind_finish(sqlx::query_as(&sql), key, end, audit).fetch_optional(db).await
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
