//! The service address: a street number and street words ending in a street
//! type, then a unit, city, state and ZIP, kept as written.

use super::text::{is_common, span, Tok};

const STREET_TYPES: &str = "st|street|ave|av|avenue|rd|road|dr|drive|ln|lane|ct|court|blvd|boulevard|way|pl|place|trl|trail|pkwy|parkway|hwy|highway|cir|circle|ter|terrace|loop|pike|sq|square|run|path|cv|cove|xing|crossing|aly|alley|bnd|bend|row|walk|pt|point|plz|plaza";
const PREFIX_TYPES: &str = "calle|avenida|camino|paseo|carretera|via";
const DIRECTIONS: &str = "n|s|e|w|ne|nw|se|sw|north|south|east|west";
const UNITS: &str = "apt|apartment|unit|ste|suite|bldg|building|lot|fl|floor|rm|room|no|space|spc";
const NOT_STREET: &str = "at|the|in|on|and|is|are|to|of|for|with|my|our|a|it|its|we|i|or|but|so|if|by|like|about|min|mins|minutes|hours|hrs|years|yrs|times|degrees|days|weeks";
const STATES: &str = "al|ak|az|ar|ca|co|ct|de|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|nh|nj|nm|ny|nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy|dc";

/// An address found in a text: its words run from token `first` to `last`;
/// `number` is the street number's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub value: String,
    pub first: usize,
    pub number: usize,
    pub last: usize,
}

/// Finds an address. `asked`: we just asked for it (lowercase city words and
/// a missing street type are then accepted). `city_first`: words before the
/// number may be a city ("Dearborn, 2219 Reuter St").
pub fn extract(src: &str, toks: &[Tok], asked: bool, city_first: bool) -> Option<Found> {
    if asked {
        if let Some(f) = same_as_before(src, toks) {
            return Some(f);
        }
    }
    (0..toks.len()).find_map(|i| at(src, toks, i, asked, city_first))
}

/// "same address as last time" stays as written.
fn same_as_before(src: &str, toks: &[Tok]) -> Option<Found> {
    let i = toks.iter().position(|t| t.is("same"))?;
    let place = toks.get(i + 1).is_some_and(|t| t.is("address|place|house|location|one|spot"));
    if !place {
        return None;
    }
    let mut last = i + 1;
    while last + 1 < toks.len() && !toks[last].ends_clause() {
        last += 1;
    }
    Some(Found { value: span(src, toks, i, last).to_owned(), first: i, number: i, last })
}

fn house_number(toks: &[Tok], i: usize) -> bool {
    let t = &toks[i];
    let digits = t.norm.chars().take_while(char::is_ascii_digit).count();
    let suffix_ok = t.norm.len() == digits || (t.norm.len() == digits + 1 && t.norm.ends_with(char::is_alphabetic));
    let after_unit = i > 0 && toks[i - 1].is(UNITS);
    (1..=6).contains(&digits) && suffix_ok && !after_unit && !t.gap.starts_with(':')
}

fn at(src: &str, toks: &[Tok], i: usize, asked: bool, city_first: bool) -> Option<Found> {
    if !house_number(toks, i) {
        return None;
    }
    let street_end = street(toks, i).or_else(|| (asked).then(|| bare_street(toks, i)).flatten())?;
    let mut last = tail(toks, street_end, asked);
    while last > i && toks[last].is("and|the|at") {
        last -= 1;
    }
    let first = if city_first { city_before(toks, i).unwrap_or(i) } else { i };
    let value = span(src, toks, first, last).trim_end_matches([',', '.', ' ']).to_owned();
    Some(Found { value, first, number: i, last })
}

/// The index of the street type ending the street, if one follows the number.
fn street(toks: &[Tok], i: usize) -> Option<usize> {
    if toks.get(i + 1).is_some_and(|t| t.is(PREFIX_TYPES)) {
        let mut end = i + 1;
        while end + 1 < toks.len() && end < i + 5 && !toks[end].ends_clause() {
            end += 1;
        }
        return Some(end);
    }
    let mut found = None;
    for (k, t) in toks.iter().enumerate().take(i + 7).skip(i + 1) {
        let wordy = t.alphabetic()
            || t.norm.ends_with("st")
            || t.norm.ends_with("nd")
            || t.norm.ends_with("rd")
            || t.norm.ends_with("th");
        if !wordy || t.is(NOT_STREET) {
            break;
        }
        if t.is(STREET_TYPES) && k > i + 1 {
            found = Some(k);
        }
        if t.ends_clause() {
            break;
        }
    }
    found
}

/// Without a street type: "123 Main" when the address was asked for.
fn bare_street(toks: &[Tok], i: usize) -> Option<usize> {
    let mut end = i;
    while end + 1 < toks.len() && end < i + 3 && !toks[end].ends_clause() && toks[end + 1].capitalized() {
        end += 1;
    }
    (end > i).then_some(end)
}

/// After the street: route number, direction, unit, then city, state and ZIP.
fn tail(toks: &[Tok], mut last: usize, asked: bool) -> usize {
    let next = |k: usize| toks.get(k);
    if !toks[last].ends_clause() && next(last + 1).is_some_and(|t| t.is_number() && t.norm.len() <= 4) {
        last += 1;
    }
    while !toks[last].ends_clause() && next(last + 1).is_some_and(|t| t.is(DIRECTIONS) && t.raw.len() <= 2) {
        last += 1;
    }
    for _ in 0..2 {
        if toks[last].ends_sentence() {
            return last;
        }
        match next(last + 1) {
            Some(t) if t.norm.starts_with('#') => last += 1,
            Some(t) if t.is(UNITS) && next(last + 2).is_some_and(|u| u.has_digit() || u.norm.len() <= 2) => last += 2,
            _ => break,
        }
    }
    let mut words = 0;
    while words < 5 && !toks[last].ends_sentence() {
        let Some(t) = next(last + 1) else { break };
        let zip = t.is_number() && (t.norm.len() == 5 || t.norm.len() == 9);
        let state = t.is(STATES) && t.raw.len() == 2 && (t.raw.chars().all(char::is_uppercase) || asked);
        let named = !is_common(&t.norm) || next(last + 2).is_some_and(|n| n.capitalized() && n.alphabetic());
        let city = t.alphabetic()
            && super::time::expand(&t.norm).is_none()
            && ((t.capitalized() && named) || (asked && !is_common(&t.norm)));
        if !(zip || state || city) {
            break;
        }
        last += 1;
        words += 1;
    }
    last
}

/// A city written before the street ("Dearborn, 2219 Reuter St").
fn city_before(toks: &[Tok], i: usize) -> Option<usize> {
    let mut a = i;
    while a > 0 && !toks[a - 1].ends_sentence() {
        a -= 1;
    }
    let words = &toks[a..i];
    let ok = !words.is_empty()
        && words.len() <= 3
        && words.iter().all(|t| t.alphabetic() && !is_common(&t.norm))
        && words.last().is_some_and(|t| t.gap.contains(','));
    ok.then_some(a)
}

#[cfg(test)]
mod tests {
    use super::super::text::tokens;
    use super::*;

    fn addr(s: &str) -> Option<String> {
        extract(s, &tokens(s), false, false).map(|f| f.value)
    }

    #[test]
    fn street_unit_city_state_and_zip_are_kept_as_written() {
        for s in [
            "2215 Cedar Hollow Dr, Round Rock 78664",
            "5530 Bellevue Way NE unit 12, Bellevue WA",
            "77 washington ave #4",
            "1045 Pinecrest Rd Lakeland FL 33810",
            "2907 Quail Run Dr, Mesa AZ 85213",
            "4481 County Rd 12, Millbrook AL",
            "1200 W 5th St #B, Tempe",
            "4510 Calle del Sol, El Paso TX 79938",
            "1518 Magnolia St Apt 4C, Houston TX 77006",
            "61 Harvard St Apt 1 Brookline",
            "14 elm st",
        ] {
            assert_eq!(addr(s).as_deref(), Some(s), "{s}");
        }
    }

    #[test]
    fn the_address_ends_where_the_sentence_or_the_address_words_end() {
        let s = "I'm Jessica Moreno and we're at 2907 Quail Run Dr, Mesa AZ 85213. Gate code is 4471.";
        assert_eq!(addr(s).as_deref(), Some("2907 Quail Run Dr, Mesa AZ 85213"));
        let s = "Karen, 419 N Oak St Apt 2, Springfield 62702. Anytime tomorrow after 1pm works.";
        assert_eq!(addr(s).as_deref(), Some("419 N Oak St Apt 2, Springfield 62702"));
        let s = "Tom Brennan 61 Harvard St Apt 1 Brookline";
        assert_eq!(
            extract(s, &tokens(s), false, false).map(|f| (f.value, f.number)),
            Some(("61 Harvard St Apt 1 Brookline".into(), 2))
        );
    }

    #[test]
    fn numbers_that_are_not_addresses_are_ignored() {
        for s in [
            "its 88 in the house",
            "we have 2 systems (up and down)",
            "I called you guys 3 TIMES today",
            "keeps stopping after like 5 min",
            "both are 22 yrs old",
            "Gate code is 4471",
            "tuesday at 10",
            "sorry I meant 124 not 142",
        ] {
            assert_eq!(addr(s), None, "{s}");
        }
    }

    #[test]
    fn a_city_first_and_same_as_last_time_are_kept_when_the_address_was_asked() {
        let s = "Dearborn, 2219 Reuter St";
        assert_eq!(extract(s, &tokens(s), true, true).map(|f| f.value).as_deref(), Some(s));
        let s = "same address as last time";
        assert_eq!(extract(s, &tokens(s), true, false).map(|f| f.value).as_deref(), Some(s));
        let s = "123 Main";
        assert_eq!(extract(s, &tokens(s), true, false).map(|f| f.value).as_deref(), Some(s));
    }
}
