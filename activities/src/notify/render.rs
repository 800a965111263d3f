//! A notification's words: the owner SMS and the email, from `prompts/notify/`.

use crate::templates::{TemplateError, Templates};

use super::NotifyEvent;

/// Both renderings of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub sms: String,
    pub subject: String,
    pub email_body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("template notify/{0}.email must start with a `Subject: …` line and a blank line")]
    NoSubject(&'static str),
}

/// Renders the SMS and the email of an event. Both are always rendered, so a
/// missing variable fails the same way whatever the owner's preferences.
pub fn render(t: &Templates, event: NotifyEvent, ctx: &serde_json::Value) -> Result<Rendered, RenderError> {
    let name = event.as_str();
    let ctx = minijinja::Value::from_serialize(ctx);
    let sms = t.render(&format!("notify/{name}.sms"), ctx.clone())?;
    let email = t.render_plain(&format!("notify/{name}.email"), ctx)?;
    let (subject, email_body) = split_subject(&email).ok_or(RenderError::NoSubject(name))?;
    Ok(Rendered { sms, subject, email_body })
}

/// `Subject: …`, a blank line, then the body.
fn split_subject(email: &str) -> Option<(String, String)> {
    let (first, rest) = email.split_once('\n')?;
    let subject = first.strip_prefix("Subject:")?.trim();
    let body = rest.strip_prefix('\n').or_else(|| rest.strip_prefix("\r\n"))?;
    // A subject is one line of plain text: no header injection.
    if subject.is_empty() || subject.contains(['\r', '\n']) {
        return None;
    }
    Some((subject.to_owned(), body.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const LINK: &str = "https://calls.example.com/t/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    /// Exactly the variables each event's templates need, with realistic values.
    fn fixture(e: NotifyEvent) -> Value {
        let lead = json!({
            "caller": "(512) 555-0123", "name": "Maria Lopez", "service": "AC not cooling",
            "urgency": "soon", "address": "2215 Cedar Hollow Dr, Round Rock 78664",
            "preferred_time": "tomorrow morning",
        });
        let mut v = match e {
            NotifyEvent::MissedCall => json!({"caller": "(512) 555-0123", "time": "9:42 PM", "after_hours": true}),
            NotifyEvent::QualifiedLead => lead,
            NotifyEvent::AppointmentBooked => json!({
                "caller": "(512) 555-0123", "name": "Maria Lopez", "service": "AC repair",
                "when": "Tue Dec 2, 10:00 AM", "address": "2215 Cedar Hollow Dr, Round Rock 78664",
            }),
            NotifyEvent::Emergency => {
                json!({"caller": "(512) 555-0123", "name": null, "service": "gas smell", "address": "12 Oak St"})
            }
            NotifyEvent::HumanNeeded => json!({"caller": "(512) 555-0123", "name": "Maria Lopez"}),
            NotifyEvent::ConversationSummary => {
                let mut l = lead;
                l["outcome"] = json!("booked");
                l["when"] = json!("Tue Dec 2, 10:00 AM");
                l["reason"] = Value::Null;
                l
            }
            NotifyEvent::DailySummary => json!({
                "date": "Tue Dec 1", "calls": 14, "missed": 6, "recovered": 4, "booked": 3, "revenue": "1050.00",
            }),
        };
        v["business"] = json!("Smith's Heating & Air Conditioning of Greater Springfield");
        if e != NotifyEvent::DailySummary {
            v["link"] = json!(LINK);
        }
        v
    }

    #[test]
    fn every_event_renders_a_short_gsm7_sms_and_an_email_with_a_subject() {
        let t = Templates::new().unwrap();
        for e in NotifyEvent::ALL {
            let r = render(&t, e, &fixture(e)).unwrap_or_else(|err| panic!("{e:?}: {err}"));
            assert!(!r.sms.is_empty() && r.sms.len() <= 306, "{e:?}: {} chars: {}", r.sms.len(), r.sms);
            assert!(crate::gsm::is_gsm7(&r.sms), "{e:?} is not GSM-7: {}", r.sms);
            assert!(!r.subject.is_empty() && r.subject.len() <= 120, "{e:?} subject: {}", r.subject);
            assert!(!r.email_body.is_empty(), "{e:?} email body");
            if e != NotifyEvent::DailySummary {
                assert!(r.sms.ends_with(LINK), "{e:?} SMS must end with the one-tap link: {}", r.sms);
                assert!(r.email_body.contains(LINK), "{e:?} email must carry the link");
            }
        }
    }

    #[test]
    fn events_not_about_the_lead_say_the_same_whatever_is_known_of_it() {
        let t = Templates::new().unwrap();
        for e in NotifyEvent::ALL.into_iter().filter(|e| !e.about_the_lead()) {
            let bare = render(&t, e, &fixture(e)).unwrap();
            let mut known = fixture(e);
            for (k, v) in fixture(NotifyEvent::AppointmentBooked).as_object().unwrap() {
                known.as_object_mut().unwrap().entry(k.clone()).or_insert(v.clone());
            }
            let told = render(&t, e, &known).unwrap();
            assert_eq!((bare.sms, bare.subject, bare.email_body), (told.sms, told.subject, told.email_body), "{e:?}");
        }
    }

    #[test]
    fn without_a_link_nothing_dangles() {
        let t = Templates::new().unwrap();
        for e in NotifyEvent::ALL {
            let mut ctx = fixture(e);
            ctx["link"] = Value::Null;
            let r = render(&t, e, &ctx).unwrap();
            assert!(!r.sms.contains("http") && !r.sms.ends_with('\n'), "{e:?}: {}", r.sms);
            assert!(!r.email_body.contains("http"), "{e:?}");
        }
    }

    #[test]
    fn a_missing_variable_fails_instead_of_rendering_a_blank() {
        let t = Templates::new().unwrap();
        for e in NotifyEvent::ALL {
            let full = fixture(e);
            for key in full.as_object().unwrap().keys() {
                let mut ctx = full.clone();
                ctx.as_object_mut().unwrap().remove(key);
                assert!(render(&t, e, &ctx).is_err(), "{e:?} rendered without {key}");
            }
        }
    }

    #[test]
    fn outcomes_and_figures_are_in_the_words() {
        let t = Templates::new().unwrap();
        let mut ctx = fixture(NotifyEvent::ConversationSummary);
        let r = render(&t, NotifyEvent::ConversationSummary, &ctx).unwrap();
        assert!(r.sms.starts_with("Booked: Maria Lopez - AC not cooling\nTue Dec 2, 10:00 AM"), "{}", r.sms);
        assert!(r.subject.contains("Booked"), "{}", r.subject);
        ctx["outcome"] = json!("needs_follow_up");
        ctx["when"] = Value::Null;
        ctx["reason"] = json!("asked for a price");
        let r = render(&t, NotifyEvent::ConversationSummary, &ctx).unwrap();
        assert!(r.sms.starts_with("Needs follow-up: Maria Lopez"), "{}", r.sms);
        assert!(r.sms.contains("asked for a price") && !r.sms.contains("Tue"), "{}", r.sms);
        ctx["outcome"] = json!("lost");
        assert!(render(&t, NotifyEvent::ConversationSummary, &ctx).unwrap().subject.contains("Lost"));
        ctx["outcome"] = json!("maybe");
        assert!(render(&t, NotifyEvent::ConversationSummary, &ctx).is_err(), "an unknown outcome is an error");

        let mut day = fixture(NotifyEvent::DailySummary);
        day["revenue"] = json!("12345.60");
        let r = render(&t, NotifyEvent::DailySummary, &day).unwrap();
        assert!(r.sms.contains("14 calls, 6 missed, 4 recovered, 3 booked. Est. revenue $12,346."), "{}", r.sms);
        assert!(r.email_body.contains("Estimated revenue: $12,346"), "{}", r.email_body);
    }

    #[test]
    fn an_email_without_a_subject_line_is_refused() {
        assert_eq!(split_subject("Subject: Hi\n\nBody"), Some(("Hi".into(), "Body".into())));
        assert_eq!(split_subject("Hi\n\nBody"), None);
        assert_eq!(split_subject("Subject: Hi\nBody"), None);
        assert_eq!(split_subject("Subject:   \n\nBody"), None);
    }
}
