//! `POST /api/leads/{id}/complete` and `POST /api/appointments/{id}/complete`:
//! the owner marks a job done. The same transaction starts the review-request
//! workflow (at most one per lead per 90 days), and the answer says what it did.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use activities::domain::{AppointmentId, BusinessId, LeadId};
use activities::store::reviews::{self, AppointmentCompletion};

use crate::auth::BusinessAuth;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

pub async fn lead(
    State(app): State<AppState>,
    BusinessAuth(business_id): BusinessAuth,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let lead_id: LeadId = id.parse().map_err(|_| AppError::NotFound("lead"))?;
    let mut tx = app.pool.begin().await?;
    if !reviews::complete_lead(&mut *tx, business_id, lead_id).await? {
        return Err(AppError::NotFound("lead"));
    }
    let answer = start_review(&app, &mut tx, business_id, lead_id, None).await?;
    tx.commit().await?;
    Ok(Json(answer))
}

pub async fn appointment(
    State(app): State<AppState>,
    BusinessAuth(business_id): BusinessAuth,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let appointment_id: AppointmentId = id.parse().map_err(|_| AppError::NotFound("appointment"))?;
    let mut tx = app.pool.begin().await?;
    let lead_id = match reviews::complete_appointment(&mut tx, business_id, appointment_id).await? {
        AppointmentCompletion::Completed { lead_id } => lead_id,
        AppointmentCompletion::NotFound => return Err(AppError::NotFound("appointment")),
        AppointmentCompletion::Cancelled => {
            return Err(AppError::Conflict("the appointment was cancelled; it cannot be completed".into()))
        }
    };
    let mut answer = start_review(&app, &mut tx, business_id, lead_id, Some(appointment_id)).await?;
    answer["appointment_id"] = json!(appointment_id);
    tx.commit().await?;
    Ok(Json(answer))
}

async fn start_review(
    app: &AppState,
    tx: &mut sqlx::PgConnection,
    business_id: BusinessId,
    lead_id: LeadId,
    appointment_id: Option<AppointmentId>,
) -> AppResult<Value> {
    let started = app.workflows.start_review_request(tx, business_id, lead_id, appointment_id).await?;
    Ok(json!({
        "lead_id": lead_id,
        "status": "completed",
        "review_request": started.as_str(),
        "send_at": started.send_at(),
    }))
}
