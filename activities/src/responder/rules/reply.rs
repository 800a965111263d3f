//! The wording of every reply, in English and Spanish. Spanish is written
//! without á/í/ó/ú so replies stay GSM-7 (é, ñ, ¿ and ¡ are in GSM-7).

use super::emergency::Hazard;
use super::service::shorten;
use super::signals::Signals;
use super::Slot;
use crate::gsm;
use crate::keywords::fold;
use crate::responder::{Language, LeadFacts, MAX_REPLY_CHARS};

/// Business details a reply may mention.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub lang: Language,
    pub business: &'a str,
    pub phone: &'a str,
    pub open_now: bool,
    pub disclose_bot: bool,
}

impl Ctx<'_> {
    fn t(&self, en: &'static str, es: &'static str) -> &'static str {
        match self.lang {
            Language::En => en,
            Language::Es => es,
        }
    }
}

/// Everything that decides the reply.
#[derive(Debug)]
pub struct Plan<'a> {
    pub ctx: Ctx<'a>,
    pub facts: &'a LeadFacts,
    pub was_qualified: bool,
    /// The service was known before these texts (new details are not news).
    pub had_service: bool,
    pub new_slots: Vec<Slot>,
    pub corrections: Vec<(&'static str, String)>,
    pub signals: Signals,
    /// A hazard in these texts, and whether we still have to say it is urgent.
    pub hazard: Option<(Hazard, bool)>,
    /// A gas or CO hazard reported earlier in the conversation.
    pub ongoing: Option<Hazard>,
    pub opt_out: bool,
    pub asked: Option<Slot>,
    pub next: Option<Slot>,
    pub unsupported: bool,
}

pub fn question(slot: Slot, c: &Ctx) -> &'static str {
    match slot {
        Slot::Service => {
            c.t("What's going on with your heating or AC?", "¿Que esta pasando con su aire o calefaccion?")
        }
        Slot::Urgency => c.t(
            "How soon do you need someone - is it an emergency, or can it wait a few days?",
            "¿Es una emergencia o puede esperar unos dias?",
        ),
        Slot::Name => c.t("What's your name so I can get you in our system?", "¿A nombre de quien hacemos la cita?"),
        Slot::Address => c.t("What's the address for the service?", "¿Cual es la direccion del servicio?"),
        Slot::Time => c.t("When works best for you for a visit?", "¿Que dia y hora le quedan mejor para la visita?"),
    }
}

const MARKERS: &[(Slot, &[&str])] = &[
    (Slot::Service, &["going on", "how can we help", "what can we help", "que esta pasando", "en que le podemos"]),
    (Slot::Urgency, &["how soon", "emergency, or", "is it an emergency", "que tan pronto", "emergencia o"]),
    (Slot::Name, &["your name", "a nombre de", "su nombre", "who should"]),
    (Slot::Address, &["address", "direccion", "where is the", "where's the"]),
    (Slot::Time, &["when works", "what time", "best time", "when would", "que dia y hora", "cuando le"]),
];

/// The slot a message of ours asked about (its last question).
pub fn asked_slot(bot_text: &str) -> Option<Slot> {
    let f = fold(bot_text);
    let end = f.rfind('?')?;
    let head = &f[..end];
    let start = head.rfind(['.', '!', '?']).map_or(0, |i| i + 1);
    let q = &f[start..end];
    MARKERS.iter().find(|(_, ms)| ms.iter().any(|m| q.contains(m))).map(|(s, _)| *s)
}

fn safety(h: Hazard, c: &Ctx) -> Option<&'static str> {
    Some(match h {
        Hazard::Gas => c.t(
            "If you smell gas, leave the house now and call 911 or the gas company from outside.",
            "Si huele a gas, salga de la casa ahora y llame al 911 o a la empresa de gas desde afuera.",
        ),
        Hazard::CarbonMonoxide => c.t(
            "Get everyone out of the house now and call 911 from outside.",
            "Salgan todos de la casa ahora y llamen al 911 desde afuera.",
        ),
        Hazard::Smoke | Hazard::Sparks => c.t(
            "If you see smoke or fire, get everyone out and call 911.",
            "Si ve humo o fuego, salgan todos y llamen al 911.",
        ),
        Hazard::Water | Hazard::Cold => return None,
    })
}

fn first_name(facts: &LeadFacts) -> Option<&str> {
    facts.name.as_deref().and_then(|n| n.split_whitespace().next())
}

fn label(slot: Slot, c: &Ctx) -> &'static str {
    match slot {
        Slot::Service => c.t("the details", "los detalles"),
        Slot::Urgency => c.t("the urgency", "la urgencia"),
        Slot::Name => c.t("your name", "su nombre"),
        Slot::Address => c.t("the address", "la direccion"),
        Slot::Time => c.t("the preferred time", "el horario"),
    }
}

fn ack(p: &Plan) -> Option<String> {
    let c = &p.ctx;
    let name = first_name(p.facts);
    let thanks = match name {
        Some(n) => format!("{} {n}!", c.t("Thanks,", "¡Gracias,")),
        None => c.t("Thanks!", "¡Gracias!").to_owned(),
    };
    match p.new_slots.as_slice() {
        [] => None,
        [Slot::Name] => Some(thanks),
        [Slot::Service] if p.had_service => Some(c.t("Got it.", "Entendido.").to_owned()),
        [Slot::Service] => Some(
            match p.facts.service_category.as_deref() {
                Some("heating" | "cooling" | "water_heater") => c.t("Sorry to hear that.", "Lamento escuchar eso."),
                _ => c.t("Happy to help with that.", "Con gusto le ayudamos."),
            }
            .to_owned(),
        ),
        [_] => Some(c.t("Got it.", "Entendido.").to_owned()),
        many => {
            let labels: Vec<&str> = many.iter().map(|s| label(*s, c)).collect();
            let (last, rest) = labels.split_last()?;
            let list = format!("{} {} {last}", rest.join(", "), c.t("and", "y"));
            Some(format!("{thanks} {} {list}.", c.t("Got", "Ya tengo")))
        }
    }
}

fn confirmation(p: &Plan) -> String {
    let c = &p.ctx;
    let f = p.facts;
    let get = |v: &Option<String>| v.clone().unwrap_or_default();
    let who = first_name(f).map(|n| format!(", {n}")).unwrap_or_default();
    let service = get(&f.service_needed);
    let service = match (c.lang, service.split_once(" (")) {
        (Language::Es, Some((_, original))) => original.trim_end_matches(')').to_owned(),
        _ => service,
    };
    let service = shorten(&service, 90);
    let when = match (c.open_now, c.lang) {
        (true, Language::En) => "will reach out shortly to confirm the time.",
        (false, Language::En) => "will reach out when the office opens to confirm the time.",
        (true, Language::Es) => "le va a escribir pronto para confirmar el horario.",
        (false, Language::Es) => "le va a escribir cuando abra la oficina para confirmar el horario.",
    };
    let head = c.t("Thanks", "¡Gracias");
    let have = c.t("Here's what I have", "Esto es lo que tengo");
    format!("{head}{who}! {have}: {service} - {} - {}. {} {when}", get(&f.address), get(&f.preferred_time), c.business)
}

/// The reply text, and whether the owner must step in.
pub fn compose(p: &Plan) -> (String, bool) {
    if let Some(only) = closing(p) {
        return (fit(&[(false, only)]), false);
    }
    let c = &p.ctx;
    let mut parts: Vec<(bool, String)> = Vec::new();
    let announced = hazard_lines(p, &mut parts);
    for (field, value) in &p.corrections {
        let what = match *field {
            "address" => c.t("the address", "la direccion"),
            "name" => c.t("the name", "el nombre"),
            _ => c.t("the time", "el horario"),
        };
        parts.push((true, format!("{} {what} {} {value}.", c.t("Updated", "Listo, cambié"), c.t("to", "a"))));
    }
    if !announced && p.next.is_some() {
        parts.extend(ack(p).map(|a| (true, a)));
    }
    if p.signals.human {
        let t = c.t(
            "No problem - I'll have someone from {b} reach out to you shortly.",
            "Claro - alguien de {b} se va a comunicar con usted pronto.",
        );
        parts.push((false, t.replace("{b}", c.business)));
        return (fit(&parts), true);
    }
    let human = answers(p, &mut parts);
    parts.push((false, next_line(p, parts.is_empty() && p.new_slots.is_empty())));
    (fit(&parts), human)
}

/// A reply that is the whole message: opt-out confirmation, spam, "all fixed".
fn closing(p: &Plan) -> Option<String> {
    let c = &p.ctx;
    let t = if p.opt_out {
        c.t("Understood - {b} won't text you again.", "Entendido - {b} no le va a enviar mas mensajes.")
    } else if p.signals.spam {
        c.t("This number is for {b} service requests.", "Este numero es para solicitudes de servicio de {b}.")
    } else if p.signals.closed && p.new_slots.is_empty() {
        c.t(
            "Glad to hear it's sorted! If anything else comes up, just text us here.",
            "¡Qué bueno! Si necesita algo mas, escribanos aqui.",
        )
    } else {
        return None;
    };
    Some(t.replace("{b}", c.business))
}

/// Answers to price and bot questions, things to check with the team, or a
/// plain "Got it."; true when the owner must step in.
fn answers(p: &Plan, parts: &mut Vec<(bool, String)>) -> bool {
    let c = &p.ctx;
    let mut human = false;
    if p.signals.price {
        let t = c.t(
            "I can't give prices by text, but the technician will give you an exact quote on site before any work starts.",
            "No puedo dar precios por mensaje, pero el técnico le va a dar un presupuesto exacto en el lugar antes de empezar.",
        );
        parts.push((false, t.to_owned()));
    }
    if p.signals.bot_question {
        parts.push((false, bot_line(c)));
    }
    let check = c.t(
        "Let me check with the team that we handle that and get back to you.",
        "Déjeme confirmar con el equipo si hacemos ese trabajo y le aviso.",
    );
    if p.unsupported {
        parts.push((false, check.to_owned()));
        human = true;
    }
    let nothing = p.new_slots.is_empty() && p.corrections.is_empty() && parts.is_empty() && p.ongoing.is_none();
    if nothing && p.signals.question && !matches!(p.asked, Some(Slot::Service) | None) {
        let t = c.t("Let me check on that and get back to you.", "Déjeme averiguarlo y le aviso.");
        parts.push((false, t.to_owned()));
        human = true;
    } else if nothing && p.next.is_some_and(|n| n != Slot::Service) {
        parts.push((true, c.t("Got it.", "Entendido.").to_owned()));
    }
    human
}

fn hazard_lines(p: &Plan, parts: &mut Vec<(bool, String)>) -> bool {
    let c = &p.ctx;
    match (p.hazard, p.ongoing) {
        (Some((h, true)), _) => {
            parts.push((
                false,
                c.t(
                    "That sounds urgent - let me get someone on this right away.",
                    "Eso suena urgente - voy a conseguir a alguien de inmediato.",
                )
                .to_owned(),
            ));
            parts.extend(safety(h, c).map(|s| (false, s.to_owned())));
            if !c.phone.is_empty() {
                parts.push((
                    true,
                    format!("{} {}.", c.t("You can also call us at", "También puede llamarnos al"), c.phone),
                ));
            }
            true
        }
        (_, Some(h)) if p.new_slots.is_empty() => {
            parts.extend(
                safety(h, c).map(|s| (false, format!("{} {s}", c.t("Please don't wait.", "Por favor no espere.")))),
            );
            false
        }
        _ => false,
    }
}

fn bot_line(c: &Ctx) -> String {
    let t = if c.disclose_bot {
        c.t("I'm {b}'s automated assistant - if you'd rather talk to a person, just say so and someone from the team will reach out.", "Soy el asistente automatico de {b}; si prefiere hablar con una persona, digamelo y alguien del equipo le va a llamar.")
    } else {
        c.t(
            "I'm here to help {b} get you scheduled - if you'd rather talk to someone on the team, just say so.",
            "Estoy aqui para ayudarle a agendar con {b}; si prefiere hablar con alguien del equipo, digamelo.",
        )
    };
    t.replace("{b}", c.business)
}

fn next_line(p: &Plan, nothing: bool) -> String {
    let c = &p.ctx;
    match p.next {
        None if p.was_qualified && p.new_slots.is_empty() && p.corrections.is_empty() => c
            .t("Thanks! {b} will be in touch shortly.", "¡Gracias! {b} se va a comunicar con usted pronto.")
            .replace("{b}", c.business),
        None => confirmation(p),
        Some(Slot::Service) if nothing => {
            format!("{} {}. {}", c.t("This is", "Le escribe"), c.business, question(Slot::Service, c))
        }
        Some(slot) => question(slot, c).to_owned(),
    }
}

/// Joins the parts, GSM-normalised; drops optional parts, then whole
/// sentences from the end, until it fits in [`MAX_REPLY_CHARS`].
pub fn fit(parts: &[(bool, String)]) -> String {
    let mut keep = vec![true; parts.len()];
    loop {
        let joined: Vec<&str> = parts.iter().zip(&keep).filter(|(_, k)| **k).map(|(p, _)| p.1.as_str()).collect();
        let text = gsm::normalize(&joined.join(" "));
        if text.chars().count() <= MAX_REPLY_CHARS {
            return text;
        }
        match parts.iter().zip(keep.iter_mut()).find(|((optional, _), k)| *optional && **k) {
            Some((_, k)) => *k = false,
            None => return truncate(&text),
        }
    }
}

fn truncate(text: &str) -> String {
    let head: String = text.chars().take(MAX_REPLY_CHARS).collect();
    let sentence = head.char_indices().rfind(|(i, c)| matches!(c, '.' | '!' | '?') && head[i + 1..].starts_with(' '));
    match sentence {
        Some((i, _)) => head[..=i].to_owned(),
        None => {
            let cut: String = head.chars().take(MAX_REPLY_CHARS - 3).collect();
            format!("{}...", cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a))
        }
    }
}
