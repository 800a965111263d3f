//! The calendar API in the shape of seed 004, for provider `internal` (our
//! own appointments): availability and events CRUD, authenticated by the
//! per-business API key, limited per key, with the seed's error shapes.
//! Other providers (Google, Outlook, …) are not connected yet: their paths
//! answer 404 `not_found`.

pub mod auth;
pub mod availability;
pub mod error;
pub mod events;
pub mod params;

use axum::routing::{any, get, put};
use axum::Router;

use crate::state::AppState;
use error::CalendarError;

/// Mounted at `/calendar`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/internal/availability", get(availability::get))
        .route("/internal/events", get(events::list::list).post(events::create::create))
        .route("/internal/events/{id}", put(events::update::update).delete(events::delete::delete))
        .route("/{provider}/{*rest}", any(unknown_provider))
}

async fn unknown_provider() -> CalendarError {
    CalendarError::NotFound("calendar provider")
}
