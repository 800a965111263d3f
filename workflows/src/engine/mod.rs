//! The workflow engine: our runs in our tables, underway only as durable
//! wake-ups. A tick `{run_id, token}` locks its run, returns at once if the
//! token moved on (that is how timers are cancelled), applies the pure
//! transition, stores state, history and outbox rows, commits, sends with no
//! transaction open, and schedules the next tick with a fresh token.
//!
//! Runs have a kind (`CONVERSATION`, `REVIEW_REQUEST`); the tick reads it and
//! runs that kind's driver (`tick::dispatch`). Drivers share `drive`: lock the
//! run if the tick still owns it, deliver the outbox, schedule the next wake-up.

pub(crate) mod backlog;
#[cfg(test)]
mod backlog_tests;
pub mod control;
pub(crate) mod drive;
#[cfg(test)]
mod drive_tests;
pub mod eager;
pub mod rescue;
pub mod runs;
pub mod runs_many;
#[cfg(test)]
mod runs_many_tests;
#[cfg(test)]
mod runs_tests;
pub mod start;
#[cfg(test)]
mod start_tests;
pub mod tick;
pub mod timers;
pub(crate) mod worker_loop;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use underway::Queue;
use uuid::Uuid;

use activities::domain::{BusinessId, PhoneNumber, RunId};
use activities::sms::{RetryPolicy, SmsTransport};
use activities::store::calls::{self, Call, CallEnd, CallOutcome, Finished};
use activities::store::webhook_events::WebhookEvent;
use activities::templates::Templates;

use crate::conversation::State;
use start::RunStart;
pub use tick::{TickInput, TickTask};

/// The underway queue every tick goes through.
pub const QUEUE: &str = "callrecover_tick";
/// The kind of run a missed call starts.
pub const CONVERSATION: &str = "conversation";
/// What started a missed call's conversation (its `started` event's `by`).
const MISSED_CALL: &str = "missed_call";
/// The kind of run a completed job starts: a review request and one reminder.
pub const REVIEW_REQUEST: &str = "review_request";

/// How the engine runs; built from the process settings.
#[derive(Clone)]
pub struct EngineConfig {
    pub transport: SmsTransport,
    pub retry: RetryPolicy,
    /// `BASE_URL/webhook/sms/status`, given to Twilio on each send.
    pub status_callback: Option<String>,
    pub poll: Duration,
    pub concurrency: usize,
    /// A worker that stops heartbeating for this long is presumed dead.
    pub heartbeat: Duration,
    /// A tick in progress this long is presumed lost by underway and retried (see `rescue`).
    pub rescue_after: Duration,
    /// Eager ticks: a started or signalled run is handed to a worker by NOTIFY
    /// with this lease, and underway takes it only if the lease runs out. None:
    /// every tick goes through underway's queue.
    pub eager_lease: Option<Duration>,
    /// Most handed-over conversation runs a worker ticks together, their
    /// rounds sharing one transaction (`conversation::batch`); 1: each alone.
    pub eager_batch: usize,
    /// Validity of the text-back at Twilio: a stale "sorry we missed you" is dropped.
    pub text_back_validity_secs: i32,
    /// `BASE_URL`, for the one-tap links in owner alerts.
    pub base_url: String,
    /// Signs one-tap takeover links.
    pub link_secret: Vec<u8>,
    /// Follow-up delays after our last message (2 h, 24 h, 72 h); None turns them off.
    pub follow_ups: Option<[chrono::Duration; 3]>,
    /// Review requests: the request this long after the job is completed
    /// (2 h), the one reminder this long after the request (48 h).
    pub review_delays: [chrono::Duration; 2],
    /// Whether workers send the owners' daily summaries.
    pub daily_summary: bool,
    /// The OpenAI-compatible responder; None runs the rules engine alone.
    pub llm: Option<Arc<dyn activities::responder::Responder>>,
    /// The SMTP server for owner emails; None keeps them in `email_outbox` as `stored`.
    pub mailer: Option<activities::notify::Mailer>,
}

pub(crate) struct Inner {
    pub pool: PgPool,
    /// The businesses this process's rounds have read, by version.
    pub businesses: activities::store::business_cache::BusinessCache,
    pub queue: Arc<Queue<TickTask>>,
    pub templates: Templates,
    pub cfg: EngineConfig,
}

/// The handle the web layer and the workers share.
#[derive(Clone)]
pub struct Workflows(pub(crate) Arc<Inner>);

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] underway::queue::Error),
    #[error("worker: {0}")]
    Worker(#[from] underway::worker::Error),
    #[error(transparent)]
    Template(#[from] activities::templates::TemplateError),
    #[error("owner notification: {0}")]
    Notify(#[from] activities::notify::NotifyError),
    #[error("run {0} has an unreadable state: {1}")]
    State(RunId, serde_json::Error),
    #[error("run {0} is of kind {1:?}, which no driver runs")]
    UnknownKind(RunId, String),
    #[error("run {0}: business is gone")]
    BusinessMissing(RunId),
    #[error(transparent)]
    Delivery(#[from] activities::sms::DeliverError),
    #[error("asked for a reply while no customer text is pending")]
    NotReplying,
    #[error("every responder failed: {0}")]
    Responder(String),
}

/// underway's own connections (dequeue, heartbeats, attempt rows): planned
/// for each call. Its dequeue passes the task states as parameters, so a
/// cached generic plan cannot use the partial index of pending tasks and
/// scans every retained task (14 days of them); the dequeue then slows with
/// every tick ever run, sleeping workflows' included. Custom plans see the
/// states and use the index. Lazy: web processes never dequeue.
fn queue_pool(pool: &PgPool, concurrency: usize) -> PgPool {
    let opts = (*pool.connect_options()).clone().options([("plan_cache_mode", "force_custom_plan")]);
    sqlx::postgres::PgPoolOptions::new()
        // One per running task (its transaction), plus heartbeats; the
        // `task_change` listener is on the engine's pool (`worker_loop`).
        .max_connections(u32::try_from(concurrency).unwrap_or(16).saturating_add(4))
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(opts)
}

impl Workflows {
    pub async fn new(pool: PgPool, cfg: EngineConfig) -> Result<Self, EngineError> {
        let queue = Queue::builder().name(QUEUE).pool(queue_pool(&pool, cfg.concurrency)).build().await?;
        let templates = Templates::new()?;
        let businesses = Default::default();
        Ok(Self(Arc::new(Inner { pool, businesses, queue: Arc::new(queue), templates, cfg })))
    }

    /// The businesses this process has read, by row version (shared by the
    /// rounds and the web layer's webhooks).
    pub fn businesses(&self) -> &activities::store::business_cache::BusinessCache {
        &self.0.businesses
    }

    pub fn pool(&self) -> &PgPool {
        &self.0.pool
    }

    /// Finishes a ringing call as its action callback says, with the
    /// callback's audit row; a missed call's conversation starts with it,
    /// and neither is written without the other. Handed over by NOTIFY (the
    /// default), that is one statement with no transaction around it;
    /// otherwise a transaction that also enqueues the first tick. None when
    /// the call had already finished (Twilio retried the callback): nothing
    /// is started twice.
    pub async fn finish_call(
        &self,
        conn: &mut PgConnection,
        call: &Call,
        end: &CallEnd<'_>,
        audit: &WebhookEvent<'_>,
    ) -> Result<Option<Finished>, EngineError> {
        let key = (call.business_id, call.id);
        if end.outcome != CallOutcome::Missed {
            return Ok(calls::finish_call(conn, key, end, audit).await?);
        }
        let state = missed_call_state(call, Utc::now());
        let subject_key = format!("call:{}", call.twilio_call_sid);
        let Some(kick) = self.0.cfg.eager_lease else {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let finished = calls::finish_call(&mut *tx, key, end, audit).await?;
            if finished.is_some() {
                self.start(&mut tx, call.business_id, &subject_key, &state, MISSED_CALL).await?;
            }
            tx.commit().await?;
            return Ok(finished);
        };
        let started = serde_json::json!({ "by": MISSED_CALL });
        let run = RunStart {
            kind: CONVERSATION,
            subject_key: &subject_key,
            state: &state,
            token: Uuid::new_v4(),
            kick: Some(kick),
            started,
        };
        let finished = start::finish_call_starting_run(conn, key, end, audit, &run).await?;
        Ok(finished.map(|f| {
            tracing::debug!(call_id = %call.id, run_id = ?f.run_id, "missed call's conversation started");
            f.finished
        }))
    }

    /// Starts a conversation for a first text from a number with no open one.
    pub async fn start_text_conversation(
        &self,
        conn: &mut PgConnection,
        business_id: BusinessId,
        caller: &PhoneNumber,
        message_sid: &str,
    ) -> Result<Option<RunId>, EngineError> {
        let state =
            State::Start { call_id: None, caller: caller.clone(), called_at: chrono::Utc::now(), caller_state: None };
        self.start(conn, business_id, &format!("sms:{message_sid}"), &state, "inbound_text").await
    }

    /// Sends one compliance notice (STOP confirmation, START, HELP) to a
    /// number with no live conversation, through the same outbox.
    pub async fn start_notice(
        &self,
        conn: &mut PgConnection,
        business_id: BusinessId,
        caller: &PhoneNumber,
        notice: crate::conversation::state::Notice,
        message_sid: &str,
    ) -> Result<Option<RunId>, EngineError> {
        let state = State::Notice { caller: caller.clone(), notice };
        self.start(conn, business_id, &format!("notice:{message_sid}"), &state, "keyword").await
    }

    /// The live run that owns a conversation.
    pub async fn run_of_conversation(
        &self,
        conn: &mut PgConnection,
        conversation_id: activities::domain::ConversationId,
    ) -> Result<Option<RunId>, EngineError> {
        Ok(runs::live_run_of(conn, conversation_id, RunId(Uuid::nil())).await?)
    }

    async fn start(
        &self,
        conn: &mut PgConnection,
        business_id: BusinessId,
        key: &str,
        state: &State,
        by: &str,
    ) -> Result<Option<RunId>, EngineError> {
        let started = serde_json::json!({ "by": by });
        let created = self.create_run(conn, business_id, CONVERSATION, key, state, started, true).await?;
        Ok(created.map(|(run_id, _)| run_id))
    }

    /// Creates a run of `kind` unless one with `(kind, key)` exists, with its
    /// `started` event, in the caller's transaction. A run `due_now` is ticked
    /// at once: handed to a worker by NOTIFY when eager ticks are on, else
    /// queued in underway. Returns the new run's id and token.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn create_run(
        &self,
        conn: &mut PgConnection,
        business_id: BusinessId,
        kind: &str,
        key: &str,
        state: &impl serde::Serialize,
        started: serde_json::Value,
        due_now: bool,
    ) -> Result<Option<(RunId, Uuid)>, EngineError> {
        let kick = self.0.cfg.eager_lease.filter(|_| due_now);
        let Some((run_id, token)) = runs::start_run(&mut *conn, business_id, kind, key, state, started, kick).await?
        else {
            return Ok(None);
        };
        if due_now && kick.is_none() {
            self.enqueue_tick(conn, run_id, token, Duration::ZERO).await?;
        }
        Ok(Some((run_id, token)))
    }

    /// The lease of a run handed over by NOTIFY.
    pub(crate) fn lease(&self) -> Duration {
        self.0.cfg.eager_lease.unwrap_or(eager::DEFAULT_LEASE)
    }

    /// Enqueues a tick in the caller's transaction (low level: a tick whose
    /// token is not the run's current one does nothing).
    pub async fn enqueue_tick(
        &self,
        conn: &mut PgConnection,
        run_id: RunId,
        token: Uuid,
        delay: Duration,
    ) -> Result<(), EngineError> {
        let task = TickTask(self.0.clone());
        let input = TickInput { run_id, token, claim: None, kind: None };
        let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        if ms == 0 {
            self.0.queue.enqueue(&mut *conn, &task, &input).await?;
        } else {
            let span = jiff::Span::new().try_milliseconds(ms).unwrap_or_else(|_| jiff::Span::new().hours(24 * 13));
            self.0.queue.enqueue_after(&mut *conn, &task, &input, span).await?;
        }
        Ok(())
    }

    /// Runs workers until `shutdown` fires: polls every `poll`, takes up to
    /// `concurrency` ticks at once, and prunes finished tasks hourly.
    pub async fn run_workers(&self, shutdown: tokio_util::sync::CancellationToken) -> Result<(), EngineError> {
        let pool = self.0.pool.clone();
        let pruning = tokio::spawn(async move {
            let _ = underway::queue::run_deletion_every(&pool, jiff::Span::new().hours(1)).await;
        });
        let sweeper = tokio::spawn(timers::sweep_every(self.clone(), self.0.cfg.poll, shutdown.clone()));
        let dispatcher = tokio::spawn(crate::dispatch::dispatch_every(self.clone(), self.0.cfg.poll, shutdown.clone()));
        let eager =
            self.0.cfg.eager_lease.is_some().then(|| tokio::spawn(eager::listen(self.clone(), shutdown.clone())));
        let summaries = self
            .0
            .cfg
            .daily_summary
            .then(|| tokio::spawn(crate::summary::run(self.clone(), self.0.cfg.poll, shutdown.clone())));
        let (queue, task, cfg) = (self.0.queue.clone(), TickTask(self.0.clone()), &self.0.cfg);
        worker_loop::run_until(queue, QUEUE, task, self.0.pool.clone(), cfg.poll, cfg.concurrency, shutdown).await;
        pruning.abort();
        sweeper.abort();
        dispatcher.abort();
        if let Some(e) = eager {
            e.abort();
        }
        if let Some(s) = summaries {
            s.abort();
        }
        Ok(())
    }
}

/// A missed call's conversation as it starts: the caller to text back.
fn missed_call_state(call: &Call, called_at: DateTime<Utc>) -> State {
    State::Start {
        call_id: Some(call.id),
        caller: call.caller_phone.clone(),
        called_at,
        caller_state: call.caller_state.clone(),
    }
}
