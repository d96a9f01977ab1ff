//! The status and event types the daemon reports live in
//! [`crate::protocol::status`] (the contract with its clients); this
//! module keeps their old path for the daemon's code.

pub use crate::protocol::status::*;
