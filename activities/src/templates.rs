//! Every SMS wording, from `prompts/`, embedded in the binary and rendered with
//! strict undefined checks so a missing variable fails instead of sending a
//! blank text.

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use rust_decimal::prelude::{FromPrimitive, RoundingStrategy};
use rust_decimal::Decimal;

use crate::gsm;

const TEMPLATES: &[(&str, &str)] = &[
    ("text_back", include_str!("../../prompts/sms/text_back.txt.j2")),
    ("owner_missed_call", include_str!("../../prompts/sms/owner_missed_call.txt.j2")),
    ("owner_call_back", include_str!("../../prompts/sms/owner_call_back.txt.j2")),
    ("follow_up_1", include_str!("../../prompts/sms/follow_up_1.txt.j2")),
    ("follow_up_2", include_str!("../../prompts/sms/follow_up_2.txt.j2")),
    ("follow_up_3", include_str!("../../prompts/sms/follow_up_3.txt.j2")),
    ("opt_out_confirmation", include_str!("../../prompts/sms/opt_out_confirmation.txt.j2")),
    ("opt_in", include_str!("../../prompts/sms/opt_in.txt.j2")),
    ("help", include_str!("../../prompts/sms/help.txt.j2")),
    ("owner_qualified", include_str!("../../prompts/sms/owner_qualified.txt.j2")),
    ("owner_emergency", include_str!("../../prompts/sms/owner_emergency.txt.j2")),
    ("owner_human_needed", include_str!("../../prompts/sms/owner_human_needed.txt.j2")),
    ("owner_forward", include_str!("../../prompts/sms/owner_forward.txt.j2")),
    ("booking_offer", include_str!("../../prompts/sms/booking_offer.txt.j2")),
    ("booking_reoffer", include_str!("../../prompts/sms/booking_reoffer.txt.j2")),
    ("booking_confirmed", include_str!("../../prompts/sms/booking_confirmed.txt.j2")),
    ("booking_handoff", include_str!("../../prompts/sms/booking_handoff.txt.j2")),
    ("booking_cancelled", include_str!("../../prompts/sms/booking_cancelled.txt.j2")),
    ("booking_none", include_str!("../../prompts/sms/booking_none.txt.j2")),
    ("owner_booked", include_str!("../../prompts/sms/owner_booked.txt.j2")),
    ("owner_cancelled", include_str!("../../prompts/sms/owner_cancelled.txt.j2")),
    ("review_request", include_str!("../../prompts/sms/review_request.txt.j2")),
    ("review_reminder", include_str!("../../prompts/sms/review_reminder.txt.j2")),
];

/// Owner notifications (`prompts/notify/`): `notify/{event}.sms` and
/// `notify/{event}.email` (first line `Subject: …`, a blank line, the body).
pub(crate) const NOTIFY_TEMPLATES: &[(&str, &str)] = &[
    ("notify/missed_call.sms", include_str!("../../prompts/notify/missed_call.sms.txt.j2")),
    ("notify/missed_call.email", include_str!("../../prompts/notify/missed_call.email.txt.j2")),
    ("notify/qualified_lead.sms", include_str!("../../prompts/notify/qualified_lead.sms.txt.j2")),
    ("notify/qualified_lead.email", include_str!("../../prompts/notify/qualified_lead.email.txt.j2")),
    ("notify/appointment_booked.sms", include_str!("../../prompts/notify/appointment_booked.sms.txt.j2")),
    ("notify/appointment_booked.email", include_str!("../../prompts/notify/appointment_booked.email.txt.j2")),
    ("notify/emergency.sms", include_str!("../../prompts/notify/emergency.sms.txt.j2")),
    ("notify/emergency.email", include_str!("../../prompts/notify/emergency.email.txt.j2")),
    ("notify/human_needed.sms", include_str!("../../prompts/notify/human_needed.sms.txt.j2")),
    ("notify/human_needed.email", include_str!("../../prompts/notify/human_needed.email.txt.j2")),
    ("notify/conversation_summary.sms", include_str!("../../prompts/notify/conversation_summary.sms.txt.j2")),
    ("notify/conversation_summary.email", include_str!("../../prompts/notify/conversation_summary.email.txt.j2")),
    ("notify/daily_summary.sms", include_str!("../../prompts/notify/daily_summary.sms.txt.j2")),
    ("notify/daily_summary.email", include_str!("../../prompts/notify/daily_summary.email.txt.j2")),
];

/// The template set, built once at startup.
pub struct Templates {
    env: Environment<'static>,
}

#[derive(Debug, thiserror::Error)]
#[error("template {name}: {source}")]
pub struct TemplateError {
    name: String,
    source: minijinja::Error,
}

impl Templates {
    pub fn new() -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("money", money);
        for (name, src) in TEMPLATES.iter().chain(NOTIFY_TEMPLATES) {
            env.add_template(name, src).map_err(|source| TemplateError { name: (*name).into(), source })?;
        }
        Ok(Self { env })
    }

    /// Renders a template and normalises it for SMS (GSM-7, trimmed).
    pub fn render(&self, name: &str, ctx: Value) -> Result<String, TemplateError> {
        let err = |source| TemplateError { name: name.to_owned(), source };
        let text = self.env.get_template(name).map_err(err)?.render(ctx).map_err(err)?;
        Ok(gsm::normalize(text.trim()))
    }

    /// Renders a template as plain text (email): trimmed, not forced to GSM-7.
    pub fn render_plain(&self, name: &str, ctx: Value) -> Result<String, TemplateError> {
        let err = |source| TemplateError { name: name.to_owned(), source };
        let text = self.env.get_template(name).map_err(err)?.render(ctx).map_err(err)?;
        Ok(text.trim().to_owned())
    }

    /// The first text to a caller: the business's greeting or the default,
    /// always naming the business and always ending with opt-out wording.
    pub fn text_back(&self, business: &str, custom: Option<&str>) -> Result<String, TemplateError> {
        let greeting = custom.map(str::trim).filter(|g| !g.is_empty()).map(|g| {
            let g = g.trim_end_matches(|c: char| c.is_whitespace());
            let g = strip_opt_out(g);
            if g.to_lowercase().contains(&business.to_lowercase()) {
                g.to_owned()
            } else {
                format!("{business}: {g}")
            }
        });
        self.render("text_back", minijinja::context! { business, greeting })
    }
}

/// `{{ revenue | money }}`: whole dollars with thousands separators
/// (`$1,234`), from a decimal string (how `Decimal` serialises) or a number.
fn money(v: Value) -> Result<String, Error> {
    let bad = || Error::new(ErrorKind::InvalidOperation, format!("money: {v} is not an amount"));
    let amount = if let Some(s) = v.as_str() {
        s.trim().parse::<Decimal>().map_err(|_| bad())?
    } else if let Ok(n) = i64::try_from(v.clone()) {
        Decimal::from(n)
    } else if let Ok(f) = f64::try_from(v.clone()) {
        Decimal::from_f64(f).ok_or_else(bad)?
    } else {
        return Err(bad());
    };
    Ok(format_dollars(amount))
}

/// `$1,234` (rounded half away from zero; `-$5` below zero).
pub fn format_dollars(amount: Decimal) -> String {
    let whole = amount.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let digits = whole.abs().trunc().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if whole.is_sign_negative() && !whole.is_zero() { "-" } else { "" };
    format!("{sign}${grouped}")
}

/// Removes an opt-out sentence the owner wrote, so ours is not doubled.
fn strip_opt_out(g: &str) -> &str {
    let lower = g.to_lowercase();
    match lower.rfind("reply stop") {
        Some(i) => g.get(..i).unwrap_or(g).trim_end(),
        None => g,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn default_text_back_names_the_business_and_ends_with_opt_out() {
        let t = Templates::new().unwrap();
        let s = t.text_back("Smith's Heating & Air", None).unwrap();
        assert!(s.contains("Smith's Heating & Air"));
        assert!(s.ends_with("Reply STOP to opt out."));
        assert!(s.len() <= 160, "{} chars: {s}", s.len());
        assert!(gsm::is_gsm7(&s));
    }

    #[test]
    fn custom_greeting_gets_the_business_name_and_one_opt_out() {
        let t = Templates::new().unwrap();
        let s = t.text_back("Cool Air", Some("Sorry we missed you! What’s going on? Reply STOP to opt out")).unwrap();
        assert_eq!(s, "Cool Air: Sorry we missed you! What's going on? Reply STOP to opt out.");
        let named = t.text_back("Cool Air", Some("Cool Air here, sorry!")).unwrap();
        assert_eq!(named, "Cool Air here, sorry! Reply STOP to opt out.");
    }

    #[test]
    fn every_sms_template_renders_within_two_segments() {
        let t = Templates::new().unwrap();
        let ctx = context! {
            business => "Smith's Heating & Air Conditioning of Greater Springfield",
            caller => "(512) 555-0123", time => "3:42 PM", after_hours => true,
            reason => "landline", service => "AC not cooling", name => "Maria", phone => "(512) 555-0199",
            urgency => "soon", address => "2215 Cedar Hollow Dr, Round Rock 78664", preferred_time => "tomorrow morning",
            body => "Is anyone there?", link => "https://calls.example.com/t/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            today => true, times => "Tue 10am, Tue 2pm, Wed 9am, Thu 1pm", when => "Tue Dec 8 at 10am",
            taken => "Tue 10am",
        };
        for (name, _) in TEMPLATES.iter().filter(|(n, _)| *n != "text_back") {
            let s = t.render(name, ctx.clone()).unwrap();
            assert!(!s.is_empty() && s.len() <= 306, "{name}: {} chars", s.len());
            assert!(gsm::is_gsm7(&s), "{name} is not GSM-7: {s}");
        }
    }

    #[test]
    fn money_formats_whole_dollars_with_separators() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(format_dollars(d("0")), "$0");
        assert_eq!(format_dollars(d("350.00")), "$350");
        assert_eq!(format_dollars(d("1234.49")), "$1,234");
        assert_eq!(format_dollars(d("1234.5")), "$1,235");
        assert_eq!(format_dollars(d("1234567")), "$1,234,567");
        assert_eq!(format_dollars(d("-42")), "-$42");
        let t = Templates::new().unwrap();
        let tpl = |v: Value| t.env.render_str("{{ v | money }}", context! { v }).unwrap();
        assert_eq!(tpl(Value::from("2100.00")), "$2,100");
        assert_eq!(tpl(Value::from(700)), "$700");
        assert!(t.env.render_str("{{ v | money }}", context! { v => "lots" }).is_err());
        assert!(t.env.render_str("{{ v | money }}", context! {}).is_err());
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_blank() {
        let t = Templates::new().unwrap();
        assert!(t.render("owner_missed_call", context! { caller => "x", link => "" }).is_err());
    }

    #[test]
    fn review_texts_follow_the_seed_and_carry_the_link_and_opt_out() {
        let t = Templates::new().unwrap();
        let link = "https://calls.example.com/r/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        let ctx = context! { name => "Maria", business => "Cool Air", link, today => true };
        let request = t.render("review_request", ctx.clone()).unwrap();
        assert!(request.starts_with("Hi Maria! Thanks for choosing Cool Air today. If you had a great experience"));
        assert!(request.contains(link) && request.ends_with("Reply STOP to opt out."), "{request}");
        let reminder = t.render("review_reminder", ctx).unwrap();
        assert!(reminder.starts_with("Hey Maria, just a friendly reminder - if you have 30 seconds"), "{reminder}");
        assert!(reminder.contains(link) && reminder.contains("Thanks! - Cool Air"), "{reminder}");
        let anonymous = context! { name => None::<String>, business => "Cool Air", link, today => false };
        let request = t.render("review_request", anonymous.clone()).unwrap();
        assert!(request.starts_with("Hi there! Thanks for choosing Cool Air. If"), "{request}");
        assert!(t.render("review_reminder", anonymous).unwrap().starts_with("Hey, just a friendly reminder"));
    }
}
