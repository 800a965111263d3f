//! The time zone a US caller most likely lives in, from the state Twilio
//! reports (`FromState`). States split across zones map to the zone most of
//! their people live in; when in doubt the business's zone is used instead.

use chrono_tz::Tz;

use super::Zone;

/// `"TX"` → America/Chicago. None for anything that is not a US state code.
pub fn zone_of_state(code: &str) -> Option<Zone> {
    let tz: Tz = match code.trim().to_ascii_uppercase().as_str() {
        "CT" | "DE" | "DC" | "FL" | "GA" | "IN" | "KY" | "ME" | "MD" | "MA" | "MI" | "NH" | "NJ" | "NY" | "NC"
        | "OH" | "PA" | "RI" | "SC" | "VT" | "VA" | "WV" => chrono_tz::America::New_York,
        "AL" | "AR" | "IL" | "IA" | "KS" | "LA" | "MN" | "MS" | "MO" | "NE" | "ND" | "OK" | "SD" | "TN" | "TX"
        | "WI" => chrono_tz::America::Chicago,
        "CO" | "ID" | "MT" | "NM" | "UT" | "WY" => chrono_tz::America::Denver,
        "AZ" => chrono_tz::America::Phoenix,
        "CA" | "NV" | "OR" | "WA" => chrono_tz::America::Los_Angeles,
        "AK" => chrono_tz::America::Anchorage,
        "HI" => chrono_tz::Pacific::Honolulu,
        "PR" => chrono_tz::America::Puerto_Rico,
        _ => return None,
    };
    Some(Zone(tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_map_to_their_main_zone_and_junk_to_none() {
        assert_eq!(zone_of_state("tx").map(|z| z.to_string()).as_deref(), Some("America/Chicago"));
        assert_eq!(zone_of_state(" FL ").map(|z| z.to_string()).as_deref(), Some("America/New_York"));
        assert_eq!(zone_of_state("AZ").map(|z| z.to_string()).as_deref(), Some("America/Phoenix"));
        assert!(zone_of_state("ON").is_none());
        assert!(zone_of_state("").is_none());
    }
}
