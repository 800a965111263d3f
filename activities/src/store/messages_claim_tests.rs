//! `claim_for_send` against a real Postgres: one claim per attempt, and a
//! recipient's opt-out asked in the same statement.

use std::time::Duration;

use sqlx::PgPool;

use super::*;
use crate::store::opt_outs;
use crate::test_db;

const LEASE: Duration = Duration::from_secs(30);

async fn queued_text(pool: &PgPool, to: &PhoneNumber) -> (BusinessId, MessageId) {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let run: RunId = test_db::run(pool, b.id).await;
    let row = NewOutbound {
        business_id: b.id,
        conversation_id: None,
        run_id: run,
        purpose: "text_back",
        audience: Audience::Customer,
        from: &b.twilio_number,
        to,
        body: "Sorry we missed your call",
        validity_seconds: None,
    };
    (b.id, queue_outbound(pool, &row).await.unwrap().unwrap())
}

async fn status_and_attempts(pool: &PgPool, id: MessageId) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM messages WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_queued_text_is_claimed_once_and_then_held(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (b, id) = queued_text(&pool, &to).await;
    assert_eq!(claim_for_send(&pool, id, LEASE, Some((b, &to))).await.unwrap(), Claim::Claimed("queued".into()));
    assert_eq!(claim_for_send(&pool, id, LEASE, Some((b, &to))).await.unwrap(), Claim::Held, "its sender holds it");
    assert_eq!(status_and_attempts(&pool, id).await, ("sending".to_owned(), 1));
}

#[sqlx::test(migrations = false)]
async fn an_opted_out_recipient_is_refused_and_nothing_is_claimed(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (b, id) = queued_text(&pool, &to).await;
    opt_outs::add_opt_out(&pool, b, &to, "stop").await.unwrap();
    assert_eq!(claim_for_send(&pool, id, LEASE, Some((b, &to))).await.unwrap(), Claim::OptedOut);
    assert_eq!(status_and_attempts(&pool, id).await, ("queued".to_owned(), 0));
    // Without the question (the confirmation of the opt-out itself), it is claimed.
    assert_eq!(claim_for_send(&pool, id, LEASE, None).await.unwrap(), Claim::Claimed("queued".into()));
}

#[sqlx::test(migrations = false)]
async fn an_opt_out_from_every_business_counts_too(pool: PgPool) {
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let (b, id) = queued_text(&pool, &to).await;
    sqlx::query("INSERT INTO opt_outs (business_id, phone, reason) VALUES (NULL, $1, 'carrier_21610')")
        .bind(&to)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(claim_for_send(&pool, id, LEASE, Some((b, &to))).await.unwrap(), Claim::OptedOut);
}
