//! `POST /webhook/sms/status`: Twilio's delivery updates for our texts.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use activities::domain::MessageId;
use activities::store::{messages, opt_outs};

use crate::error::{AppError, AppResult};
use crate::routes::voice::audit;
use crate::state::AppState;
use crate::twilio_request::TwilioRequest;

/// The callback URL's own query: the text it is about ([`activities::sms::status_url_for`]).
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    message_id: Option<String>,
}

pub async fn status(
    State(app): State<AppState>,
    Query(query): Query<StatusQuery>,
    req: TwilioRequest,
) -> AppResult<StatusCode> {
    let message_id = match query.message_id.as_deref() {
        Some(id) => Some(id.parse::<MessageId>().map_err(|e| AppError::BadRequest(format!("message_id: {e}")))?),
        None => None,
    };
    let sid = req.require("MessageSid")?.to_owned();
    let raw = req.require("MessageStatus")?;
    // Only statuses past `queued` move a row; `read` counts as delivered.
    let status = match raw {
        "sent" => "sent",
        "delivered" | "read" => "delivered",
        "undelivered" => "undelivered",
        "failed" => "failed",
        _ => return Ok(StatusCode::NO_CONTENT),
    };
    let code = req.get("ErrorCode").and_then(|c| c.trim().parse::<i32>().ok());
    let mut tx = app.pool.begin().await?;
    let updated = messages::apply_delivery_status(&mut *tx, message_id, &sid, status, code).await?;
    if let (Some((business_id, phone)), Some(code)) = (&updated, code) {
        match code {
            21610 | 30004 => opt_outs::add_opt_out(&mut *tx, *business_id, phone, &format!("carrier_{code}")).await?,
            21211 | 21614 | 21635 | 30005 | 30006 => {
                opt_outs::mark_unreachable(&mut *tx, *business_id, phone, i64::from(code), "delivery failed").await?
            }
            _ => {}
        }
    }
    let outcome = if updated.is_some() { status } else { "ignored" };
    audit(&mut tx, None, "sms/status", &req, outcome).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
