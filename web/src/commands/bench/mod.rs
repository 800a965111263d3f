//! `callrecover bench <scenario>`: the service as its own process (`serve`,
//! web and workers) on a scratch database, Twilio faked on loopback in this
//! process, load sent over HTTP as Twilio would, and the times taken from the
//! fake's record. Each run also measures two yardsticks on the same machine
//! at the same moment — a bare Postgres commit and a bare underway job hop —
//! and prints our figures beside them and as ratios to them.

mod dashboard;
mod load;
mod procs;
mod report;
mod scenarios;
mod server;
mod yardsticks;

use std::time::Duration;

use clap::{Args, Subcommand};

use crate::commands::harness::Scratch;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
    /// Print one JSON object instead of the table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Spread the calls over this many businesses (the same set-up, each its
    /// own Twilio number; caller i calls business i mod N). 1: all on one.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub tenants: u16,
}

#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// (a) Missed calls at a fixed rate: webhook response and call-completed → text-back request.
    MissedCalls(Load),
    /// (b) Raise the rate step by step until text-back p99 passes 100 ms; then a flood for workflows/s.
    Saturation(Saturation),
    /// (c) Customer texts to texted-back callers: inbound SMS → reply request (rules engine, no owner window).
    Conversations(Load),
    /// (d) (a) while N follow-up workflows sleep in the database.
    Sleeping(Sleeping),
    /// (e) The owner dashboard's queries on a seeded million-message database (no server).
    Dashboard(dashboard::Dashboard),
}

#[derive(Debug, Clone, Args)]
pub struct Load {
    /// Requests (missed calls or texts) per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long to send for, e.g. 10s, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Missed calls at the same rate before the measured ones, not counted
    /// (the server's first moments: new connections, a fresh database's
    /// first pages); their slowest answer is reported. `0s` measures cold.
    #[arg(long, default_value = "2s", value_parser = parse_span)]
    pub warmup: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct Saturation {
    /// First rate tried (missed calls/s).
    #[arg(long, default_value_t = 50.0)]
    pub from: f64,
    /// Added at each step.
    #[arg(long, default_value_t = 50.0)]
    pub step: f64,
    /// Highest rate tried.
    #[arg(long, default_value_t = 1000.0)]
    pub to: f64,
    /// Length of each step.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub step_duration: Duration,
    /// Missed calls sent all at once (64 in flight) to measure complete workflows per second.
    #[arg(long, default_value_t = 2000)]
    pub flood: usize,
}

#[derive(Debug, Clone, Args)]
pub struct Sleeping {
    /// Follow-up workflows put to sleep (real missed calls, texted back) before the measured load.
    #[arg(long, default_value_t = 10_000)]
    pub sleepers: usize,
    #[command(flatten)]
    pub load: Load,
}

/// A positive duration (`--duration`, `--step-duration`).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_span(s)?;
    (!d.is_zero()).then_some(d).ok_or_else(|| format!("{:?} must be positive", s.trim()))
}

/// A duration like 10s, 1m or 250ms; zero allowed (`--warmup 0s`).
fn parse_span(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = n.parse().map_err(|_| format!("{s:?} is not a duration like 10s or 1m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: unit must be ms, s or m")),
    };
    (secs >= 0.0 && secs.is_finite())
        .then(|| Duration::from_secs_f64(secs))
        .ok_or_else(|| format!("{s:?} must be a finite duration"))
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let scratch = Scratch::create("callrecover_bench").await?;
    let result = match &args.scenario {
        Scenario::Dashboard(d) => dashboard::run(d, &scratch.url).await,
        other => scenarios::run(other, &scratch.url, args.tenants).await,
    };
    scratch.drop_all().await?;
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string(&report.to_json())?);
    } else {
        report.print_table();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_issue_writes_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5h").is_err());
        assert_eq!(parse_span("0s"), Ok(Duration::ZERO));
        assert!(parse_span("-1s").is_err());
    }
}
