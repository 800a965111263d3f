//! The yardsticks measured in every run, before the load: a bare durable
//! Postgres commit and a bare underway job hop, on the same machine at the
//! same moment, so our figures can be compared as ratios across noisy runs.

use std::time::{Duration, Instant};

use sqlx::PgPool;

use super::report::{num, pct, Report};

pub struct Yardsticks {
    pub commit_p50_ms: f64,
    pub commit_p99_ms: f64,
    pub hop_p50_ms: f64,
    pub hop_p99_ms: f64,
    pub jobs_per_s: f64,
    pub postgres: String,
}

const COMMITS: usize = 500;
const HOPS: usize = 300;
const BURST: usize = 2000;

pub async fn measure(pool: &PgPool) -> anyhow::Result<Yardsticks> {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_commit (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)")
        .execute(pool)
        .await?;
    let mut conn = pool.acquire().await?;
    let mut commits = Vec::with_capacity(COMMITS);
    for i in 0..COMMITS {
        let t = Instant::now();
        sqlx::query("INSERT INTO bench_commit (v) VALUES ($1)").bind(i as i64).execute(&mut *conn).await?;
        commits.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    drop(conn);
    commits.sort_by(f64::total_cmp);
    // The engine's worker settings: 16 at a time, polling every second (notifications wake it sooner).
    let hops = workflows::yardstick::underway_hops(pool, HOPS, BURST, 16, Duration::from_secs(1)).await?;
    let mut lat = hops.latency_ms;
    lat.sort_by(f64::total_cmp);
    let postgres: String = sqlx::query_scalar("SELECT split_part(version(), ' on ', 1)").fetch_one(pool).await?;
    Ok(Yardsticks {
        commit_p50_ms: pct(&commits, 50.0),
        commit_p99_ms: pct(&commits, 99.0),
        hop_p50_ms: pct(&lat, 50.0),
        hop_p99_ms: pct(&lat, 99.0),
        jobs_per_s: hops.jobs_per_s,
        postgres,
    })
}

impl Yardsticks {
    pub fn add_to(&self, r: &mut Report) {
        r.figure("commit_p50_ms", "yardstick: bare Postgres commit p50 (ms)", num(self.commit_p50_ms));
        r.figure("commit_p99_ms", "yardstick: bare Postgres commit p99 (ms)", num(self.commit_p99_ms));
        r.figure("underway_hop_p50_ms", "yardstick: bare underway job hop p50 (ms)", num(self.hop_p50_ms));
        r.figure("underway_hop_p99_ms", "yardstick: bare underway job hop p99 (ms)", num(self.hop_p99_ms));
        r.figure("underway_jobs_per_s", "yardstick: bare underway jobs/s (2,000 at once)", num(self.jobs_per_s));
        r.figure("postgres", "PostgreSQL", self.postgres.clone());
    }
}
