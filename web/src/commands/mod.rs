//! Subcommands that are more than a call into the library.

pub mod bench;
pub mod business;
pub mod crash_test;
pub mod demo;
pub mod eval;
pub mod harness;
