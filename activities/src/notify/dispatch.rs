//! The notification dispatcher: sends what no workflow run sends — every
//! email, and owner texts queued without a run (the daily summary). Workers
//! call `dispatch` every poll period; rows are claimed with `FOR UPDATE SKIP
//! LOCKED`, so any number of workers share the work.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

use crate::sms::{self, Callbacks, Delivery, RetryPolicy, SmsTransport};
use crate::store::email_outbox::{self, Email};
use crate::store::messages;

use super::mail::{MailError, Mailer};

/// How many rows of each kind one pass takes.
const BATCH: i64 = 50;

/// What the dispatcher sends with.
#[derive(Clone)]
pub struct Dispatcher {
    pub transport: SmsTransport,
    /// `BASE_URL/webhook/sms/status`.
    pub status_callback: Option<String>,
    /// Backoff for both channels (the SMS settings).
    pub retry: RetryPolicy,
    /// None: no SMTP server, emails are kept as `stored`.
    pub mailer: Option<Mailer>,
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispatched {
    pub emails_sent: usize,
    pub emails_retried: usize,
    pub emails_failed: usize,
    pub emails_stored: u64,
    pub sms_attempted: usize,
}

impl Dispatched {
    /// Whether the pass may have left more due work behind.
    pub fn full(&self) -> bool {
        let emails = self.emails_sent + self.emails_retried + self.emails_failed;
        emails as i64 >= BATCH || self.sms_attempted as i64 >= BATCH
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Sms(#[from] sms::DeliverError),
}

/// One pass: due emails, then due run-less owner texts.
pub async fn dispatch(pool: &PgPool, d: &Dispatcher) -> Result<Dispatched, DispatchError> {
    let mut done = Dispatched::default();
    match &d.mailer {
        Some(mailer) => send_emails(pool, d, mailer, &mut done).await?,
        None => done.emails_stored = email_outbox::store_due(pool).await?,
    }
    let cb = Callbacks { status_url: d.status_callback.clone() };
    for m in messages::due_without_run(pool, d.retry.lease, BATCH).await? {
        let outcome = sms::deliver(pool, &d.transport, &m, &cb, &d.retry).await?;
        tracing::debug!(message_id = %m.id, ?outcome, "owner notification text");
        if !matches!(outcome, Delivery::InFlight) {
            done.sms_attempted += 1;
        }
    }
    Ok(done)
}

async fn send_emails(pool: &PgPool, d: &Dispatcher, mailer: &Mailer, done: &mut Dispatched) -> sqlx::Result<()> {
    // A claim outlives the slowest exchange, so a live sender is never overtaken.
    let lease = d.retry.lease.max(mailer.timeout().saturating_mul(5));
    for email in email_outbox::claim_due(pool, lease, BATCH).await? {
        match mailer.send(&email.to_address, &email.subject, &email.body).await {
            Ok(()) => {
                email_outbox::mark_sent(pool, email.id).await?;
                done.emails_sent += 1;
            }
            Err(e) => {
                tracing::warn!(email_id = %email.id, attempts = email.attempts, error = %e, "email send failed");
                if record_failure(pool, d, &email, &e).await? {
                    done.emails_retried += 1;
                } else {
                    done.emails_failed += 1;
                }
            }
        }
    }
    Ok(())
}

/// Schedules a retry (true) or marks the email failed (false).
async fn record_failure(pool: &PgPool, d: &Dispatcher, email: &Email, e: &MailError) -> sqlx::Result<bool> {
    let text = e.to_string();
    match e {
        MailError::Transient(_) if email.attempts < d.retry.max_attempts => {
            let wait = d.retry.delay(email.attempts);
            let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::minutes(5));
            email_outbox::mark_retry(pool, email.id, at, &text).await?;
            Ok(true)
        }
        MailError::Transient(_) => {
            email_outbox::mark_failed(pool, email.id, &format!("gave up after {} attempts: {text}", email.attempts))
                .await?;
            Ok(false)
        }
        MailError::Permanent(_) => {
            email_outbox::mark_failed(pool, email.id, &text).await?;
            Ok(false)
        }
    }
}

/// How long to wait after an idle pass; a full pass goes again at once.
pub fn pause_after(done: &Dispatched, poll: Duration) -> Duration {
    if done.full() {
        Duration::ZERO
    } else {
        poll
    }
}
