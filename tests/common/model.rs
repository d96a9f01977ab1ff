//! An in-memory model of a synchronization, for the planner's table and
//! property tests: two sides, the base, and a trash per side.
//!
//! Each side is a map from relative path to [`Item`]. A file carries
//!
//! * `content` — the bytes, as a number: it alone decides the size and the
//!   (fake) content hash, so two files with equal `content` are identical;
//! * `version` — which write produced it: every user edit makes a new
//!   version, a transfer copies the version along. "No content lost" is
//!   checked on versions;
//! * `id` — the identity a side reports (inode, server file id): kept by a
//!   rename, new for every file written by a transfer.
//!
//! [`Model::pass`] does what `ferry::pass::run_pass` does, without I/O:
//! observe both sides, hash what `hash_requests` asks for, plan, and apply
//! every op with the executor's semantics (`src/pass/execute.rs` and the
//! file operations in `src/fsops.rs`): preconditions are checked right
//! before an op acts, and an op whose precondition fails is skipped (and
//! recorded in [`Model::skipped`]), deletions and backups go to the side's
//! trash. The base changes are the executor's own: the engine's rules
//! (`ferry::engine::base`), applied as the journal applies them. The
//! guards are the engine's too (`ferry::engine::guard`): a pass runs as a
//! confirmed one, and [`Model::last_stop`] says what would have stopped it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ferry::engine::base::{self, BaseChange};
use ferry::engine::guard::{self, Confirmed, Root, Stop};
use ferry::engine::tree::{descendants, is_within, parent, rebase};
use ferry::engine::{
    self, BaseTree, ConflictPolicy, Direction, Entry, Filter, Hash, Kind, Op, Plan, Settings, Side,
    Tree,
};

/// The content value of an empty file (size 0).
pub const EMPTY: u64 = 0;

/// Size in bytes of a file with this content. Deliberately tiny and
/// colliding: many different contents have the same size, so the planner
/// must hash to tell them apart. Only the empty content has size 0.
pub fn size_of(content: u64) -> u64 {
    if content == EMPTY { 0 } else { content % 3 + 1 }
}

/// The fake SHA-256 of a content: unique per content.
pub fn hash_of(content: u64) -> Hash {
    let mut h = [0x5a; 32];
    h[..8].copy_from_slice(&content.to_le_bytes());
    h
}

/// The local time the tests plan with.
pub fn now() -> jiff::civil::DateTime {
    jiff::civil::date(2026, 11, 22).at(10, 15, 0, 0)
}

/// The stamp conflicted copies get with [`now`].
pub const STAMP: &str = "2026-11-22 101500";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub kind: Kind,
    /// Bytes of a file (0 for folders).
    pub content: u64,
    /// The write that produced this file (0 for folders).
    pub version: u64,
    pub id: u64,
    pub mtime: i64,
}

#[derive(Clone, Debug, Default)]
pub struct SideState {
    pub items: BTreeMap<String, Item>,
    /// Everything sent to the trash (deleted, or replaced with a backup),
    /// with the path it had.
    pub trash: Vec<(String, Item)>,
}

/// Path -> (kind, content) of the synchronized items of a side.
pub type Snapshot = BTreeMap<String, (Kind, u64)>;

/// How the sides report what they hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flavor {
    /// The remote reports an entity tag for each file (WebDAV).
    pub remote_etags: bool,
    /// The remote reports a content hash with every file (WebDAV
    /// `oc:checksums`), so no hash is ever requested there.
    pub remote_hashes: bool,
    /// Apply the ops of the phases the executor runs concurrently
    /// (deletions, transfers, base records) in reverse order: a plan must
    /// not depend on the order within those phases.
    pub reverse_parallel_phases: bool,
}

#[derive(Clone)]
pub struct Model {
    pub local: SideState,
    pub remote: SideState,
    pub base: BaseTree,
    pub settings: Settings,
    pub filter: Filter,
    pub flavor: Flavor,
    /// Ops whose precondition failed when applied (or that could not run):
    /// in a model where nothing changes while a pass runs, each is a plan
    /// that contradicts itself.
    pub skipped: Vec<String>,
    /// What happened, for failure messages.
    pub history: Vec<String>,
    /// The hash requests of the last pass.
    pub last_hash_requests: Vec<(Side, String)>,
    /// What the engine's guards would have stopped the last pass on (the
    /// first stop), had it not been confirmed.
    pub last_stop: Option<Stop>,
    /// Passes run so far.
    pub passes: usize,
    /// Both sides as they were when [`Model::begin_changes`] was called.
    before: Option<(BTreeMap<String, Item>, BTreeMap<String, Item>)>,
    /// Versions the user edited since then.
    overwritten: BTreeSet<u64>,
    /// Version written by an edit -> the content of the in-sync version it
    /// descends from (through edits, wherever the file was moved).
    origin: BTreeMap<u64, u64>,
    /// Files the user deleted since then: side, path, version.
    deleted: Vec<(Side, String, u64)>,
    next_id: u64,
    next_version: u64,
    clock: i64,
}

impl Model {
    pub fn new(settings: Settings) -> Model {
        Model {
            local: SideState::default(),
            remote: SideState::default(),
            base: BaseTree::new(),
            settings,
            filter: Filter::default(),
            flavor: Flavor::default(),
            skipped: Vec::new(),
            history: Vec::new(),
            last_hash_requests: Vec::new(),
            last_stop: None,
            passes: 0,
            before: None,
            overwritten: BTreeSet::new(),
            origin: BTreeMap::new(),
            deleted: Vec::new(),
            next_id: 1,
            next_version: 1,
            clock: 1_700_000_000_000_000_000,
        }
    }

    pub fn with(direction: Direction, conflict: ConflictPolicy) -> Model {
        Model::new(Settings {
            direction,
            conflict,
            ..Settings::default()
        })
    }

    pub fn side(&self, side: Side) -> &SideState {
        match side {
            Side::Local => &self.local,
            Side::Remote => &self.remote,
        }
    }

    pub fn side_mut(&mut self, side: Side) -> &mut SideState {
        match side {
            Side::Local => &mut self.local,
            Side::Remote => &mut self.remote,
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn fresh_version(&mut self) -> u64 {
        self.next_version += 1;
        self.next_version
    }

    /// Every user change happens one second after the previous one.
    fn tick(&mut self) -> i64 {
        self.clock += 1_000_000_000;
        self.clock
    }

    fn new_dir(&mut self) -> Item {
        Item {
            kind: Kind::Dir,
            content: 0,
            version: 0,
            id: self.fresh_id(),
            mtime: self.tick(),
        }
    }

    fn new_file(&mut self, content: u64) -> Item {
        Item {
            kind: Kind::File,
            content,
            version: self.fresh_version(),
            id: self.fresh_id(),
            mtime: self.tick(),
        }
    }

    // ---------------------------------------------------------------
    // Observation
    // ---------------------------------------------------------------

    /// The entry a side reports for an item.
    pub fn entry(&self, side: Side, item: &Item) -> Entry {
        let prefix = match side {
            Side::Local => "L",
            Side::Remote => "R",
        };
        let file = item.kind == Kind::File;
        Entry {
            kind: item.kind,
            size: if file { size_of(item.content) } else { 0 },
            mtime: item.mtime,
            id: Some(format!("{prefix}{}", item.id).into()),
            etag: (side == Side::Remote && file && self.flavor.remote_etags)
                .then(|| format!("\"{}-{}\"", item.id, item.version).into()),
            hash: (side == Side::Remote && file && self.flavor.remote_hashes)
                .then(|| hash_of(item.content)),
        }
    }

    /// What a scan (or a listing) of the side returns.
    pub fn observe(&self, side: Side) -> Tree {
        self.side(side)
            .items
            .iter()
            .map(|(p, i)| (p.clone(), self.entry(side, i)))
            .collect()
    }

    /// Both observations with the hashes the planner asks for filled in,
    /// as `run_pass` does before it plans.
    pub fn observed(&self) -> (Tree, Tree, Vec<(Side, String)>) {
        let mut local = self.observe(Side::Local);
        let mut remote = self.observe(Side::Remote);
        let requests = engine::hash_requests(&local, &remote, &self.base, &self.settings);
        for (side, path) in &requests {
            let tree = match side {
                Side::Local => &mut local,
                Side::Remote => &mut remote,
            };
            if let (Some(e), Some(item)) = (tree.get_mut(path), self.side(*side).items.get(path)) {
                if item.kind == Kind::File {
                    e.hash = Some(hash_of(item.content));
                }
            }
        }
        (local, remote, requests)
    }

    /// One pass whose remote listing leaves out the items `omit` names (as
    /// a server that answers `Depth: infinity` with one level does), with
    /// what `run_pass` does about it: each missing top is asked for
    /// directly (the model's remote answers truly) and settled by
    /// `engine::absence`, then hash, plan and apply as [`Model::pass`].
    /// Returns the plan and the problems the settling reported.
    pub fn pass_omitting(
        &mut self,
        omit: impl Fn(&str) -> bool,
    ) -> (Plan, Vec<ferry::engine::Problem>) {
        use ferry::engine::absence::{Answer, missing_tops, settle};
        let mut local = self.observe(Side::Local);
        let mut remote = self.observe(Side::Remote);
        remote.retain(|p, _| !omit(p));
        let tops = missing_tops(&remote, &self.base, &self.filter);
        let answers = tops
            .iter()
            .map(|p| {
                let a = match self.remote.items.get(p) {
                    None => Answer::Gone,
                    Some(i) => Answer::There(self.entry(Side::Remote, i)),
                };
                (p.clone(), a)
            })
            .collect();
        let problems = settle(&mut remote, &self.base, Side::Remote, &tops, &answers, true);
        let requests = engine::hash_requests(&local, &remote, &self.base, &self.settings);
        for (side, path) in &requests {
            let tree = match side {
                Side::Local => &mut local,
                Side::Remote => &mut remote,
            };
            if let (Some(e), Some(item)) = (tree.get_mut(path), self.side(*side).items.get(path)) {
                if item.kind == Kind::File && e.size == size_of(item.content) {
                    e.hash = Some(hash_of(item.content));
                }
            }
        }
        let plan = engine::plan(
            &local,
            &remote,
            &self.base,
            &self.settings,
            &self.filter,
            now(),
        );
        self.passes += 1;
        self.history
            .push(format!("pass {} (listing omits items):", self.passes));
        for op in &plan.ops {
            self.history.push(format!("  {}", fmt_op(op)));
        }
        self.apply(&plan);
        (plan, problems)
    }

    /// The plan a pass would run now (nothing is applied).
    pub fn plan_now(&self) -> Plan {
        let (local, remote, _) = self.observed();
        engine::plan(
            &local,
            &remote,
            &self.base,
            &self.settings,
            &self.filter,
            now(),
        )
    }

    /// One pass: observe, hash, plan, apply. Returns the plan.
    pub fn pass(&mut self) -> Plan {
        let (local, remote, requests) = self.observed();
        let plan = engine::plan(
            &local,
            &remote,
            &self.base,
            &self.settings,
            &self.filter,
            now(),
        );
        self.last_hash_requests = requests;
        self.last_stop = self.guard(&local, &remote, &plan);
        self.passes += 1;
        self.history.push(format!("pass {}:", self.passes));
        for op in &plan.ops {
            self.history.push(format!("  {}", fmt_op(op)));
        }
        self.apply(&plan);
        plan
    }

    /// The first stop the engine's guards make for a pass that observed
    /// `local` and `remote` and planned `plan` against the current base,
    /// unconfirmed (the model's roots always exist: a side with nothing in
    /// it is an empty root).
    pub fn guard(&self, local: &Tree, remote: &Tree, plan: &Plan) -> Option<Stop> {
        let root = |t: &Tree| {
            if t.is_empty() {
                Root::Empty
            } else {
                Root::Holding
            }
        };
        let confirmed = Confirmed::default();
        let in_sync = self.base.len();
        guard::roots(root(local), root(remote), in_sync, false, confirmed)
            .into_iter()
            .chain(guard::deletions(
                &self.settings.guards,
                plan.deletions(),
                in_sync,
                confirmed,
            ))
            .next()
    }

    /// Run passes until a plan is empty. `Err` when the plan is still not
    /// empty after `max` passes. Returns the plans that had ops.
    pub fn run_until_quiet(&mut self, max: usize) -> Result<Vec<Plan>, String> {
        let mut plans = Vec::new();
        for _ in 0..max {
            let plan = self.pass();
            if plan.is_quiet() {
                return Ok(plans);
            }
            plans.push(plan);
        }
        let plan = self.plan_now();
        if plan.is_quiet() {
            Ok(plans)
        } else {
            Err(format!(
                "not quiet after {max} passes; next plan:\n{}",
                fmt_plan(&plan)
            ))
        }
    }

    // ---------------------------------------------------------------
    // Applying a plan, as the executor does
    // ---------------------------------------------------------------

    /// Apply every op in order. The base updates follow `run_op`: a move
    /// updates the base from the base as it was when the pass started.
    pub fn apply(&mut self, plan: &Plan) {
        let base0 = self.base.clone();
        let mut ops: Vec<&Op> = plan.ops.iter().collect();
        if self.flavor.reverse_parallel_phases {
            // Phases as in `pass::execute`; moves and new folders run one at
            // a time, in order.
            let phase = |op: &Op| match op {
                Op::Move { .. } => 0,
                Op::Delete { .. } => 1,
                Op::MakeDir { .. } => 2,
                Op::Transfer { .. } => 3,
                Op::Adopt { .. } | Op::Forget { .. } => 4,
            };
            for chunk in ops.chunk_by_mut(|a, b| phase(a) == phase(b)) {
                if matches!(phase(chunk[0]), 1 | 3 | 4) {
                    chunk.reverse();
                }
            }
        }
        for op in ops {
            if let Err(why) = self.apply_op(op, &base0) {
                let line = format!("skipped {}: {why}", fmt_op(op));
                self.history.push(format!("  {line}"));
                self.skipped.push(line);
            }
        }
    }

    fn check(&self, side: Side, path: &str, expect: Option<&Entry>) -> Result<(), String> {
        let now = self.side(side).items.get(path).map(|i| self.entry(side, i));
        let same = match (&now, expect) {
            (None, None) => true,
            (Some(n), Some(e)) => same_item(n, e),
            _ => false,
        };
        if same {
            Ok(())
        } else {
            Err(format!(
                "{side} {path} changed: expected {}, found {}",
                fmt_entry_opt(expect),
                fmt_entry_opt(now.as_ref())
            ))
        }
    }

    /// `create_dir_all` of the folders above `path` (and of `path` itself
    /// with `inclusive`). A file in the way is an error.
    fn ensure_dirs(&mut self, side: Side, path: &str, inclusive: bool) -> Result<(), String> {
        let mut chain: Vec<&str> = Vec::new();
        let mut cur = if inclusive { path } else { parent(path) };
        while !cur.is_empty() {
            chain.push(cur);
            cur = parent(cur);
        }
        for dir in chain.into_iter().rev() {
            match self.side(side).items.get(dir) {
                Some(i) if i.kind == Kind::Dir => {}
                Some(_) => return Err(format!("{side} {dir} is a file, a folder is needed")),
                None => {
                    let d = self.new_dir();
                    self.side_mut(side).items.insert(dir.to_string(), d);
                }
            }
        }
        Ok(())
    }

    /// Move `path` and everything below it to the side's trash.
    fn trash(&mut self, side: Side, path: &str) {
        let st = self.side_mut(side);
        let mut keys: Vec<String> = vec![path.to_string()];
        keys.extend(descendants(&st.items, path).map(|(k, _)| k.clone()));
        for k in keys {
            if let Some(i) = st.items.remove(&k) {
                st.trash.push((k, i));
            }
        }
    }

    fn apply_op(&mut self, op: &Op, base0: &BaseTree) -> Result<(), String> {
        match op {
            Op::Move {
                side,
                from,
                to,
                expect,
                aside,
                ..
            } => {
                let side = *side;
                self.check(side, from, Some(expect))?;
                self.check(side, to, None)?;
                if is_within(to, from) {
                    return Err(format!("{to} is inside {from}"));
                }
                self.ensure_dirs(side, to, false)?;
                move_subtree(&mut self.side_mut(side).items, from, to);
                let moved = self.entry(side, &self.side(side).items[to.as_str()]);
                self.record(&base::after_move(
                    side,
                    from,
                    to,
                    *aside,
                    base0.get(from.as_str()),
                    &moved,
                ));
            }
            Op::Delete {
                side,
                path,
                expect,
                contents,
                ..
            } => {
                let side = *side;
                self.check(side, path, Some(expect))?;
                if expect.kind == Kind::Dir {
                    // The executor rescans the folder (without excluded
                    // items) and wants exactly what was planned with.
                    let actual: Vec<(String, Entry)> = descendants(&self.side(side).items, path)
                        .filter(|(k, i)| {
                            self.filter
                                .excluded_path(k, i.kind, size_of(i.content))
                                .is_none()
                        })
                        .map(|(k, i)| (k.clone(), self.entry(side, i)))
                        .collect();
                    let same = actual.len() == contents.len()
                        && actual
                            .iter()
                            .zip(contents)
                            .all(|((ak, ae), (ek, ee))| ak == ek && same_item(ae, ee));
                    if !same {
                        return Err(format!(
                            "{side} folder {path} changed: planned with {:?}, found {:?}",
                            contents.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                            actual.iter().map(|(k, _)| k).collect::<Vec<_>>()
                        ));
                    }
                }
                self.trash(side, path);
                self.record(&base::after_delete(path));
            }
            Op::MakeDir {
                side, path, source, ..
            } => {
                let side = *side;
                self.ensure_dirs(side, path, true)?;
                let made = self.entry(side, &self.side(side).items[path.as_str()]);
                self.record(&base::after_make_dir(side, path, source, &made));
            }
            Op::Transfer {
                to,
                path,
                source,
                replace,
                backup,
                ..
            } => {
                let to = *to;
                let from = to.other();
                // The source is read at the same path on the other side.
                self.check(from, path, Some(source))?;
                let src = self.side(from).items[path.as_str()].clone();
                if src.kind != Kind::File {
                    return Err(format!("{from} {path} is not a file"));
                }
                self.ensure_dirs(to, path, false)?;
                self.check(to, path, replace.as_ref())?;
                if *backup && replace.is_some() {
                    self.trash(to, path);
                }
                let written = Item {
                    kind: Kind::File,
                    content: src.content,
                    version: src.version,
                    id: self.fresh_id(),
                    mtime: source.mtime,
                };
                let w = self.entry(to, &written);
                self.side_mut(to).items.insert(path.clone(), written);
                let hash = hash_of(src.content);
                self.record(&base::after_transfer(to, path, source, &w, hash));
            }
            Op::Adopt {
                path,
                local,
                remote,
            } => self.record(&base::after_adopt(path, local, remote)),
            Op::Forget { path } => self.record(&base::after_forget(path)),
        }
        Ok(())
    }

    /// What the journal does with an op's outcome.
    fn record(&mut self, changes: &[BaseChange]) {
        base::apply(&mut self.base, changes);
    }

    // ---------------------------------------------------------------
    // Building a synchronization and changing it as a user would
    // ---------------------------------------------------------------

    /// Make both sides hold `items` (path -> None for a folder, Some(content)
    /// for a file), in sync: the base records both, as after a transfer
    /// (excluded items are on both sides, each side's own, without a
    /// record). Missing parent folders are added.
    pub fn start_in_sync<'a>(&mut self, items: impl IntoIterator<Item = (&'a str, Option<u64>)>) {
        let mut wanted: BTreeMap<String, Option<u64>> = BTreeMap::new();
        for (p, c) in items {
            let mut cur = parent(p);
            while !cur.is_empty() {
                wanted.entry(cur.to_string()).or_insert(None);
                cur = parent(cur);
            }
            wanted.insert(p.to_string(), c);
        }
        for (p, c) in wanted {
            let (l, r) = match c {
                None => (self.new_dir(), self.new_dir()),
                Some(content) => {
                    let l = self.new_file(content);
                    let r = Item {
                        id: self.fresh_id(),
                        ..l.clone()
                    };
                    (l, r)
                }
            };
            let le = self.entry(Side::Local, &l);
            let re = self.entry(Side::Remote, &r);
            let hash = (l.kind == Kind::File).then(|| hash_of(l.content));
            let b = base::entry(l.kind, &le, &re, hash);
            if self.synced(&p, &l) {
                self.base.insert(p.clone(), b);
            }
            self.local.items.insert(p.clone(), l);
            self.remote.items.insert(p, r);
        }
        self.history.push(format!(
            "start in sync: {}",
            fmt_snapshot(&self.snapshot(Side::Local))
        ));
    }

    /// Remember both sides as they are now: the state before the user's
    /// changes, for [`Model::protected`].
    pub fn begin_changes(&mut self) {
        self.before = Some((self.local.items.clone(), self.remote.items.clone()));
        self.overwritten.clear();
        self.origin.clear();
        self.deleted.clear();
    }

    fn parent_is_dir(&self, side: Side, path: &str) -> bool {
        let p = parent(path);
        p.is_empty()
            || self
                .side(side)
                .items
                .get(p)
                .is_some_and(|i| i.kind == Kind::Dir)
    }

    fn log(&mut self, side: Side, what: String) {
        self.history.push(format!("{side}: {what}"));
    }

    /// Create a file (its folder must exist and the path be free).
    pub fn create_file(&mut self, side: Side, path: &str, content: u64) -> bool {
        if self.side(side).items.contains_key(path) || !self.parent_is_dir(side, path) {
            return false;
        }
        let f = self.new_file(content);
        self.side_mut(side).items.insert(path.to_string(), f);
        self.log(side, format!("create file {path} = {content}"));
        true
    }

    /// Create a folder (its parent must exist and the path be free).
    pub fn create_dir(&mut self, side: Side, path: &str) -> bool {
        if self.side(side).items.contains_key(path) || !self.parent_is_dir(side, path) {
            return false;
        }
        let d = self.new_dir();
        self.side_mut(side).items.insert(path.to_string(), d);
        self.log(side, format!("create folder {path}"));
        true
    }

    /// Write new content to a file: in place (the identity stays) or by an
    /// editor's atomic save (a new identity).
    pub fn modify(&mut self, side: Side, path: &str, content: u64, keep_id: bool) -> bool {
        if !self
            .side(side)
            .items
            .get(path)
            .is_some_and(|i| i.kind == Kind::File)
        {
            return false;
        }
        let version = self.fresh_version();
        let mtime = self.tick();
        let id = if keep_id {
            self.side(side).items[path].id
        } else {
            self.fresh_id()
        };
        let item = self
            .side_mut(side)
            .items
            .get_mut(path)
            .expect("checked above");
        let old = item.version;
        item.content = content;
        item.version = version;
        item.mtime = mtime;
        item.id = id;
        self.overwritten.insert(old);
        let in_sync = self.origin.get(&old).copied().or_else(|| {
            let before = self.before.as_ref().map(|(l, r)| match side {
                Side::Local => l,
                Side::Remote => r,
            })?;
            before
                .values()
                .find(|i| i.kind == Kind::File && i.version == old)
                .map(|i| i.content)
        });
        if let Some(c) = in_sync {
            self.origin.insert(version, c);
        }
        let how = if keep_id { "in place" } else { "atomic save" };
        self.log(side, format!("modify {path} = {content} ({how})"));
        true
    }

    /// A user's deletion of `path` and everything below it (not to a
    /// trash: the user meant it), remembered for [`Model::protected`].
    fn wipe(&mut self, side: Side, path: &str) {
        let st = self.side_mut(side);
        let mut keys: Vec<String> = vec![path.to_string()];
        keys.extend(descendants(&st.items, path).map(|(k, _)| k.clone()));
        let mut gone = Vec::new();
        for k in keys {
            if let Some(i) = st.items.remove(&k) {
                if i.kind == Kind::File {
                    gone.push((side, k, i.version));
                }
            }
        }
        self.deleted.extend(gone);
    }

    /// Delete an item (and everything in it) for good.
    pub fn remove(&mut self, side: Side, path: &str) -> bool {
        if !self.side(side).items.contains_key(path) {
            return false;
        }
        self.wipe(side, path);
        self.log(side, format!("delete {path}"));
        true
    }

    /// Rename or move an item (with everything in it).
    pub fn rename(&mut self, side: Side, from: &str, to: &str) -> bool {
        let st = self.side(side);
        if !st.items.contains_key(from)
            || st.items.contains_key(to)
            || is_within(to, from)
            || !self.parent_is_dir(side, to)
        {
            return false;
        }
        move_subtree(&mut self.side_mut(side).items, from, to);
        self.log(side, format!("move {from} -> {to}"));
        true
    }

    /// Replace a file by a folder holding one new file `path/child`.
    pub fn file_to_dir(&mut self, side: Side, path: &str, child: &str, content: u64) -> bool {
        if !self
            .side(side)
            .items
            .get(path)
            .is_some_and(|i| i.kind == Kind::File)
        {
            return false;
        }
        self.wipe(side, path);
        let d = self.new_dir();
        let f = self.new_file(content);
        let inner = format!("{path}/{child}");
        let st = self.side_mut(side);
        st.items.insert(path.to_string(), d);
        st.items.insert(inner.clone(), f);
        self.log(
            side,
            format!("replace file {path} by a folder with {inner} = {content}"),
        );
        true
    }

    /// Replace a folder (and everything in it) by a file.
    pub fn dir_to_file(&mut self, side: Side, path: &str, content: u64) -> bool {
        if !self
            .side(side)
            .items
            .get(path)
            .is_some_and(|i| i.kind == Kind::Dir)
        {
            return false;
        }
        self.wipe(side, path);
        let f = self.new_file(content);
        self.side_mut(side).items.insert(path.to_string(), f);
        self.log(side, format!("replace folder {path} by a file = {content}"));
        true
    }

    // ---------------------------------------------------------------
    // What the tests assert
    // ---------------------------------------------------------------

    fn synced(&self, path: &str, item: &Item) -> bool {
        self.filter
            .excluded_path(path, item.kind, size_of(item.content))
            .is_none()
    }

    /// Path -> (kind, content) of the synchronized items of a side.
    pub fn snapshot(&self, side: Side) -> Snapshot {
        self.side(side)
            .items
            .iter()
            .filter(|(p, i)| self.synced(p, i))
            .map(|(p, i)| (p.clone(), (i.kind, i.content)))
            .collect()
    }

    /// Folders of a side that the other side has no folder for and that
    /// hold an excluded item (not the system's clutter) and no synchronized
    /// file: excluded items are never deleted because of the other side, so
    /// such a folder stays where it is, is not brought to the other side,
    /// and a mirror does not replace it by the source's file.
    pub fn kept_folders(&self, side: Side) -> BTreeSet<String> {
        let items = &self.side(side).items;
        let other = &self.side(side.other()).items;
        items
            .iter()
            .filter(|(p, i)| {
                i.kind == Kind::Dir
                    && self.synced(p, i)
                    && other.get(*p).is_none_or(|o| o.kind != Kind::Dir)
            })
            .filter(|(p, _)| {
                let inside: Vec<(&String, &Item)> = descendants(items, p).collect();
                let holds = inside.iter().any(|(k, i)| {
                    !self.synced(k, i)
                        && !ferry::engine::filter::disposable(ferry::engine::tree::file_name(k))
                });
                let only_dirs = inside
                    .iter()
                    .all(|(k, i)| !self.synced(k, i) || i.kind == Kind::Dir);
                holds && only_dirs
            })
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// [`Model::snapshot`] without the paths of either side's
    /// [`Model::kept_folders`].
    pub fn snapshot_synced(&self, side: Side) -> Snapshot {
        let kept = self.kept();
        let mut s = self.snapshot(side);
        s.retain(|p, _| !kept.contains(p));
        s
    }

    /// Both sides' [`Model::kept_folders`].
    pub fn kept(&self) -> BTreeSet<String> {
        let mut kept = self.kept_folders(Side::Local);
        kept.extend(self.kept_folders(Side::Remote));
        kept
    }

    /// Both sides hold the same paths, kinds and contents (apart from
    /// folders kept for their excluded items: [`Model::kept_folders`]).
    pub fn check_converged(&self) -> Result<(), String> {
        let l = self.snapshot_synced(Side::Local);
        let r = self.snapshot_synced(Side::Remote);
        if l == r {
            return Ok(());
        }
        let mut msg = String::from("sides differ:\n");
        let keys: BTreeSet<&String> = l.keys().chain(r.keys()).collect();
        for k in keys {
            if l.get(k) != r.get(k) {
                let _ = writeln!(msg, "  {k}: local {:?}, remote {:?}", l.get(k), r.get(k));
            }
        }
        Err(msg)
    }

    /// The base records exactly the synchronized items, with each side's
    /// current signature and, where it has one, the right content hash.
    pub fn check_base(&self) -> Result<(), String> {
        let mut msg = String::new();
        let paths: BTreeSet<&String> = self
            .local
            .items
            .iter()
            .chain(self.remote.items.iter())
            .filter(|(p, i)| self.synced(p, i))
            .map(|(p, _)| p)
            .collect();
        let kept = self.kept();
        for p in &paths {
            let (Some(l), Some(r)) = (self.local.items.get(*p), self.remote.items.get(*p)) else {
                if !kept.contains(*p) {
                    let _ = writeln!(msg, "  {p}: not on both sides");
                }
                continue;
            };
            if kept.contains(*p) && l.kind != r.kind {
                // A mirror's file waits for the folder kept for its
                // excluded items.
                continue;
            }
            let Some(b) = self.base.get(*p) else {
                let _ = writeln!(msg, "  {p}: no base record");
                continue;
            };
            let le = self.entry(Side::Local, l);
            let re = self.entry(Side::Remote, r);
            if b.kind != l.kind || b.kind != r.kind {
                let _ = writeln!(msg, "  {p}: base kind {:?}", b.kind);
            }
            if b.local != le.signature() {
                let _ = writeln!(
                    msg,
                    "  {p}: base local {:?}, local is {:?}",
                    b.local,
                    le.signature()
                );
            }
            if b.remote != re.signature() {
                let _ = writeln!(
                    msg,
                    "  {p}: base remote {:?}, remote is {:?}",
                    b.remote,
                    re.signature()
                );
            }
            if l.kind == Kind::File && b.hash.is_some_and(|h| h != hash_of(l.content)) {
                let _ = writeln!(msg, "  {p}: base hash is not the content's");
            }
        }
        for p in self.base.keys() {
            if !paths.contains(p) {
                let _ = writeln!(msg, "  {p}: base record of nothing synchronized");
            }
        }
        if msg.is_empty() {
            Ok(())
        } else {
            Err(format!("base does not match the sides:\n{msg}"))
        }
    }

    /// The versions that must survive the synchronization: every file
    /// version on either side after the user's changes, except
    ///
    /// * a version the user overwrote: edited (in place or by an atomic
    ///   save), or gone from the side that now has another file where it
    ///   was deleted or where it was in sync (to the planner, as on disk,
    ///   that is an atomic-save edit); its copy on the other side may be
    ///   overwritten without a backup: that is how an edit propagates;
    /// * a version whose bytes are what was in sync at its path: it holds
    ///   nothing new (a touch, an edit undone), and the planner rightly
    ///   treats it as unchanged, so an edit on the other side replaces it.
    ///
    /// A version the user deleted without putting a file in its place is
    /// protected: its copy on the other side must go to a trash.
    pub fn protected(&self) -> BTreeSet<u64> {
        let mut out: BTreeSet<u64> = BTreeSet::new();
        let Some((bl, br)) = &self.before else {
            return self
                .local
                .items
                .values()
                .chain(self.remote.items.values())
                .filter(|i| i.kind == Kind::File)
                .map(|i| i.version)
                .collect();
        };
        for (side, before) in [(Side::Local, bl), (Side::Remote, br)] {
            for (p, i) in &self.side(side).items {
                let in_sync_bytes = before
                    .get(p)
                    .is_some_and(|b| b.kind == Kind::File && b.content == i.content)
                    || self.origin.get(&i.version) == Some(&i.content);
                if i.kind == Kind::File && !in_sync_bytes {
                    out.insert(i.version);
                }
            }
        }
        for v in &self.overwritten {
            out.remove(v);
        }
        // Gone from a side that now has another file where it was deleted,
        // or where it was in sync: on disk that is an (atomic-save) edit.
        let in_sync = [(Side::Local, bl), (Side::Remote, br)]
            .into_iter()
            .flat_map(|(side, before)| {
                before
                    .iter()
                    .filter(|(_, i)| i.kind == Kind::File)
                    .map(move |(p, i)| (side, p.clone(), i.version))
            });
        for (side, p, v) in self.deleted.iter().cloned().chain(in_sync) {
            let now = &self.side(side).items;
            if now.get(&p).is_some_and(|i| i.kind == Kind::File)
                && !now.values().any(|i| i.version == v)
            {
                out.remove(&v);
            }
        }
        out
    }

    /// Every version in `protected` is on a side or in a trash.
    pub fn check_no_loss(&self, protected: &BTreeSet<u64>) -> Result<(), String> {
        let kept: BTreeSet<u64> = [&self.local, &self.remote]
            .into_iter()
            .flat_map(|s| {
                s.items
                    .values()
                    .chain(s.trash.iter().map(|(_, i)| i))
                    .filter(|i| i.kind == Kind::File)
                    .map(|i| i.version)
            })
            .collect();
        let lost: Vec<&u64> = protected.difference(&kept).collect();
        if lost.is_empty() {
            Ok(())
        } else {
            Err(format!("versions lost: {lost:?}"))
        }
    }

    /// Same content on both sides is never a conflict: no conflicted copy
    /// holds what its original holds.
    pub fn check_no_needless_conflicts(&self) -> Result<(), String> {
        let tree = self.snapshot(Side::Local);
        for (path, (kind, content)) in &tree {
            let Some(original) = original_of_copy(path) else {
                continue;
            };
            if *kind == Kind::File && tree.get(&original) == Some(&(Kind::File, *content)) {
                return Err(format!(
                    "{path} is a conflicted copy of {original} with the same content {content}"
                ));
            }
        }
        Ok(())
    }

    /// No op was skipped because its precondition failed.
    pub fn check_no_skips(&self) -> Result<(), String> {
        if self.skipped.is_empty() {
            Ok(())
        } else {
            Err(format!("ops skipped:\n  {}", self.skipped.join("\n  ")))
        }
    }

    /// Where a version is: "local a.txt", "remote trash a.txt", ...
    pub fn whereabouts(&self, version: u64) -> Vec<String> {
        let mut out = Vec::new();
        for side in [Side::Local, Side::Remote] {
            let st = self.side(side);
            for (p, i) in &st.items {
                if i.kind == Kind::File && i.version == version {
                    out.push(format!("{side} {p}"));
                }
            }
            for (p, i) in &st.trash {
                if i.kind == Kind::File && i.version == version {
                    out.push(format!("{side} trash {p}"));
                }
            }
        }
        out
    }

    /// The contents in a side's trash.
    pub fn trash_contents(&self, side: Side) -> Vec<u64> {
        self.side(side)
            .trash
            .iter()
            .filter(|(_, i)| i.kind == Kind::File)
            .map(|(_, i)| i.content)
            .collect()
    }

    /// Both sides, the base and the history, for failure messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "settings: {:?}, flavor: {:?}",
            self.settings, self.flavor
        );
        let _ = writeln!(s, "history:");
        for h in &self.history {
            let _ = writeln!(s, "  {h}");
        }
        for side in [Side::Local, Side::Remote] {
            let st = self.side(side);
            let _ = writeln!(s, "{side}:");
            for (p, i) in &st.items {
                let _ = writeln!(s, "  {}", fmt_item(p, i));
            }
            if !st.trash.is_empty() {
                let _ = writeln!(s, "{side} trash:");
                for (p, i) in &st.trash {
                    let _ = writeln!(s, "  {}", fmt_item(p, i));
                }
            }
        }
        let _ = writeln!(s, "base:");
        for (p, b) in &self.base {
            let _ = writeln!(
                s,
                "  {p} {:?} local(id {} mtime {}) remote(id {} mtime {}) hash {}",
                b.kind,
                b.local.id.as_deref().unwrap_or("-"),
                b.local.mtime % 1_000_000_000_000,
                b.remote.id.as_deref().unwrap_or("-"),
                b.remote.mtime % 1_000_000_000_000,
                b.hash.map_or("-".to_string(), |h| u64::from_le_bytes(
                    h[..8].try_into().expect("8 bytes")
                )
                .to_string())
            );
        }
        s
    }
}

/// The path a conflicted copy was made from: `d/a (conflicted copy
/// 2026-11-22 101500 2).txt` -> `d/a.txt`.
pub fn original_of_copy(path: &str) -> Option<String> {
    let marker = format!(" (conflicted copy {STAMP}");
    let i = path.rfind(&marker)?;
    let rest = &path[i + marker.len()..];
    let close = rest.find(')')?;
    let ext = &rest[close + 1..];
    if ext.contains('/') {
        // A copy's name is one segment; this is something inside a folder
        // that merely looks like one.
        return None;
    }
    Some(format!("{}{ext}", &path[..i]))
}

/// Same item, unchanged: what `fsops::same_item` checks before acting.
pub fn same_item(a: &Entry, b: &Entry) -> bool {
    a.kind == b.kind
        && a.id == b.id
        && (a.kind == Kind::Dir || (a.size == b.size && a.mtime == b.mtime))
}

/// Move the item at `from` and everything below it to `to`.
fn move_subtree<V>(tree: &mut BTreeMap<String, V>, from: &str, to: &str) {
    let mut keys: Vec<String> = vec![from.to_string()];
    keys.extend(descendants(tree, from).map(|(k, _)| k.clone()));
    let moved: Vec<(String, V)> = keys
        .into_iter()
        .filter_map(|k| tree.remove(&k).map(|v| (rebase(&k, from, to), v)))
        .collect();
    tree.extend(moved);
}

fn fmt_item(p: &str, i: &Item) -> String {
    match i.kind {
        Kind::Dir => format!("{p}/ (id {})", i.id),
        Kind::File => format!(
            "{p} = {} (v{}, id {}, t{})",
            i.content,
            i.version,
            i.id,
            i.mtime % 1_000_000_000_000 / 1_000_000_000
        ),
    }
}

fn fmt_entry_opt(e: Option<&Entry>) -> String {
    match e {
        None => "nothing".into(),
        Some(e) => format!(
            "{:?} id {} size {} mtime {}",
            e.kind,
            e.id.as_deref().unwrap_or("-"),
            e.size,
            e.mtime % 1_000_000_000_000 / 1_000_000_000
        ),
    }
}

/// A one-line view of an op.
pub fn fmt_op(op: &Op) -> String {
    match op {
        Op::Move {
            side,
            from,
            to,
            aside,
            ..
        } => format!(
            "move {side} {from} -> {to}{}",
            if *aside { " (aside)" } else { "" }
        ),
        Op::Delete {
            side,
            path,
            contents,
            reason,
            ..
        } => format!(
            "delete {side} {path} (+{} inside) {reason:?}",
            contents.len()
        ),
        Op::MakeDir { side, path, .. } => format!("mkdir {side} {path}"),
        Op::Transfer {
            to,
            path,
            replace,
            backup,
            ..
        } => format!(
            "transfer to {to} {path}{}{}",
            if replace.is_some() { " (replace)" } else { "" },
            if *backup { " (backup)" } else { "" }
        ),
        Op::Adopt { path, .. } => format!("adopt {path}"),
        Op::Forget { path } => format!("forget {path}"),
    }
}

pub fn fmt_plan(plan: &Plan) -> String {
    plan.ops
        .iter()
        .map(|op| format!("  {}\n", fmt_op(op)))
        .collect()
}

pub fn fmt_snapshot(s: &Snapshot) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|(p, (k, c))| match k {
            Kind::Dir => format!("{p}/"),
            Kind::File => format!("{p}={c}"),
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}
