//! What the user chose for one synchronization: direction, conflict policy,
//! compare mode and the safety guards. Plain data, shared by the planner, the
//! CLI and (later) the config file.

use serde::{Deserialize, Serialize};

/// Which way changes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Two-way: changes on either side reach the other.
    #[default]
    Both,
    /// Mirror local → remote: the remote ends exactly equal to the local folder.
    Send,
    /// Mirror remote → local: the local folder ends exactly equal to the remote.
    Receive,
}

/// What to do when both sides changed the same file differently (two-way only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// Keep both: the local version is renamed to a conflicted copy.
    #[default]
    KeepBoth,
    /// The local version wins; the remote one goes to a trash.
    Local,
    /// The remote version wins; the local one goes to the OS trash.
    Remote,
    /// The most recently modified version wins; the other goes to a trash.
    Newest,
}

/// How a changed file is told from an unchanged one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompareMode {
    /// Size and modification time (and the inode locally).
    #[default]
    Fast,
    /// Content hash of every file (slower, exact).
    Secure,
}

/// Limits past which a pass stops and asks instead of deleting.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Guards {
    /// Stop when a pass would delete more than this share (0..=1) of the
    /// items last in sync.
    pub max_delete_ratio: f64,
    /// Stop when a pass would delete more than this many items.
    pub max_delete_count: usize,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            max_delete_ratio: 0.5,
            max_delete_count: 1000,
        }
    }
}

/// Everything the planner needs to know about the user's choices, and one
/// thing the pass learns about the remote.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub direction: Direction,
    pub conflict: ConflictPolicy,
    pub compare: CompareMode,
    pub guards: Guards,
    /// The remote keeps the modification times clients set, as its probe
    /// saw (a folder; a WebDAV server honouring `X-OC-Mtime` or a
    /// `PROPPATCH` of the date). Then, in fast mode, a file that both sides
    /// hold with no record of it, of the same size and modified the same
    /// second, is taken as the same file without reading either (a first
    /// pass onto a server that already holds the files downloads none).
    /// Never configured: the pass sets it; false is always safe.
    #[serde(skip)]
    pub times_kept: bool,
}
