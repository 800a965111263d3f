//! The one error type at the web edge. Client errors carry safe messages;
//! internal ones are logged in full and answered with a fixed body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid or missing X-Twilio-Signature")]
    BadSignature,
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("expected application/x-www-form-urlencoded")]
    UnsupportedMedia,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("missing or invalid API key (Authorization: Bearer …)")]
    Unauthorized,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Workflow(#[from] workflows::EngineError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::BadSignature => StatusCode::FORBIDDEN,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Gone(_) => StatusCode::GONE,
            AppError::Db(_) | AppError::Workflow(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::BadSignature => "forbidden",
            AppError::TooLarge(_) => "payload_too_large",
            AppError::UnsupportedMedia => "unsupported_media_type",
            AppError::NotFound(_) => "not_found",
            AppError::Unauthorized => "unauthorized",
            AppError::Conflict(_) => "conflict",
            AppError::Gone(_) => "gone",
            _ => "internal",
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            // A 5xx makes Twilio retry; the detail stays in our logs.
            tracing::error!(error = ?self, "request failed");
            "internal error; the request can be retried".to_owned()
        } else {
            tracing::warn!(status = status.as_u16(), error = %self, "request rejected");
            self.to_string()
        };
        (status, Json(serde_json::json!({"error": self.code(), "message": message}))).into_response()
    }
}

pub type AppResult<T> = Result<T, AppError>;
