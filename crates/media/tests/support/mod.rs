//! Shared test support.

pub mod pulse;
