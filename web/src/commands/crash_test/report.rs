//! The crash test's verdict: a per-kill table for people, then one JSON
//! object (the last line) for machines.

use std::time::Duration;

use serde::Serialize;

use super::check::Findings;
use super::kills::Kill;
use super::plan::Plan;
use super::CrashTestArgs;
use crate::fake_twilio::{FakeTwilio, FaultCounts};

/// A webhook slower than this did not "fail fast": Twilio gives up after 15 s.
const WEBHOOK_FAIL_FAST_MS: f64 = 10_000.0;

/// What the fault injection saw besides Twilio's own counts.
#[derive(Debug, Clone)]
pub struct FaultsSeen {
    pub postgres_restarts_s: Vec<f64>,
    pub webhook_5xx: usize,
    pub webhook_max_ms: f64,
    pub llm_requests: usize,
    pub llm_faults: usize,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub workflows: usize,
    pub kills: usize,
    pub text_backs_missing: usize,
    pub text_backs_duplicated: usize,
    pub replies_missing: usize,
    pub replies_duplicated: usize,
    pub stuck: i64,
    /// None when some kill's outstanding work never completed.
    pub max_recovery_s: Option<f64>,
    pub recoveries_s: Vec<Option<f64>>,
    /// Kill to the next text any process sent.
    pub first_sms_after_kill_s: Vec<Option<f64>>,
    pub workers: usize,
    pub webs: usize,
    pub duration_s: f64,
    pub quiet: bool,
    pub runs: i64,
    pub ticks: i64,
    pub replies: usize,
    pub owner_alerts_missing: usize,
    pub owner_alerts_duplicated: usize,
    pub sends_unrecorded: usize,
    pub texts_maybe_sent_at_kills: usize,
    /// Times a worker asked Twilio whether a maybe-sent text went out.
    pub reconcile_lookups: usize,
    pub webhook_errors: usize,
    /// Callers whose call-completed and reply webhooks were sent twice at once, to two web processes.
    pub repeated_webhooks: usize,
    pub unexpected_exits: Vec<String>,
    pub rate_per_s: f64,
    pub twilio_latency_ms: u64,
    /// Share of Twilio sends made to fail, and what the fake answered.
    pub twilio_fault_rate: f64,
    pub twilio_faults: FaultCounts,
    /// How long each PostgreSQL restart took (s).
    pub postgres_restarts_s: Vec<f64>,
    /// Webhook answers with a 5xx status (while the database was away).
    pub webhook_5xx: usize,
    /// Slowest webhook answer of the run, whatever its status.
    pub webhook_max_ms: f64,
    /// Requests to the fake OpenAI, and how many it failed (`--llm-faults`).
    pub llm_requests: usize,
    pub llm_faults: usize,
    pub seed: u64,
    #[serde(skip)]
    rows: Vec<Kill>,
}

/// Measurements rounded to what the 100 ms polling can tell.
fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 100.0).round() / 100.0
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        args: &CrashTestArgs,
        plan: &Plan,
        fake: &FakeTwilio,
        kills: &[Kill],
        f: Findings,
        quiet: bool,
        unexpected_exits: Vec<String>,
        duration: Duration,
        faults: FaultsSeen,
    ) -> Self {
        let recoveries: Vec<Option<f64>> = kills.iter().map(|k| k.recovered_after.map(secs)).collect();
        let max_recovery_s =
            recoveries.iter().try_fold(0.0_f64, |m, r| r.map(|r| m.max(r))).filter(|_| kills.len() == plan.kills.len());
        let sent = fake.sent();
        let first_sms = kills
            .iter()
            .map(|k| sent.iter().filter(|s| s.at > k.instant).map(|s| s.at - k.instant).min().map(secs))
            .collect();
        Report {
            workflows: args.workflows,
            kills: kills.len(),
            text_backs_missing: f.text_backs_missing,
            text_backs_duplicated: f.text_backs_duplicated,
            replies_missing: f.replies_missing,
            replies_duplicated: f.replies_duplicated,
            stuck: f.stuck,
            max_recovery_s,
            recoveries_s: recoveries,
            first_sms_after_kill_s: first_sms,
            workers: args.workers,
            webs: args.webs,
            duration_s: secs(duration),
            quiet,
            runs: f.runs,
            ticks: f.ticks,
            replies: f.replies,
            owner_alerts_missing: f.owner_alerts_missing,
            owner_alerts_duplicated: f.owner_alerts_duplicated,
            sends_unrecorded: f.sends_unrecorded,
            texts_maybe_sent_at_kills: kills.iter().map(|k| k.texts_maybe_sent).sum(),
            reconcile_lookups: fake.list_calls(),
            webhook_errors: f.webhook_errors,
            repeated_webhooks: f.repeated_webhooks,
            unexpected_exits,
            rate_per_s: (plan.rate * 10.0).round() / 10.0,
            twilio_latency_ms: args.twilio_latency_ms,
            twilio_fault_rate: args.twilio_faults,
            twilio_faults: fake.fault_counts(),
            postgres_restarts_s: faults.postgres_restarts_s,
            webhook_5xx: faults.webhook_5xx,
            webhook_max_ms: (faults.webhook_max_ms * 10.0).round() / 10.0,
            llm_requests: faults.llm_requests,
            llm_faults: faults.llm_faults,
            seed: plan.seed,
            rows: kills.to_vec(),
        }
    }

    /// Why the run failed; empty when it passed.
    pub fn failures(&self) -> Vec<String> {
        let counts = [
            ("text_backs_missing", self.text_backs_missing),
            ("text_backs_duplicated", self.text_backs_duplicated),
            ("replies_missing", self.replies_missing),
            ("replies_duplicated", self.replies_duplicated),
            ("stuck", usize::try_from(self.stuck).unwrap_or(usize::MAX)),
            ("owner_alerts_missing", self.owner_alerts_missing),
            ("owner_alerts_duplicated", self.owner_alerts_duplicated),
            ("sends_unrecorded", self.sends_unrecorded),
            ("webhook_errors", self.webhook_errors),
        ];
        let mut out: Vec<String> = counts.iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("{k}={n}")).collect();
        if !self.quiet {
            out.push("the system did not go quiet".into());
        }
        if self.webhook_max_ms > WEBHOOK_FAIL_FAST_MS {
            out.push(format!("a webhook took {:.0} ms: neither answered nor failed fast", self.webhook_max_ms));
        }
        if self.postgres_restarts_s.is_empty() && self.webhook_5xx > 0 {
            out.push(format!("webhook_5xx={} with the database up", self.webhook_5xx));
        }
        if self.max_recovery_s.is_none() {
            out.push("a kill was never recovered from".into());
        }
        out.extend(self.unexpected_exits.iter().cloned());
        out
    }

    pub fn print_table(&self) {
        println!(
            "callrecover crash-test: {} missed calls + replies at {}/s, {} web + {} worker processes, {} SIGKILLs",
            self.workflows, self.rate_per_s, self.webs, self.workers, self.kills
        );
        println!(
            "| kill | at (s) | worker | ticks running | runs waiting | texts pending (maybe sent) | next SMS (s) | recovered (s) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for (i, k) in self.rows.iter().enumerate() {
            let first = self.first_sms_after_kill_s.get(i).copied().flatten();
            println!(
                "| {} | {:.2} | worker-{} | {} | {} | {} ({}) | {} | {} |",
                i + 1,
                k.at.as_secs_f64(),
                k.worker,
                k.ticks_running,
                k.runs_due,
                k.texts_pending,
                k.texts_maybe_sent,
                show(first),
                show(k.recovered_after.map(secs)),
            );
        }
        println!(
            "workflows {} (runs {}, ticks {}), replies answered {}; text-backs missing {} / duplicated {}; replies missing {} / \
             duplicated {}; owner alerts missing {} / duplicated {}; sends unrecorded {}; stuck {}; \
             reconcile lookups {}; {:.1} s",
            self.workflows,
            self.runs,
            self.ticks,
            self.replies,
            self.text_backs_missing,
            self.text_backs_duplicated,
            self.replies_missing,
            self.replies_duplicated,
            self.owner_alerts_missing,
            self.owner_alerts_duplicated,
            self.sends_unrecorded,
            self.stuck,
            self.reconcile_lookups,
            self.duration_s,
        );
        let f = &self.twilio_faults;
        println!(
            "faults: Twilio sends failing {:.0}% → 500 ×{}, 429 ×{}, stored-then-hung ×{}, hung ×{}; PostgreSQL restarts {:?} s; \
             webhook 5xx answers {}, slowest webhook {:.1} ms; model requests {} ({} failed)",
            self.twilio_fault_rate * 100.0,
            f.http_500,
            f.http_429,
            f.accepted_then_hung,
            f.hung,
            self.postgres_restarts_s,
            self.webhook_5xx,
            self.webhook_max_ms,
            self.llm_requests,
            self.llm_faults,
        );
    }
}

fn show(v: Option<f64>) -> String {
    v.map_or_else(|| "never".into(), |s| format!("{s:.2}"))
}
