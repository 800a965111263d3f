//! Booking as the responders see it: the times on offer and the customer's
//! appointment going in, what the customer meant coming out. The rules
//! engine reads it with [`read`]; the model answers it in its extraction.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::booking::choice::{self, Choice, Preference};
use crate::booking::Slot;
use crate::keywords;

/// What a responder is told about booking for one reply.
#[derive(Debug, Clone)]
pub struct BookingView {
    /// The times we offered last, in the order shown (empty when none are open).
    pub offered: Vec<Slot>,
    /// The business's zone: offered times are read and written in it.
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// The customer's upcoming appointment, formatted ("Tue Dec 8 at 10am").
    pub appointment: Option<String>,
}

/// What the customer's new texts mean for booking.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BookingIntent {
    /// Nothing about booking (or nothing we could read).
    #[default]
    None,
    /// One of the offered times, by its index in `offered`.
    Pick { index: usize },
    /// None of those; another time instead ("friday morning?").
    Other { preference: Preference },
    /// None of those, and no other time given.
    Decline,
    /// Cancel the upcoming appointment.
    Cancel,
    /// Move the upcoming appointment, perhaps to a stated time.
    Reschedule { preference: Option<Preference> },
}

/// The rules engine's reading of the customer's texts.
pub fn read(view: &BookingView, texts: &[String]) -> BookingIntent {
    let text = texts.join(". ");
    let words = keywords::words(&text);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    if view.appointment.is_some() {
        if wants_cancel(&words) {
            return BookingIntent::Cancel;
        }
        if view.offered.is_empty() {
            if !wants_move(&words) {
                return BookingIntent::None;
            }
            let preference = match choice::understand(&text, &[], view.tz, view.now) {
                Choice::Other(p) => Some(p),
                _ => None,
            };
            return BookingIntent::Reschedule { preference };
        }
    }
    if view.offered.is_empty() {
        return BookingIntent::None;
    }
    match choice::understand(&text, &view.offered, view.tz, view.now) {
        Choice::Pick(index) => BookingIntent::Pick { index },
        Choice::Other(preference) => BookingIntent::Other { preference },
        Choice::Decline => BookingIntent::Decline,
        Choice::Unclear => BookingIntent::None,
    }
}

/// "I need to cancel my appointment", "please cancel the visit". A text that
/// is only a keyword never gets here: it was an opt-out at the webhook.
fn wants_cancel(words: &[&str]) -> bool {
    let has = |w: &str| words.contains(&w);
    has("cancel") || has("cancelling") || has("canceling") || (has("call") && has("off"))
}

/// "Can we reschedule?", "need to move it to thursday", "a different time".
fn wants_move(words: &[&str]) -> bool {
    let has = |w: &str| words.contains(&w);
    has("reschedule")
        || has("move")
        || has("change")
        || has("different")
        || has("another")
        || has("instead")
        || has("push")
        || has("postpone")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn view(offered: usize, appointment: bool) -> BookingView {
        let tz = chrono_tz::America::New_York;
        // Monday 2026-12-07 09:00 local; slots Tue 10am, Tue 2pm, Wed 9am, Thu 1pm.
        let now = tz.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).single().map(|d| d.with_timezone(&Utc));
        let at = |d, h| tz.with_ymd_and_hms(2026, 12, d, h, 0, 0).single().map(|d| d.with_timezone(&Utc));
        let slots: Vec<Slot> = [(8, 10), (8, 14), (9, 9), (10, 13)]
            .into_iter()
            .filter_map(|(d, h)| at(d, h).map(|start| Slot { start, end: start + chrono::Duration::minutes(90) }))
            .take(offered)
            .collect();
        BookingView {
            offered: slots,
            tz,
            now: now.unwrap_or_default(),
            appointment: appointment.then(|| "Tue Dec 8 at 10am".to_owned()),
        }
    }

    fn read1(v: &BookingView, text: &str) -> BookingIntent {
        read(v, &[text.to_owned()])
    }

    #[test]
    fn picks_among_the_offered_times() {
        let v = view(4, false);
        assert_eq!(read1(&v, "the 2nd one"), BookingIntent::Pick { index: 1 });
        assert_eq!(read1(&v, "tuesday at 2"), BookingIntent::Pick { index: 1 });
        assert_eq!(read1(&v, "2pm works"), BookingIntent::Pick { index: 1 });
        assert!(matches!(read1(&v, "none of those, friday morning?"), BookingIntent::Other { .. }));
    }

    #[test]
    fn nothing_on_offer_means_no_intent() {
        let v = view(0, false);
        assert_eq!(read1(&v, "the 2nd one"), BookingIntent::None);
        assert_eq!(read1(&v, "cancel my appointment"), BookingIntent::None);
    }

    #[test]
    fn a_booked_customer_can_cancel_or_move() {
        let v = view(0, true);
        assert_eq!(read1(&v, "I need to cancel my appointment"), BookingIntent::Cancel);
        assert!(matches!(read1(&v, "can we reschedule to friday morning?"), BookingIntent::Reschedule { .. }));
        assert_eq!(read1(&v, "thanks, see you then"), BookingIntent::None);
    }
}
