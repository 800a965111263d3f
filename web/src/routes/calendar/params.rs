//! Reading the calendar API's dates and times: ISO 8601 as the seed says,
//! with a local reading (in the business's zone) when no offset is given.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use activities::domain::BusinessId;

use super::error::{invalid, CalendarResult};

/// An instant: RFC 3339 (`2026-12-08T15:00:00Z`, `…-05:00`), a local
/// date-time (`2026-12-08T10:00[:00]`) or a date (its local midnight).
pub fn instant(field: &str, raw: &str, tz: Tz) -> CalendarResult<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .or_else(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)));
    local
        .and_then(|l| tz.from_local_datetime(&l).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| invalid(format!("{field} {raw:?} is not an ISO 8601 date or time (e.g. 2026-12-08T15:00:00Z)")))
}

/// A local date: `2026-12-08`, or the business-local date of an RFC 3339 instant.
pub fn date(field: &str, raw: &str, tz: Tz) -> CalendarResult<NaiveDate> {
    let raw = raw.trim();
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d);
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&tz).date_naive())
        .map_err(|_| invalid(format!("{field} {raw:?} is not a date (YYYY-MM-DD)")))
}

/// A whole number in `range`.
pub fn number(field: &str, raw: &str, range: std::ops::RangeInclusive<i64>) -> CalendarResult<i64> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| invalid(format!("{field} must be a whole number from {} to {}", range.start(), range.end())))
}

/// The seed's `user_id`: optional; when given it must be the key's business
/// (a calendar key never reaches another business's calendar).
pub fn check_user(user_id: Option<&str>, business: BusinessId) -> CalendarResult<()> {
    match user_id.map(str::trim) {
        None | Some("") => Ok(()),
        Some(u) if u == business.to_string() => Ok(()),
        Some(_) => Err(invalid("user_id must be your business id, or left out")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_with_or_without_an_offset() {
        let ny = chrono_tz::America::New_York;
        let cases = [
            ("2026-12-08T15:00:00Z", Some("2026-12-08T15:00:00+00:00")),
            ("2026-12-08T10:00:00-05:00", Some("2026-12-08T15:00:00+00:00")),
            ("2026-12-08T10:00:00", Some("2026-12-08T15:00:00+00:00")),
            ("2026-12-08T10:00", Some("2026-12-08T15:00:00+00:00")),
            ("2026-07-08", Some("2026-07-08T04:00:00+00:00")),
            ("2026-03-08T02:30", None),
            ("tomorrow", None),
            ("2026-13-01", None),
        ];
        for (raw, want) in cases {
            assert_eq!(instant("start", raw, ny).ok().map(|t| t.to_rfc3339()), want.map(str::to_owned), "{raw}");
        }
    }

    #[test]
    fn dates_and_numbers_are_checked() {
        let ny = chrono_tz::America::New_York;
        assert_eq!(date("date", "2026-12-08", ny).unwrap().to_string(), "2026-12-08");
        assert_eq!(date("date", "2026-12-09T02:00:00Z", ny).unwrap().to_string(), "2026-12-08");
        assert!(date("date", "12/08/2026", ny).is_err());
        assert_eq!(number("duration", "90", 15..=600).unwrap(), 90);
        assert!(number("duration", "5", 15..=600).is_err());
        assert!(number("duration", "ninety", 15..=600).is_err());
        let id = BusinessId::new();
        assert!(check_user(None, id).is_ok());
        assert!(check_user(Some(&id.to_string()), id).is_ok());
        assert!(check_user(Some("someone-else"), id).is_err());
    }
}
