//! The JSON API, authenticated by a per-business key.

pub mod completions;
pub mod conversations;
