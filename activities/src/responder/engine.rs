//! The one trait every responder answers through, so the workflow can hold
//! "the configured responder" without knowing which it is.

use std::future::Future;
use std::pin::Pin;

use super::openai::{OpenAiResponder, PromptExtras, ResponderError};
use super::{rules, Reply, TurnInput};

/// A boxed, sendable answer (object-safe, so responders can sit behind `Arc<dyn Responder>`).
pub type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, ResponderError>> + Send + 'a>>;

/// Writes the reply to a customer's new texts and reports what they said:
/// extracted lead fields, qualified, emergency, human needed, price question,
/// opt-out intent.
pub trait Responder: Send + Sync {
    fn respond<'a>(&'a self, input: &'a TurnInput<'a>, extras: &'a PromptExtras) -> ReplyFuture<'a>;
    /// For logs and reports ("rules", or the model's name).
    fn name(&self) -> &str;
}

/// The built-in rules engine: deterministic, offline, never fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulesEngine;

impl Responder for RulesEngine {
    fn respond<'a>(&'a self, input: &'a TurnInput<'a>, _extras: &'a PromptExtras) -> ReplyFuture<'a> {
        Box::pin(async move { Ok(rules::respond(input)) })
    }

    fn name(&self) -> &str {
        "rules"
    }
}

impl Responder for OpenAiResponder {
    fn respond<'a>(&'a self, input: &'a TurnInput<'a>, extras: &'a PromptExtras) -> ReplyFuture<'a> {
        Box::pin(OpenAiResponder::respond(self, input, extras))
    }

    fn name(&self) -> &str {
        self.model()
    }
}
