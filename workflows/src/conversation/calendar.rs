//! The calendar side of booking, inside the tick's transaction: offers read
//! the open slots, bookings lean on the database's refusal of overlaps, and
//! each writes the customer's reply for the turn.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{context, Value};
use sqlx::PgConnection;

use activities::booking::choice::{self, Choice, Preference};
use activities::booking::{format_offer, format_slot, offer, Slot};
use activities::domain::{AppointmentId, LeadId};
use activities::store::appointments::{self, Booked, Moved, NewAppointment};
use activities::store::businesses::Business;
use activities::store::conversations;

use super::state::{Event, State};
use crate::engine::EngineError;

/// Business days ahead that offers look at (seed §9).
const DAYS_AHEAD: u32 = 3;
/// Times offered at once.
const MAX_OFFERED: usize = 4;

/// Where the reply goes, and what the calendar works with.
pub(super) struct Turn<'a> {
    pub business: &'a Business,
    pub state: &'a State,
    pub now: DateTime<Utc>,
}

/// The reply a calendar action wrote: a template and its context.
pub(super) struct Written {
    pub template: &'static str,
    pub ctx: Value,
    pub event: Event,
}

impl Turn<'_> {
    fn tz(&self) -> Tz {
        self.business.timezone.tz()
    }

    fn lead_id(&self) -> Option<LeadId> {
        match self.state {
            State::Waiting { lead_id, .. } | State::Replying { lead_id, .. } | State::Human { lead_id, .. } => {
                Some(*lead_id)
            }
            _ => None,
        }
    }
}

/// Offers times: narrowed by what the customer asked for (or the preferred
/// time they gave while qualifying), never ones they already turned down.
pub(super) async fn offer_times(
    conn: &mut PgConnection,
    t: &Turn<'_>,
    prefer: Option<&Preference>,
    exclude: &[Slot],
    reschedule: bool,
) -> Result<Written, EngineError> {
    let Some(lead_id) = t.lead_id() else {
        return Ok(hand_off());
    };
    let moving = if reschedule {
        match appointments::active_for_lead(&mut *conn, t.business.id, lead_id).await? {
            Some(a) => Some(a.id),
            None => return Ok(no_appointment(t)),
        }
    } else {
        None
    };
    let open: Vec<Slot> = appointments::open_slots(&mut *conn, t.business, t.now, DAYS_AHEAD)
        .await?
        .into_iter()
        .filter(|s| !exclude.contains(s))
        .collect();
    let first = exclude.is_empty() && prefer.is_none() && !reschedule;
    let wanted = match prefer {
        Some(p) => Some(p.clone()),
        None if first => stated_preference(conn, t, lead_id).await?,
        None => None,
    };
    let narrowed = wanted.as_ref().map(|p| choice::matching(p, &open, t.tz())).unwrap_or_default();
    let missed_ask = prefer.is_some() && narrowed.is_empty();
    let pool = if narrowed.is_empty() { &open } else { &narrowed };
    let slots = offer(pool, t.tz(), MAX_OFFERED);
    if slots.is_empty() {
        return Ok(hand_off());
    }
    let times = format_offer(&slots, t.tz());
    let (template, ctx) = if first {
        ("booking_offer", context! { times })
    } else {
        ("booking_reoffer", context! { times, asked => missed_ask, taken => Option::<String>::None })
    };
    Ok(Written { template, ctx, event: Event::Offered { slots, moving } })
}

/// The preferred time the customer gave while qualifying ("tomorrow morning").
async fn stated_preference(
    conn: &mut PgConnection,
    t: &Turn<'_>,
    lead_id: LeadId,
) -> Result<Option<Preference>, EngineError> {
    let facts = conversations::lead_facts(&mut *conn, t.business.id, lead_id).await?;
    Ok(facts.preferred_time.and_then(|said| match choice::understand(&said, &[], t.tz(), t.now) {
        Choice::Other(p) => Some(p),
        _ => None,
    }))
}

/// Books (or moves) the customer into `slot`; if someone else just took it,
/// offers what is left instead.
pub(super) async fn book(
    conn: &mut PgConnection,
    t: &Turn<'_>,
    slot: &Slot,
    moving: Option<AppointmentId>,
) -> Result<Written, EngineError> {
    let (Some(lead_id), State::Waiting { conversation_id, .. }) = (t.lead_id(), t.state) else {
        return Ok(hand_off());
    };
    let facts = conversations::lead_facts(&mut *conn, t.business.id, lead_id).await?;
    let minutes = i32::try_from((slot.end - slot.start).num_minutes()).unwrap_or(t.business.appointment_minutes);
    let booked = match moving {
        Some(id) => match appointments::reschedule(&mut *conn, t.business.id, id, slot.start, minutes).await? {
            Moved::Moved(a) => Booked::Created(a),
            Moved::SlotTaken => Booked::SlotTaken,
            Moved::NotFound => return Ok(no_appointment(t)),
        },
        None => {
            let notes = notes(&facts);
            let row = NewAppointment {
                business_id: t.business.id,
                lead_id,
                conversation_id: Some(*conversation_id),
                starts_at: slot.start,
                duration_minutes: minutes,
                service_type: facts.service_needed.as_deref(),
                address: facts.address.as_deref(),
                notes: notes.as_deref(),
                title: facts.service_needed.as_deref(),
                customer_name: facts.name.as_deref(),
            };
            appointments::book(&mut *conn, &row).await?
        }
    };
    match booked {
        Booked::Created(a) => {
            let when = format_slot(slot, t.tz());
            let ctx = context! { business => t.business.name, when, address => facts.address };
            Ok(Written { template: "booking_confirmed", ctx, event: Event::Booked { appointment_id: a.id } })
        }
        Booked::SlotTaken => retake(conn, t, slot, moving).await,
    }
}

/// Someone booked the slot first: one new offer without it.
async fn retake(
    conn: &mut PgConnection,
    t: &Turn<'_>,
    slot: &Slot,
    moving: Option<AppointmentId>,
) -> Result<Written, EngineError> {
    let open: Vec<Slot> = appointments::open_slots(&mut *conn, t.business, t.now, DAYS_AHEAD)
        .await?
        .into_iter()
        .filter(|s| s != slot)
        .collect();
    let slots = offer(&open, t.tz(), MAX_OFFERED);
    if slots.is_empty() {
        return Ok(hand_off());
    }
    let taken = format_slot(slot, t.tz());
    let ctx = context! { times => format_offer(&slots, t.tz()), taken, asked => false };
    Ok(Written { template: "booking_reoffer", ctx, event: Event::Offered { slots, moving } })
}

/// Cancels the customer's next appointment.
pub(super) async fn cancel(conn: &mut PgConnection, t: &Turn<'_>) -> Result<Written, EngineError> {
    let Some(lead_id) = t.lead_id() else {
        return Ok(no_appointment(t));
    };
    let Some(a) = appointments::active_for_lead(&mut *conn, t.business.id, lead_id).await? else {
        return Ok(no_appointment(t));
    };
    appointments::cancel(&mut *conn, t.business.id, a.id).await?;
    let when = format_slot(&a.slot(), t.tz());
    Ok(Written {
        template: "booking_cancelled",
        ctx: context! { when, business => t.business.name },
        event: Event::Cancelled,
    })
}

fn hand_off() -> Written {
    Written { template: "booking_handoff", ctx: context! {}, event: Event::NoSlots }
}

fn no_appointment(t: &Turn<'_>) -> Written {
    let phone = t.business.business_phone.display_national();
    Written { template: "booking_none", ctx: context! { phone }, event: Event::NoAppointment }
}

/// What the technician should know, from the conversation.
fn notes(facts: &activities::responder::LeadFacts) -> Option<String> {
    let parts: Vec<String> = [("Urgency", &facts.urgency), ("Asked for", &facts.preferred_time)]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}
