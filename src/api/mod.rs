//! The loopback HTTP API of the daemon (being written).

pub mod client;
pub mod portfile;
pub mod security;
