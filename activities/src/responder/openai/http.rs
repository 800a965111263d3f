//! One `POST {base_url}/chat/completions`, typed with async-openai's request
//! and response structs but sent with our own reqwest client. async-openai's
//! client retries 429 and 5xx itself (up to three times, honouring
//! Retry-After); we must not: every second spent retrying is a second the
//! customer waits, when the caller's rules-engine fallback can answer now. It
//! would also bring a second reqwest and TLS stack into the binary.

use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use reqwest::StatusCode;
use serde::Deserialize;

use super::ResponderError;

/// Connection to one OpenAI-compatible server.
pub(super) struct Http {
    client: reqwest::Client,
    url: String,
    api_key: String,
}

/// OpenAI's `ErrorResponse`: `{"error": {"message": …, "type": …}}`.
#[derive(Deserialize)]
struct ErrorResponse {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    message: String,
}

impl Http {
    pub(super) fn new(base_url: &str, api_key: &str) -> Result<Self, ResponderError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("callrecover/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ResponderError::Config(format!("HTTP client: {e}")))?;
        let url = format!("{}/chat/completions", base_url.trim_end_matches('/'));
        Ok(Self { client, url, api_key: api_key.to_owned() })
    }

    pub(super) async fn create(
        &self,
        request: &CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, ResponderError> {
        let response =
            self.client.post(&self.url).bearer_auth(&self.api_key).json(request).send().await.map_err(transport)?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ResponderError::RateLimited);
        }
        if status.is_server_error() {
            return Err(ResponderError::Http(status.as_u16()));
        }
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(api_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| ResponderError::Malformed(format!("response body: {e}")))
    }
}

fn transport(e: reqwest::Error) -> ResponderError {
    if e.is_timeout() {
        ResponderError::Timeout
    } else {
        ResponderError::Transport(e.to_string())
    }
}

/// A 4xx (bad key, unknown model, bad request): OpenAI's message if it sent
/// one, which is what an operator needs to fix the configuration.
fn api_error(status: StatusCode, body: &[u8]) -> ResponderError {
    match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(e) => ResponderError::Api(format!("HTTP {}: {}", status.as_u16(), e.error.message)),
        Err(_) => ResponderError::Api(format!("HTTP {}", status.as_u16())),
    }
}
