//! End-to-end tests of the whole system against a real Postgres, with Twilio
//! faked at its HTTP boundary. The helpers live here; the tests in `main.rs`.

pub mod helpers;
