//! The single-step underway job that drives every run.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Transaction};
use underway::task::{Error as TaskError, Result as TaskResult, RetryPolicy, Task};
use uuid::Uuid;

use activities::domain::RunId;

use super::{EngineError, Inner, Workflows};
use std::sync::Arc;

/// The tick's input: small, and no secrets (it is stored in the queue).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TickInput {
    pub run_id: RunId,
    pub token: Uuid,
    /// A tick handed over by NOTIFY (`eager`): the lease it was announced
    /// with. Every worker hears the notification; the first to lock the run
    /// while its lease is still this one takes it, and renews the lease (so
    /// the others find it changed and leave). None for underway's ticks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<chrono::DateTime<chrono::Utc>>,
    /// The run's kind, when the sender knew it (a NOTIFY does); else it is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl TickInput {
    /// The same tick after its first round: the claim is won, the token alone fences it.
    pub(crate) fn claimed(&self) -> Self {
        Self { claim: None, ..self.clone() }
    }
}

/// The task underway runs. It ignores underway's transaction: writes through
/// it are rolled back (underway-0.2-notes §3.9); each tick opens its own short ones.
pub struct TickTask(pub(crate) Arc<Inner>);

impl Task for TickTask {
    type Input = TickInput;
    type Output = ();

    async fn execute(&self, tx: Transaction<'_, Postgres>, input: TickInput) -> TaskResult<()> {
        // Release the savepoint now; the worker's outer transaction only holds the advisory lock.
        drop(tx);
        let wf = Workflows(self.0.clone());
        match dispatch(&wf, &input).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(run_id = %input.run_id, error = %e, "tick failed; underway will retry");
                let _ = super::runs::record_error(&self.0.pool, input.run_id, &e.to_string()).await;
                Err(match e {
                    EngineError::State(..) | EngineError::UnknownKind(..) => TaskError::Fatal(e.to_string()),
                    _ => TaskError::Retryable(e.to_string()),
                })
            }
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::builder().max_attempts(25).initial_interval_ms(500).max_interval_ms(60_000).build()
    }

    fn timeout(&self) -> jiff::Span {
        jiff::Span::new().minutes(5)
    }

    fn heartbeat(&self) -> jiff::Span {
        let secs = i64::try_from(self.0.cfg.heartbeat.as_secs()).unwrap_or(30).max(1);
        jiff::Span::new().seconds(secs)
    }
}

/// Runs the driver of the run's kind. Each driver locks the run itself, so
/// the kind is read without a lock (it never changes), unless the input
/// carries it. `claim` and `kind` are optional: ticks queued as `{run_id,
/// token}` before either existed still run.
pub(crate) async fn dispatch(wf: &Workflows, input: &TickInput) -> Result<(), EngineError> {
    let kind = match &input.kind {
        Some(k) => k.clone(),
        None => match super::runs::kind_of(&wf.0.pool, input.run_id).await? {
            Some(k) => k,
            None => return Ok(()),
        },
    };
    match kind.as_str() {
        super::CONVERSATION => crate::conversation::driver::tick(wf, input).await,
        super::REVIEW_REQUEST => crate::review::driver::tick(wf, input).await,
        _ => Err(EngineError::UnknownKind(input.run_id, kind)),
    }
}

/// Rounds of transition-then-send a single tick may take before it yields.
pub(crate) const MAX_ROUNDS: usize = 8;
/// When a send is in flight elsewhere, look again after this long (or after one lease, if shorter).
pub(crate) const IN_FLIGHT_RECHECK: Duration = Duration::from_secs(5);
