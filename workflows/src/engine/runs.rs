//! Rows of `workflow_runs`, `workflow_events` and `workflow_signals`.

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{types::Json, FromRow, PgConnection, PgExecutor, Postgres};
use uuid::Uuid;

use activities::domain::{BusinessId, ConversationId, RunId};
use activities::store::business_cache::version_sql;
use activities::store::messages::{self, SentText};
use activities::store::opt_outs::reachability_sql;
use activities::store::run_outbox::{self, ClaimedOutbox};

/// A workflow run, with its state still as JSON.
#[derive(Debug, Clone, FromRow)]
pub struct RunRow {
    pub id: RunId,
    pub business_id: BusinessId,
    pub kind: String,
    pub status: String,
    pub state: Json<serde_json::Value>,
    pub wake_token: Option<Uuid>,
    /// The timer, or for a run handed to a worker by NOTIFY, that worker's lease.
    pub wake_at: Option<DateTime<Utc>>,
    pub conversation_id: Option<ConversationId>,
    /// Signals not yet taken, as the lock saw them. Every signal moves the
    /// run's token in its own transaction, so a tick holding the current
    /// token started after the last signal committed and cannot miss it.
    pub pending_signals: bool,
    /// The version of the run's business row as the lock saw it
    /// ([`activities::store::business_cache`]): a worker reads the business
    /// only when it is not the version it keeps.
    pub business_version: String,
    /// Whether the run has texts not yet final (`queued` or `sending`) apart
    /// from those the lock recorded as sent. Only the run's own rounds add
    /// texts to it, under this lock, so a round that queues none and finds
    /// none need not claim its outbox.
    pub pending_texts: bool,
    /// Whether the caller the state names (its `caller`) has opted out of
    /// the business or of all, as the lock saw it; false when it names none.
    /// The claim before each send asks again.
    pub caller_opted_out: bool,
    /// Whether the business knows the state's `caller` cannot take texts.
    pub caller_unreachable: bool,
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

pub use super::start::start_run;

/// The run's kind, which picks the driver a tick runs (None: no such run).
pub async fn kind_of(db: impl PgExecutor<'_>, id: RunId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT kind FROM workflow_runs WHERE id = $1").bind(id).fetch_optional(db).await
}

/// Locks the run for the rest of the transaction: one tick at a time per run.
/// (`NO KEY UPDATE`: rows that reference the run, inserted meanwhile by
/// others, need not wait for the tick.)
pub async fn lock_run(conn: &mut PgConnection, id: RunId) -> sqlx::Result<Option<RunRow>> {
    lock_run_recording(conn, id, &[]).await
}

/// The run under its row lock ([`lock_run`]), and in the same statement the
/// texts a previous round sent recorded ([`messages::record_sent_sql`], the
/// run's own; none: the plain lock). The update runs after the lock is
/// taken, the order every tick keeps (run, then its texts): PostgreSQL runs a
/// data-modifying `WITH` that the query does not read to completion once the
/// query is done.
pub async fn lock_run_recording(conn: &mut PgConnection, id: RunId, sent: &[SentText]) -> sqlx::Result<Option<RunRow>> {
    let lock = format!("{} WHERE id = $1 FOR NO KEY UPDATE OF r", run_row_sql(!sent.is_empty()));
    if sent.is_empty() {
        return sqlx::query_as(&lock).bind(id).fetch_optional(conn).await;
    }
    let sql = format!("WITH recorded AS ({}) {lock}", messages::record_sent_sql(2, Some(1)));
    let (ids, sids, ats) = messages::sent_arrays(sent);
    sqlx::query_as(&sql).bind(id).bind(ids).bind(sids).bind(ats).fetch_optional(conn).await
}

/// A [`RunRow`]'s select, before its `WHERE`; with `recording`, the texts
/// being recorded (`$2`: their ids) are no longer pending.
pub(super) fn run_row_sql(recording: bool) -> String {
    let not_recorded = if recording { "AND m.id <> ALL($2::uuid[])" } else { "" };
    format!(
        "SELECT id, business_id, kind, status, state, wake_token, wake_at, conversation_id,
                EXISTS (SELECT 1 FROM workflow_signals s WHERE s.run_id = r.id AND s.consumed_at IS NULL)
                    AS pending_signals,
                (SELECT {} FROM businesses b WHERE b.id = r.business_id) AS business_version,
                EXISTS (SELECT 1 FROM messages m
                        WHERE m.run_id = r.id AND m.status IN ('queued', 'sending') {not_recorded}) AS pending_texts,
                {}
         FROM workflow_runs r",
        version_sql("b"),
        reachability_sql("(r.state->>'caller')", "r.business_id", "caller")
    )
}

/// What a round adds to its run's history, oldest first: (kind, detail).
/// Written by the statement that saves the run, not one of its own.
pub type Notes<'a> = [(&'a str, serde_json::Value)];

/// The history insert every save starts with: `$1` is the run, `$business`
/// its business, `$kinds` and the one after it the notes' kinds and details.
fn notes_cte(business: usize, kinds: usize) -> String {
    let details = kinds + 1;
    format!(
        "notes AS (
         INSERT INTO workflow_events (business_id, run_id, kind, detail)
         SELECT ${business}, $1, k, d::jsonb FROM unnest(${kinds}::text[], ${details}::text[]) WITH ORDINALITY AS t(k, d, n) ORDER BY n)"
    )
}

/// The notes as [`notes_cte`] binds them: kinds, and details as JSON text.
fn note_arrays(notes: &Notes<'_>) -> (Vec<String>, Vec<String>) {
    notes.iter().map(|(k, d)| ((*k).to_owned(), d.to_string())).unzip()
}

/// `sql` (which starts with [`notes_cte`]`(2, 3)`) with the run, its
/// business and the notes bound as `$1`–`$4`.
fn with_notes<'q>(
    sql: &'q str,
    (business_id, id): (BusinessId, RunId),
    notes: &Notes<'_>,
) -> Query<'q, Postgres, PgArguments> {
    let (kinds, details) = note_arrays(notes);
    sqlx::query(sql).bind(id).bind(business_id).bind(kinds).bind(details)
}

/// What a tick leaves behind: the state, either a wake-up or an end, and the
/// round's history.
pub struct Save<'a, S> {
    pub state: &'a S,
    pub status: &'a str,
    pub wake_token: Option<Uuid>,
    pub wake_at: Option<DateTime<Utc>>,
    pub conversation_id: Option<ConversationId>,
    pub notes: &'a Notes<'a>,
}

pub async fn save_run<S: Serialize>(
    conn: &mut PgConnection,
    key: (BusinessId, RunId),
    s: &Save<'_, S>,
) -> sqlx::Result<()> {
    let sql = format!(
        "WITH {}
         UPDATE workflow_runs SET state = $5, status = $6, wake_token = $7, wake_at = $8,
                conversation_id = COALESCE($9, conversation_id), last_error = NULL, kicked_at = NULL
         WHERE id = $1",
        notes_cte(2, 3)
    );
    with_notes(&sql, key, s.notes)
        .bind(Json(s.state))
        .bind(s.status)
        .bind(s.wake_token)
        .bind(s.wake_at)
        .bind(s.conversation_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Saves mid-tick progress without touching the token, with the round's
/// history. A run handed to a worker by NOTIFY has its lease renewed for
/// `lease` from this statement (not from the start of a transaction that may
/// have waited long for locks or CPU: the sweep leaves the run alone that
/// long after the commit); a run ticked by underway keeps its wake-up as it is.
pub async fn save_state<S: Serialize>(
    conn: &mut PgConnection,
    key: (BusinessId, RunId),
    state: &S,
    conversation_id: Option<ConversationId>,
    lease: std::time::Duration,
    notes: &Notes<'_>,
) -> sqlx::Result<()> {
    let sql = format!("WITH {} {}", notes_cte(2, 3), progress_update(5));
    with_notes(&sql, key, notes)
        .bind(Json(state))
        .bind(conversation_id)
        .bind(lease.as_secs_f64())
        .execute(conn)
        .await?;
    Ok(())
}

/// [`save_state`]'s update of the run `$1`: the state `$state`, the
/// conversation the one after it, the lease (seconds) the one after that.
fn progress_update(state: usize) -> String {
    let (conversation, lease) = (state + 1, state + 2);
    format!(
        "UPDATE workflow_runs SET state = ${state}, conversation_id = COALESCE(${conversation}, conversation_id),
                wake_at = CASE WHEN kicked_at IS NULL THEN wake_at
                               ELSE clock_timestamp() + make_interval(secs => ${lease}) END
         WHERE id = $1"
    )
}

/// [`save_state`] and [`run_outbox::claim_run_outbox`] in one statement: for
/// a round that queued texts, so will most likely send (one that finds
/// nothing due after all schedules its run with a save of its own, which
/// overrides this one). `send_lease` is the claim's, `lease` the run's.
#[allow(clippy::too_many_arguments)]
pub async fn claim_saving_state<S: Serialize>(
    conn: &mut PgConnection,
    (business_id, id): (BusinessId, RunId),
    send_lease: std::time::Duration,
    state: &S,
    conversation_id: Option<ConversationId>,
    lease: std::time::Duration,
    notes: &Notes<'_>,
) -> sqlx::Result<ClaimedOutbox> {
    let saved = format!("{}, saved AS ({}),", notes_cte(4, 5), progress_update(7));
    let sql = run_outbox::claim_sql(&saved);
    let (kinds, details) = note_arrays(notes);
    let rows = run_outbox::bind_claim(sqlx::query_as(&sql), id, send_lease)
        .bind(business_id)
        .bind(kinds)
        .bind(details)
        .bind(Json(state))
        .bind(conversation_id)
        .bind(lease.as_secs_f64())
        .fetch_all(conn)
        .await?;
    Ok(run_outbox::claimed_outbox(rows))
}

/// Pushes back the lease of a run handed over by NOTIFY while its worker
/// waits on a provider (nothing for a run underway ticks, or one moved on).
pub async fn renew_lease(
    db: impl PgExecutor<'_>,
    id: RunId,
    token: Uuid,
    lease: std::time::Duration,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE workflow_runs SET wake_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND wake_token = $2 AND kicked_at IS NOT NULL",
    )
    .bind(id)
    .bind(token)
    .bind(lease.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

/// The channel a run handed straight to a worker is announced on.
pub const KICK_CHANNEL: &str = "callrecover_kick";

/// Hands a live run to whichever worker hears it first, in the caller's
/// transaction: a new token, `kicked_at`, a lease of `lease` in `wake_at`, and
/// a NOTIFY (sent by PostgreSQL only if the transaction commits) carrying the
/// run, its kind, its token and the lease as the claim. False if the run has ended.
pub async fn kick(conn: &mut PgConnection, id: RunId, token: Uuid, lease: std::time::Duration) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "WITH r AS (
             UPDATE workflow_runs SET status = 'active', wake_token = $2, kicked_at = now(),
                    wake_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND status IN ('active', 'waiting', 'human', 'failed')
             RETURNING id, kind, wake_token, wake_at)
         SELECT count(*) FROM r, pg_notify($4,
             json_build_object('run_id', r.id, 'token', r.wake_token, 'claim', r.wake_at, 'kind', r.kind)::text)",
    )
    .bind(id)
    .bind(token)
    .bind(lease.as_secs_f64())
    .bind(KICK_CHANNEL)
    .fetch_one(conn)
    .await?;
    Ok(n == 1)
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
