//! The calendar API's caller: the business behind the `Authorization: Bearer`
//! key (the same per-business keys as the owner API), within its key's rate.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use activities::store::api_keys;
use activities::store::businesses::{self, Business};

use super::error::CalendarError;
use crate::auth::BusinessAuth;
use crate::rate_limit::retry_after_secs;
use crate::state::AppState;

/// The authenticated business, loaded (its zone, hours and appointment length
/// are what the calendar is computed from).
#[derive(Debug, Clone)]
pub struct CalendarAuth(pub Business);

impl FromRequestParts<AppState> for CalendarAuth {
    type Rejection = CalendarError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, CalendarError> {
        let BusinessAuth(id) = BusinessAuth::from_request_parts(parts, state).await?;
        // Buckets are keyed by the key's hash, and only for keys that proved valid,
        // so junk keys cannot grow the limiter's map.
        let key = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let key = key.strip_prefix("Bearer ").unwrap_or(key);
        state
            .calendar_limiter
            .check(&api_keys::hash(key))
            .map_err(|wait| CalendarError::RateLimited { retry_after: retry_after_secs(wait) })?;
        let business = businesses::get_business(&state.pool, id).await?.ok_or(CalendarError::Unauthorized)?;
        Ok(CalendarAuth(business))
    }
}
