//! The batch forms of the run statements against a real database: each does
//! for several runs in one statement what its one-run form does for one.

use std::time::Duration;

use sqlx::PgPool;

use activities::domain::{MessageId, PhoneNumber, RunId};
use activities::store::messages::{claim_for_send, Claim, SentText};
use activities::test_db;

use super::runs::{lock_run_recording, RunRow};
use super::runs_many::{claim_saving_states, lock_runs_recording, save_runs, save_runs_sql, Ending, Progress};

const LEASE: Duration = Duration::from_secs(30);

/// `n` runs of one business, each with one text to its own caller claimed for sending.
async fn runs_with_claimed_texts(pool: &PgPool, n: usize) -> Vec<(RunId, MessageId)> {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let mut runs = Vec::new();
    for i in 0..n {
        let run = test_db::run_keyed(pool, b.id, &format!("k{i}")).await;
        let to = PhoneNumber::parse(&format!("+1512555012{i}")).unwrap();
        let text = test_db::customer_text(pool, &b, run, &to, "text_back").await;
        claim_for_send(pool, text, LEASE).await.unwrap();
        runs.push((run, text));
    }
    runs
}

async fn status(pool: &PgPool, id: MessageId) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, twilio_message_sid FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn sent(id: MessageId, sid: &str) -> SentText {
    SentText { id, sid: sid.into(), at: chrono::Utc::now() }
}

/// The fields a round reads, comparable.
fn seen(r: &RunRow) -> String {
    format!(
        "{:?}",
        (r.id, &r.status, &r.state.0, r.wake_token, r.wake_at, r.pending_signals, &r.business_version, r.pending_texts)
    )
}

#[sqlx::test(migrations = false)]
async fn one_statement_locks_several_runs_in_id_order_and_records_only_their_sends(pool: PgPool) {
    let runs = runs_with_claimed_texts(&pool, 3).await;
    let ((a, a_text), (b, b_text), (_, c_text)) = (runs[0], runs[1], runs[2]);
    let sends = [sent(b_text, "SMb"), sent(c_text, "SMc"), sent(a_text, "SMa")];
    let mut tx = pool.begin().await.unwrap();
    let locked = lock_runs_recording(&mut tx, &[b, RunId::new(), a], &sends).await.unwrap();
    let mut expected = vec![a, b];
    expected.sort_by_key(|r| r.0);
    assert_eq!(locked.iter().map(|r| r.id).collect::<Vec<_>>(), expected, "the runs found, in id order");
    for run in [a, b] {
        let held =
            sqlx::query("SELECT 1 FROM workflow_runs WHERE id = $1 FOR UPDATE NOWAIT").bind(run).execute(&pool).await;
        assert!(held.is_err(), "each run is locked until the round commits");
    }
    assert!(locked.iter().all(|r| !r.pending_texts), "the texts being recorded are no longer pending");
    tx.commit().await.unwrap();
    assert_eq!(status(&pool, a_text).await, ("sent".into(), Some("SMa".into())));
    assert_eq!(status(&pool, b_text).await, ("sent".into(), Some("SMb".into())));
    assert_eq!(status(&pool, c_text).await, ("sending".into(), None), "another run's text is not recorded");
}

#[sqlx::test(migrations = false)]
async fn the_batch_lock_reads_each_run_as_its_one_run_form_does(pool: PgPool) {
    let runs = runs_with_claimed_texts(&pool, 2).await;
    let ids: Vec<RunId> = runs.iter().map(|(r, _)| *r).collect();
    let mut conn = pool.acquire().await.unwrap();
    let many = lock_runs_recording(&mut conn, &ids, &[]).await.unwrap();
    for row in &many {
        let one = lock_run_recording(&mut conn, row.id, &[]).await.unwrap().expect("the run");
        assert_eq!(seen(row), seen(&one));
        assert!(row.pending_texts, "its claimed text is pending");
    }
    assert_eq!(many.len(), 2);
    assert!(lock_runs_recording(&mut conn, &[], &[]).await.unwrap().is_empty(), "no runs, no rows");
}

/// The batch record reads only the batch's runs' pending texts, even on
/// tables without statistics.
#[sqlx::test(migrations = false)]
async fn the_batch_record_is_planned_by_the_runs_before_any_statistics(pool: PgPool) {
    runs_with_claimed_texts(&pool, 1).await;
    let sql = activities::store::messages::record_sent_of_runs_sql(2, 1);
    let args = "'{}', '{}', '{}', '{}'";
    let plan = test_db::generic_plan(&pool, "uuid[], uuid[], text[], timestamptz[]", &sql, args).await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

/// `n` runs of one business, each with two texts queued to its own caller;
/// the first run handed over by NOTIFY (a lease in `wake_at`).
async fn runs_with_queued_texts(pool: &PgPool, n: usize) -> Vec<(RunId, [MessageId; 2])> {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let mut runs = Vec::new();
    for i in 0..n {
        let run = test_db::run_keyed(pool, b.id, &format!("q{i}")).await;
        let to = PhoneNumber::parse(&format!("+1512555013{i}")).unwrap();
        let first = test_db::customer_text(pool, &b, run, &to, "text_back").await;
        let second = test_db::customer_text(pool, &b, run, &to, "follow_up_1").await;
        runs.push((run, [first, second]));
    }
    sqlx::query("UPDATE workflow_runs SET kicked_at = now(), wake_at = now() WHERE id = $1")
        .bind(runs[0].0)
        .execute(pool)
        .await
        .unwrap();
    runs
}

async fn business_of(pool: &PgPool, run: RunId) -> activities::domain::BusinessId {
    sqlx::query_scalar("SELECT business_id FROM workflow_runs WHERE id = $1").bind(run).fetch_one(pool).await.unwrap()
}

type Saved = (serde_json::Value, String, Option<uuid::Uuid>, Option<f64>, bool, Option<String>);

/// The run as saved: state, status, token, seconds to its wake-up, still handed over, error.
async fn saved(pool: &PgPool, run: RunId) -> Saved {
    sqlx::query_as(
        "SELECT state, status, wake_token, extract(epoch FROM wake_at - now())::float8, kicked_at IS NOT NULL,
                last_error
         FROM workflow_runs WHERE id = $1",
    )
    .bind(run)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn history(pool: &PgPool, run: RunId) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as("SELECT kind, detail FROM workflow_events WHERE run_id = $1 ORDER BY id")
        .bind(run)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn one_statement_claims_several_runs_texts_saving_each_runs_progress(pool: PgPool) {
    let runs = runs_with_queued_texts(&pool, 3).await;
    let business = business_of(&pool, runs[0].0).await;
    let notes: Vec<Vec<(&str, serde_json::Value)>> = (0..3)
        .map(|i| vec![("opened", serde_json::json!({ "run": i })), ("texted", serde_json::json!({ "run": i }))])
        .collect();
    // The second run has no notes: a round may have none.
    let progress: Vec<Progress> = runs
        .iter()
        .enumerate()
        .map(|(i, (run, _))| Progress {
            key: (business, *run),
            state: serde_json::json!({ "step": "greeting", "run": i }),
            conversation_id: None,
            notes: if i == 1 { &[] } else { &notes[i] },
        })
        .collect();
    let before_lease = saved(&pool, runs[1].0).await.3;
    let mut tx = pool.begin().await.unwrap();
    let outboxes = claim_saving_states(&mut tx, &progress, LEASE, Duration::from_secs(60)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outboxes.len(), 3, "one outbox per run, in their order");
    for (i, ((run, texts), outbox)) in runs.iter().zip(&outboxes).enumerate() {
        let due: Vec<_> = outbox.due.iter().map(|d| (d.message.id, d.claim.clone())).collect();
        let claimed = Claim::Claimed("queued".into());
        assert_eq!(due, [(texts[0], claimed.clone()), (texts[1], claimed)], "run {i}'s own texts, in order");
        for t in texts {
            assert_eq!(status(&pool, *t).await.0, "sending");
        }
        let (state, ..) = saved(&pool, *run).await;
        assert_eq!(state, progress[i].state);
        let expected: Vec<_> = progress[i].notes.iter().map(|(k, d)| ((*k).to_owned(), d.clone())).collect();
        assert_eq!(history(&pool, *run).await, expected, "run {i}'s history, in order");
    }
    let lease_left = saved(&pool, runs[0].0).await.3.unwrap();
    assert!((50.0..=60.0).contains(&lease_left), "the handed-over run's lease renewed: {lease_left}");
    assert_eq!(saved(&pool, runs[1].0).await.3, before_lease, "a run underway ticks keeps its wake-up");
}

#[sqlx::test(migrations = false)]
async fn one_statement_saves_several_runs_wake_ups_and_ends(pool: PgPool) {
    let runs = runs_with_queued_texts(&pool, 2).await;
    let (waiting, ended) = (runs[0].0, runs[1].0);
    let business = business_of(&pool, waiting).await;
    sqlx::query("UPDATE workflow_runs SET last_error = 'earlier' WHERE id = ANY($1)")
        .bind(vec![waiting.0, ended.0])
        .execute(&pool)
        .await
        .unwrap();
    let token = uuid::Uuid::new_v4();
    let wake_at = chrono::Utc::now() + chrono::Duration::hours(2);
    let notes = [("text_back_sent", serde_json::json!({ "from": "greeting" }))];
    let end_notes = [("lost", serde_json::json!({})), ("completed", serde_json::json!({}))];
    let progress = |run, state, notes| Progress { key: (business, run), state, conversation_id: None, notes };
    let endings = [
        Ending {
            progress: progress(waiting, serde_json::json!({ "step": "waiting" }), &notes),
            status: "waiting",
            wake_token: Some(token),
            wake_at: Some(wake_at),
        },
        Ending {
            progress: progress(ended, serde_json::json!({ "step": "done" }), &end_notes),
            status: "completed",
            wake_token: None,
            wake_at: None,
        },
    ];
    let mut conn = pool.acquire().await.unwrap();
    save_runs(&mut conn, &endings).await.unwrap();
    let (state, status, saved_token, left, handed_over, error) = saved(&pool, waiting).await;
    assert_eq!(
        (state, status.as_str(), saved_token, handed_over, error),
        (endings[0].progress.state.clone(), "waiting", Some(token), false, None)
    );
    assert!(left.is_some_and(|s| (7100.0..=7200.0).contains(&s)), "wakes in two hours: {left:?}");
    let (state, status, saved_token, left, _, error) = saved(&pool, ended).await;
    assert_eq!(
        (state, status.as_str(), saved_token, left, error),
        (serde_json::json!({ "step": "done" }), "completed", None, None, None)
    );
    let kinds = |h: Vec<(String, serde_json::Value)>| h.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(kinds(history(&pool, waiting).await), ["text_back_sent"]);
    assert_eq!(kinds(history(&pool, ended).await), ["lost", "completed"]);
}

/// The batch save finds its runs by the primary key, even on tables without
/// statistics (a fresh database after a burst: thousands of runs, never analysed).
#[sqlx::test(migrations = false)]
async fn the_batch_save_is_planned_by_the_key_before_any_statistics(pool: PgPool) {
    let runs = runs_with_queued_texts(&pool, 1).await;
    sqlx::query(
        "INSERT INTO workflow_runs (business_id, kind, subject_key, state)
         SELECT business_id, kind, 'burst' || n, state FROM workflow_runs, generate_series(1, 3000) AS n WHERE id = $1",
    )
    .bind(runs[0].0)
    .execute(&pool)
    .await
    .unwrap();
    let types = "uuid[], jsonb[], text[], uuid[], timestamptz[], uuid[], uuid[], uuid[], text[], text[]";
    let args = "'{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'";
    let plan = test_db::generic_plan(&pool, types, &save_runs_sql(), args).await;
    assert!(plan.contains("workflow_runs_pkey") && !plan.contains("Seq Scan on workflow_runs"), "{plan}");
}
