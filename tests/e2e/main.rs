//! End-to-end tests: one binary, one module per flow.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod api;
mod appointments;
mod bad_input;
mod batches;
mod booking;
mod calendar;
mod cli;
mod conversation;
mod crash_check;
mod durability;
mod eager;
mod eval;
mod flows;
mod keywords;
mod llm;
mod missed_call;
mod notify;
mod owner_alerts;
mod provider_failures;
mod reviews;
mod screening;
mod simulator;
mod startup;
mod timers;
