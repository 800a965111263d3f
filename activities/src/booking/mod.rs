//! Booking, without a database: which appointment slots are open, which few
//! to offer by SMS and how to word them, and what the customer picked.
//!
//! The store (`store::appointments`) supplies the busy intervals and keeps
//! double bookings out; everything here is pure and takes the clock as `now`.

pub mod choice;
pub mod format;
pub mod slots;
mod text;

pub use choice::{matching, understand, Choice, PartOfDay, Preference};
pub use format::{format_offer, format_slot};
pub use slots::{available_slots, booking_days, offer, slots_on, Slot, SlotRequest};

/// No slot starts sooner than this after the customer asks (issue 4).
pub const LEAD_TIME: chrono::Duration = chrono::Duration::hours(2);

/// Slots are looked for over this many days on which the business opens.
pub const BUSINESS_DAYS: u32 = 3;

/// At most this many slots go into one SMS offer.
pub const OFFER_MAX: usize = 4;
