//! The review-request rules, without a database, with the clock passed in.

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;

use activities::domain::{LeadId, ReviewRequestId};

use super::state::{Command, Facts, Outcome, RequestStatus, State, TextKind};
use super::transition::{send_at, step, Ctx, DEFAULT_DELAYS};

const CHICAGO: Tz = chrono_tz::America::Chicago;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    // 2026-03-03 is a Tuesday; Chicago is UTC-6 then.
    CHICAGO.with_ymd_and_hms(2026, 3, 3, h, m, 0).unwrap().with_timezone(&Utc)
}

fn ctx(now: DateTime<Utc>) -> Ctx {
    Ctx { now, tz: CHICAGO, reminder_delay: DEFAULT_DELAYS[1] }
}

fn fine() -> Facts {
    Facts { business_active: true, opted_out: false, unreachable: false, clicked: false }
}

fn scheduled(completed_at: DateTime<Utc>) -> State {
    State::Scheduled {
        review_request_id: ReviewRequestId(uuid::Uuid::nil()),
        lead_id: LeadId(uuid::Uuid::nil()),
        completed_at,
        due_at: send_at(completed_at, DEFAULT_DELAYS[0], CHICAGO),
    }
}

fn requested(sent_at: DateTime<Utc>) -> State {
    State::Requested {
        review_request_id: ReviewRequestId(uuid::Uuid::nil()),
        lead_id: LeadId(uuid::Uuid::nil()),
        sent_at,
        due_at: sent_at + DEFAULT_DELAYS[1],
    }
}

#[test]
fn the_request_is_due_two_hours_after_the_job_in_daytime() {
    assert_eq!(send_at(at(10, 0), DEFAULT_DELAYS[0], CHICAGO), at(12, 0));
    assert_eq!(send_at(at(17, 59), DEFAULT_DELAYS[0], CHICAGO), at(19, 59));
    // Done at 7 pm: 9 pm is too late, so 8 am the next day.
    let next_morning = CHICAGO.with_ymd_and_hms(2026, 3, 4, 8, 0, 0).unwrap().with_timezone(&Utc);
    assert_eq!(send_at(at(19, 0), DEFAULT_DELAYS[0], CHICAGO), next_morning);
    // In the customer's own zone, not the business's.
    let honolulu = chrono_tz::Pacific::Honolulu;
    let t = send_at(at(10, 0), DEFAULT_DELAYS[0], honolulu);
    assert_eq!(t.with_timezone(&honolulu).format("%H:%M").to_string(), "08:00");
}

#[test]
fn nothing_is_sent_before_the_request_is_due() {
    let s = scheduled(at(10, 0));
    let d = step(&s, fine(), &ctx(at(11, 59)));
    assert_eq!(d.state, s);
    assert!(d.commands.is_empty());
}

#[test]
fn the_request_goes_out_when_due_and_the_reminder_is_set_48_hours_later() {
    let s = scheduled(at(10, 0));
    let now = at(12, 0) + Duration::seconds(3);
    let d = step(&s, fine(), &ctx(now));
    assert_eq!(
        d.commands,
        vec![Command::Text(TextKind::Request { today: true }), Command::Status(RequestStatus::Sent)]
    );
    assert_eq!(d.note, "review_requested");
    let State::Requested { sent_at, due_at, .. } = d.state else { panic!("{:?}", d.state) };
    assert_eq!((sent_at, due_at), (now, now + Duration::hours(48)));
    assert_eq!(d.state.wake_at(), Some(now + Duration::hours(48)));
}

#[test]
fn a_request_sent_the_next_morning_does_not_say_today() {
    let s = scheduled(at(19, 0));
    let morning = CHICAGO.with_ymd_and_hms(2026, 3, 4, 8, 0, 1).unwrap().with_timezone(&Utc);
    let d = step(&s, fine(), &ctx(morning));
    assert_eq!(d.commands[0], Command::Text(TextKind::Request { today: false }));
}

#[test]
fn one_reminder_then_the_run_is_done_and_never_texts_again() {
    let sent = at(12, 0);
    let r = requested(sent);
    assert!(step(&r, fine(), &ctx(sent + Duration::hours(47))).commands.is_empty());
    let d = step(&r, fine(), &ctx(sent + Duration::hours(48)));
    assert_eq!(d.commands, vec![Command::Text(TextKind::Reminder), Command::Status(RequestStatus::Reminded)]);
    assert_eq!(d.state, State::Done { outcome: Outcome::Reminded });
    assert_eq!(d.state.wake_at(), None);
    for later in [Duration::hours(49), Duration::days(30)] {
        let again = step(&d.state, fine(), &ctx(sent + later));
        assert!(again.commands.is_empty());
        assert_eq!(again.state, d.state);
    }
}

#[test]
fn a_click_ends_the_run_without_a_reminder_whenever_it_is_seen() {
    let clicked = Facts { clicked: true, ..fine() };
    for (state, now) in [(requested(at(12, 0)), at(13, 0)), (requested(at(12, 0)), at(12, 0) + Duration::hours(48))] {
        let d = step(&state, clicked, &ctx(now));
        assert_eq!(d.state, State::Done { outcome: Outcome::Clicked });
        assert!(d.commands.is_empty(), "the click already marked the request completed");
    }
}

#[test]
fn an_opt_out_ends_the_run_at_the_next_send_with_nothing_sent() {
    let out = Facts { opted_out: true, ..fine() };
    for (state, now) in [(scheduled(at(10, 0)), at(12, 0)), (requested(at(12, 0)), at(12, 0) + Duration::hours(48))] {
        let d = step(&state, out, &ctx(now));
        assert_eq!(d.state, State::Done { outcome: Outcome::OptedOut });
        assert_eq!(d.commands, vec![Command::Status(RequestStatus::OptedOut)]);
    }
}

#[test]
fn a_paused_business_or_an_unreachable_number_cancels_the_request() {
    for facts in [Facts { business_active: false, ..fine() }, Facts { unreachable: true, ..fine() }] {
        let d = step(&scheduled(at(10, 0)), facts, &ctx(at(12, 0)));
        assert_eq!(d.state, State::Done { outcome: Outcome::Cancelled });
        assert_eq!(d.commands, vec![Command::Status(RequestStatus::Cancelled)]);
    }
}

#[test]
fn texts_due_at_night_wait_for_eight_in_the_morning() {
    // A worker outage made the reminder late: due at 2 pm, seen at 11 pm.
    let r = requested(at(14, 0) - Duration::hours(48));
    let night = at(23, 0);
    let d = step(&r, fine(), &ctx(night));
    assert!(d.commands.is_empty());
    assert_eq!(d.note, "deferred_to_daytime");
    let morning = CHICAGO.with_ymd_and_hms(2026, 3, 4, 8, 0, 0).unwrap().with_timezone(&Utc);
    assert_eq!(d.state.wake_at(), Some(morning));
    let d = step(&d.state, fine(), &ctx(morning));
    assert_eq!(d.commands[0], Command::Text(TextKind::Reminder));
}

#[test]
fn every_state_survives_a_json_round_trip() {
    for s in [scheduled(at(10, 0)), requested(at(12, 0)), State::Done { outcome: Outcome::Clicked }] {
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(serde_json::from_value::<State>(json).unwrap(), s);
    }
}

#[test]
fn each_text_has_its_own_outbox_purpose() {
    assert_eq!(TextKind::Request { today: true }.purpose(), "review_request");
    assert_eq!(TextKind::Request { today: false }.purpose(), "review_request");
    assert_eq!(TextKind::Reminder.purpose(), "review_reminder");
}
