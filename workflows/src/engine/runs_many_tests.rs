//! The batch forms of the run statements against a real database: each does
//! for several runs in one statement what its one-run form does for one.

use std::time::Duration;

use sqlx::PgPool;

use activities::domain::{MessageId, PhoneNumber, RunId};
use activities::store::messages::{claim_for_send, SentText};
use activities::test_db;

use super::runs::{lock_run_recording, lock_runs_recording, RunRow};

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
