//! `lock_run_recording` against a real database: the statement that locks a
//! run records the texts its previous round sent, only the run's own, and
//! leaves a final outcome alone.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use activities::domain::{MessageId, PhoneNumber, RunId};
use activities::store::messages::{claim_for_send, mark_failed, Claim, SentText};
use activities::test_db;

use activities::store::opt_outs::{add_opt_out, mark_unreachable};

use super::runs::{claim_saving_state, lock_run_recording, RunRow};

const LEASE: Duration = Duration::from_secs(30);

/// A run with two texts to the caller, both claimed for sending.
async fn run_with_claimed_texts(pool: &PgPool) -> (RunId, MessageId, MessageId) {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let run = test_db::run(pool, b.id).await;
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let first = test_db::customer_text(pool, &b, run, &to, "text_back").await;
    let second = test_db::customer_text(pool, &b, run, &to, "follow_up_1").await;
    for id in [first, second] {
        claim_for_send(pool, id, LEASE).await.unwrap();
    }
    (run, first, second)
}

async fn status_and_sid(pool: &PgPool, id: MessageId) -> (String, Option<String>, Option<DateTime<Utc>>) {
    sqlx::query_as("SELECT status, twilio_message_sid, sent_at FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000 + secs, 0).unwrap()
}

#[sqlx::test(migrations = false)]
async fn the_lock_records_the_previous_rounds_sends_and_holds_the_run(pool: PgPool) {
    let (run, first, second) = run_with_claimed_texts(&pool).await;
    mark_failed(&pool, second, "failed", Some(30007), "carrier filtered").await.unwrap();
    let sent =
        [SentText { id: second, sid: "SM2".into(), at: at(2) }, SentText { id: first, sid: "SM1".into(), at: at(1) }];
    let mut tx = pool.begin().await.unwrap();
    let locked = lock_run_recording(&mut tx, run, &sent).await.unwrap().expect("the run");
    assert_eq!(locked.id, run);
    let held =
        sqlx::query("SELECT 1 FROM workflow_runs WHERE id = $1 FOR UPDATE NOWAIT").bind(run).execute(&pool).await;
    assert!(held.is_err(), "the run is locked until the round commits");
    tx.commit().await.unwrap();
    assert_eq!(status_and_sid(&pool, first).await, ("sent".into(), Some("SM1".into()), Some(at(1))));
    assert_eq!(status_and_sid(&pool, second).await, ("failed".into(), None, None), "a final outcome stands");
}

#[sqlx::test(migrations = false)]
async fn a_lock_records_only_its_own_runs_texts(pool: PgPool) {
    let (run, first, _) = run_with_claimed_texts(&pool).await;
    let other: RunId = sqlx::query_scalar(
        "INSERT INTO workflow_runs (business_id, kind, subject_key, state)
         SELECT business_id, kind, 'another', '{}' FROM workflow_runs WHERE id = $1 RETURNING id",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    let sent = [SentText { id: first, sid: "SM1".into(), at: at(1) }];
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(lock_run_recording(&mut conn, other, &sent).await.unwrap().expect("the other run").id, other);
    assert_eq!(status_and_sid(&pool, first).await, ("sending".into(), None, None));
    assert!(lock_run_recording(&mut conn, RunId::new(), &[]).await.unwrap().is_none(), "no such run");
}

/// The lock's record reads only the run's pending texts, even on tables
/// without statistics: not every pending text of every run.
#[sqlx::test(migrations = false)]
async fn the_record_is_planned_by_the_run_before_any_statistics(pool: PgPool) {
    run_with_claimed_texts(&pool).await;
    let sql = activities::store::messages::record_sent_sql(2, Some(1));
    let args = "gen_random_uuid(), '{}', '{}', '{}'";
    let plan = test_db::generic_plan(&pool, "uuid, uuid[], text[], timestamptz[]", &sql, args).await;
    assert!(plan.contains("Index Cond: (run_id = $1)"), "{plan}");
}

/// A text is pending until final; the ones the lock records as sent are not.
#[sqlx::test(migrations = false)]
async fn the_lock_says_whether_texts_are_pending_besides_those_it_records(pool: PgPool) {
    let (run, first, second) = run_with_claimed_texts(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    assert!(lock_run_recording(&mut conn, run, &[]).await.unwrap().unwrap().pending_texts);
    let sent = [SentText { id: first, sid: "SM1".into(), at: at(1) }];
    assert!(lock_run_recording(&mut conn, run, &sent).await.unwrap().unwrap().pending_texts, "the second");
    mark_failed(&pool, second, "failed", Some(30007), "carrier filtered").await.unwrap();
    let sent = [SentText { id: first, sid: "SM1".into(), at: at(1) }];
    assert!(!lock_run_recording(&mut conn, run, &sent).await.unwrap().unwrap().pending_texts, "one sent, one failed");
    let b = sqlx::query_scalar("SELECT business_id FROM workflow_runs WHERE id = $1").bind(run);
    let empty = test_db::run_keyed(&pool, b.fetch_one(&pool).await.unwrap(), "empty").await;
    assert!(!lock_run_recording(&mut conn, empty, &[]).await.unwrap().unwrap().pending_texts, "no texts at all");
}

/// The lock reads the opt-out and reachability of the caller the state names.
#[sqlx::test(migrations = false)]
async fn the_lock_reads_whether_the_states_caller_can_be_texted(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let caller = PhoneNumber::parse("+15125550123").unwrap();
    let other = test_db::business_numbered(&pool, "+15125550777").await;
    let run: RunId = sqlx::query_scalar(
        "INSERT INTO workflow_runs (business_id, kind, subject_key, state)
         VALUES ($1, 'conversation', 'k', jsonb_build_object('step', 'start', 'caller', $2::text)) RETURNING id",
    )
    .bind(b.id)
    .bind(&caller)
    .fetch_one(&pool)
    .await
    .unwrap();
    let nameless = test_db::run_keyed(&pool, b.id, "nameless").await;
    let mut conn = pool.acquire().await.unwrap();
    let reach = |r: RunRow| (r.caller_opted_out, r.caller_unreachable);
    assert_eq!(reach(lock_run_recording(&mut conn, run, &[]).await.unwrap().unwrap()), (false, false));
    add_opt_out(&pool, other.id, &caller, "stop").await.unwrap();
    mark_unreachable(&pool, other.id, &caller, 30006, "landline").await.unwrap();
    assert_eq!(
        reach(lock_run_recording(&mut conn, run, &[]).await.unwrap().unwrap()),
        (false, false),
        "another business's"
    );
    mark_unreachable(&pool, b.id, &caller, 30006, "landline").await.unwrap();
    assert_eq!(reach(lock_run_recording(&mut conn, run, &[]).await.unwrap().unwrap()), (false, true));
    sqlx::query("INSERT INTO opt_outs (phone, business_id, reason) VALUES ($1, NULL, 'stop')")
        .bind(&caller)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        reach(lock_run_recording(&mut conn, run, &[]).await.unwrap().unwrap()),
        (true, true),
        "opted out of all"
    );
    assert_eq!(
        reach(lock_run_recording(&mut conn, nameless, &[]).await.unwrap().unwrap()),
        (false, false),
        "no caller"
    );
}

/// A sending round's claim also saves its progress: the texts claimed, the
/// state and conversation stored, the history written in order, the lease
/// of a run handed over by NOTIFY renewed.
#[sqlx::test(migrations = false)]
async fn the_claim_saves_the_rounds_progress_in_the_same_statement(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let run = test_db::run(&pool, b.id).await;
    sqlx::query("UPDATE workflow_runs SET kicked_at = now(), wake_at = now() WHERE id = $1")
        .bind(run)
        .execute(&pool)
        .await
        .unwrap();
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let first = test_db::customer_text(&pool, &b, run, &to, "text_back").await;
    let second = test_db::customer_text(&pool, &b, run, &to, "follow_up_1").await;
    let state = serde_json::json!({ "step": "greeting" });
    let notes = [("opened", serde_json::json!({ "n": 1 })), ("texted", serde_json::json!({ "n": 2 }))];
    let mut tx = pool.begin().await.unwrap();
    let outbox =
        claim_saving_state(&mut tx, (b.id, run), LEASE, &state, None, Duration::from_secs(60), &notes).await.unwrap();
    tx.commit().await.unwrap();
    let due: Vec<_> = outbox.due.iter().map(|d| (d.message.id, d.claim.clone())).collect();
    assert_eq!(due, [(first, Claim::Claimed("queued".into())), (second, Claim::Claimed("queued".into()))]);
    assert_eq!(status_and_sid(&pool, first).await.0, "sending");
    assert_eq!(status_and_sid(&pool, second).await.0, "sending");
    let (saved, lease_left): (serde_json::Value, f64) =
        sqlx::query_as("SELECT state, extract(epoch FROM wake_at - now())::float8 FROM workflow_runs WHERE id = $1")
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(saved, state);
    assert!((50.0..=60.0).contains(&lease_left), "the lease renewed: {lease_left}");
    let history: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT kind, detail FROM workflow_events WHERE run_id = $1 ORDER BY id")
            .bind(run)
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected: Vec<_> = notes.iter().map(|(k, d)| ((*k).to_owned(), d.clone())).collect();
    assert_eq!(history, expected);
}
