//! `GET /health`: the process is up and its database answers.

use axum::extract::State;
use axum::http::StatusCode;

use crate::state::AppState;

pub async fn health(State(app): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query("SELECT 1").execute(&app.pool).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
