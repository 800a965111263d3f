//! `/t/{token}`: the one-tap link in every owner alert. The page shows the
//! conversation live and takes it over when it opens (from script, so a
//! link-preview bot fetching the URL takes nothing over); the owner can write
//! to the customer and hand back to the AI. The token is the only credential:
//! signed, expiring, good for that one conversation.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

use activities::domain::{BusinessId, ConversationId};
use activities::links;
use activities::store::messages;

use super::api::conversations::{owner_text, signal_conversation, OwnerMessage};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

const PAGE: &str = include_str!("../../assets/takeover.html");

/// The conversation and business a valid token grants.
async fn grant(app: &AppState, token: &str) -> AppResult<(BusinessId, ConversationId)> {
    let conversation = links::verify(&app.settings.link_key(), token, Utc::now()).map_err(|e| match e {
        links::LinkError::Expired => AppError::Gone("this link has expired; open the latest alert instead"),
        _ => AppError::NotFound("link"),
    })?;
    let business: Option<BusinessId> = sqlx::query_scalar("SELECT business_id FROM conversations WHERE id = $1")
        .bind(conversation)
        .fetch_optional(&app.pool)
        .await?;
    Ok((business.ok_or(AppError::NotFound("conversation"))?, conversation))
}

pub async fn page(State(app): State<AppState>, Path(token): Path<String>) -> Response {
    match grant(&app, &token).await {
        Ok(_) => Html(PAGE).into_response(),
        Err(e) => {
            let (status, text) = match e {
                AppError::Gone(m) => (StatusCode::GONE, m),
                _ => (StatusCode::NOT_FOUND, "this link is not valid"),
            };
            let body = format!(
                "<!doctype html><meta name=viewport content='width=device-width'><title>Link</title><p style='font:18px system-ui;padding:24px'>Sorry, {text}.</p>"
            );
            (status, Html(body)).into_response()
        }
    }
}

pub async fn conversation(State(app): State<AppState>, Path(token): Path<String>) -> AppResult<Json<Value>> {
    let (business_id, conversation) = grant(&app, &token).await?;
    let (status, phone, name): (String, String, Option<String>) = sqlx::query_as(
        "SELECT c.status, l.phone, l.name FROM conversations c JOIN leads l ON l.id = c.lead_id
         WHERE c.business_id = $1 AND c.id = $2",
    )
    .bind(business_id)
    .bind(conversation)
    .fetch_one(&app.pool)
    .await?;
    let list = messages::transcript(&app.pool, business_id, conversation, 200).await?;
    let texts: Vec<Value> = list
        .into_iter()
        .map(|m| json!({"direction": m.direction, "body": m.body, "status": m.status, "at": m.created_at.to_rfc3339()}))
        .collect();
    Ok(Json(json!({"status": status, "customer": {"phone": phone, "name": name}, "messages": texts})))
}

pub async fn takeover(State(app): State<AppState>, Path(token): Path<String>) -> AppResult<(StatusCode, Json<Value>)> {
    let (business_id, conversation) = grant(&app, &token).await?;
    signal_conversation(&app, business_id, conversation, "take_over", json!({})).await
}

pub async fn return_ai(State(app): State<AppState>, Path(token): Path<String>) -> AppResult<(StatusCode, Json<Value>)> {
    let (business_id, conversation) = grant(&app, &token).await?;
    signal_conversation(&app, business_id, conversation, "return_to_ai", json!({})).await
}

pub async fn message(
    State(app): State<AppState>,
    Path(token): Path<String>,
    body: Result<Json<OwnerMessage>, JsonRejection>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let (business_id, conversation) = grant(&app, &token).await?;
    let Json(m) =
        body.map_err(|e| AppError::BadRequest(format!("expected JSON {{\"body\": \"…\"}}: {}", e.body_text())))?;
    let text = owner_text(&m.body)?;
    signal_conversation(&app, business_id, conversation, "owner_message", json!({ "body": text })).await
}
