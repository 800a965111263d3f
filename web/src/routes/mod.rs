//! HTTP routes, one module per group.

pub mod api;
pub mod calendar;
pub mod health;
pub mod review_link;
pub mod simulator;
pub mod sms_incoming;
pub mod sms_status;
pub mod takeover_link;
pub mod voice;
