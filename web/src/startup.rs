//! Starting a long-lived process (`serve`, `worker`) while the database is
//! away — restarting, still booting, failing over — waits for it instead of
//! exiting: connecting and migrating are retried with backoff for up to
//! `patience`. An error that waiting cannot mend (a wrong URL or password, a
//! missing database, a migration that does not apply) fails at once.

use std::time::{Duration, Instant};

use crate::app::{Mode, Running};
use crate::settings::Settings;

/// How long `serve` and `worker` wait for the database at start.
pub const PATIENCE: Duration = Duration::from_secs(120);
const FIRST_WAIT: Duration = Duration::from_millis(200);
const MOST_WAIT: Duration = Duration::from_secs(5);

/// Connects, applies pending migrations and starts `mode`, retrying while
/// the database is away.
pub async fn start(settings: &Settings, mode: Mode, patience: Duration) -> anyhow::Result<Running> {
    let deadline = Instant::now() + patience;
    let mut wait = FIRST_WAIT;
    loop {
        match try_once(settings, mode).await {
            Ok(running) => return Ok(running),
            Err(e) if is_transient(&e) && Instant::now() + wait < deadline => {
                tracing::warn!(error = %format!("{e:#}"), retry_in_ms = wait.as_millis() as u64, "database not ready; waiting");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MOST_WAIT);
            }
            Err(e) => return Err(e),
        }
    }
}

async fn try_once(settings: &Settings, mode: Mode) -> anyhow::Result<Running> {
    let pool = crate::app::connect(settings).await?;
    if let Err(e) = workflows::migrate(&pool).await {
        pool.close().await;
        return Err(anyhow::Error::new(e).context("migration failed"));
    }
    crate::app::start(settings.clone(), pool, mode).await
}

/// Whether waiting may mend the error: the server unreachable or going
/// away, or a connection cut under a statement.
/// (A migration cut short by a restart shows here as the `sqlx::Error`
/// under its `MigrateError`; one that does not apply has none of these.)
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| cause.downcast_ref::<sqlx::Error>().is_some_and(sqlx_transient))
}

fn sqlx_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        // Class 57: operator intervention (admin_shutdown, crash_shutdown,
        // cannot_connect_now); class 08: connection exception.
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("57") || c.starts_with("08")),
        _ => false,
    }
}
