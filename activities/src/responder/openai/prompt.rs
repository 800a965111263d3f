//! The words we send the model: both prompts live in `prompts/ai/` (every word
//! CallRecover sends is reviewable there), embedded at build time and rendered
//! with strict undefined checks so a missing variable fails loudly instead of
//! silently dropping a rule from the prompt.

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage,
};
use minijinja::{context, Environment, UndefinedBehavior, Value};

use super::PromptExtras;
use crate::responder::{Turn, TurnInput};

const SYSTEM: &str = include_str!("../../../../prompts/ai/system.txt.j2");
const EXTRACT: &str = include_str!("../../../../prompts/ai/extract.txt.j2");

/// Older turns are dropped beyond this: an SMS qualification never needs
/// more, and it bounds the tokens a runaway conversation can cost.
const MAX_HISTORY_TURNS: usize = 40;

/// The two prompt templates, parsed once when the responder is built.
pub(super) struct Prompts {
    env: Environment<'static>,
}

impl Prompts {
    pub(super) fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.add_template("system", SYSTEM)?;
        env.add_template("extract", EXTRACT)?;
        Ok(Self { env })
    }

    /// The reply call's system prompt: rules, business facts, what we know.
    pub(super) fn system(&self, input: &TurnInput<'_>, extras: &PromptExtras) -> Result<String, minijinja::Error> {
        let instructions = extras.ai_instructions.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let ctx = context! {
            business => input.business_name,
            phone => input.business_phone_display,
            services => input.services,
            open_now => input.open_now,
            disclose_bot => input.disclose_bot,
            hours => or_unknown(&extras.hours_summary),
            local_time => or_unknown(&extras.local_time),
            weekday => or_unknown(&extras.weekday),
            ai_instructions => instructions,
            known => Value::from_serialize(input.known),
            booking => booking(input),
        };
        self.env.get_template("system")?.render(ctx)
    }

    /// The extraction call's system prompt: field rules, known facts, and the
    /// earlier conversation as context (the new texts go in the user message).
    pub(super) fn extract(&self, input: &TurnInput<'_>) -> Result<String, minijinja::Error> {
        let history: Vec<Value> = recent(input.history)
            .iter()
            .map(|t| context! { from_customer => t.from_customer, body => t.body.trim() })
            .collect();
        let ctx = context! {
            business => input.business_name,
            known => Value::from_serialize(input.known),
            history => history,
            booking => booking(input),
        };
        self.env.get_template("extract")?.render(ctx)
    }
}

/// The times on offer and the customer's appointment, for both prompts.
fn booking(input: &TurnInput<'_>) -> Option<Value> {
    input.booking.map(|b| {
        let offered: Vec<String> = b.offered.iter().map(|s| crate::booking::format_slot(s, b.tz)).collect();
        context! { offered, appointment => b.appointment }
    })
}

fn or_unknown(s: &str) -> &str {
    if s.trim().is_empty() {
        "unknown"
    } else {
        s.trim()
    }
}

fn recent(history: &[Turn]) -> &[Turn] {
    &history[history.len().saturating_sub(MAX_HISTORY_TURNS)..]
}

/// System prompt, then the conversation as user/assistant messages, then the
/// new texts. Adjacent messages of one side are joined: several
/// OpenAI-compatible servers reject two user (or assistant) turns in a row.
pub(super) fn reply_messages(system: String, input: &TurnInput<'_>) -> Vec<ChatCompletionRequestMessage> {
    let mut turns: Vec<(bool, String)> = Vec::new();
    let history = recent(input.history).iter().map(|t| (t.from_customer, t.body.as_str()));
    let new = input.new_texts.iter().map(|t| (true, t.as_str()));
    for (from_customer, body) in history.chain(new) {
        let body = body.trim();
        if body.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((side, text)) if *side == from_customer => {
                text.push('\n');
                text.push_str(body);
            }
            _ => turns.push((from_customer, body.to_owned())),
        }
    }
    let mut messages = vec![ChatCompletionRequestSystemMessage::from(system).into()];
    messages.extend(turns.into_iter().map(|(from_customer, body)| message(from_customer, body)));
    messages
}

/// The extraction call sees only the new texts as the customer's message, so
/// values are taken from them and not re-read from older turns.
pub(super) fn extract_messages(system: String, input: &TurnInput<'_>) -> Vec<ChatCompletionRequestMessage> {
    let new: Vec<&str> = input.new_texts.iter().map(|t| t.trim()).filter(|t| !t.is_empty()).collect();
    vec![ChatCompletionRequestSystemMessage::from(system).into(), message(true, new.join("\n"))]
}

fn message(from_customer: bool, body: String) -> ChatCompletionRequestMessage {
    if from_customer {
        ChatCompletionRequestUserMessage::from(body).into()
    } else {
        ChatCompletionRequestAssistantMessage::from(body).into()
    }
}
