//! The base after an op: how the record of what is in sync changes when an
//! op succeeds.
//!
//! The executor (`crate::pass`) acts on a side, observes what it left there
//! (the entry of the moved item, the new folder, the written file and its
//! content hash), and hands that to the function for the op's kind; the
//! [`BaseChange`]s it returns are what the journal records in the same
//! transaction as the op's log line. The model of the table and property
//! tests calls the same functions and applies the changes in memory with
//! [`apply`], the journal's semantics on a [`BaseTree`].
//!
//! The rules:
//!
//! * an item both sides now hold records both sides' signatures, and its
//!   content hash where one is known ([`entry`]);
//! * a move re-keys the item and everything below it, then records the
//!   moved side's new signature, starting from the record the op was
//!   planned with (not one a concurrent op wrote); a move aside (a
//!   conflicted copy) is a new item: the old path is forgotten and the
//!   copy is not in the base until the next pass adopts or transfers it;
//! * a deletion, and an explicit forget, drop the item and everything
//!   below it;
//! * a new folder and a transfer record the source's signature for the
//!   side it came from and the written item's for the side it went to;
//! * an adoption (equal on both sides already) records what both sides
//!   showed, with whichever side's hash is known.

use super::tree::{BaseEntry, BaseTree, Entry, Hash, Kind, Side, descendants, rebase};

/// One change to the base tree.
#[derive(Clone, Debug, PartialEq)]
pub enum BaseChange {
    /// Record (or replace) the base of one item.
    Put(String, BaseEntry),
    /// Forget an item and everything below it.
    Forget(String),
    /// Move an item and everything below it to a new path (whatever was
    /// recorded at the new path, and below it, is forgotten first).
    Rekey { from: String, to: String },
}

/// The base record of an item whose two sides are in sync: each side's
/// signature, and the content hash where one is known.
pub fn entry(kind: Kind, local: &Entry, remote: &Entry, hash: Option<Hash>) -> BaseEntry {
    BaseEntry {
        kind,
        local: local.signature(),
        remote: remote.signature(),
        hash,
    }
}

/// `local` and `remote` of one item, in that order, from the entry of
/// `side` and the entry of the other side.
fn sides<'a>(side: Side, this: &'a Entry, other: &'a Entry) -> (&'a Entry, &'a Entry) {
    match side {
        Side::Local => (this, other),
        Side::Remote => (other, this),
    }
}

/// After `side` moved `from` to `to` (`Op::Move`): `moved` is the item as
/// it is at `to` now, `planned` the base record of `from` the op was
/// planned with. A move aside forgets `from`; any other move re-keys it
/// (with everything below) and records `moved`'s signature for `side`.
pub fn after_move(
    side: Side,
    from: &str,
    to: &str,
    aside: bool,
    planned: Option<&BaseEntry>,
    moved: &Entry,
) -> Vec<BaseChange> {
    if aside {
        return vec![BaseChange::Forget(from.to_string())];
    }
    let mut changes = vec![BaseChange::Rekey {
        from: from.to_string(),
        to: to.to_string(),
    }];
    if let Some(b) = planned {
        let mut b = b.clone();
        match side {
            Side::Local => b.local = moved.signature(),
            Side::Remote => b.remote = moved.signature(),
        }
        changes.push(BaseChange::Put(to.to_string(), b));
    }
    changes
}

/// After `path` (and everything in it) was deleted (`Op::Delete`).
pub fn after_delete(path: &str) -> Vec<BaseChange> {
    vec![BaseChange::Forget(path.to_string())]
}

/// After `side` made the folder `path` (`Op::MakeDir`) that `source` is on
/// the other side: `made` is the new folder as `side` shows it.
pub fn after_make_dir(side: Side, path: &str, source: &Entry, made: &Entry) -> Vec<BaseChange> {
    let (local, remote) = sides(side, made, source);
    vec![BaseChange::Put(
        path.to_string(),
        entry(Kind::Dir, local, remote, None),
    )]
}

/// After the file `path` was copied to side `to` (`Op::Transfer`): `source`
/// is the version read on the other side, `written` the file as `to` shows
/// it now, `hash` the content hash of the bytes copied.
pub fn after_transfer(
    to: Side,
    path: &str,
    source: &Entry,
    written: &Entry,
    hash: Hash,
) -> Vec<BaseChange> {
    let (local, remote) = sides(to, written, source);
    vec![BaseChange::Put(
        path.to_string(),
        entry(Kind::File, local, remote, Some(hash)),
    )]
}

/// After adopting `path`, equal on both sides (`Op::Adopt`).
pub fn after_adopt(path: &str, local: &Entry, remote: &Entry) -> Vec<BaseChange> {
    let hash = local.hash.or(remote.hash);
    vec![BaseChange::Put(
        path.to_string(),
        entry(local.kind, local, remote, hash),
    )]
}

/// After forgetting `path` (`Op::Forget`).
pub fn after_forget(path: &str) -> Vec<BaseChange> {
    vec![BaseChange::Forget(path.to_string())]
}

/// Apply `changes` to `base` in order, as the journal records them.
pub fn apply(base: &mut BaseTree, changes: &[BaseChange]) {
    for change in changes {
        match change {
            BaseChange::Put(path, b) => {
                base.insert(path.clone(), b.clone());
            }
            BaseChange::Forget(path) => forget(base, path),
            BaseChange::Rekey { from, to } => {
                forget(base, to);
                let mut keys = vec![from.clone()];
                keys.extend(descendants(base, from).map(|(k, _)| k.clone()));
                let moved: Vec<(String, BaseEntry)> = keys
                    .into_iter()
                    .filter_map(|k| base.remove(&k).map(|v| (rebase(&k, from, to), v)))
                    .collect();
                base.extend(moved);
            }
        }
    }
}

/// Drop `path` and everything below it.
fn forget(base: &mut BaseTree, path: &str) {
    let below: Vec<String> = descendants(base, path).map(|(k, _)| k.clone()).collect();
    for k in below {
        base.remove(&k);
    }
    base.remove(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(size: u64, mtime: i64, id: &str) -> Entry {
        Entry::file(size, mtime).with_id(id)
    }

    fn dir(id: &str) -> Entry {
        Entry::dir().with_id(id)
    }

    fn tree(items: &[(&str, BaseEntry)]) -> BaseTree {
        items
            .iter()
            .map(|(p, b)| (p.to_string(), b.clone()))
            .collect()
    }

    fn in_sync(kind: Kind, l: &str, r: &str) -> BaseEntry {
        let (le, re) = match kind {
            Kind::Dir => (dir(l), dir(r)),
            Kind::File => (file(1, 10, l), file(1, 10, r)),
        };
        entry(kind, &le, &re, None)
    }

    #[test]
    fn a_transfer_records_the_source_for_its_side_and_the_written_file_for_the_other() {
        let source = file(3, 100, "r1");
        let written = file(3, 100, "l9");
        let changes = after_transfer(Side::Local, "a/f", &source, &written, [7; 32]);
        assert_eq!(
            changes,
            vec![BaseChange::Put(
                "a/f".into(),
                BaseEntry {
                    kind: Kind::File,
                    local: written.signature(),
                    remote: source.signature(),
                    hash: Some([7; 32]),
                }
            )]
        );
        let up = after_transfer(Side::Remote, "a/f", &written, &source, [7; 32]);
        assert_eq!(up, changes, "the same item either way");
    }

    #[test]
    fn a_new_folder_records_no_hash() {
        let changes = after_make_dir(Side::Remote, "d", &dir("l1"), &dir("r1"));
        assert_eq!(
            changes,
            vec![BaseChange::Put("d".into(), in_sync(Kind::Dir, "l1", "r1"))]
        );
    }

    #[test]
    fn a_move_rekeys_the_subtree_and_records_the_moved_sides_new_signature() {
        let mut base = tree(&[
            ("a", in_sync(Kind::Dir, "l1", "r1")),
            ("a b", in_sync(Kind::File, "l5", "r5")),
            ("a/x", in_sync(Kind::File, "l2", "r2")),
            ("b/old", in_sync(Kind::File, "l3", "r3")),
        ]);
        let planned = base.get("a").cloned();
        let moved = dir("r1").with_id("r1-moved");
        let changes = after_move(Side::Remote, "a", "b", false, planned.as_ref(), &moved);
        apply(&mut base, &changes);
        let keys: Vec<&str> = base.keys().map(String::as_str).collect();
        // What was at the target is forgotten; "a b" is not below "a".
        assert_eq!(keys, ["a b", "b", "b/x"]);
        assert_eq!(base["b"].remote, moved.signature());
        assert_eq!(base["b"].local, in_sync(Kind::Dir, "l1", "r1").local);
        assert_eq!(base["b/x"], in_sync(Kind::File, "l2", "r2"));
    }

    #[test]
    fn a_move_without_a_record_only_rekeys() {
        let changes = after_move(Side::Local, "f", "g", false, None, &file(1, 1, "l"));
        assert_eq!(
            changes,
            vec![BaseChange::Rekey {
                from: "f".into(),
                to: "g".into()
            }]
        );
    }

    #[test]
    fn a_move_aside_forgets_the_original_and_records_no_copy() {
        let mut base = tree(&[("f", in_sync(Kind::File, "l", "r"))]);
        let planned = base.get("f").cloned();
        let changes = after_move(
            Side::Local,
            "f",
            "f (conflicted copy)",
            true,
            planned.as_ref(),
            &file(1, 10, "l"),
        );
        apply(&mut base, &changes);
        assert!(base.is_empty());
    }

    #[test]
    fn a_deletion_forgets_the_item_and_everything_below_it_only() {
        let mut base = tree(&[
            ("a", in_sync(Kind::Dir, "l1", "r1")),
            ("a-", in_sync(Kind::File, "l4", "r4")),
            ("a/x", in_sync(Kind::File, "l2", "r2")),
            ("a/y/z", in_sync(Kind::File, "l3", "r3")),
        ]);
        apply(&mut base, &after_delete("a"));
        assert_eq!(base.keys().collect::<Vec<_>>(), ["a-"]);
        apply(&mut base, &after_forget("a-"));
        assert!(base.is_empty());
    }

    #[test]
    fn an_adoption_takes_whichever_sides_hash_is_known() {
        let mut l = file(2, 5, "l");
        let mut r = file(2, 5, "r");
        r.hash = Some([1; 32]);
        let [BaseChange::Put(_, b)] = &after_adopt("f", &l, &r)[..] else {
            panic!("one put");
        };
        assert_eq!(b.hash, Some([1; 32]));
        l.hash = Some([2; 32]);
        let [BaseChange::Put(_, b)] = &after_adopt("f", &l, &r)[..] else {
            panic!("one put");
        };
        assert_eq!(b.hash, Some([2; 32]), "the local hash first");
    }
}
