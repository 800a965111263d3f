//! Preferred time, kept in the customer's words with text-speak expanded
//! ("2day or 2morrow" → "today or tomorrow", "thurs aft" → "thursday afternoon").

use super::text::{pieces, Tok};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// today, tonight, tomorrow, hoy, mañana.
    Day,
    /// A named day, weekdays or weekends.
    Weekday,
    /// Morning, afternoon, evening, night, tarde...
    Part,
    /// "at 10", "after 4", "1pm", "despues de las 3".
    Clock,
    /// anytime, whenever, sometime, next week, this month.
    Relative,
    /// asap, now, right away.
    Now,
}

/// What the last question was, which decides how much counts as a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// We asked when: any time words are the answer.
    Asked,
    /// We asked how urgent: "today or tmrw" answers that, not the time.
    Urgency,
    /// Anything else: only days, parts of day and clock times count.
    Other,
}

/// Text-speak and abbreviations, expanded inside a time.
pub fn expand(norm: &str) -> Option<&'static str> {
    Some(match norm {
        "tmrw" | "tmr" | "tmrow" | "tmrrw" | "tmw" | "tomoro" | "tomorow" | "tommorow" | "tommorrow" | "2morrow"
        | "2moro" | "2morow" | "2mrw" => "tomorrow",
        "2day" | "tdy" => "today",
        "2nite" | "tonite" | "2night" => "tonight",
        "aft" => "afternoon",
        "morn" => "morning",
        "mon" => "monday",
        "tue" | "tues" => "tuesday",
        "wed" | "weds" => "wednesday",
        "thu" | "thur" | "thurs" | "thrs" => "thursday",
        "fri" => "friday",
        "sat" => "saturday",
        "sun" => "sunday",
        "wknd" => "weekend",
        "nxt" => "next",
        "wk" => "week",
        "b4" => "before",
        "aftr" => "after",
        _ => return None,
    })
}

const WEEKDAYS: &str = "monday*|tuesday*|wednesday*|thursday*|friday*|saturday*|sunday*|weekday*|weekend*|weeknight*|lunes|martes|miercoles|jueves|viernes|sabado*|domingo*";
const PARTS: &str = "morning|mornings|afternoon|afternoons|evening|evenings|night|nights|noon|midday|lunch|lunchtime|tarde|tardes|noche|noches|mediodia";
const MODIFIERS: &str = "any|every|early|late|mid|this|next|after|before|around|by|at|in|the|on|en|la|las|el|por|despues|antes|de|or|and|o|y|until|til|till|from|between|to|right|about|proxima|esta|a|same|or|either";
const PAST: &[&str] = &[
    "since",
    "ago",
    "yesterday",
    "last",
    "called",
    "was",
    "were",
    "been",
    "had",
    "did",
    "tried",
    "answered",
    "missed",
    "noticed",
    "happened",
    "started",
    "desde",
    "ayer",
    "went",
    "said",
];

fn word<'a>(t: &'a Tok) -> &'a str {
    expand(&t.norm).unwrap_or(&t.norm)
}

/// What kind of time word token `i` is, if any. `loose` accepts short day
/// abbreviations ("sat", "wed"), which are only safe when we asked when.
pub fn kind(toks: &[Tok], i: usize, loose: bool) -> Option<Kind> {
    let t = toks.get(i)?;
    let w = word(t);
    let prev = i.checked_sub(1).and_then(|p| toks.get(p)).map(|p| word(p)).unwrap_or("");
    let next = toks.get(i + 1).map(|n| n.norm.as_str()).unwrap_or("");
    let abbreviated = expand(&t.norm).is_some() && t.norm.len() <= 3 && !t.norm.starts_with('2');
    match w {
        "today" | "tonight" | "tomorrow" | "hoy" => Some(Kind::Day),
        "manana" if prev == "la" => Some(Kind::Part),
        "manana" => Some(Kind::Day),
        _ if step(WEEKDAYS, w) => (loose || !abbreviated).then_some(Kind::Weekday),
        _ if step(PARTS, w) => (!matches!(prev, "buenas" | "buenos" | "good")).then_some(Kind::Part),
        "anytime" | "whenever" | "sometime" | "later" => Some(Kind::Relative),
        "week" | "month" | "semana" | "mes" if matches!(prev, "next" | "this" | "proxima" | "esta" | "following") => {
            Some(Kind::Relative)
        }
        "time" if matches!(prev, "any" | "same") => Some(Kind::Relative),
        "asap" | "now" | "inmediato" => Some(Kind::Now),
        "away" if prev == "right" => Some(Kind::Now),
        _ if matches!(prev, "and" | "to" | "or" | "til" | "till") && t.is_number() && i >= 2 => {
            clock(t, prev, next).or_else(|| (kind(toks, i - 2, loose) == Some(Kind::Clock)).then_some(Kind::Clock))
        }
        _ => clock(t, prev, next),
    }
}

fn step(pat: &str, w: &str) -> bool {
    crate::keywords::step_matches(pat, w)
}

fn clock(t: &Tok, prev: &str, next: &str) -> Option<Kind> {
    let n = &t.norm;
    let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
    let suffix = &n[digits.len()..];
    let hour: u32 = digits.parse().ok()?;
    let ampm = matches!(suffix, "am" | "pm" | "a" | "p") || matches!(next, "am" | "pm" | "oclock");
    let after_word = suffix.is_empty()
        && matches!(
            prev,
            "at" | "after"
                | "before"
                | "by"
                | "around"
                | "til"
                | "till"
                | "until"
                | "from"
                | "between"
                | "las"
                | "la"
                | "b4"
        );
    let colon = suffix.is_empty() && t.gap.starts_with(':');
    (((ampm || after_word || colon) && hour <= 24) || (digits.len() == 4 && ampm)).then_some(Kind::Clock)
}

/// The preferred time in a text, if there is one in the sense of `mode`.
pub fn extract(src: &str, toks: &[Tok], mode: Mode) -> Option<String> {
    let loose = mode == Mode::Asked;
    let mut found = Vec::new();
    for (a, b) in pieces(toks, false) {
        let b = toks[a..b].iter().position(|t| t.is("because|bc|cause|cuz|porque")).map_or(b, |p| a + p);
        if mode != Mode::Asked && toks[a..b].iter().any(|t| PAST.contains(&t.raw.to_lowercase().as_str())) {
            continue;
        }
        let Some((s, e, kinds)) = find_span(toks, a, b, loose) else { continue };
        let strong = |k: &Kind| match mode {
            Mode::Asked => true,
            Mode::Urgency => matches!(k, Kind::Weekday | Kind::Part | Kind::Clock),
            Mode::Other => matches!(k, Kind::Weekday | Kind::Part | Kind::Clock | Kind::Day),
        };
        if kinds.iter().any(strong) {
            found.push(render(src, toks, s, e));
            if mode == Mode::Asked {
                break;
            }
        }
    }
    (!found.is_empty()).then(|| found.join(", "))
}

/// "except friday", "any day but friday": an excluded day, not a choice.
fn excluded(toks: &[Tok], i: usize) -> bool {
    let prev = |k: usize| i.checked_sub(k).and_then(|p| toks.get(p));
    prev(1).is_some_and(|p| p.is("except|besides|excepto|menos|not"))
        || (prev(1).is_some_and(|p| p.is("but")) && toks[..i].iter().any(|t| t.is("any|anytime|anything|whenever")))
}

fn find_span(toks: &[Tok], a: usize, b: usize, loose: bool) -> Option<(usize, usize, Vec<Kind>)> {
    let first = (a..b).find(|&i| kind(toks, i, loose).is_some() && !excluded(toks, i))?;
    let mut start = first;
    while start > a && toks[start - 1].is(MODIFIERS) {
        start -= 1;
    }
    let mut end = first;
    let mut kinds = Vec::new();
    for k in first..b {
        match kind(toks, k, loose).filter(|_| !excluded(toks, k)) {
            Some(kd) => {
                kinds.push(kd);
                end = k;
            }
            None if toks[k].is(MODIFIERS) || toks[k].is("am|pm|oclock") => {}
            None => break,
        }
    }
    while start < first && toks[start].is("the|a|in|on|at|to|and|or|by") {
        start += 1;
    }
    Some((start, end, kinds))
}

/// The words from `s` to `e` as written, separators kept, text-speak expanded.
fn render(src: &str, toks: &[Tok], s: usize, e: usize) -> String {
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate().take(e + 1).skip(s) {
        out.push_str(expand(&t.norm).unwrap_or(t.raw));
        if i < e {
            out.push_str(src.get(t.end..toks[i + 1].start).unwrap_or(" "));
        }
    }
    out.trim_matches(|c: char| !c.is_alphanumeric()).to_owned()
}

#[cfg(test)]
mod tests {
    use super::super::text::tokens;
    use super::*;

    fn t(s: &str, mode: Mode) -> Option<String> {
        extract(s, &tokens(s), mode)
    }

    #[test]
    fn an_answer_to_when_keeps_the_time_words_and_drops_the_rest() {
        let cases = [
            ("tomorrow morning if possible", "tomorrow morning"),
            ("weekday mornings, he works from home", "weekday mornings"),
            ("anytime after 4", "anytime after 4"),
            ("sometime next week idk, whenever works", "sometime next week"),
            ("sunday night is the only time im home", "sunday night"),
            ("any time today", "any time today"),
            ("mornings before 11", "mornings before 11"),
            ("any weekday after 3", "any weekday after 3"),
            ("whatever's open next week", "next week"),
            ("now if possible", "now"),
            ("right now please", "right now"),
            ("tomorrow anytime we're retired lol", "tomorrow anytime"),
            ("en la tarde despues de las 3", "en la tarde despues de las 3"),
            ("can you come tomorrow between 2 and 4?", "tomorrow between 2 and 4"),
            ("after lunch", "after lunch"),
            ("mañana en la mañana", "mañana en la mañana"),
        ];
        for (s, want) in cases {
            assert_eq!(t(s, Mode::Asked).as_deref(), Some(want), "{s}");
        }
    }

    #[test]
    fn text_speak_and_day_abbreviations_are_expanded() {
        assert_eq!(t("2day or 2morrow", Mode::Asked).as_deref(), Some("today or tomorrow"));
        assert_eq!(t("thurs aft", Mode::Asked).as_deref(), Some("thursday afternoon"));
        assert_eq!(t("sat?", Mode::Asked).as_deref(), Some("saturday"));
        assert_eq!(t("next week wed or thu", Mode::Asked).as_deref(), Some("next week wednesday or thursday"));
        assert_eq!(t("tmrw", Mode::Asked).as_deref(), Some("tomorrow"));
    }

    #[test]
    fn an_excluded_day_is_not_the_preferred_time() {
        assert_eq!(t("any day but friday", Mode::Asked), None);
        assert_eq!(t("anytime except monday mornings", Mode::Asked).as_deref(), Some("anytime"));
        assert_eq!(t("not tuesday, wednesday works", Mode::Asked).as_deref(), Some("wednesday"));
    }

    #[test]
    fn an_answer_to_how_soon_is_not_a_preferred_time() {
        for s in
            ["today or tmrw", "no rush, this week sometime", "asap", "hoy o mañana", "its ok for tonight but tomorrow?"]
        {
            assert_eq!(t(s, Mode::Urgency), None, "{s}");
        }
    }

    #[test]
    fn times_inside_a_long_message_are_found_and_past_events_ignored() {
        let s = "AC has been out since Saturday. I'm Jo, 12 Elm St. Anytime tomorrow after 1pm works.";
        assert_eq!(t(s, Mode::Other).as_deref(), Some("Anytime tomorrow after 1pm"));
        let s = "come out soon, like tomorrow or thursday. Mornings are better because the baby naps in the afternoon.";
        assert_eq!(t(s, Mode::Other).as_deref(), Some("tomorrow or thursday, Mornings"));
        assert_eq!(t("I called you 3 TIMES today", Mode::Other), None);
        assert_eq!(t("we're at 2907 Quail Run Dr", Mode::Other), None);
        assert_eq!(t("Buenas tardes, no tengo agua caliente desde ayer", Mode::Other), None);
        assert_eq!(t("its 88 in the house", Mode::Other), None);
    }
}
