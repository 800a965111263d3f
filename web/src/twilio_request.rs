//! The extractor every Twilio webhook goes through: size-limited body, form
//! parsing, and `X-Twilio-Signature` verification against `BASE_URL` + path +
//! query, before any handler code runs.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;

use activities::domain::PhoneNumber;
use activities::twilio::signature;

use crate::error::AppError;
use crate::state::AppState;

/// Twilio's bodies are a few KB; anything near this is not from Twilio.
pub const MAX_BODY: usize = 64 * 1024;

/// An authentic Twilio webhook's parameters.
#[derive(Debug, Clone)]
pub struct TwilioRequest {
    pub params: Vec<(String, String)>,
    pub idempotency_token: Option<String>,
}

impl TwilioRequest {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &'static str) -> Result<&str, AppError> {
        self.get(name).filter(|v| !v.is_empty()).ok_or_else(|| AppError::BadRequest(format!("missing {name}")))
    }

    pub fn phone(&self, name: &'static str) -> Result<PhoneNumber, AppError> {
        PhoneNumber::parse(self.require(name)?).map_err(|e| AppError::BadRequest(format!("{name}: {e}")))
    }

    /// The parameters as JSON for the audit table.
    pub fn audit_params(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
        )
    }
}

impl FromRequest<AppState> for TwilioRequest {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        let (parts, body) = req.into_parts();
        let is_form = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::UnsupportedMedia);
        }
        let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| AppError::TooLarge(MAX_BODY))?;
        let signature_header =
            parts.headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).ok_or(AppError::BadSignature)?;
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| AppError::BadRequest(format!("malformed form body: {e}")))?;
        let path_and_query = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let url = state.settings.url(path_and_query);
        if !signature::verify(state.settings.webhook_token(), &url, &params, signature_header) {
            return Err(AppError::BadSignature);
        }
        let idempotency_token =
            parts.headers.get("i-twilio-idempotency-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(TwilioRequest { params, idempotency_token })
    }
}
