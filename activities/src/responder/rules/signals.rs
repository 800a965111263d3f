//! What a text asks for besides qualification: a person, whether we are a
//! bot, a price; and texts that are not leads at all (spam, "all fixed").

use crate::keywords::{near, seq};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    pub human: bool,
    pub bot_question: bool,
    pub price: bool,
    pub spam: bool,
    /// "we already got it fixed": nothing to book.
    pub closed: bool,
    /// Any question mark at all.
    pub question: bool,
}

impl Signals {
    pub fn merge(&mut self, o: Signals) {
        self.human |= o.human;
        self.bot_question |= o.bot_question;
        self.price |= o.price;
        self.spam |= o.spam;
        self.closed |= o.closed;
        self.question |= o.question;
    }
}

/// Reads the signals of one text (`w`: its folded words).
pub fn read(raw: &str, w: &[&str]) -> Signals {
    let bot_question = bot_question(w);
    Signals {
        human: human(w, bot_question),
        bot_question,
        price: price(raw, w),
        spam: spam(w),
        closed: closed(w),
        question: asks(raw),
    }
}

/// A sentence that ends in "?" and starts like a question to us ("do you...",
/// "what...", "¿cuándo..."); "idk like a week?" is not one.
fn asks(raw: &str) -> bool {
    const OPENERS: &str = "what|whats|when|where|who|why|how|do|does|did|can|could|will|would|is|are|should|may|which|que|cuando|como|donde|quien|puede|pueden|tienen|hay";
    raw.split_inclusive(['.', '!', '?', '\n'])
        .filter(|s| s.trim_end().ends_with('?'))
        .any(|s| crate::keywords::words(s).first().is_some_and(|x| crate::keywords::step_matches(OPENERS, x)))
}

fn bot_question(w: &[&str]) -> bool {
    let what = "bot|robot|machine|computer|ai|automated|automatic|real|human|person|chatbot|robo|humano|persona";
    seq(w, &format!("is|es this|esto a|an|un|una {what}")).is_some()
        || seq(w, &format!("is this {what}")).is_some()
        || seq(w, &format!("are|r you|u a|an {what}")).is_some()
        || seq(w, &format!("are|r you|u {what}")).is_some()
        || (near(w, "am", "talking|texting|chatting|speaking", 2).is_some()
            && near(w, "talking|texting|chatting|speaking", what, 4).is_some())
        || seq(w, &format!("eres|es un|una {what}")).is_some()
        || seq(w, &format!("eres {what}")).is_some()
        || seq(w, &format!("estoy hablando con un|una {what}")).is_some()
        || matches!(w, ["bot"] | ["robot"])
}

fn human(w: &[&str], bot_question: bool) -> bool {
    let who = "person|human|someone|somebody|manager|owner|supervisor|tech|technician|agent|representative|rep|alguien|persona|gerente|dueno";
    let talk = near(w, "talk|speak|chat|hablar", who, 4).is_some() || seq(w, "real|live|actual person|human").is_some();
    let call = seq(w, "call|llame|llamen me|back").is_some()
        || seq(w, "give me a call").is_some()
        || near(w, "manager|owner|supervisor|someone|somebody|person|human|alguien|gerente", "call|llame|llamen", 3)
            .is_some()
        || seq(w, "llamenme|llameme|marquenme").is_some();
    let appointment =
        near(w, "cancel|reschedule|move|change|cancelar", "appointment|appt|visit|booking|cita", 3).is_some();
    (talk && !bot_question) || call || appointment || seq(w, "want|need a manager|supervisor").is_some()
}

fn price(raw: &str, w: &[&str]) -> bool {
    let asks = seq(w, "how much").is_some()
        || seq(w, "cost|costs|costing|price|prices|pricing|fee|fees|rates|ballpark|expensive|cheap|cheaper|afford*")
            .is_some()
        || near(w, "do|what|how|you|u", "charge|charging", 3).is_some()
        || seq(w, "cuanto|cuánto cuesta|cobran|sale|cobra|es|seria").is_some()
        || seq(w, "precio*|costo*|tarifa*|cobran").is_some();
    asks || raw.contains('$')
}

fn spam(w: &[&str]) -> bool {
    let markers = [
        seq(w, "leads").is_some(),
        seq(w, "google ads").is_some(),
        seq(w, "seo|marketing|agency|backlinks|ranking").is_some(),
        seq(w, "audit").is_some(),
        seq(w, "reply yes").is_some(),
        seq(w, "grow your business").is_some(),
        seq(w, "hvac companies|contractors|businesses").is_some(),
        seq(w, "month|mo").is_some() && w.iter().any(|x| x.chars().all(|c| c.is_ascii_digit())),
        seq(w, "http*|www|click").is_some(),
    ];
    markers.iter().filter(|m| **m).count() >= 2
}

fn closed(w: &[&str]) -> bool {
    seq(w, "already got|had it|fixed").is_some()
        || seq(w, "got it|got|had fixed").is_some()
        || seq(w, "never mind|nevermind|nvm").is_some()
        || seq(w, "no longer need*").is_some()
        || seq(w, "dont need it|anyone|anybody|someone|service anymore").is_some()
        || seq(w, "taken care of").is_some()
        || seq(w, "figured it out").is_some()
        || seq(w, "working again").is_some()
        || seq(w, "ya se arreglo|compuso").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keywords::words;

    fn sig(s: &str) -> Signals {
        let w = words(s);
        read(s, &w.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn asking_for_a_person_or_a_call_back_needs_a_human() {
        for s in [
            "can i just talk to a real person",
            "I dont want to text, just call me back please",
            "I want a manager to call me, not a text bot",
            "have someone call me",
            "can I speak to the owner",
        ] {
            assert!(sig(s).human, "{s}");
        }
        for s in ["I called you guys 3 TIMES today", "ac stopped working", "is this a bot?"] {
            assert!(!sig(s).human, "{s}");
        }
    }

    #[test]
    fn sincere_bot_questions_are_recognised() {
        for s in [
            "is this a bot?",
            "am I talking to a real person?",
            "are you a robot",
            "¿eres un robot?",
            "is this automated?",
        ] {
            assert!(sig(s).bot_question, "{s}");
        }
        assert!(!sig("I want a manager to call me, not a text bot").bot_question);
    }

    #[test]
    fn cost_questions_are_price_questions_but_quotes_and_plans_are_not() {
        for s in [
            "how much do u charge for a service call?",
            "how much is it just to come out?",
            "what are your rates",
            "¿cuánto cuesta?",
        ] {
            assert!(sig(s).price, "{s}");
        }
        for s in [
            "want a quote for replacing our furnace and AC",
            "do yall do maintenance plans?",
            "do u guys do duct cleaning",
        ] {
            assert!(!sig(s).price, "{s}");
        }
    }

    #[test]
    fn marketing_spam_and_polite_closes_are_told_apart_from_leads() {
        assert!(sig("Hi! I help HVAC companies get 30+ new leads/month with Google Ads. Free audit? Reply YES").spam);
        assert!(!sig("saw your website, my ac is broken").spam);
        assert!(sig("we already got it fixed thanks").closed);
        assert!(!sig("ac stopped working").closed);
    }
}
