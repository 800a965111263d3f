//! Slots worded for SMS, in the business's zone: short, and the way people
//! write times ("Tue 10am", "Thu 1:30pm").

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Weekday};
use chrono_tz::Tz;

use super::Slot;

/// `"Tue 10am, Tue 2pm, Wed 9am, Thu 1:30pm"`. Should two slots fall on the
/// same weekday of different weeks, every slot names its date
/// (`"Tue Dec 8 10am, Tue Dec 15 9am"`) so none is ambiguous.
pub fn format_offer(slots: &[Slot], tz: Tz) -> String {
    let locals: Vec<DateTime<Tz>> = slots.iter().map(|s| s.start.with_timezone(&tz)).collect();
    let dated = weekday_repeats(&locals);
    locals
        .iter()
        .map(|t| {
            if dated {
                format!("{} {}", t.format("%a %b %-d"), clock(t))
            } else {
                format!("{} {}", t.format("%a"), clock(t))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"Tue Dec 8 at 10am"`, for confirmations.
pub fn format_slot(slot: &Slot, tz: Tz) -> String {
    let t = slot.start.with_timezone(&tz);
    format!("{} at {}", t.format("%a %b %-d"), clock(&t))
}

/// `10am`, `1:30pm`, `12pm` (noon), `12am` (midnight).
pub(crate) fn clock(t: &DateTime<Tz>) -> String {
    let (pm, hour) = t.hour12();
    let suffix = if pm { "pm" } else { "am" };
    match t.minute() {
        0 => format!("{hour}{suffix}"),
        m => format!("{hour}:{m:02}{suffix}"),
    }
}

fn weekday_repeats(locals: &[DateTime<Tz>]) -> bool {
    let mut seen: HashMap<Weekday, NaiveDate> = HashMap::new();
    locals.iter().any(|t| *seen.entry(t.weekday()).or_insert_with(|| t.date_naive()) != t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Slot {
        let start = tz.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().with_timezone(&Utc);
        Slot { start, end: start + chrono::Duration::minutes(90) }
    }

    #[test]
    fn offers_read_like_a_person_wrote_them() {
        let ny = chrono_tz::America::New_York;
        // (day of December, hour, minute) for each slot, and the wording.
        type Case<'a> = (&'a [(u32, u32, u32)], &'a str);
        let cases: &[Case] = &[
            (&[(8, 10, 0), (8, 14, 0), (9, 9, 0), (10, 13, 30)], "Tue 10am, Tue 2pm, Wed 9am, Thu 1:30pm"),
            (&[(8, 12, 0)], "Tue 12pm"),
            (&[(8, 0, 0), (8, 23, 45)], "Tue 12am, Tue 11:45pm"),
            (&[(8, 10, 0), (15, 9, 0)], "Tue Dec 8 10am, Tue Dec 15 9am"),
            (&[], ""),
        ];
        for (slots, want) in cases {
            let slots: Vec<Slot> = slots.iter().map(|(d, h, m)| at(ny, 2026, 12, *d, *h, *m)).collect();
            assert_eq!(format_offer(&slots, ny), *want);
        }
    }

    #[test]
    fn a_slot_is_confirmed_with_its_date_in_the_business_zone() {
        let ny = chrono_tz::America::New_York;
        assert_eq!(format_slot(&at(ny, 2026, 12, 8, 10, 0), ny), "Tue Dec 8 at 10am");
        assert_eq!(format_slot(&at(ny, 2026, 3, 9, 13, 30), ny), "Mon Mar 9 at 1:30pm");
        // The same instant, worded for Honolulu.
        let hnl = chrono_tz::Pacific::Honolulu;
        assert_eq!(format_slot(&at(ny, 2026, 12, 8, 10, 0), hnl), "Tue Dec 8 at 5am");
    }
}
