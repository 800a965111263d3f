//! Slot filling from one customer text, given the question we last asked.

use super::text::{norms, tokens, Tok};
use super::{address, correct, emergency, name, service, time, Slot};
use crate::responder::{Language, LeadFacts};

/// What we know so far (`facts`), what this turn found (`found`) and the
/// fields the customer corrected.
#[derive(Debug, Default)]
pub struct Work {
    pub facts: LeadFacts,
    pub found: LeadFacts,
    pub corrections: Vec<&'static str>,
}

impl Work {
    /// Sets a field (a no-op if unchanged); with a correction word and an
    /// earlier value, the field is listed as corrected.
    fn set(&mut self, field: &'static str, value: String, marker: bool) {
        let (fact, found) = match field {
            "address" => (&mut self.facts.address, &mut self.found.address),
            "name" => (&mut self.facts.name, &mut self.found.name),
            "preferred_time" => (&mut self.facts.preferred_time, &mut self.found.preferred_time),
            "urgency" => (&mut self.facts.urgency, &mut self.found.urgency),
            _ => return,
        };
        if fact.as_deref() == Some(value.as_str()) {
            return;
        }
        let corrected = marker && fact.is_some();
        *fact = Some(value.clone());
        *found = Some(value);
        if corrected && !self.corrections.contains(&field) {
            self.corrections.push(field);
        }
    }

    fn set_service(&mut self, text: String, category: &'static str) {
        self.facts.service_needed = Some(text.clone());
        self.found.service_needed = Some(text);
        if self.facts.service_category.as_deref() != Some(category) {
            self.facts.service_category = Some(category.to_owned());
            self.found.service_category = Some(category.to_owned());
        }
    }
}

/// Reads one text into `work`.
pub fn extract(text: &str, asked: Option<Slot>, lang: Language, work: &mut Work) {
    let toks = tokens(text);
    let mut used = vec![false; toks.len()];
    let marker = correct::marker(&toks);
    let mut fixed = Vec::new();
    for (field, value) in correct::corrections(text, &toks, &work.facts) {
        work.set(field, value, true);
        if !work.corrections.contains(&field) {
            work.corrections.push(field);
        }
        fixed.push(field);
    }
    address_and_name(text, &toks, asked, marker, &fixed, &mut used, work);
    let w = norms(&toks);
    if let Some(u) = emergency::urgency(&w, asked == Some(Slot::Urgency)) {
        let unknown = matches!(work.facts.urgency.as_deref(), None | Some("unknown"));
        if unknown || asked == Some(Slot::Urgency) || u == "emergency" {
            work.set("urgency", u.to_owned(), false);
        }
    }
    if !fixed.contains(&"preferred_time") {
        let mode = match asked {
            Some(Slot::Time) => time::Mode::Asked,
            Some(Slot::Urgency) => time::Mode::Urgency,
            _ => time::Mode::Other,
        };
        if let Some(t) = time::extract(text, &toks, mode) {
            work.set("preferred_time", t, marker);
        }
    }
    let hazard = emergency::hazard(&w).is_some();
    service_from(text, &toks, &used, asked, lang, hazard, work);
}

/// Address first (its words are then off limits), then the name.
fn address_and_name(
    text: &str,
    toks: &[Tok],
    asked: Option<Slot>,
    marker: bool,
    fixed: &[&str],
    used: &mut [bool],
    work: &mut Work,
) {
    let asked_address = asked == Some(Slot::Address);
    let city_first = asked_address && work.facts.name.is_some();
    let addr = address::extract(text, toks, asked_address, city_first);
    if let Some(a) = &addr {
        used.iter_mut().take(a.last + 1).skip(a.first).for_each(|u| *u = true);
        if !fixed.contains(&"address") {
            work.set("address", a.value.clone(), marker);
        }
    }
    let asked_name = asked == Some(Slot::Name);
    let mut name = name::introduced(text, toks, asked_name).map(|(n, a, b)| {
        used.iter_mut().take(b + 1).skip(a).for_each(|u| *u = true);
        n
    });
    if name.is_none() && work.facts.name.is_none() {
        if let Some(a) = &addr {
            name = name::before(text, toks, a.first, asked_name).map(|(n, s, e)| {
                used.iter_mut().take(e + 1).skip(s).for_each(|u| *u = true);
                n
            });
        }
    }
    if name.is_none() && addr.is_none() && (asked_name || work.facts.name.is_none()) {
        let single_ok = !matches!(asked, Some(Slot::Service | Slot::Address));
        name = name::bare(text, toks).filter(|_| asked_name || name::formal(text, single_ok));
        if name.is_some() {
            used.iter_mut().for_each(|u| *u = true);
        }
    }
    if let Some(n) = name.filter(|_| !fixed.contains(&"name")) {
        work.set("name", n, marker);
    }
}

/// The service description; a reported hazard is the service when nothing
/// else describes it ("co alarm going off").
fn service_from(
    text: &str,
    toks: &[Tok],
    used: &[bool],
    asked: Option<Slot>,
    lang: Language,
    hazard: bool,
    work: &mut Work,
) {
    let open_question = matches!(asked, None | Some(Slot::Service));
    match work.facts.service_needed.clone() {
        None => {
            let desc = service::describe(text, toks, used, open_question || hazard);
            let desc = desc.or_else(|| hazard.then(|| service::shorten(text.trim(), 120)));
            let Some(desc) = desc else { return };
            let (text, category) = match lang {
                Language::Es => {
                    let w = crate::keywords::words(&desc);
                    let w: Vec<&str> = w.iter().map(String::as_str).collect();
                    (format!("{} ({desc})", service::english(&w)), service::category(&w))
                }
                Language::En => (desc.clone(), category_of(&desc)),
            };
            work.set_service(text, category);
        }
        Some(old) if lang == Language::En => {
            let loose = open_question || asked == Some(Slot::Urgency);
            let Some(more) = service::elaboration(text, toks, used, loose) else { return };
            if old.contains(&more) {
                return;
            }
            let joined = service::shorten(&format!("{old}, {more}"), 160);
            let category = category_of(&joined);
            work.set_service(joined, category);
        }
        Some(_) => {}
    }
}

fn category_of(text: &str) -> &'static str {
    let w = crate::keywords::words(text);
    service::category(&w.iter().map(String::as_str).collect::<Vec<_>>())
}
