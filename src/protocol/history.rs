//! What happened: the transfer log (`GET /api/log`), the conflicts
//! (`GET /api/conflicts`, `POST /api/conflicts/resolve`), and opening an
//! item of a synchronization (`POST /api/open`).

use serde::{Deserialize, Serialize};

/// `GET /api/log` query: newest first, filtered.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogQuery {
    /// Only this synchronization (name or id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<String>,
    /// Only this action (`upload`, `download`, `move`, `delete`, `mkdir`,
    /// `adopt`, `forget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Only lines whose path or result contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    #[serde(default)]
    pub offset: usize,
    /// At most this many lines (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// A transfer-log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The synchronization's name.
    pub sync: String,
    /// The synchronization's id.
    #[serde(default)]
    pub sync_id: String,
    /// RFC 3339.
    pub time: String,
    pub action: String,
    pub path: String,
    pub bytes: u64,
    pub result: String,
}

/// Which version a conflict resolution keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The local version (the conflicted copy) replaces the other.
    Local,
    /// The remote version stays; the conflicted copy goes to the trash.
    Remote,
    /// Keep both files as they are.
    Both,
}

/// An open conflict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The synchronization's name.
    pub sync: String,
    /// The synchronization's id (for routes that take one).
    #[serde(default)]
    pub sync_id: String,
    pub id: i64,
    /// RFC 3339.
    pub time: String,
    pub path: String,
    /// The conflicted copy holding the local version, if one was kept.
    pub copy: Option<String>,
    /// The conflict policy that decided it: `keep-both` (both versions
    /// kept, the local one as the copy), `local`, `remote` or `newest` (the
    /// policy chose a winner; the other version is in a trash).
    pub policy: String,
    /// The versions on this computer now: the file at [`Conflict::path`]
    /// and the copy (each only while it exists).
    #[serde(default)]
    pub versions: Vec<ConflictVersion>,
}

/// Which side a version of a conflicted file came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Changed on this computer.
    Local,
    /// Changed on the other side (the server or the other folder).
    Remote,
}

/// One version of a conflicted file, as it is on this computer now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictVersion {
    /// Relative to the synchronization's local folder.
    pub path: String,
    /// Where this version came from, when Ferry knows it (a `newest`
    /// policy's winner does not say).
    pub from: Option<Origin>,
    pub size: u64,
    /// The modification time, RFC 3339.
    pub modified: String,
}

/// `POST /api/open`: open an item of a synchronization with the desktop's
/// default application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenItem {
    /// The synchronization (name or id).
    pub sync: String,
    /// Relative to its local folder (`/`-separated, no `..`).
    pub path: String,
}

/// `POST /api/conflicts/resolve`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolve {
    /// The synchronization (name or id).
    pub sync: String,
    /// The conflict's [`Conflict::id`].
    pub id: i64,
    pub keep: Keep,
}
