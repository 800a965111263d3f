//! The whole URL surface in one place.

use axum::routing::{get, post};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::routes::{api, calendar, health, review_link, simulator, sms_incoming, sms_status, takeover_link, voice};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let mut app = Router::new()
        .route("/health", get(health::health))
        .route("/webhook/voice/incoming", post(voice::incoming))
        .route("/webhook/voice/screen", post(voice::screen))
        .route("/webhook/voice/screen-accept", post(voice::screen_accept))
        .route("/webhook/voice/call-completed", post(voice::call_completed))
        .route("/webhook/sms/incoming", post(sms_incoming::incoming))
        .route("/webhook/sms/status", post(sms_status::status))
        .route("/api/conversations/{id}/takeover", post(api::conversations::takeover))
        .route("/api/conversations/{id}/return-ai", post(api::conversations::return_ai))
        .route("/api/conversations/{id}/message", post(api::conversations::message))
        .route("/api/leads/{id}/complete", post(api::completions::lead))
        .route("/api/appointments/{id}/complete", post(api::completions::appointment))
        .route("/t/{token}", get(takeover_link::page))
        .route("/t/{token}/conversation", get(takeover_link::conversation))
        .route("/t/{token}/takeover", post(takeover_link::takeover))
        .route("/t/{token}/return-ai", post(takeover_link::return_ai))
        .route("/t/{token}/message", post(takeover_link::message))
        .route("/r/{token}", get(review_link::follow))
        .nest("/calendar", calendar::router());
    // The simulator plays Twilio; it is only mounted when no real Twilio is configured.
    if state.settings.twilio.is_none() {
        app = app.merge(simulator::router());
    }
    app.layer(TraceLayer::new_for_http()).with_state(state)
}
