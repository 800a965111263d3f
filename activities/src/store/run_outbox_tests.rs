//! `claim_run_outbox` against a real Postgres: a round claims its due texts
//! in its own transaction, under the same rules as `claim_for_send`.

use std::time::Duration;

use sqlx::PgPool;

use super::*;
use crate::domain::{MessageId, PhoneNumber};
use crate::store::businesses::Business;
use crate::store::messages::{queue_row, Audience, OutboxRow};
use crate::store::opt_outs;
use crate::test_db;

const LEASE: Duration = Duration::from_secs(30);

struct Run {
    business: Business,
    id: RunId,
}

async fn run(pool: &PgPool) -> Run {
    test_db::migrated(pool).await;
    let business = test_db::business(pool, "America/Chicago").await;
    let id: RunId = test_db::run(pool, business.id).await;
    Run { business, id }
}

async fn text(pool: &PgPool, r: &Run, purpose: &str, to: &PhoneNumber) -> MessageId {
    test_db::customer_text(pool, &r.business, r.id, to, purpose).await
}

async fn status_and_attempts(pool: &PgPool, id: MessageId) -> (String, i32) {
    sqlx::query_as("SELECT status, attempts FROM messages WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
}

fn claims(outbox: &ClaimedOutbox) -> Vec<(MessageId, Claim)> {
    outbox.due.iter().map(|d| (d.message.id, d.claim.clone())).collect()
}

#[sqlx::test(migrations = false)]
async fn due_texts_are_claimed_in_order_and_only_once(pool: PgPool) {
    let r = run(&pool).await;
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let first = text(&pool, &r, "text_back", &to).await;
    let second = text(&pool, &r, "reply_1", &to).await;
    let mut tx = pool.begin().await.unwrap();
    let outbox = claim_run_outbox(&mut *tx, r.id, LEASE).await.unwrap();
    tx.commit().await.unwrap();
    let queued = Claim::Claimed("queued".into());
    assert_eq!(claims(&outbox), vec![(first, queued.clone()), (second, queued)]);
    assert_eq!(outbox.due[0].message.attempts, 0, "rows come back as they were before the claim");
    assert_eq!(status_and_attempts(&pool, first).await, ("sending".into(), 1));
    let again = claim_run_outbox(&pool, r.id, LEASE).await.unwrap();
    assert_eq!(claims(&again), vec![(first, Claim::Held), (second, Claim::Held)], "their sender holds them");
    assert_eq!(again.next_retry, None, "a held row sets no retry time");
    assert_eq!(status_and_attempts(&pool, first).await, ("sending".into(), 1));
}

#[sqlx::test(migrations = false)]
async fn texts_queued_in_one_transaction_keep_the_order_they_were_queued_in(pool: PgPool) {
    let r = run(&pool).await;
    let to = PhoneNumber::parse("+15125550123").unwrap();
    // A round queues its texts in one transaction, where now() is one instant:
    // twelve rows in a row, so an order left to their random ids shows.
    let mut tx = pool.begin().await.unwrap();
    let mut queued = Vec::new();
    for n in 0..12 {
        queued.push(test_db::customer_text(&mut *tx, &r.business, r.id, &to, &format!("reply_{n}")).await);
    }
    let outbox = claim_run_outbox(&mut *tx, r.id, LEASE).await.unwrap();
    tx.commit().await.unwrap();
    let claimed: Vec<MessageId> = outbox.due.iter().map(|d| d.message.id).collect();
    assert_eq!(claimed, queued);
}

#[sqlx::test(migrations = false)]
async fn a_rolled_back_round_claims_nothing(pool: PgPool) {
    let r = run(&pool).await;
    let id = text(&pool, &r, "text_back", &PhoneNumber::parse("+15125550123").unwrap()).await;
    let mut tx = pool.begin().await.unwrap();
    claim_run_outbox(&mut *tx, r.id, LEASE).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(status_and_attempts(&pool, id).await, ("queued".into(), 0));
}

#[sqlx::test(migrations = false)]
async fn an_opted_out_customer_is_not_claimed_but_the_confirmation_is(pool: PgPool) {
    let r = run(&pool).await;
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let text_back = text(&pool, &r, "text_back", &to).await;
    let confirmation = text(&pool, &r, crate::sms::OPT_OUT_CONFIRMATION, &to).await;
    opt_outs::add_opt_out(&pool, r.business.id, &to, "said_opt_out").await.unwrap();
    let outbox = claim_run_outbox(&pool, r.id, LEASE).await.unwrap();
    let claimed = Claim::Claimed("queued".into());
    assert_eq!(claims(&outbox), vec![(text_back, Claim::OptedOut), (confirmation, claimed)]);
    assert_eq!(status_and_attempts(&pool, text_back).await, ("queued".into(), 0));
}

#[sqlx::test(migrations = false)]
async fn a_dead_senders_row_is_claimed_after_its_lease_and_a_held_back_one_waits(pool: PgPool) {
    let r = run(&pool).await;
    let to = PhoneNumber::parse("+15125550123").unwrap();
    let stale = text(&pool, &r, "text_back", &to).await;
    sqlx::query("UPDATE messages SET status = 'sending', attempts = 1, last_attempt_at = now() - interval '31 seconds' WHERE id = $1")
        .bind(stale)
        .execute(&pool)
        .await
        .unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(2);
    let owner = PhoneNumber::parse("+15125550199").unwrap();
    let held = OutboxRow {
        business_id: r.business.id,
        conversation_id: None,
        run_id: Some(r.id),
        purpose: "alert_missed_call:r",
        audience: Audience::Owner,
        from: &r.business.twilio_number,
        to: &owner,
        body: "Missed call",
        validity_seconds: None,
        not_before: Some(later),
    };
    let held = queue_row(&pool, &held).await.unwrap().unwrap();
    let outbox = claim_run_outbox(&pool, r.id, LEASE).await.unwrap();
    assert_eq!(claims(&outbox), vec![(stale, Claim::Claimed("sending".into()))], "reconcile first, then send");
    let retry = outbox.next_retry.unwrap();
    assert!((retry - later).num_milliseconds().abs() < 1000, "the held row's time: {retry}");
    assert_eq!(status_and_attempts(&pool, stale).await, ("sending".into(), 2));
    assert_eq!(status_and_attempts(&pool, held).await, ("queued".into(), 0));
}
