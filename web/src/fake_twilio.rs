//! A Twilio REST fake on a local port, answering as Twilio's OpenAPI spec says
//! (201 + message resource; `{code, message, more_info, status}` errors; the
//! list endpoint's page shape). The benchmark and the end-to-end tests point
//! `TWILIO_API_BASE` at it, so our real client, auth and parsers run.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fault_dice::FaultDice;

/// One scripted answer to the next create-message request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Accept (201), after an optional delay.
    Accept { delay: Duration },
    /// Answer this HTTP status with this Twilio error code.
    Error { status: u16, code: i64 },
    /// Store the message, then wait this long before answering (the client times out).
    AcceptThenHang { delay: Duration },
    /// Wait this long without storing, then answer 503 (the client times out first).
    Hang { delay: Duration },
}

/// Random failures of unscripted creates, for fault injection.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// Share of creates that fail, 0.0–1.0.
    pub rate: f64,
    /// How long a hanging create takes (longer than the client's timeout).
    pub hang: Duration,
    pub seed: u64,
}

/// How many creates each kind of injected fault answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FaultCounts {
    pub http_500: usize,
    pub http_429: usize,
    /// Stored, then no answer before the client gave up.
    pub accepted_then_hung: usize,
    /// Not stored, no answer before the client gave up.
    pub hung: usize,
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct Sent {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status_callback: Option<String>,
    pub validity_period: Option<String>,
    pub at: Instant,
    pub created: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct Inner {
    /// Scripted replies, each for one recipient or (None) for anyone.
    script: VecDeque<(Option<String>, Reply)>,
    sent: Vec<Sent>,
    /// Every create request, accepted or not: (To, Body).
    attempts: Vec<(String, String)>,
    list_calls: usize,
    /// How long an unscripted create takes to answer, after the message is stored.
    latency: Duration,
    faults: Option<Faults>,
    dice: FaultDice,
    fault_counts: FaultCounts,
}

impl Inner {
    /// The answer to an unscripted create: a drawn fault, or accept.
    fn unscripted(&mut self) -> Reply {
        let accept = Reply::AcceptThenHang { delay: self.latency };
        let (Some(f), Some(kind)) = (self.faults, self.dice.roll(4)) else {
            return accept;
        };
        let c = &mut self.fault_counts;
        match kind {
            0 => {
                c.http_500 += 1;
                Reply::Error { status: 500, code: 20500 }
            }
            1 => {
                c.http_429 += 1;
                Reply::Error { status: 429, code: 20429 }
            }
            2 => {
                c.accepted_then_hung += 1;
                Reply::AcceptThenHang { delay: f.hang }
            }
            _ => {
                c.hung += 1;
                Reply::Hang { delay: f.hang }
            }
        }
    }
}

#[derive(Clone)]
pub struct FakeTwilio {
    pub addr: SocketAddr,
    pub account_sid: String,
    pub auth_token: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeTwilio {
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let fake = FakeTwilio {
            addr,
            account_sid: "AC00000000000000000000000000000001".into(),
            auth_token: "fake-auth-token".into(),
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(create).get(list))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(fake)
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues answers for the next create requests; afterwards it accepts.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies.into_iter().map(|r| (None, r)));
    }

    /// Queues answers for the next create requests to one number only.
    pub fn script_for(&self, to: &str, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies.into_iter().map(|r| (Some(to.to_owned()), r)));
    }

    /// Unscripted creates store the message at once and answer after `latency`,
    /// as the real API does: a sender that dies meanwhile has sent it without
    /// learning its sid.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// From now on, `faults.rate` of unscripted creates fail: a 500, a 429, a
    /// hang after storing the message, or a hang without storing it, in equal shares.
    pub fn set_faults(&self, faults: Faults) {
        let mut inner = self.lock();
        inner.dice = FaultDice::new(faults.rate, faults.seed);
        inner.faults = Some(faults);
    }

    pub fn fault_counts(&self) -> FaultCounts {
        self.lock().fault_counts
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    pub fn sent_to(&self, to: &str) -> Vec<Sent> {
        self.lock().sent.iter().filter(|s| s.to == to).cloned().collect()
    }

    pub fn attempts(&self) -> Vec<(String, String)> {
        self.lock().attempts.clone()
    }

    pub fn list_calls(&self) -> usize {
        self.lock().list_calls
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn authorized(&self, headers: &HeaderMap, sid: &str) -> bool {
        use base64::Engine;
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.account_sid, self.auth_token));
        sid == self.account_sid
            && headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Basic {expected}"))
    }
}

fn error(status: u16, code: i64, message: &str) -> (StatusCode, Json<Value>) {
    let s = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status});
    (s, Json(body))
}

fn resource(fake: &FakeTwilio, m: &Sent) -> Value {
    json!({
        "account_sid": fake.account_sid, "api_version": "2010-04-01", "body": m.body,
        "date_created": m.created.to_rfc2822(), "date_sent": null, "date_updated": m.created.to_rfc2822(),
        "direction": "outbound-api", "error_code": null, "error_message": null, "from": m.from,
        "messaging_service_sid": null, "num_media": "0", "num_segments": "1", "price": null, "price_unit": "USD",
        "sid": m.sid, "status": "queued", "subresource_uris": {}, "to": m.to,
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{}.json", fake.account_sid, m.sid),
    })
}

async fn create(
    State(fake): State<FakeTwilio>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, Json<Value>) {
    if !fake.authorized(&headers, &sid) {
        return error(401, 20003, "Authenticate");
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (Some(to), Some(from), Some(text)) = (get("To"), get("From"), get("Body")) else {
        return error(400, 21604, "A 'To' phone number is required.");
    };
    let reply = {
        let mut inner = fake.lock();
        inner.attempts.push((to.clone(), text.clone()));
        let pos = inner.script.iter().position(|(who, _)| who.as_ref().is_none_or(|w| *w == to));
        match pos.and_then(|i| inner.script.remove(i)) {
            Some((_, r)) => r,
            None => inner.unscripted(),
        }
    };
    let sent = Sent {
        sid: format!("SM{}", uuid::Uuid::new_v4().simple()),
        to,
        from,
        body: text,
        status_callback: get("StatusCallback"),
        validity_period: get("ValidityPeriod"),
        at: Instant::now(),
        created: chrono::Utc::now(),
    };
    match reply {
        Reply::Error { status, code } => error(status, code, "scripted failure"),
        Reply::Hang { delay } => {
            tokio::time::sleep(delay).await;
            error(503, 20503, "Service Unavailable")
        }
        Reply::Accept { delay } => {
            tokio::time::sleep(delay).await;
            fake.lock().sent.push(sent.clone());
            (StatusCode::CREATED, Json(resource(&fake, &sent)))
        }
        Reply::AcceptThenHang { delay } => {
            fake.lock().sent.push(sent.clone());
            tokio::time::sleep(delay).await;
            (StatusCode::CREATED, Json(resource(&fake, &sent)))
        }
    }
}

async fn list(
    State(fake): State<FakeTwilio>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> (StatusCode, Json<Value>) {
    if !fake.authorized(&headers, &sid) {
        return error(401, 20003, "Authenticate");
    }
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (to, from) = (get("To"), get("From"));
    let mut inner = fake.lock();
    inner.list_calls += 1;
    let messages: Vec<Value> = inner
        .sent
        .iter()
        .rev()
        .filter(|m| to.as_ref().is_none_or(|t| *t == m.to) && from.as_ref().is_none_or(|f| *f == m.from))
        .map(|m| resource(&fake, m))
        .collect();
    let page = json!({
        "messages": messages, "page": 0, "page_size": 50, "start": 0, "end": messages.len(),
        "first_page_uri": "", "next_page_uri": null, "previous_page_uri": null, "uri": "",
    });
    (StatusCode::OK, Json(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_hit_their_share_in_four_equal_kinds_reproducibly() {
        let draw = |seed| {
            let faults = Faults { rate: 0.3, hang: Duration::from_secs(3), seed };
            let mut inner = Inner { faults: Some(faults), dice: FaultDice::new(0.3, seed), ..Inner::default() };
            let answers: Vec<String> = (0..20_000).map(|_| format!("{:?}", inner.unscripted())).collect();
            (answers, inner.fault_counts)
        };
        let (a, counts) = draw(7);
        let failed = counts.http_500 + counts.http_429 + counts.accepted_then_hung + counts.hung;
        assert!((5_400..=6_600).contains(&failed), "{failed} of 20000 failed: {counts:?}");
        for n in [counts.http_500, counts.http_429, counts.accepted_then_hung, counts.hung] {
            assert!((1_100..=1_900).contains(&n), "{counts:?}");
        }
        assert_eq!(draw(7).0, a, "the same seed gives the same faults");
        assert_ne!(draw(8).0, a);
        let mut off = Inner::default();
        assert!(matches!(off.unscripted(), Reply::AcceptThenHang { .. }), "no faults unless set");
    }
}
