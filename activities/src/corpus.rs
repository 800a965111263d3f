//! The labelled conversation corpus (`tests/corpus/*.jsonl`, format in
//! shared/corpus/README.md) and the one lenient scorer that both the
//! responder test and `callrecover eval` judge leads with.

use serde::Deserialize;

use crate::keywords::words;

/// One labelled conversation: the customer's texts and the lead it should yield.
#[derive(Debug, Clone, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub turns: Vec<String>,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Expect {
    pub service_needed: Option<String>,
    pub service_category: String,
    pub urgency: String,
    pub name: Option<String>,
    pub address: Option<String>,
    pub preferred_time: Option<String>,
    pub emergency: bool,
    pub opt_out_at_turn: Option<usize>,
    pub help_at_turn: Option<usize>,
    #[serde(default)]
    pub human_requested: bool,
    #[serde(default)]
    pub price_question: bool,
    #[serde(default)]
    pub language: String,
}

/// Parses a JSON-lines corpus; blank lines are skipped. The error names the line.
pub fn parse(text: &str) -> Result<Vec<Conversation>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

fn toks(s: &str) -> Vec<String> {
    words(s).into_iter().map(|w| canonical(&w).map(str::to_owned).unwrap_or(w)).collect()
}

fn canonical(w: &str) -> Option<&'static str> {
    Some(match w {
        "tmrw" | "tmr" | "2morrow" => "tomorrow",
        "2day" => "today",
        "mon" => "monday",
        "tue" | "tues" => "tuesday",
        "wed" | "weds" => "wednesday",
        "thu" | "thur" | "thurs" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        "sun" => "sunday",
        _ => return None,
    })
}

/// Both absent, or both present and equal under `key`.
fn same_by(e: &Option<String>, g: &Option<String>, key: impl Fn(&str) -> Vec<String>) -> bool {
    match (e, g) {
        (Some(e), Some(g)) => key(e) == key(g),
        (e, g) => e.is_none() && g.is_none(),
    }
}

/// Case- and punctuation-insensitive equality (text-speak expanded).
pub fn same_text(e: &Option<String>, g: &Option<String>) -> bool {
    same_by(e, g, toks)
}

/// Same words in any order ("Dearborn, 2219 Reuter St" = "2219 Reuter St, Dearborn").
pub fn same_address(e: &Option<String>, g: &Option<String>) -> bool {
    same_by(e, g, |s| {
        let mut t = toks(s);
        t.sort();
        t
    })
}

/// Same time words, ignoring fillers ("Anytime tomorrow after 1pm" = "tomorrow after 1pm").
pub fn same_time(e: &Option<String>, g: &Option<String>) -> bool {
    const FILLER: &[&str] = &[
        "any", "anytime", "time", "sometime", "if", "possible", "works", "please", "pls", "is", "are", "best", "the",
        "a",
    ];
    same_by(e, g, |s| {
        let mut t: Vec<String> = toks(s).into_iter().filter(|w| !FILLER.contains(&w.as_str())).collect();
        t.sort();
        t.dedup();
        t
    })
}

/// Same category, and (up to two of) the key words of the expected description show up.
pub fn same_service(x: &Expect, service_needed: Option<&str>, service_category: Option<&str>) -> bool {
    const STOP: &[&str] = &[
        "the", "a", "an", "and", "or", "on", "in", "of", "to", "from", "for", "is", "it", "its", "just", "near", "off",
        "up", "el", "no",
    ];
    let category = service_category.unwrap_or("other") == x.service_category;
    let (Some(e), Some(got)) = (&x.service_needed, service_needed) else {
        return category && x.service_needed.is_none() && service_needed.is_none();
    };
    let stem = |w: &str| w.chars().take(4).collect::<String>();
    let got_toks = toks(got);
    let mut got: Vec<String> = got_toks.iter().map(|w| stem(w)).collect();
    if got_toks.windows(2).any(|p| p[0] == "co" && p[1] == "detector") {
        got.extend(["carb".to_owned(), "mono".to_owned()]);
    }
    let key: Vec<String> = toks(e).into_iter().filter(|w| w.len() > 1 && !STOP.contains(&w.as_str())).collect();
    let hits = key.iter().filter(|k| got.contains(&stem(k))).count();
    category && hits >= key.len().min(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scorer_is_lenient_about_case_order_and_fillers_but_not_content() {
        let s = |v: &str| Some(v.to_owned());
        assert!(same_text(&s("Mike Alvarez"), &s("mike alvarez.")));
        assert!(!same_text(&s("Mike Alvarez"), &s("Mike Alvarado")));
        assert!(same_address(&s("2219 Reuter St, Dearborn"), &s("Dearborn, 2219 Reuter St")));
        assert!(!same_address(&s("2219 Reuter St"), &s("2291 Reuter St")));
        assert!(same_time(&s("Anytime tomorrow after 1pm"), &s("tmrw after 1pm")));
        assert!(same_text(&None, &None) && !same_text(&s("x"), &None));
    }

    #[test]
    fn the_dev_corpus_parses() {
        let c = parse(include_str!("../../tests/corpus/conversations-dev.jsonl")).unwrap();
        assert_eq!(c.len(), 40);
        assert!(parse("{not json}").unwrap_err().starts_with("line 1"));
    }
}
