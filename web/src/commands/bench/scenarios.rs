//! The scenarios: each sets up the server, plays its load and reads the fake
//! Twilio's record into a [`Report`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use activities::domain::PhoneNumber;
use activities::store::businesses::{self, Business};

use super::load::{self, Kind, Sent, Twilio};
use super::procs::{self, CpuSample};
use super::report::{num, pct, Latency, Report, Step};
use super::server::{Server, BASE_URL};
use super::yardsticks::{self, Yardsticks};
use super::{Load, Saturation, Scenario, Sleeping};
use crate::fake_twilio::FakeTwilio;

/// How long to wait for the texts a load should produce.
const PATIENCE: Duration = Duration::from_secs(60);
/// Requests in flight while setting up callers or flooding.
const IN_FLIGHT: usize = 64;
/// The p99 text-back the saturation scenario holds to.
const SATURATION_P99_MS: f64 = 100.0;
/// The server's first seconds, left out of one tail figure.
const WARM_S: f64 = 2.0;
/// Warm-up callers are numbered from here, apart from every measured one.
const WARMUP_CALLERS: usize = 5_000_000;

struct Rig {
    fake: FakeTwilio,
    pool: PgPool,
    server: Server,
    tw: Arc<Twilio>,
    business: Business,
    yard: Yardsticks,
}

pub async fn run(scenario: &Scenario, db_url: &str, tenants: u16) -> anyhow::Result<Report> {
    let rig = setup(db_url, tenants).await?;
    let result = match scenario {
        Scenario::MissedCalls(l) => missed_calls(&rig, l, 0, "missed-calls").await,
        Scenario::Saturation(s) => saturation(&rig, s).await,
        Scenario::Conversations(l) => conversations(&rig, l).await,
        Scenario::Sleeping(s) => sleeping(&rig, s).await,
        Scenario::Dashboard(_) => Err(anyhow::anyhow!("the dashboard scenario runs without a server")),
    };
    let (peak, rss) = procs::memory_mb(rig.server.pid);
    rig.server.stop().await;
    rig.pool.close().await;
    let mut report = result?;
    report.figure("server_rss_mb", "server resident memory at the end (MB)", num(rss));
    report.figure("server_peak_rss_mb", "server peak resident memory (MB)", num(peak));
    rig.yard.add_to(&mut report);
    report.figure("tenants", "businesses the calls went to (--tenants)", num(f64::from(tenants)));
    report.figure("machine", "machine", procs::machine());
    Ok(report)
}

/// Scratch database, the demo business and `tenants - 1` more like it on
/// numbers of their own (one owner phone for all), every one answering at
/// once (no screening, no owner window, no quiet hours), the yardsticks, then
/// the server.
async fn setup(db_url: &str, tenants: u16) -> anyhow::Result<Rig> {
    let fake = FakeTwilio::start().await?;
    let pool = crate::commands::harness::scratch_pool(db_url, 4).await?;
    workflows::migrate(&pool).await?;
    let business = crate::commands::demo::seed(&pool).await?;
    let mut numbers = vec![business.twilio_number.to_string()];
    for i in 1..u32::from(tenants) {
        let number = PhoneNumber::parse(&format!("+1737{:07}", 5_000_000 + i))?;
        let phone = PhoneNumber::parse(&format!("+1737{:07}", 6_000_000 + i))?;
        businesses::insert_business(&pool, &crate::commands::demo::demo_business(number.clone(), phone)?).await?;
        numbers.push(number.to_string());
    }
    // The scratch database holds the bench's businesses only.
    sqlx::query(
        "UPDATE businesses SET call_screening = false, owner_window_seconds = 0, owner_status = 'offline',
                notification_prefs = '{\"quiet_start\": \"00:00\", \"quiet_end\": \"00:00\"}'",
    )
    .execute(&pool)
    .await?;
    let yard = yardsticks::measure(&pool).await?;
    let server = Server::start(&fake, db_url).await?;
    let tw = Arc::new(Twilio::new(server.addr, BASE_URL, &fake.auth_token, numbers)?);
    Ok(Rig { fake, pool, server, tw, business, yard })
}

/// What a fixed-rate load sends and which text answers it.
struct Measured {
    kind: Kind,
    /// The answer is the caller's `nth` text (1: the text-back; 2: the reply after it).
    nth: usize,
    key: &'static str,
    label: &'static str,
    title: String,
}

/// Sends `m.kind` for callers `first..` at a fixed rate and times each answer.
async fn measure(rig: &Rig, l: &Load, first: usize, m: Measured) -> anyhow::Result<Report> {
    let cpu0 = CpuSample::take(rig.server.pid);
    let started = Instant::now();
    let sent = load::at_rate(&rig.tw, m.kind, first, l.rate, l.duration).await?;
    let (answers, last) = load::wait_for_texts(&rig.fake, &sent, m.nth, PATIENCE).await;
    let cpu = cpu0.until(&CpuSample::take(rig.server.pid));
    let mut r = Report::new(m.title);
    r.latencies.push(Latency::of("webhook", "webhook response", webhooks(&sent)));
    r.latencies.push(Latency::of(m.key, m.label, answers.clone()));
    if matches!(m.kind, Kind::MissedCall) {
        owner_alert_figures(rig, &mut r, &sent).await;
    }
    outcome(&mut r, &sent, answers.len(), started, last);
    tail_figures(&mut r, &load::answered(&rig.fake, &sent, m.nth), started);
    cpu_figures(&mut r, cpu);
    ratios(&mut r, &rig.yard, &answers);
    Ok(r)
}

/// Where the tail is: p99 without the server's first seconds, how many
/// answers took over 30 ms, and the slowest five with when they were sent.
fn tail_figures(r: &mut Report, answered: &[(Instant, Instant)], started: Instant) {
    let timeline: Vec<(f64, f64)> = answered
        .iter()
        .map(|(t0, at)| {
            let sent_s = t0.saturating_duration_since(started).as_secs_f64();
            (sent_s, at.saturating_duration_since(*t0).as_secs_f64() * 1000.0)
        })
        .collect();
    let mut after: Vec<f64> = timeline.iter().filter(|(s, _)| *s >= WARM_S).map(|(_, ms)| *ms).collect();
    after.sort_by(f64::total_cmp);
    r.figure(
        "p99_after_first_2s_ms",
        "p99 of answers to requests sent after the first 2 s (ms)",
        num(pct(&after, 99.0)),
    );
    r.figure("over_30ms", "answers slower than 30 ms", timeline.iter().filter(|(_, ms)| *ms > 30.0).count());
    let mut slow = timeline;
    slow.sort_by(|a, b| b.1.total_cmp(&a.1));
    let five: Vec<String> = slow.iter().take(5).map(|(s, ms)| format!("{ms:.1} ms at {s:.2} s")).collect();
    r.figure("slowest", "slowest five answers (and when the request was sent)", five.join(", "));
}

/// (a) Missed calls for callers `first..` at a fixed rate, after a warm-up
/// at the same rate from callers no measured call uses.
async fn missed_calls(rig: &Rig, l: &Load, first: usize, name: &str) -> anyhow::Result<Report> {
    let warm = if l.warmup.is_zero() {
        Vec::new()
    } else {
        load::at_rate(&rig.tw, Kind::MissedCall, WARMUP_CALLERS + first, l.rate, l.warmup).await?
    };
    let warmup =
        if warm.is_empty() { String::new() } else { format!(", after {:.0} s of warm-up", l.warmup.as_secs_f64()) };
    let title = format!(
        "callrecover bench {name}: {:.0} missed calls/s for {:.0} s{warmup} (server in its own process, fake Twilio on loopback)",
        l.rate,
        l.duration.as_secs_f64()
    );
    let label = "call-completed → text-back request";
    let mut r =
        measure(rig, l, first, Measured { kind: Kind::MissedCall, nth: 1, key: "text_back", label, title }).await?;
    if !warm.is_empty() {
        let (answers, _) = load::wait_for_texts(&rig.fake, &warm, 1, PATIENCE).await;
        let w = Latency::of("warmup", "", answers);
        r.figure("warmup_calls", "warm-up calls (not counted)", warm.len());
        r.figure("warmup_text_back_p99_ms", "warm-up: text-back p99 (ms)", num(w.p99));
        r.figure("warmup_text_back_max_ms", "warm-up: slowest text-back (ms)", num(w.max));
    }
    Ok(r)
}

/// When each measured call's missed-call alert reached the owner (the other
/// half of a complete workflow); the alerts are sent by then or soon after.
async fn owner_alert_figures(rig: &Rig, r: &mut Report, sent: &[Sent]) {
    let owner = rig.business.owner_phone.to_string();
    let alerted = load::wait_for_owner_alerts(&rig.fake, &owner, sent, PATIENCE).await;
    let ms = alerted.iter().map(|(t0, at)| at.saturating_duration_since(*t0).as_secs_f64() * 1000.0).collect();
    r.latencies.push(Latency::of("owner_alert", "call-completed → owner's alert request", ms));
}

/// (c) Texts from callers who were texted back: inbound SMS → the AI's reply request.
async fn conversations(rig: &Rig, l: &Load) -> anyhow::Result<Report> {
    let n = (l.rate * l.duration.as_secs_f64()).round().max(1.0) as usize;
    let callers = load::flood(&rig.tw, Kind::MissedCall, 0, n, IN_FLIGHT).await?;
    let (greeted, _) = load::wait_for_texts(&rig.fake, &callers, 1, PATIENCE).await;
    anyhow::ensure!(greeted.len() == n, "only {} of {n} callers were texted back", greeted.len());
    settle(&rig.pool).await?;
    let title = format!(
        "callrecover bench conversations: {:.0} customer texts/s for {:.0} s to texted-back callers (rules engine, no owner window)",
        l.rate,
        l.duration.as_secs_f64()
    );
    let label = "inbound SMS → reply request";
    measure(rig, l, 0, Measured { kind: Kind::Text, nth: 2, key: "reply", label, title }).await
}

/// (d) Puts `sleepers` follow-up workflows to sleep, then runs (a).
async fn sleeping(rig: &Rig, s: &Sleeping) -> anyhow::Result<Report> {
    let t = Instant::now();
    let callers = load::flood(&rig.tw, Kind::MissedCall, 0, s.sleepers, IN_FLIGHT).await?;
    let patience = Duration::from_secs(60 + s.sleepers as u64 / 10);
    let (greeted, _) = load::wait_for_texts(&rig.fake, &callers, 1, patience).await;
    anyhow::ensure!(greeted.len() == s.sleepers, "only {} of {} sleepers were texted back", greeted.len(), s.sleepers);
    settle(&rig.pool).await?;
    let asleep: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM workflow_runs WHERE kind = 'conversation' AND status = 'waiting' AND wake_at > now()",
    )
    .fetch_one(&rig.pool)
    .await?;
    let setup_s = t.elapsed().as_secs_f64();
    let mut r = missed_calls(rig, &s.load, s.sleepers, "sleeping").await?;
    r.title = format!("{} with {asleep} follow-up workflows asleep", r.title);
    r.figure("sleeping_workflows", "follow-up workflows asleep in the database", asleep);
    r.figure("sleepers_setup_s", "time to create them (s)", num(setup_s));
    Ok(r)
}

/// (b) A flood for complete workflows per second, then rising rates until
/// text-back p99 passes 100 ms or a call is not texted back.
async fn saturation(rig: &Rig, s: &Saturation) -> anyhow::Result<Report> {
    anyhow::ensure!(s.from > 0.0 && s.step > 0.0 && s.to >= s.from, "--from, --step and --to must rise");
    let owner = rig.business.owner_phone.to_string();
    let cpu0 = CpuSample::take(rig.server.pid);
    let started = Instant::now();
    let flood = load::flood(&rig.tw, Kind::MissedCall, 0, s.flood, IN_FLIGHT).await?;
    let (text_backs, last_text) = load::wait_for_texts(&rig.fake, &flood, 1, PATIENCE).await;
    let (alerts, last_alert) =
        load::wait_for_owner(&rig.fake, &owner, load::MISSED_CALL_ALERT, s.flood, PATIENCE).await;
    let cpu = cpu0.until(&CpuSample::take(rig.server.pid));
    let complete = text_backs.len().min(alerts);
    let end = last_text.max(last_alert).unwrap_or(started);
    let per_s = complete as f64 / end.saturating_duration_since(started).as_secs_f64().max(1e-9);
    settle(&rig.pool).await?;

    let mut r = Report::new(format!(
        "callrecover bench saturation: a flood of {} missed calls ({IN_FLIGHT} in flight), then {:.0}→{:.0}/s in steps of {:.0} for {:.0} s each",
        s.flood,
        s.from,
        s.to,
        s.step,
        s.step_duration.as_secs_f64()
    ));
    r.latencies.push(Latency::of("flood_text_back", "flood: call-completed → text-back request", text_backs));
    let mut first = s.flood;
    let mut best: Option<f64> = None;
    let mut rate = s.from;
    while rate <= s.to {
        let l = Load { rate, duration: s.step_duration, warmup: Duration::ZERO };
        let sent = load::at_rate(&rig.tw, Kind::MissedCall, first, rate, l.duration).await?;
        first += sent.len();
        let (tb, _) = load::wait_for_texts(&rig.fake, &sent, 1, PATIENCE).await;
        let t = Latency::of("t", "", tb);
        let w = Latency::of("w", "", webhooks(&sent));
        r.steps.push(Step {
            rate_per_s: rate,
            sent: sent.len(),
            completed: t.n,
            text_back_p50_ms: t.p50,
            text_back_p99_ms: t.p99,
            webhook_p99_ms: w.p99,
        });
        if t.n < sent.len() || t.p99 > SATURATION_P99_MS {
            break;
        }
        best = Some(rate);
        settle(&rig.pool).await?;
        rate += s.step;
    }
    r.figure("flood_workflows_per_s", "flood: complete workflows/s (text-back and owner alert sent)", num(per_s));
    r.figure("flood_completed", "flood: complete workflows", complete);
    r.figure(
        "max_rate_p99_under_100ms",
        "highest rate with every text-back sent and p99 ≤ 100 ms (/s)",
        best.map_or(serde_json::Value::Null, num),
    );
    r.figure(
        "workflows_per_s_over_underway_jobs_per_s",
        "ratio: flood workflows/s ÷ bare underway jobs/s",
        num(per_s / rig.yard.jobs_per_s),
    );
    cpu_figures(&mut r, cpu);
    Ok(r)
}

fn webhooks(sent: &[Sent]) -> Vec<f64> {
    sent.iter().flat_map(|s| s.webhook_ms.iter().copied()).collect()
}

fn outcome(r: &mut Report, sent: &[Sent], completed: usize, started: Instant, last: Option<Instant>) {
    let elapsed = last.unwrap_or(started).saturating_duration_since(started).as_secs_f64().max(1e-9);
    r.figure("sent", "requests sent", sent.len());
    r.figure("completed", "answered by a text", completed);
    r.figure("throughput_per_s", "throughput (texts/s, first send to last text)", num(completed as f64 / elapsed));
}

fn cpu_figures(r: &mut Report, cpu: procs::CpuUse) {
    r.figure("server_cpu_pct", "server CPU during the load (% of one core)", num(cpu.server_cpu_pct));
    r.figure("postgres_cpu_pct", "PostgreSQL CPU during the load (% of one core)", num(cpu.postgres_cpu_pct));
}

fn ratios(r: &mut Report, y: &Yardsticks, latencies: &[f64]) {
    let mut v = latencies.to_vec();
    v.sort_by(f64::total_cmp);
    let p50 = pct(&v, 50.0);
    r.figure("p50_over_underway_hop_p50", "ratio: text p50 ÷ bare underway hop p50", num(p50 / y.hop_p50_ms));
    r.figure("p50_over_commit_p50", "ratio: text p50 ÷ bare commit p50", num(p50 / y.commit_p50_ms));
}

/// Waits until no run has work due, so one phase's backlog does not count against the next.
async fn settle(pool: &PgPool) -> anyhow::Result<()> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM workflow_runs WHERE status = 'active' OR (status = 'waiting' AND wake_at <= now())",
        )
        .fetch_one(pool)
        .await?;
        if busy == 0 || Instant::now() > deadline {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
