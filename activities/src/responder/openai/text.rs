//! From the model's reply to an SMS: our control markers out (a customer must
//! never see "[QUALIFIED]"), GSM-7 only (one curly quote doubles the cost of a
//! text), and at most [`crate::responder::MAX_REPLY_CHARS`], cut where a
//! sentence ends so the text never stops mid-word.

use std::ops::Range;

use crate::gsm;

/// The markers the system prompt asks the model to end its reply with.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Markers {
    pub qualified: bool,
    pub human_needed: bool,
    pub emergency: bool,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Qualified,
    HumanNeeded,
    Emergency,
}

/// Spellings models use for the markers, lower case. A spelling with an
/// underscore is a marker anywhere; the others only next to a bracket (or
/// shouted at the very end), because "emergency" is also an ordinary word.
const MARKERS: &[(&str, Kind)] = &[
    ("human_needed", Kind::HumanNeeded),
    ("human needed", Kind::HumanNeeded),
    ("human-needed", Kind::HumanNeeded),
    ("qualified", Kind::Qualified),
    ("emergency", Kind::Emergency),
];

impl Markers {
    fn set(&mut self, kind: Kind) {
        match kind {
            Kind::Qualified => self.qualified = true,
            Kind::HumanNeeded => self.human_needed = true,
            Kind::Emergency => self.emergency = true,
        }
    }
}

/// Removes every marker (any case, with or without its brackets) and reports
/// which were there.
pub(super) fn strip_markers(raw: &str) -> (String, Markers) {
    let mut text = raw.to_owned();
    let mut found = Markers::default();
    while let Some((range, kind)) = find(&text) {
        found.set(kind);
        text.replace_range(range, " ");
    }
    (tidy(&text), found)
}

fn find(text: &str) -> Option<(Range<usize>, Kind)> {
    // ASCII lower-casing keeps byte offsets, so spans found in `lower` fit `text`.
    let lower = text.to_ascii_lowercase();
    MARKERS.iter().find_map(|(word, kind)| {
        lower.match_indices(word).find_map(|(i, _)| marker_span(text, i, i + word.len())).map(|span| (span, *kind))
    })
}

/// The span to remove if the word at `i..j` is a marker, brackets and any
/// markdown asterisks around it included.
fn marker_span(text: &str, i: usize, j: usize) -> Option<Range<usize>> {
    let b = text.as_bytes();
    let word_char = |k: usize| b.get(k).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if (i > 0 && word_char(i - 1)) || word_char(j) {
        return None;
    }
    let open = b[..i].iter().rposition(|c| *c != b' ').filter(|k| b[*k] == b'[');
    let close = b[j..].iter().position(|c| *c != b' ').map(|k| j + k).filter(|k| b[*k] == b']');
    let (start, end) = (open.unwrap_or(i), close.map_or(j, |k| k + 1));
    let stars_before = b[..start].iter().rev().take_while(|c| **c == b'*').count();
    let stars_after = b[end..].iter().take_while(|c| **c == b'*').count();
    let span = start - stars_before..end + stars_after;
    let underscored = b[i..j].contains(&b'_');
    let shouted_last = !b[i..j].iter().any(u8::is_ascii_lowercase) && !b[j..].iter().any(u8::is_ascii_alphanumeric);
    (open.is_some() || close.is_some() || underscored || shouted_last).then_some(span)
}

/// Closes the gaps a removed marker leaves: no double space, no space before
/// punctuation, no punctuation left dangling at the start.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '.' | ',' | '!' | '?' | ';' | ':') {
            while out.ends_with(' ') {
                out.pop();
            }
        }
        if !(c == ' ' && out.ends_with(' ')) {
            out.push(c);
        }
    }
    out.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | ';' | ':')).trim_end().to_owned()
}

/// GSM-normalises and shortens to `max` characters at the last sentence end.
/// `cut_off` (the model hit its token limit) also drops an unfinished last
/// sentence. Without a usable sentence end, cuts at a word and adds "...".
pub(super) fn fit(raw: &str, max: usize, cut_off: bool) -> String {
    let text = gsm::normalize(raw);
    let len = text.chars().count();
    if len <= max && !cut_off {
        return text;
    }
    let head: String = text.chars().take(max).collect();
    let next_is_space = text.chars().nth(max).is_none_or(char::is_whitespace);
    match last_sentence_end(&head, next_is_space) {
        // A lone "Hi Ann." is no answer: a sentence end must keep a third.
        Some(end) if end * 3 >= head.len() => head.get(..end).unwrap_or(&head).to_owned(),
        _ if len <= max => text,
        _ => word_cut(&text, max),
    }
}

/// Byte offset just past the last `.`, `!` or `?` (and any closing quote or
/// bracket) that is followed by white space: "3.5 tons" does not end a sentence.
fn last_sentence_end(head: &str, next_is_space: bool) -> Option<usize> {
    let chars: Vec<(usize, char)> = head.char_indices().collect();
    let mut best = None;
    for (n, (k, c)) in chars.iter().enumerate() {
        if !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut m = n + 1;
        while chars.get(m).is_some_and(|(_, c)| matches!(c, '"' | '\'' | ')')) {
            m += 1;
        }
        let followed_by_space = chars.get(m).map_or(next_is_space, |(_, c)| c.is_whitespace());
        if followed_by_space {
            best = Some(chars.get(m).map_or(head.len(), |(at, _)| *at).max(k + 1));
        }
    }
    best
}

fn word_cut(text: &str, max: usize) -> String {
    let head: String = text.chars().take(max.saturating_sub(3)).collect();
    let cut = head.rfind(' ').unwrap_or(head.len());
    let kept = head.get(..cut).unwrap_or(&head).trim_end_matches(|c: char| c.is_whitespace() || c == ',');
    format!("{kept}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(s: &str) -> (String, Markers) {
        strip_markers(s)
    }

    #[test]
    fn markers_go_in_any_case_and_shape() {
        let (t, m) = strip("Thanks Ann, we'll call you soon! [QUALIFIED]");
        assert_eq!(t, "Thanks Ann, we'll call you soon!");
        assert!(m.qualified && !m.emergency && !m.human_needed);
        assert_eq!(strip("Got it [qualified]. Talk soon").0, "Got it. Talk soon");
        assert_eq!(strip("Sure thing QUALIFIED]").0, "Sure thing");
        assert_eq!(strip("**[HUMAN_NEEDED]** One moment").0, "One moment");
        assert!(strip("Let me check human_needed").1.human_needed);
        assert_eq!(strip("On it now. EMERGENCY").0, "On it now.");
        assert_eq!(strip("[ Emergency ] Leave the house now.").0, "Leave the house now.");
    }

    #[test]
    fn ordinary_words_stay() {
        let (t, m) = strip("Is this an emergency? Our techs are qualified.");
        assert_eq!(t, "Is this an emergency? Our techs are qualified.");
        assert_eq!(m, Markers::default());
    }

    #[test]
    fn long_replies_are_cut_at_a_sentence_end() {
        let s = format!("{} Last part that runs on and on", "This is one sentence of the reply. ".repeat(12));
        let out = fit(&s, 320, false);
        assert!(out.chars().count() <= 320 && out.ends_with('.'), "{out}");
        assert_eq!(fit("Short and sweet.", 320, false), "Short and sweet.");
        assert_eq!(fit("We can come by. When works best for", 320, true), "We can come by.");
    }

    #[test]
    fn no_sentence_end_cuts_at_a_word() {
        let out = fit(&"word ".repeat(100), 320, false);
        assert!(out.chars().count() <= 320 && out.ends_with("word..."), "{out}");
        assert_eq!(fit("The unit is 3.5 tons and", 10, false), "The...");
    }
}
