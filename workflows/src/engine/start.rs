//! Starting a run: its row, its `started` event and, handed over by NOTIFY,
//! its kick, in one statement; alone, or in the statement that finishes the
//! missed call it is for.

use serde::Serialize;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{types::Json, FromRow, PgConnection, Postgres};
use uuid::Uuid;

use activities::domain::{BusinessId, CallId, RunId};
use activities::store::calls::{self, CallEnd, Finished};
use activities::store::webhook_events::WebhookEvent;

use super::runs::KICK_CHANNEL;

/// A run to start: its kind and subject (a second start of the same pair
/// starts nothing), first state, token, the lease it is handed over with
/// (`kick`; None: due now, its tick enqueued by the caller), and the detail
/// of its `started` event.
pub(crate) struct RunStart<'a, S> {
    pub kind: &'a str,
    pub subject_key: &'a str,
    pub state: &'a S,
    pub token: Uuid,
    pub kick: Option<std::time::Duration>,
    pub started: serde_json::Value,
}

/// The CTEs `r` (the run, unless one with its kind and subject exists) and
/// `e` (its `started` event): the business is the SQL `business` of the
/// rows `from` gives (one run each; `""`: one run). Binds `$p`–`$p+5`
/// ([`bind_start`]).
fn start_ctes(business: &str, from: &str, p: usize) -> String {
    let (kind, key, state, token, kick, started) = (p, p + 1, p + 2, p + 3, p + 4, p + 5);
    format!(
        "r AS (
             INSERT INTO workflow_runs (business_id, kind, subject_key, state, wake_token, wake_at, kicked_at)
             SELECT {business}, ${kind}, ${key}, ${state}, ${token}, now() + make_interval(secs => COALESCE(${kick}, 0)),
                    CASE WHEN ${kick} IS NULL THEN NULL ELSE now() END {from}
             ON CONFLICT (kind, subject_key) DO NOTHING
             RETURNING id, business_id, kind, wake_token, wake_at, kicked_at),
         e AS (INSERT INTO workflow_events (business_id, run_id, kind, detail)
               SELECT business_id, id, 'started', ${started} FROM r)"
    )
}

/// Joined to `r`: the NOTIFY that hands a kicked run to the workers
/// (PostgreSQL delivers it when the transaction commits). Binds `$channel`.
fn kick_join(channel: usize) -> String {
    format!(
        "LEFT JOIN LATERAL (
             SELECT pg_notify(${channel}, json_build_object('run_id', r.id, 'token', r.wake_token,
                                                            'claim', r.wake_at, 'kind', r.kind)::text)
             WHERE r.kicked_at IS NOT NULL) n ON true"
    )
}

/// Binds [`start_ctes`]'s six parameters, then the channel of [`kick_join`].
fn bind_start<'q, O, S: Serialize>(
    q: QueryAs<'q, Postgres, O, PgArguments>,
    start: &'q RunStart<'q, S>,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    q.bind(start.kind)
        .bind(start.subject_key)
        .bind(Json(start.state))
        .bind(start.token)
        .bind(start.kick.map(|d| d.as_secs_f64()))
        .bind(&start.started)
        .bind(KICK_CHANNEL)
}

/// Starts a run in one statement, unless one with this `(kind, subject_key)`
/// exists: the row, its `started` event, and with `kick` the hand-over to a
/// worker (`kicked_at`, the lease, and the NOTIFY of
/// [`super::runs::kick`]). Without `kick` the run is due now and the caller
/// enqueues its tick. Returns the new run's id and token, or None for a
/// duplicate start.
pub async fn start_run(
    conn: &mut PgConnection,
    business_id: BusinessId,
    kind: &str,
    subject_key: &str,
    state: &impl Serialize,
    started: serde_json::Value,
    kick: Option<std::time::Duration>,
) -> sqlx::Result<Option<(RunId, Uuid)>> {
    let start = RunStart { kind, subject_key, state, token: Uuid::new_v4(), kick, started };
    let sql = format!("WITH {} SELECT r.id FROM r {}", start_ctes("$1", "", 2), kick_join(8));
    let id: Option<(RunId,)> = bind_start(sqlx::query_as(&sql).bind(business_id), &start).fetch_optional(conn).await?;
    Ok(id.map(|(id,)| (id, start.token)))
}

/// A call [`finish_call_starting_run`] finished, and the run it started.
#[derive(Debug, FromRow)]
pub(crate) struct FinishedStarting {
    #[sqlx(flatten)]
    pub finished: Finished,
    pub run_id: Option<RunId>,
}

/// Finishes a ringing call with its callback's audit row
/// ([`calls::finish_ctes`]) and starts `start` for it, in one statement:
/// no transaction around them, and neither is written without the other.
/// None when the call had already finished (a retried callback: nothing is
/// started); the run's id is None when a run of that subject existed.
pub(crate) async fn finish_call_starting_run<S: Serialize>(
    conn: &mut PgConnection,
    key: (BusinessId, CallId),
    end: &CallEnd<'_>,
    audit: &WebhookEvent<'_>,
    start: &RunStart<'_, S>,
) -> sqlx::Result<Option<FinishedStarting>> {
    let sql = format!(
        "WITH {}, {} SELECT upd.*, r.id AS run_id FROM upd LEFT JOIN r ON true {}",
        calls::finish_ctes(),
        start_ctes("upd.business_id", "FROM upd", 11),
        kick_join(17)
    );
    bind_start(calls::bind_finish(sqlx::query_as(&sql), key, end, audit), start).fetch_optional(conn).await
}
