//! `GET /calendar/internal/availability?date=YYYY-MM-DD&duration=minutes`:
//! the open slots on that local date of the business (its zone and hours),
//! after what is booked or blocked and the 2 h lead time. `duration`
//! defaults to the business's appointment length.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

use activities::booking::Slot;
use activities::store::appointments;

use super::auth::CalendarAuth;
use super::error::{invalid, CalendarResult};
use super::params;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct AvailabilityQuery {
    pub user_id: Option<String>,
    pub date: Option<String>,
    pub duration: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Availability {
    pub available_slots: Vec<Slot>,
    /// The zone `date` was read in.
    pub timezone: String,
    pub duration: i64,
}

pub async fn get(
    State(app): State<AppState>,
    CalendarAuth(business): CalendarAuth,
    query: Result<Query<AvailabilityQuery>, QueryRejection>,
) -> CalendarResult<Json<Availability>> {
    let Query(q) = query.map_err(|e| invalid(e.body_text()))?;
    params::check_user(q.user_id.as_deref(), business.id)?;
    let tz = business.timezone.tz();
    let date = params::date("date", q.date.as_deref().ok_or_else(|| invalid("date is required (YYYY-MM-DD)"))?, tz)?;
    let duration = match q.duration.as_deref() {
        Some(raw) => params::number("duration", raw, 15..=600)?,
        None => i64::from(business.appointment_minutes),
    };
    let slots =
        appointments::open_slots_on(&app.pool, &business, date, Duration::minutes(duration), Utc::now()).await?;
    Ok(Json(Availability { available_slots: slots, timezone: business.timezone.to_string(), duration }))
}
