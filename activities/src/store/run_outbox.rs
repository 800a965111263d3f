//! A run's undelivered texts as its tick sees them: read, or read and claimed
//! for sending in the tick's own transaction.
//!
//! Claiming in the round's transaction commits the evidence that a send may
//! happen together with the round, before any provider call, as
//! [`messages::claim_for_send`] does for one row in a commit of its own — one
//! statement for the whole outbox instead of one statement and one commit per
//! text.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgExecutor, Postgres};

use super::messages::{opted_out, Claim, Message, CLAIMABLE, COLUMNS};
use crate::domain::RunId;
use crate::sms::OPT_OUT_CONFIRMATION;

/// A run's undelivered texts, as its tick sees them.
#[derive(Debug, Default)]
pub struct RunOutbox {
    /// Due now, oldest first (a `sending` row with no retry scheduled is here
    /// too: `deliver` finds out whether its sender still holds it).
    pub due: Vec<Message>,
    /// The earliest retry among the rows: now for a due `queued` row, a
    /// scheduled time for one waiting to retry. A row `sending` with no retry
    /// scheduled is in a sender's hands (maybe a dead one's, until its lease
    /// runs out) and sets no time: the tick that met it rechecks later on its
    /// own timer instead of spinning.
    pub next_retry: Option<DateTime<Utc>>,
}

/// A due text and what the claim found: [`Claim::Claimed`] with the status
/// it had (send it; `sending` means reconcile first), [`Claim::Held`]
/// (another sender holds it) or [`Claim::OptedOut`] (nothing was claimed).
#[derive(Debug, Clone)]
pub struct DueText {
    pub message: Message,
    pub claim: Claim,
}

/// A run's outbox after [`claim_run_outbox`].
#[derive(Debug, Default)]
pub struct ClaimedOutbox {
    /// Due now, oldest first, each with its claim.
    pub due: Vec<DueText>,
    /// As [`RunOutbox::next_retry`], from the rows as they were before the claim.
    pub next_retry: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct PendingRow {
    #[sqlx(flatten)]
    message: Message,
    due: bool,
    retry_at: Option<DateTime<Utc>>,
}

/// A pending row's two answers: is it due now, and when does it want trying
/// (see [`RunOutbox::next_retry`]).
const DUE_AND_RETRY: &str = "(next_attempt_at IS NULL OR next_attempt_at <= now()) AS due,
    CASE WHEN status = 'queued' OR next_attempt_at IS NOT NULL THEN COALESCE(next_attempt_at, now()) END AS retry_at";

/// Both of a tick's questions about its run's outbox, in one statement.
pub async fn outbox_of_run(db: impl PgExecutor<'_>, run_id: RunId) -> sqlx::Result<RunOutbox> {
    let sql = format!(
        "SELECT {COLUMNS}, {DUE_AND_RETRY}
         FROM messages WHERE run_id = $1 AND status IN ('queued', 'sending') ORDER BY created_at, id"
    );
    let rows: Vec<PendingRow> = sqlx::query_as(&sql).bind(run_id).fetch_all(db).await?;
    let next_retry = rows.iter().filter_map(|r| r.retry_at).min();
    let due = rows.into_iter().filter(|r| r.due).map(|r| r.message).collect();
    Ok(RunOutbox { due, next_retry })
}

/// A row of [`claim_sql`]: a pending text as it was, and what the claim did.
#[derive(FromRow)]
pub struct ClaimRow {
    #[sqlx(flatten)]
    pending: PendingRow,
    opted: bool,
    claimed: bool,
}

/// Reads the run's outbox and claims every due row that may be sent now, in
/// one statement of the caller's transaction, under the rules of
/// [`messages::claim_for_send`] ([`CLAIMABLE`] with the sender's `lease`, and
/// never [`opted_out`]). The rows come back as they were before the claim
/// (the attempt count of the last attempt). Commit before sending: the claim
/// is the evidence that a send may happen.
pub async fn claim_run_outbox(
    db: impl PgExecutor<'_>,
    run_id: RunId,
    lease: std::time::Duration,
) -> sqlx::Result<ClaimedOutbox> {
    let sql = claim_sql("");
    let rows = bind_claim(sqlx::query_as(&sql), run_id, lease).fetch_all(db).await?;
    Ok(claimed_outbox(rows))
}

/// The statement of [`claim_run_outbox`], after `before` (more CTEs, each
/// ending with a comma, for a statement that does something else as well).
/// Binds `$1`–`$3` ([`bind_claim`]).
pub fn claim_sql(before: &str) -> String {
    claim_sql_of(before, "run_id = $1")
}

/// [`claim_sql`] for the texts of any of the runs `$1` (a uuid array); bind
/// with [`bind_claim_of_runs`] and split with [`claimed_outboxes`].
pub fn claim_of_runs_sql(before: &str) -> String {
    claim_sql_of(before, "run_id = ANY($1::uuid[])")
}

fn claim_sql_of(before: &str, of_runs: &str) -> String {
    let opted = opted_out();
    format!(
        "WITH {before}
         p AS (
             SELECT {COLUMNS}, {DUE_AND_RETRY}, {CLAIMABLE} AS claimable, {opted} AS opted
             FROM messages m WHERE {of_runs} AND status IN ('queued', 'sending')
             FOR UPDATE OF m),
         c AS (
             UPDATE messages m SET status = 'sending', attempts = m.attempts + 1, last_attempt_at = now(),
                    next_attempt_at = NULL
             FROM p WHERE m.id = p.id AND p.due AND p.claimable AND NOT p.opted
             RETURNING m.id)
         SELECT p.*, c.id IS NOT NULL AS claimed FROM p LEFT JOIN c ON c.id = p.id ORDER BY p.created_at, p.id"
    )
}

/// Binds [`claim_sql`]'s `$1`–`$3`: the run, the sender's lease, the purpose
/// of the opt-out confirmation.
pub fn bind_claim<'q>(
    q: QueryAs<'q, Postgres, ClaimRow, PgArguments>,
    run_id: RunId,
    lease: std::time::Duration,
) -> QueryAs<'q, Postgres, ClaimRow, PgArguments> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    q.bind(run_id).bind(lease_ms).bind(OPT_OUT_CONFIRMATION)
}

/// [`bind_claim`] for [`claim_of_runs_sql`]: the runs, in place of one.
pub fn bind_claim_of_runs<'q>(
    q: QueryAs<'q, Postgres, ClaimRow, PgArguments>,
    runs: &[RunId],
    lease: std::time::Duration,
) -> QueryAs<'q, Postgres, ClaimRow, PgArguments> {
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let runs: Vec<uuid::Uuid> = runs.iter().map(|r| r.0).collect();
    q.bind(runs).bind(lease_ms).bind(OPT_OUT_CONFIRMATION)
}

/// The rows of [`claim_of_runs_sql`] as each of `runs` would have had them
/// from [`claim_sql`] alone, in the order of `runs`.
pub fn claimed_outboxes(runs: &[RunId], rows: Vec<ClaimRow>) -> Vec<ClaimedOutbox> {
    let mut of_run: Vec<Vec<ClaimRow>> = runs.iter().map(|_| Vec::new()).collect();
    for row in rows {
        let at = runs.iter().position(|r| Some(*r) == row.pending.message.run_id);
        if let Some(at) = at {
            of_run[at].push(row);
        }
    }
    of_run.into_iter().map(claimed_outbox).collect()
}

/// The rows of [`claim_sql`] as the round uses them.
pub fn claimed_outbox(rows: Vec<ClaimRow>) -> ClaimedOutbox {
    let next_retry = rows.iter().filter_map(|r| r.pending.retry_at).min();
    let due = rows.into_iter().filter(|r| r.pending.due).map(due_text).collect();
    ClaimedOutbox { due, next_retry }
}

fn due_text(r: ClaimRow) -> DueText {
    let claim = if r.opted {
        Claim::OptedOut
    } else if r.claimed {
        Claim::Claimed(r.pending.message.status.clone())
    } else {
        Claim::Held
    };
    DueText { message: r.pending.message, claim }
}

#[cfg(test)]
#[path = "run_outbox_tests.rs"]
mod tests;
