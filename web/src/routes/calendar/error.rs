//! The calendar API's own error shapes (seed 004): `invalid_request`,
//! `unauthorized`, `not_found`, `conflict`, `rate_limited` (with
//! `retry_after` seconds and a `Retry-After` header) and `server_error`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::AppError;

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("missing or invalid API key (Authorization: Bearer …)")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

pub type CalendarResult<T> = Result<T, CalendarError>;

pub fn invalid(message: impl Into<String>) -> CalendarError {
    CalendarError::InvalidRequest(message.into())
}

impl From<AppError> for CalendarError {
    /// The shared API-key extractor's rejections, in this API's shapes.
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unauthorized => CalendarError::Unauthorized,
            AppError::NotFound(what) => CalendarError::NotFound(what),
            AppError::BadRequest(m) => CalendarError::InvalidRequest(m),
            AppError::Db(e) => CalendarError::Db(e),
            other => CalendarError::Internal(format!("{other:?}")),
        }
    }
}

impl IntoResponse for CalendarError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            CalendarError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            CalendarError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            CalendarError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            CalendarError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            CalendarError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            CalendarError::Db(_) | CalendarError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "calendar request failed");
            "internal error; the request can be retried".to_owned()
        } else {
            tracing::warn!(status = status.as_u16(), error = %self, "calendar request rejected");
            self.to_string()
        };
        let mut body = json!({"error": code, "message": message});
        if let CalendarError::RateLimited { retry_after } = self {
            body["retry_after"] = json!(retry_after);
            let mut r = (status, Json(body)).into_response();
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return r;
        }
        (status, Json(body)).into_response()
    }
}
