//! Behaviour of the whole responder, conversation by conversation.

use super::respond;
use crate::gsm;
use crate::responder::{Language, LeadFacts, Reply, Turn, TurnInput, MAX_REPLY_CHARS};

struct Chat {
    known: LeadFacts,
    history: Vec<Turn>,
    services: Vec<String>,
    disclose_bot: bool,
    open_now: bool,
}

impl Chat {
    fn new() -> Self {
        let text_back =
            "Hey! Sorry we missed your call. This is Cool Air. How can we help you today? Reply STOP to opt out.";
        Chat {
            known: LeadFacts::default(),
            history: vec![Turn { from_customer: false, body: text_back.into() }],
            services: Vec::new(),
            disclose_bot: true,
            open_now: true,
        }
    }

    fn burst(&mut self, texts: &[&str]) -> Reply {
        let new_texts: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
        let input = TurnInput {
            business_name: "Cool Air",
            business_phone_display: "(512) 555-0100",
            services: &self.services,
            open_now: self.open_now,
            disclose_bot: self.disclose_bot,
            known: &self.known,
            history: &self.history,
            new_texts: &new_texts,
            booking: None,
        };
        let reply = respond(&input);
        assert!(reply.text.chars().count() <= MAX_REPLY_CHARS, "too long: {}", reply.text);
        assert_eq!(gsm::normalize(&reply.text), reply.text);
        assert!(!reply.text.contains('[') && !reply.text.contains('$'), "{}", reply.text);
        self.known.merge(&reply.extracted);
        for t in texts {
            self.history.push(Turn { from_customer: true, body: (*t).to_owned() });
        }
        self.history.push(Turn { from_customer: false, body: reply.text.clone() });
        reply
    }

    fn say(&mut self, text: &str) -> Reply {
        self.burst(&[text])
    }
}

fn is(v: &Option<String>, want: &str) -> bool {
    v.as_deref() == Some(want)
}

#[test]
fn one_answer_a_turn_fills_the_slots_in_order_and_ends_with_a_confirmation() {
    let mut c = Chat::new();
    assert!(c.say("my furnace is making a weird whistling noise").text.contains("How soon"));
    assert!(c.say("not urgent").text.contains("your name"));
    assert!(c.say("Tom Baker").text.contains("address"));
    assert!(c.say("55 Maple Ave, Springfield IL").text.contains("When works best"));
    let r = c.say("tmrw aft");
    assert!(r.qualified && r.text.contains("Tom") && r.text.contains("55 Maple Ave"), "{}", r.text);
    assert!(!r.text.contains('?'), "a confirmation asks nothing: {}", r.text);
    let k = &c.known;
    assert!(is(&k.service_category, "heating") && is(&k.urgency, "flexible") && is(&k.name, "Tom Baker"));
    assert!(is(&k.preferred_time, "tomorrow afternoon"), "{k:?}");
}

#[test]
fn several_answers_at_once_are_acknowledged_and_never_asked_again() {
    let mut c = Chat::new();
    let r = c.say("AC not working. Name is Jill Stone, 52 Cherry St. Tomorrow after 2 please");
    assert!(r.text.starts_with("Thanks, Jill!"), "{}", r.text);
    assert!(r.qualified && !r.text.contains("your name?"), "{}", r.text);
    assert!(is(&c.known.address, "52 Cherry St") && is(&c.known.service_needed, "AC not working"));
}

#[test]
fn a_burst_of_texts_is_read_as_one_turn() {
    let mut c = Chat::new();
    let r = c.burst(&["ac is blowing warm air", "asap", "Dana Cruz", "14 Elm St"]);
    assert!(
        is(&r.extracted.urgency, "soon") && is(&r.extracted.name, "Dana Cruz") && is(&r.extracted.address, "14 Elm St")
    );
    assert!(r.text.contains("When works best"), "{}", r.text);
}

#[test]
fn corrections_update_the_value_and_are_listed() {
    let mut c = Chat::new();
    c.burst(&["heater is out", "asap", "Dana", "142 Whitmore Ln"]);
    let r = c.say("sorry I meant 124 not 142");
    assert_eq!(r.corrections, vec!["address"]);
    assert!(is(&c.known.address, "124 Whitmore Ln") && r.text.contains("124 Whitmore Ln"));
    c.say("tuesday at 10");
    let r = c.say("actually it's Wednesday");
    assert_eq!(r.corrections, vec!["preferred_time"]);
    assert!(is(&c.known.preferred_time, "Wednesday at 10"), "{:?}", c.known);
}

#[test]
fn a_gas_smell_gets_the_urgent_line_and_the_safety_advice_first() {
    let mut c = Chat::new();
    let r = c.say("smells like rotten eggs in the basement");
    assert!(r.emergency && is(&r.extracted.urgency, "emergency"));
    assert!(r.text.starts_with("That sounds urgent - let me get someone on this right away."), "{}", r.text);
    assert!(r.text.contains("leave the house") && r.text.contains("911"), "{}", r.text);
    let again = c.say("should i be worried?");
    assert!(again.text.contains("911") && !again.human_needed, "{}", again.text);
}

#[test]
fn a_broken_ac_called_an_emergency_sets_urgency_but_not_the_flag() {
    let mut c = Chat::new();
    let r = c.say("my AC is broken and this is an EMERGENCY");
    assert!(!r.emergency && is(&r.extracted.urgency, "emergency"), "{r:?}");
    assert!(!r.text.contains("sounds urgent"));
}

#[test]
fn no_heat_in_freezing_weather_with_a_vulnerable_person_is_an_emergency() {
    let r = Chat::new().say("heat went out, its 20 below and my mom is 91");
    assert!(r.emergency && r.text.contains("sounds urgent"), "{}", r.text);
    let r = Chat::new().say("furnace wont kick on. not an emergency we have space heaters");
    assert!(!r.emergency && !is(&r.extracted.urgency, "emergency"));
}

#[test]
fn a_price_question_gets_no_number_and_the_next_question() {
    let mut c = Chat::new();
    c.say("AC making a squealing noise");
    let r = c.say("how much is it just to come out and look at it?");
    assert!(r.price_question && r.text.contains("exact quote on site") && r.text.contains("How soon"), "{}", r.text);
    assert!(!r.text.chars().any(|ch| ch.is_ascii_digit()), "{}", r.text);
}

#[test]
fn asking_for_a_person_hands_off_without_another_question() {
    let r = Chat::new().say("can i just talk to a real person");
    assert!(r.human_needed && r.text.contains("someone from Cool Air") && !r.text.contains('?'), "{}", r.text);
    assert!(Chat::new().say("I need to cancel my appointment").human_needed);
}

#[test]
fn a_bot_question_is_answered_honestly() {
    let r = Chat::new().say("is this a bot?");
    assert!(r.bot_question && r.text.contains("Cool Air's automated assistant") && !r.human_needed, "{}", r.text);
    let mut quiet = Chat::new();
    quiet.disclose_bot = false;
    let r = quiet.say("am I talking to a real person?");
    assert!(r.bot_question, "{r:?}");
    let lower = r.text.to_lowercase();
    assert!(
        !lower.contains("i'm a person") && !lower.contains("real person here") && !lower.contains("not a bot"),
        "{}",
        r.text
    );
}

#[test]
fn spanish_texts_get_spanish_replies_and_an_english_summary() {
    let mut c = Chat::new();
    let r = c.say("hola, el aire acondicionado no enfría");
    assert_eq!(r.language, Language::Es);
    assert!(r.text.contains("emergencia"), "{}", r.text);
    assert!(
        is(&c.known.service_needed, "AC not cooling (el aire acondicionado no enfría)")
            && is(&c.known.service_category, "cooling")
    );
    let r = c.say("¿eres un robot?");
    assert!(r.bot_question && r.text.contains("asistente automatico"), "{}", r.text);
}

#[test]
fn a_plain_language_opt_out_sets_the_flag_and_only_confirms() {
    let mut c = Chat::new();
    c.say("ac stopped working");
    let r = c.say("actually my brother in law will look at it, pls stop texting me");
    assert!(r.opt_out && !r.text.contains('?') && r.text.contains("Cool Air"), "{}", r.text);
    assert!(!Chat::new().say("can you stop by tomorrow? ac is dead").opt_out);
}

#[test]
fn marketing_spam_and_polite_closes_are_not_leads() {
    let r = Chat::new().say("Hi! I help HVAC companies get 30+ new leads/month with Google Ads. Free audit? Reply YES");
    assert_eq!(r.extracted, LeadFacts::default());
    let r = Chat::new().say("we already got it fixed thanks");
    assert!(r.extracted.service_needed.is_none() && !r.text.contains('?'), "{}", r.text);
}

#[test]
fn values_are_never_invented() {
    let mut c = Chat::new();
    c.burst(&["furnace is short cycling", "no rush", "Linda Park"]);
    c.say("same place as last time");
    assert!(is(&c.known.address, "same place as last time"), "{:?}", c.known);
    assert!(c.known.preferred_time.is_none());
    let r = Chat::new().say("🥵🥵🥵");
    assert_eq!(r.extracted, LeadFacts::default());
    assert!(r.text.contains("What's going on"), "{}", r.text);
}

#[test]
fn a_single_word_is_a_name_only_when_it_can_be_one() {
    let mut c = Chat::new();
    c.say("heater not working");
    c.say("whenever");
    assert!(is(&c.say("lincoln").extracted.name, "Lincoln"));
    let mut c = Chat::new();
    c.say("heater not working");
    assert!(c.say("tomorrow").extracted.name.is_none());
}

#[test]
fn services_the_business_does_not_list_are_checked_with_the_team() {
    let mut c = Chat::new();
    c.services = vec!["AC repair".into(), "Furnace repair".into()];
    let r = c.say("need a new water heater installed");
    assert!(r.human_needed && r.text.contains("check with the team"), "{}", r.text);
    let r = Chat::new().say("need a new water heater installed");
    assert!(!r.human_needed, "an empty list means the business takes anything");
}

#[test]
fn after_hours_the_confirmation_does_not_promise_a_slot() {
    let mut c = Chat::new();
    c.open_now = false;
    let r = c.say("Hi this is Karen Whitfield, furnace wont kick on. 419 N Oak St Apt 2. Sunday night works");
    assert!(r.qualified && r.text.contains("when the office opens"), "{}", r.text);
}

#[test]
fn replies_stay_within_the_limit_even_with_long_values() {
    let mut c = Chat::new();
    let long = "So basically our AC has been acting weird for about a week, it runs and runs and the house never gets below like 79 even tho the thermostat is set to 72, and the outside unit fan is spinning but makes a grinding noise. I'm Jessica Moreno and we're at 2907 Quail Run Dr Apartment 1234, Mesa Grande Estates AZ 85213. Tomorrow or thursday, mornings";
    let r = c.say(long);
    assert!(r.qualified && r.text.chars().count() <= MAX_REPLY_CHARS, "{}", r.text);
    assert!(r.text.ends_with('.'), "cut at a sentence: {}", r.text);
}
