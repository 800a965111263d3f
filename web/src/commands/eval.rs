//! `callrecover eval`: replays a labelled conversation corpus through the whole
//! product — signed webhooks over HTTP, the durable workflows, the configured
//! responder, our Twilio client against a fake Twilio — and scores the leads
//! it ends with against the corpus's `expect` (see `score`).

mod score;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sqlx::PgPool;

use crate::app::{self, Mode};
use crate::commands::harness::{fake_twilio_settings, Scratch, Webhooks};
use crate::fake_twilio::{FakeTwilio, Sent};
use crate::settings::Settings;

pub use score::{Conversation, Miss, Report};
use score::{LeadRow, Outcome};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The corpus: one JSON conversation a line (see tests/corpus).
    pub file: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Conversations replayed at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
}

/// How the replay runs.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub concurrency: usize,
    /// How long one turn may wait for our answer.
    pub turn_timeout: Duration,
    /// How long a turn after an opt-out is watched for a (forbidden) message.
    pub silence_window: Duration,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self { concurrency: 8, turn_timeout: Duration::from_secs(5), silence_window: Duration::from_millis(300) }
    }
}

pub async fn run(args: EvalArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be positive");
    let scratch = Scratch::create("callrecover_eval").await?;
    let opts = EvalOptions { concurrency: args.concurrency, ..EvalOptions::default() };
    let result = evaluate(&args.file, &scratch.url, &opts).await;
    scratch.drop_all().await?;
    let report = result?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// Replays every conversation of `path` against the empty database at
/// `database_url` (migrated here) and scores the result.
pub async fn evaluate(path: &Path, database_url: &str, opts: &EvalOptions) -> anyhow::Result<Report> {
    let corpus = score::load(path)?;
    anyhow::ensure!(!corpus.is_empty(), "{} holds no conversations", path.display());
    let fake = FakeTwilio::start().await?;
    let settings = settings(&fake, database_url)?;
    let pool = app::connect(&settings).await?;
    workflows::migrate(&pool).await.context("migrating the eval database")?;
    let to = scratch_business(&pool).await?;
    let running = app::start(settings.clone(), pool.clone(), Mode { web: true, workers: true }).await?;
    let ctx = Arc::new(Ctx {
        client: reqwest::Client::new(),
        addr: running.addr.context("web did not bind")?,
        base_url: settings.base_url.clone(),
        fake,
        pool: pool.clone(),
        to,
        opts: opts.clone(),
    });
    let outcomes = replay_all(&ctx, &corpus).await;
    running.stop().await?;
    pool.close().await;
    let responder = settings.openai.as_ref().map_or_else(|| "rules".to_owned(), |o| format!("openai:{}", o.model));
    Ok(score::report(&corpus, &outcomes?, responder))
}

/// Test-speed settings, Twilio faked, follow-ups off, OPENAI_* from the environment.
fn settings(fake: &FakeTwilio, database_url: &str) -> anyhow::Result<Settings> {
    let extra = [("WORKER_POLL_MS", "100"), ("FOLLOW_UP_DELAYS", "off")];
    let openai = |k: &str| if k.starts_with("OPENAI_") { std::env::var(k).ok() } else { None };
    Ok(fake_twilio_settings(fake, database_url, "https://eval.callrecover.test", &extra, openai)?)
}

/// The demo business, answered by the responder at once: no screening, no owner window.
async fn scratch_business(pool: &PgPool) -> anyhow::Result<String> {
    let business = super::demo::seed(pool).await?;
    sqlx::query(
        "UPDATE businesses SET call_screening = false, owner_window_seconds = 0, owner_status = 'offline'
         WHERE id = $1",
    )
    .bind(business.id)
    .execute(pool)
    .await?;
    Ok(business.twilio_number.to_string())
}

struct Ctx {
    client: reqwest::Client,
    addr: std::net::SocketAddr,
    base_url: String,
    fake: FakeTwilio,
    pool: PgPool,
    to: String,
    opts: EvalOptions,
}

async fn replay_all(ctx: &Arc<Ctx>, corpus: &[Conversation]) -> anyhow::Result<Vec<Outcome>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(ctx.opts.concurrency.max(1)));
    let mut handles = Vec::with_capacity(corpus.len());
    for (i, c) in corpus.iter().enumerate() {
        let (ctx, permits, c) = (ctx.clone(), permits.clone(), c.clone());
        handles.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await?;
            replay(&ctx, i, &c).await.with_context(|| format!("replaying {}", c.id))
        }));
    }
    let mut outcomes = Vec::with_capacity(handles.len());
    for h in handles {
        outcomes.push(h.await??);
    }
    Ok(outcomes)
}

/// One conversation: a missed call, the text-back, then each customer turn.
async fn replay(ctx: &Ctx, i: usize, c: &Conversation) -> anyhow::Result<Outcome> {
    let caller = format!("+1512{:07}", 3_000_000 + i);
    let mut out = Outcome::default();
    missed_call(ctx, &caller).await?;
    if wait_new(ctx, &caller, 0, ctx.opts.turn_timeout).await.is_empty() {
        out.unanswered_turns += 1;
    }
    for (turn, body) in c.turns.iter().enumerate() {
        let before = ctx.fake.sent_to(&caller).len();
        text(ctx, &caller, body).await?;
        if c.expect.opt_out_at_turn.is_some_and(|k| turn > k) {
            tokio::time::sleep(ctx.opts.silence_window).await;
            out.after_opt_out += ctx.fake.sent_to(&caller).len() - before;
            continue;
        }
        let new = wait_new(ctx, &caller, before, ctx.opts.turn_timeout).await;
        if new.is_empty() {
            out.unanswered_turns += 1;
        }
        if c.expect.help_at_turn == Some(turn) {
            out.help_answered = new.iter().any(|s| s.body.contains("Msg & data rates may apply"));
        }
    }
    out.replies = ctx.fake.sent_to(&caller).into_iter().map(|s| s.body).collect();
    read_back(ctx, &caller, &mut out).await?;
    Ok(out)
}

/// What the database holds for the caller once the conversation is over.
async fn read_back(ctx: &Ctx, caller: &str, out: &mut Outcome) -> anyhow::Result<()> {
    out.lead = sqlx::query_as::<_, LeadRow>(
        "SELECT service_needed, service_category, urgency, name, address, preferred_time, status
         FROM leads WHERE phone = $1",
    )
    .bind(caller)
    .fetch_optional(&ctx.pool)
    .await?
    .unwrap_or_default();
    out.emergency = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM notifications n
           JOIN conversations c ON c.id = n.conversation_id JOIN leads l ON l.id = c.lead_id
           WHERE n.event = 'emergency' AND l.phone = $1)",
    )
    .bind(caller)
    .fetch_one(&ctx.pool)
    .await?;
    out.opted_out = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = $1)")
        .bind(caller)
        .fetch_one(&ctx.pool)
        .await?;
    Ok(())
}

/// Incoming, then call-completed with no-answer (screening is off).
async fn missed_call(ctx: &Ctx, caller: &str) -> anyhow::Result<()> {
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let mut params = vec![
        ("CallSid".to_owned(), sid),
        ("From".to_owned(), caller.to_owned()),
        ("To".to_owned(), ctx.to.clone()),
        ("CallStatus".to_owned(), "ringing".to_owned()),
    ];
    post(ctx, "/webhook/voice/incoming", &params).await?;
    params.push(("DialCallStatus".to_owned(), "no-answer".to_owned()));
    params.push(("DialCallDuration".to_owned(), "0".to_owned()));
    post(ctx, "/webhook/voice/call-completed", &params).await
}

async fn text(ctx: &Ctx, caller: &str, body: &str) -> anyhow::Result<()> {
    let params = [
        ("MessageSid".to_owned(), format!("SM{}", uuid::Uuid::new_v4().simple())),
        ("From".to_owned(), caller.to_owned()),
        ("To".to_owned(), ctx.to.clone()),
        ("Body".to_owned(), body.to_owned()),
    ];
    post(ctx, "/webhook/sms/incoming", &params).await
}

async fn post(ctx: &Ctx, path: &str, params: &[(String, String)]) -> anyhow::Result<()> {
    let hooks = Webhooks { client: &ctx.client, addr: ctx.addr, base_url: &ctx.base_url, token: &ctx.fake.auth_token };
    hooks.post(path, params).await
}

/// The messages to `to` beyond the first `have`, once at least one arrived (or the timeout passed).
async fn wait_new(ctx: &Ctx, to: &str, have: usize, timeout: Duration) -> Vec<Sent> {
    let deadline = Instant::now() + timeout;
    loop {
        let sent = ctx.fake.sent_to(to);
        if sent.len() > have || Instant::now() > deadline {
            return sent.into_iter().skip(have).collect();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
