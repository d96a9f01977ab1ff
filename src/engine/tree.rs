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
    /// Modification time, nanoseconds since the Unix epoch, or
    /// [`UNKNOWN_MTIME`] where the side could not say (a WebDAV listing
    /// without a readable `getlastmodified`). Never the epoch for "unknown".
    pub mtime: i64,
    /// A stable identity that survives renames: `dev:inode` for a local
    /// folder, the server's file id where it has one.
    pub id: Option<Box<str>>,
    /// The server's entity tag, where there is one.
    pub etag: Option<Box<str>>,
    /// Content hash, when it was computed or the server provided one.
    pub hash: Option<Hash>,
}

/// The modification time of an item whose side gave none (or none that
/// could be read). It is never written to a file, never wins a "newest"
/// comparison, and never proves an item unchanged: two unknown dates say
/// nothing about two versions (see [`Entry::same_known_mtime`]).
pub const UNKNOWN_MTIME: i64 = i64::MIN;

/// An entity tag without its weak marker: a weak/strong flip of one tag
/// (`W/"x"` and `"x"`) is not a new version.
pub fn tag_core(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// Two entity tags that name one version (ignoring the weak marker).
pub fn same_tag(a: &str, b: &str) -> bool {
    tag_core(a) == tag_core(b)
}

impl Entry {
    /// The modification time, `None` when the side did not give one.
    pub fn known_mtime(&self) -> Option<i64> {
        (self.mtime != UNKNOWN_MTIME).then_some(self.mtime)
    }

    /// Both modification times known and equal. Unknown dates never
    /// match: a server that gives none would otherwise make every same-size
    /// version of a file look like the last one seen.
    pub fn same_known_mtime(&self, mtime: i64) -> bool {
        self.known_mtime().is_some() && self.mtime == mtime
    }

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

/// A map of `items` with its nodes filled. A `BTreeMap` grown one insert
/// at a time from sorted keys (a journal read in path order) leaves its
/// nodes a little over half full, nearly doubling the memory of 100,000
/// items; built at once from a sorted vector it is packed, but then needs
/// that whole vector besides it. Here the items are taken by chunks, each
/// one built packed and appended (`append` rebuilds packed, freeing the
/// old nodes as it goes). A later item replaces an earlier one of the same
/// key, as `insert` does.
pub fn collect_packed<V>(items: impl IntoIterator<Item = (String, V)>) -> BTreeMap<String, V> {
    let mut map = BTreeMap::new();
    let mut items = items.into_iter();
    loop {
        let mut part: BTreeMap<String, V> = items.by_ref().take(PACK_CHUNK).collect();
        if part.is_empty() {
            return map;
        }
        map.append(&mut part);
    }
}

/// [`collect_packed`] of a vector whose keys are all different, giving the
/// vector's memory back as the map grows: it is taken by chunks from its
/// end, so the whole vector and the whole map are never held at once.
pub fn packed_from_vec<V>(mut items: Vec<(String, V)>) -> BTreeMap<String, V> {
    let mut map = BTreeMap::new();
    while !items.is_empty() {
        let tail = items.split_off(items.len().saturating_sub(PACK_CHUNK));
        items.shrink_to_fit();
        let mut part: BTreeMap<String, V> = tail.into_iter().collect();
        map.append(&mut part);
    }
    map
}

/// Items per chunk of [`collect_packed`]: a few hundred KiB of entries.
const PACK_CHUNK: usize = 8192;

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

    /// What this record says `side` held when the item was last in sync.
    pub fn entry(&self, side: Side) -> Entry {
        let sig = self.sig(side);
        Entry {
            kind: self.kind,
            size: sig.size,
            mtime: sig.mtime,
            id: sig.id.clone(),
            etag: sig.etag.clone(),
            hash: None,
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

/// Fill one side's observation from the base where that side could not
/// look: for every path in `unobserved`, the base items that `tree` lacks
/// are put back as the base recorded them (so they plan as unchanged),
/// parents first, and only under a folder the tree has. What could not be
/// seen is never taken for deleted.
///
/// A path the tree lacks (an item that could not be seen) is put back with
/// everything below it. A folder the tree shows (or the root, `""`: a
/// folder one of whose entries could not be read) holds back only its
/// missing direct children, each with its subtree: what lies below a
/// sub-folder the side did show was listed with that sub-folder, and its
/// absence there is checked like any other.
pub fn keep_unobserved(tree: &mut Tree, base: &BaseTree, side: Side, unobserved: &[String]) {
    for at in unobserved {
        let shown = at.is_empty() || tree.get(at.as_str()).is_some_and(|e| e.kind == Kind::Dir);
        let items = base
            .get_key_value(at.as_str())
            .into_iter()
            .chain(descendants(base, at).filter(|(k, _)| *k != at))
            // Below a shown folder: only what hangs from a missing child.
            .filter(|(k, _)| {
                !shown || {
                    let mut top = k.as_str();
                    while parent(top) != at.as_str() && !top.is_empty() {
                        top = parent(top);
                    }
                    !tree.contains_key(top)
                }
            });
        // (sorted: a parent is decided before its children)
        let mut put = Vec::new();
        let mut put_dirs = std::collections::HashSet::new();
        for (path, b) in items {
            if tree.contains_key(path) {
                continue;
            }
            let p = parent(path);
            let parent_is_dir = p.is_empty()
                || tree.get(p).is_some_and(|e| e.kind == Kind::Dir)
                || put_dirs.contains(p);
            if !parent_is_dir {
                continue;
            }
            if b.kind == Kind::Dir {
                put_dirs.insert(path.as_str());
            }
            put.push((path.clone(), b.entry(side)));
        }
        tree.extend(put);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_maps_hold_exactly_what_one_insert_at_a_time_would() {
        // Sorted, unsorted, with duplicate keys (the later wins), across
        // several chunks.
        let n = 3 * PACK_CHUNK + 17;
        let key = |i: usize| format!("d{}/f{i:06}", i % 7);
        let sorted: Vec<(String, usize)> = {
            let mut v: Vec<_> = (0..n).map(|i| (key(i), i)).collect();
            v.sort();
            v
        };
        let shuffled: Vec<(String, usize)> = (0..n)
            .map(|i| (key((i * 7919) % n), i))
            .chain((0..50).map(|i| (key(i * 3), n + i)))
            .collect();
        for items in [sorted.clone(), shuffled] {
            let mut expected = BTreeMap::new();
            for (k, v) in items.clone() {
                expected.insert(k, v);
            }
            assert_eq!(collect_packed(items), expected);
        }
        let expected: BTreeMap<String, usize> = sorted.iter().cloned().collect();
        assert_eq!(packed_from_vec(sorted), expected);
        assert!(collect_packed(Vec::<(String, u8)>::new()).is_empty());
        assert!(packed_from_vec(Vec::<(String, u8)>::new()).is_empty());
    }

    #[test]
    fn what_a_side_could_not_see_is_kept_as_the_base_says() {
        let sig = |m| Sig {
            size: 1,
            mtime: m,
            ..Sig::default()
        };
        let rec = |kind, m| BaseEntry {
            kind,
            local: sig(m),
            remote: sig(m + 1),
            hash: None,
        };
        let mut base = BaseTree::new();
        for (p, k) in [
            ("d", Kind::Dir),
            ("d/gone.txt", Kind::File),
            ("d/sub", Kind::Dir),
            ("d/sub/x", Kind::File),
            ("e/y", Kind::File),
            ("other.txt", Kind::File),
        ] {
            base.insert(p.to_string(), rec(k, 7));
        }
        let mut tree = Tree::new();
        tree.insert("d".into(), Entry::dir());
        keep_unobserved(&mut tree, &base, Side::Remote, &["d".into(), "e".into()]);
        let keys: Vec<&str> = tree.keys().map(String::as_str).collect();
        // "e" itself is not in the tree: nothing goes under it.
        assert_eq!(keys, ["d", "d/gone.txt", "d/sub", "d/sub/x"]);
        assert_eq!(tree["d/gone.txt"].mtime, 8);
        assert_eq!(tree["d/sub"].kind, Kind::Dir);
    }

    #[test]
    fn an_unreadable_entry_holds_back_only_the_missing_children_of_its_folder() {
        let rec = |kind| BaseEntry {
            kind,
            local: Sig::default(),
            remote: Sig::default(),
            hash: None,
        };
        let mut base = BaseTree::new();
        for (p, k) in [
            ("a", Kind::Dir),
            ("a/deleted.txt", Kind::File),
            ("gone", Kind::Dir),
            ("gone/x", Kind::File),
            ("top.txt", Kind::File),
        ] {
            base.insert(p.to_string(), rec(k));
        }
        let mut tree = Tree::new();
        tree.insert("a".into(), Entry::dir());
        keep_unobserved(&mut tree, &base, Side::Remote, &[String::new()]);
        let keys: Vec<&str> = tree.keys().map(String::as_str).collect();
        // "a" was listed, without "a/deleted.txt": that absence is real.
        assert_eq!(keys, ["a", "gone", "gone/x", "top.txt"]);
    }

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
