//! Playing Twilio at the server: signed missed-call webhook pairs and
//! inbound texts over HTTP, at a fixed rate or as a flood, and reading the
//! fake Twilio's record for when each resulting text was requested.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::commands::harness::Webhooks;
use crate::fake_twilio::FakeTwilio;

/// What a texting customer writes: the rules engine answers it with a question.
pub const CUSTOMER_TEXT: &str = "Hi, my AC stopped blowing cold air this morning. Can someone come look at it?";

#[derive(Clone)]
pub struct Twilio {
    client: reqwest::Client,
    addr: SocketAddr,
    base_url: String,
    token: String,
    /// The businesses' Twilio numbers: caller `i` calls `to[i % len]`.
    to: Vec<String>,
}

/// One request sent: the caller, its webhook times, and when the measured one was sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub caller: String,
    pub webhook_ms: Vec<f64>,
    pub t0: Instant,
}

impl Twilio {
    pub fn new(addr: SocketAddr, base_url: &str, token: &str, to: Vec<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        anyhow::ensure!(!to.is_empty(), "no business to call");
        Ok(Twilio { client, addr, base_url: base_url.to_owned(), token: token.to_owned(), to })
    }

    /// Caller number `i` (distinct per call in one run).
    pub fn caller(i: usize) -> String {
        format!("+1512{:07}", 2_000_000 + i)
    }

    /// Incoming, then call-completed with no-answer; `t0` is when call-completed was sent.
    pub async fn missed_call(&self, i: usize) -> anyhow::Result<Sent> {
        let caller = Self::caller(i);
        let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
        let base = vec![
            ("CallSid".to_owned(), sid),
            ("From".to_owned(), caller.clone()),
            ("To".to_owned(), self.to[i % self.to.len()].clone()),
            ("CallStatus".to_owned(), "ringing".to_owned()),
            // Twilio names the caller's state on every webhook; 512 is Austin.
            ("FromState".to_owned(), "TX".to_owned()),
        ];
        let a = self.post("/webhook/voice/incoming", &base).await?;
        let mut done = base;
        done.push(("DialCallStatus".to_owned(), "no-answer".to_owned()));
        done.push(("DialCallDuration".to_owned(), "0".to_owned()));
        let t0 = Instant::now();
        let b = self.post("/webhook/voice/call-completed", &done).await?;
        Ok(Sent { caller, webhook_ms: vec![a, b], t0 })
    }

    /// An inbound text from caller `i`.
    pub async fn text(&self, i: usize) -> anyhow::Result<Sent> {
        let caller = Self::caller(i);
        let params = vec![
            ("MessageSid".to_owned(), format!("SM{}", uuid::Uuid::new_v4().simple())),
            ("From".to_owned(), caller.clone()),
            ("To".to_owned(), self.to[i % self.to.len()].clone()),
            ("Body".to_owned(), CUSTOMER_TEXT.to_owned()),
            ("NumMedia".to_owned(), "0".to_owned()),
            ("FromState".to_owned(), "TX".to_owned()),
        ];
        let t0 = Instant::now();
        let ms = self.post("/webhook/sms/incoming", &params).await?;
        Ok(Sent { caller, webhook_ms: vec![ms], t0 })
    }

    /// Posts a signed webhook; how long it took to answer (ms).
    async fn post(&self, path: &str, params: &[(String, String)]) -> anyhow::Result<f64> {
        let hooks = Webhooks { client: &self.client, addr: self.addr, base_url: &self.base_url, token: &self.token };
        let t = Instant::now();
        hooks.post(path, params).await?;
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    }
}

/// Which request a run sends.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    MissedCall,
    Text,
}

/// Sends `kind` for callers `first..` at `rate` per second for `duration`.
pub async fn at_rate(
    tw: &Arc<Twilio>,
    kind: Kind,
    first: usize,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Vec<Sent>> {
    let n = (rate * duration.as_secs_f64()).round().max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for k in 0..n {
        tokio::time::sleep_until((started + interval.mul_f64(k as f64)).into()).await;
        let tw = tw.clone();
        handles.push(tokio::spawn(async move { send(&tw, kind, first + k).await }));
    }
    let mut sent = Vec::with_capacity(n);
    for h in handles {
        sent.push(h.await??);
    }
    Ok(sent)
}

/// Sends `kind` for callers `first..first + n` with `in_flight` at a time, as fast as they are answered.
pub async fn flood(
    tw: &Arc<Twilio>,
    kind: Kind,
    first: usize,
    n: usize,
    in_flight: usize,
) -> anyhow::Result<Vec<Sent>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight.max(1)));
    let mut handles = Vec::with_capacity(n);
    for k in 0..n {
        let permit = permits.clone().acquire_owned().await?;
        let tw = tw.clone();
        handles.push(tokio::spawn(async move {
            let r = send(&tw, kind, first + k).await;
            drop(permit);
            r
        }));
    }
    let mut sent = Vec::with_capacity(n);
    for h in handles {
        sent.push(h.await??);
    }
    Ok(sent)
}

async fn send(tw: &Twilio, kind: Kind, i: usize) -> anyhow::Result<Sent> {
    match kind {
        Kind::MissedCall => tw.missed_call(i).await,
        Kind::Text => tw.text(i).await,
    }
}

/// For each sent request, the time from its `t0` to the fake Twilio receiving
/// the `nth` (1-based) text to that caller; waits up to `patience` for all of
/// them. Returns the latencies (ms) and when the last one arrived.
pub async fn wait_for_texts(
    fake: &FakeTwilio,
    sent: &[Sent],
    nth: usize,
    patience: Duration,
) -> (Vec<f64>, Option<Instant>) {
    let arrived = poll_until(patience, || answered(fake, sent, nth), |a| a.len() == sent.len()).await;
    let last = arrived.iter().map(|(_, at)| *at).max();
    (arrived.iter().map(|(t0, at)| at.saturating_duration_since(*t0).as_secs_f64() * 1000.0).collect(), last)
}

/// Reads `read` every 100 ms until `enough` says so or `patience` runs out;
/// returns the last reading.
async fn poll_until<T>(patience: Duration, read: impl Fn() -> T, enough: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + patience;
    loop {
        let now = read();
        if enough(&now) || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// For each answered request: when it was sent (`t0`) and when the fake
/// Twilio received the `nth` text to its caller.
pub fn answered(fake: &FakeTwilio, sent: &[Sent], nth: usize) -> Vec<(Instant, Instant)> {
    let mut by_caller: HashMap<String, Vec<Instant>> = HashMap::new();
    for s in fake.sent() {
        by_caller.entry(s.to).or_default().push(s.at);
    }
    sent.iter().filter_map(|s| Some((s.t0, *by_caller.get(&s.caller)?.get(nth - 1)?))).collect()
}

/// For each request whose missed-call alert reached the owner: when the
/// call-completed webhook was sent (`t0`) and when the fake Twilio received
/// the alert naming that caller (`Missed call from (512) 555-0123 at …`).
pub fn owner_alerted(fake: &FakeTwilio, owner: &str, sent: &[Sent]) -> Vec<(Instant, Instant)> {
    let mut by_caller: HashMap<String, Instant> = HashMap::new();
    for s in fake.sent_to(owner) {
        let named = s.body.strip_prefix(MISSED_CALL_ALERT).and_then(|rest| rest.trim_start().split(" at ").next());
        if let Some(shown) = named {
            by_caller.entry(shown.to_owned()).or_insert(s.at);
        }
    }
    sent.iter()
        .filter_map(|s| {
            let shown = activities::domain::PhoneNumber::parse(&s.caller).ok()?.display_national();
            Some((s.t0, *by_caller.get(&shown)?))
        })
        .collect()
}

/// [`owner_alerted`], waiting up to `patience` for every request's alert.
pub async fn wait_for_owner_alerts(
    fake: &FakeTwilio,
    owner: &str,
    sent: &[Sent],
    patience: Duration,
) -> Vec<(Instant, Instant)> {
    poll_until(patience, || owner_alerted(fake, owner, sent), |a| a.len() == sent.len()).await
}

/// How the owner's missed-call alert begins (`prompts/notify/missed_call.sms.txt.j2`).
pub const MISSED_CALL_ALERT: &str = "Missed call from";

/// Waits until the owner has `n` texts starting with `prefix`; when the last came.
pub async fn wait_for_owner(
    fake: &FakeTwilio,
    owner: &str,
    prefix: &str,
    n: usize,
    patience: Duration,
) -> (usize, Option<Instant>) {
    let read = || -> Vec<Instant> {
        fake.sent_to(owner).into_iter().filter(|s| s.body.starts_with(prefix)).map(|s| s.at).collect()
    };
    let alerts = poll_until(patience, read, |a| a.len() >= n).await;
    (alerts.len(), alerts.into_iter().max())
}

#[cfg(test)]
mod tests {
    use activities::domain::PhoneNumber;
    use activities::twilio::{NewMessage, TwilioClient};

    use super::*;

    async fn text(client: &TwilioClient, to: &str, body: &str) {
        let (to, from) = (PhoneNumber::parse(to).expect("to"), PhoneNumber::parse("+15125550199").expect("from"));
        let msg = NewMessage { to: &to, from: &from, body, status_callback: None, validity_period: None };
        client.create_message(&msg).await.expect("sent");
    }

    #[tokio::test]
    async fn each_call_is_matched_to_the_alert_that_names_its_caller() {
        let fake = FakeTwilio::start().await.expect("fake twilio");
        let client = TwilioClient::new(&fake.base_url(), &fake.account_sid, &fake.auth_token, Duration::from_secs(5));
        let owner = "+15125550142";
        let t0 = Instant::now();
        let calls: Vec<Sent> = (0..3).map(|i| Sent { caller: Twilio::caller(i), webhook_ms: Vec::new(), t0 }).collect();
        text(&client, owner, "Missed call from (512) 200-0002 at 9:14 AM. We texted them back.").await;
        text(&client, owner, "New qualified lead: (512) 200-0000").await;
        text(&client, "+15122000000", "Missed call from (512) 200-0000, sent to the caller, not the owner").await;
        text(&client, owner, "Missed call from (512) 200-0000 at 9:15 AM. We texted them back.").await;
        let alerted = owner_alerted(&fake, owner, &calls);
        let at = |body_has: &str| {
            fake.sent_to(owner)
                .into_iter()
                .find(|s| s.body.starts_with("Missed") && s.body.contains(body_has))
                .unwrap()
                .at
        };
        assert_eq!(alerted, vec![(t0, at("(512) 200-0000")), (t0, at("(512) 200-0002"))], "caller 1 got no alert");
    }
}
