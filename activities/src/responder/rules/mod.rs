//! The built-in deterministic responder: hand-written parsers fill the slots
//! (service → urgency → name → address → preferred time), flag emergencies,
//! price and bot questions and requests for a person, and ask for the next
//! missing slot, one question at a time. No network, no randomness.

mod address;
mod correct;
mod emergency;
mod name;
mod reply;
mod service;
mod signals;
mod slots;
#[cfg(test)]
mod tests;
mod text;
mod time;

use self::emergency::Hazard;
use self::reply::{Ctx, Plan};
use self::signals::Signals;
use self::slots::Work;
use super::{Language, LeadFacts, Reply, Turn, TurnInput};
use crate::keywords::{self, Keyword};

/// The qualification questions, in the order we ask them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Service,
    Urgency,
    Name,
    Address,
    Time,
}

/// Replies to the customer's new texts.
pub fn respond(input: &TurnInput) -> Reply {
    let lang = language(input);
    let mut work = Work { facts: input.known.clone(), ..Work::default() };
    let mut signals = Signals::default();
    let mut hazard = None;
    let mut opt_out = false;
    let mut asked = asked(input);
    for text in input.new_texts {
        let w = keywords::words(text);
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        signals.merge(signals::read(text, &w));
        hazard = hazard.or(emergency::hazard(&w));
        match keywords::classify(text) {
            Keyword::OptOut { .. } => opt_out = true,
            Keyword::Help | Keyword::OptIn => continue,
            Keyword::None if signals.spam => continue,
            Keyword::None => {}
        }
        if opt_out {
            continue;
        }
        slots::extract(text, asked, lang, &mut work);
        if asked.is_some_and(|s| !missing(s, &work.facts)) {
            asked = next_missing(&work.facts, input.history);
        }
    }
    let hazard = hazard.or_else(|| new_cold_danger(input));
    // "a small leak, no rush": the customer's own urgency stands unless the
    // hazard means leaving the house.
    let said_flexible = work.found.urgency.as_deref() == Some("flexible");
    let urgent = hazard.is_some_and(|h| h.evacuate() || !said_flexible);
    if urgent && work.facts.urgency.as_deref() != Some("emergency") {
        work.facts.urgency = Some("emergency".to_owned());
        work.found.urgency = Some("emergency".to_owned());
    }
    finish(input, lang, work, signals, hazard, opt_out, asked)
}

fn finish(
    input: &TurnInput,
    lang: Language,
    work: Work,
    signals: Signals,
    hazard: Option<Hazard>,
    opt_out: bool,
    asked: Option<Slot>,
) -> Reply {
    let ctx = Ctx {
        lang,
        business: input.business_name,
        phone: input.business_phone_display,
        open_now: input.open_now,
        disclose_bot: input.disclose_bot,
    };
    let announced = input.history.iter().any(|t| !t.from_customer && said_urgent(&t.body));
    let unsupported = work.found.service_category.as_deref().is_some_and(|c| !offers(input.services, c));
    let corrections = work.corrections.iter().filter_map(|f| value(&work.facts, f).map(|v| (*f, v))).collect();
    let plan = Plan {
        ctx,
        facts: &work.facts,
        was_qualified: input.known.is_qualified(),
        had_service: input.known.service_needed.is_some(),
        new_slots: new_slots(&work.found),
        corrections,
        signals,
        hazard: hazard.map(|h| (h, !announced)),
        ongoing: earlier_hazard(input.history).filter(|h| h.evacuate()),
        opt_out,
        asked,
        next: next_missing(&work.facts, input.history),
        unsupported,
    };
    let (text, human_needed) = reply::compose(&plan);
    Reply {
        text,
        qualified: work.facts.is_qualified(),
        extracted: work.found,
        corrections: work.corrections,
        emergency: hazard.is_some(),
        human_needed,
        price_question: signals.price,
        opt_out,
        bot_question: signals.bot_question,
        language: lang,
        booking: input.booking.map(|v| super::booking::read(v, input.new_texts)).unwrap_or_default(),
    }
}

fn value(f: &LeadFacts, field: &str) -> Option<String> {
    match field {
        "address" => f.address.clone(),
        "name" => f.name.clone(),
        "preferred_time" => f.preferred_time.clone(),
        _ => None,
    }
}

fn said_urgent(body: &str) -> bool {
    let f = keywords::fold(body);
    f.contains("sounds urgent") || f.contains("suena urgente")
}

/// Spanish when the customer's texts so far lean Spanish.
fn language(input: &TurnInput) -> Language {
    let earlier = input.history.iter().filter(|t| t.from_customer).map(|t| t.body.as_str());
    let (mut es, mut en) = (0, 0);
    for body in earlier.chain(input.new_texts.iter().map(String::as_str)) {
        let (s, e) = text::language_votes(&text::tokens(body));
        es += s;
        en += e;
    }
    if es > en {
        Language::Es
    } else {
        Language::En
    }
}

/// The question our last message asked, or else the first missing slot.
fn asked(input: &TurnInput) -> Option<Slot> {
    match input.history.iter().rev().find(|t| !t.from_customer) {
        Some(t) => reply::asked_slot(&t.body).or_else(|| next_missing(input.known, input.history)),
        None => next_missing(input.known, input.history),
    }
}

fn missing(slot: Slot, f: &LeadFacts) -> bool {
    match slot {
        Slot::Service => f.service_needed.is_none(),
        Slot::Urgency => matches!(f.urgency.as_deref(), None | Some("unknown")),
        Slot::Name => f.name.is_none(),
        Slot::Address => f.address.is_none(),
        Slot::Time => f.preferred_time.is_none(),
    }
}

/// The next slot to ask for; none once the lead is qualified. Urgency is
/// optional: after two unanswered asks we move on.
fn next_missing(f: &LeadFacts, history: &[Turn]) -> Option<Slot> {
    if f.is_qualified() {
        return None;
    }
    let asked_urgency =
        history.iter().filter(|t| !t.from_customer && reply::asked_slot(&t.body) == Some(Slot::Urgency)).count();
    [Slot::Service, Slot::Urgency, Slot::Name, Slot::Address, Slot::Time]
        .into_iter()
        .filter(|s| *s != Slot::Urgency || asked_urgency < 2)
        .find(|s| missing(*s, f))
}

fn new_slots(found: &LeadFacts) -> Vec<Slot> {
    let pairs = [
        (Slot::Service, found.service_needed.is_some()),
        (Slot::Urgency, found.urgency.is_some()),
        (Slot::Name, found.name.is_some()),
        (Slot::Address, found.address.is_some()),
        (Slot::Time, found.preferred_time.is_some()),
    ];
    pairs.into_iter().filter(|(_, yes)| *yes).map(|(s, _)| s).collect()
}

/// A hazard reported in an earlier customer text.
fn earlier_hazard(history: &[Turn]) -> Option<Hazard> {
    history.iter().filter(|t| t.from_customer).find_map(|t| {
        let w = keywords::words(&t.body);
        emergency::hazard(&w.iter().map(String::as_str).collect::<Vec<_>>())
    })
}

/// No heat + freezing + vulnerable people, complete only with the new texts.
fn new_cold_danger(input: &TurnInput) -> Option<Hazard> {
    let earlier: Vec<&str> = input.history.iter().filter(|t| t.from_customer).map(|t| t.body.as_str()).collect();
    let all: Vec<&str> = earlier.iter().copied().chain(input.new_texts.iter().map(String::as_str)).collect();
    let danger = |texts: &[&str]| {
        let w = keywords::words(&texts.join(" . "));
        emergency::cold_danger(&w.iter().map(String::as_str).collect::<Vec<_>>())
    };
    (danger(&all) && !danger(&earlier)).then_some(Hazard::Cold)
}

/// Whether the business lists a service of this category (an empty list
/// means it takes anything).
fn offers(services: &[String], category: &str) -> bool {
    let words: &[&str] = match category {
        "cooling" => &["ac", "a/c", "air cond", "cool", "hvac"],
        "heating" => &["heat", "furnace", "boiler", "hvac"],
        "maintenance" => &["mainten", "tune", "hvac"],
        "installation" => &["install", "replace", "new system"],
        "air_quality" => &["air quality", "duct", "purif", "iaq", "humidif"],
        "water_heater" => &["water heater", "hot water", "tankless", "plumb"],
        _ => return true,
    };
    services.is_empty()
        || services.iter().any(|s| {
            let s = s.to_lowercase();
            words.iter().any(|w| {
                s.split(|c: char| !c.is_alphanumeric() && c != '/').any(|x| x == *w) || (w.len() > 3 && s.contains(w))
            })
        })
}
