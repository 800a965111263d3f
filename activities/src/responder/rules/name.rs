//! The name the booking goes under: "this is Karen", "my name is", "I'm",
//! "put it under my wife's name, Linda Cho", or a bare "Mike Alvarez" when we
//! just asked for the name.

use super::text::{is_common, span, title_case, Tok};

/// Words between "under" and the name ("under my husband's name, Greg").
const RELATION: &str = "my|the|his|her|our|name|names|husband|husbands|wife|wifes|son|sons|daughter|daughters|mom|moms|mother|mothers|dad|dads|father|fathers|landlord|landlords|tenant|tenants|partner|partners|boyfriend|girlfriend|brother|sisters|sister|roommate|roommates|in|law|inlaw|boss|bosses|spouse|spouses";
/// Words a bare name reply may start with ("it's Dana", "name: Dana").
const LEAD_IN: &str =
    "its|im|i|am|this|is|name|names|my|me|llamo|soy|hi|hey|hello|ok|okay|sure|yes|yeah|it|mi|nombre|es|hola";
const TRAILING: &str = "thanks|thank|you|thx|ty|lol|please|pls|gracias";

/// A name introduced anywhere in the text.
pub fn introduced(src: &str, toks: &[Tok], asked: bool) -> Option<(String, usize, usize)> {
    for (i, t) in toks.iter().enumerate() {
        let next = |k: usize| toks.get(i + k).map(|t| t.norm.as_str()).unwrap_or("");
        let sentence_start = i == 0 || toks[i - 1].ends_sentence();
        // "im jake" as a whole reply: an introduction even in lowercase.
        let opening = asked || i == 0;
        // (first name word, lowercase allowed)
        let start = match t.norm.as_str() {
            "this" if next(1) == "is" && (i <= 3 || sentence_start) => Some((i + 2, true)),
            "my" if next(1) == "name" && next(2) == "is" => Some((i + 3, true)),
            "name" if next(1) == "is" && (i == 0 || toks[i - 1].ends_sentence()) => Some((i + 2, true)),
            "names" if i <= 3 => Some((i + 1, true)),
            "me" if next(1) == "llamo" => Some((i + 2, true)),
            "mi" if next(1) == "nombre" && next(2) == "es" => Some((i + 3, true)),
            "im" | "soy" => Some((i + 1, opening)),
            "i" if next(1) == "am" => Some((i + 2, opening)),
            "its" if i <= 2 => Some((i + 1, asked)),
            "under" => Some((skip_relation(toks, i + 1), asked)),
            _ => None,
        };
        if let Some((first, lower_ok)) = start {
            if let Some((a, b)) = run(toks, first, lower_ok) {
                return Some((render(src, toks, a, b), a, b));
            }
        }
    }
    None
}

fn skip_relation(toks: &[Tok], mut i: usize) -> usize {
    while toks.get(i).is_some_and(|t| t.is(RELATION)) {
        i += 1;
    }
    i
}

/// The whole reply is a name ("Mike Alvarez", "sam k", "Earl & Donna Fitch").
pub fn bare(src: &str, toks: &[Tok]) -> Option<String> {
    let mut a = 0;
    while toks.get(a).is_some_and(|t| t.is(LEAD_IN)) && a + 1 < toks.len() {
        a += 1;
    }
    let mut b = toks.len();
    while b > a + 1 && toks.get(b - 1).is_some_and(|t| t.is(TRAILING)) {
        b -= 1;
    }
    let (s, e) = run(toks, a, true)?;
    (s == a && e + 1 == b).then(|| render(src, toks, s, e))
}

/// A capitalised first and last name ("Tom Baker"), safe to take as a name
/// even when we did not just ask for one.
/// `single`: one capitalised word ("Phil") is enough.
pub fn formal(text: &str, single: bool) -> bool {
    let words: Vec<&str> = text.split_whitespace().filter(|w| *w != "&").collect();
    let min = if single { 1 } else { 2 };
    (min..=3).contains(&words.len()) && words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

/// The words before an address that look like a name ("Maria Lopez 3302 Fenwick Ave").
pub fn before(src: &str, toks: &[Tok], number: usize, asked: bool) -> Option<(String, usize, usize)> {
    let mut a = number;
    while a > 0 && !toks[a - 1].ends_sentence() {
        a -= 1;
    }
    while a < number && toks[a].is(LEAD_IN) {
        a += 1;
    }
    let (s, e) = run(toks, a, asked)?;
    let names_only = (s..=e).all(|k| name_like(&toks[k], asked) || toks[k].norm == "&");
    (s == a && e + 1 == number && names_only).then(|| (render(src, toks, s, e), s, e))
}

/// The longest run of name words from `i`: up to four, within one clause.
fn run(toks: &[Tok], i: usize, lower_ok: bool) -> Option<(usize, usize)> {
    let first = toks.get(i)?;
    if !name_like(first, lower_ok) || (first.norm.chars().count() == 1 && !first.capitalized()) {
        return None;
    }
    let capital = first.capitalized();
    let mut end = i;
    let mut words = 1;
    while words < 4 && !toks[end].ends_clause() {
        let Some(next) = toks.get(end + 1) else { break };
        let joiner = next.norm == "&" || next.norm == "and" || next.norm == "y";
        if joiner && toks.get(end + 2).is_some_and(|t| t.capitalized() && name_like(t, false)) && !next.ends_clause() {
            end += 2;
        } else if name_like(next, lower_ok) && (next.capitalized() || !capital) {
            end += 1;
        } else {
            break;
        }
        words += 1;
    }
    Some((i, end))
}

fn name_like(t: &Tok, lower_ok: bool) -> bool {
    t.alphabetic()
        && !is_common(&t.norm)
        && !super::service::is_service_word(&t.norm)
        && (lower_ok || t.capitalized())
        && !t.raw.contains('#')
}

fn render(src: &str, toks: &[Tok], a: usize, b: usize) -> String {
    title_case(span(src, toks, a, b).trim_end_matches(['.', ',']))
}

#[cfg(test)]
mod tests {
    use super::super::text::tokens;
    use super::*;

    fn intro(s: &str) -> Option<String> {
        introduced(s, &tokens(s), false).map(|(n, _, _)| n)
    }

    #[test]
    fn introductions_give_the_name_and_stop_at_the_next_clause() {
        let cases = [
            ("Hi this is Karen Whitfield, furnace wont kick on", "Karen Whitfield"),
            ("this is brenda. my upstairs ac isnt keeping up", "Brenda"),
            ("hey its Linda Park again, the furnace is short cycling", "Linda Park"),
            ("I'm Jessica Moreno and we're at 2907 Quail Run Dr", "Jessica Moreno"),
            ("me llamo Luis Herrera", "Luis Herrera"),
            ("my name is Ana Souza", "Ana Souza"),
            ("put it under my husband, Greg Tanaka. hes the one who will be home", "Greg Tanaka"),
            ("put it under my wife's name, Linda Cho", "Linda Cho"),
        ];
        for (s, want) in cases {
            assert_eq!(intro(s).as_deref(), Some(want), "{s}");
        }
    }

    #[test]
    fn ordinary_sentences_are_not_introductions() {
        for s in [
            "this is urgent",
            "this is the third time I called",
            "I'm at work until 5",
            "its not turning on at all",
            "its 88 in the house",
            "im not sure",
            "the filter under the unit is dirty",
        ] {
            assert_eq!(intro(s), None, "{s}");
        }
    }

    #[test]
    fn a_bare_reply_to_the_name_question_is_the_name() {
        for (s, want) in [
            ("Mike Alvarez", "Mike Alvarez"),
            ("sam k", "Sam K"),
            ("lincoln", "Lincoln"),
            ("Earl & Donna Fitch", "Earl & Donna Fitch"),
            ("it's Dana", "Dana"),
            ("Rosa Jiménez", "Rosa Jiménez"),
        ] {
            assert_eq!(bare(s, &tokens(s)).as_deref(), Some(want), "{s}");
        }
        for s in [
            "yes its an emergency",
            "the one in the hallway by the furnace room",
            "we opened windows",
            "should i be worried?",
        ] {
            assert_eq!(bare(s, &tokens(s)), None, "{s}");
        }
    }

    #[test]
    fn capitalised_words_before_a_street_number_are_a_name() {
        let s = "Maria Lopez 3302 Fenwick Ave";
        assert_eq!(before(s, &tokens(s), 2, false).map(|n| n.0).as_deref(), Some("Maria Lopez"));
        let s = "Ruth Siegel, 220 Prairie View Rd";
        assert_eq!(before(s, &tokens(s), 2, false).map(|n| n.0).as_deref(), Some("Ruth Siegel"));
        let s = "oh u might not have it, 7702 Ashford Ct";
        assert_eq!(before(s, &tokens(s), 6, false), None);
    }
}
