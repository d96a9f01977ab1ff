//! The planner: `plan(local, remote, base, settings, filter, now) -> Plan`.
//!
//! Architecture Invariant: this is a pure function. It does no I/O, reads no
//! clock (the local time for conflict names is a parameter) and its output
//! is deterministic: ops come in a fixed phase order and, within a phase,
//! sorted by path.
//!
//! It works in three steps:
//!
//! 1. **Moves.** An item gone from its base path on one side whose identity
//!    (inode, server file id) shows up at a new path on that side was moved.
//!    The move is replayed on the other side (no content is sent) and the
//!    base and the other side's tree are re-keyed as if it had already
//!    happened, so that step 2 compares like with like.
//! 2. **Per path.** Each side's state against the base is one of same,
//!    changed, gone or absent; the pair decides the action (the table in
//!    `decide`).
//! 3. **Folders.** A folder is deleted on a side only when everything in it
//!    on that side is being deleted too; otherwise it is brought back on the
//!    side that deleted it, so that nothing new in it is lost. A valid
//!    folder deletion sends the whole folder to the trash in one op.
//!
//! Op phases: moves, deletions, new folders, transfers, base records.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::filter::{Filter, disposable};
use super::path::{conflict_copy_name, conflict_stamp};
use super::settings::{CompareMode, ConflictPolicy, Direction, Settings};
use super::tree::{
    BaseEntry, BaseTree, Entry, Kind, Side, Tree, descendants, is_within, parent, rebase, same_tag,
};

/// Why something is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

/// An entry as its size (a transfer's `size` in a JSON plan).
fn entry_size<S: serde::Serializer>(e: &Entry, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(e.size)
}

/// One step of a plan. Each carries the observation it was planned with, so
/// the executor can check that nothing changed before it acts.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// Rename or move an item on `side` (no content transfer).
    Move {
        side: Side,
        from: String,
        to: String,
        #[serde(skip)]
        expect: Entry,
        /// A conflict moves the losing file aside to a conflicted copy.
        aside: bool,
        why: &'static str,
    },
    /// Send an item to the trash on `side`; for a folder, with everything in
    /// it (`contents`, as observed).
    Delete {
        side: Side,
        path: String,
        #[serde(skip)]
        expect: Entry,
        #[serde(skip)]
        contents: Vec<(String, Entry)>,
        reason: DeleteReason,
    },
    /// Create a folder on `side`; `source` is the folder on the other side.
    MakeDir {
        side: Side,
        path: String,
        #[serde(skip)]
        source: Entry,
        why: &'static str,
    },
    /// Copy a file from the other side to side `to`. `replace` is the file
    /// it overwrites (which must still be as observed); with `backup`, that
    /// file goes to the trash first because it held changes of its own.
    Transfer {
        to: Side,
        path: String,
        #[serde(rename = "size", serialize_with = "entry_size")]
        source: Entry,
        #[serde(skip)]
        replace: Option<Entry>,
        backup: bool,
        why: &'static str,
    },
    /// Both sides are already equal: record the base only.
    Adopt {
        path: String,
        #[serde(skip)]
        local: Entry,
        #[serde(skip)]
        remote: Entry,
    },
    /// The item is gone from both sides: forget its base (and everything
    /// below it).
    Forget { path: String },
}

impl Op {
    pub fn path(&self) -> &str {
        match self {
            Op::Move { to, .. } => to,
            Op::Delete { path, .. }
            | Op::MakeDir { path, .. }
            | Op::Transfer { path, .. }
            | Op::Adopt { path, .. }
            | Op::Forget { path } => path,
        }
    }

    /// A short name of the action, as the summary and the transfer log use it.
    pub fn action(&self) -> &'static str {
        match self {
            Op::Move { .. } => "move",
            Op::Delete { .. } => "delete",
            Op::MakeDir { .. } => "mkdir",
            Op::Transfer {
                to: Side::Remote, ..
            } => "upload",
            Op::Transfer {
                to: Side::Local, ..
            } => "download",
            Op::Adopt { .. } => "adopt",
            Op::Forget { .. } => "forget",
        }
    }

    /// Items this op deletes (for the mass-delete guard). Deselecting a
    /// folder is the user's explicit wish and keeps the remote copy, so it
    /// does not count.
    pub fn deletions(&self) -> usize {
        match self {
            Op::Delete {
                reason: DeleteReason::Deselected,
                ..
            } => 0,
            Op::Delete { contents, .. } => 1 + contents.len(),
            _ => 0,
        }
    }
}

/// Something the planner could not or would not do, per item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    pub path: String,
    pub side: Option<Side>,
    pub message: String,
}

/// The planner's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub problems: Vec<Problem>,
}

impl Plan {
    /// Items the plan would delete (see [`Op::deletions`]).
    pub fn deletions(&self) -> usize {
        self.ops.iter().map(Op::deletions).sum()
    }

    /// Whether executing the plan would change anything on either side.
    pub fn is_quiet(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Excluded items each side holds, as its scan or listing found them (a
/// folder stands for everything in it; paths need not be in the trees). A
/// folder that holds one is never deleted because of the other side: it is
/// kept, with a problem, and what else was in it is deleted as planned.
/// The system's clutter ([`super::filter::disposable`]) does not count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Excluded {
    pub local: Vec<String>,
    pub remote: Vec<String>,
}

/// A side's state against the base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Neither here nor in the base.
    Absent,
    /// As in the base.
    Same,
    /// New, modified, or of another kind.
    Changed,
    /// In the base, not here any more.
    Gone,
}

/// Whether a file `e` is unchanged against the base signature of its side.
/// Content hashes decide when both are known; otherwise an equal entity tag
/// (the weak marker ignored) means unchanged, and equal size and a known,
/// equal mtime (plus the identity where the side has one and no entity tag)
/// too — a weak/strong entity-tag flip is not a change. With neither a
/// matching tag nor a known date (a server without dates) the file counts
/// as changed: [`hash_requests`] then asks for its hash, which settles it.
fn file_unchanged(e: &Entry, b: &BaseEntry, side: Side) -> bool {
    let sig = b.sig(side);
    if e.size != sig.size {
        return false;
    }
    if let (Some(h), Some(bh)) = (e.hash, b.hash) {
        return h == bh;
    }
    if let (Some(t), Some(bt)) = (&e.etag, &sig.etag) {
        if same_tag(t, bt) {
            return true;
        }
        return e.same_known_mtime(sig.mtime);
    }
    e.same_known_mtime(sig.mtime) && e.id == sig.id
}

fn status(e: Option<&Entry>, b: Option<&BaseEntry>, side: Side) -> St {
    match (e, b) {
        (None, None) => St::Absent,
        (Some(_), None) => St::Changed,
        (None, Some(_)) => St::Gone,
        (Some(e), Some(b)) => {
            if e.kind != b.kind {
                St::Changed
            } else if e.kind == Kind::Dir || file_unchanged(e, b, side) {
                St::Same
            } else {
                St::Changed
            }
        }
    }
}

/// Files whose content hash the planner needs to decide well, and that the
/// caller should hash (on the given side) before calling [`plan`]:
///
/// * in secure mode, every file;
/// * a file whose metadata changed but whose size did not, when the base
///   knows the old content's hash (a touch or a copy-back is not an edit);
/// * a file present on both sides with the same size and changed on both
///   (or new on both): equal content is adopted, never a conflict. "Both
///   sides" is after the moves [`plan`] replays, so a file under a folder
///   moved on one side is compared with the other side's copy.
pub fn hash_requests(
    local: &Tree,
    remote: &Tree,
    base: &BaseTree,
    settings: &Settings,
) -> Vec<(Side, String)> {
    // The planner replays moves before it compares paths: compare the files
    // where they will meet (a file under a folder moved on one side meets
    // the other side's copy only there), and name each at its observed path.
    let mut p = Planner {
        settings,
        local: local.clone(),
        remote: remote.clone(),
        base: base.clone(),
        moves: Vec::new(),
        extra_forgets: Vec::new(),
        deselect_ops: Vec::new(),
        problems: Vec::new(),
        stamp: String::new(),
        copies: HashSet::new(),
        holding: [HashMap::new(), HashMap::new()],
    };
    p.detect_moves();
    let observed = |side: Side, path: &str| {
        let mut path = path.to_string();
        for m in p.moves.iter().rev() {
            if let Op::Move {
                side: s, from, to, ..
            } = m
            {
                if *s == side && is_within(&path, to) {
                    path = rebase(&path, to, from);
                }
            }
        }
        path
    };
    let (local, remote, base) = (&p.local, &p.remote, &p.base);
    let mut out = Vec::new();
    for (side, tree) in [(Side::Local, local), (Side::Remote, remote)] {
        for (path, e) in tree {
            if e.kind != Kind::File || e.hash.is_some() {
                continue;
            }
            let b = base.get(path);
            let wanted = if settings.compare == CompareMode::Secure {
                true
            } else {
                let st = status(Some(e), b, side);
                let touched = st == St::Changed
                    && b.is_some_and(|b| {
                        b.kind == Kind::File && b.hash.is_some() && b.sig(side).size == e.size
                    });
                let other = match side {
                    Side::Local => remote.get(path),
                    Side::Remote => local.get(path),
                };
                let both = st == St::Changed
                    && other.is_some_and(|o| {
                        o.kind == Kind::File
                            && o.size == e.size
                            && status(Some(o), b, side.other()) == St::Changed
                            && !(b.is_none() && same_by_times(settings, e, o))
                    });
                touched || both
            };
            if wanted {
                out.push((side, observed(side, path)));
            }
        }
    }
    out
}

/// What the per-path step decided for one path.
#[derive(Clone, Debug)]
enum Decision {
    Nothing,
    Adopt,
    Forget,
    /// Make side `to` hold the other side's item. `clear` is an item of the
    /// other kind on `to` that must go first; `replace` a file overwritten.
    Push {
        to: Side,
        clear: Option<Entry>,
        replace: Option<Entry>,
        backup: bool,
        why: &'static str,
    },
    Delete {
        side: Side,
        reason: DeleteReason,
    },
    /// Keep both files: the local one moves to a conflicted copy.
    KeepBoth,
    /// A folder deleted on the other side is kept because it holds excluded
    /// items (its other contents are decided one by one).
    Keep,
    /// A file on `file_side` and a folder on the other at the same path: the
    /// file moves aside to a conflicted copy and the folder is mirrored.
    KindConflict {
        file_side: Side,
    },
}

struct Planner<'a> {
    settings: &'a Settings,
    local: Tree,
    remote: Tree,
    base: BaseTree,
    moves: Vec<Op>,
    extra_forgets: Vec<String>,
    deselect_ops: Vec<Op>,
    problems: Vec<Problem>,
    stamp: String,
    /// Paths of conflicted copies chosen in this plan (so two copies never
    /// get the same name).
    copies: HashSet<String>,
    /// Per side: folder -> an excluded item inside it (see [`Excluded`]).
    holding: [HashMap<String, String>; 2],
}

/// A shortcut for the most common pass, where nothing changed: true when
/// both trees hold exactly the base's items with exactly its signatures.
/// Then [`plan`] would return no op, and [`hash_requests`] nothing, for
/// trees that were filtered with `filter` when observed (as the scanner and
/// the remote listings do). It walks the three sorted trees side by side:
/// no lookups, no copies.
pub fn in_sync(
    local: &Tree,
    remote: &Tree,
    base: &BaseTree,
    settings: &Settings,
    filter: &Filter,
) -> bool {
    if settings.compare != CompareMode::Fast
        || local.len() != base.len()
        || remote.len() != base.len()
        || filter
            .deselected_folders()
            .iter()
            .any(|d| local.contains_key(d.as_str()))
    {
        return false;
    }
    let same = |e: &Entry, b: &BaseEntry, side: Side| {
        let sig = b.sig(side);
        e.kind == b.kind
            && e.id == sig.id
            && (e.kind == Kind::Dir
                || (e.size == sig.size
                    && e.mtime == sig.mtime
                    && e.etag == sig.etag
                    // No tag and no date: only a hash can tell (see
                    // `file_unchanged`).
                    && (e.etag.is_some() || e.known_mtime().is_some())
                    && (e.hash.is_none() || e.hash == b.hash)))
    };
    local
        .iter()
        .zip(remote.iter())
        .zip(base.iter())
        .all(|(((lk, l), (rk, r)), (bk, b))| {
            lk == bk && rk == bk && same(l, b, Side::Local) && same(r, b, Side::Remote)
        })
}

/// Plan one pass. See the module documentation. Excluded items found in
/// the trees (which the planner drops) keep their folders; see
/// [`plan_with_excluded`] for trees filtered when observed.
pub fn plan(
    local: &Tree,
    remote: &Tree,
    base: &BaseTree,
    settings: &Settings,
    filter: &Filter,
    now: jiff::civil::DateTime,
) -> Plan {
    plan_with_excluded(
        local,
        remote,
        base,
        settings,
        filter,
        now,
        &Excluded::default(),
    )
}

/// [`plan`], told which excluded items each side holds: the scanner and
/// the listings leave them out of the trees, so the planner would not
/// otherwise know that a folder deleted on the other side still holds one.
pub fn plan_with_excluded(
    local: &Tree,
    remote: &Tree,
    base: &BaseTree,
    settings: &Settings,
    filter: &Filter,
    now: jiff::civil::DateTime,
    excluded: &Excluded,
) -> Plan {
    let mut p = Planner {
        settings,
        local: Tree::new(),
        remote: Tree::new(),
        base: BaseTree::new(),
        moves: Vec::new(),
        extra_forgets: Vec::new(),
        deselect_ops: Vec::new(),
        problems: Vec::new(),
        stamp: conflict_stamp(now),
        copies: HashSet::new(),
        holding: [HashMap::new(), HashMap::new()],
    };
    for (side, paths) in [
        (Side::Local, &excluded.local),
        (Side::Remote, &excluded.remote),
    ] {
        for path in paths {
            p.hold(side, path);
        }
    }
    p.filter(local, remote, base, filter);
    p.detect_moves();
    let decisions = p.decide_all();
    p.emit(decisions)
}

impl Planner<'_> {
    fn tree(&self, side: Side) -> &Tree {
        match side {
            Side::Local => &self.local,
            Side::Remote => &self.remote,
        }
    }

    fn tree_mut(&mut self, side: Side) -> &mut Tree {
        match side {
            Side::Local => &mut self.local,
            Side::Remote => &mut self.remote,
        }
    }

    /// Remember that the folders above `path`, an excluded item on `side`,
    /// hold it (unless it is the system's clutter).
    fn hold(&mut self, side: Side, path: &str) {
        if disposable(super::tree::file_name(path)) {
            return;
        }
        for a in ancestors(path) {
            self.holding[side as usize]
                .entry(a.to_string())
                .or_insert_with(|| path.to_string());
        }
    }

    /// Drop excluded items from all three trees (reporting them) and handle
    /// folders deselected in selective sync.
    fn filter(&mut self, local: &Tree, remote: &Tree, base: &BaseTree, filter: &Filter) {
        let mirror_send = self.settings.direction == Direction::Send;
        // Selective sync's "skip new server folders": a folder at the top
        // of the server that neither side had (not in the base, not local)
        // stays on the server. Not on a first pass (everything is new
        // then), nor for a mirror that sends (the server is its copy).
        let skip_new = filter.skips_new_folders() && !mirror_send && !base.is_empty();
        for (side, src) in [(Side::Local, local), (Side::Remote, remote)] {
            let mut excluded_dirs: HashSet<&str> = HashSet::new();
            let mut held: Vec<String> = Vec::new();
            // In path order: built packed at the end (see `collect_packed`).
            let mut kept: Vec<(String, Entry)> = Vec::new();
            for (path, e) in src {
                if ancestors(path).any(|a| excluded_dirs.contains(a)) {
                    continue;
                }
                if skip_new
                    && side == Side::Remote
                    && e.kind == Kind::Dir
                    && !path.contains('/')
                    && !base.contains_key(path)
                    && !local.contains_key(path)
                {
                    excluded_dirs.insert(path);
                    self.problems.push(Problem {
                        path: path.clone(),
                        side: Some(side),
                        message: "a new folder on the server: left there (new server folders are set to be skipped)".into(),
                    });
                    continue;
                }
                if let Some(rule) = filter.excluded(path, e.kind, e.size) {
                    if e.kind == Kind::Dir {
                        excluded_dirs.insert(path);
                    }
                    held.push(path.clone());
                    self.problems.push(Problem {
                        path: path.clone(),
                        side: Some(side),
                        message: format!("excluded: {rule}"),
                    });
                    continue;
                }
                if filter.deselected(path) && (mirror_send || side == Side::Remote) {
                    continue;
                }
                kept.push((path.clone(), e.clone()));
            }
            *self.tree_mut(side) = super::tree::packed_from_vec(kept);
            for path in held {
                self.hold(side, &path);
            }
        }
        self.base = super::tree::collect_packed(
            base.iter()
                .filter(|(path, b)| {
                    filter.excluded_path(path, b.kind, b.local.size).is_none()
                        && !(mirror_send && filter.deselected(path))
                })
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        if mirror_send {
            return;
        }
        // Selective sync: the local copy of a deselected folder goes to the
        // trash (the remote keeps it) — but only if everything in it was in
        // sync, so that no local change is lost.
        for dir in filter.deselected_folders() {
            if filter
                .deselected_folders()
                .iter()
                .any(|d| d != dir && is_within(dir, d))
            {
                continue;
            }
            if let Some(e) = self.local.get(dir.as_str()).cloned() {
                let contents: Vec<(String, Entry)> = descendants(&self.local, dir)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let unsynced = std::iter::once((dir.clone(), e.clone()))
                    .chain(contents.iter().cloned())
                    .find(|(k, v)| status(Some(v), self.base.get(k), Side::Local) != St::Same);
                if let Some((path, _)) = unsynced {
                    self.problems.push(Problem {
                        path,
                        side: Some(Side::Local),
                        message: "in a deselected folder but not in sync: the local folder is kept"
                            .into(),
                    });
                } else {
                    self.deselect_ops.push(Op::Delete {
                        side: Side::Local,
                        path: dir.clone(),
                        expect: e,
                        contents,
                        reason: DeleteReason::Deselected,
                    });
                }
            } else if self.base.contains_key(dir.as_str())
                || descendants(&self.base, dir).next().is_some()
            {
                self.extra_forgets.push(dir.clone());
            }
            let drop: Vec<String> = descendants(&self.local, dir)
                .map(|(k, _)| k.clone())
                .chain(std::iter::once(dir.clone()))
                .collect();
            for k in drop {
                self.local.remove(&k);
            }
            let drop: Vec<String> = descendants(&self.base, dir)
                .map(|(k, _)| k.clone())
                .chain(std::iter::once(dir.clone()))
                .collect();
            for k in drop {
                self.base.remove(&k);
            }
        }
    }

    /// Step 1: find moves on the side(s) whose changes flow, replay them on
    /// the other side, and re-key the base and that side's tree.
    fn detect_moves(&mut self) {
        let sides: &[Side] = match self.settings.direction {
            Direction::Both => &[Side::Local, Side::Remote],
            Direction::Send => &[Side::Local],
            Direction::Receive => &[Side::Remote],
        };
        let mut candidates: Vec<(Side, String, String, Kind)> = Vec::new();
        for &side in sides {
            let tree = self.tree(side);
            let mut gone: HashMap<&str, &str> = HashMap::new();
            // An id held by two items is no identity (a server whose entity
            // tags are a hash of the mtime gives two files one tag): it
            // never pairs a move.
            let mut shared: HashSet<&str> = HashSet::new();
            let mut seen: HashSet<&str> = HashSet::new();
            for (path, b) in &self.base {
                if let Some(id) = &b.sig(side).id {
                    if !seen.insert(id) {
                        shared.insert(id);
                    }
                    if !tree.contains_key(path) {
                        gone.insert(id, path);
                    }
                }
            }
            if gone.is_empty() {
                continue;
            }
            let mut now_seen: HashSet<&str> = HashSet::new();
            for e in tree.values() {
                if let Some(id) = e.id.as_deref() {
                    if !now_seen.insert(id) {
                        shared.insert(id);
                    }
                }
            }
            let mut used: HashSet<&str> = HashSet::new();
            for (q, e) in tree {
                if self.base.contains_key(q) {
                    continue;
                }
                let Some(p) =
                    e.id.as_deref()
                        .filter(|id| !shared.contains(id))
                        .and_then(|id| gone.get(id))
                else {
                    continue;
                };
                let b = &self.base[*p];
                let sig = b.sig(side);
                let same_content =
                    e.kind == Kind::Dir || (e.size == sig.size && e.mtime == sig.mtime);
                if b.kind == e.kind && same_content && used.insert(p) {
                    candidates.push((side, p.to_string(), q.clone(), e.kind));
                }
            }
        }
        // Outer moves first: a folder move carries its contents along.
        candidates.sort_by(|a, b| {
            depth(&a.1)
                .cmp(&depth(&b.1))
                .then_with(|| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)))
        });
        let candidates = outer_destinations_first(candidates);
        // Folder rewrites applied so far: to the base (all of them) and to
        // each side's tree (those replayed on that side).
        let mut all: Vec<(String, String)> = Vec::new();
        let mut applied: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
        for (side, p, q, kind) in candidates {
            let other = side.other();
            let p = translate(&all, &p);
            let q = translate(&applied[side as usize], &q);
            if is_within(&q, &p)
                || !self.base.contains_key(&p)
                || self.base.contains_key(&q)
                || self.tree(side).contains_key(&p)
                || !self.tree(side).contains_key(&q)
                || self.tree(other).contains_key(&q)
            {
                continue;
            }
            let Some(expect) = self.tree(other).get(&p).cloned() else {
                continue;
            };
            if expect.kind != kind {
                continue;
            }
            // A file where the destination needs a folder blocks the move.
            if ancestors(&q).any(|a| {
                self.tree(other)
                    .get(a)
                    .is_some_and(|e| e.kind == Kind::File)
            }) {
                continue;
            }
            rekey(&mut self.base, &p, &q);
            rekey(self.tree_mut(other), &p, &q);
            self.moves.push(Op::Move {
                side: other,
                from: p.clone(),
                to: q.clone(),
                expect,
                aside: false,
                why: match side {
                    Side::Local => "moved locally",
                    Side::Remote => "moved on the server",
                },
            });
            if kind == Kind::Dir {
                all.push((p.clone(), q.clone()));
                applied[other as usize].push((p, q));
            }
        }
    }

    /// Step 2: one decision per path, in path order.
    fn decide_all(&mut self) -> Vec<(String, Decision)> {
        let mut out = Vec::new();
        let mut li = self.local.iter().peekable();
        let mut ri = self.remote.iter().peekable();
        let mut bi = self.base.iter().peekable();
        loop {
            let next = [
                li.peek().map(|(k, _)| k.as_str()),
                ri.peek().map(|(k, _)| k.as_str()),
                bi.peek().map(|(k, _)| k.as_str()),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(key) = next.map(str::to_string) else {
                break;
            };
            let l = li.next_if(|(k, _)| **k == key).map(|(_, v)| v);
            let r = ri.next_if(|(k, _)| **k == key).map(|(_, v)| v);
            let b = bi.next_if(|(k, _)| **k == key).map(|(_, v)| v);
            let d = self.decide(l, r, b);
            if !matches!(d, Decision::Nothing) {
                out.push((key, d));
            }
        }
        out
    }

    fn decide(&self, l: Option<&Entry>, r: Option<&Entry>, b: Option<&BaseEntry>) -> Decision {
        // Found on both sides with no record: the same file if the times
        // say so (see `same_by_times`), in every direction.
        if let (Some(le), Some(re), None) = (l, r, b) {
            if le.kind == Kind::File
                && re.kind == Kind::File
                && same_by_times(self.settings, le, re)
            {
                return Decision::Adopt;
            }
        }
        let ls = status(l, b, Side::Local);
        let rs = status(r, b, Side::Remote);
        match self.settings.direction {
            Direction::Both => self.decide_both(l, r, b, ls, rs),
            Direction::Send => mirror(l, r, b, ls, rs, Side::Remote),
            Direction::Receive => mirror(r, l, b, rs, ls, Side::Local),
        }
    }

    /// The two-way table.
    fn decide_both(
        &self,
        l: Option<&Entry>,
        r: Option<&Entry>,
        b: Option<&BaseEntry>,
        ls: St,
        rs: St,
    ) -> Decision {
        use St::*;
        match (ls, rs) {
            // Absent means "no base", Same and Gone "a base": never mixed.
            (Absent, Absent) | (Absent, Same | Gone) | (Same | Gone, Absent) => Decision::Nothing,
            (Same, Same) => refresh(l, r, b),
            (Gone, Gone) => Decision::Forget,
            (Gone, Same) => Decision::Delete {
                side: Side::Remote,
                reason: DeleteReason::DeletedOnOtherSide,
            },
            (Same, Gone) => Decision::Delete {
                side: Side::Local,
                reason: DeleteReason::DeletedOnOtherSide,
            },
            (Changed, Same | Gone | Absent) => push(l, r, Side::Remote, false, "changed locally"),
            (Same | Gone | Absent, Changed) => {
                push(r, l, Side::Local, false, "changed on the server")
            }
            (Changed, Changed) => {
                let (Some(le), Some(re)) = (l, r) else {
                    return Decision::Nothing;
                };
                match (le.kind, re.kind) {
                    (Kind::Dir, Kind::Dir) => Decision::Adopt,
                    (Kind::File, Kind::Dir) => Decision::KindConflict {
                        file_side: Side::Local,
                    },
                    (Kind::Dir, Kind::File) => Decision::KindConflict {
                        file_side: Side::Remote,
                    },
                    (Kind::File, Kind::File) => {
                        if same_content(le, re) {
                            return Decision::Adopt;
                        }
                        match self.settings.conflict {
                            ConflictPolicy::KeepBoth => Decision::KeepBoth,
                            ConflictPolicy::Local => {
                                push(l, r, Side::Remote, true, "conflict: local wins")
                            }
                            ConflictPolicy::Remote => {
                                push(r, l, Side::Local, true, "conflict: server wins")
                            }
                            // An unknown date (a server that gave none)
                            // cannot be newer or older: keep both.
                            ConflictPolicy::Newest => match (le.known_mtime(), re.known_mtime()) {
                                (Some(lt), Some(rt)) if lt > rt => {
                                    push(l, r, Side::Remote, true, "conflict: local is newer")
                                }
                                (Some(lt), Some(rt)) if rt > lt => {
                                    push(r, l, Side::Local, true, "conflict: server is newer")
                                }
                                _ => Decision::KeepBoth,
                            },
                        }
                    }
                }
            }
        }
    }

    /// Step 3 and the ops.
    fn emit(mut self, mut decisions: Vec<(String, Decision)>) -> Plan {
        // Folder deletions: valid only when nothing below survives on that
        // side. Walk children before parents.
        let mut deleting: [HashSet<String>; 2] = [HashSet::new(), HashSet::new()];
        for (path, d) in &decisions {
            if let Decision::Delete { side, .. } = d {
                if self.tree(*side).get(path).is_some_and(Entry::is_dir) {
                    deleting[*side as usize].insert(path.clone());
                }
            }
            if let Decision::Push {
                to, clear: Some(c), ..
            } = d
            {
                if c.kind == Kind::Dir {
                    deleting[*to as usize].insert(path.clone());
                }
            }
        }
        let mut blocked: HashSet<(Side, String)> = HashSet::new();
        for i in (0..decisions.len()).rev() {
            let path = decisions[i].0.clone();
            for side in [Side::Local, Side::Remote] {
                if blocked.contains(&(side, path.clone())) {
                    let converted = match &decisions[i].1 {
                        Decision::Delete { side: s, .. } if *s == side => Some(Decision::Push {
                            to: side.other(),
                            clear: None,
                            replace: None,
                            backup: false,
                            why: "kept: the folder holds changes",
                        }),
                        Decision::Push {
                            to, clear: Some(_), ..
                        } if *to == side => Some(Decision::KindConflict {
                            file_side: side.other(),
                        }),
                        _ => None,
                    };
                    if let Some(c) = converted {
                        decisions[i].1 = c;
                        deleting[side as usize].remove(&path);
                    }
                } else if let Some(held) = self.holding[side as usize].get(&path) {
                    // Excluded items are never deleted because of the other
                    // side: the folder stays (not brought back on the other
                    // side), the rest of its contents is decided one by one.
                    // A file that would replace it changes nothing on
                    // either side (no copy renamed, no folder recreated
                    // over it) until the user resolves it: reported.
                    let converted = match &decisions[i].1 {
                        Decision::Delete { side: s, .. } if *s == side => {
                            Some((Decision::Keep, "it is gone on the other side"))
                        }
                        Decision::Push {
                            to, clear: Some(_), ..
                        } if *to == side => Some((
                            Decision::Keep,
                            "the other side replaced it with a file (left as it is there; move one of them away to resolve)",
                        )),
                        _ => None,
                    };
                    if let Some((c, why)) = converted {
                        self.problems.push(Problem {
                            path: path.clone(),
                            side: Some(side),
                            message: format!(
                                "kept although {why}: it holds '{held}', which is excluded from synchronization (excluded items are never deleted because of the other side)"
                            ),
                        });
                        decisions[i].1 = c;
                        deleting[side as usize].remove(&path);
                    }
                }
            }
            for side in [Side::Local, Side::Remote] {
                if deleting[side as usize].is_empty()
                    || matches!(decisions[i].1, Decision::Keep)
                    || !self.survives(&path, &decisions[i].1, side)
                {
                    continue;
                }
                for a in ancestors(&path) {
                    if deleting[side as usize].contains(a) {
                        blocked.insert((side, a.to_string()));
                    }
                }
            }
        }

        let mut deletes = Vec::new();
        let mut mkdirs = Vec::new();
        let mut transfers = Vec::new();
        let mut records = Vec::new();
        let subsumed = |deleting: &[HashSet<String>; 2], path: &str| {
            ancestors(path).any(|a| deleting[0].contains(a) || deleting[1].contains(a))
        };
        for (path, d) in decisions {
            let l = self.local.get(&path).cloned();
            let r = self.remote.get(&path).cloned();
            match d {
                Decision::Nothing | Decision::Keep => {}
                Decision::Adopt => {
                    if let (Some(local), Some(remote)) = (l, r) {
                        records.push(Op::Adopt {
                            path,
                            local,
                            remote,
                        });
                    }
                }
                Decision::Forget => {
                    if !subsumed(&deleting, &path) {
                        records.push(Op::Forget { path });
                    }
                }
                Decision::Delete { side, reason } => {
                    if subsumed(&deleting, &path) {
                        continue;
                    }
                    let Some(expect) = self.tree(side).get(&path).cloned() else {
                        continue;
                    };
                    let contents = descendants(self.tree(side), &path)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    deletes.push(Op::Delete {
                        side,
                        path,
                        expect,
                        contents,
                        reason,
                    });
                }
                Decision::Push {
                    to,
                    clear,
                    replace,
                    backup,
                    why,
                } => {
                    let source = match to {
                        Side::Remote => l,
                        Side::Local => r,
                    };
                    let Some(source) = source else { continue };
                    if let Some(c) = clear {
                        let contents = descendants(self.tree(to), &path)
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        deletes.push(Op::Delete {
                            side: to,
                            path: path.clone(),
                            expect: c,
                            contents,
                            reason: DeleteReason::KindChanged,
                        });
                    }
                    if source.kind == Kind::Dir {
                        mkdirs.push(Op::MakeDir {
                            side: to,
                            path,
                            source,
                            why,
                        });
                    } else {
                        transfers.push(Op::Transfer {
                            to,
                            path,
                            source,
                            replace,
                            backup,
                            why,
                        });
                    }
                }
                Decision::KeepBoth => {
                    let (Some(le), Some(re)) = (l, r) else {
                        continue;
                    };
                    let copy = self.copy_name(&path);
                    self.moves.push(Op::Move {
                        side: Side::Local,
                        from: path.clone(),
                        to: copy.clone(),
                        expect: le.clone(),
                        aside: true,
                        why: "conflict: local version kept as a copy",
                    });
                    transfers.push(Op::Transfer {
                        to: Side::Remote,
                        path: copy,
                        source: le,
                        replace: None,
                        backup: false,
                        why: "conflict: local version kept as a copy",
                    });
                    transfers.push(Op::Transfer {
                        to: Side::Local,
                        path,
                        source: re,
                        replace: None,
                        backup: false,
                        why: "conflict: server version",
                    });
                }
                Decision::KindConflict { file_side } => {
                    let (file, dir) = match file_side {
                        Side::Local => (l, r),
                        Side::Remote => (r, l),
                    };
                    let (Some(file), Some(dir)) = (file, dir) else {
                        continue;
                    };
                    let copy = self.copy_name(&path);
                    self.moves.push(Op::Move {
                        side: file_side,
                        from: path.clone(),
                        to: copy.clone(),
                        expect: file.clone(),
                        aside: true,
                        why: "conflict: a file and a folder have the same name",
                    });
                    transfers.push(Op::Transfer {
                        to: file_side.other(),
                        path: copy,
                        source: file,
                        replace: None,
                        backup: false,
                        why: "conflict: file kept as a copy",
                    });
                    if dir.kind == Kind::Dir {
                        mkdirs.push(Op::MakeDir {
                            side: file_side,
                            path,
                            source: dir,
                            why: "conflict: the folder keeps the name",
                        });
                    }
                }
            }
        }
        for dir in self.extra_forgets.drain(..) {
            records.push(Op::Forget { path: dir });
        }
        deletes.append(&mut self.deselect_ops);
        deletes.sort_by(|a, b| a.path().cmp(b.path()));
        records.sort_by(|a, b| a.path().cmp(b.path()));
        let mut ops = self.moves;
        ops.extend(deletes);
        ops.extend(mkdirs);
        ops.extend(transfers);
        ops.extend(records);
        self.problems
            .extend(case_clashes(&self.local, &self.base, Side::Local));
        self.problems
            .extend(case_clashes(&self.remote, &self.base, Side::Remote));
        Plan {
            ops,
            problems: self.problems,
        }
    }

    /// Whether the item at `path` will exist on `side` after the pass.
    fn survives(&self, path: &str, d: &Decision, side: Side) -> bool {
        let present = self.tree(side).contains_key(path);
        match d {
            Decision::Nothing | Decision::Adopt | Decision::Keep => present,
            Decision::Forget => false,
            Decision::Delete { side: s, .. } => *s != side && present,
            Decision::Push { to, .. } => *to == side || present,
            Decision::KeepBoth | Decision::KindConflict { .. } => true,
        }
    }

    fn copy_name(&mut self, path: &str) -> String {
        let copy = conflict_copy_name(path, &self.stamp, |c| {
            self.local.contains_key(c)
                || self.remote.contains_key(c)
                || self.base.contains_key(c)
                || self.copies.contains(c)
        });
        self.copies.insert(copy.clone());
        copy
    }
}

/// Both sides unchanged: refresh the base when a signature moved without a
/// content change (a hash proved it, or an entity tag flipped), or when a
/// folder was made anew under the same name (its identity changed: without
/// the new one in the base, a later rename of it is not seen as a move). A
/// folder's mtime alone changes with its contents and is not worth a record.
fn refresh(l: Option<&Entry>, r: Option<&Entry>, b: Option<&BaseEntry>) -> Decision {
    match (l, r, b) {
        (Some(l), Some(r), Some(b))
            if l.kind == Kind::File
                && (l.signature() != b.local
                    || r.signature() != b.remote
                    || (b.hash.is_none() && (l.hash.is_some() || r.hash.is_some()))) =>
        {
            Decision::Adopt
        }
        (Some(l), Some(r), Some(b))
            if l.kind == Kind::Dir && (l.id != b.local.id || r.id != b.remote.id) =>
        {
            Decision::Adopt
        }
        _ => Decision::Nothing,
    }
}

/// Make side `to` hold `src`; `dst` is what `to` has at the path now.
fn push(
    src: Option<&Entry>,
    dst: Option<&Entry>,
    to: Side,
    backup: bool,
    why: &'static str,
) -> Decision {
    let Some(src) = src else {
        return Decision::Nothing;
    };
    match dst {
        None => Decision::Push {
            to,
            clear: None,
            replace: None,
            backup: false,
            why,
        },
        Some(d) if d.kind != src.kind => Decision::Push {
            to,
            clear: Some(d.clone()),
            replace: None,
            backup: false,
            why,
        },
        Some(_) if src.kind == Kind::Dir => Decision::Adopt,
        Some(d) if same_content(src, d) => Decision::Adopt,
        Some(d) => Decision::Push {
            to,
            clear: None,
            replace: Some(d.clone()),
            backup,
            why,
        },
    }
}

/// One-way mirror from `src` to side `to` (whose item is `dst`).
fn mirror(
    src: Option<&Entry>,
    dst: Option<&Entry>,
    b: Option<&BaseEntry>,
    ss: St,
    ds: St,
    to: Side,
) -> Decision {
    use St::*;
    match (ss, ds) {
        (Absent, Absent) => Decision::Nothing,
        (Gone, Gone) => Decision::Forget,
        (Same, Same) => match to {
            Side::Remote => refresh(src, dst, b),
            Side::Local => refresh(dst, src, b),
        },
        (Gone | Absent, _) => Decision::Delete {
            side: to,
            reason: DeleteReason::Mirror,
        },
        // The target changed on its own: its version goes to the trash.
        (_, Changed) => push(src, dst, to, true, "mirror: target changed"),
        (_, _) => push(src, dst, to, false, "mirror"),
    }
}

/// Two files found on both sides with no record of them, taken as the same
/// without reading them: only in fast mode, only where the remote keeps the
/// times clients set ([`Settings::times_kept`]), with equal sizes and both
/// times known and equal — to the second where either side has no finer
/// time (HTTP dates), exactly otherwise. Known hashes that differ always
/// win. Fast mode already trusts size and time for a file it has a record
/// of; this extends that trust to a first meeting, as rclone and the
/// Nextcloud client do. Secure mode never does.
fn same_by_times(settings: &Settings, a: &Entry, b: &Entry) -> bool {
    const SEC: i64 = 1_000_000_000;
    if settings.compare != CompareMode::Fast || !settings.times_kept || a.size != b.size {
        return false;
    }
    if let (Some(x), Some(y)) = (a.hash, b.hash) {
        return x == y;
    }
    let (Some(ta), Some(tb)) = (a.known_mtime(), b.known_mtime()) else {
        return false;
    };
    if ta % SEC == 0 || tb % SEC == 0 {
        ta.div_euclid(SEC) == tb.div_euclid(SEC)
    } else {
        ta == tb
    }
}

/// Whether some file is on both sides, with no record and the same size:
/// only then can [`Settings::times_kept`] change a plan (the pass need not
/// find out otherwise).
pub fn met_on_both(local: &Tree, remote: &Tree, base: &BaseTree) -> bool {
    local.iter().any(|(path, l)| {
        l.kind == Kind::File
            && !base.contains_key(path)
            && remote
                .get(path)
                .is_some_and(|r| r.kind == Kind::File && r.size == l.size)
    })
}

/// Same content, as far as can be told without I/O: equal hashes, or two
/// empty files.
fn same_content(a: &Entry, b: &Entry) -> bool {
    if a.kind != b.kind || a.size != b.size {
        return false;
    }
    match (a.hash, b.hash) {
        (Some(x), Some(y)) => x == y,
        _ => a.size == 0,
    }
}

/// Names on one side that differ only by case among new items: they cannot
/// both exist on a case-insensitive file system.
fn case_clashes(tree: &Tree, base: &BaseTree, side: Side) -> Vec<Problem> {
    let mut out = Vec::new();
    if tree.keys().all(|p| base.contains_key(p)) {
        return out;
    }
    let mut seen: HashMap<String, &str> = HashMap::new();
    for path in tree.keys() {
        let lower = path.to_lowercase();
        if let Some(first) = seen.get(&lower) {
            if !base.contains_key(path) || !base.contains_key(*first) {
                out.push(Problem {
                    path: path.clone(),
                    side: Some(side),
                    message: format!(
                        "differs from '{first}' only by case: cannot be synchronized to a case-insensitive system"
                    ),
                });
            }
        } else {
            seen.insert(lower, path);
        }
    }
    out
}

fn depth(path: &str) -> usize {
    path.bytes().filter(|&c| c == b'/').count()
}

/// The proper ancestors of a path, nearest first.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut cur = path;
    std::iter::from_fn(move || {
        let p = parent(cur);
        if p.is_empty() || p == cur {
            None
        } else {
            cur = p;
            Some(p)
        }
    })
}

/// Reorder move candidates (sorted by source depth, so that a folder move
/// comes before the moves of what was in it) so that a folder move also
/// comes before every move on the same side into its destination: a file
/// moved into a folder that was moved as well must be replayed after the
/// folder, or replaying it would make the destination folder (the executor
/// makes missing parents) and the folder move would then fail.
///
/// A candidate waits while a folder move still to come holds its
/// destination (on its side) or its source (on the other side: its source
/// is then re-keyed by that move). Among moves on one side, the source does
/// not matter: an item moved out of a folder that moves as well may be
/// replayed first, and must be when the folder moves into it. The order is
/// otherwise kept, and a cycle (which no order satisfies) is broken in that
/// order.
fn outer_destinations_first(
    candidates: Vec<(Side, String, String, Kind)>,
) -> Vec<(Side, String, String, Kind)> {
    type Key = (Side, String);
    // Pending folder moves by (side, source) and by (side, destination).
    let mut sources: HashMap<Key, usize> = HashMap::new();
    let mut destinations: HashMap<Key, usize> = HashMap::new();
    for (side, p, q, kind) in &candidates {
        if *kind == Kind::Dir {
            *sources.entry((*side, p.clone())).or_default() += 1;
            *destinations.entry((*side, q.clone())).or_default() += 1;
        }
    }
    let held = |map: &HashMap<Key, usize>, side: Side, path: &str| {
        ancestors(path).any(|a| map.contains_key(&(side, a.to_string())))
    };
    if candidates
        .iter()
        .all(|(side, _, q, _)| !held(&destinations, *side, q))
    {
        return candidates;
    }
    let take = |map: &mut HashMap<Key, usize>, key: Key| {
        if let Some(n) = map.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&key);
            }
        }
    };
    let total = candidates.len();
    let mut rest: Vec<Option<(Side, String, String, Kind)>> =
        candidates.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let before = out.len();
        for slot in rest.iter_mut() {
            let ready = slot.as_ref().is_some_and(|(side, p, q, _)| {
                !held(&destinations, *side, q) && !held(&sources, side.other(), p)
            });
            if !ready {
                continue;
            }
            if let Some(c) = slot.take() {
                if c.3 == Kind::Dir {
                    take(&mut sources, (c.0, c.1.clone()));
                    take(&mut destinations, (c.0, c.2.clone()));
                }
                out.push(c);
            }
        }
        if out.len() == before {
            // A cycle: take the first one left.
            if let Some(c) = rest.iter_mut().find_map(Option::take) {
                if c.3 == Kind::Dir {
                    take(&mut sources, (c.0, c.1.clone()));
                    take(&mut destinations, (c.0, c.2.clone()));
                }
                out.push(c);
            }
        }
    }
    out
}

fn translate(rewrites: &[(String, String)], path: &str) -> String {
    let mut p = path.to_string();
    for (from, to) in rewrites {
        if is_within(&p, from) {
            p = rebase(&p, from, to);
        }
    }
    p
}

/// Move the item at `from` and everything below it to `to`.
fn rekey<V>(tree: &mut BTreeMap<String, V>, from: &str, to: &str) {
    let mut keys: Vec<String> = descendants(tree, from).map(|(k, _)| k.clone()).collect();
    keys.push(from.to_string());
    for k in keys {
        if let Some(v) = tree.remove(&k) {
            tree.insert(rebase(&k, from, to), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tree::{Sig, UNKNOWN_MTIME};

    fn conflict(local_mtime: i64, remote_mtime: i64) -> Plan {
        let settings = Settings {
            conflict: ConflictPolicy::Newest,
            ..Settings::default()
        };
        let base_sig = |m| Sig {
            size: 1,
            mtime: m,
            ..Sig::default()
        };
        let mut base = BaseTree::new();
        base.insert(
            "a.txt".into(),
            BaseEntry {
                kind: Kind::File,
                local: base_sig(5),
                remote: base_sig(5),
                hash: None,
            },
        );
        let mut local = Tree::new();
        local.insert("a.txt".into(), Entry::file(2, local_mtime));
        let mut remote = Tree::new();
        remote.insert("a.txt".into(), Entry::file(3, remote_mtime));
        let now = jiff::civil::date(2026, 11, 28).at(12, 0, 0, 0);
        plan(&local, &remote, &base, &settings, &Filter::default(), now)
    }

    #[test]
    fn a_same_size_edit_of_an_undated_file_is_a_change_and_a_tag_flip_is_not() {
        let tag = |t: &str| Sig {
            size: 5,
            mtime: UNKNOWN_MTIME,
            id: Some(t.into()),
            etag: Some(t.into()),
        };
        let mut base = BaseTree::new();
        base.insert(
            "a.txt".into(),
            BaseEntry {
                kind: Kind::File,
                local: Sig {
                    size: 5,
                    mtime: 1_000,
                    id: Some("1:2".into()),
                    etag: None,
                },
                remote: tag("\"v1\""),
                hash: None,
            },
        );
        let mut local = Tree::new();
        let mut l = Entry::file(5, 1_000);
        l.id = Some("1:2".into());
        local.insert("a.txt".into(), l);
        let remote_with = |t: &str| {
            let mut r = Entry::file(5, UNKNOWN_MTIME);
            r.id = Some(t.into());
            r.etag = Some(t.into());
            let mut tree = Tree::new();
            tree.insert("a.txt".into(), r);
            tree
        };
        let now = jiff::civil::date(2026, 11, 28).at(12, 0, 0, 0);
        let s = Settings::default();
        let f = Filter::default();
        let edited = plan(&local, &remote_with("\"v2\""), &base, &s, &f, now);
        assert!(
            edited
                .ops
                .iter()
                .any(|op| matches!(op, Op::Transfer { .. })),
            "{edited:?}"
        );
        let flipped = plan(&local, &remote_with("W/\"v1\""), &base, &s, &f, now);
        assert!(
            !flipped
                .ops
                .iter()
                .any(|op| matches!(op, Op::Transfer { .. })),
            "{flipped:?}"
        );
    }

    #[test]
    fn an_entity_tag_shared_by_two_files_pairs_no_move() {
        // Tags that are only an mtime hash: a.txt and b.txt share one.
        let sig = |id: &str| Sig {
            size: 8,
            mtime: 5,
            id: Some(id.into()),
            etag: Some(id.into()),
        };
        let rec = |id| BaseEntry {
            kind: Kind::File,
            local: Sig {
                size: 8,
                mtime: 5,
                ..Sig::default()
            },
            remote: sig(id),
            hash: None,
        };
        let mut base = BaseTree::new();
        base.insert("a.txt".into(), rec("\"t5\""));
        base.insert("b.txt".into(), rec("\"t5\""));
        let mut local = Tree::new();
        local.insert("a.txt".into(), Entry::file(8, 5));
        local.insert("b.txt".into(), Entry::file(8, 5));
        // On the server a.txt was deleted and b.txt renamed to c.txt.
        let mut remote = Tree::new();
        let mut c = Entry::file(8, 5).with_id("\"t5\"");
        c.etag = Some("\"t5\"".into());
        remote.insert("c.txt".into(), c);
        let now = jiff::civil::date(2026, 11, 28).at(12, 0, 0, 0);
        let p = plan(
            &local,
            &remote,
            &base,
            &Settings::default(),
            &Filter::default(),
            now,
        );
        assert!(
            !p.ops.iter().any(|op| matches!(op, Op::Move { .. })),
            "a move was paired on a shared tag: {p:?}"
        );
    }

    #[test]
    fn newest_keeps_both_when_a_date_is_unknown() {
        let keeps_both = |p: &Plan| {
            p.ops
                .iter()
                .any(|op| matches!(op, Op::Move { aside: true, .. }))
        };
        // Known dates: the newer side wins, nothing is set aside.
        assert!(!keeps_both(&conflict(10, 20)), "{:?}", conflict(10, 20));
        for p in [
            conflict(10, UNKNOWN_MTIME),
            conflict(UNKNOWN_MTIME, 10),
            conflict(UNKNOWN_MTIME, UNKNOWN_MTIME),
        ] {
            assert!(keeps_both(&p), "{p:?}");
        }
    }
}
