//! `TestApp`: the real service on port 0, a fresh database per test, and a
//! fake Twilio server, with typed helpers to play Twilio's side of a call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveTime;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use activities::domain::{PhoneNumber, Zone};
use activities::notify::NotificationPrefs;
use activities::store::businesses::{self, Business, NewBusiness};
use activities::store::notifications;
use activities::twilio::signature;
use web::app::{self, Mode, Running};
use web::fake_twilio::{FakeTwilio, Sent};
use web::settings::Settings;

pub const BASE_URL: &str = "https://hooks.callrecover.test";
pub const TWILIO_NUMBER: &str = "+15125550100";
pub const BUSINESS_PHONE: &str = "+15125550199";
pub const OWNER_PHONE: &str = "+15125550142";
pub const BUSINESS_NAME: &str = "Smith's Heating & Air";

pub struct TestApp {
    pub pool: PgPool,
    pub fake: FakeTwilio,
    pub settings: Settings,
    pub business: Business,
    pub client: reqwest::Client,
    workers: Option<WorkerProcess>,
    /// The web process's address (web may run in a separate `Running`).
    pub addr: std::net::SocketAddr,
    web: Option<Running>,
}

/// Settings for tests: fast polls and short retries so nothing waits long.
pub fn test_settings(fake: &FakeTwilio, extra: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = [
        ("DATABASE_URL", "postgres://unused/unused".to_owned()),
        ("BIND", "127.0.0.1:0".to_owned()),
        ("BASE_URL", BASE_URL.to_owned()),
        ("TWILIO_ACCOUNT_SID", fake.account_sid.clone()),
        ("TWILIO_AUTH_TOKEN", fake.auth_token.clone()),
        ("TWILIO_API_BASE", fake.base_url()),
        ("TWILIO_TIMEOUT_MS", "1500".to_owned()),
        ("WORKER_POLL_MS", "100".to_owned()),
        ("WORKER_HEARTBEAT_MS", "1000".to_owned()),
        ("SMS_RETRY_BASE_MS", "50".to_owned()),
        ("SMS_RETRY_MAX_MS", "200".to_owned()),
        ("SMS_SEND_LEASE_MS", "300".to_owned()),
        // The hourly summary would text the owner mid-test after 18:00 Chicago.
        ("DAILY_SUMMARY", "off".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    Settings::from_lookup(|k| env.get(k).cloned()).expect("test settings")
}

impl TestApp {
    /// Web and workers in one process.
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, Mode { web: true, workers: true }, &[]).await
    }

    pub async fn spawn_with(test_pool: PgPool, mode: Mode, extra: &[(&str, &str)]) -> Self {
        // Our own pool on the test's database: the sqlx::test pool allows only 5 connections.
        let opts = (*test_pool.connect_options()).clone();
        let pool = PgPoolOptions::new().max_connections(20).connect_with(opts).await.expect("pool");
        workflows::migrate(&pool).await.expect("migrate");
        let fake = FakeTwilio::start().await.expect("fake twilio");
        let settings = test_settings(&fake, extra);
        let business = businesses::insert_business(&pool, &demo_business(TWILIO_NUMBER)).await.expect("business");
        // No quiet hours, so owner alerts go out whenever the suite runs; quiet-hours tests set their own.
        let awake = NotificationPrefs { quiet_start: NaiveTime::MIN, quiet_end: NaiveTime::MIN, ..Default::default() };
        notifications::set_prefs(&pool, business.id, &awake).await.expect("prefs");
        let web_mode = Mode { web: true, workers: false };
        let web = app::start(settings.clone(), pool.clone(), web_mode).await.expect("web");
        let addr = web.addr.expect("bound");
        let workers = if mode.workers { Some(WorkerProcess::start(&settings, &pool).await) } else { None };
        TestApp { pool, fake, settings, business, client: reqwest::Client::new(), workers, addr, web: Some(web) }
    }

    /// Starts a fresh set of workers (after a kill).
    pub async fn start_workers(&mut self) {
        assert!(self.workers.is_none(), "workers already running");
        self.workers = Some(WorkerProcess::start(&self.settings, &self.pool).await);
    }

    /// Kills the workers as a crash would: their runtime, heartbeats and
    /// database connections die with in-flight ticks mid-step.
    pub fn kill_workers(&mut self) {
        if let Some(w) = self.workers.take() {
            w.kill();
        }
    }

    pub async fn stop(mut self) {
        self.kill_workers();
        if let Some(w) = self.web.take() {
            let _ = w.stop().await;
        }
        self.pool.close().await;
    }

    /// Posts a form to one of our webhooks, signed as Twilio would sign it.
    pub async fn post_twilio(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let owned: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let sig = signature::compute(&self.fake.auth_token, &format!("{BASE_URL}{path}"), &owned);
        self.client
            .post(format!("http://{}{path}", self.addr))
            .header("X-Twilio-Signature", sig)
            .form(&owned)
            .send()
            .await
            .expect("request")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The incoming-call webhook; returns the TwiML.
    pub async fn ring(&self, call_sid: &str, caller: &str) -> String {
        let r = self
            .post_twilio(
                "/webhook/voice/incoming",
                &[("CallSid", call_sid), ("From", caller), ("To", TWILIO_NUMBER), ("CallStatus", "ringing")],
            )
            .await;
        assert_eq!(r.status(), 200);
        r.text().await.expect("body")
    }

    /// The `<Dial action>` callback with this status; returns the TwiML.
    pub async fn dial_ended(
        &self,
        action_path: &str,
        call_sid: &str,
        caller: &str,
        status: &str,
        bridged: &str,
    ) -> String {
        let r = self
            .post_twilio(
                action_path,
                &[
                    ("CallSid", call_sid),
                    ("From", caller),
                    ("To", TWILIO_NUMBER),
                    ("CallStatus", "completed"),
                    ("DialCallStatus", status),
                    ("DialBridged", bridged),
                    ("DialCallDuration", if bridged == "true" { "42" } else { "0" }),
                ],
            )
            .await;
        assert_eq!(r.status(), 200, "{action_path}");
        r.text().await.expect("body")
    }

    /// Ring, then end the dial unanswered with `status`.
    pub async fn missed_call(&self, caller: &str, status: &str) -> String {
        let sid = new_call_sid();
        let twiml = self.ring(&sid, caller).await;
        let action = path_of(&attr(&twiml, "Dial", "action").expect("action"));
        self.dial_ended(&action, &sid, caller, status, "false").await;
        sid
    }

    /// Waits until the fake Twilio has `n` messages to `to`, or the timeout passes.
    pub async fn wait_for_sms(&self, to: &str, n: usize, timeout: Duration) -> Vec<Sent> {
        let deadline = Instant::now() + timeout;
        loop {
            let sent = self.fake.sent_to(to);
            if sent.len() >= n || Instant::now() > deadline {
                return sent;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until no run has work due (every run waiting on a timer or finished).
    pub async fn settle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM workflow_runs
                 WHERE status = 'active' OR (status = 'waiting' AND wake_at <= now())",
            )
            .fetch_one(&self.pool)
            .await
            .expect("count");
            if busy == 0 || Instant::now() > deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.expect(sql)
    }
}

/// Workers in their own runtime with their own pool: killing it is as close
/// to killing a process as one test binary can get.
pub struct WorkerProcess {
    runtime: tokio::runtime::Runtime,
}

impl WorkerProcess {
    pub async fn start(settings: &Settings, pool: &PgPool) -> Self {
        let settings = settings.clone();
        let opts = (*pool.connect_options()).clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            let running: Running = runtime.block_on(async move {
                let pool = PgPoolOptions::new().max_connections(20).connect_with(opts).await.expect("worker pool");
                app::start(settings, pool, Mode { web: false, workers: true }).await.expect("workers")
            });
            // The workers keep running on the runtime's threads; the handle is not needed.
            std::mem::forget(running);
            let _ = tx.send(runtime);
        });
        WorkerProcess { runtime: rx.await.expect("worker runtime") }
    }

    pub fn kill(self) {
        self.runtime.shutdown_background();
    }
}

pub fn demo_business(twilio_number: &str) -> NewBusiness {
    NewBusiness {
        name: BUSINESS_NAME.into(),
        owner_name: "John Smith".into(),
        owner_email: "john@example.com".into(),
        owner_phone: PhoneNumber::parse(OWNER_PHONE).expect("phone"),
        business_phone: PhoneNumber::parse(BUSINESS_PHONE).expect("phone"),
        twilio_number: PhoneNumber::parse(twilio_number).expect("phone"),
        timezone: Zone::parse("America/Chicago").expect("zone"),
        avg_job_value: rust_decimal_350(),
        services: vec!["AC Repair".into(), "Heating".into()],
        ai_greeting: None,
        call_screening: true,
        appointment_minutes: 90,
    }
}

fn rust_decimal_350() -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(35000, 2)
}

pub fn new_call_sid() -> String {
    format!("CA{}", uuid::Uuid::new_v4().simple())
}

/// A caller number (fictional 555 exchange) that no other call of this test
/// process has used, up to 10,000 of them: random ones collided about once in
/// fifty 20-caller tests, and a second call from the same number joins the
/// first one's conversation.
pub fn new_caller() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = *START.get_or_init(|| (uuid::Uuid::new_v4().as_u128() % 10_000) as u32);
    let n = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 10_000;
    format!("+1737555{n:04}")
}

/// The path and query of one of our absolute URLs.
pub fn path_of(url: &str) -> String {
    url.strip_prefix(BASE_URL).unwrap_or(url).to_owned()
}

pub use web::twiml::attr;

/// The text inside the first `<element>`.
pub fn text_of(xml: &str, element: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == element.as_bytes() => inside = true,
            quick_xml::events::Event::Text(t) if inside => return t.unescape().ok().map(|v| v.into_owned()),
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

/// Whether the document contains an `<element>` at all.
pub fn has(xml: &str, element: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.name().as_ref() == element.as_bytes() =>
            {
                return true
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return false,
            _ => {}
        }
    }
}

impl TestApp {
    /// Moves the business to a fixed-offset zone where it is now about noon,
    /// so daytime-only texts (follow-ups) may go out whenever the test runs.
    pub async fn set_daytime_zone(&self) {
        use chrono::Timelike;
        let hour = i32::try_from(chrono::Utc::now().hour()).expect("hour");
        let mut offset = 12 - hour;
        if offset > 14 {
            offset -= 24;
        }
        if offset < -12 {
            offset += 24;
        }
        // Etc/GMT signs are inverted: Etc/GMT-5 is UTC+5.
        let zone = if offset >= 0 { format!("Etc/GMT-{offset}") } else { format!("Etc/GMT+{}", -offset) };
        sqlx::query("UPDATE businesses SET timezone = $1").bind(zone).execute(&self.pool).await.expect("zone");
    }

    /// The engine handle, as the web layer holds it.
    pub async fn workflows(&self) -> workflows::Workflows {
        workflows::Workflows::new(self.pool.clone(), app::engine_config(&self.settings).expect("engine config"))
            .await
            .expect("workflows")
    }

    /// Pretends the run's wake-up has come due, for the timer sweep to find.
    pub async fn make_wake_due(&self, run_id: activities::domain::RunId) {
        sqlx::query("UPDATE workflow_runs SET wake_at = now() - interval '1 second' WHERE id = $1")
            .bind(run_id)
            .execute(&self.pool)
            .await
            .expect("wake due");
    }

    /// Pretends the run's follow-up timer has come due.
    pub async fn make_follow_up_due(&self, run_id: activities::domain::RunId) {
        sqlx::query("UPDATE workflow_runs SET state = jsonb_set(state, '{next_at}', to_jsonb(now() - interval '1 second')) WHERE id = $1")
            .bind(run_id)
            .execute(&self.pool)
            .await
            .expect("due");
    }
}

impl TestApp {
    /// A customer's text, as Twilio posts it; returns the MessageSid.
    pub async fn text(&self, from: &str, body: &str) -> String {
        let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
        self.text_with(&sid, from, body, &[]).await;
        sid
    }

    pub async fn text_with(&self, sid: &str, from: &str, body: &str, extra: &[(&str, &str)]) {
        let mut params = vec![("MessageSid", sid), ("From", from), ("To", TWILIO_NUMBER), ("Body", body)];
        params.extend_from_slice(extra);
        let r = self.post_twilio("/webhook/sms/incoming", &params).await;
        assert_eq!(r.status(), 200, "sms webhook");
    }

    /// No owner window: the AI answers at once.
    pub async fn owner_window(&self, seconds: i32, status: &str) {
        sqlx::query("UPDATE businesses SET owner_window_seconds = $1, owner_status = $2")
            .bind(seconds)
            .bind(status)
            .execute(&self.pool)
            .await
            .expect("owner window");
    }

    /// Open every day, all day, so owner-window tests do not depend on the clock.
    pub async fn always_open(&self) {
        let day = serde_json::json!({"open": "00:00", "close": "23:59"});
        let hours = serde_json::json!({
            "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
            "friday": day, "saturday": day, "sunday": day,
        });
        sqlx::query("UPDATE businesses SET business_hours = $1").bind(hours).execute(&self.pool).await.expect("hours");
    }

    /// A caller who missed us and got the text-back.
    pub async fn texted_back_caller(&self) -> String {
        let caller = new_caller();
        self.missed_call(&caller, "no-answer").await;
        assert_eq!(self.wait_for_sms(&caller, 1, Duration::from_secs(10)).await.len(), 1);
        self.settle(Duration::from_secs(10)).await;
        caller
    }
}
