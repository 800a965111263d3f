//! The OpenAI-compatible responder inside the whole workflow, against a fake
//! server that answers as OpenAI's chat-completions schema says.

use std::time::Duration;

use e2e::helpers::*;
use sqlx::PgPool;
use web::app::Mode;
use web::fake_openai::{FakeOpenAi, Mood};

const WAIT: Duration = Duration::from_secs(10);

async fn fake_openai(mood: Mood) -> (String, FakeOpenAi) {
    let fake = FakeOpenAi::start(mood).await.unwrap();
    (fake.base_url.clone(), fake)
}

async fn app_with(pool: PgPool, base: &str) -> TestApp {
    let env = [("OPENAI_API_KEY", "sk-e2e"), ("OPENAI_BASE_URL", base), ("OPENAI_TIMEOUT_MS", "700")];
    let app = TestApp::spawn_with(pool, Mode { web: true, workers: true }, &env).await;
    app.owner_window(0, "offline").await;
    app
}

#[sqlx::test(migrations = false)]
async fn the_model_answers_and_its_tool_call_fills_the_lead(pool: PgPool) {
    let (base, fake) = fake_openai(Mood::Good).await;
    let app = app_with(pool, &base).await;
    let caller = app.texted_back_caller().await;
    app.text(&caller, "hi its Dana, my AC stopped cooling").await;
    let sent = app.wait_for_sms(&caller, 2, WAIT).await;
    assert_eq!(sent[1].body, "Thanks Dana! What's the address for the service?", "normalised to GSM-7");
    app.settle(WAIT).await;
    let (name, category): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT name, service_category FROM leads").fetch_one(&app.pool).await.unwrap();
    assert_eq!((name.as_deref(), category.as_deref()), (Some("Dana Park"), Some("cooling")));
    let seen = fake.seen();
    let chat = seen.iter().find(|r| r.get("tools").is_none()).expect("reply request");
    let messages = chat["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains(BUSINESS_NAME));
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    let last_two = &roles[roles.len() - 2..];
    assert_eq!(last_two, ["assistant", "user"], "the text-back, then the customer's text: {roles:?}");
    assert!(messages.last().unwrap()["content"].as_str().unwrap().contains("AC stopped cooling"));
    let extract = seen.iter().find(|r| r.get("tools").is_some()).expect("extraction request");
    assert_eq!(extract["tool_choice"]["function"]["name"], "update_lead_info");
    app.stop().await;
}

#[sqlx::test(migrations = false)]
async fn a_500_a_429_or_a_hang_falls_back_to_the_rules_engine(pool: PgPool) {
    let (base, fake) = fake_openai(Mood::Status(500)).await;
    let app = app_with(pool, &base).await;
    for mood in [Mood::Status(500), Mood::Status(429), Mood::Hang(Duration::from_secs(5))] {
        fake.set_mood(mood);
        fake.clear_seen();
        let caller = app.texted_back_caller().await;
        app.text(&caller, "my furnace is making a loud banging noise").await;
        let sent = app.wait_for_sms(&caller, 2, WAIT).await;
        assert_eq!(sent.len(), 2, "the customer is still answered");
        assert!(!sent[1].body.is_empty());
        assert!(!fake.seen().is_empty(), "the model was tried first");
        app.settle(WAIT).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE service_category = 'heating'").await,
        3,
        "rules engine extracted"
    );
    app.stop().await;
}
