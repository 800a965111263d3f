//! A lead's move and its conversation's update in one statement: both land,
//! and the lead still only moves forward, found by its key whatever the
//! statistics.

use rust_decimal::Decimal;
use sqlx::PgPool;

use super::{
    lead_move_sql, move_lead_and_update_conversation, open_conversation, ConversationUpdate, LeadMove, LeadSource,
    Opened,
};
use crate::domain::{BusinessId, ConversationId, LeadId, PhoneNumber};
use crate::test_db;

async fn opened(pool: &PgPool) -> (BusinessId, LeadId, ConversationId) {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let caller = PhoneNumber::parse("+15125550123").unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let opened =
        open_conversation(&mut conn, b.id, &caller, LeadSource::MissedCall, Decimal::new(350, 0), None, None).await;
    let Opened::Created { conversation_id, lead_id, .. } = opened.unwrap() else { panic!("a new conversation") };
    (b.id, lead_id, conversation_id)
}

/// The lead's status, and the conversation's status, follow-up count and whether one is set.
pub(crate) async fn lead_and_conversation(
    pool: &PgPool,
    lead: LeadId,
    c: ConversationId,
) -> (String, String, i32, bool) {
    sqlx::query_as(
        "SELECT l.status, c.status, c.follow_up_count, c.next_follow_up_at IS NOT NULL
         FROM leads l, conversations c WHERE l.id = $1 AND c.id = $2",
    )
    .bind(lead)
    .bind(c)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn both_land_in_one_statement_and_the_lead_never_moves_back(pool: PgPool) {
    let (business, lead, conversation) = opened(&pool).await;
    let next = Some(chrono::Utc::now() + chrono::Duration::hours(2));
    let contacted = LeadMove { id: lead, to: "contacted", from: &["new"] };
    let active = ConversationUpdate { id: conversation, status: "active", follow_up_count: 0, next_follow_up_at: next };
    move_lead_and_update_conversation(&pool, business, &contacted, &active).await.unwrap();
    assert_eq!(lead_and_conversation(&pool, lead, conversation).await, ("contacted".into(), "active".into(), 0, true));

    // A lead already past `new` is not moved back; the conversation is still updated.
    let stale = LeadMove { id: lead, to: "new", from: &["qualified"] };
    let later =
        ConversationUpdate { id: conversation, status: "follow_up", follow_up_count: 1, next_follow_up_at: None };
    move_lead_and_update_conversation(&pool, business, &stale, &later).await.unwrap();
    assert_eq!(
        lead_and_conversation(&pool, lead, conversation).await,
        ("contacted".into(), "follow_up".into(), 1, false)
    );
}

#[sqlx::test(migrations = false)]
async fn another_business_touches_neither(pool: PgPool) {
    let (_, lead, conversation) = opened(&pool).await;
    let other = test_db::business_numbered(&pool, "+15125550777").await.id;
    let contacted = LeadMove { id: lead, to: "contacted", from: &["new"] };
    let closed = ConversationUpdate {
        id: conversation,
        status: "closed_no_response",
        follow_up_count: 3,
        next_follow_up_at: None,
    };
    move_lead_and_update_conversation(&pool, other, &contacted, &closed).await.unwrap();
    let (lead_status, conversation_status, ..) = lead_and_conversation(&pool, lead, conversation).await;
    assert_eq!((lead_status.as_str(), conversation_status.as_str()), ("new", "active"));
}

/// The plan a pooled connection keeps for the move once it goes generic,
/// made before `leads` has statistics (a new deployment, the bench's fresh
/// database): it must find the lead by its key, not read the business's leads.
#[sqlx::test(migrations = false)]
async fn a_leads_move_is_planned_by_its_key_before_any_statistics(pool: PgPool) {
    let (business, ..) = opened(&pool).await;
    sqlx::query(
        "INSERT INTO leads (business_id, phone) SELECT $1, '+1512555' || lpad(i::text, 4, '0') FROM generate_series(1, 20) i",
    )
    .bind(business)
    .execute(&pool)
    .await
    .unwrap();
    let args = "gen_random_uuid(), gen_random_uuid(), 'contacted', '{new}'";
    let plan = test_db::generic_plan(&pool, "uuid, uuid, text, text[]", &lead_move_sql(2), args).await;
    assert!(plan.contains("Index Scan using leads_pkey"), "{plan}");
}

/// The caller's open conversation is found through the caller's lead, not by
/// walking the business's open conversations, even before any statistics.
#[sqlx::test(migrations = false)]
async fn an_open_conversation_is_found_through_its_lead_before_any_statistics(pool: PgPool) {
    let (business, _, conversation) = opened(&pool).await;
    let caller = PhoneNumber::parse("+15125550123").unwrap();
    assert_eq!(super::open_conversation_for(&pool, business, &caller).await.unwrap(), Some(conversation));
    let stranger = PhoneNumber::parse("+15125550999").unwrap();
    assert_eq!(super::open_conversation_for(&pool, business, &stranger).await.unwrap(), None);
    let plan =
        test_db::generic_plan(&pool, "uuid, text", super::OPEN_CONVERSATION_FOR, "gen_random_uuid(), '+15125550123'")
            .await;
    assert!(plan.contains("Index Cond: ((business_id = $1) AND (lead_id = $0))"), "{plan}");
}
