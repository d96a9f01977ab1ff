//! The three trees the planner reconciles: what the local side looks like now,
//! what the remote side looks like now, and what both looked like when they
//! were last in sync (the base).
//!
//! Paths are relative, `/`-separated, NFC-normalised strings with no empty,
//! `.` or `..` segment (see [`super::path`]). A `BTreeMap` keeps them sorted
//! so that a parent always comes before its children and every walk is
//! deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// SHA-256 of a file's content.
pub type Hash = [u8; 32];

/// File or folder. Symlinks and other special files never reach a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    File,
    Dir,
}

/// One item as a side shows it now.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Entry {
    pub kind: Kind,
    /// Bytes (0 for folders).
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime: i64,
    /// A stable identity that survives renames: `dev:inode` for a local
    /// folder, the server's file id where it has one.
    pub id: Option<Box<str>>,
    /// The server's entity tag, where there is one.
    pub etag: Option<Box<str>>,
    /// Content hash, when it was computed or the server provided one.
    pub hash: Option<Hash>,
}

impl Entry {
    pub fn file(size: u64, mtime: i64) -> Self {
        Entry {
            kind: Kind::File,
            size,
            mtime,
            ..Entry::default()
        }
    }

    pub fn dir() -> Self {
        Entry {
            kind: Kind::Dir,
            ..Entry::default()
        }
    }

    pub fn with_id(mut self, id: impl Into<Box<str>>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// The signature recorded in the base for this side.
    pub fn signature(&self) -> Sig {
        Sig {
            size: self.size,
            mtime: self.mtime,
            id: self.id.clone(),
            etag: self.etag.clone(),
        }
    }
}

/// What one side looked like when the item was last in sync.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sig {
    pub size: u64,
    pub mtime: i64,
    pub id: Option<Box<str>>,
    pub etag: Option<Box<str>>,
}

/// A base record: both sides as they were when last in sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseEntry {
    pub kind: Kind,
    pub local: Sig,
    pub remote: Sig,
    pub hash: Option<Hash>,
}

/// A side's observation, or the base: sorted by path.
pub type Tree = BTreeMap<String, Entry>;
pub type BaseTree = BTreeMap<String, BaseEntry>;

/// Which side of a synchronization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Local,
    Remote,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Local => "local",
            Side::Remote => "remote",
        })
    }
}

impl BaseEntry {
    pub fn sig(&self, side: Side) -> &Sig {
        match side {
            Side::Local => &self.local,
            Side::Remote => &self.remote,
        }
    }
}

/// The parent of a relative path (`""` for a top-level item).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// The last segment of a relative path.
pub fn file_name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Whether `path` is `ancestor` or lies below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || path == ancestor
        || (path.len() > ancestor.len()
            && path.starts_with(ancestor)
            && path.as_bytes()[ancestor.len()] == b'/')
}

/// `path` with the prefix `from` replaced by `to` (`path` must be within `from`).
pub fn rebase(path: &str, from: &str, to: &str) -> String {
    if path == from {
        to.to_string()
    } else {
        format!("{to}{}", &path[from.len()..])
    }
}

/// Join a parent and a name.
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// The entries of `tree` strictly below `dir` (all of them for `dir == ""`).
///
/// Siblings such as `"a b"` or `"a-"` sort between `"a"` and `"a/x"`, so the
/// range is taken from `"a/"` up to `"a0"` (`'0'` follows `'/'`).
pub fn descendants<'a, V>(
    tree: &'a BTreeMap<String, V>,
    dir: &str,
) -> std::collections::btree_map::Range<'a, String, V> {
    use std::ops::Bound;
    if dir.is_empty() {
        return tree
            .range::<String, (Bound<String>, Bound<String>)>((Bound::Unbounded, Bound::Unbounded));
    }
    let lo = format!("{dir}/");
    let hi = format!("{dir}0");
    tree.range::<String, _>((Bound::Included(lo), Bound::Excluded(hi)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_respects_segment_boundaries() {
        assert!(is_within("a/b", "a"));
        assert!(is_within("a", "a"));
        assert!(!is_within("ab", "a"));
        assert!(is_within("x", ""));
    }

    #[test]
    fn subtree_stops_at_sibling_with_common_prefix() {
        let mut t = BTreeMap::new();
        for p in ["a", "a b", "a/x", "a/y/z", "a-", "b"] {
            t.insert(p.to_string(), ());
        }
        let got: Vec<_> = descendants(&t, "a").map(|(k, _)| k.as_str()).collect();
        assert_eq!(got, vec!["a/x", "a/y/z"]);
        assert_eq!(descendants(&t, "").count(), 6);
        assert_eq!(rebase("a/y/z", "a", "q"), "q/y/z");
        assert_eq!(parent("a/y/z"), "a/y");
        assert_eq!(file_name("a/y/z"), "z");
    }
}
