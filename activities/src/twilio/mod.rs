//! Twilio: webhook signatures, the REST client and its error codes.

pub mod client;
pub mod error;
pub mod signature;

pub use client::{MessageResource, NewMessage, TwilioClient};
pub use error::TwilioError;
