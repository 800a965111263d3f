//! Playing Twilio: each caller rings, the dial ends unanswered, and once the
//! text-back reaches the fake Twilio the caller texts back. Webhooks are
//! signed as Twilio signs them and spread round-robin over the web processes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use activities::twilio::signature;

use super::plan::Plan;
use crate::fake_twilio::FakeTwilio;
use crate::twiml;

/// What a customer writes back: plain words the rules engine answers with a question.
const REPLY: &str = "Hi, my AC stopped blowing cold air this morning. Can someone come look at it?";
/// How long a caller waits for the text-back before giving up on replying.
const TEXT_BACK_PATIENCE: Duration = Duration::from_secs(90);
/// Tries per webhook, with doubling pauses (0.2 s … 3 s, about 20 s in all):
/// Twilio retries a failed request too, and a database restart takes seconds.
const ATTEMPTS: usize = 10;
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(3);
/// Every this-many-th caller's call-completed and reply webhooks arrive twice
/// at once, at two different web processes (a Twilio retry racing the original).
const REPEAT_EVERY: usize = 5;

/// Everything a caller needs to talk to the system.
pub struct Callers {
    fake: FakeTwilio,
    http: reqwest::Client,
    webs: Vec<SocketAddr>,
    base_url: String,
    to: String,
    /// Webhook answers with a 5xx status (the database away: fail fast, Twilio retries).
    pub answers_5xx: AtomicUsize,
    /// Slowest webhook answer, µs, whatever its status.
    pub slowest_us: AtomicU64,
}

/// What happened to one caller.
#[derive(Debug, Clone)]
pub struct Played {
    pub caller: String,
    /// The reply text went in (after the text-back arrived).
    pub replied: bool,
    /// Webhooks that failed on every attempt.
    pub webhook_errors: usize,
    /// Its webhooks were delivered twice, concurrently.
    pub repeated: bool,
}

impl Callers {
    pub fn new(fake: &FakeTwilio, webs: Vec<SocketAddr>, base_url: &str, to: &str) -> Self {
        let http = reqwest::Client::builder().pool_max_idle_per_host(32).build().unwrap_or_default();
        Callers {
            fake: fake.clone(),
            http,
            webs,
            base_url: base_url.to_owned(),
            to: to.to_owned(),
            answers_5xx: AtomicUsize::new(0),
            slowest_us: AtomicU64::new(0),
        }
    }

    fn web(&self, i: usize) -> SocketAddr {
        self.webs[i % self.webs.len()]
    }
}

/// The caller number of call `i` (fictional 512-3xx-xxxx numbers).
pub fn caller_number(i: usize) -> String {
    format!("+1512{:07}", 3_000_000 + i)
}

/// Starts every call at its planned moment and waits for all of them.
pub async fn play(callers: Arc<Callers>, plan: &Plan, started: Instant) -> anyhow::Result<Vec<Played>> {
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..plan.workflows {
        tokio::time::sleep_until((started + plan.call_at(i)).into()).await;
        let c = callers.clone();
        calls.spawn(async move { (i, one_caller(&c, i).await) });
    }
    let mut played = calls.join_all().await;
    played.sort_by_key(|(i, _)| *i);
    Ok(played.into_iter().map(|(_, p)| p).collect())
}

async fn one_caller(c: &Callers, i: usize) -> Played {
    let caller = caller_number(i);
    let repeated = i % REPEAT_EVERY == REPEAT_EVERY - 1;
    let failed = |caller| Played { caller, replied: false, webhook_errors: 1, repeated };
    let call_sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let ring = [("CallSid", call_sid.as_str()), ("From", &caller), ("To", &c.to), ("CallStatus", "ringing")];
    let twiml = match c.post(c.web(i), "/webhook/voice/incoming", &ring).await {
        Some(body) => body,
        None => return failed(caller),
    };
    let action = twiml::attr(&twiml, "Dial", "action").unwrap_or_default();
    let path = action.strip_prefix(&c.base_url).unwrap_or("/webhook/voice/call-completed").to_owned();
    let done = [
        ("CallSid", call_sid.as_str()),
        ("From", &caller),
        ("To", &c.to),
        ("CallStatus", "completed"),
        ("DialCallStatus", "no-answer"),
        ("DialBridged", "false"),
        ("DialCallDuration", "0"),
    ];
    if !c.post_from(i + 1, &path, &done, repeated).await {
        return failed(caller);
    }
    if !c.wait_for_text(&caller).await {
        return Played { caller, replied: false, webhook_errors: 0, repeated };
    }
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let text = [("MessageSid", sid.as_str()), ("From", &caller), ("To", &c.to), ("Body", REPLY)];
    let replied = c.post_from(i + 2, "/webhook/sms/incoming", &text, repeated).await;
    Played { caller, replied, webhook_errors: usize::from(!replied), repeated }
}

impl Callers {
    /// Posts to web process `n` (and, when `twice`, to the next one at the
    /// same moment); true if every post succeeded.
    async fn post_from(&self, n: usize, path: &str, params: &[(&str, &str)], twice: bool) -> bool {
        if !twice {
            return self.post(self.web(n), path, params).await.is_some();
        }
        let (a, b) = tokio::join!(self.post(self.web(n), path, params), self.post(self.web(n + 1), path, params));
        a.is_some() && b.is_some()
    }

    async fn wait_for_text(&self, caller: &str) -> bool {
        let deadline = Instant::now() + TEXT_BACK_PATIENCE;
        while Instant::now() < deadline {
            if !self.fake.sent_to(caller).is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Posts a signed webhook; the body on success, None after every attempt failed.
    async fn post(&self, web: SocketAddr, path: &str, params: &[(&str, &str)]) -> Option<String> {
        let owned: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let sig = signature::compute(&self.fake.auth_token, &format!("{}{path}", self.base_url), &owned);
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=ATTEMPTS {
            let t = Instant::now();
            let sent = self
                .http
                .post(format!("http://{web}{path}"))
                .header("X-Twilio-Signature", &sig)
                .form(&owned)
                .send()
                .await;
            let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.slowest_us.fetch_max(us, Ordering::Relaxed);
            if sent.as_ref().is_ok_and(|r| r.status().is_server_error()) {
                self.answers_5xx.fetch_add(1, Ordering::Relaxed);
            }
            match sent {
                Ok(r) if r.status().is_success() => return r.text().await.ok(),
                Ok(r) => eprintln!("crash-test: {path} answered {} (attempt {attempt})", r.status()),
                Err(e) => eprintln!("crash-test: {path} failed: {e} (attempt {attempt})"),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
        None
    }
}
