//! Booking inside the conversation, as pure rules: what the customer's reply
//! means for the times on offer and for their appointment, and what follows
//! once the calendar has answered.

use activities::responder::{BookingIntent, Reply};

use super::state::{Alert, Booking, Command, Event, Outcome, State, TextKind};
use super::transition::{done, Decision};
use super::turns::{close, live, Ids};

/// Offers before the owner is asked to call instead (seed §9).
const MAX_OFFERS: u8 = 2;

/// What a reply leads to.
#[derive(Debug)]
pub(super) enum Plan {
    /// Send the responder's own text.
    Reply,
    /// The calendar acts and writes the reply.
    Command(Command),
    /// No agreement after two offers: the owner will call.
    HandOff,
}

pub(super) fn plan(booking: &Booking, turn: u32, reply: &Reply) -> Plan {
    let offered = &booking.offered;
    match &reply.booking {
        BookingIntent::Pick { index } if *index < offered.len() => {
            Plan::Command(Command::Book { turn, slot: offered[*index], moving: booking.moving, offers: booking.offers })
        }
        BookingIntent::Cancel => Plan::Command(Command::CancelAppointment { turn }),
        BookingIntent::Reschedule { preference } => {
            Plan::Command(Command::Offer { turn, prefer: preference.clone(), exclude: vec![], reschedule: true })
        }
        BookingIntent::Other { .. } | BookingIntent::Decline if booking.offers >= MAX_OFFERS => Plan::HandOff,
        BookingIntent::Other { preference } if booking.offers > 0 => Plan::Command(Command::Offer {
            turn,
            prefer: Some(preference.clone()),
            exclude: offered.clone(),
            reschedule: booking.moving.is_some(),
        }),
        BookingIntent::Decline if booking.offers > 0 => Plan::Command(Command::Offer {
            turn,
            prefer: None,
            exclude: offered.clone(),
            reschedule: booking.moving.is_some(),
        }),
        // Qualified for the first time: offer times instead of a closing line.
        _ if reply.qualified && booking.offers == 0 && !reply.emergency && !reply.human_needed => {
            Plan::Command(Command::Offer { turn, prefer: None, exclude: vec![], reschedule: false })
        }
        _ => Plan::Reply,
    }
}

/// The owner takes the lead: "someone will call you shortly", the
/// qualified-lead alert, and the conversation is theirs.
pub(super) fn hand_off(ids: &Ids, turn: u32, mut commands: Vec<Command>) -> Decision {
    commands.push(Command::Text(TextKind::HandOff { turn }));
    commands.extend(handed_over(ids, turn));
    Decision { state: human(ids), commands, note: "booking_handed_to_owner" }
}

fn handed_over(ids: &Ids, turn: u32) -> Vec<Command> {
    vec![
        Command::FlagHuman { conversation_id: ids.conversation_id },
        Command::Text(TextKind::OwnerAlert { alert: Alert::Qualified, turn }),
        close(ids, "human_active"),
    ]
}

fn human(ids: &Ids) -> State {
    State::Human {
        conversation_id: ids.conversation_id,
        lead_id: ids.lead_id,
        caller: ids.caller.clone(),
        turn: ids.turn,
        unanswered: None,
        booking: Booking::default(),
    }
}

/// What the calendar's answer changes; None for any other event.
pub(super) fn on_calendar(state: &State, event: &Event) -> Option<Decision> {
    let ids = live(state)?;
    // The reply that asked the calendar was numbered one below the current turn.
    let turn = ids.turn.saturating_sub(1);
    Some(match event {
        Event::Offered { slots, moving } => {
            let mut s = state.clone();
            if let State::Waiting { booking, .. } = &mut s {
                booking.offers = if *moving != booking.moving { 1 } else { booking.offers.saturating_add(1) };
                booking.offered = slots.clone();
                booking.moving = *moving;
            }
            Decision { state: s, commands: vec![], note: "times_offered" }
        }
        Event::NoSlots => Decision { state: human(&ids), commands: handed_over(&ids, turn), note: "no_times_to_offer" },
        Event::Booked { .. } => done(
            Outcome::Booked,
            vec![
                close(&ids, "closed_booked"),
                Command::LeadStatus { lead_id: ids.lead_id, to: "booked", from: BOOKABLE_LEAD },
                Command::Text(TextKind::OwnerAlert { alert: Alert::Booked, turn }),
            ],
            "appointment_booked",
        ),
        Event::Cancelled => done(
            Outcome::Cancelled,
            vec![
                close(&ids, "closed_manual"),
                Command::LeadStatus { lead_id: ids.lead_id, to: "qualified", from: &["booked"] },
                Command::Text(TextKind::OwnerAlert { alert: Alert::Cancelled, turn }),
            ],
            "appointment_cancelled",
        ),
        Event::NoAppointment => {
            let mut s = state.clone();
            if let State::Waiting { booking, .. } = &mut s {
                *booking = Booking::default();
            }
            Decision { state: s, commands: vec![], note: "no_appointment_found" }
        }
        _ => return None,
    })
}

/// Leads a booking may move to `booked` from (a reschedule finds it booked already).
const BOOKABLE_LEAD: &[&str] = &["new", "contacted", "qualifying", "qualified", "unresponsive", "booked"];
