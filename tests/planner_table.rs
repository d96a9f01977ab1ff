//! Table-driven tests of the planner: every (local change × remote change)
//! pair on a small tree, for every direction and conflict policy, run
//! through the in-memory model of `tests/common/model.rs` until quiet.
//!
//! Each cell must converge within 4 passes, leave a base that matches both
//! sides, end with an empty plan, skip no op and lose no content; the
//! important cells also have their exact outcome checked.

#[path = "common/model.rs"]
mod model;

use std::collections::BTreeSet;

use ferry::engine::guard::{Limit, Stop};
use ferry::engine::{
    ConflictPolicy, Direction, Filter, Kind, NewFolders, Op, Plan, Side, UserFilter,
};
use model::{Model, STAMP, Snapshot, fmt_plan, fmt_snapshot};

const DIRECTIONS: [Direction; 3] = [Direction::Both, Direction::Send, Direction::Receive];
const POLICIES: [ConflictPolicy; 4] = [
    ConflictPolicy::KeepBoth,
    ConflictPolicy::Local,
    ConflictPolicy::Remote,
    ConflictPolicy::Newest,
];

/// The tree both sides start with, in sync.
const BASE: &[(&str, Option<u64>)] = &[
    ("a.txt", Some(10)),
    ("d", None),
    ("d/x.txt", Some(11)),
    ("d/y.txt", Some(12)),
    ("k", None),
    ("k/z.txt", Some(13)),
    ("keep.txt", Some(14)),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Unchanged,
    Created,
    Modified,
    Deleted,
    Moved,
    /// A file replaced by a folder holding a file (or a folder by a file).
    KindChanged,
    /// A file written again with the same bytes (new mtime; in place on
    /// the local side, an atomic save with a new identity on the remote).
    Touched,
}

const CHANGES: [Change; 7] = [
    Change::Unchanged,
    Change::Created,
    Change::Modified,
    Change::Deleted,
    Change::Moved,
    Change::KindChanged,
    Change::Touched,
];

/// What the changes act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Subject {
    /// The file `a.txt`.
    File,
    /// The folder `d` (with `d/x.txt`, `d/y.txt`).
    Folder,
}

/// Content a side writes: the local side's and the remote side's differ
/// but have the same size (so only a hash tells them apart).
fn content(side: Side, base: u64) -> u64 {
    match side {
        Side::Local => base,
        Side::Remote => base + 3,
    }
}

fn apply_change(m: &mut Model, side: Side, subject: Subject, change: Change) {
    let done = match (subject, change) {
        (_, Change::Unchanged) => true,
        (Subject::File, Change::Created) => m.create_file(side, "n.txt", content(side, 21)),
        (Subject::File, Change::Modified) => m.modify(side, "a.txt", content(side, 31), true),
        (Subject::File, Change::Deleted) => m.remove(side, "a.txt"),
        (Subject::File, Change::Moved) => match side {
            Side::Local => m.rename(side, "a.txt", "d/a.txt"),
            Side::Remote => m.rename(side, "a.txt", "b.txt"),
        },
        (Subject::File, Change::KindChanged) => {
            m.file_to_dir(side, "a.txt", "inner", content(side, 41))
        }
        (Subject::File, Change::Touched) => m.modify(side, "a.txt", 10, side == Side::Local),
        (Subject::Folder, Change::Touched) => m.modify(side, "d/x.txt", 11, side == Side::Local),
        (Subject::Folder, Change::Created) => {
            m.create_dir(side, "n") && m.create_file(side, "n/f.txt", content(side, 21))
        }
        (Subject::Folder, Change::Modified) => m.modify(side, "d/x.txt", content(side, 31), true),
        (Subject::Folder, Change::Deleted) => m.remove(side, "d"),
        (Subject::Folder, Change::Moved) => match side {
            Side::Local => m.rename(side, "d", "e"),
            Side::Remote => m.rename(side, "d", "k/d"),
        },
        (Subject::Folder, Change::KindChanged) => m.dir_to_file(side, "d", content(side, 41)),
    };
    assert!(done, "{side} {subject:?} {change:?} could not be applied");
}

fn copy_name(stem: &str, ext: &str) -> String {
    format!("{stem} (conflicted copy {STAMP}){ext}")
}

/// The base tree with some paths removed and some set.
fn tree(remove: &[&str], set: &[(&str, Option<u64>)]) -> Snapshot {
    let mut s: Snapshot = BASE
        .iter()
        .map(|(p, c)| {
            let k = if c.is_some() { Kind::File } else { Kind::Dir };
            (p.to_string(), (k, c.unwrap_or(0)))
        })
        .collect();
    for r in remove {
        s.retain(|p, _| p != r && !p.starts_with(&format!("{r}/")));
    }
    for (p, c) in set {
        let k = if c.is_some() { Kind::File } else { Kind::Dir };
        s.insert(p.to_string(), (k, c.unwrap_or(0)));
    }
    s
}

struct Cell {
    subject: Subject,
    local: Change,
    remote: Change,
    direction: Direction,
    policy: ConflictPolicy,
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}: local {:?} x remote {:?}, {:?}/{:?}",
            self.subject, self.local, self.remote, self.direction, self.policy
        )
    }
}

/// What a cell left behind, for its specific checks.
struct Outcome {
    model: Model,
    plans: Vec<Plan>,
    /// Both sides just after the changes.
    local_after: Snapshot,
    remote_after: Snapshot,
}

impl Outcome {
    fn final_tree(&self) -> Snapshot {
        self.model.snapshot(Side::Local)
    }

    fn first_ops(&self) -> &[Op] {
        self.plans.first().map_or(&[], |p| p.ops.as_slice())
    }

    fn expect_tree(&self, want: &Snapshot) -> Result<(), String> {
        let got = self.final_tree();
        if &got == want {
            Ok(())
        } else {
            Err(format!(
                "final tree\n    {}\nwanted\n    {}",
                fmt_snapshot(&got),
                fmt_snapshot(want)
            ))
        }
    }

    fn expect_in_trash(&self, side: Side, content: u64) -> Result<(), String> {
        if self.model.trash_contents(side).contains(&content) {
            Ok(())
        } else {
            Err(format!(
                "{side} trash {:?} lacks content {content}",
                self.model.trash_contents(side)
            ))
        }
    }

    fn expect_trash_empty(&self) -> Result<(), String> {
        for side in [Side::Local, Side::Remote] {
            if !self.model.side(side).trash.is_empty() {
                return Err(format!(
                    "{side} trash is not empty: {:?}",
                    self.model.trash_contents(side)
                ));
            }
        }
        Ok(())
    }
}

/// Run one cell and check the invariants every cell must keep.
fn run_cell(cell: &Cell) -> Result<Outcome, String> {
    let mut m = Model::with(cell.direction, cell.policy);
    m.start_in_sync(BASE.iter().copied());
    m.begin_changes();
    apply_change(&mut m, Side::Local, cell.subject, cell.local);
    apply_change(&mut m, Side::Remote, cell.subject, cell.remote);
    let protected = m.protected();
    let local_after = m.snapshot(Side::Local);
    let remote_after = m.snapshot(Side::Remote);
    let plans = m.run_until_quiet(4)?;
    m.check_no_skips()?;
    m.check_converged()?;
    m.check_base()?;
    m.check_no_needless_conflicts()?;
    let next = m.plan_now();
    if !next.is_quiet() {
        return Err(format!("a further plan is not empty:\n{}", fmt_plan(&next)));
    }
    m.check_no_loss(&protected)?;
    match cell.direction {
        Direction::Both => {}
        Direction::Send => {
            if m.snapshot(Side::Local) != local_after {
                return Err("send mirror changed the local side".into());
            }
        }
        Direction::Receive => {
            if m.snapshot(Side::Remote) != remote_after {
                return Err("receive mirror changed the remote side".into());
            }
        }
    }
    Ok(Outcome {
        model: m,
        plans,
        local_after,
        remote_after,
    })
}

/// The specific outcome of a cell, where one is worth pinning.
fn check_cell(cell: &Cell, o: &Outcome) -> Result<(), String> {
    use Change::*;
    use Subject::*;
    // A touch is not an edit: it is recorded, never transferred.
    if matches!(
        (cell.local, cell.remote),
        (Touched, Unchanged | Touched) | (Unchanged, Touched)
    ) {
        let ops: Vec<&Op> = o.plans.iter().flat_map(|p| &p.ops).collect();
        if !ops.iter().all(|op| matches!(op, Op::Adopt { .. })) {
            return Err(format!(
                "a touched file must only be adopted, got:\n{}",
                o.plans.iter().map(fmt_plan).collect::<String>()
            ));
        }
    }
    // A rename on the side whose changes flow is replayed on the other:
    // one move, no transfer (in a mirror too, when the source moved).
    let source_moved = match cell.direction {
        Direction::Both => true,
        Direction::Send => cell.local == Moved,
        Direction::Receive => cell.remote == Moved,
    };
    if source_moved {
        match (cell.subject, cell.local, cell.remote) {
            (File, Moved, Unchanged) => expect_one_move(o, Side::Remote, "a.txt", "d/a.txt")?,
            (File, Unchanged, Moved) => expect_one_move(o, Side::Local, "a.txt", "b.txt")?,
            (Folder, Moved, Unchanged) => expect_one_move(o, Side::Remote, "d", "e")?,
            (Folder, Unchanged, Moved) => expect_one_move(o, Side::Local, "d", "k/d")?,
            _ => {}
        }
    }
    // Mirrors: the target ends exactly equal to the source.
    match cell.direction {
        Direction::Send => return o.expect_tree(&o.local_after),
        Direction::Receive => return o.expect_tree(&o.remote_after),
        Direction::Both => {}
    }
    // Two-way, one side unchanged: the other side's state wins as it is.
    if cell.remote == Unchanged {
        o.expect_tree(&o.local_after)?;
    }
    if cell.local == Unchanged {
        o.expect_tree(&o.remote_after)?;
    }
    if (cell.local, cell.remote) == (Unchanged, Unchanged) && !o.plans.is_empty() {
        return Err("nothing changed, yet there were ops".into());
    }
    let policy = cell.policy;
    match (cell.subject, cell.local, cell.remote) {
        // A touch against an edit: the edit wins, no conflict.
        (File, Touched, Modified) | (File, Modified, Touched) => {
            let c = if cell.local == Modified {
                content(Side::Local, 31)
            } else {
                content(Side::Remote, 31)
            };
            o.expect_tree(&tree(&[], &[("a.txt", Some(c))]))?;
            o.expect_trash_empty()?;
        }
        (Folder, Touched, Modified) | (Folder, Modified, Touched) => {
            let c = if cell.local == Modified {
                content(Side::Local, 31)
            } else {
                content(Side::Remote, 31)
            };
            o.expect_tree(&tree(&[], &[("d/x.txt", Some(c))]))?;
            o.expect_trash_empty()?;
        }
        // Both edited the same file.
        (File, Modified, Modified) | (Folder, Modified, Modified) => {
            let (path, stem) = match cell.subject {
                File => ("a.txt", "a"),
                Folder => ("d/x.txt", "d/x"),
            };
            let (lc, rc) = (content(Side::Local, 31), content(Side::Remote, 31));
            expect_conflict(o, policy, path, &copy_name(stem, ".txt"), lc, rc)?;
        }
        (File, Created, Created) => {
            let (lc, rc) = (content(Side::Local, 21), content(Side::Remote, 21));
            expect_conflict(o, policy, "n.txt", &copy_name("n", ".txt"), lc, rc)?;
        }
        (Folder, Created, Created) => {
            let (lc, rc) = (content(Side::Local, 21), content(Side::Remote, 21));
            expect_conflict(o, policy, "n/f.txt", &copy_name("n/f", ".txt"), lc, rc)?;
        }
        // An edit beats a deletion.
        (File, Deleted, Modified) | (File, Modified, Deleted) => {
            let c = if cell.local == Modified {
                content(Side::Local, 31)
            } else {
                content(Side::Remote, 31)
            };
            o.expect_tree(&tree(&[], &[("a.txt", Some(c))]))?;
            o.expect_trash_empty()?;
        }
        (Folder, Deleted, Modified) | (Folder, Modified, Deleted) => {
            // The edited file survives with its folder; the rest of the
            // folder is deleted (to the trash).
            let (c, trash_side) = if cell.local == Modified {
                (content(Side::Local, 31), Side::Local)
            } else {
                (content(Side::Remote, 31), Side::Remote)
            };
            o.expect_tree(&tree(&["d"], &[("d", None), ("d/x.txt", Some(c))]))?;
            o.expect_in_trash(trash_side, 12)?;
        }
        // Both deleted: gone, nothing trashed.
        (File, Deleted, Deleted) => {
            o.expect_tree(&tree(&["a.txt"], &[]))?;
            o.expect_trash_empty()?;
        }
        (Folder, Deleted, Deleted) => {
            o.expect_tree(&tree(&["d"], &[]))?;
            o.expect_trash_empty()?;
        }
        // A deletion propagates to the trash of the other side.
        (File, Deleted, Unchanged) => o.expect_in_trash(Side::Remote, 10)?,
        (File, Unchanged, Deleted) => o.expect_in_trash(Side::Local, 10)?,
        (Folder, Deleted, Unchanged) => {
            o.expect_in_trash(Side::Remote, 11)?;
            o.expect_in_trash(Side::Remote, 12)?;
        }
        (Folder, Unchanged, Deleted) => {
            o.expect_in_trash(Side::Local, 11)?;
            o.expect_in_trash(Side::Local, 12)?;
        }
        // A file replaced by a folder: the old file goes to the trash.
        (File, KindChanged, Unchanged) => o.expect_in_trash(Side::Remote, 10)?,
        (File, Unchanged, KindChanged) => o.expect_in_trash(Side::Local, 10)?,
        // Move and edit: the edit ends at the new place.
        (File, Moved, Modified) => {
            o.expect_tree(&tree(
                &["a.txt"],
                &[("d/a.txt", Some(content(Side::Remote, 31)))],
            ))?;
        }
        (File, Modified, Moved) => {
            o.expect_tree(&tree(
                &["a.txt"],
                &[("b.txt", Some(content(Side::Local, 31)))],
            ))?;
        }
        (Folder, Moved, Modified) => {
            o.expect_tree(&tree(
                &["d"],
                &[
                    ("e", None),
                    ("e/x.txt", Some(content(Side::Remote, 31))),
                    ("e/y.txt", Some(12)),
                ],
            ))?;
        }
        (Folder, Modified, Moved) => {
            o.expect_tree(&tree(
                &["d"],
                &[
                    ("k/d", None),
                    ("k/d/x.txt", Some(content(Side::Local, 31))),
                    ("k/d/y.txt", Some(12)),
                ],
            ))?;
        }
        // A move beats a deletion: the moved item is kept.
        (File, Moved, Deleted) => {
            o.expect_tree(&tree(&["a.txt"], &[("d/a.txt", Some(10))]))?;
        }
        (File, Deleted, Moved) => {
            o.expect_tree(&tree(&["a.txt"], &[("b.txt", Some(10))]))?;
        }
        // A file edited on one side, replaced by a folder on the other: the
        // folder keeps the name, the edited file becomes a conflicted copy.
        (File, KindChanged, Modified) | (File, Modified, KindChanged) => {
            let (inner, edited) = if cell.local == KindChanged {
                (content(Side::Local, 41), content(Side::Remote, 31))
            } else {
                (content(Side::Remote, 41), content(Side::Local, 31))
            };
            o.expect_tree(&tree(
                &["a.txt"],
                &[
                    ("a.txt", None),
                    ("a.txt/inner", Some(inner)),
                    (&copy_name("a", ".txt"), Some(edited)),
                ],
            ))?;
        }
        // A folder replaced by a file on one side, a file in it edited on
        // the other: the folder stays with the edit, the file becomes a
        // conflicted copy, the rest of the folder goes to the trash.
        (Folder, KindChanged, Modified) | (Folder, Modified, KindChanged) => {
            let (file, edited, trash_side) = if cell.local == KindChanged {
                (
                    content(Side::Local, 41),
                    content(Side::Remote, 31),
                    Side::Remote,
                )
            } else {
                (
                    content(Side::Remote, 41),
                    content(Side::Local, 31),
                    Side::Local,
                )
            };
            o.expect_tree(&tree(
                &["d"],
                &[
                    ("d", None),
                    ("d/x.txt", Some(edited)),
                    (&copy_name("d", ""), Some(file)),
                ],
            ))?;
            o.expect_in_trash(trash_side, 12)?;
        }
        _ => {}
    }
    Ok(())
}

/// The first plan replays a rename with exactly one move and no transfer.
fn expect_one_move(o: &Outcome, side: Side, from: &str, to: &str) -> Result<(), String> {
    let ops = o.first_ops();
    let moves: Vec<&Op> = ops
        .iter()
        .filter(|op| matches!(op, Op::Move { .. }))
        .collect();
    let transfers = ops
        .iter()
        .filter(|op| matches!(op, Op::Transfer { .. }))
        .count();
    let ok = moves.len() == 1
        && transfers == 0
        && matches!(moves[0], Op::Move { side: s, from: f, to: t, aside: false, .. }
            if *s == side && f == from && t == to);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "wanted one move {side} {from} -> {to} and no transfer, got:\n{}",
            fmt_plan(o.plans.first().unwrap_or(&Plan::default()))
        ))
    }
}

/// Both sides wrote different content to `path`; what is kept depends on
/// the policy (the remote side changed last, so it is the newest).
fn expect_conflict(
    o: &Outcome,
    policy: ConflictPolicy,
    path: &str,
    copy: &str,
    local: u64,
    remote: u64,
) -> Result<(), String> {
    let got = o.final_tree();
    let at = |p: &str| got.get(p).map(|(_, c)| *c);
    match policy {
        ConflictPolicy::KeepBoth => {
            if at(path) != Some(remote) || at(copy) != Some(local) {
                return Err(format!(
                    "keep both: wanted {path}={remote} and {copy}={local}, got {}",
                    fmt_snapshot(&got)
                ));
            }
            o.expect_trash_empty()?;
        }
        ConflictPolicy::Local => {
            if at(path) != Some(local) || got.contains_key(copy) {
                return Err(format!(
                    "local wins: wanted {path}={local}, got {}",
                    fmt_snapshot(&got)
                ));
            }
            o.expect_in_trash(Side::Remote, remote)?;
        }
        ConflictPolicy::Remote | ConflictPolicy::Newest => {
            if at(path) != Some(remote) || got.contains_key(copy) {
                return Err(format!(
                    "remote wins: wanted {path}={remote}, got {}",
                    fmt_snapshot(&got)
                ));
            }
            o.expect_in_trash(Side::Local, local)?;
        }
    }
    Ok(())
}

#[test]
fn every_pair_of_changes_converges_without_loss() {
    let mut failures = Vec::new();
    let mut cells = 0;
    for subject in [Subject::File, Subject::Folder] {
        for local in CHANGES {
            for remote in CHANGES {
                for direction in DIRECTIONS {
                    for policy in POLICIES {
                        let cell = Cell {
                            subject,
                            local,
                            remote,
                            direction,
                            policy,
                        };
                        cells += 1;
                        let result = run_cell(&cell).and_then(|o| {
                            check_cell(&cell, &o)
                                .map_err(|e| format!("{e}\n{}", o.model.describe()))
                        });
                        if let Err(e) = result {
                            failures.push(format!("{cell}: {e}"));
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cells, 2 * 7 * 7 * 3 * 4);
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Keep both, op by op: the local version is moved aside to a conflicted
/// copy and uploaded under that name, the server's version downloaded.
#[test]
fn keep_both_moves_the_local_version_aside() {
    let cell = Cell {
        subject: Subject::File,
        local: Change::Modified,
        remote: Change::Modified,
        direction: Direction::Both,
        policy: ConflictPolicy::KeepBoth,
    };
    let o = run_cell(&cell).unwrap_or_else(|e| panic!("{cell}: {e}"));
    let ops: Vec<String> = o.first_ops().iter().map(model::fmt_op).collect();
    let copy = copy_name("a", ".txt");
    assert_eq!(
        ops,
        [
            format!("move local a.txt -> {copy} (aside)"),
            format!("transfer to remote {copy}"),
            "transfer to local a.txt".to_string(),
        ],
        "{}",
        o.model.describe()
    );
}

fn big_folder(direction: Direction, side: Side) {
    let mut m = Model::with(direction, ConflictPolicy::KeepBoth);
    let files: Vec<String> = (0..1000).map(|i| format!("photos/img{i:04}.jpg")).collect();
    m.start_in_sync(
        files
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), Some(100 + i as u64)))
            .chain([("other.txt", Some(7))]),
    );
    m.begin_changes();
    assert!(m.rename(side, "photos", "pictures"));
    let protected = m.protected();
    let plan = m.pass();
    let moves = plan
        .ops
        .iter()
        .filter(|op| matches!(op, Op::Move { .. }))
        .count();
    let transfers = plan
        .ops
        .iter()
        .filter(|op| matches!(op, Op::Transfer { .. }))
        .count();
    assert_eq!(
        (plan.ops.len(), moves, transfers),
        (1, 1, 0),
        "{direction:?}: {}",
        fmt_plan(&plan)
    );
    assert!(matches!(&plan.ops[0], Op::Move { side: s, from, to, .. }
            if *s == side.other() && from == "photos" && to == "pictures"));
    assert_eq!(plan.deletions(), 0);
    m.check_no_skips().unwrap();
    m.check_converged().unwrap();
    m.check_base().unwrap();
    assert!(m.plan_now().is_quiet(), "{}", fmt_plan(&m.plan_now()));
    m.check_no_loss(&protected).unwrap();
    assert_eq!(m.snapshot(Side::Local).len(), 1002);
}

#[test]
fn renaming_a_folder_of_1000_files_is_one_move() {
    big_folder(Direction::Both, Side::Local);
    big_folder(Direction::Both, Side::Remote);
    big_folder(Direction::Send, Side::Local);
    big_folder(Direction::Receive, Side::Remote);
}

#[test]
fn identical_files_created_on_both_sides_are_adopted() {
    for policy in POLICIES {
        let mut m = Model::with(Direction::Both, policy);
        m.start_in_sync(BASE.iter().copied());
        m.create_file(Side::Local, "same.txt", 50);
        m.create_file(Side::Remote, "same.txt", 50);
        m.create_dir(Side::Local, "newdir");
        m.create_dir(Side::Remote, "newdir");
        m.create_file(Side::Local, "newdir/empty", model::EMPTY);
        m.create_file(Side::Remote, "newdir/empty", model::EMPTY);
        let plan = m.pass();
        // Both were hashed to find out they are equal.
        assert!(
            m.last_hash_requests
                .contains(&(Side::Local, "same.txt".to_string()))
                && m.last_hash_requests
                    .contains(&(Side::Remote, "same.txt".to_string())),
            "{:?}",
            m.last_hash_requests
        );
        let ops: Vec<String> = plan.ops.iter().map(model::fmt_op).collect();
        assert_eq!(
            ops,
            ["adopt newdir", "adopt newdir/empty", "adopt same.txt"],
            "{policy:?}"
        );
        m.check_base().unwrap();
        assert!(m.plan_now().is_quiet());
        assert!(m.local.trash.is_empty() && m.remote.trash.is_empty());
    }
}

/// Give `path` the same modification time on both sides.
fn same_time(m: &mut Model, path: &str, mtime: i64) {
    for side in [Side::Local, Side::Remote] {
        m.side_mut(side).items.get_mut(path).unwrap().mtime = mtime;
    }
}

#[test]
fn files_met_on_both_sides_with_equal_size_and_time_are_adopted_unread_where_the_remote_keeps_times()
 {
    for direction in DIRECTIONS {
        for policy in POLICIES {
            let mut m = Model::with(direction, policy);
            m.settings.times_kept = true;
            m.start_in_sync(BASE.iter().copied());
            m.create_file(Side::Local, "same.txt", 50);
            m.create_file(Side::Remote, "same.txt", 50);
            same_time(&mut m, "same.txt", 1_700_000_100_000_000_000);
            // The server's time has whole seconds; the local one is finer.
            m.create_file(Side::Local, "fine.txt", 60);
            m.create_file(Side::Remote, "fine.txt", 60);
            same_time(&mut m, "fine.txt", 1_700_000_200_000_000_000);
            m.side_mut(Side::Local)
                .items
                .get_mut("fine.txt")
                .unwrap()
                .mtime += 123_456_789;
            let plan = m.pass();
            assert!(
                m.last_hash_requests.is_empty(),
                "{direction:?} {policy:?}: {:?}",
                m.last_hash_requests
            );
            let ops: Vec<String> = plan.ops.iter().map(model::fmt_op).collect();
            assert_eq!(
                ops,
                ["adopt fine.txt", "adopt same.txt"],
                "{direction:?} {policy:?}"
            );
            m.check_base().unwrap();
            assert!(m.plan_now().is_quiet());
        }
    }
}

#[test]
fn files_met_on_both_sides_are_read_unless_fast_mode_trusts_the_remotes_times_and_they_match() {
    use ferry::engine::CompareMode;
    // (times kept, secure mode, a second apart)
    for (kept, secure, apart) in [
        (false, false, false),
        (true, true, false),
        (true, false, true),
    ] {
        let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
        m.settings.times_kept = kept;
        if secure {
            m.settings.compare = CompareMode::Secure;
        }
        m.start_in_sync(BASE.iter().copied());
        m.create_file(Side::Local, "same.txt", 50);
        m.create_file(Side::Remote, "same.txt", 50);
        same_time(&mut m, "same.txt", 1_700_000_100_000_000_000);
        if apart {
            m.side_mut(Side::Remote)
                .items
                .get_mut("same.txt")
                .unwrap()
                .mtime += 1_000_000_000;
        }
        m.pass();
        let case = format!("kept {kept}, secure {secure}, a second apart {apart}");
        assert!(
            m.last_hash_requests
                .contains(&(Side::Local, "same.txt".to_string()))
                && m.last_hash_requests
                    .contains(&(Side::Remote, "same.txt".to_string())),
            "{case}: {:?}",
            m.last_hash_requests
        );
        m.check_base().unwrap();
    }
}

#[test]
fn an_edit_on_both_sides_with_equal_size_and_time_is_still_compared_by_content() {
    // Equal times only ever stand for equal content at a first meeting;
    // two edits of a file in sync are compared by content.
    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.settings.times_kept = true;
    m.start_in_sync(BASE.iter().copied());
    m.begin_changes();
    assert_eq!(model::size_of(51), model::size_of(54));
    m.modify(Side::Local, "a.txt", 51, true);
    m.modify(Side::Remote, "a.txt", 54, true);
    same_time(&mut m, "a.txt", 1_700_000_300_000_000_000);
    m.run_until_quiet(4).unwrap();
    m.check_converged().unwrap();
    let s = m.snapshot(Side::Local);
    assert_eq!(s.get("a.txt"), Some(&(Kind::File, 54)));
    assert_eq!(s.get(&copy_name("a", ".txt")), Some(&(Kind::File, 51)));
}

#[test]
fn same_size_different_content_is_a_conflict_not_an_adoption() {
    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.start_in_sync(BASE.iter().copied());
    // 51 and 54 have the same size.
    assert_eq!(model::size_of(51), model::size_of(54));
    m.create_file(Side::Local, "n.txt", 51);
    m.create_file(Side::Remote, "n.txt", 54);
    m.run_until_quiet(4).unwrap();
    m.check_converged().unwrap();
    let s = m.snapshot(Side::Local);
    assert_eq!(s.get("n.txt"), Some(&(Kind::File, 54)));
    assert_eq!(s.get(&copy_name("n", ".txt")), Some(&(Kind::File, 51)));
}

#[test]
fn excluded_names_never_produce_ops_and_are_reported() {
    for direction in DIRECTIONS {
        let mut m = Model::with(direction, ConflictPolicy::KeepBoth);
        m.start_in_sync(BASE.iter().copied());
        m.create_file(Side::Local, ".hidden", 60);
        m.create_file(Side::Remote, "x.tmp", 61);
        m.create_file(Side::Local, "~lock", 62);
        m.create_file(Side::Remote, "d/~lock", 63);
        m.create_dir(Side::Local, ".git");
        m.create_file(Side::Local, ".git/config", 64);
        m.create_file(Side::Local, "d/ok.txt", 65);
        let excluded = [
            ".hidden",
            "x.tmp",
            "~lock",
            "d/~lock",
            ".git",
            ".git/config",
        ];
        let plan = m.plan_now();
        for op in &plan.ops {
            let paths: Vec<&str> = match op {
                Op::Move { from, to, .. } => vec![from, to],
                Op::Delete { path, contents, .. } => std::iter::once(path.as_str())
                    .chain(contents.iter().map(|(p, _)| p.as_str()))
                    .collect(),
                other => vec![other.path()],
            };
            for p in paths {
                assert!(
                    !excluded
                        .iter()
                        .any(|e| p == *e || p.starts_with(&format!("{e}/"))),
                    "{direction:?}: op on excluded {p}: {}",
                    fmt_plan(&plan)
                );
            }
        }
        let reported: BTreeSet<(&str, Option<Side>)> = plan
            .problems
            .iter()
            .filter(|p| p.message.starts_with("excluded"))
            .map(|p| (p.path.as_str(), p.side))
            .collect();
        for (path, side) in [
            (".hidden", Side::Local),
            ("x.tmp", Side::Remote),
            ("~lock", Side::Local),
            ("d/~lock", Side::Remote),
            (".git", Side::Local),
        ] {
            assert!(
                reported.contains(&(path, Some(side))),
                "{direction:?}: {path} on {side} not reported: {:?}",
                plan.problems
            );
        }
        // And the excluded items stay where they are, untouched, while the
        // rest converges.
        m.run_until_quiet(4).unwrap();
        m.check_no_skips().unwrap();
        m.check_converged().unwrap();
        m.check_base().unwrap();
        assert!(m.local.items.contains_key(".hidden"));
        assert!(m.local.items.contains_key(".git/config"));
        assert!(m.remote.items.contains_key("x.tmp"));
        assert!(m.remote.items.contains_key("d/~lock"));
        assert!(!m.remote.items.contains_key(".hidden"));
        assert!(!m.local.items.contains_key("x.tmp"));
    }
}

/// Selective sync's "new server folders: skip": a folder that appears at
/// the top of the server after the first pass stays there (reported), while
/// a new folder inside a synchronized one and everything else still travel;
/// with "sync" (the default) the same folder comes down.
#[test]
fn a_new_top_level_server_folder_is_skipped_when_new_folders_are_skipped() {
    for (new_folders, comes_down) in [(NewFolders::Skip, false), (NewFolders::Sync, true)] {
        for direction in [Direction::Both, Direction::Receive] {
            let mut m = Model::with(direction, ConflictPolicy::KeepBoth);
            m.filter = Filter::new(&[], &[]).unwrap().with_new_folders(new_folders);
            m.start_in_sync(BASE.iter().copied());
            m.create_dir(Side::Remote, "fresh");
            m.create_file(Side::Remote, "fresh/a.txt", 70);
            m.create_dir(Side::Remote, "d/inner");
            m.create_file(Side::Remote, "d/inner/b.txt", 71);
            m.create_file(Side::Remote, "top.txt", 72);
            let plan = m.plan_now();
            let reported = plan
                .problems
                .iter()
                .any(|p| p.path == "fresh" && p.message.contains("new folder on the server"));
            assert_eq!(
                reported, !comes_down,
                "{new_folders:?}: {:?}",
                plan.problems
            );
            m.run_until_quiet(4).unwrap();
            m.check_no_skips().unwrap();
            let local = m.snapshot(Side::Local);
            assert_eq!(
                local.contains_key("fresh/a.txt"),
                comes_down,
                "{new_folders:?}"
            );
            assert!(local.contains_key("d/inner/b.txt"), "{new_folders:?}");
            assert!(local.contains_key("top.txt"), "{new_folders:?}");
            // The server keeps it either way.
            assert!(m.remote.items.contains_key("fresh/a.txt"));
        }
    }
}

/// On a first pass every server folder is new: "skip" leaves none out.
#[test]
fn skipping_new_server_folders_does_not_apply_to_the_first_pass() {
    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.filter = Filter::new(&[], &[])
        .unwrap()
        .with_new_folders(NewFolders::Skip);
    m.create_dir(Side::Remote, "fresh");
    m.create_file(Side::Remote, "fresh/a.txt", 70);
    m.run_until_quiet(4).unwrap();
    assert!(m.snapshot(Side::Local).contains_key("fresh/a.txt"));
}

#[test]
fn excluded_items_inside_a_deleted_folder_go_to_the_trash_with_it() {
    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.start_in_sync(BASE.iter().copied());
    m.create_file(Side::Remote, "d/.DS_Store", 70);
    m.remove(Side::Local, "d");
    m.run_until_quiet(4).unwrap();
    m.check_no_skips().unwrap();
    m.check_converged().unwrap();
    assert!(!m.remote.items.contains_key("d"));
    assert!(m.trash_contents(Side::Remote).contains(&70));
}

#[test]
fn excluded_items_inside_a_folder_deleted_on_the_other_side_keep_their_folder() {
    for (side, direction) in [
        (Side::Local, Direction::Both),
        (Side::Remote, Direction::Both),
        (Side::Remote, Direction::Send),
        (Side::Local, Direction::Receive),
    ] {
        let mut m = Model::with(direction, ConflictPolicy::KeepBoth);
        m.start_in_sync(BASE.iter().copied());
        m.create_file(side, "d/.env", 71);
        m.remove(side.other(), "d");
        let plan = m.pass();
        assert!(
            plan.problems
                .iter()
                .any(|p| p.path == "d" && p.side == Some(side) && p.message.contains("'d/.env'")),
            "{side}/{direction:?}: {:?}",
            plan.problems
        );
        // The rest of the folder goes; the folder and `.env` stay, and it
        // is not brought back to the other side.
        assert!(
            m.side(side).items.contains_key("d/.env"),
            "{side}/{direction:?}"
        );
        assert!(!m.side(side).items.contains_key("d/x.txt"));
        assert!(!m.side(side.other()).items.contains_key("d"));
        assert!(m.plan_now().is_quiet(), "{}", fmt_plan(&m.plan_now()));
        m.check_no_skips().unwrap();
        m.check_converged().unwrap();
        m.check_base().unwrap();
    }
}

#[test]
fn the_plan_is_deterministic() {
    let make = || {
        let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
        m.filter = Filter::new(&[UserFilter::glob("*.log")], &[]).unwrap();
        m.start_in_sync(BASE.iter().copied());
        m.create_file(Side::Local, "debug.log", 3);
        m.modify(Side::Local, "a.txt", 31, true);
        m.modify(Side::Remote, "a.txt", 34, true);
        m.rename(Side::Local, "d", "e");
        m.create_file(Side::Remote, "k/new.txt", 5);
        m.remove(Side::Remote, "keep.txt");
        m.create_file(Side::Local, "n.txt", 21);
        m.create_file(Side::Remote, "n.txt", 24);
        m.file_to_dir(Side::Remote, "k/z.txt", "inner", 8);
        m
    };
    let a = make().plan_now();
    let b = make().plan_now();
    assert!(!a.ops.is_empty());
    assert_eq!(a, b);
    assert_eq!(fmt_plan(&a), fmt_plan(&b));
    // And planning twice from the same observation gives the same plan.
    let m = make();
    assert_eq!(m.plan_now(), m.plan_now());
}

// ---------------------------------------------------------------------
// Regressions found by the property tests (tests/planner_props.rs).
// ---------------------------------------------------------------------

/// A folder deleted and made again under the same name (a new identity)
/// used to keep its old identity in the base, so a later rename of it was
/// not recognised: the remote folder was deleted and made anew instead of
/// moved.
#[test]
fn regression_recreated_folder_is_still_moved_in_one_op() {
    for side in [Side::Local, Side::Remote] {
        let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
        m.start_in_sync([("p", None), ("p/f", Some(5)), ("q.txt", Some(6))]);
        m.remove(side, "p");
        m.create_dir(side, "p");
        m.create_file(side, "p/f", 5);
        m.run_until_quiet(4).unwrap();
        m.check_base()
            .unwrap_or_else(|e| panic!("{side}: {e}\n{}", m.describe()));
        m.rename(side, "p", "renamed");
        let plan = m.pass();
        let ops: Vec<String> = plan.ops.iter().map(model::fmt_op).collect();
        assert_eq!(
            ops,
            [format!("move {} p -> renamed", side.other())],
            "{side}"
        );
        m.run_until_quiet(4).unwrap();
        m.check_converged().unwrap();
        m.check_base().unwrap();
    }
}

/// A file moved into a folder that is then moved itself: the folder move
/// must be replayed first. It used to come second (moves were ordered by
/// the depth of their source only), so replaying the file move made the
/// destination folder and the folder move failed its precondition; the
/// next pass then downloaded the folder's contents anew and trashed the
/// old folder.
#[test]
fn regression_move_into_a_folder_that_moves_too() {
    for side in [Side::Local, Side::Remote] {
        let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
        m.start_in_sync([
            ("b/a/a/big1", Some(1)),
            ("b/a/a/big2", Some(2)),
            ("b/b", Some(3)),
        ]);
        m.begin_changes();
        assert!(m.rename(side, "b/b", "b/a/a/a"));
        assert!(m.rename(side, "b/a/a", "a"));
        let protected = m.protected();
        let plans = m.run_until_quiet(4).unwrap();
        let ops: Vec<String> = plans
            .iter()
            .flat_map(|p| p.ops.iter().map(model::fmt_op))
            .collect();
        let other = side.other();
        assert_eq!(
            ops,
            [
                format!("move {other} b/a/a -> a"),
                format!("move {other} b/b -> a/a"),
            ],
            "{side}\n{}",
            m.describe()
        );
        m.check_no_skips().unwrap();
        m.check_converged().unwrap();
        m.check_base().unwrap();
        m.check_no_loss(&protected).unwrap();
    }
}

/// A folder moved out of its parent, and the parent then moved into it
/// (`c/b -> a`, then `c -> a/a`): the inner move must be replayed first.
/// Ordering moves by their source alone replayed `c -> a/a` first, which
/// made `a` and left the second move nowhere to go.
#[test]
fn regression_folder_moved_out_then_parent_moved_into_it() {
    for side in [Side::Local, Side::Remote] {
        let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
        m.start_in_sync([("c/a/f", Some(1)), ("c/b/g", Some(2)), ("h", Some(3))]);
        m.begin_changes();
        assert!(m.rename(side, "c/b", "a"));
        assert!(m.rename(side, "c", "a/a"));
        let protected = m.protected();
        let plans = m.run_until_quiet(4).unwrap();
        let ops: Vec<String> = plans
            .iter()
            .flat_map(|p| p.ops.iter().map(model::fmt_op))
            .collect();
        let other = side.other();
        assert_eq!(
            ops,
            [
                format!("move {other} c/b -> a"),
                format!("move {other} c -> a/a")
            ],
            "{side}\n{}",
            m.describe()
        );
        m.check_no_skips().unwrap();
        m.check_converged().unwrap();
        m.check_base().unwrap();
        m.check_no_loss(&protected).unwrap();
    }
}

/// A folder moved into a folder of its own that moved out first
/// (`c/a -> d`, then `c -> d/a/x`): one pass, moves only.
#[test]
fn regression_folder_moved_into_its_former_child() {
    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.start_in_sync([("c/a/a/f", Some(1)), ("c/g", Some(2))]);
    m.begin_changes();
    assert!(m.rename(Side::Local, "c/a", "d"));
    assert!(m.rename(Side::Local, "c", "d/a/x"));
    let plans = m.run_until_quiet(4).unwrap();
    assert_eq!(plans.len(), 1, "{}", m.describe());
    assert!(
        plans[0].ops.iter().all(|op| matches!(op, Op::Move { .. })),
        "{}",
        m.describe()
    );
    m.check_no_skips().unwrap();
    m.check_converged().unwrap();
    m.check_base().unwrap();
}

/// The same edit on both sides of a file whose folder one side also moved:
/// the two files meet only after the move is replayed, so the hash
/// requests must look where they will meet. They looked at the observed
/// paths only, asked for no hash, and the identical files became a
/// conflict (a conflicted copy equal to its original).
#[test]
fn regression_same_edit_on_both_sides_under_a_moved_folder_is_no_conflict() {
    for mover in [Side::Local, Side::Remote] {
        let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
        m.start_in_sync([("a/b/f", Some(10)), ("g", Some(20))]);
        m.begin_changes();
        m.modify(Side::Local, "a/b/f", 8, false);
        m.modify(Side::Remote, "a/b/f", 8, false);
        assert!(m.rename(mover, "a", "moved"));
        // Both files were hashed, each at its observed path.
        let (_, _, requests) = m.observed();
        let (lpath, rpath) = match mover {
            Side::Local => ("moved/b/f", "a/b/f"),
            Side::Remote => ("a/b/f", "moved/b/f"),
        };
        assert!(
            requests.contains(&(Side::Local, lpath.to_string()))
                && requests.contains(&(Side::Remote, rpath.to_string())),
            "{mover}: {requests:?}"
        );
        let plans = m.run_until_quiet(4).unwrap();
        let ops: Vec<String> = plans
            .iter()
            .flat_map(|p| p.ops.iter().map(model::fmt_op))
            .collect();
        assert_eq!(
            ops,
            [
                format!("move {} a -> moved", mover.other()),
                "adopt moved/b/f".to_string()
            ],
            "{mover}\n{}",
            m.describe()
        );
        m.check_no_needless_conflicts().unwrap();
        m.check_converged().unwrap();
        m.check_base().unwrap();
    }
}

/// `in_sync` is a shortcut for "plan() has nothing to do": it must never
/// say so when plan() would act.
#[test]
fn the_in_sync_shortcut_agrees_with_the_planner() {
    use ferry::engine::{BaseEntry, Entry, Filter, Kind, Settings, Sig, Tree, in_sync, plan};
    let mut local = Tree::new();
    let mut remote = Tree::new();
    let mut base = ferry::engine::BaseTree::new();
    for i in 0..50 {
        let path = format!("d{}/f{i}", i % 5);
        let dir = format!("d{}", i % 5);
        let l = Entry::file(i, 1000 + i as i64).with_id(format!("1:{i}"));
        let r = Entry::file(i, 2000 + i as i64).with_id(format!("2:{i}"));
        base.insert(
            path.clone(),
            BaseEntry {
                kind: Kind::File,
                local: l.signature(),
                remote: r.signature(),
                hash: None,
            },
        );
        local.insert(path.clone(), l);
        remote.insert(path, r);
        let ld = Entry::dir().with_id(format!("1:d{}", i % 5));
        let rd = Entry::dir().with_id(format!("2:d{}", i % 5));
        base.insert(
            dir.clone(),
            BaseEntry {
                kind: Kind::Dir,
                local: ld.signature(),
                remote: rd.signature(),
                hash: None,
            },
        );
        local.insert(dir.clone(), ld);
        remote.insert(dir, rd);
    }
    let settings = Settings::default();
    let filter = Filter::default();
    let now = jiff::civil::date(2026, 11, 22).at(10, 15, 0, 0);
    assert!(in_sync(&local, &remote, &base, &settings, &filter));
    assert!(
        plan(&local, &remote, &base, &settings, &filter, now)
            .ops
            .is_empty()
    );
    type Tweak = Box<dyn Fn(&mut Tree, &mut Tree, &mut ferry::engine::BaseTree)>;
    let tweaks: Vec<Tweak> = vec![
        Box::new(|l, _, _| {
            l.get_mut("d1/f1").unwrap().mtime += 1;
        }),
        Box::new(|_, r, _| {
            r.get_mut("d1/f1").unwrap().size += 1;
        }),
        Box::new(|_, r, _| {
            r.get_mut("d2/f2").unwrap().etag = Some("\"x\"".into());
        }),
        Box::new(|l, _, _| {
            l.remove("d3/f3");
        }),
        Box::new(|_, r, _| {
            r.insert("d3/new".into(), Entry::file(1, 1));
        }),
        Box::new(|l, _, _| {
            l.get_mut("d4").unwrap().id = Some("1:other".into());
        }),
        Box::new(|_, _, b| {
            b.get_mut("d0/f0").unwrap().local = Sig::default();
        }),
    ];
    for (n, tweak) in tweaks.iter().enumerate() {
        let (mut l, mut r, mut b) = (local.clone(), remote.clone(), base.clone());
        tweak(&mut l, &mut r, &mut b);
        assert!(!in_sync(&l, &r, &b, &settings, &filter), "tweak {n}");
        assert!(
            !plan(&l, &r, &b, &settings, &filter, now).ops.is_empty(),
            "tweak {n}"
        );
    }
    let secure = Settings {
        compare: ferry::engine::CompareMode::Secure,
        ..Settings::default()
    };
    assert!(!in_sync(&local, &remote, &base, &secure, &filter));
}

/// The model runs the engine's own guards: a side its user emptied stops
/// the pass before the other side is emptied too (confirmed, it deletes
/// everything there, which the deletion limit would stop as well).
#[test]
fn a_side_emptied_by_its_user_stops_the_pass_until_confirmed() {
    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.start_in_sync(BASE.iter().copied());
    for p in ["a.txt", "d", "k", "keep.txt"] {
        assert!(m.remove(Side::Remote, p));
    }
    let plan = m.pass();
    assert_eq!(
        m.last_stop,
        Some(Stop::RootEmpty {
            side: Side::Remote,
            in_sync: BASE.len()
        }),
        "{}",
        m.describe()
    );
    assert_eq!(plan.deletions(), BASE.len());
    assert!(m.snapshot(Side::Local).is_empty());
}

/// Deletions up to the share of the items in sync go on; more stop.
#[test]
fn deleting_more_than_half_of_what_is_in_sync_stops_the_pass() {
    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.start_in_sync(BASE.iter().copied());
    assert!(m.remove(Side::Remote, "d"));
    let plan = m.pass();
    assert_eq!(plan.deletions(), 3);
    assert_eq!(m.last_stop, None, "{}", m.describe());

    let mut m = Model::with(Direction::Both, ConflictPolicy::KeepBoth);
    m.start_in_sync(BASE.iter().copied());
    assert!(m.remove(Side::Remote, "d"));
    assert!(m.remove(Side::Remote, "k"));
    m.pass();
    assert_eq!(
        m.last_stop,
        Some(Stop::MassDeletion {
            deletions: 5,
            in_sync: BASE.len(),
            limit: Limit::Ratio(0.5)
        }),
        "{}",
        m.describe()
    );
}
