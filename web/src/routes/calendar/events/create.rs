//! `POST /calendar/internal/events` → 201 with the event: a manual
//! appointment. Every appointment belongs to a customer (a lead), so the body
//! names one: `customData.lead_id` (an existing lead of this business) or
//! `customData.phone` (E.164 or a US number; the lead is found by phone or
//! created with source `manual`, named from `customData.name`). `attendees` is
//! accepted and not stored. An overlap with a live appointment → 409.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use activities::domain::{BusinessId, LeadId, PhoneNumber};
use activities::store::appointments::{self, Booked, NewAppointment};

use super::super::auth::CalendarAuth;
use super::super::error::{invalid, CalendarError, CalendarResult};
use super::super::params;
use super::{minutes_between, Event};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct NewEvent {
    pub user_id: Option<String>,
    pub title: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub attendees: Vec<String>,
    #[serde(rename = "customData", default)]
    pub custom_data: CustomData,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomData {
    pub phone: Option<String>,
    pub name: Option<String>,
    pub lead_id: Option<String>,
    pub service_type: Option<String>,
}

pub async fn create(
    State(app): State<AppState>,
    CalendarAuth(business): CalendarAuth,
    body: Result<Json<NewEvent>, JsonRejection>,
) -> CalendarResult<(StatusCode, Json<Event>)> {
    let Json(e) = body.map_err(|r| invalid(format!("expected a JSON event: {}", r.body_text())))?;
    params::check_user(e.user_id.as_deref(), business.id)?;
    let tz = business.timezone.tz();
    let title = text("title", e.title.as_deref(), 200)?.ok_or_else(|| invalid("title is required"))?;
    let start = params::instant("start", e.start.as_deref().ok_or_else(|| invalid("start is required"))?, tz)?;
    let end = params::instant("end", e.end.as_deref().ok_or_else(|| invalid("end is required"))?, tz)?;
    let duration_minutes = minutes_between(start, end)?;
    let name = text("customData.name", e.custom_data.name.as_deref(), 200)?;

    let mut tx = app.pool.begin().await?;
    let lead_id = lead_for(&mut tx, business.id, &e.custom_data, name).await?;
    let new = NewAppointment {
        business_id: business.id,
        lead_id,
        conversation_id: None,
        starts_at: start,
        duration_minutes,
        service_type: text("customData.service_type", e.custom_data.service_type.as_deref(), 200)?,
        address: text("location", e.location.as_deref(), 500)?,
        notes: text("description", e.description.as_deref(), 4000)?,
        title: Some(title),
        customer_name: name,
    };
    match appointments::book(&mut tx, &new).await? {
        Booked::Created(a) => {
            tx.commit().await?;
            Ok((StatusCode::CREATED, Json(Event::from(a))))
        }
        Booked::SlotTaken => Err(CalendarError::Conflict("that time overlaps another appointment".into())),
    }
}

async fn lead_for(
    conn: &mut sqlx::PgConnection,
    business_id: BusinessId,
    data: &CustomData,
    name: Option<&str>,
) -> CalendarResult<LeadId> {
    if let Some(raw) = data.lead_id.as_deref() {
        let id: LeadId = raw.trim().parse().map_err(|_| invalid("customData.lead_id is not a lead id"))?;
        if !appointments::lead_exists(&mut *conn, business_id, id).await? {
            return Err(invalid("customData.lead_id is not a lead of this business"));
        }
        return Ok(id);
    }
    let raw = data.phone.as_deref().ok_or_else(|| {
        invalid("customData.phone (or customData.lead_id) is required: every appointment belongs to a customer")
    })?;
    let phone = PhoneNumber::parse(raw).map_err(|e| invalid(format!("customData.phone: {e}")))?;
    Ok(appointments::manual_lead(&mut *conn, business_id, &phone, name).await?)
}

/// A trimmed optional text field: empty reads as absent, too long is refused.
pub(super) fn text<'a>(field: &str, raw: Option<&'a str>, max: usize) -> CalendarResult<Option<&'a str>> {
    match raw.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > max => Err(invalid(format!("{field} is longer than {max} characters"))),
        other => Ok(other),
    }
}
