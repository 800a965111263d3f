//! The conversation workflow: started by a missed call, it texts the caller
//! back, alerts the owner, and follows up until the customer answers.

pub(crate) mod driver;
mod effects;
pub mod state;
pub mod transition;

#[cfg(test)]
mod tests;

pub use state::{Command, DeliveryResult, Event, Outcome, State, TextKind, WakeFacts};
pub use transition::{step, Ctx, Decision};
