//! The one contract between the daemon and its clients (the CLI, the tray,
//! the web UI, the tests).
//!
//! * [`status`] — the state of each synchronization, the overall state,
//!   the events of `/api/events`.
//! * [`portfile`] — `api.port` in the data folder: port and token, 0600.
//! * [`client`] — the client side of the loopback API.

pub mod client;
pub mod portfile;
pub mod status;
