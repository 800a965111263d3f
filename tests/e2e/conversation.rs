//! The SMS conversation: replies from the rules engine, qualification, the
//! owner's window, takeover, and the odd inputs Twilio delivers.

use std::time::{Duration, Instant};

use e2e::helpers::*;
use sqlx::PgPool;

const WAIT: Duration = Duration::from_secs(10);

#[sqlx::test(migrations = false)]
async fn a_reply_to_the_text_back_is_answered_and_the_lead_filled(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "available").await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "my ac isnt cooling, just blowing warm air").await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert_eq!(sent.len(), 2, "the text-back and one reply");
    let reply = &sent[1].body;
    assert!(!reply.contains('[') && reply.len() <= 320, "{reply}");
    app.settle(WAIT).await;
    let (service, category, status): (Option<String>, Option<String>, String) =
        sqlx::query_as("SELECT service_needed, service_category, status FROM leads")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(service.is_some(), "service extracted");
    assert_eq!(category.as_deref(), Some("cooling"));
    assert_eq!(status, "qualifying");
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound' AND conversation_id IS NOT NULL").await,
        1
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_fully_qualified_lead_alerts_the_owner(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    // No open times to offer: the qualified lead goes straight to the owner.
    sqlx::query("UPDATE businesses SET business_hours = '{}'").execute(&app.pool).await.unwrap();
    let caller = app.texted_back_caller().await;
    app.text(&caller, "Hi this is Karen Whitfield, furnace wont kick on, it just clicks. 419 N Oak St Apt 2, Springfield 62702. Anytime tomorrow after 1pm works").await;
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    let owner = app.wait_for_sms(OWNER_PHONE, 2, WAIT).await;
    let alert = owner.iter().find(|m| m.body.starts_with("New qualified lead!")).expect("qualified alert");
    assert!(alert.body.contains("Karen Whitfield"), "{}", alert.body);
    assert!(alert.body.contains("419 N Oak St"), "{}", alert.body);
    app.settle(WAIT).await;
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE status = 'qualified' AND name = 'Karen Whitfield'").await,
        1
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn the_owner_window_holds_the_ai_back_unless_the_owner_is_away(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.always_open().await;
    app.owner_window(2, "available").await;
    let caller = app.texted_back_caller().await;
    let t = Instant::now();
    app.text(&caller, "furnace is out").await;
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    assert!(t.elapsed() >= Duration::from_secs(2), "answered after {:?}, inside the owner's window", t.elapsed());

    app.owner_window(60, "vacation").await;
    let t = Instant::now();
    app.text(&caller, "Mike Alvarez").await;
    assert_eq!(app.wait_for_sms(&caller, 3, WAIT).await.len(), 3);
    assert!(t.elapsed() < Duration::from_secs(5), "no window while the owner is away: {:?}", t.elapsed());
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_first_text_from_a_new_number_starts_a_conversation_without_a_text_back(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = new_caller();
    app.text(&caller, "Do you guys service heat pumps?").await;
    let sent = app.wait_for_sms(&caller, 1, WAIT).await;
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].body.contains("Sorry we missed your call"), "{}", sent[0].body);
    app.settle(WAIT).await;
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE source = 'manual'").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE status = 'active'").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_retried_message_is_stored_and_answered_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    let sid = new_call_sid().replace("CA", "SM");
    for _ in 0..3 {
        app.text_with(&sid, &caller, "ac broken", &[]).await;
    }
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 2);
    assert_eq!(app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn photos_empty_bodies_and_long_texts_are_kept_and_answered(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    let sid = new_call_sid().replace("CA", "SM");
    app.text_with(&sid, &caller, "", &[("NumMedia", "1"), ("MediaUrl0", "https://api.twilio.com/media/ME1")]).await;
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    app.settle(WAIT).await;
    let long = "The unit in the attic makes a grinding noise and 🔥 ".repeat(32);
    let long = &long[..long.char_indices().nth(1600).map_or(long.len(), |(i, _)| i)];
    app.text(&caller, long).await;
    assert_eq!(app.wait_for_sms(&caller, 3, WAIT).await.len(), 3);
    app.settle(WAIT).await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound' AND num_media = 1 AND body = ''").await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound' AND char_length(body) = 1600").await,
        1
    );
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn takeover_forwards_texts_to_the_owner_and_hand_back_answers_them(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    let run: activities::domain::RunId =
        sqlx::query_scalar("SELECT id FROM workflow_runs").fetch_one(&app.pool).await.unwrap();
    let wf = app.workflows().await;
    let mut tx = app.pool.begin().await.unwrap();
    assert!(wf.signal(&mut tx, run, "take_over", serde_json::json!({}), None).await.unwrap());
    tx.commit().await.unwrap();
    app.settle(WAIT).await;
    app.text(&caller, "Is anyone there? My furnace is out").await;
    let owner = app.wait_for_sms(OWNER_PHONE, 2, WAIT).await;
    assert!(owner.iter().any(|m| m.body.contains("Is anyone there? My furnace is out")), "{owner:?}");
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 1, "the AI stays quiet during a takeover");
    assert_eq!(app.count("SELECT count(*) FROM conversations WHERE status = 'human_active'").await, 1);

    let mut tx = app.pool.begin().await.unwrap();
    assert!(wf.signal(&mut tx, run, "return_to_ai", serde_json::json!({}), None).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2, "the unanswered text gets its reply");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn when_the_llm_is_unreachable_the_rules_engine_answers(pool: PgPool) {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", dead.local_addr().unwrap());
    drop(dead);
    let app = TestApp::spawn_with(
        pool,
        web::app::Mode { web: true, workers: true },
        &[("OPENAI_API_KEY", "sk-test"), ("OPENAI_BASE_URL", &base), ("OPENAI_TIMEOUT_MS", "500")],
    )
    .await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "my heater is making a weird noise").await;
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    app.stop().await;
}
