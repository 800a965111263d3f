//! `PUT /calendar/internal/events/{id}` → 200 with the event. Any of `title`,
//! `start`, `end`, `description`, `location`; a new `start` alone keeps the
//! length. Moving onto another live appointment → 409; a cancelled or unknown
//! event → 404.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::Json;
use chrono::Duration;
use serde::Deserialize;

use activities::store::appointments::{self, AppointmentStatus, Details, Moved};

use super::super::auth::CalendarAuth;
use super::super::error::{invalid, CalendarError, CalendarResult};
use super::super::params;
use super::create::text;
use super::{event_id, minutes_between, Event};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct EventChanges {
    pub user_id: Option<String>,
    pub title: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
}

pub async fn update(
    State(app): State<AppState>,
    CalendarAuth(business): CalendarAuth,
    Path(id): Path<String>,
    body: Result<Json<EventChanges>, JsonRejection>,
) -> CalendarResult<Json<Event>> {
    let Json(c) = body.map_err(|r| invalid(format!("expected a JSON object of changes: {}", r.body_text())))?;
    params::check_user(c.user_id.as_deref(), business.id)?;
    let id = event_id(&id)?;
    let tz = business.timezone.tz();
    let details = Details {
        title: text("title", c.title.as_deref(), 200)?,
        notes: text("description", c.description.as_deref(), 4000)?,
        address: text("location", c.location.as_deref(), 500)?,
    };
    let not_found = || CalendarError::NotFound("event");

    let mut tx = app.pool.begin().await?;
    let current = appointments::get(&mut *tx, business.id, id)
        .await?
        .filter(|a| a.status != AppointmentStatus::Cancelled)
        .ok_or_else(not_found)?;
    let start = c.start.as_deref().map(|s| params::instant("start", s, tz)).transpose()?.unwrap_or(current.starts_at);
    let end = match c.end.as_deref() {
        Some(e) => params::instant("end", e, tz)?,
        None => start + Duration::minutes(i64::from(current.duration_minutes)),
    };
    let minutes = minutes_between(start, end)?;
    if (start, minutes) != (current.starts_at, current.duration_minutes) {
        match appointments::reschedule(&mut tx, business.id, id, start, minutes).await? {
            Moved::Moved(_) => {}
            Moved::SlotTaken => return Err(CalendarError::Conflict("that time overlaps another appointment".into())),
            Moved::NotFound => return Err(not_found()),
        }
    }
    let updated = appointments::update_details(&mut *tx, business.id, id, &details).await?.ok_or_else(not_found)?;
    tx.commit().await?;
    Ok(Json(Event::from(updated)))
}
