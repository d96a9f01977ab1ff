//! What happened: the transfer log (`GET /api/log`) and the conflicts
//! (`GET /api/conflicts`, `POST /api/conflicts/resolve`).

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
    pub id: i64,
    /// RFC 3339.
    pub time: String,
    pub path: String,
    /// The conflicted copy holding the local version, if one was kept.
    pub copy: Option<String>,
    pub policy: String,
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
