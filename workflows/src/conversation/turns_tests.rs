//! The live-conversation rules (customer texts, replies, takeover, opt-out,
//! HELP) as plain unit tests.

use activities::domain::{ConversationId, LeadId, MessageId, PhoneNumber};
use activities::responder::Reply;
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::state::*;
use super::transition::*;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    // 2026-06-15 is a Monday; 15:00 UTC is 10:00 in Chicago.
    Utc.with_ymd_and_hms(2026, 6, 15, h, m, 0).unwrap()
}

fn ctx(now: DateTime<Utc>, delay_s: i64) -> Ctx {
    Ctx {
        now,
        tz: chrono_tz::America::Chicago,
        reply_delay: Duration::seconds(delay_s),
        follow_ups: Some(FOLLOW_UP_OFFSETS),
    }
}

fn ids() -> (ConversationId, LeadId, PhoneNumber) {
    (ConversationId::new(), LeadId::new(), PhoneNumber::parse("+15125550123").unwrap())
}

fn waiting(turn: u32) -> State {
    let (conversation_id, lead_id, caller) = ids();
    State::Waiting {
        conversation_id,
        lead_id,
        caller,
        text_back_at: at(15, 0),
        follow_ups_sent: 0,
        next_at: at(17, 0),
        turn,
        booking: Booking::default(),
    }
}

fn text() -> Event {
    Event::Signal(SignalKind::CustomerText { message_id: MessageId::new() })
}

fn wake() -> Event {
    Event::Wake(WakeFacts { business_active: true, opted_out: false, unreachable: false })
}

fn responded(turn: u32, reply: Reply) -> Event {
    Event::Responded { turn, reply: Box::new(reply) }
}

fn texts(d: &Decision) -> Vec<TextKind> {
    d.commands.iter().filter_map(|c| if let Command::Text(k) = c { Some(*k) } else { None }).collect()
}

#[test]
fn a_customer_text_waits_out_the_owner_window_then_asks_for_a_reply() {
    let d = step(&waiting(0), &text(), &ctx(at(15, 10), 60));
    let State::Replying { due_at, turn, .. } = d.state.clone() else { panic!("{:?}", d.state) };
    assert_eq!((due_at, turn), (at(15, 11), 0));
    assert!(d.commands.iter().any(|c| matches!(c, Command::Conversation { status: "active", next_at: None, .. })));
    let early = step(&d.state, &wake(), &ctx(at(15, 10) + Duration::seconds(30), 60));
    assert!(early.commands.is_empty(), "not before the window ends");
    let due = step(&d.state, &wake(), &ctx(at(15, 11), 60));
    assert_eq!(due.commands, vec![Command::Respond { turn: 0 }]);
}

#[test]
fn a_burst_of_texts_keeps_the_first_deadline_and_gets_one_reply() {
    let first = step(&waiting(2), &text(), &ctx(at(15, 10), 0));
    let second = step(&first.state, &text(), &ctx(at(15, 10) + Duration::seconds(2), 0));
    assert_eq!(second.state.wake_at(), first.state.wake_at());
    let due = step(&second.state, &wake(), &ctx(at(15, 11), 0));
    assert_eq!(due.commands, vec![Command::Respond { turn: 2 }]);
}

#[test]
fn a_reply_is_queued_and_the_follow_ups_restart_from_it() {
    let replying = step(&waiting(0), &text(), &ctx(at(15, 10), 0)).state;
    let reply = Reply { text: "What's the address?".into(), ..Reply::default() };
    let d = step(&replying, &responded(0, reply), &ctx(at(15, 12), 0));
    assert!(d.commands.contains(&Command::Reply { turn: 0, body: "What's the address?".into() }));
    let State::Waiting { turn, text_back_at, next_at, follow_ups_sent, .. } = d.state else { panic!() };
    assert_eq!((turn, text_back_at, next_at, follow_ups_sent), (1, at(15, 12), at(17, 12), 0));
    assert!(texts(&d).is_empty(), "no owner alert for an ordinary turn");
}

#[test]
fn qualified_emergency_and_human_needed_alert_the_owner() {
    let replying = step(&waiting(3), &text(), &ctx(at(15, 10), 0)).state;
    let reply =
        Reply { text: "On it.".into(), qualified: true, emergency: true, human_needed: true, ..Reply::default() };
    let d = step(&replying, &responded(3, reply), &ctx(at(15, 10), 0));
    let alerts: Vec<Alert> = texts(&d)
        .into_iter()
        .filter_map(|k| if let TextKind::OwnerAlert { alert, .. } = k { Some(alert) } else { None })
        .collect();
    // The emergency first: it is the one the owner must act on now.
    assert_eq!(alerts, vec![Alert::Emergency, Alert::HumanNeeded, Alert::Qualified]);
    assert!(d.commands.iter().any(|c| matches!(c, Command::LeadStatus { to: "qualified", .. })));
    assert!(d.commands.iter().any(|c| matches!(c, Command::FlagHuman { .. })));
}

#[test]
fn an_answer_for_an_older_turn_is_dropped() {
    let replying = step(&waiting(4), &text(), &ctx(at(15, 10), 0)).state;
    let d = step(&replying, &responded(3, Reply { text: "stale".into(), ..Reply::default() }), &ctx(at(15, 10), 0));
    assert_eq!(d.state, replying);
    assert!(d.commands.is_empty());
}

#[test]
fn an_opt_out_ends_every_live_state_with_one_confirmation() {
    let human = step(&waiting(0), &Event::Signal(SignalKind::TakeOver), &ctx(at(15, 10), 0)).state;
    let replying = step(&waiting(0), &text(), &ctx(at(15, 10), 0)).state;
    for s in [waiting(1), replying, human] {
        let d = step(&s, &Event::Signal(SignalKind::OptOut), &ctx(at(15, 10), 0));
        assert_eq!(d.state, State::Done { outcome: Outcome::OptedOut });
        let summary = TextKind::Summary { outcome: Outcome::OptedOut };
        assert_eq!(texts(&d), vec![TextKind::OptOutConfirmation, summary]);
        assert!(d.commands.iter().any(|c| matches!(c, Command::Conversation { status: "closed_opted_out", .. })));
        assert!(d.commands.iter().any(|c| matches!(c, Command::LeadStatus { to: "opted_out", .. })));
    }
}

#[test]
fn help_is_answered_without_changing_the_conversation() {
    let s = waiting(0);
    let d = step(&s, &Event::Signal(SignalKind::Help { key: 7 }), &ctx(at(15, 10), 0));
    assert_eq!(d.state, s);
    assert_eq!(texts(&d), vec![TextKind::Help { key: 7 }]);
}

#[test]
fn during_a_takeover_texts_go_to_the_owner_and_no_follow_up_fires() {
    let human = step(&waiting(1), &Event::Signal(SignalKind::TakeOver), &ctx(at(15, 10), 0));
    assert!(human.commands.iter().any(|c| matches!(c, Command::Conversation { status: "human_active", .. })));
    let m = MessageId::new();
    let fwd = step(&human.state, &Event::Signal(SignalKind::CustomerText { message_id: m }), &ctx(at(15, 11), 0));
    assert_eq!(texts(&fwd), vec![TextKind::Forward { message_id: m }]);
    assert!(!fwd.commands.iter().any(|c| matches!(c, Command::Respond { .. })));
    let later = step(&fwd.state, &wake(), &ctx(at(23, 0), 0));
    assert!(later.commands.is_empty(), "no follow-ups while the owner has it");
    assert_eq!(fwd.state.wake_at(), None);
}

#[test]
fn returning_to_the_ai_answers_what_came_in_meanwhile_at_once() {
    let human = step(&waiting(1), &Event::Signal(SignalKind::TakeOver), &ctx(at(15, 10), 60)).state;
    let fwd = step(&human, &text(), &ctx(at(15, 11), 60)).state;
    let back = step(&fwd, &Event::Signal(SignalKind::ReturnToAi), &ctx(at(15, 12), 60));
    assert!(matches!(back.state, State::Replying { due_at, .. } if due_at == at(15, 12)), "{:?}", back.state);
    let quiet = step(&human, &Event::Signal(SignalKind::ReturnToAi), &ctx(at(15, 12), 60));
    assert!(matches!(quiet.state, State::Waiting { next_at, .. } if next_at == at(17, 12)), "{:?}", quiet.state);
}

#[test]
fn a_first_text_from_a_new_number_is_answered_not_greeted() {
    let start = State::Start { call_id: None, caller: ids().2, called_at: at(15, 0), caller_state: None };
    let (c, l, _) = ids();
    let d = step(&start, &Event::Opened { conversation_id: c, lead_id: l, zone: None }, &ctx(at(15, 0), 0));
    assert!(matches!(d.state, State::Replying { turn: 0, .. }));
    assert!(texts(&d).is_empty(), "no missed-call text-back for a text");
}

#[test]
fn a_reply_more_than_five_minutes_late_at_night_waits_for_8am() {
    // 02:00 UTC is 21:00 in Chicago: the text came at 20:50 local, the owner
    // held it with a takeover, and handed back at 21:00 — no longer a direct reply.
    let night = Utc.with_ymd_and_hms(2026, 6, 16, 2, 0, 0).unwrap();
    let human = step(&waiting(1), &Event::Signal(SignalKind::TakeOver), &ctx(night - Duration::minutes(20), 0)).state;
    let held = step(&human, &text(), &ctx(night - Duration::minutes(10), 0)).state;
    let back = step(&held, &Event::Signal(SignalKind::ReturnToAi), &ctx(night, 0));
    let d = step(&back.state, &wake(), &ctx(night, 0));
    assert!(d.commands.is_empty(), "{:?}", d.commands);
    let eight = Utc.with_ymd_and_hms(2026, 6, 16, 13, 0, 0).unwrap();
    assert_eq!(d.state.wake_at(), Some(eight), "08:00 CDT");
    let morning = step(&d.state, &wake(), &ctx(eight, 0));
    assert!(matches!(morning.commands.as_slice(), [Command::Respond { .. }]));
}

#[test]
fn a_direct_reply_goes_out_at_any_hour() {
    let night = Utc.with_ymd_and_hms(2026, 6, 16, 7, 0, 0).unwrap(); // 02:00 in Chicago
    let replying = step(&waiting(0), &text(), &ctx(night, 0)).state;
    let d = step(&replying, &wake(), &ctx(night + Duration::seconds(1), 0));
    assert!(matches!(d.commands.as_slice(), [Command::Respond { .. }]));
}

#[test]
fn an_opt_out_the_responder_reads_in_plain_words_is_recorded_and_confirmed() {
    let replying = step(&waiting(0), &text(), &ctx(at(15, 10), 0)).state;
    let reply = Reply { text: "Sure thing!".into(), opt_out: true, ..Reply::default() };
    let d = step(&replying, &responded(0, reply), &ctx(at(15, 10), 0));
    assert_eq!(d.state, State::Done { outcome: Outcome::OptedOut });
    assert_eq!(d.commands[0], Command::RecordOptOut);
    assert_eq!(texts(&d), vec![TextKind::OptOutConfirmation, TextKind::Summary { outcome: Outcome::OptedOut }]);
    assert!(!d.commands.iter().any(|c| matches!(c, Command::Reply { .. })), "the model's text is not sent");
}
