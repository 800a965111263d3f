//! Building and running the process the same way in production and in tests:
//! bind first, then serve web and/or workers until shut down.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use activities::responder::openai::{OpenAiConfig, OpenAiResponder};
use activities::sms::{RetryPolicy, SmsTransport};
use activities::twilio::TwilioClient;
use workflows::{EngineConfig, Workflows};

use crate::settings::Settings;
use crate::state::AppState;

/// What this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub web: bool,
    pub workers: bool,
}

/// A started process: where it listens and how to stop it.
pub struct Running {
    pub addr: Option<SocketAddr>,
    pub shutdown: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
}

impl Running {
    /// Waits until every part has stopped; reports the first that failed.
    pub async fn wait(self) -> anyhow::Result<()> {
        let mut first_err = None;
        for (name, task) in self.tasks {
            match task.await {
                Ok(Ok(())) => tracing::info!(part = name, "stopped"),
                Ok(Err(e)) => {
                    tracing::error!(part = name, error = ?e, "stopped with an error");
                    first_err.get_or_insert(e.context(name));
                }
                Err(e) => {
                    first_err.get_or_insert(anyhow::anyhow!("{name} panicked: {e}"));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Stops everything and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }
}

/// A pool sized for web handlers plus worker ticks, with JIT off (it doubles
/// the cost of underway's dequeue once the task table is large).
pub async fn connect(settings: &Settings) -> anyhow::Result<PgPool> {
    let opts: PgConnectOptions = settings.database_url.parse().context("DATABASE_URL is not a valid URL")?;
    let opts = without_tls_on_loopback(opts, &settings.database_url, std::env::var_os("PGSSLMODE").is_some());
    PgPoolOptions::new()
        .max_connections(settings.db_max_connections)
        .min_connections(2)
        // No ping round trip before every use: a connection broken by a
        // database restart fails its next statement once and is dropped; the
        // webhook answers 5xx (Twilio retries) and a tick is retried.
        .test_before_acquire(false)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with(opts.options([("jit", "off")]))
        .await
        .context("could not connect to the database at DATABASE_URL")
}

/// TLS to a server on the same host protects nothing and costs a fifth of
/// the database's CPU under load (measured: libcrypto was 12 % of Postgres's
/// profile in `bench saturation`). Unless the URL or `PGSSLMODE` asks for a
/// mode, a loopback connection goes without; any other host keeps sqlx's
/// default (`prefer`).
pub fn without_tls_on_loopback(opts: PgConnectOptions, url: &str, env_mode: bool) -> PgConnectOptions {
    let explicit = env_mode || url.contains("sslmode=");
    let host = opts.get_host();
    let loopback = opts.get_socket().is_some()
        || matches!(host, "localhost" | "::1" | "[::1]")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if explicit || !loopback {
        return opts;
    }
    opts.ssl_mode(sqlx::postgres::PgSslMode::Disable)
}

async fn worker_pool(settings: &Settings, pool: &PgPool) -> anyhow::Result<PgPool> {
    let size = u32::try_from(settings.worker_concurrency * 2 + 8).unwrap_or(u32::MAX);
    PgPoolOptions::new()
        .max_connections(size)
        .min_connections(2)
        .test_before_acquire(false)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with((*pool.connect_options()).clone())
        .await
        .context("could not open the workers' database pool")
}

pub fn engine_config(settings: &Settings) -> anyhow::Result<EngineConfig> {
    let transport = match &settings.twilio {
        Some(t) => SmsTransport::Twilio(TwilioClient::new(
            &settings.twilio_api_base,
            &t.account_sid,
            &t.auth_token,
            settings.twilio_timeout,
        )),
        None => SmsTransport::Simulator,
    };
    let llm = match &settings.openai {
        Some(o) => {
            let cfg = OpenAiConfig {
                api_key: o.api_key.clone(),
                base_url: o.base_url.clone(),
                model: o.model.clone(),
                timeout: o.timeout,
            };
            let llm: Arc<dyn activities::responder::Responder> =
                Arc::new(OpenAiResponder::new(cfg).context("OPENAI_* settings")?);
            Some(llm)
        }
        None => None,
    };
    Ok(EngineConfig {
        transport,
        retry: RetryPolicy {
            base: settings.sms_retry_base,
            max: settings.sms_retry_max,
            max_attempts: settings.sms_max_attempts,
            lease: settings.sms_send_lease,
        },
        status_callback: Some(settings.url("/webhook/sms/status")),
        poll: settings.worker_poll,
        concurrency: settings.worker_concurrency,
        heartbeat: settings.worker_heartbeat,
        rescue_after: settings.tick_rescue_after,
        eager_lease: settings.eager_ticks.then_some(settings.eager_lease),
        eager_batch: settings.eager_batch,
        text_back_validity_secs: settings.text_back_validity_secs,
        base_url: settings.base_url.clone(),
        link_secret: settings.link_key(),
        follow_ups: settings
            .follow_up_delays
            .map(|d| d.map(|x| chrono::Duration::from_std(x).unwrap_or_else(|_| chrono::Duration::days(3)))),
        review_delays: settings
            .review_delays
            .map(|d| chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(365))),
        daily_summary: settings.daily_summary,
        llm,
        mailer: settings.smtp.as_ref().map(|s| s.mailer()).transpose().context("SMTP_URL / SMTP_FROM")?,
    })
}

/// Starts the web server and/or the workers on an already-migrated database.
pub async fn start(settings: Settings, pool: PgPool, mode: Mode) -> anyhow::Result<Running> {
    // Workers get their own pool: each running tick holds underway's idle
    // transaction plus ours, and must never starve the webhooks of connections.
    let worker_pool = if mode.workers && mode.web { worker_pool(&settings, &pool).await? } else { pool.clone() };
    let workflows = Workflows::new(worker_pool, engine_config(&settings)?).await?;
    let shutdown = CancellationToken::new();
    let mut tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)> = Vec::new();
    let mut addr = None;
    if mode.web {
        let listener =
            TcpListener::bind(settings.bind).await.with_context(|| format!("could not bind BIND={}", settings.bind))?;
        let local = listener.local_addr()?;
        addr = Some(local);
        let state = AppState {
            pool: pool.clone(),
            workflows: workflows.clone(),
            settings: Arc::new(settings.clone()),
            local_addr: if local.ip().is_unspecified() {
                SocketAddr::from(([127, 0, 0, 1], local.port()))
            } else {
                local
            },
            http: reqwest::Client::new(),
            calendar_limiter: Arc::new(crate::rate_limit::RateLimiter::new(settings.calendar_rate)),
        };
        let app = crate::router::router(state);
        let stop = shutdown.clone();
        tasks.push((
            "web",
            tokio::spawn(async move {
                axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await.context("web server")
            }),
        ));
    }
    if mode.workers {
        let stop = shutdown.clone();
        let wf = workflows.clone();
        tasks.push(("workers", tokio::spawn(async move { wf.run_workers(stop).await.context("workers") })));
    }
    Ok(Running { addr, shutdown, tasks })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::without_tls_on_loopback;
    use sqlx::postgres::{PgConnectOptions, PgSslMode};

    fn mode(url: &str, env_mode: bool) -> PgSslMode {
        let opts: PgConnectOptions = url.parse().unwrap();
        without_tls_on_loopback(opts, url, env_mode).get_ssl_mode()
    }

    #[test]
    fn loopback_goes_without_tls_unless_a_mode_is_asked_for() {
        assert!(matches!(mode("postgres://postgres@127.0.0.1:5432/db", false), PgSslMode::Disable));
        assert!(matches!(mode("postgres://postgres@localhost/db", false), PgSslMode::Disable));
        assert!(matches!(mode("postgres://postgres@[::1]:5432/db", false), PgSslMode::Disable));
        assert!(matches!(
            mode("postgres://postgres@db.example.com/db?host=/run/postgresql", false),
            PgSslMode::Disable
        ));
        assert!(matches!(mode("postgres://postgres@127.0.0.1/db?sslmode=require", false), PgSslMode::Require));
        assert!(matches!(mode("postgres://postgres@127.0.0.1/db", true), PgSslMode::Prefer));
        assert!(matches!(mode("postgres://postgres@db.example.com/db", false), PgSslMode::Prefer));
    }
}
