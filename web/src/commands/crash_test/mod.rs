//! `callrecover crash-test`: the whole system as separate processes (web
//! processes and worker processes of this very binary) against a scratch
//! database and a fake Twilio in this process. It plays Twilio — missed calls,
//! then a customer reply once each text-back arrives, every fifth caller's
//! webhooks twice at once to two web processes — while SIGKILLing a
//! random worker process at random moments and restarting it, then waits for
//! the system to go quiet and checks, from Twilio's record and the database,
//! that every caller got exactly one text-back, every reply exactly one
//! answer, and that no run is stuck. Its last line is one JSON object.

pub mod check;
mod fleet;
mod kills;
mod plan;
mod report;
mod traffic;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sqlx::PgPool;

use activities::store::businesses::Business;

use crate::commands::harness::Scratch;
use crate::fake_openai::{FakeOpenAi, Mood};
use crate::fake_twilio::{FakeTwilio, Faults};
use crate::settings::Settings;

use fleet::Fleet;
use plan::Plan;
use report::{FaultsSeen, Report};

/// The URL Twilio would call; every webhook is signed against it.
const BASE_URL: &str = "https://crash.callrecover.test";

#[derive(Debug, Args)]
pub struct CrashTestArgs {
    /// Missed-call workflows to run (each caller also replies once).
    #[arg(long, default_value_t = 500)]
    pub workflows: usize,
    /// Worker processes to SIGKILL (one at a time, restarted at once).
    #[arg(long, default_value_t = 10)]
    pub kills: usize,
    /// `callrecover worker` processes.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// `callrecover serve --no-workers` processes; webhooks go round-robin.
    #[arg(long, default_value_t = 2)]
    pub webs: usize,
    /// Missed calls per second (lowered if needed so kills are 2 s apart).
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// How long the fake Twilio takes to answer a send; the message is stored
    /// first, so a worker killed meanwhile has sent without learning the sid.
    #[arg(long, default_value_t = 50)]
    pub twilio_latency_ms: u64,
    /// How long to wait for the system to go quiet after the last kill.
    #[arg(long, default_value_t = 120)]
    pub settle_timeout_s: u64,
    /// Seed for the kill moments and victims (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Share of Twilio sends (0–1) that fail: a 500, a 429, a hang after
    /// Twilio stored the message, or a hang before, in equal shares.
    #[arg(long, default_value_t = 0.0)]
    pub twilio_faults: f64,
    /// Restart PostgreSQL this many times during the traffic (`pg_ctl restart
    /// -m fast`); runs on a private cluster this test starts, never on DATABASE_URL's.
    #[arg(long, default_value_t = 0)]
    pub restart_postgres: usize,
    /// Answer customers with the OpenAI responder against a fake that fails
    /// this share of requests (0–1: a 500, a 429 or a 5 s hang, in equal
    /// shares); without it the rules engine answers alone.
    #[arg(long)]
    pub llm_faults: Option<f64>,
    /// Keep the scratch database (and a private cluster running) when the test fails, to inspect it.
    #[arg(long)]
    pub keep_failed: bool,
}

/// Where the private cluster for `--restart-postgres` lives (initialised once, reused).
fn private_cluster_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("callrecover-crash-pg")
}

pub async fn run(args: CrashTestArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.workflows > 0, "--workflows must be positive");
    anyhow::ensure!(args.workers > 0 && args.webs > 0, "--workers and --webs must be positive");
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    anyhow::ensure!((0.0..1.0).contains(&args.twilio_faults), "--twilio-faults must be in [0, 1)");
    anyhow::ensure!(args.llm_faults.is_none_or(|r| (0.0..=1.0).contains(&r)), "--llm-faults must be in [0, 1]");
    let scratch = if args.restart_postgres > 0 {
        Scratch::create_private("callrecover_crash", &private_cluster_dir()).await?
    } else {
        Scratch::create("callrecover_crash").await?
    };
    let logs = std::env::temp_dir().join(format!("callrecover-crash-{}", std::process::id()));
    std::fs::create_dir_all(&logs)?;
    let result = crash_test(&args, &scratch, &logs).await;
    let failures = result.as_ref().map_or_else(|e| vec![e.to_string()], Report::failures);
    if args.keep_failed && !failures.is_empty() {
        eprintln!("crash-test: kept the database for inspection: {}", scratch.url);
    } else {
        scratch.drop_all().await?;
    }
    let report = result?;
    report.print_table();
    println!("{}", serde_json::to_string(&report)?);
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&logs);
        Ok(())
    } else {
        anyhow::bail!("crash test failed: {} (process logs in {})", failures.join(", "), logs.display())
    }
}

async fn crash_test(args: &CrashTestArgs, scratch: &Scratch, logs: &std::path::Path) -> anyhow::Result<Report> {
    let db_url = scratch.url.as_str();
    let fake = FakeTwilio::start().await?;
    fake.set_latency(Duration::from_millis(args.twilio_latency_ms));
    let plan = Plan::new(args);
    let mut env = fleet::child_env(&fake, db_url, BASE_URL);
    if args.twilio_faults > 0.0 {
        // Longer than the 2 s client timeout: a hang is a timeout.
        let hang = Duration::from_secs(3);
        fake.set_faults(Faults { rate: args.twilio_faults, hang, seed: plan.seed });
        // At 30 % failures, 8 tries leave one text in ~15,000 unsent; 20 leave one in ~3·10¹⁰.
        env.push(("SMS_MAX_ATTEMPTS".into(), "20".into()));
    }
    let llm = match args.llm_faults {
        Some(rate) => {
            let fake = FakeOpenAi::start(Mood::Good).await?;
            fake.set_faults(rate, plan.seed);
            env.push(("OPENAI_API_KEY".into(), "sk-crash-test".into()));
            env.push(("OPENAI_BASE_URL".into(), fake.base_url.clone()));
            // A hang costs a second, then the rules engine answers.
            env.push(("OPENAI_TIMEOUT_MS".into(), "1000".into()));
            Some(fake)
        }
        None => None,
    };
    // Fail here, not in four children, if the environment is wrong.
    Settings::from_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))?;
    let pool = crate::commands::harness::scratch_pool(db_url, 4).await?;
    workflows::migrate(&pool).await?;
    let business = business(&pool).await?;
    eprintln!("crash-test: {plan}; process logs in {}", logs.display());

    let exe = std::env::current_exe().context("locating the callrecover binary")?;
    let mut fleet = Fleet::start(exe, env, logs.to_owned(), args.webs, args.workers).await?;
    let callers = traffic::Callers::new(&fake, fleet.web_addrs(), BASE_URL, business.twilio_number.as_str());
    let callers = std::sync::Arc::new(callers);
    let started = Instant::now();
    let (played, kills, restarts) = tokio::join!(
        traffic::play(callers.clone(), &plan, started),
        kills::run(&mut fleet, &pool, &plan, started),
        restart_postgres(scratch, &plan, started),
    );
    let (played, kills, restarts) = (played?, kills?, restarts?);
    let quiet = check::settle(&pool, Duration::from_secs(args.settle_timeout_s)).await?;
    let duration = started.elapsed();
    let unexpected_exits = fleet.unexpected_exits();
    fleet.stop().await;
    let findings = check::findings(&pool, &fake, &played, &business).await?;
    pool.close().await;
    let faults = FaultsSeen {
        postgres_restarts_s: restarts,
        webhook_5xx: callers.answers_5xx.load(Relaxed),
        webhook_max_ms: callers.slowest_us.load(Relaxed) as f64 / 1000.0,
        llm_requests: llm.as_ref().map_or(0, |f| f.seen().len()),
        llm_faults: llm.as_ref().map_or(0, FakeOpenAi::faults),
    };
    Ok(Report::new(args, &plan, &fake, &kills, findings, quiet, unexpected_exits, duration, faults))
}

/// Restarts PostgreSQL at the planned moments; how long each restart took (s).
async fn restart_postgres(scratch: &Scratch, plan: &Plan, started: Instant) -> anyhow::Result<Vec<f64>> {
    let mut took = Vec::new();
    for at in &plan.restarts {
        tokio::time::sleep_until((started + *at).into()).await;
        let t = Instant::now();
        scratch.restart_server().await.context("restarting PostgreSQL")?;
        let s = t.elapsed().as_secs_f64();
        eprintln!("crash-test: restarted PostgreSQL at {:.2}s in {s:.2}s", at.as_secs_f64());
        took.push((s * 100.0).round() / 100.0);
    }
    Ok(took)
}

/// The demo business, answering at once: no owner window, open all day, in a
/// zone where it is daytime now (so nothing waits for the morning).
async fn business(pool: &PgPool) -> anyhow::Result<Business> {
    let b = super::demo::seed(pool).await?;
    let day = serde_json::json!({"open": "00:00", "close": "23:59"});
    let week = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let hours: serde_json::Map<String, serde_json::Value> =
        week.iter().map(|d| ((*d).to_owned(), day.clone())).collect();
    sqlx::query(
        "UPDATE businesses SET owner_window_seconds = 0, owner_status = 'available', business_hours = $2,
                timezone = $3
         WHERE id = $1",
    )
    .bind(b.id)
    .bind(serde_json::Value::Object(hours))
    .bind(daytime_zone(chrono::Utc::now()))
    .execute(pool)
    .await?;
    Ok(b)
}

/// A fixed-offset zone where it is about noon at `now`.
fn daytime_zone(now: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let hour = i32::try_from(now.hour()).unwrap_or(12);
    let offset = (12 - hour + 36) % 24 - 12;
    // Etc/GMT signs are inverted: Etc/GMT-5 is UTC+5.
    if offset >= 0 {
        format!("Etc/GMT-{offset}")
    } else {
        format!("Etc/GMT+{}", -offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_daytime_zone_puts_the_clock_near_noon() {
        for hour in 0..24 {
            let now = chrono::Utc.with_ymd_and_hms(2026, 12, 1, hour, 30, 0).unwrap();
            let zone: chrono_tz::Tz = daytime_zone(now).parse().unwrap();
            let local = now.with_timezone(&zone);
            use chrono::Timelike;
            assert!((11..=13).contains(&local.hour()), "{hour}h UTC -> {} in {zone}", local.hour());
        }
    }
}
