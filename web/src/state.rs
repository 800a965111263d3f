//! What every handler shares.

use std::net::SocketAddr;
use std::sync::Arc;

use sqlx::PgPool;

use crate::rate_limit::RateLimiter;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub workflows: workflows::Workflows,
    pub settings: Arc<Settings>,
    /// Where this process listens, for the simulator to post webhooks to itself.
    pub local_addr: SocketAddr,
    pub http: reqwest::Client,
    /// Per-API-key limits for the calendar API.
    pub calendar_limiter: Arc<RateLimiter>,
}
