//! An OpenAI chat-completions fake on a local port, answering as OpenAI's
//! schema says: a `update_lead_info` tool call when tools are offered, a short
//! text otherwise, or a scripted failure (an HTTP error with OpenAI's error
//! body, or a hang). End-to-end tests and the crash test point
//! `OPENAI_BASE_URL` at it, so our real client and parser run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fault_dice::FaultDice;

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    Good,
    /// This HTTP status with an OpenAI error body.
    Status(u16),
    /// No answer for this long, then 504.
    Hang(Duration),
}

#[derive(Default)]
struct Inner {
    mood: Option<Mood>,
    seen: Vec<Value>,
    /// Draws the requests answered by a failure instead of the mood.
    dice: FaultDice,
    faults: usize,
}

#[derive(Clone)]
pub struct FakeOpenAi {
    /// `http://127.0.0.1:<port>/v1`, for `OPENAI_BASE_URL`.
    pub base_url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeOpenAi {
    pub async fn start(mood: Mood) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}/v1", listener.local_addr()?);
        let inner = Inner { mood: Some(mood), ..Inner::default() };
        let fake = FakeOpenAi { base_url, inner: Arc::new(Mutex::new(inner)) };
        let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(fake)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_mood(&self, mood: Mood) {
        self.lock().mood = Some(mood);
    }

    /// From now on, `rate` of requests fail at random: a 500, a 429 or a hang of `hang`.
    pub fn set_faults(&self, rate: f64, seed: u64) {
        self.lock().dice = FaultDice::new(rate, seed);
    }

    /// Requests answered with an injected fault so far.
    pub fn faults(&self) -> usize {
        self.lock().faults
    }

    /// Every request body received.
    pub fn seen(&self) -> Vec<Value> {
        self.lock().seen.clone()
    }

    pub fn clear_seen(&self) {
        self.lock().seen.clear();
    }

    fn next_mood(&self, req: Value, hang: Duration) -> Mood {
        let mut inner = self.lock();
        inner.seen.push(req);
        let mood = inner.mood.unwrap_or(Mood::Good);
        let Some(kind) = inner.dice.roll(3) else {
            return mood;
        };
        inner.faults += 1;
        match kind {
            0 => Mood::Status(500),
            1 => Mood::Status(429),
            _ => Mood::Hang(hang),
        }
    }
}

fn completion(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_760_000_000, "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish, "logprobs": null }],
        "usage": { "prompt_tokens": 500, "completion_tokens": 20, "total_tokens": 520 }
    })
}

async fn completions(State(fake): State<FakeOpenAi>, Json(req): Json<Value>) -> Response {
    let tools = req.get("tools").is_some();
    match fake.next_mood(req, Duration::from_secs(5)) {
        Mood::Hang(d) => {
            tokio::time::sleep(d).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Mood::Status(code) => {
            let body = json!({"error": {"message": "scripted", "type": "server_error", "param": null, "code": null}});
            (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), Json(body)).into_response()
        }
        Mood::Good if tools => {
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
