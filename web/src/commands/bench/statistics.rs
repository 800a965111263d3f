//! Planner statistics for the scratch database, as a running production
//! database has them.
//!
//! A database that has been serving has statistics: autovacuum analyzed each
//! table as it grew, which also replaced the server's cached plans. The
//! bench's scratch database starts empty, and plans cached while its tables
//! were empty stay until something analyzes them — within a run, nothing
//! does: autovacuum looks once a minute, and this machine's shared server
//! runs with it off. Then the update of one lead by its id walks the
//! business's every lead through another index (149 buffers a call after a
//! flood of 4,000 calls, 19 once analyzed), and the run measures a database
//! no production server would have. So the bench analyzes the scratch database
//! once, as soon as it holds [`CALLS`] calls (the warm-up's, or the first of a
//! flood), and the report says so. Analyzing more often cost more than it
//! saved (every analysis makes every connection plan its statements afresh):
//! every 2 s, or at autovacuum's thresholds, the flood of 4,000 ran at
//! 202–212 workflows/s; without any analysis 219–235; analyzed once 240.

use std::time::Duration;

use sqlx::PgPool;

/// The calls the scratch database holds before the bench analyzes it.
pub const CALLS: i64 = 200;
const LOOK_EVERY: Duration = Duration::from_millis(250);

/// Analyzes the scratch database once it holds [`CALLS`] calls, unless dropped first.
pub struct Statistics {
    task: tokio::task::JoinHandle<Option<Duration>>,
}

impl Statistics {
    pub fn keep(pool: &PgPool) -> Self {
        let pool = pool.clone();
        Self { task: tokio::spawn(async move { analyze_when_grown(&pool).await }) }
    }

    /// What the report says of the statistics.
    pub async fn describe(self) -> String {
        if !self.task.is_finished() {
            self.task.abort();
            return format!("never analyzed (fewer than {CALLS} calls)");
        }
        match self.task.await {
            Ok(Some(took)) => format!("analyzed once, at {CALLS} calls (in {} ms)", took.as_millis()),
            _ => "the bench's analysis failed".to_owned(),
        }
    }
}

async fn analyze_when_grown(pool: &PgPool) -> Option<Duration> {
    loop {
        let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls").fetch_one(pool).await.ok()?;
        if calls >= CALLS {
            let started = std::time::Instant::now();
            return match sqlx::query("ANALYZE").execute(pool).await {
                Ok(_) => Some(started.elapsed()),
                Err(e) => {
                    tracing::warn!(error = %e, "bench: analyzing the scratch database failed");
                    None
                }
            };
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}
