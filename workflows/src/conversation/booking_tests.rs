//! Booking in the conversation, as plain unit tests of the rules: offers,
//! picks, a taken slot, two refusals, cancel and reschedule.

use activities::booking::Slot;
use activities::domain::{AppointmentId, ConversationId, LeadId, PhoneNumber};
use activities::responder::{BookingIntent, Reply};
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::state::*;
use super::transition::*;

fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, d, h, 0, 0).unwrap()
}

fn ctx() -> Ctx {
    Ctx {
        now: at(15, 15),
        tz: chrono_tz::America::Chicago,
        reply_delay: Duration::zero(),
        follow_ups: Some(FOLLOW_UP_OFFSETS),
    }
}

fn slots() -> Vec<Slot> {
    [(16, 15), (16, 19), (17, 14), (18, 18)]
        .into_iter()
        .map(|(d, h)| Slot { start: at(d, h), end: at(d, h) + Duration::minutes(90) })
        .collect()
}

fn replying(turn: u32, booking: Booking) -> State {
    State::Replying {
        conversation_id: ConversationId::new(),
        lead_id: LeadId::new(),
        caller: PhoneNumber::parse("+15125550123").unwrap(),
        turn,
        due_at: at(15, 15),
        since: Some(at(15, 15)),
        booking,
    }
}

fn responded(turn: u32, reply: Reply) -> Event {
    Event::Responded { turn, reply: Box::new(reply) }
}

fn intent(booking: BookingIntent) -> Reply {
    Reply { text: "ok".into(), booking, qualified: true, ..Reply::default() }
}

fn offered(n: u8) -> Booking {
    Booking { offered: slots(), offers: n, moving: None }
}

fn texts(d: &Decision) -> Vec<TextKind> {
    d.commands.iter().filter_map(|c| if let Command::Text(k) = c { Some(*k) } else { None }).collect()
}

fn booking_of(s: &State) -> Booking {
    match s {
        State::Waiting { booking, .. } | State::Replying { booking, .. } | State::Human { booking, .. } => {
            booking.clone()
        }
        other => panic!("no booking in {other:?}"),
    }
}

#[test]
fn a_newly_qualified_lead_is_offered_times_instead_of_a_closing_line() {
    let reply = Reply { text: "Thanks, we have it all".into(), qualified: true, ..Reply::default() };
    let d = step(&replying(2, Booking::default()), &responded(2, reply), &ctx());
    assert!(d.commands.contains(&Command::Offer { turn: 2, prefer: None, exclude: vec![], reschedule: false }));
    assert!(!d.commands.iter().any(|c| matches!(c, Command::Reply { .. })), "the offer is the reply");
    assert!(texts(&d).is_empty(), "the owner hears when it is booked or handed over");
    let then = step(&d.state, &Event::Offered { slots: slots(), moving: None }, &ctx());
    assert_eq!(booking_of(&then.state), offered(1));
}

#[test]
fn an_emergency_gets_the_responder_and_the_owner_not_an_offer() {
    let reply = Reply { text: "Call 911".into(), qualified: true, emergency: true, ..Reply::default() };
    let d = step(&replying(1, Booking::default()), &responded(1, reply), &ctx());
    assert!(!d.commands.iter().any(|c| matches!(c, Command::Offer { .. })));
    assert!(texts(&d).contains(&TextKind::OwnerAlert { alert: Alert::Emergency, turn: 1 }));
}

#[test]
fn a_pick_books_that_slot_and_the_booking_closes_the_conversation() {
    let d = step(&replying(3, offered(1)), &responded(3, intent(BookingIntent::Pick { index: 1 })), &ctx());
    assert!(d.commands.contains(&Command::Book { turn: 3, slot: slots()[1], moving: None, offers: 1 }));
    let booked = step(&d.state, &Event::Booked { appointment_id: AppointmentId::new() }, &ctx());
    assert_eq!(booked.state, State::Done { outcome: Outcome::Booked });
    assert!(booked.commands.iter().any(|c| matches!(c, Command::Conversation { status: "closed_booked", .. })));
    assert!(booked.commands.iter().any(|c| matches!(c, Command::LeadStatus { to: "booked", .. })));
    assert_eq!(
        texts(&booked),
        vec![TextKind::OwnerAlert { alert: Alert::Booked, turn: 3 }, TextKind::Summary { outcome: Outcome::Booked }]
    );
}

#[test]
fn a_pick_out_of_range_is_answered_by_the_responder() {
    let d = step(&replying(3, offered(1)), &responded(3, intent(BookingIntent::Pick { index: 9 })), &ctx());
    assert!(d.commands.iter().any(|c| matches!(c, Command::Reply { .. })));
}

#[test]
fn a_taken_slot_becomes_a_new_offer() {
    let d = step(&replying(3, offered(1)), &responded(3, intent(BookingIntent::Pick { index: 0 })), &ctx());
    let rest = slots()[1..].to_vec();
    let again = step(&d.state, &Event::Offered { slots: rest.clone(), moving: None }, &ctx());
    assert_eq!(booking_of(&again.state), Booking { offered: rest, offers: 2, moving: None });
}

#[test]
fn none_of_those_gets_a_second_offer_then_the_owner() {
    let d = step(&replying(3, offered(1)), &responded(3, intent(BookingIntent::Decline)), &ctx());
    assert!(d.commands.contains(&Command::Offer { turn: 3, prefer: None, exclude: slots(), reschedule: false }));
    let twice = step(&replying(4, offered(2)), &responded(4, intent(BookingIntent::Decline)), &ctx());
    assert!(matches!(twice.state, State::Human { .. }), "{:?}", twice.state);
    let t = texts(&twice);
    assert!(t.contains(&TextKind::HandOff { turn: 4 }));
    assert!(t.contains(&TextKind::OwnerAlert { alert: Alert::Qualified, turn: 4 }));
    assert!(twice.commands.iter().any(|c| matches!(c, Command::FlagHuman { .. })));
}

#[test]
fn no_open_times_hands_the_lead_to_the_owner() {
    let d = step(&replying(2, Booking::default()), &responded(2, intent(BookingIntent::None)), &ctx());
    let none = step(&d.state, &Event::NoSlots, &ctx());
    assert!(matches!(none.state, State::Human { .. }));
    assert!(texts(&none).contains(&TextKind::OwnerAlert { alert: Alert::Qualified, turn: 2 }));
}

#[test]
fn a_booked_customer_cancels_or_moves_by_text() {
    let cancel = step(&replying(0, Booking::default()), &responded(0, intent(BookingIntent::Cancel)), &ctx());
    assert!(cancel.commands.contains(&Command::CancelAppointment { turn: 0 }));
    let cancelled = step(&cancel.state, &Event::Cancelled, &ctx());
    assert_eq!(cancelled.state, State::Done { outcome: Outcome::Cancelled });
    assert_eq!(
        texts(&cancelled),
        vec![
            TextKind::OwnerAlert { alert: Alert::Cancelled, turn: 0 },
            TextKind::Summary { outcome: Outcome::Cancelled }
        ]
    );

    let moving = AppointmentId::new();
    let ask = step(
        &replying(0, Booking::default()),
        &responded(0, intent(BookingIntent::Reschedule { preference: None })),
        &ctx(),
    );
    assert!(ask.commands.contains(&Command::Offer { turn: 0, prefer: None, exclude: vec![], reschedule: true }));
    let shown = step(&ask.state, &Event::Offered { slots: slots(), moving: Some(moving) }, &ctx());
    assert_eq!(booking_of(&shown.state), Booking { offered: slots(), offers: 1, moving: Some(moving) });
    let State::Waiting { booking, .. } = &shown.state else { panic!() };
    let pick = step(&replying(1, booking.clone()), &responded(1, intent(BookingIntent::Pick { index: 2 })), &ctx());
    assert!(pick.commands.contains(&Command::Book { turn: 1, slot: slots()[2], moving: Some(moving), offers: 1 }));
}
