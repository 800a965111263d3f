use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::*;
use crate::booking::{format_offer, BUSINESS_DAYS, LEAD_TIME, OFFER_MAX};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn hours(json: &str) -> BusinessHours {
    serde_json::from_str(json).unwrap()
}

fn every_day(open: &str, close: &str) -> BusinessHours {
    let days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let day = format!(r#"{{"open":"{open}","close":"{close}"}}"#);
    hours(&format!("{{{}}}", days.map(|d| format!(r#""{d}":{day}"#)).join(",")))
}

/// `MM-DDTHH:MM` in UTC: what the tables compare.
fn starts(slots: &[Slot]) -> Vec<String> {
    slots.iter().map(|s| s.start.format("%m-%dT%H:%M").to_string()).collect()
}

struct Case {
    name: &'static str,
    zone: &'static str,
    hours: fn() -> BusinessHours,
    minutes: i64,
    now: &'static str,
    busy: &'static [(&'static str, &'static str)],
    days: u32,
    /// The first slot of each day, UTC.
    firsts: &'static [&'static str],
    count: usize,
}

fn weekdays() -> BusinessHours {
    BusinessHours::weekdays_8_to_5()
}

fn all_week() -> BusinessHours {
    every_day("08:00", "17:00")
}

const CASES: &[Case] = &[
    Case {
        name: "new york weekdays, 90 min: 8am..3pm each day, EST = UTC-5",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 90,
        now: "2026-12-07T11:00:00Z", // Mon 06:00 EST
        busy: &[],
        days: 3,
        firsts: &["12-07T13:00", "12-08T13:00", "12-09T13:00"],
        count: 24,
    },
    Case {
        name: "phoenix has no DST: 8am MST is 15:00Z in July",
        zone: "America/Phoenix",
        hours: weekdays,
        minutes: 60,
        now: "2026-07-13T12:00:00Z", // Mon 05:00 MST
        busy: &[],
        days: 2,
        firsts: &["07-13T15:00", "07-14T15:00"],
        count: 18,
    },
    Case {
        name: "phoenix in December: still 15:00Z",
        zone: "America/Phoenix",
        hours: weekdays,
        minutes: 60,
        now: "2026-12-07T12:00:00Z",
        busy: &[],
        days: 2,
        firsts: &["12-07T15:00", "12-08T15:00"],
        count: 18,
    },
    Case {
        name: "new york in July is EDT: 8am is 12:00Z",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 60,
        now: "2026-07-13T09:00:00Z",
        busy: &[],
        days: 1,
        firsts: &["07-13T12:00"],
        count: 9,
    },
    Case {
        name: "honolulu, UTC-10: Wednesday's last slot is Thursday in UTC",
        zone: "Pacific/Honolulu",
        hours: weekdays,
        minutes: 90,
        now: "2026-12-07T16:00:00Z", // Mon 06:00 HST
        busy: &[],
        days: 3,
        firsts: &["12-07T18:00", "12-08T18:00", "12-09T18:00"],
        count: 24,
    },
    Case {
        name: "weekends are closed: Friday, then Monday and Tuesday",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 90,
        now: "2026-12-04T11:00:00Z", // Fri 06:00 EST
        busy: &[],
        days: 3,
        firsts: &["12-04T13:00", "12-07T13:00", "12-08T13:00"],
        count: 24,
    },
    Case {
        name: "after the last slot today, today does not count",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 90,
        now: "2026-12-07T19:00:00Z", // Mon 14:00 EST: 16:00 + 90 min ends after 17:00
        busy: &[],
        days: 3,
        firsts: &["12-08T13:00", "12-09T13:00", "12-10T13:00"],
        count: 24,
    },
    Case {
        name: "a late-afternoon customer still gets today's last slot",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 90,
        now: "2026-12-07T18:00:00Z", // Mon 13:00 EST: 15:00 is exactly 2 h away
        busy: &[],
        days: 3,
        firsts: &["12-07T20:00", "12-08T13:00", "12-09T13:00"],
        count: 17,
    },
    Case {
        name: "lead time: a slot 1h59 away is out",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 60,
        now: "2026-12-07T13:01:00Z", // Mon 08:01 EST: 10:00 is 1h59 away
        busy: &[],
        days: 1,
        firsts: &["12-07T16:00"],
        count: 6,
    },
    Case {
        name: "lead time: a slot exactly 2h00 away is in",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 60,
        now: "2026-12-07T13:00:00Z", // Mon 08:00 EST
        busy: &[],
        days: 1,
        firsts: &["12-07T15:00"],
        count: 7,
    },
    Case {
        name: "no lunch break: noon is offered like any hour",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 60,
        now: "2026-12-07T11:00:00Z",
        busy: &[],
        days: 1,
        firsts: &["12-07T13:00"],
        count: 9,
    },
    Case {
        name: "a blocked lunch hour removes the slots that overlap it",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 90,
        now: "2026-12-07T11:00:00Z",
        busy: &[("2026-12-07T17:00:00Z", "2026-12-07T18:00:00Z")], // 12:00-13:00 EST
        days: 1,
        firsts: &["12-07T13:00"],
        count: 6,
    },
    Case {
        name: "a full calendar has nothing",
        zone: "America/New_York",
        hours: weekdays,
        minutes: 90,
        now: "2026-12-07T11:00:00Z",
        busy: &[("2026-12-07T00:00:00Z", "2026-12-12T00:00:00Z")],
        days: 3,
        firsts: &[],
        count: 0,
    },
    Case {
        name: "spring forward (Sun 2026-03-08): 8am is 13:00Z Saturday, 12:00Z Sunday",
        zone: "America/New_York",
        hours: all_week,
        minutes: 90,
        now: "2026-03-07T11:00:00Z", // Sat 06:00 EST
        busy: &[],
        days: 3,
        firsts: &["03-07T13:00", "03-08T12:00", "03-09T12:00"],
        count: 24,
    },
    Case {
        name: "fall back (Sun 2026-11-01): 8am is 12:00Z Saturday, 13:00Z Sunday",
        zone: "America/New_York",
        hours: all_week,
        minutes: 90,
        now: "2026-10-31T10:00:00Z", // Sat 06:00 EDT
        busy: &[],
        days: 3,
        firsts: &["10-31T12:00", "11-01T13:00", "11-02T13:00"],
        count: 24,
    },
    Case {
        name: "a business closed every day has nothing, and the search ends",
        zone: "America/New_York",
        hours: BusinessHours::default,
        minutes: 60,
        now: "2026-12-07T11:00:00Z",
        busy: &[],
        days: 3,
        firsts: &[],
        count: 0,
    },
];

#[test]
fn slots_follow_hours_zones_dst_lead_time_and_busy_times() {
    for c in CASES {
        let tz: Tz = c.zone.parse().unwrap();
        let h = (c.hours)();
        let busy: Vec<_> = c.busy.iter().map(|(s, e)| (utc(s), utc(e))).collect();
        let req = SlotRequest {
            hours: &h,
            tz,
            length: Duration::minutes(c.minutes),
            lead_time: LEAD_TIME,
            busy: &busy,
            now: utc(c.now),
            business_days: c.days,
        };
        let slots = available_slots(&req);
        assert_eq!(slots.len(), c.count, "{}: {:?}", c.name, starts(&slots));
        let mut firsts: Vec<String> = Vec::new();
        let mut last_day = None;
        for s in &slots {
            let day = s.start.with_timezone(&tz).date_naive();
            if last_day != Some(day) {
                firsts.extend(starts(&[*s]));
                last_day = Some(day);
            }
            assert_eq!(s.end - s.start, Duration::minutes(c.minutes), "{}: real elapsed length", c.name);
            assert!(s.start >= req.now + LEAD_TIME, "{}", c.name);
            assert!(!busy.iter().any(|(b, e)| s.start < *e && *b < s.end), "{}: overlaps busy", c.name);
        }
        assert_eq!(firsts, c.firsts, "{}", c.name);
        assert!(slots.windows(2).all(|w| w[0].start < w[1].start), "{}: sorted", c.name);
    }
}

#[test]
fn the_spring_forward_night_skips_the_missing_hour() {
    let h = every_day("00:00", "23:59");
    let req = SlotRequest {
        hours: &h,
        tz: chrono_tz::America::New_York,
        length: Duration::minutes(60),
        lead_time: Duration::zero(),
        busy: &[],
        now: utc("2026-03-08T05:00:00Z"), // Sun 00:00 EST
        business_days: 1,
    };
    let slots = slots_on(&req, "2026-03-08".parse().unwrap());
    // 00:00 and 01:00 EST (UTC-5), no 02:00, then 03:00 EDT (UTC-4) onwards.
    assert_eq!(starts(&slots[..4]), ["03-08T05:00", "03-08T06:00", "03-08T07:00", "03-08T08:00"]);
    assert_eq!(slots.len(), 22, "23 wall hours exist; 23:00 + 60 min ends after 23:59");
    // The 01:00 EST slot lasts one real hour: it ends at 03:00 EDT.
    assert_eq!(slots[1].end, utc("2026-03-08T07:00:00Z"));
}

#[test]
fn the_fall_back_night_takes_the_earlier_of_the_repeated_hour() {
    let h = every_day("00:00", "23:59");
    let req = SlotRequest {
        hours: &h,
        tz: chrono_tz::America::New_York,
        length: Duration::minutes(60),
        lead_time: Duration::zero(),
        busy: &[],
        now: utc("2026-11-01T04:00:00Z"), // Sun 00:00 EDT
        business_days: 1,
    };
    let slots = slots_on(&req, "2026-11-01".parse().unwrap());
    // 00:00 EDT, 01:00 EDT (the first 01:00), then 02:00 EST = 07:00Z.
    assert_eq!(starts(&slots[..3]), ["11-01T04:00", "11-01T05:00", "11-01T07:00"]);
    assert_eq!(slots.len(), 23);
}

#[test]
fn the_grid_counts_from_opening_time() {
    let h = hours(r#"{"monday":{"open":"07:30","close":"12:00"}}"#);
    let req = SlotRequest {
        hours: &h,
        tz: chrono_tz::America::Chicago,
        length: Duration::minutes(60),
        lead_time: LEAD_TIME,
        busy: &[],
        now: utc("2026-12-07T06:00:00Z"),
        business_days: 1,
    };
    let tz = req.tz;
    assert_eq!(format_offer(&available_slots(&req), tz), "Mon 7:30am, Mon 8:30am, Mon 9:30am, Mon 10:30am");
}

#[test]
fn an_appointment_ending_as_a_slot_starts_does_not_block_it() {
    let h = weekdays();
    let busy = [(utc("2026-12-07T13:00:00Z"), utc("2026-12-07T15:00:00Z"))]; // 8-10am EST
    let req = SlotRequest {
        hours: &h,
        tz: chrono_tz::America::New_York,
        length: Duration::minutes(60),
        lead_time: LEAD_TIME,
        busy: &busy,
        now: utc("2026-12-07T06:00:00Z"),
        business_days: 1,
    };
    assert_eq!(starts(&available_slots(&req))[0], "12-07T15:00");
}

fn ny_slots(now: &str, minutes: i64) -> Vec<Slot> {
    let h = weekdays();
    available_slots(&SlotRequest {
        hours: &h,
        tz: chrono_tz::America::New_York,
        length: Duration::minutes(minutes),
        lead_time: LEAD_TIME,
        busy: &[],
        now: utc(now),
        business_days: BUSINESS_DAYS,
    })
}

#[test]
fn offers_spread_over_days_and_times_of_day() {
    let ny = chrono_tz::America::New_York;
    let at = |s: &str| {
        let start = utc(s);
        Slot { start, end: start + Duration::minutes(90) }
    };
    let cases: &[(&str, Vec<Slot>, usize, &str)] = &[
        (
            "three open days: morning, afternoon, morning, then the first day's afternoon",
            ny_slots("2026-12-07T11:00:00Z", 90),
            OFFER_MAX,
            "Mon 8am, Mon 12pm, Tue 12pm, Wed 8am",
        ),
        (
            "a customer at 9am: today starts at 11am",
            ny_slots("2026-12-07T14:00:00Z", 90),
            OFFER_MAX,
            "Mon 11am, Mon 1pm, Tue 12pm, Wed 8am",
        ),
        (
            "one day only: well apart through the day",
            ny_slots("2026-12-07T11:00:00Z", 90).into_iter().take(8).collect(),
            OFFER_MAX,
            "Mon 8am, Mon 10am, Mon 12pm, Mon 2pm",
        ),
        (
            "neighbouring hours only when nothing else is left",
            vec![at("2026-12-07T14:00:00Z"), at("2026-12-07T15:00:00Z"), at("2026-12-08T14:00:00Z")],
            2,
            "Mon 9am, Tue 9am",
        ),
        (
            "…and then they may be offered",
            vec![at("2026-12-07T14:00:00Z"), at("2026-12-07T15:00:00Z"), at("2026-12-08T14:00:00Z")],
            3,
            "Mon 9am, Mon 10am, Tue 9am",
        ),
        (
            "an afternoon beats a neighbouring hour",
            vec![
                at("2026-12-07T15:00:00Z"),
                at("2026-12-07T14:00:00Z"),
                at("2026-12-07T19:00:00Z"),
                at("2026-12-08T14:00:00Z"),
            ],
            3,
            "Mon 9am, Mon 2pm, Tue 9am",
        ),
        ("fewer slots than asked: all of them", vec![at("2026-12-08T14:00:00Z")], OFFER_MAX, "Tue 9am"),
        ("nothing to offer", vec![], OFFER_MAX, ""),
        ("max 0", ny_slots("2026-12-07T11:00:00Z", 90), 0, ""),
    ];
    for (name, slots, max, want) in cases {
        let offered = offer(slots, ny, *max);
        assert_eq!(format_offer(&offered, ny), *want, "{name}");
        assert!(offered.windows(2).all(|w| w[0].start < w[1].start), "{name}: sorted");
        assert!(offered.iter().all(|o| slots.contains(o)), "{name}: only real slots");
        let mut reversed = slots.clone();
        reversed.reverse();
        assert_eq!(offer(&reversed, ny, *max), offered, "{name}: deterministic whatever the input order");
    }
}
