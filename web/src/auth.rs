//! `Authorization: Bearer <key>` → the business the key belongs to. Every
//! API handler takes `BusinessAuth`, so none can forget to scope by tenant.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use activities::domain::BusinessId;
use activities::store::api_keys;

use crate::error::AppError;
use crate::state::AppState;

/// The authenticated tenant of an API request.
#[derive(Debug, Clone, Copy)]
pub struct BusinessAuth(pub BusinessId);

impl FromRequestParts<AppState> for BusinessAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(AppError::Unauthorized)?;
        let key =
            header.strip_prefix("Bearer ").map(str::trim).filter(|k| !k.is_empty()).ok_or(AppError::Unauthorized)?;
        let business = api_keys::business_for_key(&state.pool, key).await?.ok_or(AppError::Unauthorized)?;
        Ok(BusinessAuth(business))
    }
}
