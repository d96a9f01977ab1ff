//! A pass as the protocol shows it: what it did (or, in a dry run or a
//! simulation, would do), item by item. These are the protocol's own
//! types, not the engine's: the engine may rename or reshape its ops
//! without changing what `--json`, the API and the tray read. The
//! conversions from the engine and the pass live in [`crate::pass_report`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which side of a synchronization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Local,
    Remote,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Local => "local",
            Side::Remote => "remote",
        })
    }
}

/// Something not synchronized, skipped or failed, per item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub side: Option<Side>,
    pub message: String,
}

/// Why an item is deleted (to a trash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteReason {
    /// Deleted on the other side.
    DeletedOnOtherSide,
    /// Not on the source side of a one-way mirror.
    Mirror,
    /// Replaced by an item of another kind on the other side.
    KindChanged,
    /// Its folder was deselected in selective sync (the remote copy stays).
    Deselected,
}

impl std::fmt::Display for DeleteReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeleteReason::DeletedOnOtherSide => "deleted on the other side",
            DeleteReason::Mirror => "not on the source side of the mirror",
            DeleteReason::KindChanged => "replaced by another kind of item on the other side",
            DeleteReason::Deselected => "its folder is deselected",
        })
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum PlannedOp {
    /// Rename or move an item on `side` (no content transfer).
    Move {
        side: Side,
        from: String,
        to: String,
        /// A conflict moves the losing file aside to a conflicted copy.
        aside: bool,
        why: String,
    },
    /// Send an item to the trash on `side`; a folder with the `items`
    /// observed in it.
    Delete {
        side: Side,
        path: String,
        reason: DeleteReason,
        #[serde(default, skip_serializing_if = "is_zero")]
        items: usize,
    },
    /// Create a folder on `side`.
    MakeDir {
        side: Side,
        path: String,
        why: String,
    },
    /// Copy a file of `size` bytes from the other side to side `to`; with
    /// `backup`, the file it replaces goes to the trash first.
    Transfer {
        to: Side,
        path: String,
        size: u64,
        backup: bool,
        why: String,
    },
    /// Both sides are already equal: record the base only.
    Adopt { path: String },
    /// The item is gone from both sides: forget its base.
    Forget { path: String },
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why a pass stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// The server wants (other) credentials.
    Credentials,
    /// The server is full.
    NoSpace,
    /// The server cannot be reached.
    Offline,
    /// Its runner asked it to stop (pause, shutdown).
    Stopped,
}

/// What a pass did (or, in a dry run, would do): `ferry sync --json`,
/// `ferry simulate`, `POST /api/syncs/{id}/simulate`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PassReport {
    pub dry_run: bool,
    /// Ops per action (`upload`, `download`, `move`, …).
    pub counts: BTreeMap<String, usize>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Items the pass deletes (to a trash), as the guards count them.
    pub deletions: usize,
    /// Items the pass sends to a trash: deleted ones and files kept aside
    /// before being replaced.
    pub trashed: usize,
    /// The planned ops (always in a dry run).
    pub ops: Vec<PlannedOp>,
    /// Items not synchronized, with the reason.
    pub problems: Vec<Problem>,
    /// Ops skipped because an item changed while the pass ran.
    pub skipped: Vec<Problem>,
    /// Ops that failed.
    pub errors: Vec<Problem>,
    /// Why the pass stopped early, if it did.
    pub stopped: Option<String>,
    /// A dry run only: the guard that would stop the real pass until it is
    /// confirmed (the plan shown is what confirming would do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_confirmation: Option<String>,
    /// What stopped it.
    pub stop_kind: Option<StopKind>,
    /// The roots this pass created because they did not exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<String>,
    pub elapsed_ms: u64,
}

/// `ferry sync --json` when the pass stopped before doing anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub stopped: bool,
    /// A guard stopped it: `--force` (or `ferry confirm`) proceeds.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_confirmation: bool,
    /// The remote folder does not exist: `--create` creates it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_create: bool,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_serialise_with_their_kebab_case_tag_and_read_back() {
        let ops = vec![
            PlannedOp::Delete {
                side: Side::Remote,
                path: "a".into(),
                reason: DeleteReason::DeletedOnOtherSide,
                items: 0,
            },
            PlannedOp::Transfer {
                to: Side::Local,
                path: "b".into(),
                size: 7,
                backup: false,
                why: "new".into(),
            },
            PlannedOp::MakeDir {
                side: Side::Local,
                path: "c".into(),
                why: "new".into(),
            },
        ];
        let v = serde_json::to_value(&ops).unwrap();
        assert_eq!(v[0]["op"], "delete");
        assert_eq!(v[0]["reason"], "deleted-on-other-side");
        assert!(v[0].get("items").is_none());
        assert_eq!(v[1]["op"], "transfer");
        assert_eq!(v[1]["size"], 7);
        assert_eq!(v[2]["op"], "make-dir");
        let back: Vec<PlannedOp> = serde_json::from_value(v).unwrap();
        assert_eq!(back, ops);
    }
}
