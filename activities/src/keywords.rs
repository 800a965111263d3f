//! Opt-out, opt-in and help keywords in customer texts, checked before any
//! reply is written.
//!
//! Carrier keywords (Twilio's defaults) only count as the whole message, in any
//! case, with punctuation, spaces or emoji around them ("Stop.", "STOP 🛑").
//! Revocation "in any reasonable manner" (FCC 24-24) also covers plain words:
//! "stop texting me", "wrong number", "remove me from your list"; those are
//! `OptOutReason::NaturalLanguage`. A word inside a sentence is never enough:
//! "cancel my appointment", "the noise won't stop" and "ac quit on us" are not
//! opt-outs.
//!
//! Opt-in is START or UNSTOP only. Twilio also treats YES as an opt-in, but our
//! first text asks "How can we help?", so a "yes" is an answer to it, never a
//! resubscription; a bare emoji carries no intent at all.

/// What a customer text asks of the messaging layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyword {
    OptOut { reason: OptOutReason },
    OptIn,
    Help,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptOutReason {
    /// The canonical carrier keyword, e.g. "STOP" ("opt out" → "OPTOUT").
    Keyword(String),
    /// A plain-language revocation: "stop_texting", "dont_text", "wrong_number",
    /// "remove_me", "leave_me_alone" or "not_interested".
    NaturalLanguage(&'static str),
}

const OPT_OUT: &[&str] = &["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"];
const OPT_IN: &[&str] = &["start", "unstop"];
const HELP: &[&str] = &["help", "info", "ayuda"];
/// Spanish single-word revocations, treated as natural language.
const ES_STOP: &[&str] = &["alto", "parar", "basta", "baja"];
/// Words that may surround a bare "stop" without changing its meaning.
const POLITE: &[&str] =
    &["please", "pls", "plz", "now", "it", "ok", "okay", "just", "thanks", "thank", "you", "ya", "por", "favor"];

/// Classifies one inbound text.
pub fn classify(body: &str) -> Keyword {
    let words = words(body);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    if let Some(k) = whole_message(&w) {
        return k;
    }
    match natural_opt_out(&w) {
        Some(reason) => Keyword::OptOut { reason: OptOutReason::NaturalLanguage(reason) },
        None => Keyword::None,
    }
}

fn whole_message(w: &[&str]) -> Option<Keyword> {
    let joined = match w {
        [one, rest @ ..] if rest.iter().all(|r| r == one) => (*one).to_owned(),
        ["opt", "out"] => "optout".to_owned(),
        ["stop", "all"] => "stopall".to_owned(),
        _ => return None,
    };
    let j = joined.as_str();
    if OPT_OUT.contains(&j) {
        Some(Keyword::OptOut { reason: OptOutReason::Keyword(j.to_uppercase()) })
    } else if OPT_IN.contains(&j) {
        Some(Keyword::OptIn)
    } else if HELP.contains(&j) {
        Some(Keyword::Help)
    } else if ES_STOP.contains(&j) {
        Some(Keyword::OptOut { reason: OptOutReason::NaturalLanguage("stop_texting") })
    } else {
        None
    }
}

const TEXTING: &str =
    "text|texts|texting|txt|txts|txting|msg|msgs|message|messages|messaging|sms|contacting|spamming|bugging|bothering";

fn natural_opt_out(w: &[&str]) -> Option<&'static str> {
    let short_stop = w.len() <= 4 && w.contains(&"stop") && w.iter().all(|x| *x == "stop" || POLITE.contains(x));
    if short_stop || near(w, "stop|quit|cease", TEXTING, 3).is_some() || seq(w, "stop sending me|these|those").is_some()
    {
        return Some("stop_texting");
    }
    if seq(w, "no more|mas texts|text|messages|msgs|texting|mensajes").is_some() {
        return Some("stop_texting");
    }
    let dont = "dont|never text|txt|message|msg|contact|sms|email me|us|again|anymore";
    if seq(w, dont).is_some() || seq(w, "do not text|txt|message|msg|contact|sms me|us|again|anymore").is_some() {
        return Some("dont_text");
    }
    if seq(w, "no me escriban|escribas|escriba|manden|envien|contacten|molesten").is_some()
        || seq(w, "deja|dejen|dejar de escribir*|mandar*|enviar*|molestar*").is_some()
    {
        return Some("dont_text");
    }
    if wrong_number(w) {
        return Some("wrong_number");
    }
    if remove_me(w) {
        return Some("remove_me");
    }
    if seq(w, "leave me|us alone").is_some() || seq(w, "dejame|dejenme en paz").is_some() {
        return Some("leave_me_alone");
    }
    let not_interested = seq(w, "not interested").is_some_and(|i| w.get(i + 2) != Some(&"in"));
    if not_interested || seq(w, "no estoy interesad*").is_some() || seq(w, "no me interesa").is_some() {
        return Some("not_interested");
    }
    None
}

fn wrong_number(w: &[&str]) -> bool {
    let said = seq(w, "wrong number|num|person|phone").is_some() || seq(w, "numero equivocado").is_some();
    // "I gave you the wrong number, it's 124": a correction, not a misdial.
    let correction = w.iter().any(|x| x.chars().any(|c| c.is_ascii_digit()))
        || seq(w, "i gave|typed|put|wrote|sent|entered").is_some();
    said && !correction
}

fn remove_me(w: &[&str]) -> bool {
    let list = "list|texts|text|messages|messaging|contacts|database|system|number";
    let from_list = near(w, "remove|take|delete|erase|drop", list, 5).is_some()
        && (seq(w, "remove|take|delete|erase|drop me|us|my").is_some());
    let at_end = matches!(w, [.., "remove" | "delete", "me"] | [.., "take", "me", "off"]);
    from_list
        || at_end
        || w.contains(&"unsubscribe")
        || seq(w, "opt me out").is_some()
        || seq(w, "opt out").is_some()
        || seq(w, "lose|delete|remove|erase my number").is_some()
        || seq(w, "borren|borrar|eliminen mi numero").is_some()
        || seq(w, "de baja").is_some()
}

/// Folds text for matching: lowercase, accents removed, full-width and
/// mathematical letters mapped to ASCII, zero-width characters dropped and
/// curly apostrophes made straight (a hand-made NFKC subset, no dependency).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match fold_char(c) {
            Some(f) => out.extend(f.to_lowercase()),
            None => continue,
        }
    }
    out
}

fn fold_char(c: char) -> Option<char> {
    let cp = u32::from(c);
    let mapped = match cp {
        0x200b..=0x200f | 0x2060..=0x2064 | 0xfeff | 0xad | 0x180e | 0xfe00..=0xfe0f => return None,
        0xff01..=0xff5e => char::from_u32(cp - 0xfee0),
        0x3000 => Some(' '),
        0x2018 | 0x2019 | 0x2032 | 0x60 | 0xb4 => Some('\''),
        0x1d400..=0x1d6a3 => letter((cp - 0x1d400) % 52),
        0x1d7ce..=0x1d7ff => char::from_u32(u32::from('0') + (cp - 0x1d7ce) % 10),
        0x24b6..=0x24cf => char::from_u32(u32::from('a') + cp - 0x24b6),
        0x24d0..=0x24e9 => char::from_u32(u32::from('a') + cp - 0x24d0),
        _ => Some(strip_accent(c)),
    };
    mapped.or(Some(c))
}

fn letter(i: u32) -> Option<char> {
    if i < 26 {
        char::from_u32(u32::from('A') + i)
    } else {
        char::from_u32(u32::from('a') + i - 26)
    }
}

fn strip_accent(c: char) -> char {
    const FROM: &str = "àáâãäåÀÁÂÃÄÅçÇèéêëÈÉÊËìíîïÌÍÎÏñÑòóôõöÒÓÔÕÖùúûüÙÚÛÜýÿÝ";
    const TO: &str = "aaaaaaAAAAAAcCeeeeEEEEiiiiIIIInNoooooOOOOOuuuuUUUUyyY";
    FROM.chars().position(|f| f == c).and_then(|i| TO.chars().nth(i)).unwrap_or(c)
}

/// The folded words of a text: runs of letters and digits, apostrophes removed
/// ("don't" → "dont"), everything else a separator.
pub fn words(s: &str) -> Vec<String> {
    let folded: String = fold(s).chars().filter(|c| *c != '\'').collect();
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// Finds a word sequence. `pat` is space-separated steps; a step lists
/// alternatives with `|`, and an alternative ending in `*` matches a prefix.
pub(crate) fn seq(w: &[&str], pat: &str) -> Option<usize> {
    let steps: Vec<&str> = pat.split(' ').collect();
    if steps.is_empty() || w.len() < steps.len() {
        return None;
    }
    (0..=w.len() - steps.len()).find(|&i| steps.iter().enumerate().all(|(k, step)| step_matches(step, w[i + k])))
}

/// A word matching `a` followed within `gap` words by one matching `b`.
pub(crate) fn near(w: &[&str], a: &str, b: &str, gap: usize) -> Option<usize> {
    w.iter().enumerate().find_map(|(i, x)| {
        let hit = step_matches(a, x) && w.iter().skip(i + 1).take(gap).any(|y| step_matches(b, y));
        hit.then_some(i)
    })
}

pub(crate) fn step_matches(step: &str, word: &str) -> bool {
    step.split('|').any(|alt| match alt.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => alt == word,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw(s: &str) -> OptOutReason {
        OptOutReason::Keyword(s.into())
    }
    fn nl(s: &'static str) -> OptOutReason {
        OptOutReason::NaturalLanguage(s)
    }
    fn opt_out(body: &str) -> Option<OptOutReason> {
        match classify(body) {
            Keyword::OptOut { reason } => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn every_carrier_opt_out_keyword_counts_as_the_whole_message_in_any_case() {
        for k in ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"] {
            assert_eq!(opt_out(k), Some(kw(k)), "{k}");
            assert_eq!(opt_out(&k.to_lowercase()), Some(kw(k)), "{k}");
        }
        assert_eq!(opt_out("opt out"), Some(kw("OPTOUT")));
        assert_eq!(opt_out("Opt-Out"), Some(kw("OPTOUT")));
    }

    #[test]
    fn punctuation_spaces_and_emoji_around_a_keyword_are_ignored() {
        for body in ["Stop.", " stop!! ", "STOP 🛑", "\"stop\"", "Stop\n", "🛑STOP🛑", "stop stop"] {
            assert_eq!(opt_out(body), Some(kw("STOP")), "{body:?}");
        }
    }

    #[test]
    fn full_width_mathematical_and_zero_width_forms_are_recognised() {
        assert_eq!(opt_out("ＳＴＯＰ"), Some(kw("STOP")));
        assert_eq!(opt_out("S\u{200b}TOP"), Some(kw("STOP")));
        assert_eq!(opt_out("\u{feff}stop\u{200d}"), Some(kw("STOP")));
        assert_eq!(opt_out("𝐒𝐓𝐎𝐏"), Some(kw("STOP")));
        assert_eq!(classify("ＨＥＬＰ"), Keyword::Help);
    }

    #[test]
    fn start_and_unstop_opt_in_but_yes_and_emoji_never_do() {
        assert_eq!(classify("START"), Keyword::OptIn);
        assert_eq!(classify("unstop"), Keyword::OptIn);
        for body in ["yes", "YES", "Yes!", "👍", "🥵🥵🥵", "y", "ok"] {
            assert_eq!(classify(body), Keyword::None, "{body}");
        }
    }

    #[test]
    fn help_and_info_are_help_only_as_the_whole_message() {
        for body in ["HELP", "Help?", "help", "INFO", "info.", "Ayuda"] {
            assert_eq!(classify(body), Keyword::Help, "{body}");
        }
        assert_eq!(classify("help me my ac is broken"), Keyword::None);
        assert_eq!(classify("can you help"), Keyword::None);
    }

    #[test]
    fn natural_language_revocations_are_opt_outs_with_a_reason() {
        let cases = [
            ("stop texting me", "stop_texting"),
            ("please stop messaging me", "stop_texting"),
            ("pls stop", "stop_texting"),
            ("Stop sending me these", "stop_texting"),
            ("no more texts", "stop_texting"),
            ("don't text me", "dont_text"),
            ("Do not contact me again", "dont_text"),
            ("wrong number", "wrong_number"),
            ("you have the wrong number", "wrong_number"),
            ("oh wrong number sorry", "wrong_number"),
            ("remove me from your list", "remove_me"),
            ("and pls remove me from this list", "remove_me"),
            ("take me off your list", "remove_me"),
            ("unsubscribe me", "remove_me"),
            ("how do i opt out", "remove_me"),
            ("leave me alone", "leave_me_alone"),
            ("not interested", "not_interested"),
            ("no me escriban más", "dont_text"),
            ("número equivocado", "wrong_number"),
            ("ALTO", "stop_texting"),
            ("actually my brother in law is coming to look at it, pls stop texting me", "stop_texting"),
        ];
        for (body, reason) in cases {
            assert_eq!(opt_out(body), Some(nl(reason)), "{body}");
        }
    }

    #[test]
    fn keywords_inside_ordinary_sentences_are_not_opt_outs() {
        for body in [
            "Cancel my appointment",
            "can you cancel the visit",
            "stop by tomorrow",
            "the noise won't stop",
            "the end of the street",
            "it started leaking",
            "I want to cancel and reschedule",
            "ac quit on us, its blowing but not cold",
            "a/c keeps stopping after like 5 min",
            "ac stopped working",
            "I dont want to text, just call me back please",
            "not interested in a new system, just fix it",
            "sorry I gave you the wrong number, it's 124",
            "we already got it fixed thanks",
            "Hi! I help HVAC companies get 30+ new leads/month with Google Ads. Free audit? Reply YES",
            "start it up tomorrow",
            "the information you sent",
        ] {
            assert_eq!(opt_out(body), None, "{body}");
        }
    }

    #[test]
    fn every_corpus_turn_is_classified_as_labelled() {
        let corpus = include_str!("../../tests/corpus/conversations-dev.jsonl");
        for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
            let c: serde_json::Value = serde_json::from_str(line).unwrap();
            let at = |k: &str| c["expect"][k].as_u64().map(|n| n as usize);
            for (i, turn) in c["turns"].as_array().unwrap().iter().enumerate() {
                let got = classify(turn.as_str().unwrap());
                let want_opt_out = at("opt_out_at_turn") == Some(i);
                assert_eq!(matches!(got, Keyword::OptOut { .. }), want_opt_out, "{} turn {i}: {got:?}", c["id"]);
                assert_eq!(got == Keyword::Help, at("help_at_turn") == Some(i), "{} turn {i}: {got:?}", c["id"]);
                assert_ne!(got, Keyword::OptIn, "{} turn {i}", c["id"]);
            }
        }
    }

    #[test]
    fn folding_lowercases_strips_accents_and_straightens_apostrophes() {
        assert_eq!(fold("Número Equivocado – DON’T"), "numero equivocado – don't");
        assert_eq!(words("don’t   text, me!"), vec!["dont", "text", "me"]);
    }

    #[test]
    fn sequence_patterns_support_alternatives_and_prefixes() {
        let w = ["please", "stop", "texting", "me"];
        assert_eq!(seq(&w, "stop|quit text*"), Some(1));
        assert_eq!(seq(&w, "stop me"), None);
        assert_eq!(near(&w, "please", "me", 3), Some(0));
        assert_eq!(near(&w, "please", "me", 2), None);
    }
}
