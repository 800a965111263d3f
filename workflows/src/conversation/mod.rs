//! The conversation workflow: started by a missed call, it texts the caller
//! back, alerts the owner, and follows up until the customer answers.

mod alerts;
pub(crate) mod batch;
mod booking;
mod calendar;
pub(crate) mod driver;
mod effects;
pub(crate) mod respond;
pub mod state;
pub mod transition;
mod turns;

#[cfg(test)]
mod booking_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod turns_tests;

pub use state::{Alert, Command, DeliveryResult, Event, Outcome, SignalKind, State, TextKind, WakeFacts};
pub use transition::{step, Ctx, Decision};
