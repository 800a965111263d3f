//! Explicit corrections of what we already know: "sorry I meant 124 not 142",
//! "wait no wednesday same time", "actually it's Tuesday".

use super::text::{tokens, Tok};
use super::time::{self, Kind, Mode};
use crate::responder::LeadFacts;

/// The text says it corrects something.
pub fn marker(toks: &[Tok]) -> bool {
    toks.iter().any(|t| t.is("sorry|sry|meant|actually|oops|wait|correction|typo|mean|perdon|quise"))
}

/// Corrected fields and their new values.
pub fn corrections(src: &str, toks: &[Tok], known: &LeadFacts) -> Vec<(&'static str, String)> {
    if let Some(fix) = swap(toks, known) {
        return vec![fix];
    }
    let mut out = Vec::new();
    if marker(toks) {
        out.extend(weekday(src, toks, known));
        out.extend(meant_number(toks, known));
    }
    out
}

fn fields(known: &LeadFacts) -> [(&'static str, Option<&String>); 3] {
    [
        ("address", known.address.as_ref()),
        ("preferred_time", known.preferred_time.as_ref()),
        ("name", known.name.as_ref()),
    ]
}

/// "124 not 142", "not 142, 124", "not 142 but 124", "Jon not John".
fn swap(toks: &[Tok], known: &LeadFacts) -> Option<(&'static str, String)> {
    let has_marker = marker(toks);
    for (i, t) in toks.iter().enumerate() {
        if t.norm != "not" {
            continue;
        }
        let before = i.checked_sub(1).and_then(|p| toks.get(p));
        let after = toks.get(i + 1);
        let later = toks.get(i + 2).filter(|x| !x.is("but|its|it")).or_else(|| toks.get(i + 3));
        let pairs = [(before, after), (later, after)];
        for (new, old) in pairs {
            let (Some(new), Some(old)) = (new, old) else { continue };
            if !comparable(new, old, has_marker) {
                continue;
            }
            for (field, value) in fields(known) {
                if let Some(fixed) = value.and_then(|v| replace_word(v, &old.norm, word(new))) {
                    return Some((field, fixed));
                }
            }
        }
    }
    None
}

fn word<'a>(t: &'a Tok) -> &'a str {
    time::expand(&t.norm).unwrap_or(t.raw)
}

fn comparable(a: &Tok, b: &Tok, has_marker: bool) -> bool {
    let weekday = |t: &Tok| time::kind(std::slice::from_ref(t), 0, true) == Some(Kind::Weekday);
    (a.is_number() && b.is_number())
        || (weekday(a) && weekday(b))
        || (has_marker && a.capitalized() && b.capitalized() && a.alphabetic() && b.alphabetic())
}

/// Replaces the word whose folded form is `old` (text-speak expanded) in `value`.
pub fn replace_word(value: &str, old: &str, new: &str) -> Option<String> {
    let old = time::expand(old).unwrap_or(old);
    let t = tokens(value).into_iter().find(|t| time::expand(&t.norm).unwrap_or(&t.norm) == old)?;
    Some(format!("{}{}{}", &value[..t.start], new, &value[t.end..]))
}

/// A different day for the known time ("wait no wednesday same time").
fn weekday(src: &str, toks: &[Tok], known: &LeadFacts) -> Option<(&'static str, String)> {
    let old = known.preferred_time.as_ref()?;
    let day = (0..toks.len()).find(|&i| time::kind(toks, i, true) == Some(Kind::Weekday))?;
    let old_toks = tokens(old);
    let old_day =
        (0..old_toks.len()).find(|&i| matches!(time::kind(&old_toks, i, true), Some(Kind::Weekday | Kind::Day)))?;
    let new_word = word(&toks[day]);
    if word(&old_toks[old_day]) == new_word {
        return None;
    }
    let same_time = toks.windows(2).any(|p| p[0].norm == "same" && p[1].norm == "time");
    let full = (0..toks.len()).any(|i| matches!(time::kind(toks, i, true), Some(Kind::Part | Kind::Clock)));
    if full && !same_time {
        return time::extract(src, toks, Mode::Asked).map(|t| ("preferred_time", t));
    }
    replace_word(old, &old_toks[old_day].norm, new_word).map(|t| ("preferred_time", t))
}

/// "sorry, I meant 124": a new street number.
fn meant_number(toks: &[Tok], known: &LeadFacts) -> Option<(&'static str, String)> {
    let i = toks.iter().position(|t| t.is("meant|mean"))?;
    let new = toks[i + 1..].iter().find(|t| t.is_number())?;
    let address = known.address.as_ref()?;
    let old = tokens(address).into_iter().find(|t| t.is_number())?;
    (old.norm != new.norm).then(|| ("address", format!("{}{}", new.raw, &address[old.end..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> LeadFacts {
        LeadFacts {
            name: Some("John Smith".into()),
            address: Some("142 Whitmore Ln".into()),
            preferred_time: Some("tuesday at 10".into()),
            ..LeadFacts::default()
        }
    }
    fn fix(s: &str) -> Vec<(&'static str, String)> {
        corrections(s, &tokens(s), &known())
    }

    #[test]
    fn a_number_swap_corrects_the_field_that_had_the_old_number() {
        assert_eq!(fix("sorry I meant 124 not 142"), vec![("address", "124 Whitmore Ln".to_owned())]);
        assert_eq!(fix("not 142, 124"), vec![("address", "124 Whitmore Ln".to_owned())]);
        assert_eq!(fix("oops its 12 not 10"), vec![("preferred_time", "tuesday at 12".to_owned())]);
    }

    #[test]
    fn a_new_day_keeps_the_rest_of_the_time_unless_a_new_time_is_given() {
        let want = vec![("preferred_time", "wednesday at 10".to_owned())];
        assert_eq!(fix("wait no wednesday same time, tuesday i have work"), want);
        assert_eq!(fix("actually it's Wednesday"), vec![("preferred_time", "Wednesday at 10".to_owned())]);
        assert_eq!(
            fix("actually thursday afternoon works better"),
            vec![("preferred_time", "thursday afternoon".to_owned())]
        );
    }

    #[test]
    fn a_name_fix_needs_a_correction_word() {
        assert_eq!(fix("sorry, Jon not John"), vec![("name", "Jon Smith".to_owned())]);
        assert!(fix("Jon not John").is_empty());
    }

    #[test]
    fn ordinary_negations_change_nothing() {
        for s in
            ["its not cooling", "not an emergency but soon pls", "actually my brother in law is coming to look at it"]
        {
            assert!(fix(s).is_empty(), "{s}");
        }
    }
}
