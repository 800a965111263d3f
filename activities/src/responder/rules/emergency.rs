//! Safety hazards (the `emergency` flag) and how soon the customer wants
//! someone (the `urgency` slot). A customer calling a broken AC "an
//! EMERGENCY" sets the urgency, not the flag.

use crate::keywords::{near, seq};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hazard {
    Gas,
    CarbonMonoxide,
    Water,
    Smoke,
    Sparks,
    /// No heat in freezing weather with a vulnerable person in the house.
    Cold,
}

impl Hazard {
    /// Gas and CO mean: get out of the house first.
    pub fn evacuate(self) -> bool {
        matches!(self, Hazard::Gas | Hazard::CarbonMonoxide)
    }
}

const NEGATIONS: &[&str] = &["no", "not", "dont", "without", "never", "isnt", "doesnt", "nor", "sin", "cant"];

/// Whether the word at `i` is negated ("no gas smell", "not an emergency").
fn negated(w: &[&str], i: usize) -> bool {
    w[i.saturating_sub(3)..i].iter().any(|x| NEGATIONS.contains(x))
}

fn hit(w: &[&str], found: Option<usize>) -> bool {
    found.is_some_and(|i| !negated(w, i))
}

/// A hazard named in one text (`w` are its folded words).
pub fn hazard(w: &[&str]) -> Option<Hazard> {
    let smell = "smell*|odor|stink*|huele|olor";
    let gas = hit(w, near(w, smell, "gas|propane|egg|eggs|sulfur|sulphur", 4))
        || hit(w, near(w, "gas|propane", "smell*|odor|leak*", 2))
        || hit(w, seq(w, "rotten egg*"));
    let co = hit(w, seq(w, "carbon monoxide"))
        || hit(w, seq(w, "monoxide|monoxido"))
        || hit(w, seq(w, "co|co2 detector*|alarm*|monitor*|sensor*"));
    let leak = "leak*|pour*|flood*|dripping|gushing|spraying|spilling|everywhere|soaked";
    let refrigerant = near(w, "freon|refrigerant|coolant|gas|oil", "leak*", 3).is_some()
        || near(w, "leak*", "freon|refrigerant|coolant|gas|oil", 3).is_some();
    let water = hit(w, near(w, "water|agua", leak, 4))
        || hit(w, near(w, leak, "water|agua", 4))
        || hit(w, seq(w, "flood*|soaked|puddle*|inundad*|gotea*"))
        || (!refrigerant && hit(w, seq(w, "leak|leaking|leaks")));
    let burning = seq(w, "burning").filter(|&i| w.get(i + 1) != Some(&"up"));
    let smoke = hit(w, seq(w, "smoke|smoking|smoky|humo|quemado|flames|burnt"))
        || hit(w, near(w, smell, "burn*|electrical|plastic|quemado", 3))
        || hit(w, burning)
        || hit(w, seq(w, "on|caught fire"));
    let sparks = hit(w, seq(w, "spark*|arcing|chispa*"));
    [
        (gas, Hazard::Gas),
        (co, Hazard::CarbonMonoxide),
        (smoke, Hazard::Smoke),
        (sparks, Hazard::Sparks),
        (water, Hazard::Water),
    ]
    .into_iter()
    .find_map(|(yes, h)| yes.then_some(h))
}

/// No heat, freezing weather and a vulnerable person, anywhere in the texts.
pub fn cold_danger(w: &[&str]) -> bool {
    let heat_term = "furnace|heater|heat|boiler|heating|calefaccion|calentador";
    let no_heat = seq(w, "no heat|heating|calefaccion").is_some()
        || near(w, heat_term, "not|wont|isnt|out|broke*|cold|dead|off|stopped|quit", 4).is_some();
    let freezing = seq(w, "freezing|frozen|snow*|blizzard|icy|congel*").is_some()
        || seq(w, "below|bajo zero|freezing|cero|0").is_some()
        || w.windows(2).any(|p| number(p[0]).is_some() && step(p[1], "below"))
        || w.windows(2).any(|p| number(p[0]).is_some_and(|n| n <= 35) && step(p[1], "degrees|degree|deg|f|grados"));
    let vulnerable = seq(w, "baby|babies|newborn|infant|toddler|elderly|elder|senior*|grandma|grandpa|grandmother|grandfather|oxygen|disabled|disability|sick|medical|pregnant|bebe|ancian*|abuel*|enferm*|wheelchair|hospice|dementia").is_some()
        || w.windows(2).any(|p| step(p[0], "is|age|aged|tiene") && number(p[1]).is_some_and(|n| (70..=115).contains(&n)))
        || w.windows(2).any(|p| number(p[0]).is_some_and(|n| (70..=115).contains(&n)) && step(p[1], "years|yrs|yo|anos"));
    no_heat && freezing && vulnerable
}

fn number(s: &str) -> Option<u32> {
    s.parse().ok()
}

fn step(word: &str, pat: &str) -> bool {
    crate::keywords::step_matches(pat, word)
}

/// The urgency stated in one text: emergency, soon or flexible. Day words
/// ("today", "tomorrow") only count when we asked how soon or the text talks
/// about urgency ("not an emergency, tomorrow works").
pub fn urgency(w: &[&str], asked: bool) -> Option<&'static str> {
    let flexible = seq(w, "no rush|hurry|prisa|apuro").is_some()
        || seq(w, "not urgent*").is_some()
        || seq(w, "not in a hurry|rush").is_some()
        || seq(w, "not a rush|hurry").is_some()
        || seq(w, "no|not a big deal").is_some()
        || seq(w, "can wait").is_some()
        || seq(w, "no es urgente").is_some()
        || seq(w, "sin prisa").is_some()
        || seq(w, "no hay prisa|apuro").is_some()
        || w.contains(&"flexible");
    let emergency_word = seq(w, "emergency|emergencia|urgent|urgente");
    let soon = seq(w, "asap|soon|pronto|quickly|rapido|urgently").is_some()
        || seq(w, "right away").is_some()
        || seq(w, "lo antes posible").is_some()
        || near(w, "couple|few", "days|dias", 2).is_some();
    if flexible {
        return Some("flexible");
    }
    if hit(w, emergency_word) {
        return Some("emergency");
    }
    if soon {
        return Some("soon");
    }
    if !(asked || emergency_word.is_some()) {
        return None;
    }
    let day = |x: &&str| {
        let x = super::time::expand(x).unwrap_or(x);
        matches!(x, "today" | "tonight" | "tomorrow" | "hoy" | "manana" | "now")
    };
    if w.iter().any(day) || seq(w, "this week").is_some() || seq(w, "esta semana").is_some() {
        return Some("soon");
    }
    let later = seq(w, "whenever|anytime|sometime").is_some()
        || seq(w, "next|proxima week|month|semana").is_some()
        || seq(w, "cuando sea").is_some()
        || seq(w, "mes que viene").is_some();
    later.then_some("flexible")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keywords::words;

    fn hz(s: &str) -> Option<Hazard> {
        let w = words(s);
        hazard(&w.iter().map(String::as_str).collect::<Vec<_>>())
    }
    fn urg(s: &str, asked: bool) -> Option<&'static str> {
        let w = words(s);
        urgency(&w.iter().map(String::as_str).collect::<Vec<_>>(), asked)
    }
    fn cold(s: &str) -> bool {
        let w = words(s);
        cold_danger(&w.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn gas_and_rotten_egg_smells_are_gas_hazards_even_without_the_word_gas() {
        assert_eq!(hz("smells like rotten eggs near the furnace in the basement"), Some(Hazard::Gas));
        assert_eq!(hz("I smell gas by the water heater"), Some(Hazard::Gas));
        assert_eq!(hz("huele a gas en la cocina"), Some(Hazard::Gas));
        assert!(Hazard::Gas.evacuate() && Hazard::CarbonMonoxide.evacuate() && !Hazard::Water.evacuate());
    }

    #[test]
    fn co_alarms_water_smoke_and_sparks_are_hazards() {
        assert_eq!(hz("co detector keeps beeping"), Some(Hazard::CarbonMonoxide));
        assert_eq!(hz("carbon monoxide alarm went off"), Some(Hazard::CarbonMonoxide));
        assert_eq!(hz("water is pouring out of the ac closet, carpet soaked"), Some(Hazard::Water));
        assert_eq!(hz("it started leaking"), Some(Hazard::Water));
        assert_eq!(hz("burning smell from the vents"), Some(Hazard::Smoke));
        assert_eq!(hz("the outside unit is sparking"), Some(Hazard::Sparks));
    }

    #[test]
    fn negated_or_harmless_mentions_are_not_hazards() {
        for s in [
            "propane furnace wont light, pilot keeps going out, no gas smell",
            "no hot water since yesterday",
            "its burning up in here, ac is out",
            "prob a freon leak",
            "gas furnace is 20 years old",
            "AC has been acting weird, grinding noise",
            "furnace making a loud banging noise",
        ] {
            assert_eq!(hz(s), None, "{s}");
        }
    }

    #[test]
    fn no_heat_is_a_hazard_only_with_freezing_weather_and_a_vulnerable_person() {
        assert!(cold("no heat, its 9 degrees out and my dad is 84 and on oxygen"));
        assert!(cold("furnace is out, its below zero and we have a newborn"));
        assert!(!cold("furnace wont kick on. not an emergency we have space heaters"));
        assert!(!cold("heater not turning on, its 50 in here"));
        assert!(!cold("ac is out and we have a newborn"));
    }

    #[test]
    fn urgency_words_map_to_soon_flexible_or_emergency() {
        let cases = [
            ("pretty soon its 88 in the house", "soon"),
            ("asap", "soon"),
            ("within the next couple days", "soon"),
            ("not an emergency but soon pls", "soon"),
            ("yes its an emergency", "emergency"),
            ("its an EMERGENCY my ac is broken", "emergency"),
            ("not urgent but would like it looked at", "flexible"),
            ("no rush, this week sometime", "flexible"),
            ("just want them checked before winter, no rush", "flexible"),
            ("lo antes posible", "soon"),
        ];
        for (s, want) in cases {
            assert_eq!(urg(s, false), Some(want), "{s}");
        }
    }

    #[test]
    fn day_words_answer_urgency_only_when_asked_or_urgency_is_discussed() {
        assert_eq!(urg("today or tmrw", true), Some("soon"));
        assert_eq!(urg("hoy o mañana", true), Some("soon"));
        assert_eq!(urg("next month or so", true), Some("flexible"));
        assert_eq!(urg("whenever is fine", true), Some("flexible"));
        assert_eq!(urg("I called 3 TIMES today", false), None);
        assert_eq!(urg("not an emergency. anytime tomorrow after 1pm", false), Some("soon"));
        assert_eq!(urg("whenever today", false), None);
    }
}
