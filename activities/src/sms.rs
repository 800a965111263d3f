//! Sending one outbox row, effectively once: opt-outs re-checked at send time,
//! `sending` committed before the provider call, a maybe-sent row reconciled
//! with the provider before any resend, and provider errors turned into actions.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::domain::{BusinessId, MessageId, PhoneNumber};
use crate::store::messages::{self, Claim, Message};
use crate::store::opt_outs;
use crate::twilio::{NewMessage, TwilioClient, TwilioError};

/// Where texts go: Twilio, or the simulator that records them and sends nothing.
#[derive(Clone)]
pub enum SmsTransport {
    Twilio(TwilioClient),
    Simulator,
}

/// The outbox purpose of the one confirmation an opt-out receives.
pub const OPT_OUT_CONFIRMATION: &str = "opt_out_confirmation";

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent {
        sid: String,
    },
    /// We refused to send: the number is opted out.
    Blocked,
    /// The number opted out at the carrier (21610/30004); now on our list too.
    OptedOut,
    /// Not a number that can take texts (landline, invalid).
    Unreachable,
    /// A permanent provider rejection, recorded.
    Failed,
    /// Will be tried again at this time.
    RetryAt(DateTime<Utc>),
    /// Another worker is sending it right now.
    InFlight,
}

/// Retry policy for expected provider failures (our own; underway's retries are for crashes).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: i32,
    /// How long a `sending` row belongs to the worker that claimed it.
    pub lease: Duration,
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt: doubling from `base`, capped at `max`.
    pub fn delay(&self, attempts: i32) -> Duration {
        let exp = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
        self.base.saturating_mul(2u32.saturating_pow(exp)).min(self.max)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The callback URL Twilio posts delivery updates to.
pub struct Callbacks {
    pub status_url: Option<String>,
}

/// The status callback of one text: it names the text, so that a report
/// Twilio sends before the send is recorded (the sid not yet in the row)
/// still finds its row.
pub fn status_url_for(url: &str, id: MessageId) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}message_id={id}")
}

impl SmsTransport {
    async fn send(&self, m: &Message, cb: &Callbacks) -> Result<String, TwilioError> {
        match self {
            SmsTransport::Simulator => Ok(format!("SM{}", uuid::Uuid::new_v4().simple())),
            SmsTransport::Twilio(client) => {
                let msg = NewMessage {
                    to: &m.to_phone,
                    from: &m.from_phone,
                    body: &m.body,
                    status_callback: cb.status_url.as_deref().map(|url| status_url_for(url, m.id)),
                    validity_period: m.validity_seconds.and_then(|v| u32::try_from(v).ok()),
                };
                client.create_message(&msg).await.map(|r| r.sid)
            }
        }
    }

    /// Looks for a message with this body that the provider already has.
    async fn find_sent(&self, m: &Message) -> Result<Option<String>, TwilioError> {
        match self {
            // Nothing leaves the machine: a send lost in a crash never happened.
            SmsTransport::Simulator => Ok(None),
            SmsTransport::Twilio(client) => {
                // Only messages created after our row (with slack for clock skew) can be this one.
                let since = m.created_at - chrono::Duration::minutes(5);
                let list = client.list_messages(&m.to_phone, &m.from_phone, since).await?;
                Ok(list
                    .into_iter()
                    .find(|r| r.body.as_deref() == Some(m.body.as_str()) && r.created_at().is_some_and(|t| t >= since))
                    .map(|r| r.sid))
            }
        }
    }
}

/// Delivers one pending outbox row with commits of its own: claims it, sends
/// it ([`send_claimed`]), and records the send. Never holds a transaction
/// across the call.
pub async fn deliver(
    pool: &PgPool,
    transport: &SmsTransport,
    m: &Message,
    cb: &Callbacks,
    policy: &RetryPolicy,
) -> Result<Delivery, DeliverError> {
    let claim = messages::claim_for_send(pool, m.id, policy.lease).await?;
    let outcome = send_claimed(pool, transport, m, &claim, cb, policy).await?;
    if let Delivery::Sent { sid } = &outcome {
        messages::mark_sent(pool, m.id, sid).await?;
    }
    Ok(outcome)
}

/// Carries out a claim already committed (by [`messages::claim_for_send`]
/// or a tick's [`crate::store::run_outbox::claim_run_outbox`]): a held row
/// is left to its sender, an opted-out one is recorded blocked, a claimed
/// one is reconciled if a dead sender may have sent it, then sent.
///
/// Every outcome but one is recorded here: a text sent ([`Delivery::Sent`])
/// stays `sending` for the caller to record ([`messages::record_sent`]), so
/// that a tick records all of a round's sends in its next transaction. Until
/// then the row is what a crash between the provider's answer and the
/// record leaves: any later attempt asks the provider first (`find_sent`)
/// and never sends twice.
pub async fn send_claimed(
    pool: &PgPool,
    transport: &SmsTransport,
    m: &Message,
    claim: &Claim,
    cb: &Callbacks,
    policy: &RetryPolicy,
) -> Result<Delivery, DeliverError> {
    let previous = match claim {
        Claim::Claimed(previous) => previous,
        Claim::Held => return Ok(Delivery::InFlight),
        Claim::OptedOut => {
            messages::mark_failed(pool, m.id, "blocked", None, "recipient opted out").await?;
            return Ok(Delivery::Blocked);
        }
    };
    if previous == "sending" {
        match transport.find_sent(m).await {
            Ok(Some(sid)) => {
                tracing::info!(message_id = %m.id, "reconciled a maybe-sent message: it was sent");
                return Ok(Delivery::Sent { sid });
            }
            Ok(None) => {}
            Err(e) => return retry(pool, m, policy, false, &e.to_string()).await,
        }
    }
    if m.attempts >= policy.max_attempts {
        messages::mark_failed(pool, m.id, "failed", None, "gave up after repeated provider failures").await?;
        return Ok(Delivery::Failed);
    }
    match transport.send(m, cb).await {
        Ok(sid) => Ok(Delivery::Sent { sid }),
        Err(e) => record_failure(pool, m, policy, e).await,
    }
}

async fn record_failure(
    pool: &PgPool,
    m: &Message,
    policy: &RetryPolicy,
    e: TwilioError,
) -> Result<Delivery, DeliverError> {
    tracing::warn!(message_id = %m.id, error = %e, "sms send failed");
    let text = e.to_string();
    match e {
        TwilioError::OptedOut { code } => {
            opt_out_by_carrier(pool, m.business_id, &m.to_phone, code).await?;
            messages::mark_failed(pool, m.id, "failed", Some(code), &text).await?;
            Ok(Delivery::OptedOut)
        }
        TwilioError::Unreachable { code, .. } => {
            opt_outs::mark_unreachable(pool, m.business_id, &m.to_phone, code, &text).await?;
            messages::mark_failed(pool, m.id, "failed", Some(code), &text).await?;
            Ok(Delivery::Unreachable)
        }
        TwilioError::Rejected { code, .. } => {
            messages::mark_failed(pool, m.id, "failed", code, &text).await?;
            Ok(Delivery::Failed)
        }
        TwilioError::Transient(_) => retry(pool, m, policy, true, &text).await,
        TwilioError::Unknown(_) => retry(pool, m, policy, false, &text).await,
    }
}

async fn opt_out_by_carrier(
    pool: &PgPool,
    business_id: BusinessId,
    phone: &PhoneNumber,
    code: i64,
) -> sqlx::Result<()> {
    opt_outs::add_opt_out(pool, business_id, phone, &format!("carrier_{code}")).await
}

async fn retry(
    pool: &PgPool,
    m: &Message,
    policy: &RetryPolicy,
    definitely_unsent: bool,
    error: &str,
) -> Result<Delivery, DeliverError> {
    let wait = policy.delay(m.attempts + 1);
    let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::seconds(60));
    messages::mark_retry(pool, m.id, at, definitely_unsent, error).await?;
    Ok(Delivery::RetryAt(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
            max_attempts: 8,
            lease: Duration::from_secs(30),
        };
        assert_eq!(p.delay(1), Duration::from_secs(2));
        assert_eq!(p.delay(2), Duration::from_secs(4));
        assert_eq!(p.delay(4), Duration::from_secs(16));
        assert_eq!(p.delay(10), Duration::from_secs(60));
    }
}
