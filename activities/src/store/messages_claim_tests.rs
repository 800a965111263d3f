//! `claim_for_send` against a real Postgres: one claim per attempt, and a
//! recipient's opt-out asked in the same statement.

use std::time::Duration;

use sqlx::PgPool;

use super::*;
use crate::store::businesses::Business;
use crate::store::opt_outs;
use crate::test_db;

const LEASE: Duration = Duration::from_secs(30);

async fn queued_text(pool: &PgPool, to: &PhoneNumber) -> (Business, RunId, MessageId) {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let run: RunId = test_db::run(pool, b.id).await;
    let id = test_db::customer_text(pool, &b, run, to, "text_back").await;
    (b, run, id)
}

async fn status_and_attempts(pool: &PgPool, id: MessageId) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM messages WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_queued_text_is_claimed_once_and_then_held(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (_, _, id) = queued_text(&pool, &to).await;
    assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::Claimed("queued".into()));
    assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::Held, "its sender holds it");
    assert_eq!(status_and_attempts(&pool, id).await, ("sending".to_owned(), 1));
}

#[sqlx::test(migrations = false)]
async fn an_opted_out_recipient_is_refused_and_nothing_is_claimed(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (b, run, id) = queued_text(&pool, &to).await;
    opt_outs::add_opt_out(&pool, b.id, &to, "stop").await.unwrap();
    assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::OptedOut);
    assert_eq!(status_and_attempts(&pool, id).await, ("queued".to_owned(), 0));
    // The confirmation of the opt-out itself is the one text it still gets.
    let confirmation = test_db::customer_text(&pool, &b, run, &to, crate::sms::OPT_OUT_CONFIRMATION).await;
    assert_eq!(claim_for_send(&pool, confirmation, LEASE).await.unwrap(), Claim::Claimed("queued".into()));
}

#[sqlx::test(migrations = false)]
async fn an_opt_out_from_every_business_counts_too(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (_, _, id) = queued_text(&pool, &to).await;
    sqlx::query("INSERT INTO opt_outs (business_id, phone, reason) VALUES (NULL, $1, 'carrier_21610')")
        .bind(&to)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::OptedOut);
}

#[sqlx::test(migrations = false)]
async fn a_dead_senders_row_is_claimed_again_after_its_lease_and_a_sent_one_never(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (_, _, id) = queued_text(&pool, &to).await;
    assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::Claimed("queued".into()));
    sqlx::query("UPDATE messages SET last_attempt_at = now() - interval '31 seconds' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::Claimed("sending".into()), "reconcile first");
    mark_sent(&pool, id, "SM1").await.unwrap();
    assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::Held, "not pending any more");
    assert_eq!(status_and_attempts(&pool, id).await, ("sent".to_owned(), 2));
}

#[sqlx::test(migrations = false)]
async fn a_rounds_sends_are_recorded_in_one_statement_and_a_final_outcome_stands(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (b, run, first) = queued_text(&pool, &to).await;
    let second = test_db::customer_text(&pool, &b, run, &to, "follow_up_1").await;
    let third = test_db::customer_text(&pool, &b, run, &to, "follow_up_2").await;
    for id in [first, second, third] {
        assert_eq!(claim_for_send(&pool, id, LEASE).await.unwrap(), Claim::Claimed("queued".into()));
    }
    // A report already in for the third: sending it is over, a late record must not undo that.
    mark_failed(&pool, third, "failed", Some(30007), "carrier filtered").await.unwrap();
    let at = |secs: i64| chrono::DateTime::<Utc>::from_timestamp(1_780_000_000 + secs, 0).unwrap();
    let sent = [
        SentText { id: second, sid: "SM2".into(), at: at(2) },
        SentText { id: first, sid: "SM1".into(), at: at(1) },
        SentText { id: third, sid: "SM3".into(), at: at(3) },
    ];
    record_sent(&pool, &sent).await.unwrap();
    let row = |id: MessageId| {
        sqlx::query_as::<_, (String, Option<String>, Option<DateTime<Utc>>)>(
            "SELECT status, twilio_message_sid, sent_at FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
    };
    assert_eq!(row(first).await.unwrap(), ("sent".into(), Some("SM1".into()), Some(at(1))));
    assert_eq!(row(second).await.unwrap(), ("sent".into(), Some("SM2".into()), Some(at(2))));
    assert_eq!(row(third).await.unwrap(), ("failed".into(), None, None));
    record_sent(&pool, &[]).await.unwrap();
}
