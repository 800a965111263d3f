//! The Postgres store: typed queries, one module per aggregate. Every function
//! that reads tenant data takes the `BusinessId` and filters on it.

pub mod api_keys;
pub mod appointment_status;
pub mod appointments;
pub mod business_cache;
pub mod businesses;
pub mod calls;
pub mod conversations;
pub mod dashboard;
pub mod email_outbox;
pub mod leads_many;
pub mod messages;
pub mod metrics;
pub mod notifications;
pub mod opt_outs;
pub mod outbox_many;
pub mod reviews;
pub mod run_outbox;
pub mod webhook_events;

#[cfg(test)]
mod domains_tests;
