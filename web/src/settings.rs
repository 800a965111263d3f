//! Typed configuration from environment variables, validated once at start.
//! Every error names the variable at fault.

use std::net::SocketAddr;
use std::time::Duration;

/// Twilio credentials; without them the simulator transport is used.
#[derive(Clone)]
pub struct TwilioCreds {
    pub account_sid: String,
    pub auth_token: String,
}

impl std::fmt::Debug for TwilioCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioCreds").field("account_sid", &self.account_sid).field("auth_token", &"***").finish()
    }
}

/// A secret value that never appears in `Debug` output.
#[derive(Clone, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    /// The public URL Twilio calls; signatures are computed against it.
    pub base_url: String,
    pub bind: SocketAddr,
    pub twilio: Option<TwilioCreds>,
    pub twilio_api_base: String,
    pub twilio_timeout: Duration,
    /// Signs and verifies webhooks when running on the simulator.
    pub simulator_token: Secret,
    pub db_max_connections: u32,
    pub worker_poll: Duration,
    pub worker_concurrency: usize,
    pub worker_heartbeat: Duration,
    /// `TICK_RESCUE_AFTER_MS` (60 s): a tick in progress this long is retried under a new token.
    pub tick_rescue_after: Duration,
    /// `EAGER_TICKS` (on/off, default on): a started or signalled run is handed
    /// straight to a worker by NOTIFY, not through underway's queue.
    pub eager_ticks: bool,
    /// `EAGER_LEASE_MS` (5 s, at least 100 ms): how long a handed-over run may go untouched
    /// before the timer sweep gives it to underway instead.
    pub eager_lease: Duration,
    /// `EAGER_BATCH` (8, 1 to 64): most handed-over conversation runs a worker
    /// ticks together, their rounds sharing one transaction (1: each alone).
    pub eager_batch: usize,
    pub sms_retry_base: Duration,
    pub sms_retry_max: Duration,
    pub sms_max_attempts: i32,
    pub sms_send_lease: Duration,
    pub text_back_validity_secs: i32,
    /// The OpenAI-compatible model; None runs the built-in rules engine alone.
    pub openai: Option<OpenAiSettings>,
    /// Signs the one-tap takeover links in owner alerts (`LINK_SECRET`; by
    /// default derived from the webhook token, so every node agrees).
    pub link_secret: Secret,
    /// Follow-up delays after our last message; None = off.
    pub follow_up_delays: Option<[Duration; 3]>,
    /// The calendar API's per-key token bucket: refill per minute, and burst.
    pub calendar_rate: RateSettings,
    /// Review requests: the request after a job is completed, then the
    /// reminder after the request (`REVIEW_DELAYS`, default `2h,48h`).
    pub review_delays: [Duration; 2],
    /// `DAILY_SUMMARY` (on/off, default on): the owners' 18:00 summary texts and emails.
    pub daily_summary: bool,
    /// The SMTP server for owner emails; None keeps them in the outbox as `stored`.
    pub smtp: Option<SmtpSettings>,
    pub log_format: LogFormat,
}

/// A token bucket: `per_min` requests a minute on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSettings {
    pub per_min: u32,
    pub burst: u32,
}

/// `SMTP_URL` (`smtp://user:pass@host:25`, `smtp://host:587?tls=required`,
/// `smtps://host:465`), `SMTP_FROM` and `SMTP_TIMEOUT_MS`.
#[derive(Clone)]
pub struct SmtpSettings {
    pub url: Secret,
    pub from: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings").field("from", &self.from).field("timeout", &self.timeout).finish()
    }
}

impl SmtpSettings {
    /// The mailer these settings describe (checked once at start).
    pub fn mailer(&self) -> Result<activities::notify::Mailer, activities::notify::MailConfigError> {
        activities::notify::Mailer::new(&self.url.0, &self.from, self.timeout)
    }
}

/// `OPENAI_API_KEY` (+ `OPENAI_BASE_URL` for any compatible server, `OPENAI_MODEL`, `OPENAI_TIMEOUT_MS`).
#[derive(Clone)]
pub struct OpenAiSettings {
    pub api_key: String,
    pub base_url: String,
    pub model: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings").field("base_url", &self.base_url).field("model", &self.model).finish()
    }
}

/// A bad or missing variable, by name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error in {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { var, message: message.into() }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests can pass a map.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let database_url = get("DATABASE_URL")
            .ok_or_else(|| err("DATABASE_URL", "is not set (e.g. postgres://postgres@127.0.0.1:5432/callrecover)"))?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(err("DATABASE_URL", "must start with postgres:// or postgresql://"));
        }
        let bind: SocketAddr = parse(&get, "BIND", "127.0.0.1:8080")?;
        let base_url = base_url(get("BASE_URL"), bind)?;
        let twilio = twilio(&get)?;
        let twilio_api_base = get("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into());
        if !twilio_api_base.starts_with("http://") && !twilio_api_base.starts_with("https://") {
            return Err(err("TWILIO_API_BASE", "must be an http(s) URL"));
        }
        let log_format = match get("LOG_FORMAT").as_deref().unwrap_or("pretty") {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => return Err(err("LOG_FORMAT", format!("{other:?} is not pretty or json"))),
        };
        Ok(Self {
            database_url,
            base_url,
            bind,
            twilio,
            twilio_api_base: twilio_api_base.trim_end_matches('/').to_owned(),
            twilio_timeout: millis(&get, "TWILIO_TIMEOUT_MS", 10_000)?,
            simulator_token: Secret(get("SIMULATOR_TOKEN").unwrap_or_else(|| "callrecover-simulator".into())),
            db_max_connections: parse(&get, "DATABASE_MAX_CONNECTIONS", "40")?,
            worker_poll: millis(&get, "WORKER_POLL_MS", 1_000)?,
            worker_concurrency: parse(&get, "WORKER_CONCURRENCY", "16")?,
            worker_heartbeat: millis(&get, "WORKER_HEARTBEAT_MS", 5_000)?,
            tick_rescue_after: millis(&get, "TICK_RESCUE_AFTER_MS", 60_000)?,
            eager_ticks: switch(&get, "EAGER_TICKS", true)?,
            eager_lease: millis(&get, "EAGER_LEASE_MS", 5_000)?.max(Duration::from_millis(100)),
            eager_batch: parse::<usize>(&get, "EAGER_BATCH", "8")?.clamp(1, 64),
            sms_retry_base: millis(&get, "SMS_RETRY_BASE_MS", 2_000)?,
            sms_retry_max: millis(&get, "SMS_RETRY_MAX_MS", 300_000)?,
            sms_max_attempts: parse(&get, "SMS_MAX_ATTEMPTS", "8")?,
            sms_send_lease: millis(&get, "SMS_SEND_LEASE_MS", 30_000)?,
            text_back_validity_secs: parse(&get, "TEXT_BACK_VALIDITY_SECS", "900")?,
            openai: openai(&get)?,
            follow_up_delays: follow_ups(get("FOLLOW_UP_DELAYS"))?,
            review_delays: review_delays(get("REVIEW_DELAYS"))?,
            daily_summary: switch(&get, "DAILY_SUMMARY", true)?,
            link_secret: Secret(get("LINK_SECRET").unwrap_or_default()),
            calendar_rate: RateSettings {
                per_min: at_least_one(parse(&get, "CALENDAR_RATE_PER_MIN", "60")?, "CALENDAR_RATE_PER_MIN")?,
                burst: at_least_one(parse(&get, "CALENDAR_RATE_BURST", "20")?, "CALENDAR_RATE_BURST")?,
            },
            smtp: smtp(&get)?,
            log_format,
        })
    }

    /// The key one-tap links are signed with.
    pub fn link_key(&self) -> Vec<u8> {
        if self.link_secret.0.is_empty() {
            format!("callrecover-links:{}", self.webhook_token()).into_bytes()
        } else {
            self.link_secret.0.clone().into_bytes()
        }
    }

    /// The token webhooks are signed with: Twilio's, or the simulator's.
    pub fn webhook_token(&self) -> &str {
        match &self.twilio {
            Some(t) => &t.auth_token,
            None => &self.simulator_token.0,
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base_url, path_and_query)
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
) -> Result<T, ConfigError> {
    let raw = get(var).unwrap_or_else(|| default.to_owned());
    raw.parse().map_err(|_| err(var, format!("{raw:?} is not valid")))
}

fn at_least_one(n: u32, var: &'static str) -> Result<u32, ConfigError> {
    if n == 0 {
        return Err(err(var, "must be at least 1"));
    }
    Ok(n)
}

/// An on/off setting.
fn switch(get: &impl Fn(&str) -> Option<String>, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("on" | "true" | "1" | "yes") => Ok(true),
        Some("off" | "false" | "0" | "no") => Ok(false),
        Some(other) => Err(err(var, format!("{other:?} is not on or off"))),
    }
}

fn millis(get: &impl Fn(&str) -> Option<String>, var: &'static str, default: u64) -> Result<Duration, ConfigError> {
    let ms: u64 = parse(get, var, &default.to_string())?;
    Ok(Duration::from_millis(ms))
}

fn base_url(raw: Option<String>, bind: SocketAddr) -> Result<String, ConfigError> {
    let url = raw.unwrap_or_else(|| {
        let host = if bind.ip().is_unspecified() { "127.0.0.1".to_owned() } else { bind.ip().to_string() };
        format!("http://{host}:{}", bind.port())
    });
    let url = url.trim_end_matches('/').to_owned();
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('?') && !host.contains('#') && !host.contains(' ') => Ok(url),
        _ => Err(err(
            "BASE_URL",
            format!("{url:?} is not an http(s) URL without query (e.g. https://calls.example.com)"),
        )),
    }
}

/// `2h,24h,72h` (the default), `off`, or any three increasing delays (`1s,2s,3s` in tests).
fn follow_ups(raw: Option<String>) -> Result<Option<[Duration; 3]>, ConfigError> {
    let raw = raw.unwrap_or_else(|| "2h,24h,72h".into());
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || err("FOLLOW_UP_DELAYS", format!("{raw:?} is not three increasing delays like 2h,24h,72h (or off)"));
    let parts: Vec<Duration> = raw.split(',').map(|p| span(p.trim())).collect::<Option<_>>().ok_or_else(bad)?;
    match parts.as_slice() {
        [a, b, c] if a < b && b < c => Ok(Some([*a, *b, *c])),
        _ => Err(bad()),
    }
}

/// `2h,48h` (the default) or any two delays (`300ms,600ms` in tests): the
/// request after the job, then the reminder after the request.
fn review_delays(raw: Option<String>) -> Result<[Duration; 2], ConfigError> {
    let raw = raw.unwrap_or_else(|| "2h,48h".into());
    let bad = || err("REVIEW_DELAYS", format!("{raw:?} is not two delays like 2h,48h (each at most 8760h)"));
    let parts: Vec<Duration> = raw.split(',').map(|p| span(p.trim())).collect::<Option<_>>().ok_or_else(bad)?;
    match parts.as_slice() {
        [a, b] if !b.is_zero() && a.max(b) <= &Duration::from_secs(365 * 86_400) => Ok([*a, *b]),
        _ => Err(bad()),
    }
}

/// `500ms`, `30s`, `15m`, `2h`.
fn span(p: &str) -> Option<Duration> {
    let (num, unit) = p.split_at(p.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

fn openai(get: &impl Fn(&str) -> Option<String>) -> Result<Option<OpenAiSettings>, ConfigError> {
    let Some(api_key) = get("OPENAI_API_KEY") else {
        return Ok(None);
    };
    let base_url = get("OPENAI_BASE_URL").unwrap_or_else(|| "https://api.openai.com/v1".into());
    if !base_url.starts_with("http://") && !base_url.starts_with("https://") {
        return Err(err("OPENAI_BASE_URL", "must be an http(s) URL (e.g. http://localhost:11434/v1 for Ollama)"));
    }
    let model = get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".into());
    let timeout = millis(get, "OPENAI_TIMEOUT_MS", 8_000)?;
    Ok(Some(OpenAiSettings { api_key, base_url, model, timeout }))
}

fn smtp(get: &impl Fn(&str) -> Option<String>) -> Result<Option<SmtpSettings>, ConfigError> {
    let from = get("SMTP_FROM").unwrap_or_else(|| "CallRecover <alerts@localhost>".into());
    let timeout = millis(get, "SMTP_TIMEOUT_MS", 15_000)?;
    let Some(url) = get("SMTP_URL") else {
        return Ok(None);
    };
    let smtp = SmtpSettings { url: Secret(url), from, timeout };
    match smtp.mailer() {
        Ok(_) => Ok(Some(smtp)),
        Err(e @ activities::notify::MailConfigError::Url(_)) => Err(err("SMTP_URL", e.to_string())),
        Err(e @ activities::notify::MailConfigError::From(_)) => Err(err("SMTP_FROM", e.to_string())),
    }
}

fn twilio(get: &impl Fn(&str) -> Option<String>) -> Result<Option<TwilioCreds>, ConfigError> {
    match (get("TWILIO_ACCOUNT_SID"), get("TWILIO_AUTH_TOKEN")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(err("TWILIO_AUTH_TOKEN", "is required when TWILIO_ACCOUNT_SID is set")),
        (None, Some(_)) => Err(err("TWILIO_ACCOUNT_SID", "is required when TWILIO_AUTH_TOKEN is set")),
        (Some(sid), Some(token)) => {
            let valid = sid.len() == 34 && sid.starts_with("AC") && sid[2..].chars().all(|c| c.is_ascii_hexdigit());
            if !valid {
                return Err(err("TWILIO_ACCOUNT_SID", "must be AC followed by 32 hex characters"));
            }
            Ok(Some(TwilioCreds { account_sid: sid, auth_token: token }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_need_only_a_database_url() {
        let s = load(&[("DATABASE_URL", "postgres://localhost/x")]).unwrap();
        assert_eq!(s.base_url, "http://127.0.0.1:8080");
        assert!(s.twilio.is_none());
        assert_eq!(s.webhook_token(), "callrecover-simulator");
        assert_eq!(s.calendar_rate, RateSettings { per_min: 60, burst: 20 });
    }

    #[test]
    fn each_bad_variable_is_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "DATABASE_URL"),
            (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
            (&[("DATABASE_URL", "postgres://x"), ("BIND", "nope")], "BIND"),
            (&[("DATABASE_URL", "postgres://x"), ("BASE_URL", "ftp://x")], "BASE_URL"),
            (&[("DATABASE_URL", "postgres://x"), ("TWILIO_ACCOUNT_SID", "AC123")], "TWILIO_AUTH_TOKEN"),
            (
                &[("DATABASE_URL", "postgres://x"), ("TWILIO_ACCOUNT_SID", "AC123"), ("TWILIO_AUTH_TOKEN", "t")],
                "TWILIO_ACCOUNT_SID",
            ),
            (&[("DATABASE_URL", "postgres://x"), ("TWILIO_API_BASE", "api.twilio.com")], "TWILIO_API_BASE"),
            (&[("DATABASE_URL", "postgres://x"), ("WORKER_POLL_MS", "-1")], "WORKER_POLL_MS"),
            (&[("DATABASE_URL", "postgres://x"), ("LOG_FORMAT", "xml")], "LOG_FORMAT"),
            (&[("DATABASE_URL", "postgres://x"), ("CALENDAR_RATE_PER_MIN", "0")], "CALENDAR_RATE_PER_MIN"),
            (&[("DATABASE_URL", "postgres://x"), ("CALENDAR_RATE_BURST", "lots")], "CALENDAR_RATE_BURST"),
            (&[("DATABASE_URL", "postgres://x"), ("FOLLOW_UP_DELAYS", "2h,1h,72h")], "FOLLOW_UP_DELAYS"),
            (&[("DATABASE_URL", "postgres://x"), ("FOLLOW_UP_DELAYS", "soon")], "FOLLOW_UP_DELAYS"),
            (&[("DATABASE_URL", "postgres://x"), ("REVIEW_DELAYS", "2h")], "REVIEW_DELAYS"),
            (&[("DATABASE_URL", "postgres://x"), ("REVIEW_DELAYS", "2h,48h,72h")], "REVIEW_DELAYS"),
            (&[("DATABASE_URL", "postgres://x"), ("REVIEW_DELAYS", "2h,0s")], "REVIEW_DELAYS"),
            (&[("DATABASE_URL", "postgres://x"), ("DAILY_SUMMARY", "sometimes")], "DAILY_SUMMARY"),
            (
                &[("DATABASE_URL", "postgres://x"), ("OPENAI_API_KEY", "k"), ("OPENAI_BASE_URL", "localhost")],
                "OPENAI_BASE_URL",
            ),
            (
                &[("DATABASE_URL", "postgres://x"), ("OPENAI_API_KEY", "k"), ("OPENAI_TIMEOUT_MS", "soon")],
                "OPENAI_TIMEOUT_MS",
            ),
            (&[("DATABASE_URL", "postgres://x"), ("SMTP_URL", "mail.example.com")], "SMTP_URL"),
            (&[("DATABASE_URL", "postgres://x"), ("SMTP_URL", "smtp://h"), ("SMTP_FROM", "nobody")], "SMTP_FROM"),
            (
                &[("DATABASE_URL", "postgres://x"), ("SMTP_URL", "smtp://h"), ("SMTP_TIMEOUT_MS", "x")],
                "SMTP_TIMEOUT_MS",
            ),
        ];
        for (pairs, var) in cases {
            let e = load(pairs).unwrap_err();
            assert_eq!(e.var, *var, "{pairs:?}");
            assert!(e.to_string().contains(var));
        }
    }

    #[test]
    fn follow_up_delays_default_to_the_seed_and_can_be_shortened_or_turned_off() {
        let s = load(&[("DATABASE_URL", "postgres://x")]).unwrap();
        let h = |n: u64| Duration::from_secs(3600 * n);
        assert_eq!(s.follow_up_delays, Some([h(2), h(24), h(72)]));
        let s = load(&[("DATABASE_URL", "postgres://x"), ("FOLLOW_UP_DELAYS", "500ms,1s,2m")]).unwrap();
        assert_eq!(
            s.follow_up_delays,
            Some([Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(120)])
        );
        let s = load(&[("DATABASE_URL", "postgres://x"), ("FOLLOW_UP_DELAYS", "off")]).unwrap();
        assert_eq!(s.follow_up_delays, None);
    }

    #[test]
    fn eager_batches_default_to_eight_and_stay_between_one_and_sixty_four() {
        let batch = |v: Option<&str>| {
            let mut vars = vec![("DATABASE_URL", "postgres://x")];
            vars.extend(v.map(|v| ("EAGER_BATCH", v)));
            load(&vars).map(|s| s.eager_batch)
        };
        assert_eq!(batch(None).unwrap(), 8);
        assert_eq!(batch(Some("1")).unwrap(), 1);
        assert_eq!(batch(Some("0")).unwrap(), 1);
        assert_eq!(batch(Some("500")).unwrap(), 64);
        assert!(batch(Some("many")).is_err_and(|e| e.to_string().contains("EAGER_BATCH")));
    }

    #[test]
    fn review_delays_default_to_the_seed_and_can_be_shortened() {
        let s = load(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(s.review_delays, [Duration::from_secs(2 * 3600), Duration::from_secs(48 * 3600)]);
        let s = load(&[("DATABASE_URL", "postgres://x"), ("REVIEW_DELAYS", "300ms, 600ms")]).unwrap();
        assert_eq!(s.review_delays, [Duration::from_millis(300), Duration::from_millis(600)]);
    }

    #[test]
    fn the_daily_summary_is_on_unless_turned_off() {
        assert!(load(&[("DATABASE_URL", "postgres://x")]).unwrap().daily_summary);
        assert!(!load(&[("DATABASE_URL", "postgres://x"), ("DAILY_SUMMARY", "off")]).unwrap().daily_summary);
        assert!(load(&[("DATABASE_URL", "postgres://x"), ("DAILY_SUMMARY", " on ")]).unwrap().daily_summary);
    }

    #[test]
    fn smtp_is_off_by_default_and_its_password_is_never_printed() {
        let s = load(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert!(s.smtp.is_none());
        let s =
            load(&[("DATABASE_URL", "postgres://x"), ("SMTP_URL", "smtps://alerts:hunter2@smtp.example.com")]).unwrap();
        let smtp = s.smtp.as_ref().unwrap();
        assert_eq!(smtp.from, "CallRecover <alerts@localhost>");
        assert_eq!(smtp.timeout, Duration::from_secs(15));
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn twilio_credentials_switch_off_the_simulator_and_are_not_debug_printed() {
        let s = load(&[
            ("DATABASE_URL", "postgres://x"),
            ("TWILIO_ACCOUNT_SID", "AC0123456789abcdef0123456789abcdef"),
            ("TWILIO_AUTH_TOKEN", "secret-token"),
            ("BASE_URL", "https://calls.example.com/"),
        ])
        .unwrap();
        assert_eq!(s.webhook_token(), "secret-token");
        assert_eq!(s.base_url, "https://calls.example.com");
        assert!(!format!("{s:?}").contains("secret-token"));
    }
}
