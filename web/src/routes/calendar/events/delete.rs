//! `DELETE /calendar/internal/events/{id}` → 204: cancels the appointment
//! (status `cancelled`; the row stays for the record) and frees its time.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use activities::store::appointments;

use super::super::auth::CalendarAuth;
use super::super::error::{invalid, CalendarError, CalendarResult};
use super::super::params;
use super::event_id;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    pub user_id: Option<String>,
}

pub async fn delete(
    State(app): State<AppState>,
    CalendarAuth(business): CalendarAuth,
    Path(id): Path<String>,
    query: Result<Query<DeleteQuery>, QueryRejection>,
) -> CalendarResult<StatusCode> {
    let Query(q) = query.map_err(|e| invalid(e.body_text()))?;
    params::check_user(q.user_id.as_deref(), business.id)?;
    let id = event_id(&id)?;
    appointments::cancel(&app.pool, business.id, id).await?.ok_or(CalendarError::NotFound("event"))?;
    Ok(StatusCode::NO_CONTENT)
}
