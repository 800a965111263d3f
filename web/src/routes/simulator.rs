//! The phone simulator: a person plays the caller in a browser, and this module
//! plays Twilio, posting signed webhooks to our own endpoints over HTTP, so the
//! demo runs through exactly the code real Twilio traffic does.

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use activities::domain::{BusinessId, PhoneNumber};
use activities::store::{businesses, messages};
use activities::twilio::signature;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::twiml::attr;

const PAGE: &str = include_str!("../../assets/simulator.html");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/simulator", get(page))
        .route("/simulator/api/businesses", get(list_businesses))
        .route("/simulator/api/call", post(call))
        .route("/simulator/api/text", post(text))
        .route("/simulator/api/messages", get(phone_messages))
        .route("/simulator/api/owner-messages", get(owner_messages))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

#[derive(Serialize)]
struct BusinessView {
    id: BusinessId,
    name: String,
    twilio_number: String,
    business_phone: String,
}

async fn list_businesses(State(app): State<AppState>) -> AppResult<Json<Vec<BusinessView>>> {
    let list = businesses::list_businesses(&app.pool).await?;
    Ok(Json(
        list.into_iter()
            .map(|b| BusinessView {
                id: b.id,
                name: b.name,
                twilio_number: b.twilio_number.to_string(),
                business_phone: b.business_phone.to_string(),
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
struct CallRequest {
    business_id: BusinessId,
    from: String,
    outcome: String,
}

#[derive(Serialize)]
struct CallResult {
    call_sid: String,
    status: String,
    twiml: Vec<String>,
}

/// Plays one call: ring, then the chosen ending, as Twilio would post it.
async fn call(State(app): State<AppState>, Json(req): Json<CallRequest>) -> AppResult<Json<CallResult>> {
    let from = PhoneNumber::parse(&req.from).map_err(|e| AppError::BadRequest(format!("from: {e}")))?;
    let business = businesses::get_business(&app.pool, req.business_id).await?.ok_or(AppError::NotFound("business"))?;
    let call_sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let child_sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let base = vec![
        ("CallSid", call_sid.clone()),
        ("AccountSid", "ACsimulator".to_owned()),
        ("From", from.to_string()),
        ("To", business.twilio_number.to_string()),
        ("Direction", "inbound".to_owned()),
    ];
    let mut sim = Sim { app: &app, twiml: Vec::new() };
    let dial = sim.post("/webhook/voice/incoming", &with(&base, &[("CallStatus", "ringing")])).await?;
    let action = attr(&dial, "Dial", "action").ok_or_else(|| anyhow::anyhow!("no <Dial action> in {dial}"))?;
    let screen = attr(&dial, "Number", "url");
    let child = [("CallSid", child_sid.as_str()), ("ParentCallSid", call_sid.as_str())];
    let (dial_status, bridged, duration) = match req.outcome.as_str() {
        "no-answer" => ("no-answer", "false", "0"),
        "busy" => ("busy", "false", "0"),
        "caller-hung-up" => ("canceled", "false", "0"),
        "voicemail" => {
            if let Some(url) = &screen {
                // The voicemail greeting plays over the whisper; nobody presses 1.
                sim.post(&strip_base(&app, url), &with(&base, &child)).await?;
            }
            ("completed", "false", "31")
        }
        "answered" => {
            if let Some(url) = &screen {
                let gather = sim.post(&strip_base(&app, url), &with(&base, &child)).await?;
                let accept = attr(&gather, "Gather", "action").ok_or_else(|| anyhow::anyhow!("no <Gather action>"))?;
                sim.post(&strip_base(&app, &accept), &with(&base, &[child[0], child[1], ("Digits", "1")])).await?;
            }
            ("completed", "true", "42")
        }
        other => return Err(AppError::BadRequest(format!("unknown outcome {other:?}"))),
    };
    let done = [
        ("DialCallStatus", dial_status),
        ("DialBridged", bridged),
        ("DialCallDuration", duration),
        ("DialCallSid", child_sid.as_str()),
    ];
    sim.post(&strip_base(&app, &action), &with(&base, &done)).await?;
    let status: String = sqlx::query_scalar("SELECT status FROM calls WHERE twilio_call_sid = $1")
        .bind(&call_sid)
        .fetch_optional(&app.pool)
        .await?
        .unwrap_or_else(|| "unknown".into());
    Ok(Json(CallResult { call_sid, status, twiml: sim.twiml }))
}

#[derive(Deserialize)]
struct TextRequest {
    business_id: BusinessId,
    from: String,
    body: String,
}

/// The customer texts the business: a signed `/webhook/sms/incoming`, as Twilio posts it.
async fn text(State(app): State<AppState>, Json(req): Json<TextRequest>) -> AppResult<Json<serde_json::Value>> {
    let from = PhoneNumber::parse(&req.from).map_err(|e| AppError::BadRequest(format!("from: {e}")))?;
    let business = businesses::get_business(&app.pool, req.business_id).await?.ok_or(AppError::NotFound("business"))?;
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let params = with(
        &[("MessageSid", sid.clone()), ("From", from.to_string()), ("To", business.twilio_number.to_string())],
        &[("Body", req.body.as_str()), ("NumMedia", "0")],
    );
    let mut sim = Sim { app: &app, twiml: Vec::new() };
    sim.post("/webhook/sms/incoming", &params).await?;
    Ok(Json(serde_json::json!({ "message_sid": sid })))
}

struct Sim<'a> {
    app: &'a AppState,
    twiml: Vec<String>,
}

impl Sim<'_> {
    /// Posts a signed form to one of our webhooks, as Twilio would.
    async fn post(&mut self, path_and_query: &str, params: &[(String, String)]) -> AppResult<String> {
        let url = self.app.settings.url(path_and_query);
        let sig = signature::compute(self.app.settings.webhook_token(), &url, params);
        let local = format!("http://{}{}", self.app.local_addr, path_and_query);
        let resp = self
            .app
            .http
            .post(local)
            .header("X-Twilio-Signature", sig)
            .form(params)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("simulated webhook failed: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| anyhow::anyhow!("simulated webhook body: {e}"))?;
        if !status.is_success() {
            return Err(anyhow::anyhow!("{path_and_query} answered {status}: {body}").into());
        }
        self.twiml.push(body.clone());
        Ok(body)
    }
}

fn with(base: &[(&str, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    base.iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .chain(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
        .collect()
}

fn strip_base(app: &AppState, url: &str) -> String {
    url.strip_prefix(&app.settings.base_url).unwrap_or(url).to_owned()
}

#[derive(Deserialize)]
struct PhoneQuery {
    phone: String,
}

async fn phone_messages(State(app): State<AppState>, Query(q): Query<PhoneQuery>) -> AppResult<Json<Vec<MessageView>>> {
    let phone = PhoneNumber::parse(&q.phone).map_err(|e| AppError::BadRequest(format!("phone: {e}")))?;
    let list = messages::for_phone(&app.pool, &phone, 200).await?;
    Ok(Json(list.into_iter().map(MessageView::from).collect()))
}

#[derive(Deserialize)]
struct BusinessQuery {
    business_id: BusinessId,
}

async fn owner_messages(
    State(app): State<AppState>,
    Query(q): Query<BusinessQuery>,
) -> AppResult<Json<Vec<MessageView>>> {
    let list = messages::owner_messages(&app.pool, q.business_id, 100).await?;
    Ok(Json(list.into_iter().map(MessageView::from).collect()))
}

#[derive(Serialize)]
struct MessageView {
    id: String,
    direction: String,
    audience: String,
    from: String,
    to: String,
    body: String,
    status: String,
    created_at: String,
}

impl From<messages::Message> for MessageView {
    fn from(m: messages::Message) -> Self {
        Self {
            id: m.id.to_string(),
            direction: m.direction,
            audience: m.audience,
            from: m.from_phone.to_string(),
            to: m.to_phone.to_string(),
            body: m.body,
            status: m.status,
            created_at: m.created_at.to_rfc3339(),
        }
    }
}
