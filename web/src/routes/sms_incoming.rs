//! `POST /webhook/sms/incoming`: a customer's text. Stored once per
//! MessageSid, keywords handled first (opt-out recorded in this very
//! transaction), then signalled to the conversation's workflow, or a new
//! conversation started. Replies go out through the outbox, never inline.

use axum::extract::State;
use axum::response::Response;

use activities::domain::PhoneNumber;
use activities::keywords::{self, Keyword, OptOutReason};
use activities::store::businesses::{self, Business};
use activities::store::messages::{self, NewInbound};
use activities::store::{conversations, opt_outs};
use workflows::conversation::state::Notice;

use crate::error::AppResult;
use crate::routes::voice::{audit, xml};
use crate::state::AppState;
use crate::twilio_request::TwilioRequest;
use crate::twiml;

pub async fn incoming(State(app): State<AppState>, req: TwilioRequest) -> AppResult<Response> {
    let sid = req.require("MessageSid")?.to_owned();
    let to = req.phone("To")?;
    let mut tx = app.pool.begin().await?;
    let Some(business) = businesses::find_by_twilio_number(&mut *tx, &to).await? else {
        audit(&mut tx, None, "sms/incoming", &req, "unknown_number").await?;
        tx.commit().await?;
        return Ok(xml(twiml::empty()));
    };
    // Short codes and alphanumeric senders cannot be answered; keep the audit row.
    let Some(from) = req.get("From").and_then(|f| PhoneNumber::parse(f).ok()) else {
        audit(&mut tx, Some(&business), "sms/incoming", &req, "unanswerable_sender").await?;
        tx.commit().await?;
        return Ok(xml(twiml::empty()));
    };
    let body = req.get("Body").unwrap_or_default();
    if from == business.owner_phone {
        let outcome = owner_reply(&app, &mut tx, &business, body, &req).await?;
        audit(&mut tx, Some(&business), "sms/incoming", &req, outcome).await?;
        tx.commit().await?;
        return Ok(xml(twiml::empty()));
    }
    let num_media = req.get("NumMedia").and_then(|n| n.trim().parse::<i32>().ok()).unwrap_or(0).max(0);
    let conversation = conversations::open_conversation_for(&mut *tx, business.id, &from).await?;
    let new = NewInbound {
        business_id: business.id,
        conversation_id: conversation,
        from: &from,
        to: &to,
        body,
        sid: &sid,
        num_media,
        sender_state: req.get("FromState"),
    };
    let Some(message_id) = messages::insert_inbound(&mut *tx, &new).await? else {
        audit(&mut tx, Some(&business), "sms/incoming", &req, "duplicate").await?;
        tx.commit().await?;
        return Ok(xml(twiml::empty()));
    };
    let keyword = twilio_keyword(req.get("OptOutType")).unwrap_or_else(|| keywords::classify(body));
    let run = match conversation {
        Some(c) => app.workflows.run_of_conversation(&mut tx, c).await?,
        None => None,
    };
    let outcome = match keyword {
        Keyword::OptOut { reason } => {
            opt_outs::add_opt_out(&mut *tx, business.id, &from, &reason_label(&reason)).await?;
            match run {
                Some(run) => app.workflows.signal(&mut tx, run, "opt_out", serde_json::json!({}), Some(&sid)).await?,
                None => notice(&app, &mut tx, &business, &from, Notice::OptOutConfirmation, &sid).await?,
            };
            "opt_out"
        }
        Keyword::OptIn => {
            opt_outs::remove_opt_out(&mut *tx, business.id, &from).await?;
            notice(&app, &mut tx, &business, &from, Notice::OptIn, &sid).await?;
            "opt_in"
        }
        Keyword::Help => {
            match run {
                Some(run) => app.workflows.signal(&mut tx, run, "help", serde_json::json!({}), Some(&sid)).await?,
                None => notice(&app, &mut tx, &business, &from, Notice::Help, &sid).await?,
            };
            "help"
        }
        Keyword::None => text(&app, &mut tx, &business, &from, run, message_id, &sid).await?,
    };
    audit(&mut tx, Some(&business), "sms/incoming", &req, outcome).await?;
    tx.commit().await?;
    tracing::info!(business_id = %business.id, %message_id, outcome, "text received");
    Ok(xml(twiml::empty()))
}

/// The owner answered one of our alerts by text: relay it to the customer of
/// the conversation we last alerted them about (a one-tap takeover by SMS).
async fn owner_reply(
    app: &AppState,
    tx: &mut sqlx::PgConnection,
    business: &Business,
    body: &str,
    req: &TwilioRequest,
) -> AppResult<&'static str> {
    let text = body.trim();
    if text.is_empty() {
        return Ok("owner_empty_text");
    }
    let conversation = messages::last_alerted_conversation(&mut *tx, business.id).await?;
    let run = match conversation {
        Some(c) => app.workflows.run_of_conversation(tx, c).await?,
        None => None,
    };
    let Some(run) = run else {
        return Ok("owner_text_unmatched");
    };
    let payload = serde_json::json!({ "body": text });
    app.workflows.signal(tx, run, "owner_message", payload, req.get("MessageSid")).await?;
    Ok("owner_relay")
}

/// An ordinary text: to the conversation's workflow, or a new conversation.
async fn text(
    app: &AppState,
    tx: &mut sqlx::PgConnection,
    business: &Business,
    from: &PhoneNumber,
    run: Option<activities::domain::RunId>,
    message_id: activities::domain::MessageId,
    sid: &str,
) -> AppResult<&'static str> {
    if let Some(run) = run {
        let payload = serde_json::json!({ "message_id": message_id });
        app.workflows.signal(tx, run, "customer_text", payload, Some(sid)).await?;
        return Ok("signalled");
    }
    // An opted-out number that writes again (not START) gets no automated reply.
    if opt_outs::is_opted_out(&mut *tx, business.id, from).await? {
        return Ok("opted_out_sender");
    }
    if !business.is_active() {
        return Ok("business_inactive");
    }
    app.workflows.start_text_conversation(tx, business.id, from, sid).await?;
    Ok("conversation_started")
}

async fn notice(
    app: &AppState,
    tx: &mut sqlx::PgConnection,
    business: &Business,
    to: &PhoneNumber,
    notice: Notice,
    sid: &str,
) -> AppResult<bool> {
    Ok(app.workflows.start_notice(tx, business.id, to, notice, sid).await?.is_some())
}

/// Twilio's Advanced Opt-Out tells us what it already decided.
fn twilio_keyword(opt_out_type: Option<&str>) -> Option<Keyword> {
    match opt_out_type?.trim().to_ascii_uppercase().as_str() {
        "STOP" => Some(Keyword::OptOut { reason: OptOutReason::Keyword("STOP".into()) }),
        "START" => Some(Keyword::OptIn),
        "HELP" => Some(Keyword::Help),
        _ => None,
    }
}

fn reason_label(reason: &OptOutReason) -> String {
    match reason {
        OptOutReason::Keyword(k) => format!("keyword_{}", k.to_lowercase()),
        OptOutReason::NaturalLanguage(r) => format!("said_{r}"),
    }
}
