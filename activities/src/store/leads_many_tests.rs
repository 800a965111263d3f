//! Several rounds' lead moves and conversation updates in one statement:
//! each lands as its one-pair form lands it, and a lead never moves back.

use rust_decimal::Decimal;
use sqlx::PgPool;

use super::move_leads_and_update_conversations;
use crate::domain::{BusinessId, ConversationId, LeadId, PhoneNumber};
use crate::store::conversations::{open_conversation, ConversationUpdate, LeadMove, LeadSource, Opened};
use crate::test_db;

async fn open(pool: &PgPool, business: BusinessId, caller: &str) -> (LeadId, ConversationId) {
    let caller = PhoneNumber::parse(caller).unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let opened =
        open_conversation(&mut conn, business, &caller, LeadSource::MissedCall, Decimal::new(350, 0), None, None).await;
    let Opened::Created { conversation_id, lead_id, .. } = opened.unwrap() else { panic!("a new conversation") };
    (lead_id, conversation_id)
}

async fn lead_and_conversation(pool: &PgPool, (lead, c): (LeadId, ConversationId)) -> (String, String, i32, bool) {
    crate::store::conversations::tests::lead_and_conversation(pool, lead, c).await
}

#[sqlx::test(migrations = false)]
async fn every_pair_lands_and_no_lead_moves_back(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await.id;
    let other = test_db::business_numbered(&pool, "+15125550777").await.id;
    let first = open(&pool, b, "+15125550123").await;
    let second = open(&pool, b, "+15125550124").await;
    let elsewhere = open(&pool, other, "+15125550125").await;
    sqlx::query("UPDATE leads SET status = 'qualified' WHERE id = $1").bind(second.0).execute(&pool).await.unwrap();
    let next = Some(chrono::Utc::now() + chrono::Duration::hours(2));
    let pair = |business, (lead, conversation): (LeadId, ConversationId), count| {
        (
            business,
            LeadMove { id: lead, to: "contacted", from: &["new"] },
            ConversationUpdate { id: conversation, status: "active", follow_up_count: count, next_follow_up_at: next },
        )
    };
    // The third names the wrong business: it touches nothing.
    let pairs = [pair(b, first, 0), pair(b, second, 1), pair(b, elsewhere, 2)];
    move_leads_and_update_conversations(&pool, &pairs).await.unwrap();
    assert_eq!(lead_and_conversation(&pool, first).await, ("contacted".into(), "active".into(), 0, true));
    assert_eq!(
        lead_and_conversation(&pool, second).await,
        ("qualified".into(), "active".into(), 1, true),
        "a lead past `new` is not moved back; its conversation is updated"
    );
    assert_eq!(lead_and_conversation(&pool, elsewhere).await, ("new".into(), "active".into(), 0, false));
    move_leads_and_update_conversations(&pool, &[]).await.unwrap();
}

/// Planned by the primary keys on tables without statistics (a fresh
/// database after a burst: thousands of leads, never analysed).
#[sqlx::test(migrations = false)]
async fn the_batch_update_is_planned_by_the_keys_before_any_statistics(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await.id;
    sqlx::raw_sql(&format!(
        "WITH l AS (
             INSERT INTO leads (business_id, phone, source)
             SELECT '{b}', '+1512' || lpad(n::text, 7, '0'), 'missed_call' FROM generate_series(1, 3000) AS n
             RETURNING id)
         INSERT INTO conversations (business_id, lead_id) SELECT '{b}', id FROM l"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let types = "uuid[], uuid[], text[], text[], uuid[], text[], int[], timestamptz[]";
    let args = "'{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'";
    let plan = test_db::generic_plan(&pool, types, &super::sql(), args).await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
}
