//! `POST /api/conversations/{id}/takeover | return-ai | message`: the owner
//! takes a conversation from the AI, hands it back, or writes to the
//! customer. Each is a signal to the conversation's workflow.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use activities::domain::{BusinessId, ConversationId};

use crate::auth::BusinessAuth;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The longest text Twilio sends.
const MAX_BODY: usize = 1600;

pub async fn takeover(
    app: State<AppState>,
    auth: BusinessAuth,
    id: Path<String>,
) -> AppResult<(StatusCode, Json<Value>)> {
    signal(&app, auth, &id, "take_over", json!({})).await
}

pub async fn return_ai(
    app: State<AppState>,
    auth: BusinessAuth,
    id: Path<String>,
) -> AppResult<(StatusCode, Json<Value>)> {
    signal(&app, auth, &id, "return_to_ai", json!({})).await
}

#[derive(Deserialize)]
pub struct OwnerMessage {
    pub body: String,
}

pub async fn message(
    app: State<AppState>,
    auth: BusinessAuth,
    id: Path<String>,
    body: Result<Json<OwnerMessage>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let Json(m) =
        body.map_err(|e| AppError::BadRequest(format!("expected JSON {{\"body\": \"…\"}}: {}", e.body_text())))?;
    let text = owner_text(&m.body)?;
    signal(&app, auth, &id, "owner_message", json!({ "body": text })).await
}

async fn signal(
    app: &AppState,
    BusinessAuth(business_id): BusinessAuth,
    id: &str,
    kind: &str,
    payload: Value,
) -> AppResult<(StatusCode, Json<Value>)> {
    let conversation: ConversationId = id.parse().map_err(|_| AppError::NotFound("conversation"))?;
    signal_conversation(app, business_id, conversation, kind, payload).await
}

/// Signals a conversation's workflow, scoped to its business: another
/// tenant's conversation is simply not found; a closed one is a conflict.
pub(crate) async fn signal_conversation(
    app: &AppState,
    business_id: BusinessId,
    conversation: ConversationId,
    kind: &str,
    payload: Value,
) -> AppResult<(StatusCode, Json<Value>)> {
    let mut tx = app.pool.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM conversations WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(conversation)
            .fetch_optional(&mut *tx)
            .await?;
    let status = status.ok_or(AppError::NotFound("conversation"))?;
    let run = app.workflows.run_of_conversation(&mut tx, conversation).await?;
    let Some(run) = run else {
        return Err(AppError::Conflict(format!("the conversation is {status}; nothing to signal")));
    };
    app.workflows.signal(&mut tx, run, kind, payload, None).await?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "conversation_id": conversation, "signal": kind }))))
}

/// The owner's text, checked: 1 to 1600 characters.
pub(crate) fn owner_text(body: &str) -> AppResult<&str> {
    let text = body.trim();
    if text.is_empty() || text.chars().count() > MAX_BODY {
        return Err(AppError::BadRequest(format!("body must be 1 to {MAX_BODY} characters")));
    }
    Ok(text)
}
