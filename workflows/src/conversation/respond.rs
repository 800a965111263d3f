//! Asking a responder for the next reply: the context is read inside the
//! tick's transaction, the (possibly slow) responder runs outside it.

use chrono::Utc;
use sqlx::PgConnection;

use activities::responder::openai::PromptExtras;
use activities::responder::{BookingView, LeadFacts, Reply, Responder, RulesEngine, Turn, TurnInput};
use activities::store::businesses::Business;
use activities::store::{appointments, conversations, messages};

use super::state::State;
use crate::engine::{EngineError, Workflows};

/// How many earlier messages a responder sees.
const HISTORY: i64 = 40;

/// Everything a responder needs, detached from the database.
#[derive(Debug, Clone)]
pub struct ResponseContext {
    pub business_name: String,
    pub business_phone: String,
    pub services: Vec<String>,
    pub open_now: bool,
    pub disclose_bot: bool,
    pub known: LeadFacts,
    pub history: Vec<Turn>,
    pub new_texts: Vec<String>,
    pub extras: PromptExtras,
    pub booking: Option<BookingView>,
}

pub(crate) async fn load(
    conn: &mut PgConnection,
    business: &Business,
    state: &State,
) -> Result<ResponseContext, EngineError> {
    let (conversation_id, lead_id, offered) = match state {
        State::Replying { conversation_id, lead_id, booking, .. } => (*conversation_id, *lead_id, &booking.offered),
        _ => return Err(EngineError::NotReplying),
    };
    let known = conversations::lead_facts(&mut *conn, business.id, lead_id).await?;
    let transcript = messages::transcript(&mut *conn, business.id, conversation_id, HISTORY).await?;
    // The customer's texts after our last message are the ones to answer.
    let split = transcript.iter().rposition(|m| m.direction == "outbound").map_or(0, |i| i + 1);
    let history = transcript[..split]
        .iter()
        .map(|m| Turn { from_customer: m.direction == "inbound", body: m.body.clone() })
        .collect();
    let new_texts = transcript[split..].iter().map(|m| describe(&m.body, m.num_media)).collect();
    Ok(ResponseContext {
        business_name: business.name.clone(),
        business_phone: business.business_phone.display_national(),
        services: business.services.clone(),
        open_now: business.is_open_at(Utc::now()),
        disclose_bot: business.disclose_bot,
        known,
        history,
        new_texts,
        extras: extras(business),
        booking: booking_view(conn, business, lead_id, offered).await?,
    })
}

/// The times on offer and the customer's upcoming appointment, if either.
async fn booking_view(
    conn: &mut PgConnection,
    business: &Business,
    lead_id: activities::domain::LeadId,
    offered: &[activities::booking::Slot],
) -> Result<Option<BookingView>, EngineError> {
    let tz = business.timezone.tz();
    let upcoming = appointments::active_for_lead(&mut *conn, business.id, lead_id).await?;
    let appointment = upcoming.map(|a| activities::booking::format_slot(&a.slot(), tz));
    if offered.is_empty() && appointment.is_none() {
        return Ok(None);
    }
    Ok(Some(BookingView { offered: offered.to_vec(), tz, now: Utc::now(), appointment }))
}

fn extras(business: &Business) -> PromptExtras {
    let local = Utc::now().with_timezone(&business.timezone.tz());
    let hours = serde_json::to_string(&business.business_hours.0).unwrap_or_default();
    PromptExtras {
        local_time: local.format("%I:%M %p").to_string(),
        weekday: local.format("%A").to_string(),
        hours_summary: hours,
        ai_instructions: business.ai_instructions.clone(),
    }
}

/// A media-only text still says something: that a photo was sent.
fn describe(body: &str, num_media: i32) -> String {
    match (body.trim().is_empty(), num_media > 0) {
        (true, true) => "[sent a photo]".to_owned(),
        (false, true) => format!("{body} [sent a photo]"),
        _ => body.to_owned(),
    }
}

/// The LLM when configured, the rules engine otherwise or when the LLM fails.
pub(crate) async fn respond(wf: &Workflows, ctx: &ResponseContext) -> Result<Reply, EngineError> {
    let input = TurnInput {
        business_name: &ctx.business_name,
        business_phone_display: &ctx.business_phone,
        services: &ctx.services,
        open_now: ctx.open_now,
        disclose_bot: ctx.disclose_bot,
        known: &ctx.known,
        history: &ctx.history,
        new_texts: &ctx.new_texts,
        booking: ctx.booking.as_ref(),
    };
    // The configured model first, then the rules engine (which never fails).
    let chain = wf.0.cfg.llm.iter().map(|r| r.as_ref()).chain([&RulesEngine as &dyn Responder]);
    let mut last = None;
    for responder in chain {
        match responder.respond(&input, &ctx.extras).await {
            Ok(mut reply) => {
                // A customer with an appointment is past qualifying: no new
                // offer or qualified-lead alert, only cancel or move.
                if ctx.booking.as_ref().is_some_and(|b| b.appointment.is_some()) {
                    reply.qualified = false;
                }
                return Ok(reply);
            }
            Err(e) => {
                tracing::warn!(responder = responder.name(), error = %e, "responder failed; trying the next");
                last = Some(e);
            }
        }
    }
    Err(EngineError::Responder(last.map(|e| e.to_string()).unwrap_or_default()))
}
