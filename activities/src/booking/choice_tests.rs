use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

use super::*;
use crate::booking::format_offer;

const NY: Tz = chrono_tz::America::New_York;
/// Mon 2026-12-07 10:00 EST.
const MONDAY: &str = "2026-12-07T15:00:00Z";

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// "Tue 10am, Tue 2pm, Wed 9am, Thu 1:30pm" (New York, Dec 8-10 2026).
fn offered() -> Vec<Slot> {
    ["2026-12-08T15:00:00Z", "2026-12-08T19:00:00Z", "2026-12-09T14:00:00Z", "2026-12-10T18:30:00Z"]
        .iter()
        .map(|s| Slot { start: utc(s), end: utc(s) + Duration::minutes(90) })
        .collect()
}

fn pref(weekday: Option<Weekday>, date: Option<&str>, part: Option<PartOfDay>, hour: Option<u32>) -> Choice {
    Choice::Other(Preference { weekday, date: date.map(|d| d.parse().unwrap()), part_of_day: part, hour })
}

#[test]
fn the_offer_these_tests_answer() {
    assert_eq!(format_offer(&offered(), NY), "Tue 10am, Tue 2pm, Wed 9am, Thu 1:30pm");
}

#[test]
fn replies_to_an_offer_of_four() {
    use PartOfDay::*;
    let cases: Vec<(&str, Choice)> = vec![
        // By position.
        ("the 2nd one", Choice::Pick(1)),
        ("2", Choice::Pick(1)),
        ("2.", Choice::Pick(1)),
        ("#3", Choice::Pick(2)),
        ("first", Choice::Pick(0)),
        ("First one please", Choice::Pick(0)),
        ("I’ll take the 3rd", Choice::Pick(2)),
        ("the last one", Choice::Pick(3)),
        ("option 4", Choice::Pick(3)),
        ("the earliest", Choice::Pick(0)),
        // By time.
        ("tuesday at 2", Choice::Pick(1)),
        ("tue 2pm", Choice::Pick(1)),
        ("Tue 2 pm", Choice::Pick(1)),
        ("2pm works", Choice::Pick(1)),
        ("2pm 👍", Choice::Pick(1)),
        ("10 works for me", Choice::Pick(0)),
        ("Wednesday morning is good", Choice::Pick(2)),
        ("wed @ 9", Choice::Pick(2)),
        ("9", Choice::Pick(2)),
        ("Thursday at 1:30", Choice::Pick(3)),
        ("thurs 130pm", Choice::Pick(3)),
        ("tuesday morning", Choice::Pick(0)),
        ("tomorrow afternoon", Choice::Pick(1)),
        ("12/9 at 9", Choice::Pick(2)),
        ("Dec 10th", Choice::Pick(3)),
        ("can't do tuesday, wednesday works", Choice::Pick(2)),
        // A number among words is an hour when one is offered, else a position.
        ("3 works for me", Choice::Pick(2)),
        // Something else.
        ("tuesday", pref(Some(Weekday::Tue), None, None, None)),
        ("none of those, friday morning?", pref(Some(Weekday::Fri), None, Some(Morning), None)),
        ("None of those… “Friday” morning?", pref(Some(Weekday::Fri), None, Some(Morning), None)),
        ("can you do 4pm friday?", pref(Some(Weekday::Fri), None, None, Some(16))),
        ("3pm", pref(None, None, None, Some(15))),
        ("friday at 2 in the afternoon", pref(Some(Weekday::Fri), None, Some(Afternoon), Some(14))),
        ("monday at 8 in the morning", pref(Some(Weekday::Mon), None, Some(Morning), Some(8))),
        ("tonight", pref(None, Some("2026-12-07"), Some(Evening), None)),
        ("noon", pref(None, None, None, Some(12))),
        ("none of those, how about 12/11?", pref(None, Some("2026-12-11"), None, None)),
        ("something else on the 1/5", pref(None, Some("2027-01-05"), None, None)),
        // Refusals.
        ("none of those work", Choice::Decline),
        ("Neither", Choice::Decline),
        ("Those don’t work for me", Choice::Decline),
        ("no", Choice::Decline),
        ("not tuesday", Choice::Decline),
        ("nope, sorry", Choice::Decline),
        // Not enough to go on.
        ("yes", Choice::Unclear),
        ("sounds good", Choice::Unclear),
        ("what?", Choice::Unclear),
        ("", Choice::Unclear),
        ("#7", Choice::Unclear),
        ("at 25", Choice::Unclear),
        ("99999999999999999999", Choice::Unclear),
        // Odd Unicode.
        ("２", Choice::Pick(1)),
        ("ｔｕｅ　２ｐｍ", Choice::Pick(1)),
        ("🙂🙂🙂", Choice::Unclear),
    ];
    let offered = offered();
    for (text, want) in cases {
        assert_eq!(understand(text, &offered, NY, utc(MONDAY)), want, "{text:?}");
    }
}

#[test]
fn first_thing_is_not_a_position() {
    // Tuesday 10:00 EST: tomorrow is Wednesday.
    let choice = understand("first thing tomorrow morning", &offered(), NY, utc("2026-12-08T15:00:00Z"));
    assert_eq!(choice, Choice::Pick(2));
}

#[test]
fn a_lone_offer_is_taken_by_yes() {
    let one = &offered()[..1];
    for text in ["yes", "Sure", "ok", "OK!", "yeah that works", "👍", "ｙｅｓ"] {
        assert_eq!(understand(text, one, NY, utc(MONDAY)), Choice::Pick(0), "{text:?}");
    }
    assert_eq!(understand("yes", &[], NY, utc(MONDAY)), Choice::Unclear, "nothing was offered");
    assert_eq!(understand("2", one, NY, utc(MONDAY)), pref(None, None, None, Some(14)), "no second slot: 2pm");
}

#[test]
fn tomorrow_is_read_in_the_business_zone() {
    // Thu 2026-12-10 03:00 UTC is still Wednesday evening in New York: tomorrow is Thursday.
    let choice = understand("tomorrow afternoon", &offered(), NY, utc("2026-12-10T03:00:00Z"));
    assert_eq!(choice, Choice::Pick(3));
    // In Honolulu terms the same reply on Thursday morning asks for Friday.
    let hnl = chrono_tz::Pacific::Honolulu;
    let choice = understand("tomorrow afternoon", &offered(), hnl, utc("2026-12-10T19:00:00Z"));
    assert_eq!(choice, pref(None, Some("2026-12-11"), Some(PartOfDay::Afternoon), None));
}

#[test]
fn matching_finds_slots_for_another_offer() {
    let slots: Vec<Slot> = (0..5)
        .flat_map(|d| {
            [14, 17, 20].map(|h| {
                let start = utc("2026-12-07T00:00:00Z") + Duration::days(d) + Duration::hours(h);
                Slot { start, end: start + Duration::minutes(90) }
            })
        })
        .collect();
    let fri = NaiveDate::from_ymd_opt(2026, 12, 11).unwrap();
    let cases: &[(Preference, &str)] = &[
        (
            Preference { weekday: Some(Weekday::Fri), part_of_day: Some(PartOfDay::Morning), ..Default::default() },
            "Fri 9am",
        ),
        (Preference { weekday: Some(Weekday::Fri), ..Default::default() }, "Fri 9am, Fri 12pm, Fri 3pm"),
        (Preference { date: Some(fri), hour: Some(15), ..Default::default() }, "Fri 3pm"),
        (
            Preference { part_of_day: Some(PartOfDay::Afternoon), hour: Some(12), ..Default::default() },
            "Mon 12pm, Tue 12pm, Wed 12pm, Thu 12pm, Fri 12pm",
        ),
        (Preference { part_of_day: Some(PartOfDay::Evening), ..Default::default() }, ""),
        (Preference { weekday: Some(Weekday::Sat), ..Default::default() }, ""),
    ];
    for (p, want) in cases {
        assert_eq!(format_offer(&matching(p, &slots, NY), NY), *want, "{p:?}");
    }
    assert_eq!(matching(&Preference::default(), &slots, NY), slots, "an empty preference matches all");
}

#[test]
fn any_text_gets_an_answer_and_picks_stay_in_range() {
    let words = [
        "the", "2nd", "one", "#", "tue", "２", "pm", "none", "of", "those", "🙂", "“", "’", "at", "12/", "/", ":",
        "dec", "31st", "tomorrow", "morning", "no", "yes", "last", "option", "0", "00:", "\u{0}", "İ", "ß", "\u{200b}",
        "9999", "#0", "1:", "a", "p",
    ];
    let offered = offered();
    let mut seed: u64 = 42;
    for _ in 0..5_000 {
        let mut text = String::new();
        for _ in 0..(seed % 7) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            text.push_str(words[(seed >> 33) as usize % words.len()]);
            if seed.is_multiple_of(3) {
                text.push(' ');
            }
        }
        seed = seed.wrapping_add(1);
        for n in [0, 1, 4] {
            if let Choice::Pick(i) = understand(&text, &offered[..n], NY, utc(MONDAY)) {
                assert!(i < n, "{text:?} picked {i} of {n}");
            }
        }
    }
}
