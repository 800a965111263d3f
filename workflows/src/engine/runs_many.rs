//! The statements of a batch's round (`conversation::batch`): each does for
//! several runs in one statement what its one-run form in `runs` does for
//! one. Updates find their rows by `id = ANY(array)` and take each row's
//! values by its place in the arrays, so they are planned by the primary key
//! even on tables without statistics.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use activities::domain::{BusinessId, ConversationId, RunId};
use activities::store::messages::{self, SentText};
use activities::store::run_outbox::{self, ClaimedOutbox};

use super::runs::{run_row_sql, Notes, RunRow};

/// [`lock_run_recording`] for several runs in one statement: the runs `ids`
/// locked in id order (so two batches cannot deadlock on them) and the
/// texts their previous rounds sent, of those runs only, recorded. Returns
/// the runs found, in id order.
pub async fn lock_runs_recording(
    conn: &mut PgConnection,
    ids: &[RunId],
    sent: &[SentText],
) -> sqlx::Result<Vec<RunRow>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let lock =
        format!("{} WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE OF r", run_row_sql(!sent.is_empty()));
    if sent.is_empty() {
        return sqlx::query_as(&lock).bind(ids).fetch_all(conn).await;
    }
    let sql = format!("WITH recorded AS ({}) {lock}", messages::record_sent_of_runs_sql(2, 1));
    let (sent_ids, sids, ats) = messages::sent_arrays(sent);
    sqlx::query_as(&sql).bind(ids).bind(sent_ids).bind(sids).bind(ats).fetch_all(conn).await
}

/// A run's progress as a batch saves it: what [`super::runs::save_state`] takes.
pub struct Progress<'a> {
    pub key: (BusinessId, RunId),
    pub state: serde_json::Value,
    pub conversation_id: Option<ConversationId>,
    pub notes: &'a Notes<'a>,
}

/// A run's wake-up or end as a batch saves it: what [`super::runs::save_run`] takes.
pub struct Ending<'a> {
    pub progress: Progress<'a>,
    pub status: &'a str,
    pub wake_token: Option<Uuid>,
    pub wake_at: Option<DateTime<Utc>>,
}

/// The history insert of a batch: `$first` to the three after it are the
/// notes' businesses, runs, kinds and details (JSON text), in order.
fn notes_cte(first: usize) -> String {
    let (runs, kinds, details) = (first + 1, first + 2, first + 3);
    format!(
        "notes AS (
         INSERT INTO workflow_events (business_id, run_id, kind, detail)
         SELECT b, r, k, d::jsonb
         FROM unnest(${first}::uuid[], ${runs}::uuid[], ${kinds}::text[], ${details}::text[]) WITH ORDINALITY AS t(b, r, k, d, n)
         ORDER BY n)"
    )
}

type NoteArrays = (Vec<Uuid>, Vec<Uuid>, Vec<String>, Vec<String>);

fn note_arrays<'a>(runs: impl Iterator<Item = &'a Progress<'a>>) -> NoteArrays {
    let mut a: NoteArrays = Default::default();
    for p in runs {
        for (kind, detail) in p.notes {
            a.0.push(p.key.0 .0);
            a.1.push(p.key.1 .0);
            a.2.push((*kind).to_owned());
            a.3.push(detail.to_string());
        }
    }
    a
}

/// `$n` as the value of the row's place in the array `$ids`.
fn at(param: usize, ty: &str, ids: usize) -> String {
    format!("(${param}::{ty}[])[array_position(${ids}::uuid[], w.id)]")
}

/// [`super::runs::claim_saving_state`] for several runs in one statement:
/// each run's progress saved (its lease renewed if handed over by NOTIFY)
/// and history written, and every due text of those runs claimed. Returns
/// each run's claimed outbox, in the order of `runs`.
pub async fn claim_saving_states(
    conn: &mut PgConnection,
    runs: &[Progress<'_>],
    send_lease: std::time::Duration,
    lease: std::time::Duration,
) -> sqlx::Result<Vec<ClaimedOutbox>> {
    let saved = format!(
        "{}, saved AS (
         UPDATE workflow_runs w SET state = {}, conversation_id = COALESCE({}, w.conversation_id),
                wake_at = CASE WHEN w.kicked_at IS NULL THEN w.wake_at
                               ELSE clock_timestamp() + make_interval(secs => $10) END
         WHERE w.id = ANY($1::uuid[])),",
        notes_cte(4),
        at(8, "jsonb", 1),
        at(9, "uuid", 1)
    );
    let sql = run_outbox::claim_of_runs_sql(&saved);
    let ids: Vec<RunId> = runs.iter().map(|p| p.key.1).collect();
    let (businesses, note_runs, kinds, details) = note_arrays(runs.iter());
    let rows = run_outbox::bind_claim_of_runs(sqlx::query_as(&sql), &ids, send_lease)
        .bind(businesses)
        .bind(note_runs)
        .bind(kinds)
        .bind(details)
        .bind(runs.iter().map(|p| Json(&p.state)).collect::<Vec<_>>())
        .bind(runs.iter().map(|p| p.conversation_id.map(|c| c.0)).collect::<Vec<_>>())
        .bind(lease.as_secs_f64())
        .fetch_all(conn)
        .await?;
    Ok(run_outbox::claimed_outboxes(&ids, rows))
}

/// [`super::runs::save_run`] for several runs in one statement.
pub async fn save_runs(conn: &mut PgConnection, runs: &[Ending<'_>]) -> sqlx::Result<()> {
    let sql = save_runs_sql();
    let (businesses, note_runs, kinds, details) = note_arrays(runs.iter().map(|e| &e.progress));
    sqlx::query(&sql)
        .bind(runs.iter().map(|e| e.progress.key.1 .0).collect::<Vec<_>>())
        .bind(runs.iter().map(|e| Json(&e.progress.state)).collect::<Vec<_>>())
        .bind(runs.iter().map(|e| e.status).collect::<Vec<_>>())
        .bind(runs.iter().map(|e| e.wake_token).collect::<Vec<_>>())
        .bind(runs.iter().map(|e| e.wake_at).collect::<Vec<_>>())
        .bind(runs.iter().map(|e| e.progress.conversation_id.map(|c| c.0)).collect::<Vec<_>>())
        .bind(businesses)
        .bind(note_runs)
        .bind(kinds)
        .bind(details)
        .execute(conn)
        .await?;
    Ok(())
}

/// [`save_runs`]'s statement: `$1` the runs, `$2`–`$6` their states,
/// statuses, tokens, wake-ups and conversations, `$7`–`$10` the notes.
pub(crate) fn save_runs_sql() -> String {
    format!(
        "WITH {}
         UPDATE workflow_runs w SET state = {}, status = {}, wake_token = {}, wake_at = {},
                conversation_id = COALESCE({}, w.conversation_id), last_error = NULL, kicked_at = NULL
         WHERE w.id = ANY($1::uuid[])",
        notes_cte(7),
        at(2, "jsonb", 1),
        at(3, "text", 1),
        at(4, "uuid", 1),
        at(5, "timestamptz", 1),
        at(6, "uuid", 1)
    )
}
