//! The web layer and the `callrecover` binary: Twilio webhooks (signature
//! checked), the phone simulator, and the commands that run it all.

pub mod app;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod error;
pub mod fake_openai;
pub mod fake_smtp;
pub mod fake_twilio;
pub mod fault_dice;
pub mod postgres_finder;
pub mod rate_limit;
pub mod router;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod twilio_request;
pub mod twiml;
