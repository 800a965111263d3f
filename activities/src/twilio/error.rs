//! Twilio's error body and what each code means for us.

use serde::Deserialize;

/// The 2010 API's error body: `{code, message, more_info, status}`.
#[derive(Debug, Deserialize)]
pub struct ApiErrorBody {
    pub code: Option<i64>,
    pub message: Option<String>,
    #[allow(dead_code)]
    pub more_info: Option<String>,
    #[allow(dead_code)]
    pub status: Option<u16>,
}

/// What a failed Twilio call means for the workflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioError {
    /// 21610, 30004: the recipient opted out; they join our opt-out list.
    #[error("recipient has opted out (Twilio {code})")]
    OptedOut { code: i64 },
    /// 21211, 21614, 21635, 30005, 30006: not a number that can take texts.
    #[error("number cannot receive SMS (Twilio {code}): {message}")]
    Unreachable { code: i64, message: String },
    /// Any other 4xx: recorded, never retried.
    #[error("Twilio rejected the message ({status}, code {code:?}): {message}")]
    Rejected { status: u16, code: Option<i64>, message: String },
    /// 429 / 20429 / 5xx / connect failure: safe to retry with backoff.
    #[error("Twilio temporarily unavailable: {0}")]
    Transient(String),
    /// The request may have been accepted (timeout, cut connection): reconcile before resending.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

impl TwilioError {
    pub fn classify(status: u16, code: Option<i64>, message: String) -> Self {
        match code {
            Some(c @ (21610 | 30004)) => return TwilioError::OptedOut { code: c },
            Some(c @ (21211 | 21614 | 21635 | 30005 | 30006)) => return TwilioError::Unreachable { code: c, message },
            Some(20429) => return TwilioError::Transient(message),
            _ => {}
        }
        if status == 429 || status >= 500 {
            TwilioError::Transient(format!("HTTP {status}: {message}"))
        } else {
            TwilioError::Rejected { status, code, message }
        }
    }

    /// The numeric Twilio code, if any, for the message row.
    pub fn code(&self) -> Option<i64> {
        match self {
            TwilioError::OptedOut { code } | TwilioError::Unreachable { code, .. } => Some(*code),
            TwilioError::Rejected { code, .. } => *code,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_action_the_compliance_table_prescribes() {
        let c = |s, code| TwilioError::classify(s, Some(code), "m".into());
        assert_eq!(c(400, 21610), TwilioError::OptedOut { code: 21610 });
        assert_eq!(c(400, 30004), TwilioError::OptedOut { code: 30004 });
        for code in [21211, 21614, 30005, 30006] {
            assert!(matches!(c(400, code), TwilioError::Unreachable { .. }), "{code}");
        }
        assert!(matches!(c(429, 20429), TwilioError::Transient(_)));
        assert!(matches!(TwilioError::classify(503, None, "x".into()), TwilioError::Transient(_)));
        assert!(matches!(c(400, 21602), TwilioError::Rejected { .. }));
    }
}
