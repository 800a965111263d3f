//! The owner's API: takeover, return to AI, and writing to the customer,
//! authenticated by a per-business key and scoped to that business.

use std::time::Duration;

use activities::store::{api_keys, businesses};
use e2e::helpers::*;
use serde_json::{json, Value};
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

async fn key_for(app: &TestApp, business: activities::domain::BusinessId) -> String {
    let key = api_keys::generate();
    api_keys::insert_key(&app.pool, business, &key).await.unwrap();
    key
}

async fn post(app: &TestApp, key: Option<&str>, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.post(app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[sqlx::test(migrations = false)]
async fn the_owner_takes_over_writes_and_hands_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let key = key_for(&app, app.business.id).await;
    let caller = app.texted_back_caller().await;
    let conversation: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM conversations").fetch_one(&app.pool).await.unwrap();
    let base = format!("/api/conversations/{conversation}");

    let (status, body) = post(&app, Some(&key), &format!("{base}/takeover"), None).await;
    assert_eq!(status, 202, "{body}");
    app.settle(WAIT).await;
    app.text(&caller, "hello? my heat is out").await;
    assert!(app.wait_for_sms(OWNER_PHONE, 2, WAIT).await.iter().any(|m| m.body.contains("my heat is out")));
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "the AI is silent");

    let (status, _) =
        post(&app, Some(&key), &format!("{base}/message"), Some(json!({"body": "Hi, it's John. I can come at 3pm."})))
            .await;
    assert_eq!(status, 202);
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert_eq!(sent[1].body, "Hi, it's John. I can come at 3pm.");
    app.settle(WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE sender_type = 'human' AND status = 'sent'").await, 1);

    let (status, _) = post(&app, Some(&key), &format!("{base}/return-ai"), None).await;
    assert_eq!(status, 202);
    app.settle(WAIT).await;
    app.text(&caller, "great, and its a furnace by the way").await;
    assert_eq!(app.wait_for_sms(&caller, 3, WAIT).await.len(), 3, "the AI answers again");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn keys_are_required_and_scoped_to_their_business(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let caller = app.texted_back_caller().await;
    let conversation: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM conversations").fetch_one(&app.pool).await.unwrap();
    let path = format!("/api/conversations/{conversation}/takeover");
    let (status, body) = post(&app, None, &path, None).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")));
    let (status, _) = post(&app, Some("cr_not_a_real_key"), &path, None).await;
    assert_eq!(status, 401);
    let other = businesses::insert_business(&app.pool, &demo_business("+15125550177")).await.unwrap();
    let other_key = key_for(&app, other.id).await;
    let (status, body) = post(&app, Some(&other_key), &path, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "another tenant's conversation is invisible"
    );
    let own = key_for(&app, app.business.id).await;
    let (status, _) = post(&app, Some(&own), "/api/conversations/not-a-uuid/takeover", None).await;
    assert_eq!(status, 404);
    let msg = format!("/api/conversations/{conversation}/message");
    let (status, _) = post(&app, Some(&own), &msg, Some(json!({"body": "  "}))).await;
    assert_eq!(status, 400);
    let (status, _) = post(&app, Some(&own), &msg, Some(json!({"text": "wrong field"}))).await;
    assert_eq!(status, 400);
    app.text(&caller, "STOP").await;
    app.settle(WAIT).await;
    let (status, body) = post(&app, Some(&own), &path, None).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")), "a closed conversation cannot be taken over");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn the_owner_replying_to_an_alert_by_text_reaches_the_customer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    assert_eq!(app.fake.sent_to(OWNER_PHONE).len(), 1, "the missed-call alert");
    app.text(OWNER_PHONE, "On my way, be there by 3").await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert_eq!(sent[1].body, "On my way, be there by 3");
    app.settle(WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE status = 'human_active'").await, 1);
    assert!(!app.fake.sent_to(OWNER_PHONE).iter().any(|m| m.body.contains("unsubscribed")));
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn the_one_tap_link_in_the_alert_takes_over_shows_and_writes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    let alert = app.fake.sent_to(OWNER_PHONE).remove(0);
    let link =
        alert.body.lines().find(|l| l.starts_with(&format!("{BASE_URL}/t/"))).expect("a link in the alert").to_owned();
    let path = path_of(&link);

    let page = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Hand back to the AI"));
    assert_eq!(
        app.count("SELECT count(*) FROM conversations WHERE status = 'human_active'").await,
        0,
        "a GET alone takes nothing over"
    );

    let (status, _) = post(&app, None, &format!("{path}/takeover"), None).await;
    assert_eq!(status, 202);
    app.settle(WAIT).await;
    let convo: Value =
        app.client.get(app.url(&format!("{path}/conversation"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(convo["status"], "human_active");
    assert_eq!(convo["customer"]["phone"], caller.as_str());
    assert!(convo["messages"][0]["body"].as_str().unwrap().contains(BUSINESS_NAME));

    let (status, _) = post(&app, None, &format!("{path}/message"), Some(json!({"body": "Calling you now"}))).await;
    assert_eq!(status, 202);
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await[1].body, "Calling you now");

    let mut forged = path.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(app.client.get(app.url(&forged)).send().await.unwrap().status(), 404);
    let (status, _) = post(&app, None, &format!("{forged}/takeover"), None).await;
    assert_eq!(status, 404);
    app.stop().await;
}
