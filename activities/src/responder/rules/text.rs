//! Tokens with their place in the original text, folded for matching, plus
//! the word lists the slot parsers share.

use crate::keywords::{fold, step_matches};

/// One word of a customer text.
#[derive(Debug, Clone)]
pub struct Tok<'a> {
    /// As written.
    pub raw: &'a str,
    /// Folded: lowercase, no accents, no apostrophes ("Don't" → "dont").
    pub norm: String,
    pub start: usize,
    pub end: usize,
    /// The separator after this word (", ", ". ", "" at the end).
    pub gap: &'a str,
}

impl Tok<'_> {
    pub fn is(&self, step: &str) -> bool {
        step_matches(step, &self.norm)
    }
    pub fn is_number(&self) -> bool {
        !self.norm.is_empty() && self.norm.chars().all(|c| c.is_ascii_digit())
    }
    pub fn has_digit(&self) -> bool {
        self.norm.chars().any(|c| c.is_ascii_digit())
    }
    pub fn capitalized(&self) -> bool {
        self.raw.chars().next().is_some_and(char::is_uppercase)
    }
    pub fn alphabetic(&self) -> bool {
        !self.norm.is_empty() && self.norm.chars().all(|c| c.is_alphabetic() || c == '-' || c == '.')
    }
    /// A sentence ends after this word ("St." and other abbreviations do not end one).
    pub fn ends_sentence(&self) -> bool {
        let g = self.gap;
        g.contains(['!', '?', '\n']) || (g.contains('.') && !self.is(ABBREVIATIONS))
    }
    /// A clause ends after this word (a sentence end, a comma, a colon...).
    pub fn ends_clause(&self) -> bool {
        self.ends_sentence() || self.gap.contains([',', ';', ':', '(', ')'])
    }
}

const ABBREVIATIONS: &str = "st|dr|ave|av|rd|ln|ct|apt|n|s|e|w|ne|nw|se|sw|mr|mrs|ms|jr|sr|blvd|pl|hwy|ste|no|mt|ft";

fn wordish(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(c, '\'' | '\u{2019}' | '#' | '&' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// Splits a text into words.
pub fn tokens(s: &str) -> Vec<Tok<'_>> {
    let mut out: Vec<Tok> = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (wordish(c), start) {
            (true, None) => start = Some(i),
            (false, Some(a)) => {
                out.extend(make_tok(s, a, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        out.extend(make_tok(s, a, s.len()));
    }
    let ends: Vec<usize> = out.iter().skip(1).map(|t| t.start).chain([s.len()]).collect();
    for (t, next) in out.iter_mut().zip(ends) {
        t.gap = s.get(t.end..next).unwrap_or("");
    }
    out
}

fn make_tok(s: &str, a: usize, b: usize) -> Option<Tok<'_>> {
    let quote = |c: char| c == '\'' || c == '\u{2019}';
    let whole = s.get(a..b)?;
    let raw = whole.trim_start_matches(quote);
    let start = a + (whole.len() - raw.len());
    let raw = raw.trim_end_matches(quote);
    let norm: String = fold(raw).chars().filter(|c| c.is_alphanumeric() || matches!(c, '#' | '&')).collect();
    (!norm.is_empty()).then(|| Tok { raw, norm, start, end: start + raw.len(), gap: "" })
}

/// Index ranges of the clauses (or sentences) of a token list.
pub fn pieces(toks: &[Tok], sentences: bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    for (i, t) in toks.iter().enumerate() {
        let end = if sentences { t.ends_sentence() } else { t.ends_clause() };
        if end || i + 1 == toks.len() {
            out.push((from, i + 1));
            from = i + 1;
        }
    }
    out
}

/// The original text from token `a` to token `b` (inclusive).
pub fn span<'a>(src: &'a str, toks: &[Tok], a: usize, b: usize) -> &'a str {
    match (toks.get(a), toks.get(b)) {
        (Some(x), Some(y)) if x.start <= y.end => src.get(x.start..y.end).unwrap_or(""),
        _ => "",
    }
}

pub fn norms<'t>(toks: &'t [Tok]) -> Vec<&'t str> {
    toks.iter().map(|t| t.norm.as_str()).collect()
}

/// Capitalises each word of an all-lowercase name ("sam k" → "Sam K").
pub fn title_case(s: &str) -> String {
    if s.chars().any(char::is_uppercase) {
        return s.to_owned();
    }
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words that are never part of a name or a city.
pub fn is_common(norm: &str) -> bool {
    COMMON.iter().any(|line| line.split(' ').any(|w| w == norm))
}

const COMMON: &[&str] = &[
    "a an the and or but if so of to in on at by for from with about as into over under up down out off than then",
    "i im ive id ill me my mine we were weve our us you your youre u ur he hes him his she shes her it its they them",
    "their this that these those there here what when where who why how which yes yeah yep yup no nope not ok okay",
    "thanks thank thx ty please pls plz hi hey hello sorry lol idk omg btw fyi sure just also too very really",
    "is are was be been being am do does did dont doesnt didnt have has had having can cant could would should will",
    "wont wouldnt shouldnt isnt arent wasnt get got getting gets go going gone come coming need needs want wants like",
    "one two three some any all every each other another more most much many few again still now soon asap today",
    "tomorrow tonight morning afternoon evening night week month day days time anytime whenever sometime later early",
    "monday tuesday wednesday thursday friday saturday sunday weekday weekend next last same place address name",
    "ac air heat heater heating furnace boiler unit system thermostat vents vent duct ducts fan water hot cold warm",
    "cool cooling broken working work fixed fix noise leak leaking smell gas house home apartment upstairs downstairs",
    "emergency urgent rush hurry flexible fine good great bad new old call text number phone guys yall gonna wanna",
    "hola buenas buenos tardes dias gracias por favor si el la los las de del que mi en es un una con para se lo no",
    "tengo aire agua caliente manana hoy tarde noche casa nombre llamo soy yo usted ustedes ya muy bien",
    "husband wife son daughter mom dad mother father landlord tenant brother sister wifes husbands again only",
    "freezing boiling terrible awful horrible crazy unbearable miserable humid quiet ridiculous frustrating annoying",
    "important serious insane ready done over better worse stuck free busy available off",
    "whatever nah maybe quickly perfect awesome excellent wonderful bye cheers cool nice sounds lol hmm yea",
    "worried strong windows opened one ones room hallway basement garage kitchen attic closet outside inside",
];

/// Counts words typical of Spanish and of English (capitalised words other
/// than a sentence's first are skipped: they are names and places).
pub fn language_votes(toks: &[Tok]) -> (usize, usize) {
    const ES: &str = "hola|buenas|buenos|tardes|dias|gracias|por|favor|tengo|tiene|aire|acondicionado|enfria|calefaccion|agua|caliente|manana|hoy|despues|llamo|nombre|necesito|funciona|esta|el|la|los|las|de|que|mi|en|es|una|con|para|posible|antes|lo|se|muy|cuanto|cuesta|precio|pero|noche|semana|urgente|emergencia|sirve|prende|calienta|desde|ayer|usted|puede|pueden|quiero|hace|ruido|casa|llamen|alguien|eres|un|soy|estoy|hay|son|como|donde|cuando|quien|bien|necesita|pueden|ustedes|funcionando|mucho|frio|calor|gracias";
    const EN: &str = "the|is|my|and|it|its|not|to|of|on|in|with|we|you|your|i|im|have|has|need|want|please|pls|thanks|hi|hey|yes|working|cooling|heat|ac|house|today|tomorrow|tmrw|morning|afternoon|asap|soon|rush|name|can|do|dont|isnt|wont|just|out|at|for|be|this|that|what|when|how|whenever|next|week|anytime|any|no";
    let mut es = 0;
    let mut en = 0;
    for (i, t) in toks.iter().enumerate() {
        let first = i == 0 || toks.get(i - 1).is_some_and(Tok::ends_sentence);
        if t.capitalized() && !first && t.norm != "i" {
            continue;
        }
        if t.is(ES) {
            es += 1;
        } else if t.is(EN) {
            en += 1;
        }
    }
    (es, en)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_their_place_and_separator() {
        let s = "Hi, I’m Jo. 419 N Oak St. Apt #2!";
        let t = tokens(s);
        let n: Vec<_> = t.iter().map(|t| t.norm.as_str()).collect();
        assert_eq!(n, ["hi", "im", "jo", "419", "n", "oak", "st", "apt", "#2"]);
        assert_eq!(t[1].raw, "I’m");
        assert!(t[2].ends_sentence() && !t[6].ends_sentence() && t[0].ends_clause());
        assert_eq!(span(s, &t, 3, 8), "419 N Oak St. Apt #2");
    }

    #[test]
    fn clauses_and_sentences_split_on_punctuation() {
        let t = tokens("furnace wont start, it clicks. call me");
        assert_eq!(pieces(&t, false), vec![(0, 3), (3, 5), (5, 7)]);
        assert_eq!(pieces(&t, true), vec![(0, 5), (5, 7)]);
    }

    #[test]
    fn lowercase_names_are_title_cased_and_others_kept() {
        assert_eq!(title_case("sam k"), "Sam K");
        assert_eq!(title_case("Frank DeLuca"), "Frank DeLuca");
    }

    #[test]
    fn spanish_and_english_words_are_counted_apart_from_names() {
        let (es, en) = language_votes(&tokens("hola, el aire acondicionado no enfría"));
        assert!(es > en);
        let (es, en) = language_votes(&tokens("its at 4510 Calle Del Sol, El Paso"));
        assert!(en >= es);
    }
}
