//! What the daemon reports: the state of each synchronization, the overall
//! state, and the events streamed to the API's clients (`/api/events`).
//! Plain data, serialised as JSON for the API, the CLI and the tray.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::report::Problem;
// The notification switches are settings of the saved configuration.
pub use crate::config::Notifications;

/// Where one synchronization stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SyncState {
    /// Started, first pass not done yet.
    Starting,
    /// Both sides were equal at the end of the last pass.
    Synced,
    /// A pass is running.
    Syncing(Progress),
    /// Paused by the user (or a cancelled confirmation).
    Paused {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        reason: Option<String>,
    },
    /// Turned off in the configuration.
    Disabled,
    /// The server cannot be reached: retried with backoff; local changes
    /// wait and go out on reconnect.
    Offline { reason: String, retry_in_secs: u64 },
    /// The last pass failed: retried with backoff.
    Error { reason: String, retry_in_secs: u64 },
    /// The server refuses the credentials (or there are none): nothing is
    /// retried until the user acts.
    CredentialsRequired { reason: String },
    /// A guard stopped the pass; confirm or cancel.
    NeedsConfirmation { reason: String },
}

impl SyncState {
    /// The short name (`synced`, `syncing`, …) as in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            SyncState::Starting => "starting",
            SyncState::Synced => "synced",
            SyncState::Syncing(_) => "syncing",
            SyncState::Paused { .. } => "paused",
            SyncState::Disabled => "disabled",
            SyncState::Offline { .. } => "offline",
            SyncState::Error { .. } => "error",
            SyncState::CredentialsRequired { .. } => "credentials_required",
            SyncState::NeedsConfirmation { .. } => "needs_confirmation",
        }
    }

    /// How much this state needs the user's eye; the overall state is the
    /// most urgent of all synchronizations.
    fn urgency(&self) -> u8 {
        match self {
            SyncState::Disabled => 0,
            SyncState::Synced => 1,
            SyncState::Paused { .. } => 2,
            SyncState::Starting => 3,
            SyncState::Syncing(_) => 4,
            SyncState::Offline { .. } => 5,
            SyncState::Error { .. } => 6,
            SyncState::NeedsConfirmation { .. } => 7,
            SyncState::CredentialsRequired { .. } => 8,
        }
    }
}

/// Progress of a running pass.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Ops planned / done (0 planned: still looking at both sides).
    pub files_total: usize,
    pub files_done: usize,
    pub bytes_total: u64,
    pub bytes_done: u64,
    /// Estimated seconds left, once there is a rate to go by.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eta_secs: Option<u64>,
}

/// The summary of a finished pass.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PassSummary {
    /// RFC 3339.
    pub finished_at: String,
    pub elapsed_ms: u64,
    pub dry_run: bool,
    pub counts: BTreeMap<String, usize>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Items not synchronized (excluded names, unsafe names…), first 100.
    pub problems: Vec<Problem>,
    /// Ops that failed, first 100.
    pub errors: Vec<Problem>,
    /// Ops skipped because an item changed meanwhile.
    pub skipped: usize,
    /// Items sent to a trash (deleted, or kept aside before being replaced).
    #[serde(default)]
    pub trashed: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stopped: Option<String>,
    /// Why it stopped, for programs (the CLI's exit status):
    /// `credentials_required`, `offline`, `no_space` or `stopped`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stop_kind: Option<String>,
}

/// One synchronization as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub id: String,
    pub name: String,
    pub local: String,
    /// The remote, described without secrets.
    pub remote: String,
    #[serde(flatten)]
    pub state: SyncState,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_pass: Option<PassSummary>,
    /// When live watching does not work, why (the daemon polls instead).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub watch_warning: Option<String>,
}

/// The overall state: the most urgent of all synchronizations.
pub fn overall(states: &[SyncStatus]) -> &'static str {
    states
        .iter()
        .map(|s| &s.state)
        .max_by_key(|s| s.urgency())
        .map(SyncState::name)
        .unwrap_or("synced")
}

/// A file that was transferred, for the "recent files" menu.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecentFile {
    pub sync: String,
    pub path: String,
    pub action: String,
    /// RFC 3339.
    pub time: String,
}

/// What `/api/events` streams.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A synchronization's state changed.
    State { sync: Box<SyncStatus> },
    /// An op finished.
    Transfer {
        sync: String,
        action: String,
        path: String,
        bytes: u64,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        error: Option<String>,
    },
    /// Synchronizations or accounts were added, changed or removed.
    Config,
    /// This client fell behind and `missed` events were dropped: re-read
    /// `/api/status`.
    Lagged { missed: u64 },
    /// An event of a kind this client does not know (a newer daemon).
    #[serde(other)]
    Other,
}

/// `GET /api/status`: every synchronization, the overall state, and what
/// the user should look at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The most urgent state of all synchronizations ([`overall`]).
    pub overall: String,
    pub syncs: Vec<ListedStatus>,
    /// The latest transfers, newest first.
    pub recent: Vec<RecentFile>,
    /// Conflicts not resolved yet, in all synchronizations.
    pub open_conflicts: usize,
    /// What went wrong reading the configuration (e.g. a corrupt file set
    /// aside).
    pub config_warnings: Vec<String>,
    /// The daemon's version.
    pub version: String,
    /// Which desktop notifications the user wants (the settings' switches;
    /// all on from a daemon that does not say).
    #[serde(default)]
    pub notifications: Notifications,
}

/// One synchronization in [`Status`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListedStatus {
    #[serde(flatten)]
    pub status: SyncStatus,
    /// No pass ever finished: nothing is synchronized yet.
    #[serde(default)]
    pub never_ran: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: SyncState) -> SyncStatus {
        SyncStatus {
            id: "a".into(),
            name: "a".into(),
            local: "/a".into(),
            remote: "/b".into(),
            state,
            last_pass: None,
            watch_warning: None,
        }
    }

    #[test]
    fn the_overall_state_is_the_most_urgent() {
        assert_eq!(overall(&[]), "synced");
        let all = [
            status(SyncState::Synced),
            status(SyncState::Syncing(Progress::default())),
            status(SyncState::Offline {
                reason: "x".into(),
                retry_in_secs: 1,
            }),
        ];
        assert_eq!(overall(&all), "offline");
        assert_eq!(overall(&all[..2]), "syncing");
        let creds = status(SyncState::CredentialsRequired { reason: "x".into() });
        assert_eq!(overall(&[all[0].clone(), creds]), "credentials_required");
    }

    #[test]
    fn events_read_back_and_unknown_kinds_are_other() {
        let ev = Event::State {
            sync: Box::new(status(SyncState::Synced)),
        };
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["type"], "state");
        assert_eq!(v["sync"]["state"], "synced");
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), ev);
        let lagged: Event = serde_json::from_str(r#"{"type":"lagged","missed":3}"#).unwrap();
        assert_eq!(lagged, Event::Lagged { missed: 3 });
        let new: Event = serde_json::from_str(r#"{"type":"from_the_future"}"#).unwrap();
        assert_eq!(new, Event::Other);
    }

    #[test]
    fn a_listed_status_is_the_status_with_never_ran_beside_it() {
        let l = ListedStatus {
            status: status(SyncState::Paused { reason: None }),
            never_ran: true,
        };
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(v["state"], "paused");
        assert_eq!(v["never_ran"], true);
        assert_eq!(v["name"], "a");
        assert_eq!(serde_json::from_value::<ListedStatus>(v).unwrap(), l);
    }

    #[test]
    fn states_serialise_flat_with_their_name() {
        let s = serde_json::to_value(status(SyncState::NeedsConfirmation {
            reason: "would delete 9".into(),
        }))
        .unwrap();
        assert_eq!(s["state"], "needs_confirmation");
        assert_eq!(s["reason"], "would delete 9");
        let s = serde_json::to_value(status(SyncState::Syncing(Progress {
            files_total: 3,
            ..Progress::default()
        })))
        .unwrap();
        assert_eq!(s["state"], "syncing");
        assert_eq!(s["files_total"], 3);
        let back: SyncStatus = serde_json::from_value(s).unwrap();
        assert_eq!(back.state.name(), "syncing");
    }
}
