//! The OpenAI responder against a fake OpenAI: an axum server inside the test
//! answering `POST /v1/chat/completions` the way OpenAI's published schema
//! says (CreateChatCompletionResponse / ErrorResponse), recording what our
//! client sent so the prompts, tool choice and key can be checked.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use activities::responder::openai::{OpenAiConfig, OpenAiResponder, PromptExtras, ResponderError};
use activities::responder::{Language, LeadFacts, Reply, Turn, TurnInput, MAX_REPLY_CHARS};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

const KEY: &str = "sk-test-0123456789";
const MODEL: &str = "gpt-test-mini";
const BUSINESS: &str = "Smith's Heating & Air";

/// How the fake answers every request.
#[derive(Clone)]
enum Answer {
    /// The reply call gets `reply`; the extraction call gets `args` as the tool call's arguments.
    Ok {
        reply: String,
        args: Value,
    },
    Status(u16, Value),
    Hang,
    Garbage,
}

struct Fake {
    answer: Answer,
    seen: Mutex<Vec<(Option<String>, Value)>>,
}

fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_760_000_000,
        "model": MODEL,
        "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason, "logprobs": null }],
        "usage": { "prompt_tokens": 812, "completion_tokens": 31, "total_tokens": 843 }
    })
}

fn ok_body(request: &Value, reply: &str, args: &Value) -> Value {
    if request.get("tools").is_some() {
        let call = json!({
            "id": "call_abc123",
            "type": "function",
            "function": { "name": "update_lead_info", "arguments": raw_args(args) }
        });
        completion(json!({ "role": "assistant", "content": null, "refusal": null, "tool_calls": [call] }), "tool_calls")
    } else {
        completion(json!({ "role": "assistant", "content": reply, "refusal": null }), "stop")
    }
}

/// A JSON string is sent as it is (to fake broken arguments); anything else as its JSON text.
fn raw_args(args: &Value) -> String {
    args.as_str().map_or_else(|| args.to_string(), str::to_owned)
}

async fn completions(State(fake): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap();
    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
    fake.seen.lock().unwrap().push((auth, request.clone()));
    match &fake.answer {
        Answer::Ok { reply, args } => Json(ok_body(&request, reply, args)).into_response(),
        Answer::Status(code, body) => {
            let mut response = (StatusCode::from_u16(*code).unwrap(), Json(body.clone())).into_response();
            if *code == 429 {
                response.headers_mut().insert("retry-after", "20".parse().unwrap());
            }
            response
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Answer::Garbage => ([("content-type", "application/json")], "{\"id\": \"chatcmpl-1\", \"choi").into_response(),
    }
}

async fn serve(answer: Answer) -> (SocketAddr, Arc<Fake>) {
    let fake = Arc::new(Fake { answer, seen: Mutex::new(Vec::new()) });
    let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, fake)
}

fn responder(addr: SocketAddr, timeout: Duration) -> OpenAiResponder {
    OpenAiResponder::new(OpenAiConfig {
        api_key: KEY.to_owned(),
        base_url: format!("http://{addr}/v1/"),
        model: MODEL.to_owned(),
        timeout,
    })
    .unwrap()
}

fn extras() -> PromptExtras {
    PromptExtras {
        local_time: "07:42 PM".into(),
        weekday: "Tuesday".into(),
        hours_summary: "Mon-Fri 8am-6pm".into(),
        ai_instructions: Some("We do not service commercial rooftop units.".into()),
    }
}

/// Runs one turn: the customer already said what is wrong and who they are,
/// and now gives the address and a time.
async fn turn(answer: Answer, disclose_bot: bool) -> (Result<Reply, ResponderError>, Vec<(Option<String>, Value)>) {
    let (addr, fake) = serve(answer).await;
    let known = LeadFacts {
        service_needed: Some("AC not cooling".into()),
        service_category: Some("cooling".into()),
        name: Some("Maria".into()),
        ..LeadFacts::default()
    };
    let services = vec!["AC repair".to_owned(), "Furnace repair".to_owned()];
    let history = vec![
        Turn { from_customer: false, body: "Hey! Sorry we missed your call. This is Smith's Heating & Air.".into() },
        Turn { from_customer: true, body: "my AC quit, this is Maria".into() },
        Turn { from_customer: false, body: "Sorry to hear that, Maria! What's the address?".into() },
    ];
    let new_texts = vec!["412 Elm St Austin".to_owned(), "tomorrow morning works".to_owned()];
    let input = TurnInput {
        business_name: BUSINESS,
        business_phone_display: "(512) 555-0100",
        services: &services,
        open_now: false,
        disclose_bot,
        known: &known,
        history: &history,
        new_texts: &new_texts,
        booking: None,
    };
    let result = responder(addr, Duration::from_secs(5)).respond(&input, &extras()).await;
    let seen = fake.seen.lock().unwrap().clone();
    (result, seen)
}

fn ok(reply: &str, args: Value) -> Answer {
    Answer::Ok { reply: reply.to_owned(), args }
}

fn address_and_time() -> Value {
    json!({ "address": "412 Elm St Austin", "preferred_time": "tomorrow morning", "urgency": "soon",
            "emergency": false, "human_requested": false, "price_question": false, "opt_out": false,
            "bot_question": false, "language": "en", "corrections": [] })
}

fn split(seen: &[(Option<String>, Value)]) -> (&Value, &Value) {
    assert_eq!(seen.len(), 2, "one reply call and one extraction call");
    let reply = seen.iter().find(|(_, r)| r.get("tools").is_none()).map(|(_, r)| r).unwrap();
    let extract = seen.iter().find(|(_, r)| r.get("tools").is_some()).map(|(_, r)| r).unwrap();
    (reply, extract)
}

#[tokio::test]
async fn qualified_reply_is_clean_and_flags_are_set() {
    let text = "Thanks Maria! We'll have a tech reach out to confirm tomorrow morning at 412 Elm St. [QUALIFIED]";
    let (result, seen) = turn(ok(text, address_and_time()), true).await;
    let reply = result.unwrap();
    assert_eq!(reply.text, "Thanks Maria! We'll have a tech reach out to confirm tomorrow morning at 412 Elm St.");
    assert!(reply.qualified && !reply.emergency && !reply.human_needed);
    assert_eq!(reply.extracted.address.as_deref(), Some("412 Elm St Austin"));
    assert_eq!(reply.extracted.preferred_time.as_deref(), Some("tomorrow morning"));
    assert_eq!(reply.extracted.name, None, "only what the new texts state");
    assert_eq!(reply.language, Language::En);

    assert!(seen.iter().all(|(auth, _)| auth.as_deref() == Some(&*format!("Bearer {KEY}"))));
    let (reply_req, extract_req) = split(&seen);
    assert_eq!(reply_req["model"], MODEL);
    assert_eq!(reply_req["max_completion_tokens"], 200);
    assert!((reply_req["temperature"].as_f64().unwrap() - 0.4).abs() < 1e-6);
    let messages = reply_req["messages"].as_array().unwrap();
    let system = messages[0]["content"].as_str().unwrap();
    assert_eq!(messages[0]["role"], "system");
    for needle in [
        BUSINESS,
        "never claim to be a person",
        "Smith's Heating & Air's automated assistant",
        "AC repair, Furnace repair",
        "07:42 PM on Tuesday",
        "after hours",
        "We do not service commercial rooftop units.",
        "- Name: Maria",
        "[QUALIFIED]",
        "[EMERGENCY]",
        "Never discuss pricing",
    ] {
        assert!(system.contains(needle), "system prompt lacks {needle:?}:\n{system}");
    }
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "assistant", "user", "assistant", "user"]);
    assert_eq!(messages[4]["content"], "412 Elm St Austin\ntomorrow morning works");

    assert_eq!(extract_req["model"], MODEL);
    assert_eq!(extract_req["tool_choice"], json!({ "type": "function", "function": { "name": "update_lead_info" } }));
    assert_eq!(extract_req["tools"][0]["type"], "function");
    assert_eq!(extract_req["tools"][0]["function"]["name"], "update_lead_info");
    let extract_system = extract_req["messages"][0]["content"].as_str().unwrap();
    assert!(extract_system.contains("Never invent"), "{extract_system}");
    assert!(extract_system.contains("Customer: my AC quit, this is Maria"), "{extract_system}");
}

#[tokio::test]
async fn without_disclosure_the_prompt_still_forbids_claiming_to_be_human() {
    let (result, seen) = turn(ok("Got it, thanks!", address_and_time()), false).await;
    result.unwrap();
    let (reply_req, _) = split(&seen);
    let system = reply_req["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Never claim to be a person") && !system.contains("automated assistant"), "{system}");
}

#[tokio::test]
async fn emergency_marker_and_extraction_flag_the_reply() {
    let text = "That sounds urgent - let me get someone on this right away. [EMERGENCY]";
    let args = json!({ "urgency": "emergency", "emergency": true, "human_requested": true, "price_question": true,
                       "opt_out": false, "bot_question": true, "language": "es", "corrections": ["address"] });
    let reply = turn(ok(text, args), true).await.0.unwrap();
    assert_eq!(reply.text, "That sounds urgent - let me get someone on this right away.");
    assert!(reply.emergency && reply.human_needed && reply.price_question && reply.bot_question);
    assert_eq!(reply.extracted.urgency.as_deref(), Some("emergency"));
    assert_eq!(reply.corrections, vec!["address"]);
    assert_eq!(reply.language, Language::Es);
}

#[tokio::test]
async fn typographic_characters_are_normalised() {
    let text = "We\u{2019}re on it \u{2014} \u{201c}no cooling\u{201d} in July is rough\u{2026} When works best?";
    let reply = turn(ok(text, address_and_time()), true).await.0.unwrap();
    assert_eq!(reply.text, "We're on it - \"no cooling\" in July is rough... When works best?");
}

#[tokio::test]
async fn a_long_reply_is_cut_at_a_sentence_end() {
    let text = "We can definitely help with your AC and get a technician out to you soon. ".repeat(7);
    assert!(text.chars().count() > 500);
    let reply = turn(ok(&text, address_and_time()), true).await.0.unwrap();
    assert!(reply.text.chars().count() <= MAX_REPLY_CHARS, "{}", reply.text);
    assert!(reply.text.ends_with("soon."), "{}", reply.text);
}

#[tokio::test]
async fn rate_limit_is_reported() {
    let body = json!({ "error": { "message": "Rate limit reached for gpt-4o-mini", "type": "requests",
                                  "param": null, "code": "rate_limit_exceeded" } });
    let err = turn(Answer::Status(429, body), true).await.0.unwrap_err();
    assert!(matches!(err, ResponderError::RateLimited), "{err:?}");
}

#[tokio::test]
async fn server_error_is_reported_with_its_status() {
    let body = json!({ "error": { "message": "The server had an error", "type": "server_error",
                                  "param": null, "code": null } });
    let err = turn(Answer::Status(500, body), true).await.0.unwrap_err();
    assert!(matches!(err, ResponderError::Http(500)), "{err:?}");
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let (addr, _fake) = serve(Answer::Hang).await;
    let known = LeadFacts::default();
    let new_texts = vec!["hello?".to_owned()];
    let input = TurnInput {
        business_name: BUSINESS,
        business_phone_display: "(512) 555-0100",
        services: &[],
        open_now: true,
        disclose_bot: true,
        known: &known,
        history: &[],
        new_texts: &new_texts,
        booking: None,
    };
    let started = Instant::now();
    let err = responder(addr, Duration::from_millis(300)).respond(&input, &PromptExtras::default()).await.unwrap_err();
    assert!(matches!(err, ResponderError::Timeout), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn garbage_json_is_malformed() {
    let err = turn(Answer::Garbage, true).await.0.unwrap_err();
    assert!(matches!(err, ResponderError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn garbage_tool_arguments_are_malformed() {
    let answer = Answer::Ok { reply: "Thanks!".into(), args: json!("{\"name\": \"Mar") };
    let err = turn(answer, true).await.0.unwrap_err();
    assert!(matches!(err, ResponderError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn a_reply_that_is_only_a_marker_is_malformed() {
    for text in ["[QUALIFIED]", "  [HUMAN_NEEDED] ", "QUALIFIED]", ""] {
        let err = turn(ok(text, address_and_time()), true).await.0.unwrap_err();
        assert!(matches!(err, ResponderError::Malformed(_)), "{text:?}: {err:?}");
    }
}

#[tokio::test]
async fn a_bad_key_or_url_fails_at_construction() {
    let mut config = OpenAiConfig::new("sk-has a space");
    assert!(matches!(OpenAiResponder::new(config.clone()), Err(ResponderError::Config(_))));
    config.api_key = "sk-ok".into();
    config.base_url = "api.openai.com/v1".into();
    assert!(matches!(OpenAiResponder::new(config), Err(ResponderError::Config(_))));
}
