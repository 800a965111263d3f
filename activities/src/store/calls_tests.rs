//! The call webhooks' writes: each call row with its audit row, in one statement.

use sqlx::PgPool;

use super::*;
use crate::test_db;

const CALL_SID: &str = "CA0123456789abcdef0123456789abcdef";

fn received<'a>(business_id: BusinessId, params: serde_json::Value) -> WebhookEvent<'a> {
    WebhookEvent {
        business_id: Some(business_id),
        endpoint: "voice/incoming",
        provider_sid: Some(CALL_SID),
        idempotency_token: None,
        outcome: "call_recorded",
        params,
    }
}

fn new_call<'a>(business_id: BusinessId, caller: &'a PhoneNumber, caller_state: Option<&'a str>) -> NewCall<'a> {
    NewCall { business_id, call_sid: CALL_SID, caller, is_after_hours: false, screened: true, caller_state }
}

#[sqlx::test(migrations = false)]
async fn a_call_is_recorded_once_with_one_audit_row_per_request(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let caller = PhoneNumber::parse("+15125550123").unwrap();
    let new = new_call(b.id, &caller, Some("TX"));
    let (first, created) =
        upsert_ringing_audited(&pool, &new, &received(b.id, serde_json::json!({"try": 1}))).await.unwrap();
    assert!(created);
    assert_eq!((first.status.as_str(), first.caller_state.as_deref()), ("ringing", Some("TX")));
    let (again, created) =
        upsert_ringing_audited(&pool, &new, &received(b.id, serde_json::json!({"try": 2}))).await.unwrap();
    assert!(!created, "Twilio's retry finds the call");
    assert_eq!(again.id, first.id);
    let audit: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT outcome, params FROM webhook_events WHERE business_id = $1 ORDER BY received_at, id")
            .bind(b.id)
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected = [
        ("call_recorded".to_owned(), serde_json::json!({"try": 1})),
        ("duplicate".to_owned(), serde_json::json!({"try": 2})),
    ];
    assert_eq!(audit, expected);
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM calls").fetch_one(&pool).await.unwrap(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_call_is_finished_once_with_one_audit_row_per_callback(pool: PgPool) {
    test_db::migrated(&pool).await;
    let b = test_db::business(&pool, "America/Chicago").await;
    let caller = PhoneNumber::parse("+15125550123").unwrap();
    let new = new_call(b.id, &caller, None);
    let (call, _) = upsert_ringing(&pool, &new).await.unwrap();
    crate::store::opt_outs::add_opt_out(&pool, b.id, &caller, "stop").await.unwrap();
    let callback = |n: i64| WebhookEvent {
        endpoint: "voice/call-completed",
        outcome: "missed",
        ..received(b.id, serde_json::json!({ "try": n }))
    };
    let finish = |n| {
        let event = callback(n);
        let pool = pool.clone();
        async move {
            let end =
                CallEnd { outcome: CallOutcome::Missed, dial_call_status: "no-answer", duration_seconds: Some(0) };
            finish_call(&pool, (b.id, call.id), &end, &event).await
        }
    };
    let finished = finish(1).await.unwrap().expect("the first callback finishes the call");
    assert_eq!(finished.call.status, "missed");
    assert!(finished.caller_opted_out, "read by the same statement");
    assert!(finish(2).await.unwrap().is_none(), "Twilio's retry finishes nothing");
    let audit: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT endpoint, outcome, params FROM webhook_events WHERE business_id = $1 ORDER BY received_at, id",
    )
    .bind(b.id)
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("voice/call-completed".to_owned(), "missed".to_owned(), serde_json::json!({"try": 1})),
        ("voice/call-completed".to_owned(), "duplicate".to_owned(), serde_json::json!({"try": 2})),
    ];
    assert_eq!(audit, expected);
}

/// Finishing a call finds it by its key even on tables without statistics,
/// with many of the business's calls ringing at once.
#[sqlx::test(migrations = false)]
async fn a_ringing_call_is_planned_by_its_key_before_any_statistics(pool: PgPool) {
    test_db::migrated(&pool).await;
    let business = test_db::business(&pool, "America/Chicago").await;
    sqlx::query(
        "INSERT INTO calls (business_id, twilio_call_sid, caller_phone)
         SELECT $1, 'CA' || i, '+1512555' || lpad(i::text, 4, '0') FROM generate_series(1, 20) i",
    )
    .bind(business.id)
    .execute(&pool)
    .await
    .unwrap();
    let sql = format!("UPDATE calls SET status = 'missed' WHERE {RINGING_CALL}");
    let plan = test_db::generic_plan(&pool, "uuid, uuid", &sql, "gen_random_uuid(), gen_random_uuid()").await;
    assert!(plan.contains("Index Scan using calls_pkey"), "{plan}");
}
