//! `GET /r/{token}`: the tracked link in review requests. The token is signed
//! for one review request. The first real click is recorded (`clicked_at`,
//! status `completed`) and signals the run, which cancels the pending
//! reminder; every valid click is sent on to the business's Google review page.

use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, REFERRER_POLICY, USER_AGENT};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use activities::links;
use activities::store::reviews;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// Link-preview fetchers (messaging apps unfurl links in texts): they are
/// redirected like anyone, but their fetch is not the customer's click.
const PREVIEW_AGENTS: &[&str] = &[
    "facebookexternalhit",
    "twitterbot",
    "slackbot",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "skypeuripreview",
    "linkedinbot",
    "googlebot",
    "bingbot",
];

pub async fn follow(
    State(app): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match click(&app, &token, is_person(&method, &headers)).await {
        Ok(url) => (
            StatusCode::FOUND,
            [(LOCATION, url.as_str()), (CACHE_CONTROL, "no-store"), (REFERRER_POLICY, "no-referrer")],
        )
            .into_response(),
        Err(AppError::NotFound(_)) => page(StatusCode::NOT_FOUND, "this review link is not valid"),
        Err(e) => {
            tracing::error!(error = ?e, "review link failed");
            page(StatusCode::SERVICE_UNAVAILABLE, "something went wrong on our side; please try the link again")
        }
    }
}

/// Where the link leads, after recording the click (once).
async fn click(app: &AppState, token: &str, record: bool) -> AppResult<String> {
    let id = links::verify_review(&app.settings.link_key(), token).map_err(|_| AppError::NotFound("link"))?;
    let mut tx = app.pool.begin().await?;
    let click = reviews::record_click(&mut tx, id, record).await?.ok_or(AppError::NotFound("review request"))?;
    if click.first {
        if let Some(run_id) = click.run_id {
            let payload = json!({ "review_request_id": id });
            let key = format!("review_click:{id}");
            app.workflows.signal(&mut tx, run_id, "review_link_clicked", payload, Some(&key)).await?;
        }
        tracing::info!(business_id = %click.business_id, review_request_id = %id, "review link clicked");
    }
    tx.commit().await?;
    Ok(click.review_url)
}

fn is_person(method: &Method, headers: &HeaderMap) -> bool {
    let agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    method == Method::GET && !PREVIEW_AGENTS.iter().any(|a| agent.contains(a))
}

fn page(status: StatusCode, text: &str) -> Response {
    let body = format!(
        "<!doctype html><meta name=viewport content='width=device-width'><title>Review link</title><p style='font:18px system-ui;padding:24px'>Sorry, {text}.</p>"
    );
    (status, Html(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_and_head_requests_are_not_clicks() {
        let mut h = HeaderMap::new();
        h.insert(USER_AGENT, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148".parse().unwrap());
        assert!(is_person(&Method::GET, &h));
        assert!(!is_person(&Method::HEAD, &h));
        h.insert(USER_AGENT, "Mozilla/5.0 (Macintosh) facebookexternalhit/1.1 Facebot Twitterbot/1.0".parse().unwrap());
        assert!(!is_person(&Method::GET, &h));
        assert!(is_person(&Method::GET, &HeaderMap::new()));
    }
}
