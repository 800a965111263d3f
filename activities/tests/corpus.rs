//! Replays the labelled conversation corpus (tests/corpus/conversations-dev.jsonl)
//! turn by turn through `keywords::classify` and `responder::rules::respond`,
//! feeding back the extracted facts and the history, and scores the final lead
//! against `expect` with a lenient scorer. `cargo test -p activities --test
//! corpus -- --nocapture` prints the per-field table and every miss.

use activities::corpus::{same_address, same_service, same_text, same_time, Conversation, Expect};
use activities::gsm;
use activities::keywords::{classify, Keyword};
use activities::responder::{rules, Language, LeadFacts, Turn, TurnInput, MAX_REPLY_CHARS};

const CORPUS: &str = include_str!("../../tests/corpus/conversations-dev.jsonl");
const BUSINESS: &str = "Cool Air Heating & Cooling";
const PHONE: &str = "(512) 555-0100";

#[derive(Debug, Default)]
struct Outcome {
    lead: LeadFacts,
    emergency: bool,
    opt_out_at_turn: Option<usize>,
    help_at_turn: Option<usize>,
    human: bool,
    price: bool,
    language: Option<Language>,
    /// (customer text, our reply) for every turn the responder answered.
    replies: Vec<(String, String)>,
}

fn services() -> Vec<String> {
    ["AC repair", "Heating repair", "Maintenance", "Installation", "Indoor air quality", "Water heaters"]
        .map(String::from)
        .to_vec()
}

fn replay(c: &Conversation) -> Outcome {
    let services = services();
    let text_back = format!(
        "Hey! Sorry we missed your call. This is {BUSINESS}. How can we help you today? Reply STOP to opt out."
    );
    let mut history = vec![Turn { from_customer: false, body: text_back }];
    let mut out = Outcome::default();
    for (i, body) in c.turns.iter().enumerate() {
        match classify(body) {
            Keyword::OptOut { .. } => {
                out.opt_out_at_turn = Some(i);
                break;
            }
            Keyword::Help => {
                out.help_at_turn.get_or_insert(i);
                history.push(Turn { from_customer: true, body: body.clone() });
                let help =
                    format!("{BUSINESS}: call {PHONE} for help. Msg & data rates may apply. Reply STOP to opt out.");
                history.push(Turn { from_customer: false, body: help });
                continue;
            }
            Keyword::OptIn | Keyword::None => {}
        }
        let new_texts = [body.clone()];
        let input = TurnInput {
            business_name: BUSINESS,
            business_phone_display: PHONE,
            services: &services,
            open_now: true,
            disclose_bot: true,
            known: &out.lead,
            history: &history,
            new_texts: &new_texts,
            booking: None,
        };
        let reply = rules::respond(&input);
        check_reply(&c.id, &reply.text);
        out.lead.merge(&reply.extracted);
        out.emergency |= reply.emergency;
        out.human |= reply.human_needed;
        out.price |= reply.price_question;
        out.language = Some(reply.language);
        history.push(Turn { from_customer: true, body: body.clone() });
        history.push(Turn { from_customer: false, body: reply.text.clone() });
        out.replies.push((body.clone(), reply.text));
        if reply.opt_out {
            out.opt_out_at_turn = Some(i);
            break;
        }
    }
    out
}

/// Every reply: not empty, within the limit, GSM-normalised, no markers, no
/// price, never claiming to be a person.
fn check_reply(id: &str, text: &str) {
    assert!(!text.is_empty(), "{id}: empty reply");
    assert!(text.chars().count() <= MAX_REPLY_CHARS, "{id}: {} chars: {text}", text.chars().count());
    assert_eq!(gsm::normalize(text), text, "{id}: not normalised");
    assert!(!text.contains('[') && !text.contains('$'), "{id}: marker or price in {text}");
    let lower = text.to_lowercase();
    for claim in ["i'm a person", "i am a person", "i'm not a bot", "not a robot", "i'm human", "i am human"] {
        assert!(!lower.contains(claim), "{id}: claims to be a person: {text}");
    }
}

const FIELDS: [&str; 13] = [
    "service_needed",
    "service_category",
    "urgency",
    "name",
    "address",
    "preferred_time",
    "emergency",
    "opt_out_at_turn",
    "help_at_turn",
    "human_requested",
    "price_question",
    "language",
    "qualified",
];

fn score(x: &Expect, o: &Outcome) -> [bool; 13] {
    let g = &o.lead;
    let language = match o.language {
        Some(Language::Es) => "es",
        _ => "en",
    };
    let complete = |f: &LeadFacts| f.is_qualified();
    let expected_complete =
        x.service_needed.is_some() && x.name.is_some() && x.address.is_some() && x.preferred_time.is_some();
    [
        same_service(x, g.service_needed.as_deref(), g.service_category.as_deref()),
        g.service_category.as_deref().unwrap_or("other") == x.service_category,
        g.urgency.as_deref().unwrap_or("unknown") == x.urgency,
        same_text(&x.name, &g.name),
        same_address(&x.address, &g.address),
        same_time(&x.preferred_time, &g.preferred_time),
        o.emergency == x.emergency,
        o.opt_out_at_turn == x.opt_out_at_turn,
        o.help_at_turn == x.help_at_turn,
        o.human == x.human_requested,
        o.price == x.price_question,
        language == x.language,
        complete(g) == expected_complete,
    ]
}

fn floor(field: &str) -> f64 {
    match field {
        "name" | "address" | "preferred_time" | "service_needed" => 0.75,
        _ => 0.90,
    }
}

#[test]
fn the_rules_engine_meets_the_corpus_floors() {
    let conversations: Vec<Conversation> =
        CORPUS.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(conversations.len() >= 40, "corpus has {} conversations", conversations.len());
    let mut right = [0usize; 13];
    for c in &conversations {
        let o = replay(c);
        let s = score(&c.expect, &o);
        for (i, ok) in s.iter().enumerate() {
            if *ok {
                right[i] += 1;
            } else {
                println!("MISS {} {}: expected {:?}\n    got {:?} (emergency {}, opt_out {:?}, help {:?}, human {}, price {})", c.id, FIELDS[i], c.expect, o.lead, o.emergency, o.opt_out_at_turn, o.help_at_turn, o.human, o.price);
            }
        }
        if std::env::var("CORPUS_REPLIES").is_ok() {
            println!("--- {}", c.id);
            for (turn, reply) in &o.replies {
                println!("  < {turn}\n  > {reply}");
            }
        }
    }
    let n = conversations.len() as f64;
    println!("\n{:<18} {:>7} {:>7} {:>7}", "field", "right", "acc", "floor");
    let mut failed = Vec::new();
    for (i, field) in FIELDS.iter().enumerate() {
        let acc = right[i] as f64 / n;
        println!(
            "{field:<18} {:>3}/{:<3} {:>6.1}% {:>6.0}%",
            right[i],
            conversations.len(),
            acc * 100.0,
            floor(field) * 100.0
        );
        if acc < floor(field) {
            failed.push(format!("{field} {:.1}%", acc * 100.0));
        }
    }
    assert!(failed.is_empty(), "below the floor: {failed:?}");
}
