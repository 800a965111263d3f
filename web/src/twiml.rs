//! TwiML documents, built with escaping so a business name can't break the XML.

use std::fmt::Write;

/// Escapes text and attribute values for XML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

pub fn say(text: &str) -> String {
    format!("{HEAD}<Response><Say>{}</Say></Response>", esc(text))
}

pub fn say_and_hang_up(text: &str) -> String {
    format!("{HEAD}<Response><Say>{}</Say><Hangup/></Response>", esc(text))
}

pub fn hang_up() -> String {
    format!("{HEAD}<Response><Hangup/></Response>")
}

pub fn empty() -> String {
    format!("{HEAD}<Response/>")
}

/// The dial to the business phone; `screen_url` asks the owner to press 1.
pub struct Dial<'a> {
    pub number: &'a str,
    pub caller_id: &'a str,
    pub action: &'a str,
    pub timeout_secs: u32,
    pub screen_url: Option<&'a str>,
}

pub fn dial(d: &Dial<'_>) -> String {
    let mut s = String::with_capacity(512);
    s.push_str(HEAD);
    let _ = write!(
        s,
        r#"<Response><Dial timeout="{}" answerOnBridge="true" action="{}" method="POST" callerId="{}">"#,
        d.timeout_secs,
        esc(d.action),
        esc(d.caller_id)
    );
    match d.screen_url {
        Some(url) => {
            let _ = write!(s, r#"<Number url="{}" method="POST">{}</Number>"#, esc(url), esc(d.number));
        }
        None => {
            let _ = write!(s, "<Number>{}</Number>", esc(d.number));
        }
    }
    s.push_str("</Dial></Response>");
    s
}

/// The whisper the owner hears: press 1 to take the call, else hang up, so a
/// voicemail box or phone menu never counts as answered.
pub fn screen(business: &str, accept_url: &str) -> String {
    format!(
        r#"{HEAD}<Response><Gather numDigits="1" timeout="6" action="{}" method="POST"><Say>Call for {}. Press 1 to take it.</Say></Gather><Hangup/></Response>"#,
        esc(accept_url),
        esc(business)
    )
}

/// The value of `name` on the first `<element>` of a TwiML document, parsed
/// (the simulator follows our own TwiML the way Twilio would).
pub fn attr(xml: &str, element: &str, name: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)
                if e.name().as_ref() == element.as_bytes() =>
            {
                let a = e.try_get_attribute(name).ok()??;
                return a.unescape_value().ok().map(|v| v.into_owned());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_markup_are_escaped() {
        let x = say("Tom & Jerry's <HVAC>");
        assert!(x.contains("Tom &amp; Jerry&apos;s &lt;HVAC&gt;"));
    }
}
