//! The review-request workflow: started when a job is marked completed, it
//! texts the customer the business's Google review link (a tracked `/r/`
//! link) after a delay, reminds once unless the link was opened, and never
//! texts again.

pub(crate) mod driver;
mod start;
pub mod state;
pub mod transition;

#[cfg(test)]
mod tests;

pub use start::ReviewStart;
pub use state::{Command, Facts, Outcome, RequestStatus, State, TextKind};
pub use transition::{step, Ctx, Decision};
