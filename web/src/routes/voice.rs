//! Twilio voice webhooks: ring the business, screen the answer, decide
//! answered or missed, and start the missed-call workflow.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use activities::domain::{CallId, PhoneNumber};
use activities::store::businesses::{self, Business};
use activities::store::calls::{self, Call, CallEnd, CallOutcome, NewCall};
use activities::store::opt_outs;
use activities::store::webhook_events::{record_webhook, WebhookEvent};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::twilio_request::TwilioRequest;
use crate::twiml;

/// How long the business phone rings before the call counts as missed.
pub const DIAL_TIMEOUT_SECS: u32 = 20;

#[derive(Debug, Deserialize)]
pub struct CallRef {
    call_id: Option<String>,
}

impl CallRef {
    fn id(&self) -> Option<CallId> {
        self.call_id.as_deref().and_then(|s| s.parse().ok())
    }
}

pub fn xml(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

const UNKNOWN_NUMBER: &str = "Sorry, this number is not in service. Please check the number and try again.";

/// `POST /webhook/voice/incoming`: record the call, ring the business. Each
/// outcome is one write (the call with its audit row, or the audit alone),
/// so no transaction is opened.
pub async fn incoming(State(app): State<AppState>, req: TwilioRequest) -> AppResult<Response> {
    let call_sid = req.require("CallSid")?.to_owned();
    let to = req.phone("To")?;
    let Some(business) = businesses::find_by_twilio_number(&app.pool, &to).await? else {
        record_webhook(&app.pool, &audit_event(None, "voice/incoming", &req, "unknown_number")).await?;
        tracing::warn!(to = %to.redacted(), "call to a number we do not serve");
        return Ok(xml(twiml::say_and_hang_up(UNKNOWN_NUMBER)));
    };
    // A withheld caller id ("anonymous") rings through but cannot be texted.
    let caller = req.get("From").and_then(|f| PhoneNumber::parse(f).ok());
    let call = match &caller {
        Some(caller) => {
            let new = NewCall {
                business_id: business.id,
                call_sid: &call_sid,
                caller,
                is_after_hours: !business.is_open_at(Utc::now()),
                screened: business.call_screening,
                caller_state: req.get("FromState"),
            };
            let event = audit_event(Some(&business), "voice/incoming", &req, "call_recorded");
            Some(calls::upsert_ringing_audited(&app.pool, &new, &event).await?.0)
        }
        None => {
            let event = audit_event(Some(&business), "voice/incoming", &req, "anonymous_caller");
            record_webhook(&app.pool, &event).await?;
            None
        }
    };
    Ok(xml(dial_twiml(&app, &business, call.as_ref())))
}

fn dial_twiml(app: &AppState, business: &Business, call: Option<&Call>) -> String {
    let query = call.map(|c| format!("?call_id={}", c.id)).unwrap_or_default();
    let action = app.settings.url(&format!("/webhook/voice/call-completed{query}"));
    let screen_url = app.settings.url(&format!("/webhook/voice/screen{query}"));
    let screened = call.map(|c| c.screened).unwrap_or(business.call_screening);
    twiml::dial(&twiml::Dial {
        number: business.business_phone.as_str(),
        caller_id: business.twilio_number.as_str(),
        action: &action,
        timeout_secs: DIAL_TIMEOUT_SECS,
        screen_url: screened.then_some(screen_url.as_str()),
    })
}

/// `POST /webhook/voice/screen`: the owner picked up (or their voicemail did).
pub async fn screen(State(app): State<AppState>, Query(r): Query<CallRef>, req: TwilioRequest) -> AppResult<Response> {
    let name = match r.id() {
        Some(id) => business_name_for_call(&app, id).await?,
        None => None,
    };
    let query = r.id().map(|id| format!("?call_id={id}")).unwrap_or_default();
    let accept = app.settings.url(&format!("/webhook/voice/screen-accept{query}"));
    let _ = req;
    Ok(xml(twiml::screen(name.as_deref().unwrap_or("your business"), &accept)))
}

async fn business_name_for_call(app: &AppState, id: CallId) -> AppResult<Option<String>> {
    Ok(sqlx::query_scalar("SELECT b.name FROM calls c JOIN businesses b ON b.id = c.business_id WHERE c.id = $1")
        .bind(id)
        .fetch_optional(&app.pool)
        .await?)
}

/// `POST /webhook/voice/screen-accept`: only a person pressing 1 bridges the call.
pub async fn screen_accept(
    State(app): State<AppState>,
    Query(r): Query<CallRef>,
    req: TwilioRequest,
) -> AppResult<Response> {
    let pressed_one = req.get("Digits").map(str::trim) == Some("1");
    let Some(call_id) = r.id().filter(|_| pressed_one) else {
        return Ok(xml(twiml::hang_up()));
    };
    let business_id: Option<activities::domain::BusinessId> =
        sqlx::query_scalar("SELECT business_id FROM calls WHERE id = $1")
            .bind(call_id)
            .fetch_optional(&app.pool)
            .await?;
    let Some(business_id) = business_id else {
        return Ok(xml(twiml::hang_up()));
    };
    let accepted = calls::record_screen_accept(&app.pool, business_id, call_id, req.get("CallSid")).await?;
    // An empty response ends the whisper and Twilio bridges the two legs.
    Ok(xml(if accepted { twiml::empty() } else { twiml::hang_up() }))
}

/// `POST /webhook/voice/call-completed`: the dial ended. Missed unless the
/// owner pressed 1 and the legs were bridged. A missed call's workflow starts
/// in the statement that marks the call missed (`Workflows::finish_call`);
/// the reads before it need no transaction (the finish itself only moves a
/// call that still rings).
pub async fn call_completed(
    State(app): State<AppState>,
    Query(r): Query<CallRef>,
    req: TwilioRequest,
) -> AppResult<Response> {
    let dial_status = req.require("DialCallStatus")?.to_owned();
    let mut conn = app.pool.acquire().await?;
    let Some((business, call)) = find_or_record_call(&app, &mut conn, &req, r.id()).await? else {
        audit(&mut conn, None, "voice/call-completed", &req, "unknown_call").await?;
        return Ok(xml(twiml::say_and_hang_up("Sorry we missed your call. Please try again later.")));
    };
    let outcome = decide(&call, &dial_status, req.get("DialBridged"));
    let duration_seconds = req.get("DialCallDuration").and_then(|d| d.parse::<i32>().ok());
    let end = CallEnd { outcome, dial_call_status: &dial_status, duration_seconds };
    let event = audit_event(Some(&business), "voice/call-completed", &req, outcome.as_str());
    let finished = app.workflows.finish_call(&mut conn, &call, &end, &event).await?;
    let (final_status, opted_out) = match finished {
        Some(f) => (f.call.status, f.caller_opted_out),
        None => (call.status.clone(), opt_outs::is_opted_out(&mut *conn, business.id, &call.caller_phone).await?),
    };
    tracing::info!(business_id = %business.id, call_id = %call.id, status = %final_status, "call finished");
    Ok(xml(after_dial_twiml(&business, &final_status, opted_out)))
}

/// Answered only when the screen recorded a 1 and the dial bridged.
pub fn decide(call: &Call, dial_status: &str, dial_bridged: Option<&str>) -> CallOutcome {
    let connected = dial_status == "completed" && dial_bridged != Some("false");
    let confirmed = !call.screened || call.screen_accepted_at.is_some();
    if connected && confirmed {
        CallOutcome::Answered
    } else {
        CallOutcome::Missed
    }
}

fn after_dial_twiml(business: &Business, status: &str, opted_out: bool) -> String {
    match status {
        "answered" => twiml::hang_up(),
        _ if !business.is_active() || opted_out => twiml::say_and_hang_up(&format!(
            "Sorry we missed your call. Thanks for calling {}. Please try again later.",
            business.name
        )),
        _ => twiml::say_and_hang_up(&format!(
            "Sorry we can't take your call right now. We'll text you right away to help. Thanks for calling {}!",
            business.name
        )),
    }
}

/// The call of this callback: by our id, else by CallSid, else (the incoming
/// webhook was lost) recorded now from the callback's own parameters. Its
/// business comes from the process's cache unless its row changed.
async fn find_or_record_call(
    app: &AppState,
    tx: &mut sqlx::PgConnection,
    req: &TwilioRequest,
    id: Option<CallId>,
) -> AppResult<Option<(Business, Call)>> {
    let call_sid = req.require("CallSid")?;
    let mut found = match id {
        Some(id) => calls::find_by_id(&mut *tx, id).await?,
        None => None,
    };
    if found.is_none() {
        found = calls::find_by_sid(&mut *tx, call_sid).await?;
    }
    if let Some(calls::FoundCall { call, business_version }) = found {
        let business = app.workflows.businesses().current(&mut *tx, call.business_id, &business_version).await?;
        return Ok(Some((business.ok_or(AppError::NotFound("business"))?, call)));
    }
    let (Ok(to), Ok(caller)) = (req.phone("To"), req.phone("From")) else {
        return Ok(None);
    };
    let Some(business) = businesses::find_by_twilio_number(&mut *tx, &to).await? else {
        return Ok(None);
    };
    let new = NewCall {
        business_id: business.id,
        call_sid,
        caller: &caller,
        is_after_hours: !business.is_open_at(Utc::now()),
        screened: business.call_screening,
        caller_state: req.get("FromState"),
    };
    let (call, _) = calls::upsert_ringing(&mut *tx, &new).await?;
    Ok(Some((business, call)))
}

pub(crate) async fn audit(
    tx: &mut sqlx::PgConnection,
    business: Option<&Business>,
    endpoint: &str,
    req: &TwilioRequest,
    outcome: &str,
) -> AppResult<()> {
    record_webhook(&mut *tx, &audit_event(business, endpoint, req, outcome)).await?;
    Ok(())
}

/// The audit row of an authentic webhook.
fn audit_event<'a>(
    business: Option<&Business>,
    endpoint: &'a str,
    req: &'a TwilioRequest,
    outcome: &'a str,
) -> WebhookEvent<'a> {
    WebhookEvent {
        business_id: business.map(|b| b.id),
        endpoint,
        provider_sid: req.get("CallSid").or(req.get("MessageSid")),
        idempotency_token: req.idempotency_token.as_deref(),
        outcome,
        params: req.audit_params(),
    }
}
