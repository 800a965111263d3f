//! The customer's reply as lower-case ASCII-ish tokens, and the small
//! vocabularies the choice rules read them with. Nothing here panics on any
//! input: full-width forms are folded, quotes and dots dropped, emoji and
//! other symbols become spaces.

use chrono::Weekday;

/// Lower-cased tokens. Apostrophes and dots vanish (`don’t` → `dont`,
/// `a.m.` → `am`); `:` `#` `/` stay inside tokens (`1:30pm`, `#2`, `12/8`); `@` reads as `at`.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let mut flat = String::with_capacity(text.len());
    for c in text.chars().map(fold_width) {
        match c {
            '\'' | '\u{2018}' | '\u{2019}' | '`' | '\u{b4}' | '.' => {}
            ':' | '#' | '/' => flat.push(c),
            '@' => flat.push_str(" at "),
            c if c.is_alphanumeric() => flat.extend(c.to_lowercase()),
            _ => flat.push(' '),
        }
    }
    flat.split_whitespace()
        .map(|t| t.trim_matches(|c| c == ':' || c == '/').to_owned())
        .filter(|t| !t.is_empty() && t != "#")
        .collect()
}

/// Full-width ASCII (`２`, `ｐｍ`) and the ideographic space, as ASCII.
fn fold_width(c: char) -> char {
    match u32::from(c) {
        0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

pub(crate) fn weekday(t: &str) -> Option<Weekday> {
    Some(match t {
        "mon" | "monday" | "mondays" => Weekday::Mon,
        "tue" | "tues" | "tuesday" | "tuesdays" => Weekday::Tue,
        "wed" | "weds" | "wednesday" | "wednesdays" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" | "thursdays" => Weekday::Thu,
        "fri" | "friday" | "fridays" => Weekday::Fri,
        "sat" | "saturday" | "saturdays" => Weekday::Sat,
        "sun" | "sunday" | "sundays" => Weekday::Sun,
        _ => return None,
    })
}

pub(crate) fn month(t: &str) -> Option<u32> {
    const NAMES: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let i = NAMES.iter().position(|n| *n == t).or_else(|| full.iter().position(|n| *n == t));
    let i = i.or_else(|| (t == "sept").then_some(8))?;
    u32::try_from(i + 1).ok()
}

/// `1`..`5` from `first`/`1st` … `fifth`/`5th`.
pub(crate) fn ordinal(t: &str) -> Option<usize> {
    Some(match t {
        "first" | "1st" => 1,
        "second" | "2nd" => 2,
        "third" | "3rd" => 3,
        "fourth" | "4th" => 4,
        "fifth" | "5th" => 5,
        _ => return None,
    })
}

/// A plain number: ASCII digits or a word up to twelve.
pub(crate) fn number(t: &str) -> Option<u32> {
    if !t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    const WORDS: [&str; 12] =
        ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    WORDS.iter().position(|w| *w == t).and_then(|i| u32::try_from(i + 1).ok())
}

/// `12th`, `8`, `3rd` as a day of the month.
pub(crate) fn day_of_month(t: &str) -> Option<u32> {
    let digits = t.strip_suffix("st").or(t.strip_suffix("nd")).or(t.strip_suffix("rd")).or(t.strip_suffix("th"));
    let d: u32 = digits.unwrap_or(t).parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

/// A written time: `2pm`, `2:30pm`, `230pm`, `10am`, `14:00`, `9:15`.
/// Returns (hour 0–23, whether it said am/pm or used a 24-hour clock).
pub(crate) fn clock_time(t: &str, next: Option<&str>) -> Option<(u32, bool)> {
    let (body, suffix) = split_suffix(t);
    let suffix = suffix.or_else(|| next.filter(|n| matches!(*n, "am" | "pm")).map(|n| n == "pm"));
    let (h, has_colon) = match body.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok().filter(|_| m.len() == 2 && m.parse::<u32>().is_ok())?, true),
        None if body.len() >= 3 && suffix.is_some() => (body.get(..body.len() - 2)?.parse().ok()?, true),
        None => (body.parse().ok()?, false),
    };
    match suffix {
        Some(pm) if (1..=12).contains(&h) => Some((h % 12 + if pm { 12 } else { 0 }, true)),
        Some(_) => None,
        None if has_colon && h <= 23 => Some((h, h >= 13 || h == 0)),
        None => None,
    }
}

/// `2pm` → (`2`, Some(true)); `2` → (`2`, None).
fn split_suffix(t: &str) -> (&str, Option<bool>) {
    for (s, pm) in [("pm", true), ("am", false), ("p", true), ("a", false)] {
        if let Some(body) = t.strip_suffix(s) {
            if body.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
                return (body, Some(pm));
            }
        }
    }
    (t, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_unicode_folds_to_plain_tokens() {
        let cases: &[(&str, &[&str])] = &[
            ("The 2nd one!", &["the", "2nd", "one"]),
            ("Tue @ ２ｐｍ 👍", &["tue", "at", "2pm"]),
            ("none of those… “friday” morning?", &["none", "of", "those", "friday", "morning"]),
            ("don’t work", &["dont", "work"]),
            ("#3", &["#3"]),
            ("2:30 p.m.", &["2:30", "pm"]),
            ("Tuesday: 2", &["tuesday", "2"]),
            ("#", &[]),
            ("\u{0}\u{200b}İ", &["i\u{307}"]),
        ];
        for (input, want) in cases {
            assert_eq!(tokens(input), *want, "{input:?}");
        }
    }

    #[test]
    fn written_times_become_hours() {
        type Case<'a> = (&'a str, Option<&'a str>, Option<(u32, bool)>);
        let cases: &[Case] = &[
            ("2pm", None, Some((14, true))),
            ("2", Some("pm"), Some((14, true))),
            ("10am", None, Some((10, true))),
            ("12pm", None, Some((12, true))),
            ("12am", None, Some((0, true))),
            ("2:30pm", None, Some((14, true))),
            ("230pm", None, Some((14, true))),
            ("14:00", None, Some((14, true))),
            ("9:15", None, Some((9, false))),
            ("13pm", None, None),
            ("2", None, None),
            ("25:00", None, None),
            ("2:3", None, None),
            ("99999999999999999999pm", None, None),
        ];
        for (t, next, want) in cases {
            assert_eq!(clock_time(t, *next), *want, "{t} {next:?}");
        }
    }
}
