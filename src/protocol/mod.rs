//! The one contract between the daemon and its clients (the CLI, the tray,
//! the web UI, the tests): every request and answer of the loopback API as
//! a Rust type, and the typed [`Client`]. Only `protocol` and `api` know
//! JSON; a field renamed here is a compile error on both sides.
//!
//! Architecture Invariant: `protocol` imports nothing from the crate but
//! [`crate::config`] (the saved schema, whose entries the API serves as
//! they are saved). Conversions from the engine's and the pass's types
//! live outside it ([`crate::pass_report`]).
//!
//! * [`status`] — the state of each synchronization, the overall state,
//!   `GET /api/status`, the events of `/api/events`.
//! * [`report`] — a pass's report and planned ops (simulation, `--json`).
//! * [`syncs`] — synchronizations: new, typed settings patch, runs.
//! * [`accounts`] — accounts and folder browsing.
//! * [`history`] — the transfer log and conflicts.
//! * [`settings`] — the application's settings, diagnostics, checking a
//!   local folder for the setup assistant.
//! * [`why`] — why an item is as it is.
//! * [`manage`] — one synchronization's server folders (selective sync),
//!   filter checks and previews, the built-in rules, opening its folder.
//! * [`prefs`] — the login code that opens the preferences UI.
//! * [`portfile`] — `api.port` in the data folder: port and token, 0600.
//! * [`client`] — the client side: one method per route.

pub mod accounts;
pub mod client;
pub mod history;
pub mod manage;
pub mod portfile;
pub mod prefs;
pub mod report;
pub mod settings;
pub mod status;
pub mod syncs;
pub mod why;

pub use client::{Client, ClientError};

use serde::{Deserialize, Serialize};

/// `GET /api/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub ok: bool,
    /// The daemon's version.
    pub version: String,
}

/// The answer of an action that has nothing more to say (`{"ok": true}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub ok: bool,
}

impl Done {
    pub const OK: Done = Done { ok: true };
}

/// An error answer: `{"error": message, "code": code}` with a 4xx or 5xx
/// status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub code: String,
}
