//! What the customer picked from an offer, read by rules (the rules engine,
//! and the check the LLM responder's reading is held to).
//!
//! In order: a clear refusal ("none of those", "neither", "doesn't work")
//! declines, or asks for something else when it names a time; then an explicit
//! pick by position ("the 2nd one", "#3", "first", "the last one", or a number
//! on its own); then a named time ("tuesday at 2", "2pm works", "Wednesday
//! morning") picks the one offered slot it matches, or asks for other slots
//! when it matches none or several; then "yes"/"ok" takes a lone offer; then a
//! bare "no" declines. Anything else is unclear.
//!
//! A number without am/pm is read as business hours: 1–6 afternoon, 7–11
//! morning, 12 noon, unless "morning"/"afternoon" says otherwise. A number
//! within other words ("2 works") is an hour when an offered slot starts at that
//! hour, else a position.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::slots::{local_hour, Slot};
use super::text::{clock_time, day_of_month, month, number, ordinal, tokens, weekday};

/// The customer's answer to an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Choice {
    /// An index into the offered slots.
    Pick(usize),
    /// None of the offered ones (or several fit): look for slots like this.
    Other(Preference),
    Decline,
    Unclear,
}

/// A time the customer asked for; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preference {
    pub weekday: Option<Weekday>,
    pub date: Option<NaiveDate>,
    pub part_of_day: Option<PartOfDay>,
    /// Local start hour, 0–23.
    pub hour: Option<u32>,
}

impl Preference {
    pub fn is_empty(&self) -> bool {
        self.weekday.is_none() && self.date.is_none() && self.part_of_day.is_none() && self.hour.is_none()
    }
}

/// Morning before noon, afternoon until 5pm, evening after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartOfDay {
    Morning,
    Afternoon,
    Evening,
}

impl PartOfDay {
    pub fn of_hour(hour: u32) -> Self {
        match hour {
            0..=11 => PartOfDay::Morning,
            12..=16 => PartOfDay::Afternoon,
            _ => PartOfDay::Evening,
        }
    }
}

/// Reads the customer's reply to the `offered` slots (see the module doc).
pub fn understand(text: &str, offered: &[Slot], tz: Tz, now: DateTime<Utc>) -> Choice {
    let today = now.with_timezone(&tz).date_naive();
    let mut r = read(&tokens(text), today);
    r.yes |= text.contains(['👍', '👌', '✅']);
    decide(r, offered, tz)
}

/// The slots that fit a preference, in their order.
pub fn matching(pref: &Preference, slots: &[Slot], tz: Tz) -> Vec<Slot> {
    slots.iter().filter(|s| fits(pref, s, tz)).copied().collect()
}

fn fits(pref: &Preference, slot: &Slot, tz: Tz) -> bool {
    let local = slot.start.with_timezone(&tz);
    let hour = local_hour(slot, tz);
    pref.weekday.is_none_or(|w| local.weekday() == w)
        && pref.date.is_none_or(|d| local.date_naive() == d)
        && pref.part_of_day.is_none_or(|p| PartOfDay::of_hour(hour) == p)
        && pref.hour.is_none_or(|h| hour == h)
}

/// A position the customer named: 1-based, or the last.
#[derive(Debug, Clone, Copy)]
enum Position {
    Nth(u32),
    Last,
}

#[derive(Debug, Default)]
struct Reading {
    pref: Preference,
    /// An hour the customer wrote as a time (`2pm`, `at 2`), and whether am/pm was explicit.
    hour: Option<(u32, bool)>,
    /// A number on its own: a position or an hour.
    loose: Option<u32>,
    position: Option<Position>,
    /// Nothing but the number and courtesy words ("2", "2 please").
    only_number: bool,
    refuses: bool,
    no: bool,
    yes: bool,
}

fn read(toks: &[String], today: NaiveDate) -> Reading {
    let mut r = Reading { refuses: refuses(toks), ..Reading::default() };
    let mut i = 0;
    while let Some(t) = toks.get(i) {
        let t = t.as_str();
        let next = toks.get(i + 1).map(String::as_str);
        let prev = i.checked_sub(1).and_then(|j| toks.get(j)).map(String::as_str);
        i += read_token(&mut r, t, prev, next, today);
    }
    r.only_number = r.loose.is_some()
        && toks.iter().all(|t| number(t).is_some_and(|n| Some(n) == r.loose) || COURTESY.contains(&t.as_str()));
    r
}

const COURTESY: [&str; 22] = [
    "yes", "yeah", "yep", "ok", "okay", "sure", "please", "pls", "plz", "thanks", "thank", "you", "lets", "do", "go",
    "with", "take", "ill", "id", "i", "the", "number",
];
const YES: [&str; 22] = [
    "yes",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "sure",
    "ok",
    "okay",
    "k",
    "kk",
    "fine",
    "perfect",
    "great",
    "good",
    "works",
    "work",
    "sounds",
    "book",
    "confirm",
    "absolutely",
    "alright",
];
const NO: [&str; 7] = ["no", "nope", "nah", "not", "cant", "cannot", "unfortunately"];
const NEGATIONS: [&str; 6] = ["not", "cant", "cannot", "except", "no", "but"];

/// Reads one token into `r`; returns how many tokens it used.
fn read_token(r: &mut Reading, t: &str, prev: Option<&str>, next: Option<&str>, today: NaiveDate) -> usize {
    if let Some(w) = weekday(t) {
        if !prev.is_some_and(|p| NEGATIONS.contains(&p)) {
            r.pref.weekday = Some(w);
        }
        return 1;
    }
    if let Some(used) = read_day_word(r, t, today) {
        return used;
    }
    if let Some(m) = month(t) {
        if let Some(d) = next.and_then(day_of_month) {
            r.pref.date = upcoming(today, m, d);
            return 2;
        }
    }
    if let Some((m, d)) =
        t.split_once('/').and_then(|(m, d)| Some((m.parse().ok()?, day_of_month(d.split('/').next()?)?)))
    {
        r.pref.date = upcoming(today, m, d);
        return 1;
    }
    if let Some(used) = read_position(r, t, next) {
        return used;
    }
    if let Some(h) = clock_time(t, next) {
        r.hour = Some(h);
        return if next.is_some_and(|n| n == "am" || n == "pm") && number(t).is_some() { 2 } else { 1 };
    }
    let at_word = matches!(t, "at" | "around" | "about" | "by" | "after");
    if let Some(n) = next.filter(|n| at_word && clock_time(n, None).is_none()).and_then(number) {
        r.hour = Some((n, false));
        return 2;
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        if let Some(n) = number(t) {
            if next == Some("oclock") {
                r.hour = Some((n, false));
            } else {
                r.loose = r.loose.or(Some(n));
            }
        }
        return 1;
    }
    r.yes |= YES.contains(&t);
    r.no |= NO.contains(&t);
    1
}

fn read_day_word(r: &mut Reading, t: &str, today: NaiveDate) -> Option<usize> {
    match t {
        "today" => r.pref.date = Some(today),
        "tonight" => {
            r.pref.date = Some(today);
            r.pref.part_of_day = Some(PartOfDay::Evening);
        }
        "tomorrow" | "tmrw" | "tmr" | "tmw" | "tomorow" | "tommorow" | "tommorrow" => {
            r.pref.date = today.succ_opt();
        }
        "morning" | "mornings" | "am" => r.pref.part_of_day = Some(PartOfDay::Morning),
        "afternoon" | "afternoons" | "pm" => r.pref.part_of_day = Some(PartOfDay::Afternoon),
        "evening" | "evenings" | "night" => r.pref.part_of_day = Some(PartOfDay::Evening),
        "noon" | "midday" => r.hour = Some((12, true)),
        _ => return None,
    }
    Some(1)
}

fn read_position(r: &mut Reading, t: &str, next: Option<&str>) -> Option<usize> {
    if let Some(n) = t.strip_prefix('#').and_then(number) {
        r.position = Some(Position::Nth(n));
        return Some(1);
    }
    if matches!(t, "option" | "number" | "choice" | "opt" | "slot") {
        if let Some(n) = next.and_then(number) {
            r.position = Some(Position::Nth(n));
            return Some(2);
        }
    }
    if let Some(n) = ordinal(t).filter(|_| next != Some("thing")) {
        r.position = Some(Position::Nth(u32::try_from(n).unwrap_or(u32::MAX)));
        return Some(1);
    }
    match t {
        "last" | "latest" | "final" => r.position = Some(Position::Last),
        "earliest" | "soonest" => r.position = Some(Position::Nth(1)),
        _ => return None,
    }
    Some(1)
}

/// "none of those", "neither", "doesn't work", "another time", "something else".
fn refuses(toks: &[String]) -> bool {
    let at = |i: usize| toks.get(i).map_or("", String::as_str);
    (0..toks.len()).any(|i| match at(i) {
        "none" | "neither" | "nothing" => true,
        "other" | "another" | "different" => {
            matches!(at(i + 1), "time" | "times" | "day" | "days" | "option" | "options")
        }
        "something" => at(i + 1) == "else",
        "dont" | "doesnt" | "wont" | "cant" | "cannot" | "couldnt" | "not" | "isnt" => {
            [at(i + 1), at(i + 2)].iter().any(|w| matches!(*w, "work" | "works" | "make" | "good"))
        }
        _ => false,
    })
}

/// The next `month/day` on or after today.
fn upcoming(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this = NaiveDate::from_ymd_opt(today.year(), month, day);
    match this {
        Some(d) if d >= today => Some(d),
        _ => NaiveDate::from_ymd_opt(today.year() + 1, month, day),
    }
}

/// A written number as a local hour, by business-hours sense.
fn hour_of(n: u32, explicit: bool, part: Option<PartOfDay>) -> Option<u32> {
    if explicit {
        return (n <= 23).then_some(n);
    }
    match (n, part) {
        (1..=11, Some(PartOfDay::Afternoon | PartOfDay::Evening)) => Some(n + 12),
        (1..=11, Some(PartOfDay::Morning)) => Some(n),
        (1..=6, None) => Some(n + 12),
        (7..=23, _) => Some(n),
        _ => None,
    }
}

fn decide(r: Reading, offered: &[Slot], tz: Tz) -> Choice {
    let mut pref = r.pref.clone();
    if let Some((h, explicit)) = r.hour {
        pref.hour = hour_of(h, explicit, pref.part_of_day);
    }
    if r.refuses {
        return if pref.is_empty() { Choice::Decline } else { Choice::Other(pref) };
    }
    let in_range = |n: u32| usize::try_from(n).ok().filter(|n| (1..=offered.len()).contains(n)).map(|n| n - 1);
    let picked = match r.position {
        Some(Position::Nth(n)) => in_range(n),
        Some(Position::Last) => offered.len().checked_sub(1),
        None => None,
    };
    if let Some(i) = picked {
        return Choice::Pick(i);
    }
    if let (Some(n), None) = (r.loose, r.hour) {
        match loose_number(n, r.only_number, &pref, offered, tz) {
            Loose::Position(i) => return Choice::Pick(i),
            Loose::Hour(h) => pref.hour = Some(h),
            Loose::Neither => {}
        }
    }
    if !pref.is_empty() {
        let fit: Vec<usize> =
            (0..offered.len()).filter(|&i| offered.get(i).is_some_and(|s| fits(&pref, s, tz))).collect();
        return match fit.as_slice() {
            [one] => Choice::Pick(*one),
            _ => Choice::Other(pref),
        };
    }
    if r.yes && offered.len() == 1 {
        return Choice::Pick(0);
    }
    if r.no {
        return Choice::Decline;
    }
    Choice::Unclear
}

enum Loose {
    Position(usize),
    Hour(u32),
    Neither,
}

fn loose_number(n: u32, only_number: bool, pref: &Preference, offered: &[Slot], tz: Tz) -> Loose {
    let position = usize::try_from(n).ok().filter(|n| (1..=offered.len()).contains(n)).map(|n| n - 1);
    if let (true, Some(i)) = (only_number, position) {
        return Loose::Position(i);
    }
    let hour = hour_of(n, false, pref.part_of_day);
    let as_hour = Preference { hour, ..pref.clone() };
    match (hour, position) {
        (Some(h), _) if offered.iter().any(|s| fits(&as_hour, s, tz)) => Loose::Hour(h),
        (_, Some(i)) if pref.is_empty() => Loose::Position(i),
        (Some(h), _) => Loose::Hour(h),
        (None, _) => Loose::Neither,
    }
}

#[cfg(test)]
#[path = "choice_tests.rs"]
mod tests;
