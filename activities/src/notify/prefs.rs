//! The owner's notification preferences and quiet hours.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// `businesses.notification_prefs`, typed. Missing or unreadable fields take
/// the defaults (SMS and email on, quiet 21:00-07:00): a typo in the JSON must
/// never silence an owner's alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationPrefs {
    pub sms: bool,
    pub email: bool,
    pub quiet_start: NaiveTime,
    pub quiet_end: NaiveTime,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs { sms: true, email: true, quiet_start: hm(21, 0), quiet_end: hm(7, 0) }
    }
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl NotificationPrefs {
    pub fn from_json(v: &Value) -> Self {
        let d = Self::default();
        let flag = |k: &str, default: bool| v.get(k).and_then(Value::as_bool).unwrap_or(default);
        let time =
            |k: &str, default: NaiveTime| v.get(k).and_then(Value::as_str).and_then(parse_time).unwrap_or(default);
        NotificationPrefs {
            sms: flag("sms", d.sms),
            email: flag("email", d.email),
            quiet_start: time("quiet_start", d.quiet_start),
            quiet_end: time("quiet_end", d.quiet_end),
        }
    }

    /// The JSONB shape the column stores.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "sms": self.sms,
            "email": self.email,
            "quiet_start": self.quiet_start.format("%H:%M").to_string(),
            "quiet_end": self.quiet_end.format("%H:%M").to_string(),
        })
    }

    /// Whether a local wall-clock time falls in quiet hours. The window may
    /// wrap midnight (21:00-07:00) or not (13:00-14:00); equal ends = none.
    pub fn is_quiet(&self, t: NaiveTime) -> bool {
        let (start, end) = (self.quiet_start, self.quiet_end);
        if start < end {
            t >= start && t < end
        } else if start > end {
            t >= start || t < end
        } else {
            false
        }
    }
}

/// `HH:MM` or `HH:MM:SS`.
fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M").or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S")).ok()
}

/// When a notification may go out: now if it is urgent or outside quiet
/// hours, else when quiet hours next end, in the business's zone.
pub fn release_at(prefs: &NotificationPrefs, tz: Tz, now: DateTime<Utc>, urgent: bool) -> DateTime<Utc> {
    let local = now.with_timezone(&tz);
    let t = local.time();
    if urgent || !prefs.is_quiet(t) {
        return now;
    }
    // Quiet now: the end is today if we are before it, else tomorrow.
    let today = local.date_naive();
    let end_day = if t < prefs.quiet_end { today } else { today + Duration::days(1) };
    local_instant(tz, end_day, prefs.quiet_end).max(now)
}

/// The instant a local wall-clock time happens on a date. An ambiguous time
/// (clocks going back) takes its first occurrence; a skipped one (clocks
/// going forward) the first valid time after it.
pub fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut at = date.and_time(time);
    for _ in 0..(4 * 24) {
        if let Some(t) = tz.from_local_datetime(&at).earliest() {
            return t.with_timezone(&Utc);
        }
        at += Duration::minutes(15);
    }
    // No zone skips a whole day; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn local(tz: Tz, s: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&naive).earliest().unwrap().with_timezone(&Utc)
    }

    const CHICAGO: Tz = chrono_tz::America::Chicago;

    #[test]
    fn prefs_default_when_missing_or_unreadable() {
        assert_eq!(NotificationPrefs::from_json(&json!({})), NotificationPrefs::default());
        let p = NotificationPrefs::from_json(&json!({"sms": false, "quiet_start": "25:99", "quiet_end": 7}));
        assert!(!p.sms && p.email);
        assert_eq!((p.quiet_start, p.quiet_end), (hm(21, 0), hm(7, 0)));
        let p = NotificationPrefs::from_json(&json!({"email": false, "quiet_start": "22:30", "quiet_end": "06:15:00"}));
        assert_eq!((p.sms, p.email, p.quiet_start, p.quiet_end), (true, false, hm(22, 30), hm(6, 15)));
        assert_eq!(NotificationPrefs::from_json(&p.to_json()), p);
        let column_default = json!({"sms": true, "email": true, "quiet_start": "21:00", "quiet_end": "07:00"});
        assert_eq!(NotificationPrefs::default().to_json(), column_default);
    }

    #[test]
    fn release_at_table_with_the_default_window() {
        let p = NotificationPrefs::default();
        // (local now, urgent, expected local release)
        let cases = [
            ("2026-12-01 22:30", false, "2026-12-02 07:00"),
            ("2026-12-01 21:00", false, "2026-12-02 07:00"),
            ("2026-12-02 00:10", false, "2026-12-02 07:00"),
            ("2026-12-02 06:59", false, "2026-12-02 07:00"),
            ("2026-12-02 07:00", false, "2026-12-02 07:00"),
            ("2026-12-02 12:00", false, "2026-12-02 12:00"),
            ("2026-12-02 20:59", false, "2026-12-02 20:59"),
            ("2026-12-01 22:30", true, "2026-12-01 22:30"),
            ("2026-12-02 03:00", true, "2026-12-02 03:00"),
        ];
        for (now, urgent, want) in cases {
            let got = release_at(&p, CHICAGO, local(CHICAGO, now), urgent);
            assert_eq!(got, local(CHICAGO, want), "now {now} urgent {urgent}");
        }
    }

    #[test]
    fn a_window_that_does_not_wrap_midnight() {
        let p = NotificationPrefs { quiet_start: hm(13, 0), quiet_end: hm(14, 0), ..Default::default() };
        let cases = [
            ("2026-12-01 12:59", "2026-12-01 12:59"),
            ("2026-12-01 13:00", "2026-12-01 14:00"),
            ("2026-12-01 13:45", "2026-12-01 14:00"),
            ("2026-12-01 14:00", "2026-12-01 14:00"),
            ("2026-12-01 23:30", "2026-12-01 23:30"),
        ];
        for (now, want) in cases {
            assert_eq!(release_at(&p, CHICAGO, local(CHICAGO, now), false), local(CHICAGO, want), "{now}");
        }
        let none = NotificationPrefs { quiet_start: hm(9, 0), quiet_end: hm(9, 0), ..Default::default() };
        let t = local(CHICAGO, "2026-12-01 09:30");
        assert_eq!(release_at(&none, CHICAGO, t, false), t, "equal ends mean no quiet hours");
    }

    #[test]
    fn phoenix_keeps_standard_time_all_year() {
        let p = NotificationPrefs::default();
        let tz = chrono_tz::America::Phoenix;
        // 22:30 MST = 05:30 UTC; 07:00 MST = 14:00 UTC, in summer as in winter.
        assert_eq!(release_at(&p, tz, utc("2026-07-02T05:30:00Z"), false), utc("2026-07-02T14:00:00Z"));
        assert_eq!(release_at(&p, tz, utc("2026-01-02T05:30:00Z"), false), utc("2026-01-02T14:00:00Z"));
    }

    #[test]
    fn new_york_dst_nights_end_at_local_seven() {
        let p = NotificationPrefs::default();
        let tz = chrono_tz::America::New_York;
        // Spring forward (2026-03-08 02:00 EST -> 03:00 EDT): 22:30 EST on the 7th
        // is 03:30 UTC; 07:00 EDT is 11:00 UTC, a 7.5 h night.
        assert_eq!(release_at(&p, tz, utc("2026-03-08T03:30:00Z"), false), utc("2026-03-08T11:00:00Z"));
        // Fall back (2026-11-01 02:00 EDT -> 01:00 EST): 22:30 EDT on Oct 31 is
        // 02:30 UTC; 07:00 EST is 12:00 UTC, a 9.5 h night.
        assert_eq!(release_at(&p, tz, utc("2026-11-01T02:30:00Z"), false), utc("2026-11-01T12:00:00Z"));
    }

    #[test]
    fn a_quiet_end_inside_the_spring_gap_moves_to_the_first_valid_time() {
        let p = NotificationPrefs { quiet_start: hm(23, 0), quiet_end: hm(2, 30), ..Default::default() };
        let tz = chrono_tz::America::New_York;
        // 23:30 EST on Mar 7 = 04:30 UTC; 02:30 does not exist on Mar 8, 03:00 EDT = 07:00 UTC.
        assert_eq!(release_at(&p, tz, utc("2026-03-08T04:30:00Z"), false), utc("2026-03-08T07:00:00Z"));
    }
}
