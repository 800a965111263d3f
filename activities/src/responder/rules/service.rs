//! What the customer needs: the clauses that talk about their system, in
//! their words (an English summary first for Spanish), and a category.

use super::text::{pieces, span, Tok};
use crate::keywords::{near, seq};

const HVAC: &str = "ac|air|conditioner|conditioning|furnace|heat|heater|heaters|heating|pump|boiler|radiator*|thermostat*|vent|vents|duct*|unit|units|system|systems|compressor|condenser|coil*|fan|blower|filter*|pilot|freon|refrigerant|mini|split|ductless|minisplit|tankless|humidifier|dehumidifier|purifier*|tune|tuneup|maintenance|hvac|detector|monoxide|smell*|egg*|smoke|spark*|dust*|allerg*|mold|aire|acondicionado|calefaccion|calentador|clima|horno|caldera|termostato|ductos|mantenimiento|agua";
const PROBLEM: &str = "isnt|arent|wont|doesnt|cant|didnt|wasnt|wouldnt|broken|broke|stopped|stopping|quit|died|dead|leak*|noise|noisy|loud|buzz*|grind*|squeal*|squeak*|bang*|click*|rattl*|humm*|frozen|ice|iced|blowing|blows|warm|lukewarm|cold|weak|barely|blank|trip*|cycling|cycles|keeps|weird|acting|problem|issue|repair|fix|failing|stuck|beep*|pouring|soaked|enfria|calienta|funciona|sirve|prende|enciende|ruido|gotea";
const URGENCY: &str = "emergency|urgent|rush|hurry|asap|soon|flexible|whenever|emergencia|urgente|prisa";
const GUESS: &str = "prob|probably|maybe|might|guess|idk|think|capacitor";
const FILLER: &str = "yes|yeah|yep|hi|hey|hello|ok|okay|so|basically|well|um|also|anyway|hola|buenas|buenos|tardes|dias|si|oh|and|but|just";
const MAX_SERVICE_CHARS: usize = 120;

/// A word about equipment or problems (never part of a name).
pub fn is_service_word(norm: &str) -> bool {
    crate::keywords::step_matches(HVAC, norm) || crate::keywords::step_matches(PROBLEM, norm)
}

/// Whether a clause names the system, and whether it describes a problem.
fn relevant(c: &[Tok]) -> (bool, bool) {
    let problem = c.iter().any(|t| t.is(PROBLEM))
        || c.windows(2)
            .any(|p| p[0].norm == "not" && (p[1].norm.ends_with("ing") || p[1].is("on|cold|hot|cool|working")))
        || c.windows(2).any(|p| p[0].norm == "no" && p[1].is("heat|heating|air|ac|hot|calefaccion|tengo|hay|funciona"));
    let hvac = c.iter().any(|t| t.is(HVAC)) || c.windows(2).any(|p| p[0].norm == "a" && p[1].norm == "c");
    (hvac, problem)
}

/// The service description in a text, skipping clauses already used for
/// other slots (`used[i]`: token i is part of a name, address or time).
/// `loose`: we asked what's going on, so a problem without a system counts.
pub fn describe(src: &str, toks: &[Tok], used: &[bool], loose: bool) -> Option<String> {
    // (first word kept, clause start, clause end)
    let mut kept: Vec<(usize, usize, usize)> = Vec::new();
    for (a, b) in pieces(toks, false) {
        let clause = &toks[a..b];
        let taken = (a..b).any(|i| used.get(i).copied().unwrap_or(false));
        let (hvac, problem) = relevant(clause);
        if taken || clause.iter().any(|t| t.is(URGENCY)) || !(hvac || (problem && loose)) {
            continue;
        }
        let mut first = a;
        while first + 1 < b && toks[first].is(FILLER) {
            first += 1;
        }
        kept.push((first, a, b));
    }
    if kept.len() > 1 {
        kept.retain(|&(a, _, b)| !toks[a..b].iter().any(|t| t.is(GUESS)));
    }
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (first, a, b) in kept {
        match runs.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => runs.push((first, b)),
        }
    }
    let parts: Vec<&str> = runs.iter().map(|&(a, b)| span(src, toks, a, b - 1)).collect();
    let text = parts.join(", ");
    let text = text.trim_matches(|c: char| !c.is_alphanumeric() && c != ')');
    (!text.is_empty()).then(|| shorten(text, MAX_SERVICE_CHARS))
}

/// New details about a known service ("its not turning on at all"): a clause
/// with a problem, about the system (or any, when `loose`).
pub fn elaboration(src: &str, toks: &[Tok], used: &[bool], loose: bool) -> Option<String> {
    let new_problem = pieces(toks, false).into_iter().any(|(a, b)| {
        let c = &toks[a..b];
        let (hvac, problem) = relevant(c);
        let taken = (a..b).any(|i| used.get(i).copied().unwrap_or(false));
        problem && (hvac || loose) && !taken && !c.iter().any(|t| t.is(URGENCY))
    });
    new_problem.then(|| describe(src, toks, used, loose)).flatten()
}

/// Cuts at a word boundary, without a dangling "and" or "the".
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let cut: String = s.chars().take(max).collect();
    let mut words: Vec<&str> = cut.split(' ').collect();
    if words.len() > 1 {
        words.pop();
    }
    while words.len() > 1
        && words.last().is_some_and(|w| DANGLING.contains(&w.trim_end_matches(',').to_lowercase().as_str()))
    {
        words.pop();
    }
    words.join(" ").trim_end_matches([',', ' ', '.']).to_owned()
}

const DANGLING: &[&str] = &[
    "and", "or", "but", "the", "a", "an", "to", "of", "with", "it", "its", "is", "for", "so", "my", "our", "y", "el",
    "la", "de",
];

/// The category of a service description (`w`: its folded words).
pub fn category(w: &[&str]) -> &'static str {
    let has = |p: &str| seq(w, p).is_some();
    let problem = w.iter().any(|x| crate::keywords::step_matches(PROBLEM, x)) || has("not working|cooling|heating");
    if has("water heater") || has("hot water") || has("agua caliente") || has("calentador|tankless") {
        "water_heater"
    } else if has("install*|instal*|replac*|upgrade")
        || has("new ac|furnace|system|unit|heater|thermostat")
        || (!problem && (has("ductless|minisplit") || has("mini split")))
    {
        "installation"
    } else if near(w, "duct|ducts|ductos", "clean*", 2).is_some()
        || has("purifier*|humidifier|dehumidifier|allerg*|dust*|mold|ventilation")
        || has("air quality")
    {
        "air_quality"
    } else if !problem
        && (has("tune|tuneup|maintenance|mantenimiento|checkup|yearly|annual|inspection") || has("check up"))
    {
        "maintenance"
    } else {
        heating_or_cooling(w)
    }
}

fn heating_or_cooling(w: &[&str]) -> &'static str {
    let mut heat = 0;
    let mut cool = 0;
    for (i, x) in w.iter().enumerate() {
        let next = w.get(i + 1).copied().unwrap_or("");
        let step = |p: &str| crate::keywords::step_matches(p, x);
        if step("heat") && next == "pump" {
            continue;
        }
        if step("furnace|heater|heat|heating|boiler|radiator*|pilot|calefaccion|calienta|caldera|horno|baseboard|propane|co|monoxide|gas") {
            heat += 2;
        } else if step("ac|conditioner|conditioning|cooling|cool|freon|refrigerant|condenser|compressor|frozen|ice|iced|acondicionado|enfria|clima|coils") || (*x == "a" && next == "c") {
            cool += 2;
        } else if step("cold|vents|vent|airflow") {
            cool += 1;
        }
    }
    if heat > cool {
        "heating"
    } else if cool > 0 {
        "cooling"
    } else {
        "other"
    }
}

/// An English summary of a Spanish description ("el aire no enfría" → "AC not cooling").
pub fn english(w: &[&str]) -> String {
    let has = |p: &str| seq(w, p).is_some();
    if has("no tengo|hay agua caliente") || has("sin agua caliente") {
        return with_since(w, "no hot water".to_owned());
    }
    let subjects = [
        ("aire|clima|minisplit", "AC"),
        ("calefaccion", "heating"),
        ("horno", "furnace"),
        ("caldera", "boiler"),
        ("calentador", "water heater"),
        ("termostato", "thermostat"),
    ];
    let problems = [
        ("no enfria", "not cooling"),
        ("no calienta", "not heating"),
        ("no funciona|sirve", "not working"),
        ("no prende|enciende|arranca", "won't turn on"),
        ("ruido", "making noise"),
        ("gotea|fuga", "leaking water"),
        ("olor|huele a gas", "gas smell"),
        ("mantenimiento", "maintenance"),
        ("instalar|instalacion", "installation"),
    ];
    let subject = subjects.iter().find(|(p, _)| has(p)).map(|(_, e)| *e);
    let problem = problems.iter().find(|(p, _)| has(p)).map(|(_, e)| *e);
    let text = match (subject, problem) {
        (Some(s), Some(p)) => format!("{s} {p}"),
        (Some(s), None) => format!("{s} service"),
        (None, Some(p)) => p.to_owned(),
        (None, None) => "service request".to_owned(),
    };
    with_since(w, text)
}

fn with_since(w: &[&str], text: String) -> String {
    if seq(w, "desde ayer").is_some() {
        format!("{text} since yesterday")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::tokens;
    use super::*;
    use crate::keywords::words;

    fn desc(s: &str) -> Option<String> {
        let t = tokens(s);
        describe(s, &t, &vec![false; t.len()], true)
    }
    fn cat(s: &str) -> &'static str {
        let w = words(s);
        category(&w.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn the_description_keeps_clauses_about_the_system_without_greetings() {
        assert_eq!(
            desc("yes my ac isnt cooling, just blowing warm air").as_deref(),
            Some("my ac isnt cooling, just blowing warm air")
        );
        assert_eq!(desc("heater").as_deref(), Some("heater"));
        assert_eq!(desc("🥵🥵🥵"), None);
        assert_eq!(desc("is this dominos?? lol"), None);
        assert_eq!(desc("how much do u charge for a service call?"), None);
        let s = "a/c keeps stopping after like 5 min and its not blowing cold, prob needs freon lol";
        assert_eq!(desc(s).as_deref(), Some("a/c keeps stopping after like 5 min and its not blowing cold"));
    }

    #[test]
    fn urgency_clauses_are_not_part_of_the_description() {
        let s = "furnace wont kick on, it just clicks. not an emergency we have space heaters";
        assert_eq!(desc(s).as_deref(), Some("furnace wont kick on, it just clicks"));
    }

    #[test]
    fn long_descriptions_are_cut_at_a_word() {
        let s = shorten("our AC has been acting weird for about a week and it runs and runs", 30);
        assert_eq!(s, "our AC has been acting weird");
    }

    #[test]
    fn categories_follow_the_request_not_just_the_equipment() {
        let cases = [
            ("yes my ac isnt cooling, just blowing warm air", "cooling"),
            ("heat pump is blowing cold air on heat mode", "heating"),
            ("looking to get a tune up on our AC before summer", "maintenance"),
            ("hi! time for our yearly furnace check", "maintenance"),
            ("do yall do maintenance plans? we have 2 systems", "maintenance"),
            ("want a quote for replacing our furnace and AC", "installation"),
            ("interested in a ductless mini split for our garage conversion", "installation"),
            ("can u install a nest thermostat i bought", "installation"),
            ("house is super dusty, do u guys do duct cleaning or air purifiers?", "air_quality"),
            ("no tengo agua caliente desde ayer", "water_heater"),
            ("el aire acondicionado no enfría", "cooling"),
            ("upstairs vents barely blowing any air", "cooling"),
            ("co detector keeps beeping", "heating"),
            ("smells like rotten eggs near the furnace", "heating"),
            ("water is pouring out of the ac closet", "cooling"),
            ("radiators upstairs arent getting hot", "heating"),
        ];
        for (s, want) in cases {
            assert_eq!(cat(s), want, "{s}");
        }
    }

    #[test]
    fn spanish_descriptions_get_an_english_summary() {
        let e = |s: &str| {
            let w = words(s);
            english(&w.iter().map(String::as_str).collect::<Vec<_>>())
        };
        assert_eq!(e("hola, el aire acondicionado no enfría"), "AC not cooling");
        assert_eq!(e("no tengo agua caliente desde ayer"), "no hot water since yesterday");
        assert_eq!(e("la calefacción no funciona"), "heating not working");
    }
}
