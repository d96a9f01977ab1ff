//! `POST /api/why`: why an item is as it is.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::history::{Conflict, LogEntry};
use super::status::SyncState;

/// The request: an absolute path inside a synchronized folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhyRequest {
    pub path: PathBuf,
}

/// File or folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    File,
    Dir,
}

/// The item as it is on disk now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnDisk {
    pub kind: ItemKind,
    pub size: u64,
    /// Nanoseconds since the epoch.
    pub mtime_ns: i64,
}

/// The item as it was when last in sync (the journal's base).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InSyncAs {
    pub kind: ItemKind,
    pub local_size: u64,
    pub remote_size: u64,
    /// The content hash, hex.
    pub hash: Option<String>,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Why {
    /// The synchronization's name.
    pub sync: String,
    /// Relative to its local folder (`""`: the folder itself).
    pub path: String,
    /// The decision, in a sentence.
    pub verdict: String,
    /// The rule that excludes it, if one does.
    pub excluded_by: Option<String>,
    pub on_disk: Option<OnDisk>,
    pub in_sync_as: Option<InSyncAs>,
    /// The synchronization's state.
    pub state: Option<SyncState>,
    /// Its open conflicts.
    pub conflicts: Vec<Conflict>,
    /// Its latest log lines, newest first.
    pub log: Vec<LogEntry>,
}
