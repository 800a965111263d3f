//! Sending one email over SMTP (lettre), with failures sorted into "try
//! again later" (4xx, timeouts, connection trouble) and "never" (5xx).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

/// An SMTP server and the sender address, built once from `SMTP_URL` and
/// `SMTP_FROM`. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    timeout: Duration,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the SMTP credentials: never print it.
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("timeout", &self.timeout).finish()
    }
}

/// A bad `SMTP_URL` or `SMTP_FROM`. The URL itself is never in the message
/// (it may carry a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailConfigError {
    #[error("not an SMTP URL (smtp://user:pass@host:25, smtp://host:587?tls=required or smtps://host:465): {0}")]
    Url(String),
    #[error("not a mailbox (e.g. CallRecover <alerts@example.com>): {0}")]
    From(String),
}

/// Why one send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// 4xx, a timeout, or the server unreachable: may work later.
    #[error("transient: {0}")]
    Transient(String),
    /// 5xx, or a message that can never be sent (bad address): do not retry.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl Mailer {
    pub fn new(url: &str, from: &str, timeout: Duration) -> Result<Self, MailConfigError> {
        let builder =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| MailConfigError::Url(e.to_string()))?;
        let from: Mailbox =
            from.parse().map_err(|e: lettre::address::AddressError| MailConfigError::From(e.to_string()))?;
        Ok(Mailer { transport: builder.timeout(Some(timeout)).build(), from, timeout })
    }

    /// How long one SMTP exchange may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one plain-text email.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|e| MailError::Permanent(format!("recipient {to:?}: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| MailError::Permanent(format!("message: {e}")))?;
        // lettre times out each command; this bounds the whole exchange too.
        let whole = self.timeout.saturating_mul(4);
        match tokio::time::timeout(whole, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Ok(Err(e)) => Err(MailError::Transient(e.to_string())),
            Err(_) => Err(MailError::Transient(format!("no answer within {whole:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_senders_are_checked_without_leaking_the_password() {
        let t = Duration::from_secs(5);
        assert!(Mailer::new("smtp://user:pass@127.0.0.1:2525", "CallRecover <alerts@localhost>", t).is_ok());
        assert!(Mailer::new("smtps://smtp.example.com", "alerts@example.com", t).is_ok());
        assert!(Mailer::new("smtp://smtp.example.com:587?tls=required", "alerts@example.com", t).is_ok());
        let e = Mailer::new("http://user:s3cret@example.com", "alerts@example.com", t).unwrap_err();
        assert!(matches!(e, MailConfigError::Url(_)) && !e.to_string().contains("s3cret"), "{e}");
        assert!(matches!(Mailer::new("smtp://h", "not an address", t), Err(MailConfigError::From(_))));
        let m = Mailer::new("smtp://user:s3cret@h", "a@b.c", t).unwrap();
        assert!(!format!("{m:?}").contains("s3cret"));
    }
}
