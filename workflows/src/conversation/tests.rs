//! The conversation rules, tested as a pure function: no database, no clock, no async.

use activities::domain::{CallId, ConversationId, LeadId, PhoneNumber};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::state::*;
use super::transition::*;

type At = DateTime<Utc>;
type Ids = (ConversationId, LeadId);

const CHICAGO: Tz = chrono_tz::America::Chicago;
const NEW_YORK: Tz = chrono_tz::America::New_York;
const OPEN_LEAD: &[&str] = &["new", "contacted", "qualifying"];

fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> At {
    let t = tz.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap();
    t.with_timezone(&Utc)
}

/// Chicago wall-clock time in June 2026 (CDT, UTC-5); the 15th is a Monday.
fn june(d: u32, h: u32, mi: u32) -> At {
    local(CHICAGO, 2026, 6, d, h, mi)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> At {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn ctx(now: At) -> Ctx {
    let tz = CHICAGO;
    Ctx { now, tz, reply_delay: Duration::zero(), follow_ups: Some(FOLLOW_UP_OFFSETS) }
}

fn caller() -> PhoneNumber {
    PhoneNumber::parse("+15125550123").unwrap()
}

fn new_ids() -> Ids {
    (ConversationId::new(), LeadId::new())
}

fn wake(business_active: bool, opted_out: bool, unreachable: bool) -> Event {
    let facts = WakeFacts { business_active, opted_out, unreachable };
    Event::Wake(facts)
}

fn active() -> Event {
    wake(true, false, false)
}

fn delivered(purpose: &str, result: DeliveryResult) -> Event {
    let purpose = purpose.to_string();
    Event::Delivered { purpose, result }
}

fn start() -> State {
    let (call_id, called_at) = (Some(CallId::new()), june(15, 9, 55));
    State::Start { call_id, caller: caller(), called_at, caller_state: None }
}

fn greeting((conversation_id, lead_id): Ids) -> State {
    State::Greeting { conversation_id, lead_id, caller: caller() }
}

fn waiting((conversation_id, lead_id): Ids, text_back_at: At, sent: u8, next_at: At) -> State {
    let caller = caller();
    let follow_ups_sent = sent;
    State::Waiting {
        conversation_id,
        lead_id,
        caller,
        text_back_at,
        follow_ups_sent,
        next_at,
        turn: 0,
        booking: Booking::default(),
    }
}

fn ended(outcome: Outcome) -> State {
    State::Done { outcome }
}

fn text(kind: TextKind) -> Command {
    Command::Text(kind)
}

fn call_back(reason: CallBackReason) -> Command {
    text(TextKind::OwnerCallBack { reason })
}

fn lead(lead_id: LeadId, to: &'static str, from: &'static [&'static str]) -> Command {
    Command::LeadStatus { lead_id, to, from }
}

fn conv(id: ConversationId, status: &'static str, n: i32, next_at: Option<At>) -> Command {
    Command::Conversation { conversation_id: id, status, follow_ups: n, next_at }
}

fn texts(d: &Decision) -> Vec<TextKind> {
    let kind = |c: &Command| {
        if let Command::Text(t) = c {
            Some(*t)
        } else {
            None
        }
    };
    d.commands.iter().filter_map(kind).collect()
}

fn expect(d: &Decision, state: State, commands: Vec<Command>) {
    assert_eq!(d.state, state);
    assert_eq!(d.commands, commands);
}

const RESULTS: [DeliveryResult; 4] = {
    use DeliveryResult::*;
    [Sent, OptedOut, Unreachable, Failed]
};

/// Every kind of event the workflow can receive.
fn all_events() -> Vec<Event> {
    let mut events: Vec<Event> = (0..8u8).map(|b| wake(b & 1 != 0, b & 2 != 0, b & 4 != 0)).collect();
    let (conversation_id, lead_id) = new_ids();
    events.push(Event::Opened { conversation_id, lead_id, zone: None });
    events.push(Event::Joined { conversation_id });
    let purposes = ["text_back", "owner_missed_call", "owner_call_back", "follow_up_1"];
    for purpose in purposes {
        events.extend(RESULTS.map(|r| delivered(purpose, r)));
    }
    events
}

fn text_back(ids: Ids, result: DeliveryResult, now: At) -> Decision {
    step(&greeting(ids), &delivered("text_back", result), &ctx(now))
}

fn assert_unchanged(state: &State, event: &Event, at: At) {
    let d = step(state, event, &ctx(at));
    assert_eq!(d.state, *state, "{event:?} changed {state:?}");
    assert_eq!(d.commands, vec![], "{event:?} on {state:?}");
}

/// Feeds `Wake` (business active, not opted out) every 30 minutes, `ticks` times;
/// returns the final state and each follow-up sent, with when.
fn tick(mut state: State, from: At, ticks: i64, tz: Tz) -> (State, Vec<(At, u8)>) {
    let mut sent = Vec::new();
    for now in (0..ticks).map(|i| from + Duration::minutes(30 * i)) {
        let d = step(
            &state,
            &active(),
            &Ctx { now, tz, reply_delay: Duration::zero(), follow_ups: Some(FOLLOW_UP_OFFSETS) },
        );
        for kind in texts(&d) {
            if let TextKind::FollowUp { n, .. } = kind {
                sent.push((now, n));
            }
        }
        state = d.state;
    }
    (state, sent)
}

// ---- Start ---------------------------------------------------------------------------

#[test]
fn a_paused_or_cancelled_business_ends_the_run_without_sending_anything() {
    let d = step(&start(), &wake(false, false, false), &ctx(june(15, 10, 0)));
    expect(&d, ended(Outcome::BusinessInactive), vec![]);
}

#[test]
fn an_opted_out_caller_ends_the_run_without_sending_anything() {
    let d = step(&start(), &wake(true, true, false), &ctx(june(15, 10, 0)));
    expect(&d, ended(Outcome::OptedOut), vec![]);
}

#[test]
fn a_landline_caller_ends_the_run_and_only_asks_the_owner_to_call_back() {
    let d = step(&start(), &wake(true, false, true), &ctx(june(15, 10, 0)));
    let commands = vec![call_back(CallBackReason::Landline)];
    expect(&d, ended(Outcome::Unreachable), commands);
}

#[test]
fn a_textable_caller_of_an_active_business_gets_a_conversation_opened() {
    let s = start();
    let d = step(&s, &active(), &ctx(june(15, 10, 0)));
    expect(&d, s, vec![Command::OpenConversation]);
}

#[test]
fn an_inactive_business_beats_opt_out_which_beats_a_landline() {
    for (opted_out, unreachable) in [(true, false), (false, true), (true, true)] {
        let event = wake(false, opted_out, unreachable);
        let d = step(&start(), &event, &ctx(june(15, 10, 0)));
        expect(&d, ended(Outcome::BusinessInactive), vec![]);
    }
    let d = step(&start(), &wake(true, true, true), &ctx(june(15, 10, 0)));
    expect(&d, ended(Outcome::OptedOut), vec![]);
}

#[test]
fn an_opened_conversation_greets_the_caller_and_alerts_the_owner() {
    let ids @ (conversation_id, lead_id) = new_ids();
    let opened = Event::Opened { conversation_id, lead_id, zone: None };
    let d = step(&start(), &opened, &ctx(june(15, 10, 0)));
    let commands = vec![text(TextKind::TextBack), text(TextKind::OwnerMissedCall)];
    expect(&d, greeting(ids), commands);
}

#[test]
fn a_call_that_joins_an_open_conversation_sends_no_second_text_back() {
    let (conversation_id, _) = new_ids();
    let joined = Event::Joined { conversation_id };
    let d = step(&start(), &joined, &ctx(june(15, 10, 0)));
    expect(&d, ended(Outcome::Joined), vec![]);
}

#[test]
fn a_delivery_report_before_the_conversation_is_open_changes_nothing() {
    for event in all_events() {
        if matches!(event, Event::Delivered { .. }) {
            assert_unchanged(&start(), &event, june(15, 10, 0));
        }
    }
}

// ---- Greeting ------------------------------------------------------------------------

#[test]
fn a_sent_text_back_starts_waiting_with_the_first_follow_up_two_hours_later() {
    let ids @ (c, l) = new_ids();
    let (now, next_at) = (june(15, 10, 0), june(15, 12, 0));
    let d = text_back(ids, DeliveryResult::Sent, now);
    let commands = vec![lead(l, "contacted", &["new"]), conv(c, "active", 0, Some(next_at))];
    expect(&d, waiting(ids, now, 0, next_at), commands);
}

#[test]
fn a_first_follow_up_that_would_fall_at_night_is_scheduled_for_8am_local() {
    let cases = [
        (june(15, 17, 59), june(15, 19, 59)),
        (june(15, 18, 0), june(16, 8, 0)),
        (june(15, 19, 0), june(16, 8, 0)),
        (june(15, 23, 0), june(16, 8, 0)),
        (june(15, 2, 0), june(15, 8, 0)),
        (june(15, 6, 0), june(15, 8, 0)),
    ];
    for (now, expected) in cases {
        let d = text_back(new_ids(), DeliveryResult::Sent, now);
        assert_eq!(d.state.wake_at(), Some(expected), "text-back at {now}");
    }
}

#[test]
fn delivery_of_any_other_text_while_greeting_changes_nothing() {
    let g = greeting(new_ids());
    for event in all_events() {
        if !matches!(&event, Event::Delivered { purpose, .. } if purpose == "text_back") {
            assert_unchanged(&g, &event, june(15, 10, 0));
        }
    }
}

#[test]
fn a_text_back_refused_for_an_earlier_opt_out_closes_as_opted_out_and_alerts_the_owner() {
    let ids @ (c, l) = new_ids();
    let d = text_back(ids, DeliveryResult::OptedOut, june(15, 10, 0));
    let commands = vec![
        conv(c, "closed_opted_out", 0, None),
        lead(l, "opted_out", OPEN_LEAD),
        call_back(CallBackReason::OptedOutBefore),
    ];
    expect(&d, ended(Outcome::OptedOut), commands);
}

#[test]
fn a_text_back_to_a_landline_closes_without_response_and_alerts_the_owner() {
    let ids @ (c, _) = new_ids();
    let d = text_back(ids, DeliveryResult::Unreachable, june(15, 10, 0));
    let commands = vec![conv(c, "closed_no_response", 0, None), call_back(CallBackReason::Landline)];
    expect(&d, ended(Outcome::Unreachable), commands);
}

#[test]
fn a_failed_text_back_closes_without_response_and_alerts_the_owner() {
    let ids @ (c, _) = new_ids();
    let d = text_back(ids, DeliveryResult::Failed, june(15, 10, 0));
    let commands = vec![conv(c, "closed_no_response", 0, None), call_back(CallBackReason::SendFailed)];
    expect(&d, ended(Outcome::TextBackFailed), commands);
}

// ---- Waiting -------------------------------------------------------------------------

#[test]
fn a_wake_before_the_follow_up_is_due_changes_nothing_whatever_the_facts() {
    let w = waiting(new_ids(), june(15, 10, 0), 0, june(15, 12, 0));
    for event in all_events() {
        assert_unchanged(&w, &event, june(15, 11, 59));
    }
}

#[test]
fn events_other_than_a_wake_never_change_a_waiting_conversation_even_when_due() {
    let w = waiting(new_ids(), june(15, 10, 0), 0, june(15, 12, 0));
    for event in all_events().iter().filter(|e| !matches!(e, Event::Wake(_))) {
        assert_unchanged(&w, event, june(15, 12, 30));
    }
}

#[test]
fn follow_ups_go_out_two_hours_one_day_and_three_days_after_the_text_back() {
    let tb = june(15, 10, 0);
    let w = waiting(new_ids(), tb, 0, june(15, 12, 0));
    let (end, sent) = tick(w, tb, 7 * 48, CHICAGO);
    let offsets: Vec<_> = sent.iter().map(|(t, n)| (*t - tb, *n)).collect();
    let hours = Duration::hours;
    assert_eq!(offsets, vec![(hours(2), 1), (hours(24), 2), (hours(72), 3)]);
    assert_eq!(end, ended(Outcome::NoResponse));
}

#[test]
fn each_follow_up_records_its_count_and_the_next_due_time() {
    let (ids @ (c, _), tb) = (new_ids(), june(15, 10, 0));
    let w = waiting(ids, tb, 0, june(15, 12, 0));
    let d = step(&w, &active(), &ctx(june(15, 12, 0)));
    let commands = vec![text(TextKind::FollowUp { turn: 0, n: 1 }), conv(c, "follow_up", 1, Some(june(16, 10, 0)))];
    expect(&d, waiting(ids, tb, 1, june(16, 10, 0)), commands);

    let d = step(&d.state, &active(), &ctx(june(16, 10, 0)));
    let commands = vec![text(TextKind::FollowUp { turn: 0, n: 2 }), conv(c, "follow_up", 2, Some(june(18, 10, 0)))];
    expect(&d, waiting(ids, tb, 2, june(18, 10, 0)), commands);
}

#[test]
fn the_third_follow_up_closes_the_conversation_and_marks_the_lead_unresponsive() {
    let ids @ (c, l) = new_ids();
    let w = waiting(ids, june(15, 10, 0), 2, june(18, 10, 0));
    let d = step(&w, &active(), &ctx(june(18, 10, 0)));
    let commands = vec![
        text(TextKind::FollowUp { turn: 0, n: 3 }),
        conv(c, "closed_no_response", 3, None),
        lead(l, "unresponsive", OPEN_LEAD),
        text(TextKind::Summary { outcome: Outcome::NoResponse }),
    ];
    expect(&d, ended(Outcome::NoResponse), commands);
}

#[test]
fn a_due_follow_up_outside_8am_to_8pm_local_waits_for_the_next_8am() {
    let (ids, tb) = (new_ids(), june(15, 10, 0));
    let w = waiting(ids, tb, 1, june(16, 10, 0));
    let cases = [
        (june(16, 20, 0), june(17, 8, 0)),
        (june(16, 21, 30), june(17, 8, 0)),
        (june(16, 22, 30), june(17, 8, 0)),
        (june(17, 6, 0), june(17, 8, 0)),
    ];
    for (now, deferred_to) in cases {
        let d = step(&w, &active(), &ctx(now));
        let stored = conv(ids.0, "follow_up", 1, Some(deferred_to));
        expect(&d, waiting(ids, tb, 1, deferred_to), vec![stored]);
    }
    let d = step(&w, &active(), &ctx(june(16, 19, 59)));
    assert_eq!(texts(&d), vec![TextKind::FollowUp { turn: 0, n: 2 }]);
}

#[test]
fn a_caller_who_opts_out_while_waiting_is_closed_out_without_a_text() {
    let ids @ (c, l) = new_ids();
    let w = waiting(ids, june(15, 10, 0), 1, june(16, 10, 0));
    let d = step(&w, &wake(true, true, false), &ctx(june(16, 10, 0)));
    let summary = text(TextKind::Summary { outcome: Outcome::OptedOut });
    let commands = vec![conv(c, "closed_opted_out", 1, None), lead(l, "opted_out", OPEN_LEAD), summary];
    expect(&d, ended(Outcome::OptedOut), commands);
}

#[test]
fn a_business_paused_while_waiting_ends_the_run_without_a_text() {
    let w = waiting(new_ids(), june(15, 10, 0), 1, june(16, 10, 0));
    let d = step(&w, &wake(false, false, false), &ctx(june(16, 10, 0)));
    assert_eq!(d.state, ended(Outcome::BusinessInactive));
    assert_eq!(texts(&d), vec![], "{:?}", d.commands);
}

// ---- Done ----------------------------------------------------------------------------

#[test]
fn a_finished_run_ignores_every_event() {
    use Outcome::*;
    let outcomes = [BusinessInactive, OptedOut, Unreachable];
    for outcome in outcomes.into_iter().chain([Joined, TextBackFailed, NoResponse]) {
        for event in all_events() {
            assert_unchanged(&ended(outcome), &event, june(15, 12, 0));
        }
    }
}

// ---- within_window -------------------------------------------------------------------

fn assert_window(tz: Tz, cases: &[(At, At)]) {
    for (at, expected) in cases {
        assert_eq!(within_window(*at, tz), *expected, "{at} in {tz}");
    }
}

#[test]
fn times_from_8am_up_to_but_excluding_8pm_local_are_left_alone() {
    let cases = [(8, 0), (12, 0), (19, 59)].map(|(h, m)| (june(15, h, m), june(15, h, m)));
    assert_window(CHICAGO, &cases);
}

#[test]
fn early_morning_moves_to_8am_the_same_day_and_8pm_or_later_to_8am_the_next() {
    let cases = [
        (june(15, 0, 0), june(15, 8, 0)),
        (june(15, 7, 59), june(15, 8, 0)),
        (june(15, 20, 0), june(16, 8, 0)),
        (june(15, 23, 59), june(16, 8, 0)),
    ];
    assert_window(CHICAGO, &cases);
}

#[test]
fn the_window_follows_new_york_through_spring_forward() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 08:00 that day is 12:00 UTC.
    let eight_am = utc(2026, 3, 8, 12, 0);
    let cases = [
        (utc(2026, 3, 8, 1, 0), eight_am),   // 20:00 EST on the 7th
        (utc(2026, 3, 8, 6, 30), eight_am),  // 01:30 EST
        (utc(2026, 3, 8, 7, 30), eight_am),  // 03:30 EDT
        (utc(2026, 3, 8, 11, 59), eight_am), // 07:59 EDT
        (eight_am, eight_am),
        (utc(2026, 3, 8, 23, 59), utc(2026, 3, 8, 23, 59)), // 19:59 EDT
        (utc(2026, 3, 9, 0, 0), utc(2026, 3, 9, 12, 0)),    // 20:00 EDT
        (utc(2026, 3, 7, 12, 59), utc(2026, 3, 7, 13, 0)),  // 07:59 EST on the 7th
    ];
    assert_window(NEW_YORK, &cases);
}

#[test]
fn the_window_follows_new_york_through_fall_back() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 08:00 that day is 13:00 UTC.
    let eight_am = utc(2026, 11, 1, 13, 0);
    let cases = [
        (utc(2026, 11, 1, 0, 0), eight_am),   // 20:00 EDT on the 31st
        (utc(2026, 11, 1, 5, 30), eight_am),  // first 01:30 (EDT)
        (utc(2026, 11, 1, 6, 30), eight_am),  // second 01:30 (EST)
        (utc(2026, 11, 1, 12, 59), eight_am), // 07:59 EST
        (eight_am, eight_am),
        (utc(2026, 11, 2, 0, 59), utc(2026, 11, 2, 0, 59)), // 19:59 EST
        (utc(2026, 11, 2, 1, 0), utc(2026, 11, 2, 13, 0)),  // 20:00 EST
        (utc(2026, 10, 31, 11, 59), utc(2026, 10, 31, 12, 0)), // 07:59 EDT on the 31st
    ];
    assert_window(NEW_YORK, &cases);
}

// ---- Properties ----------------------------------------------------------------------

/// Start, Greeting, Done, and Waiting with text-backs spread over the 48 h before
/// `week`, any number of follow-ups already sent, and due times on time, at night,
/// or long overdue.
fn any_state(tz: Tz, week: At) -> Vec<State> {
    let mut states = vec![start(), greeting(new_ids()), ended(Outcome::NoResponse)];
    for tb in (0..64).map(|i| week - Duration::hours(48) + Duration::minutes(45 * i)) {
        for sent in 0..=2u8 {
            let due = tb + FOLLOW_UP_OFFSETS[usize::from(sent)];
            for next_at in [within_window(due, tz), due, tb, week - Duration::days(4)] {
                states.push(waiting(new_ids(), tb, sent, next_at));
            }
        }
    }
    states
}

/// At most three follow-ups in any rolling 24 h, numbered on from those already
/// sent, each at a local time from 08:00 up to but excluding 20:00.
fn assert_follow_ups_are_polite(state: &State, sent: &[(At, u8)], tz: Tz) {
    let already = match state {
        State::Waiting { follow_ups_sent, .. } => *follow_ups_sent,
        _ => 3,
    };
    let numbers: Vec<u8> = sent.iter().map(|(_, n)| *n).collect();
    let expected: Vec<u8> = (already + 1..=3).take(numbers.len()).collect();
    assert_eq!(numbers, expected, "{state:?} in {tz}");
    let (open, close) = (NaiveTime::MIN + Duration::hours(8), NaiveTime::MIN + Duration::hours(20));
    for (t, n) in sent {
        let day = sent.iter().filter(|(u, _)| u >= t && *u < *t + Duration::hours(24));
        assert!(day.count() <= 3, "> 3 follow-ups within 24 h of {t}: {state:?}");
        let at = t.with_timezone(&tz).time();
        assert!(at >= open && at < close, "follow-up {n} at {at} in {tz}: {state:?}");
    }
}

#[test]
fn a_week_of_half_hourly_wakes_sends_at_most_three_follow_ups_a_day_and_only_by_day() {
    use chrono_tz::America::{Chicago, Los_Angeles, New_York, Phoenix};
    for tz in [Chicago, New_York, Los_Angeles, Phoenix] {
        for (y, mo, d) in [(2026, 6, 15), (2026, 3, 5), (2026, 10, 29)] {
            for state in any_state(tz, local(tz, y, mo, d, 0, 0)) {
                let (_, sent) = tick(state.clone(), local(tz, y, mo, d, 0, 7), 7 * 48, tz);
                assert_follow_ups_are_polite(&state, &sent, tz);
            }
        }
    }
}

#[test]
fn follow_ups_sent_late_keep_their_spacing_instead_of_bursting() {
    // The worker was down for four days: follow-up 1 goes out late, and the
    // next one still waits the planned 22 hours, not seconds.
    let (ids, tb) = (new_ids(), june(15, 10, 0));
    let w = waiting(ids, tb, 0, june(15, 12, 0));
    let late = june(19, 15, 0);
    let d = step(&w, &active(), &ctx(late));
    assert_eq!(texts(&d), vec![TextKind::FollowUp { turn: 0, n: 1 }]);
    let State::Waiting { next_at, .. } = d.state else { panic!("still waiting") };
    assert!(next_at >= late + Duration::hours(22), "{next_at}");
    let again = step(&d.state, &active(), &ctx(late + Duration::seconds(2)));
    assert!(texts(&again).is_empty(), "no burst");
}
