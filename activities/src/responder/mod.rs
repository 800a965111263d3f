//! Replies to a customer's texts while qualifying the lead: the types every
//! responder shares, and [`rules`], the deterministic built-in engine.
//!
//! A responder is pure: it gets what we know, the conversation so far and the
//! customer's new texts, and returns the text to send plus what it found.
//! Keywords (STOP, HELP) are handled before any responder runs (see
//! [`crate::keywords`]).

use serde::{Deserialize, Serialize};

pub mod booking;
mod engine;
pub mod openai;
pub mod rules;

pub use booking::{BookingIntent, BookingView};
pub use engine::{ReplyFuture, Responder, RulesEngine};

/// Longest reply a responder may return (two GSM-7 segments; Twilio's advice).
pub const MAX_REPLY_CHARS: usize = 320;

/// The qualification slots of a lead. `urgency` is one of emergency, soon,
/// flexible or unknown; `service_category` one of cooling, heating,
/// maintenance, installation, air_quality, water_heater or other.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, sqlx::FromRow)]
pub struct LeadFacts {
    pub service_needed: Option<String>,
    pub service_category: Option<String>,
    pub urgency: Option<String>,
    pub name: Option<String>,
    pub address: Option<String>,
    pub preferred_time: Option<String>,
}

impl LeadFacts {
    /// Overlays `newer`'s values on these (a responder's `extracted` onto `known`).
    pub fn merge(&mut self, newer: &LeadFacts) {
        let pick = |old: &mut Option<String>, new: &Option<String>| {
            if new.is_some() {
                old.clone_from(new);
            }
        };
        pick(&mut self.service_needed, &newer.service_needed);
        pick(&mut self.service_category, &newer.service_category);
        pick(&mut self.urgency, &newer.urgency);
        pick(&mut self.name, &newer.name);
        pick(&mut self.address, &newer.address);
        pick(&mut self.preferred_time, &newer.preferred_time);
    }

    /// Service, name, address and preferred time are all known.
    pub fn is_qualified(&self) -> bool {
        self.service_needed.is_some() && self.name.is_some() && self.address.is_some() && self.preferred_time.is_some()
    }
}

/// One earlier message of the conversation, either way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Turn {
    pub from_customer: bool,
    pub body: String,
}

/// Everything a responder may look at for one reply.
#[derive(Debug, Clone)]
pub struct TurnInput<'a> {
    pub business_name: &'a str,
    pub business_phone_display: &'a str,
    pub services: &'a [String],
    pub open_now: bool,
    /// Say that replies are automated when asked (never claim to be a person either way).
    pub disclose_bot: bool,
    pub known: &'a LeadFacts,
    /// Earlier messages both ways, oldest first (our text-back included).
    pub history: &'a [Turn],
    /// The customer texts received since our last reply: one, or a burst.
    pub new_texts: &'a [String],
    /// Times on offer and the customer's appointment, when booking is in play.
    pub booking: Option<&'a BookingView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Es,
}

/// A responder's answer. `extracted` holds only values found in the new texts
/// (a field's full new value: a corrected address, a service description with
/// the new details added); overlay it on `known` with [`LeadFacts::merge`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reply {
    /// GSM-normalised, at most [`MAX_REPLY_CHARS`] characters, no markers.
    pub text: String,
    pub extracted: LeadFacts,
    /// Fields the customer explicitly corrected ("address", "preferred_time", "name").
    #[serde(skip_deserializing)]
    pub corrections: Vec<&'static str>,
    /// The lead, with what was extracted, has service, name, address and time.
    pub qualified: bool,
    /// A safety hazard (gas, CO, flooding, smoke, sparks, no heat in freezing
    /// weather with vulnerable people) was reported in the new texts.
    pub emergency: bool,
    /// The owner should step in: the customer asked for a person, or asked
    /// something the responder cannot answer.
    pub human_needed: bool,
    pub price_question: bool,
    /// The new texts revoke consent in plain words; the caller should double
    /// check with [`crate::keywords::classify`] and stop texting.
    pub opt_out: bool,
    /// The customer sincerely asked whether they are talking to a bot.
    pub bot_question: bool,
    pub language: Language,
    /// What the texts mean for the times on offer or the customer's appointment.
    #[serde(default)]
    pub booking: BookingIntent,
}
