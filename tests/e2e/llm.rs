//! The OpenAI-compatible responder inside the whole workflow, against a fake
//! server that answers as OpenAI's chat-completions schema says.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use e2e::helpers::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use web::app::Mode;

const WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy)]
enum Mood {
    Good,
    Status(u16),
    Hang,
}

#[derive(Clone)]
struct Fake {
    mood: Arc<Mutex<Mood>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

fn completion(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-e2e", "object": "chat.completion", "created": 1_760_000_000, "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish, "logprobs": null }],
        "usage": { "prompt_tokens": 500, "completion_tokens": 20, "total_tokens": 520 }
    })
}

async fn completions(State(fake): State<Fake>, Json(req): Json<Value>) -> Response {
    fake.seen.lock().unwrap().push(req.clone());
    let mood = *fake.mood.lock().unwrap();
    match mood {
        Mood::Hang => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Mood::Status(code) => {
            let body = json!({"error": {"message": "scripted", "type": "server_error", "param": null, "code": null}});
            (StatusCode::from_u16(code).unwrap(), Json(body)).into_response()
        }
        Mood::Good if req.get("tools").is_some() => {
            let args = json!({"name": "Dana Park", "service_needed": "AC not cooling", "service_category": "cooling", "urgency": "soon"});
            let call = json!({"id": "call_1", "type": "function",
                              "function": {"name": "update_lead_info", "arguments": args.to_string()}});
            Json(completion(json!({"role": "assistant", "content": null, "tool_calls": [call]}), "tool_calls"))
                .into_response()
        }
        Mood::Good => {
            let msg = json!({"role": "assistant", "content": "Thanks Dana! What’s the address for the service?"});
            Json(completion(msg, "stop")).into_response()
        }
    }
}

async fn fake_openai(mood: Mood) -> (String, Fake) {
    let fake = Fake { mood: Arc::new(Mutex::new(mood)), seen: Arc::default() };
    let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, fake)
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
    let seen = fake.seen.lock().unwrap().clone();
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
    for mood in [Mood::Status(500), Mood::Status(429), Mood::Hang] {
        *fake.mood.lock().unwrap() = mood;
        fake.seen.lock().unwrap().clear();
        let caller = app.texted_back_caller().await;
        app.text(&caller, "my furnace is making a loud banging noise").await;
        let sent = app.wait_for_sms(&caller, 2, WAIT).await;
        assert_eq!(sent.len(), 2, "the customer is still answered");
        assert!(!sent[1].body.is_empty());
        assert!(!fake.seen.lock().unwrap().is_empty(), "the model was tried first");
        app.settle(WAIT).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM leads WHERE service_category = 'heating'").await,
        3,
        "rules engine extracted"
    );
    app.stop().await;
}
