//! GSM-7 normalisation: one curly quote turns a whole SMS into UCS-2 (70
//! characters a segment instead of 160), so typographic characters are mapped
//! to their plain forms and anything still outside GSM-7 is dropped.

/// GSM 03.38 basic set plus the extension table (which costs two septets).
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€";

pub fn is_gsm7(s: &str) -> bool {
    s.chars().all(|c| GSM7.contains(c))
}

/// Maps typographic characters to GSM-7 and removes what cannot be mapped (emoji).
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' | '`' | '´' => out.push('\''),
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' | '«' | '»' => out.push('"'),
            '\u{2013}' | '\u{2014}' | '\u{2012}' | '\u{2212}' | '\u{2010}' | '\u{2011}' => out.push('-'),
            '\u{2026}' => out.push_str("..."),
            '\u{a0}' | '\u{2002}' | '\u{2003}' | '\u{2009}' | '\u{202f}' | '\t' => out.push(' '),
            '•' | '·' => out.push('-'),
            c if GSM7.contains(c) => out.push(c),
            c if c.is_alphabetic() => out.push(c),
            _ => {}
        }
    }
    collapse_spaces(&out)
}

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(c);
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typographic_punctuation_becomes_plain() {
        assert_eq!(normalize("We’re “on it” — soon…"), "We're \"on it\" - soon...");
        assert!(is_gsm7(&normalize("We’re “on it” — soon…")));
    }

    #[test]
    fn emoji_and_controls_are_removed() {
        assert_eq!(normalize("Thanks! 🔥👍 See you\u{200b} soon"), "Thanks! See you soon");
    }

    #[test]
    fn non_latin_letters_are_kept_not_dropped() {
        // Spanish stays GSM-7; letters outside it are kept (UCS-2 beats losing words).
        assert_eq!(normalize("¿Cuándo?"), "¿Cuándo?");
    }
}
