//! Whole conversations on the rules engine: qualification, bursts, the
//! follow-up sequence (with delays shortened by configuration), and START.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;
use web::app::Mode;

const WAIT: Duration = Duration::from_secs(10);

type Text = Option<String>;
type Lead = (Text, Text, Text, Text, Text, String);

#[sqlx::test(migrations = false)]
async fn four_texts_qualify_the_lead_and_the_owner_hears_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    // No open times: the qualified lead is handed to the owner, not offered slots.
    sqlx::query("UPDATE businesses SET business_hours = '{}'").execute(&app.pool).await.unwrap();
    let caller = app.texted_back_caller().await;
    let turns = [
        "my ac isnt cooling, just blowing warm air",
        "pretty soon its 88 in the house",
        "Mike Alvarez",
        "2215 Cedar Hollow Dr, Round Rock 78664. tomorrow morning if possible",
    ];
    for (i, t) in turns.iter().enumerate() {
        app.text(&caller, t).await;
        assert_eq!(app.wait_for_sms(&caller, i + 2, WAIT).await.len(), i + 2, "reply to turn {i}");
        app.settle(WAIT).await;
    }
    let lead: Lead = sqlx::query_as("SELECT service_needed, urgency, name, address, preferred_time, status FROM leads")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(lead.0.is_some(), "{lead:?}");
    assert_eq!(lead.1.as_deref(), Some("soon"));
    assert_eq!(lead.2.as_deref(), Some("Mike Alvarez"));
    assert!(lead.3.as_deref().unwrap_or_default().starts_with("2215 Cedar Hollow Dr"), "{lead:?}");
    assert!(lead.4.as_deref().unwrap_or_default().contains("tomorrow"), "{lead:?}");
    assert_eq!(lead.5, "qualified");
    // The owner has the conversation now: a later text is passed on to them, not answered by the AI.
    app.text(&caller, "thanks!").await;
    let owner = app.wait_for_sms(OWNER_PHONE, 3, WAIT).await;
    assert!(owner.iter().any(|m| m.body.contains("thanks!")), "{owner:?}");
    app.settle(WAIT).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 5, "the AI stays quiet once the owner has it");
    let alerts =
        app.fake.sent_to(OWNER_PHONE).into_iter().filter(|m| m.body.starts_with("New qualified lead!")).count();
    assert_eq!(alerts, 1, "the owner is told once, not on every later turn");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_burst_of_three_texts_gets_one_reply(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.always_open().await;
    app.owner_window(2, "available").await;
    let caller = app.texted_back_caller().await;
    for t in ["hey", "my furnace stopped working", "its making a clicking noise"] {
        app.text(&caller, t).await;
    }
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    app.settle(WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 2, "one reply for the three texts");
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE service_category = 'heating'").await, 1);
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn without_a_reply_three_follow_ups_go_out_then_the_conversation_closes(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &[("FOLLOW_UP_DELAYS", "1s,2s,3s")]).await;
    app.set_daytime_zone().await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    let sent = app.wait_for_sms(&caller, 4, WAIT).await;
    assert_eq!(sent.len(), 4, "text-back and three follow-ups");
    assert!(sent[1].body.starts_with("Just checking in"), "{}", sent[1].body);
    assert!(sent[3].body.starts_with("Last note from us"), "{}", sent[3].body);
    let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1].at.duration_since(w[0].at)).collect();
    assert!(gaps.iter().all(|g| *g >= Duration::from_millis(700)), "spaced out: {gaps:?}");
    app.settle(WAIT).await;
    assert_eq!(
        app.count("SELECT count(*) FROM conversations WHERE status = 'closed_no_response' AND follow_up_count = 3")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM leads WHERE status = 'unresponsive'").await, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 4, "nothing after the final follow-up");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_reply_cancels_the_pending_follow_ups(pool: PgPool) {
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &[("FOLLOW_UP_DELAYS", "2s,4s,6s")]).await;
    app.set_daytime_zone().await;
    app.owner_window(0, "offline").await;
    let caller = new_caller();
    app.missed_call(&caller, "no-answer").await;
    assert_eq!(app.wait_for_sms(&caller, 1, WAIT).await.len(), 1);
    app.text(&caller, "ac is out").await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert!(!sent[1].body.starts_with("Just checking in"), "the reply, not a follow-up: {}", sent[1].body);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(app.fake.sent_to(&caller).len(), 2, "the follow-up due 2 s after the text-back was cancelled");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn after_stop_then_start_the_customer_is_answered_again(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.owner_window(0, "offline").await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "STOP").await;
    assert_eq!(app.wait_for_sms(&caller, 2, WAIT).await.len(), 2);
    app.settle(WAIT).await;
    app.text(&caller, "START").await;
    assert_eq!(app.wait_for_sms(&caller, 3, WAIT).await.len(), 3);
    app.settle(WAIT).await;
    app.text(&caller, "my heater is broken").await;
    assert_eq!(app.wait_for_sms(&caller, 4, WAIT).await.len(), 4, "a new conversation answers");
    app.stop().await;
}
