//! `finish_call_starting_run` against a real database: a missed call is
//! finished and its conversation started (row, history, kick) by one
//! statement; a retried callback starts nothing; and when either write fails
//! neither is kept.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use uuid::Uuid;

use activities::domain::{BusinessId, PhoneNumber};
use activities::store::calls::{upsert_ringing, Call, CallEnd, CallOutcome, NewCall};
use activities::store::webhook_events::WebhookEvent;
use activities::test_db;

use super::runs::KICK_CHANNEL;
use super::start::{finish_call_starting_run, FinishedStarting, RunStart};
use super::TickInput;

const LEASE: Duration = Duration::from_secs(5);
const MISSED: CallEnd<'static> =
    CallEnd { outcome: CallOutcome::Missed, dial_call_status: "no-answer", duration_seconds: Some(0) };

async fn ringing_call(pool: &PgPool) -> Call {
    test_db::migrated(pool).await;
    let b = test_db::business(pool, "America/Chicago").await;
    let caller = PhoneNumber::parse("+15125550123").unwrap();
    let new = NewCall {
        business_id: b.id,
        call_sid: "CA0123456789abcdef0123456789abcdef",
        caller: &caller,
        is_after_hours: false,
        screened: false,
        caller_state: Some("TX"),
    };
    upsert_ringing(pool, &new).await.unwrap().0
}

fn callback(business_id: BusinessId, n: i64) -> WebhookEvent<'static> {
    WebhookEvent {
        business_id: Some(business_id),
        endpoint: "voice/call-completed",
        provider_sid: Some("CA0123456789abcdef0123456789abcdef"),
        idempotency_token: None,
        outcome: "missed",
        params: serde_json::json!({ "try": n }),
    }
}

async fn finish(pool: &PgPool, call: &Call, n: i64, token: Uuid) -> sqlx::Result<Option<FinishedStarting>> {
    let state = serde_json::json!({ "caller": call.caller_phone });
    let key = format!("call:{}", call.twilio_call_sid);
    let start = RunStart {
        kind: "conversation",
        subject_key: &key,
        state: &state,
        token,
        kick: Some(LEASE),
        started: serde_json::json!({ "by": "missed_call" }),
    };
    let mut conn = pool.acquire().await.unwrap();
    finish_call_starting_run(&mut conn, (call.business_id, call.id), &MISSED, &callback(call.business_id, n), &start)
        .await
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_missed_call_is_finished_and_its_run_started_and_kicked_once(pool: PgPool) {
    let call = ringing_call(&pool).await;
    let mut listener = PgListener::connect_with(&pool).await.unwrap();
    listener.listen(KICK_CHANNEL).await.unwrap();
    let token = Uuid::new_v4();
    let done = finish(&pool, &call, 1, token).await.unwrap().expect("the call was ringing");
    assert_eq!((done.finished.call.status.as_str(), done.finished.caller_opted_out), ("missed", false));
    let run_id = done.run_id.expect("a run started");
    let (kind, key, status, wake_token, kicked): (String, String, String, Option<Uuid>, bool) = sqlx::query_as(
        "SELECT kind, subject_key, status, wake_token, kicked_at IS NOT NULL AND wake_at > now() FROM workflow_runs WHERE id = $1",
    )
    .bind(run_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), status.as_str()), ("conversation", "active"));
    assert_eq!((key, wake_token, kicked), (format!("call:{}", call.twilio_call_sid), Some(token), true));
    let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv()).await.expect("a kick").unwrap();
    let input: TickInput = serde_json::from_str(heard.payload()).unwrap();
    assert_eq!((input.run_id, input.token, input.kind.as_deref()), (run_id, token, Some("conversation")));

    assert!(finish(&pool, &call, 2, Uuid::new_v4()).await.unwrap().is_none(), "Twilio's retry finishes nothing");
    assert_eq!(count(&pool, "SELECT count(*) FROM workflow_runs").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM workflow_events WHERE kind = 'started'").await, 1);
    let audit: Vec<String> = sqlx::query_scalar("SELECT outcome FROM webhook_events ORDER BY received_at, id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(audit, ["missed", "duplicate"]);
    let again = tokio::time::timeout(Duration::from_millis(300), listener.recv()).await;
    assert!(again.is_err(), "no second kick: {again:?}");
}

#[sqlx::test(migrations = false)]
async fn a_call_is_not_marked_missed_without_its_run(pool: PgPool) {
    let call = ringing_call(&pool).await;
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no runs today'; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON workflow_runs FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = finish(&pool, &call, 1, Uuid::new_v4()).await.expect_err("the run could not be written");
    assert!(err.to_string().contains("no runs today"), "{err}");
    let status: String =
        sqlx::query_scalar("SELECT status FROM calls WHERE id = $1").bind(call.id).fetch_one(&pool).await.unwrap();
    assert_eq!(status, "ringing", "Twilio's retry finds the call still ringing");
    assert_eq!(count(&pool, "SELECT count(*) FROM webhook_events").await, 0);

    sqlx::raw_sql("DROP TRIGGER refuse ON workflow_runs").execute(&pool).await.unwrap();
    let retried = finish(&pool, &call, 2, Uuid::new_v4()).await.unwrap().expect("the retry finishes it");
    assert!(retried.run_id.is_some(), "and starts its run");
}
