//! Structured extraction by a forced tool call: the model must call
//! `update_lead_info`, so we get JSON arguments instead of prose to parse. The
//! model "does not always generate valid JSON, and may hallucinate parameters"
//! (OpenAI's own warning), so every value is checked here: unknown enum values
//! and placeholders such as "unknown" become `None`, which [`LeadFacts::merge`]
//! never lets overwrite something we already know.

use async_openai::types::chat::{
    ChatCompletionNamedToolChoice, ChatCompletionTool, ChatCompletionToolChoiceOption, ChatCompletionTools,
    FunctionName, FunctionObject,
};
use serde::Deserialize;
use serde_json::json;

use crate::booking::choice::{self, Choice};
use crate::responder::{BookingIntent, BookingView, Language, LeadFacts};

pub(super) const TOOL_NAME: &str = "update_lead_info";

const CATEGORIES: &[&str] =
    &["cooling", "heating", "maintenance", "installation", "air_quality", "water_heater", "other"];
const URGENCIES: &[&str] = &["emergency", "soon", "flexible"];
const BOOKING_CHOICES: &[&str] = &["none", "pick", "other", "decline", "cancel", "reschedule"];
/// The `LeadFacts` fields a customer can correct, as `Reply::corrections` names them.
const FIELDS: &[&str] = &["service_needed", "service_category", "urgency", "name", "address", "preferred_time"];
/// Longer values are model rambling, not a name or an address.
const MAX_VALUE_CHARS: usize = 200;

/// What the extraction call found in the new texts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Extraction {
    pub facts: LeadFacts,
    pub corrections: Vec<&'static str>,
    pub emergency: bool,
    pub human_requested: bool,
    pub price_question: bool,
    pub opt_out: bool,
    pub bot_question: bool,
    pub language: Language,
    pub booking: BookingAnswer,
}

/// The model's reading of the customer's answer about times, unchecked
/// against what was offered until [`BookingAnswer::intent`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct BookingAnswer {
    pub choice: Option<String>,
    /// 1-based number of the offered time picked.
    pub option: Option<i64>,
    /// Another time they want, in their words.
    pub preferred: Option<String>,
}

impl BookingAnswer {
    /// What it means against the times actually offered; anything that does
    /// not fit them (an option out of range, a cancel with no appointment) is nothing.
    pub fn intent(&self, view: Option<&BookingView>) -> BookingIntent {
        let Some(view) = view else {
            return BookingIntent::None;
        };
        let preference = || {
            let said = self.preferred.as_deref()?;
            match choice::understand(said, &[], view.tz, view.now) {
                Choice::Other(p) => Some(p),
                _ => None,
            }
        };
        let offered = view.offered.len();
        match self.choice.as_deref() {
            Some("pick") => match self.option.and_then(|n| usize::try_from(n - 1).ok()) {
                Some(index) if index < offered => BookingIntent::Pick { index },
                _ => BookingIntent::None,
            },
            Some("other") if offered > 0 => {
                preference().map_or(BookingIntent::Decline, |p| BookingIntent::Other { preference: p })
            }
            Some("decline") if offered > 0 => BookingIntent::Decline,
            Some("cancel") if view.appointment.is_some() => BookingIntent::Cancel,
            Some("reschedule") if view.appointment.is_some() => BookingIntent::Reschedule { preference: preference() },
            _ => BookingIntent::None,
        }
    }
}

/// The arguments as the model sent them; everything optional and nullable.
#[derive(Debug, Deserialize)]
struct Args {
    name: Option<String>,
    service_needed: Option<String>,
    service_category: Option<String>,
    urgency: Option<String>,
    address: Option<String>,
    preferred_time: Option<String>,
    corrections: Option<Vec<String>>,
    emergency: Option<bool>,
    human_requested: Option<bool>,
    price_question: Option<bool>,
    opt_out: Option<bool>,
    bot_question: Option<bool>,
    language: Option<String>,
    booking_choice: Option<String>,
    booking_option: Option<i64>,
    booking_preferred: Option<String>,
}

/// The `update_lead_info` function, its JSON schema following seed §8 plus the
/// flags the caller acts on.
pub(super) fn tool() -> ChatCompletionTools {
    let text = |d: &str| json!({ "type": "string", "description": d });
    let flag = |d: &str| json!({ "type": "boolean", "description": d });
    let parameters = json!({
        "type": "object",
        "properties": {
            "name": text("Customer's name"),
            "service_needed": text("What HVAC service they need, in a few plain words"),
            "service_category": { "type": "string", "enum": CATEGORIES },
            "urgency": { "type": "string", "enum": ["emergency", "soon", "flexible", "unknown"] },
            "address": text("Service address"),
            "preferred_time": text("When they want service"),
            "corrections": {
                "type": "array",
                "description": "Fields whose earlier value the customer explicitly corrected",
                "items": { "type": "string", "enum": FIELDS }
            },
            "emergency": flag("A safety hazard is reported"),
            "human_requested": flag("They ask for a person or are upset"),
            "price_question": flag("They ask about price or cost"),
            "opt_out": flag("They ask us to stop texting"),
            "bot_question": flag("They sincerely ask whether they are texting a bot"),
            "language": { "type": "string", "enum": ["en", "es"] },
            "booking_choice": { "type": "string", "enum": BOOKING_CHOICES },
            "booking_option": { "type": "integer", "description": "The number of the offered time they picked" },
            "booking_preferred": text("The time they want instead, in their words")
        },
        "required": ["emergency", "human_requested", "price_question", "opt_out", "bot_question", "language"]
    });
    ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObject {
            name: TOOL_NAME.to_owned(),
            description: Some("Update lead information based on the customer's new messages".to_owned()),
            parameters: Some(parameters),
            strict: None,
        },
    })
}

/// Forces the model to call [`TOOL_NAME`] rather than answer in prose.
pub(super) fn tool_choice() -> ChatCompletionToolChoiceOption {
    ChatCompletionToolChoiceOption::Function(ChatCompletionNamedToolChoice {
        function: FunctionName { name: TOOL_NAME.to_owned() },
    })
}

/// Parses the tool call's arguments; invalid JSON is the caller's `Malformed`.
pub(super) fn parse(arguments: &str) -> Result<Extraction, serde_json::Error> {
    let args: Args = serde_json::from_str(arguments)?;
    Ok(Extraction {
        facts: LeadFacts {
            service_needed: value(args.service_needed),
            service_category: one_of(args.service_category, CATEGORIES),
            urgency: one_of(args.urgency, URGENCIES),
            name: value(args.name),
            address: value(args.address),
            preferred_time: value(args.preferred_time),
        },
        corrections: corrections(args.corrections.unwrap_or_default()),
        emergency: args.emergency.unwrap_or(false),
        human_requested: args.human_requested.unwrap_or(false),
        price_question: args.price_question.unwrap_or(false),
        opt_out: args.opt_out.unwrap_or(false),
        bot_question: args.bot_question.unwrap_or(false),
        language: language(args.language.as_deref()),
        booking: BookingAnswer {
            choice: one_of(args.booking_choice, BOOKING_CHOICES),
            option: args.booking_option,
            preferred: value(args.booking_preferred),
        },
    })
}

/// A stated value, or `None` for blanks and the placeholders models emit
/// when told to leave a field out.
fn value(v: Option<String>) -> Option<String> {
    let v = v?;
    let v = v.trim();
    let placeholder = ["", "unknown", "none", "null", "n/a", "not provided", "not specified"];
    if placeholder.contains(&v.to_lowercase().as_str()) || v.chars().count() > MAX_VALUE_CHARS {
        return None;
    }
    Some(v.to_owned())
}

fn one_of(v: Option<String>, allowed: &[&str]) -> Option<String> {
    let v = value(v)?.to_lowercase().replace([' ', '-'], "_");
    allowed.contains(&v.as_str()).then_some(v)
}

fn corrections(names: Vec<String>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for name in names {
        let name = name.trim().to_lowercase();
        if let Some(field) = FIELDS.iter().find(|f| **f == name) {
            if !out.contains(field) {
                out.push(field);
            }
        }
    }
    out
}

fn language(v: Option<&str>) -> Language {
    match v.map(|s| s.trim().to_lowercase()) {
        Some(s) if s == "es" || s.starts_with("span") || s == "español" => Language::Es,
        _ => Language::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stated_values_are_kept_and_placeholders_dropped() {
        let e = parse(
            r#"{"name":" Maria ","urgency":"unknown","service_category":"Air Quality","address":"",
                "preferred_time":null,"corrections":["address","bogus","address"],"language":"es","opt_out":true}"#,
        )
        .unwrap();
        assert_eq!(e.facts.name.as_deref(), Some("Maria"));
        assert_eq!(e.facts.urgency, None);
        assert_eq!(e.facts.service_category.as_deref(), Some("air_quality"));
        assert_eq!(e.facts.address, None);
        assert_eq!(e.corrections, vec!["address"]);
        assert_eq!(e.language, Language::Es);
        assert!(e.opt_out && !e.emergency);
    }

    #[test]
    fn invalid_enums_and_json_are_rejected() {
        assert_eq!(parse(r#"{"urgency":"asap","service_category":"plumbing"}"#).unwrap().facts, LeadFacts::default());
        assert!(parse("not json").is_err());
        assert!(parse(r#"{"emergency":"maybe"}"#).is_err());
    }
}
