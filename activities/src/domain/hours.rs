//! Weekly opening hours, read in the business's own time zone.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// One day's opening; `close` after `open` (no overnight shifts in the seed's model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHours {
    #[serde(with = "hhmm")]
    pub open: NaiveTime,
    #[serde(with = "hhmm")]
    pub close: NaiveTime,
}

/// `{"monday": {"open": "08:00", "close": "17:00"}, "saturday": null, …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessHours(BTreeMap<String, Option<DayHours>>);

impl BusinessHours {
    /// Monday to Friday, 08:00–17:00: the seed's default.
    pub fn weekdays_8_to_5() -> Self {
        let day = DayHours {
            open: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            close: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
        };
        let mut map = BTreeMap::new();
        for d in ["monday", "tuesday", "wednesday", "thursday", "friday"] {
            map.insert(d.to_owned(), Some(day));
        }
        map.insert("saturday".into(), None);
        map.insert("sunday".into(), None);
        Self(map)
    }

    pub fn day(&self, weekday: Weekday) -> Option<DayHours> {
        self.0.get(day_name(weekday)).copied().flatten()
    }

    /// Whether the business is open at `at`, judged on its local wall clock.
    /// A day that closes at 23:59 is open until midnight: it is how people
    /// write "open all day" in an `HH:MM` field.
    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        match self.day(local.weekday()) {
            Some(h) => {
                let t = local.time();
                let until_midnight = h.close == NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN);
                t >= h.open && (t < h.close || until_midnight)
            }
            None => false,
        }
    }
}

fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        NaiveTime::parse_from_str(&raw, "%H:%M").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn open_hours_follow_the_local_clock_not_utc() {
        let h = BusinessHours::weekdays_8_to_5();
        let tz: Tz = "America/Chicago".parse().unwrap();
        // Tue 2026-12-01 14:30 UTC = 08:30 CST: open.
        assert!(h.is_open(Utc.with_ymd_and_hms(2026, 12, 1, 14, 30, 0).unwrap(), tz));
        // Tue 13:30 UTC = 07:30 CST: closed.
        assert!(!h.is_open(Utc.with_ymd_and_hms(2026, 12, 1, 13, 30, 0).unwrap(), tz));
        // Tue 23:30 UTC = 17:30 CST: closed.
        assert!(!h.is_open(Utc.with_ymd_and_hms(2026, 12, 1, 23, 30, 0).unwrap(), tz));
        // Saturday noon local: closed.
        assert!(!h.is_open(Utc.with_ymd_and_hms(2026, 12, 5, 18, 0, 0).unwrap(), tz));
    }

    #[test]
    fn a_day_closing_at_23_59_is_open_through_the_last_minute() {
        let h: BusinessHours = serde_json::from_str(r#"{"tuesday":{"open":"00:00","close":"23:59"}}"#).unwrap();
        let tz: Tz = "America/Chicago".parse().unwrap();
        let at = |s: &str| {
            let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
            tz.from_local_datetime(&naive).unwrap().with_timezone(&Utc)
        };
        assert!(h.is_open(at("2026-12-01 00:00:00"), tz));
        assert!(h.is_open(at("2026-12-01 23:59:30"), tz), "the last minute of an all-day opening");
        assert!(!h.is_open(at("2026-12-02 00:00:00"), tz), "Wednesday is closed");
        let short: BusinessHours = serde_json::from_str(r#"{"tuesday":{"open":"08:00","close":"17:00"}}"#).unwrap();
        assert!(!short.is_open(at("2026-12-01 17:00:00"), tz), "other closing times are exclusive");
    }

    #[test]
    fn parses_the_seed_json_shape() {
        let h: BusinessHours =
            serde_json::from_str(r#"{"monday":{"open":"07:30","close":"18:00"},"sunday":null}"#).unwrap();
        assert_eq!(h.day(Weekday::Mon).unwrap().open, NaiveTime::from_hms_opt(7, 30, 0).unwrap());
        assert!(h.day(Weekday::Sun).is_none());
        assert!(h.day(Weekday::Tue).is_none());
    }
}
