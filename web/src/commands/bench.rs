//! `callrecover bench`: starts the service against a fresh database and a fake
//! Twilio on loopback, sends signed missed-call webhook pairs at a fixed rate
//! over HTTP, and reports webhook latency, missed-call-to-SMS time and
//! throughput as the fake Twilio saw them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use activities::twilio::signature;

use crate::app::{self, Mode};
use crate::commands::harness::{fake_twilio_settings, Scratch};
use crate::fake_twilio::FakeTwilio;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Missed calls to send.
    #[arg(long, default_value_t = 2000)]
    pub calls: usize,
    /// Missed calls per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    calls: usize,
    rate_per_s: f64,
    completed: usize,
    webhook_p50_ms: f64,
    webhook_p99_ms: f64,
    webhook_max_ms: f64,
    text_back_p50_ms: f64,
    text_back_p99_ms: f64,
    text_back_max_ms: f64,
    throughput_per_s: f64,
    server_rss_mb: f64,
    machine: String,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.calls > 0 && args.rate > 0.0, "--calls and --rate must be positive");
    let scratch = Scratch::create("callrecover_bench").await?;
    let result = bench(&args, &scratch.url).await;
    scratch.drop_all().await?;
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

async fn bench(args: &BenchArgs, db_url: &str) -> anyhow::Result<Report> {
    let fake = FakeTwilio::start().await?;
    let extra = [("WORKER_POLL_MS", "1000")];
    let settings = fake_twilio_settings(&fake, db_url, "https://bench.callrecover.test", &extra, |_| None)?;
    let pool = app::connect(&settings).await?;
    workflows::migrate(&pool).await?;
    let business = super::demo::seed(&pool).await?;
    sqlx::query("UPDATE businesses SET call_screening = false WHERE id = $1").bind(business.id).execute(&pool).await?;
    let running = app::start(settings.clone(), pool.clone(), Mode { web: true, workers: true }).await?;
    let addr = running.addr.context("web did not bind")?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let ctx = Arc::new(Ctx {
        client,
        addr,
        base_url: settings.base_url.clone(),
        token: fake.auth_token.clone(),
        to: business.twilio_number.to_string(),
    });

    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let mut handles = Vec::with_capacity(args.calls);
    for i in 0..args.calls {
        let due = started + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let ctx = ctx.clone();
        handles.push(tokio::spawn(async move { one_call(&ctx, i).await }));
    }
    let mut webhook_ms = Vec::with_capacity(args.calls * 2);
    let mut sent_at = Vec::with_capacity(args.calls);
    for h in handles {
        let (a, b, caller, t0) = h.await??;
        webhook_ms.push(a);
        webhook_ms.push(b);
        sent_at.push((caller, t0));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut text_back_ms = Vec::new();
    let mut last = started;
    while Instant::now() < deadline {
        let sent = fake.sent();
        text_back_ms.clear();
        for (caller, t0) in &sent_at {
            if let Some(s) = sent.iter().find(|s| &s.to == caller) {
                text_back_ms.push(s.at.saturating_duration_since(*t0).as_secs_f64() * 1000.0);
                last = last.max(s.at);
            }
        }
        if text_back_ms.len() == sent_at.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss = rss_mb();
    running.stop().await?;
    pool.close().await;
    let elapsed = last.saturating_duration_since(started).as_secs_f64().max(1e-9);
    Ok(Report {
        calls: args.calls,
        rate_per_s: args.rate,
        completed: text_back_ms.len(),
        webhook_p50_ms: pct(&mut webhook_ms, 50.0),
        webhook_p99_ms: pct(&mut webhook_ms, 99.0),
        webhook_max_ms: pct(&mut webhook_ms, 100.0),
        text_back_p50_ms: pct(&mut text_back_ms, 50.0),
        text_back_p99_ms: pct(&mut text_back_ms, 99.0),
        text_back_max_ms: pct(&mut text_back_ms, 100.0),
        throughput_per_s: text_back_ms.len() as f64 / elapsed,
        server_rss_mb: rss,
        machine: machine(),
    })
}

struct Ctx {
    client: reqwest::Client,
    addr: std::net::SocketAddr,
    base_url: String,
    token: String,
    to: String,
}

/// One missed call: incoming, then call-completed with no-answer.
async fn one_call(ctx: &Ctx, i: usize) -> anyhow::Result<(f64, f64, String, Instant)> {
    let caller = format!("+1512{:07}", 2_000_000 + i);
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let base = vec![
        ("CallSid".to_owned(), sid),
        ("From".to_owned(), caller.clone()),
        ("To".to_owned(), ctx.to.clone()),
        ("CallStatus".to_owned(), "ringing".to_owned()),
    ];
    let (a, _) = post(ctx, "/webhook/voice/incoming", &base).await?;
    let mut done = base.clone();
    done.push(("DialCallStatus".to_owned(), "no-answer".to_owned()));
    done.push(("DialCallDuration".to_owned(), "0".to_owned()));
    let t0 = Instant::now();
    let (b, _) = post(ctx, "/webhook/voice/call-completed", &done).await?;
    Ok((a, b, caller, t0))
}

async fn post(ctx: &Ctx, path: &str, params: &[(String, String)]) -> anyhow::Result<(f64, String)> {
    let sig = signature::compute(&ctx.token, &format!("{}{path}", ctx.base_url), params);
    let t = Instant::now();
    let resp = ctx
        .client
        .post(format!("http://{}{path}", ctx.addr))
        .header("X-Twilio-Signature", sig)
        .form(params)
        .send()
        .await?;
    let status = resp.status();
    let body = resp.text().await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(status.is_success(), "{path} answered {status}: {body}");
    Ok((ms, body))
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[idx.min(v.len() - 1)]
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cores} cores, {cpu}")
}

fn print_table(r: &Report) {
    println!("callrecover bench: {} missed calls at {}/s (fake Twilio on loopback)", r.calls, r.rate_per_s);
    println!("machine: {}", r.machine);
    println!("| metric | p50 | p99 | max |");
    println!("|---|---|---|---|");
    println!("| webhook response (ms) | {:.2} | {:.2} | {:.2} |", r.webhook_p50_ms, r.webhook_p99_ms, r.webhook_max_ms);
    println!(
        "| call-completed → SMS request (ms) | {:.2} | {:.2} | {:.2} |",
        r.text_back_p50_ms, r.text_back_p99_ms, r.text_back_max_ms
    );
    println!("| completed workflows | {} of {} | | |", r.completed, r.calls);
    println!("| throughput (text-backs/s) | {:.1} | | |", r.throughput_per_s);
    println!("| process RSS (MB, server + load generator) | {:.1} | | |", r.server_rss_mb);
}
