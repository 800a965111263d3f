//! The OpenAI-compatible responder: one chat completion writes the reply (seed
//! 000 §8's system prompt, with markers for the owner), a second, concurrent
//! one is forced to call `update_lead_info` so the lead's facts come back as
//! JSON. Any error is returned rather than papered over: the caller falls
//! back to the rules engine, so a customer always gets an answer.
//!
//! Works with any server speaking OpenAI's chat completions (`base_url`).
//! async-openai supplies the request and response types; the HTTP call is
//! ours (the `http` module says why).

mod extract;
mod http;
mod prompt;
mod text;

use std::fmt;
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatChoice, ChatCompletionMessageToolCalls, ChatCompletionRequestMessage, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs, CreateChatCompletionResponse, FinishReason,
};

use self::extract::Extraction;
use crate::responder::{Reply, TurnInput, MAX_REPLY_CHARS};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// Both calls together; long enough for a slow completion, short enough that
/// the rules-engine fallback still answers the customer promptly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// An SMS reply needs few tokens; the cap also bounds cost and latency.
const REPLY_MAX_TOKENS: u32 = 200;
/// Low but not zero: varied wording across leads, same rules every time.
const REPLY_TEMPERATURE: f32 = 0.4;
/// Extraction wants the most likely reading, not variety.
const EXTRACT_TEMPERATURE: f32 = 0.0;
const EXTRACT_MAX_TOKENS: u32 = 400;

/// Where and how to reach the model (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
/// `OPENAI_MODEL`).
#[derive(Clone)]
pub struct OpenAiConfig {
    pub api_key: String,
    pub base_url: String,
    pub model: String,
    /// Bounds the whole of [`OpenAiResponder::respond`].
    pub timeout: Duration,
}

impl OpenAiConfig {
    /// The defaults: OpenAI itself, `gpt-4o-mini`, [`DEFAULT_TIMEOUT`].
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            model: DEFAULT_MODEL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Keeps the key out of logs.
impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Prompt facts that [`TurnInput`] does not carry: the business's local
/// clock and hours, and the owner's own instructions.
#[derive(Debug, Clone, Default)]
pub struct PromptExtras {
    /// e.g. "02:15 PM"
    pub local_time: String,
    /// e.g. "Tuesday"
    pub weekday: String,
    /// e.g. "Mon-Fri 8am-6pm, Sat 9am-1pm"
    pub hours_summary: String,
    pub ai_instructions: Option<String>,
}

/// Why no reply came back. Every variant means the same to the caller (use
/// the rules engine); they differ for logs and metrics.
#[derive(Debug, thiserror::Error)]
pub enum ResponderError {
    #[error("the model did not answer in time")]
    Timeout,
    #[error("rate limited (HTTP 429)")]
    RateLimited,
    #[error("server error: HTTP {0}")]
    Http(u16),
    #[error("API error: {0}")]
    Api(String),
    #[error("could not reach the model: {0}")]
    Transport(String),
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("prompt template: {0}")]
    Prompt(String),
}

/// Only the request builder fails this way (a required field missing).
impl From<OpenAIError> for ResponderError {
    fn from(e: OpenAIError) -> Self {
        Self::Config(e.to_string())
    }
}

pub struct OpenAiResponder {
    http: http::Http,
    model: String,
    timeout: Duration,
    prompts: prompt::Prompts,
}

impl OpenAiResponder {
    /// Checks the configuration and parses the prompts, so a bad key or
    /// template fails at start-up rather than on a customer's text.
    pub fn new(config: OpenAiConfig) -> Result<Self, ResponderError> {
        let api_key = config.api_key.trim();
        // Anything else cannot go in an Authorization header.
        if api_key.is_empty() || !api_key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ResponderError::Config("OPENAI_API_KEY is empty or not printable ASCII".into()));
        }
        let base_url = config.base_url.trim().trim_end_matches('/');
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ResponderError::Config(format!("OPENAI_BASE_URL is not an http(s) URL: {base_url}")));
        }
        if config.model.trim().is_empty() {
            return Err(ResponderError::Config("OPENAI_MODEL is empty".into()));
        }
        let prompts = prompt::Prompts::new().map_err(|e| ResponderError::Config(format!("AI prompts: {e}")))?;
        let http = http::Http::new(base_url, api_key)?;
        Ok(Self { http, model: config.model.trim().to_owned(), timeout: config.timeout, prompts })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Writes the reply to the customer's new texts and extracts what they
    /// said, both calls at once, the pair bounded by the configured timeout.
    pub async fn respond(&self, input: &TurnInput<'_>, extras: &PromptExtras) -> Result<Reply, ResponderError> {
        let both = async { tokio::try_join!(self.reply_text(input, extras), self.extract(input)) };
        let ((reply, cut_off), found) =
            tokio::time::timeout(self.timeout, both).await.map_err(|_| ResponderError::Timeout)??;
        assemble(input, &reply, cut_off, found)
    }

    /// The reply, markers still in it, and whether the model ran out of
    /// tokens mid-sentence.
    async fn reply_text(&self, input: &TurnInput<'_>, extras: &PromptExtras) -> Result<(String, bool), ResponderError> {
        let system = self.prompts.system(input, extras).map_err(|e| ResponderError::Prompt(e.to_string()))?;
        let request = self.request(prompt::reply_messages(system, input), REPLY_MAX_TOKENS, REPLY_TEMPERATURE)?;
        let choice = first_choice(self.http.create(&request).await?)?;
        let cut_off = choice.finish_reason == Some(FinishReason::Length);
        let content = match (choice.message.content, choice.message.refusal) {
            (Some(c), _) if !c.trim().is_empty() => c,
            (_, Some(refusal)) => return Err(ResponderError::Malformed(format!("the model refused: {refusal}"))),
            _ => return Err(ResponderError::Malformed("the reply has no text".into())),
        };
        Ok((content, cut_off))
    }

    async fn extract(&self, input: &TurnInput<'_>) -> Result<Extraction, ResponderError> {
        let system = self.prompts.extract(input).map_err(|e| ResponderError::Prompt(e.to_string()))?;
        let mut request =
            self.request(prompt::extract_messages(system, input), EXTRACT_MAX_TOKENS, EXTRACT_TEMPERATURE)?;
        request.tools = Some(vec![extract::tool()]);
        request.tool_choice = Some(extract::tool_choice());
        let arguments = first_choice(self.http.create(&request).await?)?
            .message
            .tool_calls
            .unwrap_or_default()
            .into_iter()
            .find_map(|call| match call {
                ChatCompletionMessageToolCalls::Function(f) if f.function.name == extract::TOOL_NAME => {
                    Some(f.function.arguments)
                }
                _ => None,
            })
            .ok_or_else(|| ResponderError::Malformed(format!("no {} tool call", extract::TOOL_NAME)))?;
        extract::parse(&arguments).map_err(|e| ResponderError::Malformed(format!("tool arguments: {e}")))
    }

    fn request(
        &self,
        messages: Vec<ChatCompletionRequestMessage>,
        max_tokens: u32,
        temperature: f32,
    ) -> Result<CreateChatCompletionRequest, ResponderError> {
        Ok(CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .messages(messages)
            .max_completion_tokens(max_tokens)
            .temperature(temperature)
            .build()?)
    }
}

fn first_choice(response: CreateChatCompletionResponse) -> Result<ChatChoice, ResponderError> {
    response.choices.into_iter().next().ok_or_else(|| ResponderError::Malformed("no choices".into()))
}

/// Markers and extracted flags into one [`Reply`]. A reply with nothing
/// left after the markers is an error: the customer must never get a blank
/// text or a bare marker.
fn assemble(input: &TurnInput<'_>, raw: &str, cut_off: bool, found: Extraction) -> Result<Reply, ResponderError> {
    let (stripped, markers) = text::strip_markers(raw);
    let text = text::fit(&stripped, MAX_REPLY_CHARS, cut_off);
    if !text.chars().any(char::is_alphanumeric) {
        return Err(ResponderError::Malformed(format!("nothing to send once markers are removed: {raw:?}")));
    }
    let mut lead = input.known.clone();
    lead.merge(&found.facts);
    Ok(Reply {
        text,
        qualified: markers.qualified || lead.is_qualified(),
        emergency: markers.emergency || found.emergency,
        human_needed: markers.human_needed || found.human_requested,
        price_question: found.price_question,
        opt_out: found.opt_out,
        bot_question: found.bot_question,
        language: found.language,
        booking: found.booking.intent(input.booking),
        extracted: found.facts,
        corrections: found.corrections,
    })
}
