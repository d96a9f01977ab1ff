//! Property tests of the planner, in the manner of Dropbox's CanopyCheck:
//! a random tree, in sync on both sides; random changes on each side,
//! independently; then passes of the in-memory model
//! (`tests/common/model.rs`) until quiet, for every direction and conflict
//! policy. Invariants:
//!
//! * **termination** — quiet within [`MAX_PASSES`] passes;
//! * **convergence** — both sides hold the same items, and the base
//!   records exactly them with each side's current signature;
//! * **idempotence** — the next plan is empty;
//! * **no content lost** — every version on either side after the changes
//!   is still on a side or in a trash (except a version the user overwrote
//!   in place: see `Model::protected`);
//! * **no needless conflict** — no conflicted copy holds the content of
//!   its original (same content on both sides is never a conflict);
//! * **consistency** — no op's precondition fails (nothing changes while
//!   the model applies a plan, so a failed precondition is a plan that
//!   contradicts itself), and planning twice gives the same plan;
//! * **mirrors** — the source side is never touched and the target ends
//!   equal to it.
//!
//! `FERRY_PROPTEST_CASES` sets the number of cases (default 128).

#[path = "common/model.rs"]
mod model;

use ferry::engine::{CompareMode, ConflictPolicy, Direction, Side};
use model::{Flavor, Model, fmt_snapshot};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Passes allowed before the model must be quiet.
const MAX_PASSES: usize = 5;

/// Every setting the tests run each case with.
const MODES: [(Direction, ConflictPolicy); 6] = [
    (Direction::Both, ConflictPolicy::KeepBoth),
    (Direction::Both, ConflictPolicy::Local),
    (Direction::Both, ConflictPolicy::Remote),
    (Direction::Both, ConflictPolicy::Newest),
    (Direction::Send, ConflictPolicy::KeepBoth),
    (Direction::Receive, ConflictPolicy::KeepBoth),
];

/// Few names, so that both sides often pick the same one; `x.tmp` is
/// excluded from synchronization (a file, or a folder with all in it).
const NAMES: [&str; 6] = ["a", "b", "c.txt", "d", "e.txt", "x.tmp"];

fn cases() -> u32 {
    std::env::var("FERRY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

/// One change a user makes. Indices pick among what exists when the change
/// is made (modulo the count), so every generated change means something
/// and shrinking keeps it meaningful.
#[derive(Clone, Debug)]
enum Act {
    CreateFile {
        parent: usize,
        name: usize,
        content: u64,
    },
    CreateDir {
        parent: usize,
        name: usize,
    },
    /// A folder with a folder with a file, in one go.
    CreateNested {
        parent: usize,
        names: (usize, usize, usize),
        content: u64,
    },
    Modify {
        file: usize,
        content: u64,
        keep_id: bool,
    },
    Delete {
        item: usize,
    },
    /// Rename or move (into another folder, or to the top) a file or folder.
    Move {
        item: usize,
        parent: usize,
        name: usize,
    },
    FileToDir {
        file: usize,
        name: usize,
        content: u64,
    },
    DirToFile {
        dir: usize,
        content: u64,
    },
}

/// An index among what exists (small, so a failing case reads well).
fn idx() -> impl Strategy<Value = usize> {
    0usize..32
}

fn name() -> impl Strategy<Value = usize> {
    0..NAMES.len()
}

/// Contents 0 (empty) to 11: sizes collide a lot, and the same content on
/// both sides happens.
fn content() -> impl Strategy<Value = u64> {
    0u64..12
}

fn create() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => (idx(), name(), content())
            .prop_map(|(parent, name, content)| Act::CreateFile { parent, name, content }),
        2 => (idx(), name()).prop_map(|(parent, name)| Act::CreateDir { parent, name }),
        1 => (idx(), (name(), name(), name()), content())
            .prop_map(|(parent, names, content)| Act::CreateNested { parent, names, content }),
    ]
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        3 => create(),
        3 => (idx(), content(), any::<bool>())
            .prop_map(|(file, content, keep_id)| Act::Modify { file, content, keep_id }),
        2 => idx().prop_map(|item| Act::Delete { item }),
        3 => (idx(), idx(), name())
            .prop_map(|(item, parent, name)| Act::Move { item, parent, name }),
        1 => (idx(), name(), content())
            .prop_map(|(file, name, content)| Act::FileToDir { file, name, content }),
        1 => (idx(), content()).prop_map(|(dir, content)| Act::DirToFile { dir, content }),
    ]
}

#[derive(Clone, Debug)]
struct Case {
    /// Builds the tree both sides start with (applied to the local side,
    /// then copied).
    base: Vec<Act>,
    /// Changes made on both sides alike (the same file created, the same
    /// folder moved, ...), before the changes of each side.
    both: Vec<Act>,
    local: Vec<Act>,
    remote: Vec<Act>,
    flavor: Flavor,
    secure: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(create(), 0..12),
        prop::collection::vec(act(), 0..3),
        prop::collection::vec(act(), 0..6),
        prop::collection::vec(act(), 0..6),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(base, both, local, remote, remote_etags, remote_hashes, secure, reverse)| Case {
                base,
                both,
                local,
                remote,
                flavor: Flavor {
                    remote_etags,
                    remote_hashes,
                    reverse_parallel_phases: reverse,
                },
                secure,
            },
        )
}

/// Pick the `i`-th (modulo) of the items of `side` that pass `keep`.
fn pick(m: &Model, side: Side, i: usize, keep: impl Fn(&model::Item) -> bool) -> Option<String> {
    let all: Vec<&String> = m
        .side(side)
        .items
        .iter()
        .filter(|(_, it)| keep(it))
        .map(|(p, _)| p)
        .collect();
    (!all.is_empty()).then(|| all[i % all.len()].clone())
}

/// The `i`-th (modulo) folder of `side`, the top level counting as one.
fn pick_parent(m: &Model, side: Side, i: usize) -> String {
    let mut dirs = vec![String::new()];
    dirs.extend(
        m.side(side)
            .items
            .iter()
            .filter(|(_, it)| it.kind == ferry::engine::Kind::Dir)
            .map(|(p, _)| p.clone()),
    );
    dirs[i % dirs.len()].clone()
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// Apply a change if it makes sense in the current state (a name already
/// taken, say, makes it a no-op).
fn perform(m: &mut Model, side: Side, act: &Act) {
    use ferry::engine::Kind;
    match *act {
        Act::CreateFile {
            parent,
            name,
            content,
        } => {
            let p = join(&pick_parent(m, side, parent), NAMES[name]);
            m.create_file(side, &p, content);
        }
        Act::CreateDir { parent, name } => {
            let p = join(&pick_parent(m, side, parent), NAMES[name]);
            m.create_dir(side, &p);
        }
        Act::CreateNested {
            parent,
            names: (a, b, c),
            content,
        } => {
            let p = join(&pick_parent(m, side, parent), NAMES[a]);
            let q = join(&p, NAMES[b]);
            if m.create_dir(side, &p) && m.create_dir(side, &q) {
                m.create_file(side, &join(&q, NAMES[c]), content);
            }
        }
        Act::Modify {
            file,
            content,
            keep_id,
        } => {
            if let Some(p) = pick(m, side, file, |i| i.kind == Kind::File) {
                m.modify(side, &p, content, keep_id);
            }
        }
        Act::Delete { item } => {
            if let Some(p) = pick(m, side, item, |_| true) {
                m.remove(side, &p);
            }
        }
        Act::Move { item, parent, name } => {
            if let Some(p) = pick(m, side, item, |_| true) {
                let to = join(&pick_parent(m, side, parent), NAMES[name]);
                m.rename(side, &p, &to);
            }
        }
        Act::FileToDir {
            file,
            name,
            content,
        } => {
            if let Some(p) = pick(m, side, file, |i| i.kind == Kind::File) {
                m.file_to_dir(side, &p, NAMES[name], content);
            }
        }
        Act::DirToFile { dir, content } => {
            if let Some(p) = pick(m, side, dir, |i| i.kind == Kind::Dir) {
                m.dir_to_file(side, &p, content);
            }
        }
    }
}

/// The starting tree: the creates applied to an empty local side, then
/// made the in-sync state of both sides.
fn start(c: &Case, direction: Direction, policy: ConflictPolicy) -> Model {
    let mut scratch = Model::with(direction, policy);
    for a in &c.base {
        perform(&mut scratch, Side::Local, a);
    }
    let items: Vec<(String, Option<u64>)> = scratch
        .local
        .items
        .iter()
        .map(|(p, i)| {
            let c = (i.kind == ferry::engine::Kind::File).then_some(i.content);
            (p.clone(), c)
        })
        .collect();
    let mut m = Model::with(direction, policy);
    m.flavor = c.flavor;
    if c.secure {
        m.settings.compare = CompareMode::Secure;
    }
    m.start_in_sync(items.iter().map(|(p, c)| (p.as_str(), *c)));
    m
}

fn run(c: &Case, direction: Direction, policy: ConflictPolicy) -> Result<(), String> {
    let mut m = start(c, direction, policy);
    // Sanity: the starting state is in sync.
    if let Err(e) = m.check_base().and_then(|()| {
        let p = m.plan_now();
        if p.is_quiet() {
            Ok(())
        } else {
            Err(format!("start is not quiet:\n{}", model::fmt_plan(&p)))
        }
    }) {
        return Err(format!("{e}\n{}", m.describe()));
    }
    m.begin_changes();
    for a in &c.both {
        // Both sides hold the same tree, so an act picks the same items.
        perform(&mut m, Side::Local, a);
        perform(&mut m, Side::Remote, a);
    }
    for a in &c.local {
        perform(&mut m, Side::Local, a);
    }
    for a in &c.remote {
        perform(&mut m, Side::Remote, a);
    }
    let protected = m.protected();
    let local_after = m.snapshot(Side::Local);
    let remote_after = m.snapshot(Side::Remote);
    let check = |m: &mut Model| -> Result<(), String> {
        // Determinism.
        let (a, b) = (m.plan_now(), m.plan_now());
        if a != b {
            return Err("planning twice gave two plans".into());
        }
        m.run_until_quiet(MAX_PASSES)?;
        m.check_no_skips()?;
        m.check_converged()?;
        m.check_base()?;
        m.check_no_needless_conflicts()?;
        let next = m.plan_now();
        if !next.is_quiet() {
            return Err(format!(
                "a further plan is not empty:\n{}",
                model::fmt_plan(&next)
            ));
        }
        if let Err(e) = m.check_no_loss(&protected) {
            let lost: Vec<String> = protected
                .iter()
                .filter(|v| m.whereabouts(**v).is_empty())
                .map(|v| format!("v{v}"))
                .collect();
            return Err(format!("{e} ({})", lost.join(", ")));
        }
        let (source, want) = match direction {
            Direction::Both => return Ok(()),
            Direction::Send => (Side::Local, &local_after),
            Direction::Receive => (Side::Remote, &remote_after),
        };
        let got = m.snapshot(source);
        if &got != want {
            return Err(format!(
                "mirror changed its source: {} became {}",
                fmt_snapshot(want),
                fmt_snapshot(&got)
            ));
        }
        // (Except a folder kept for its excluded items, which a mirror
        // neither deletes nor replaces.)
        let kept = m.kept();
        let mut want = want.clone();
        want.retain(|p, _| !kept.contains(p));
        let want = &want;
        let target = m.snapshot_synced(source.other());
        if &target != want {
            return Err(format!(
                "mirror target {} is not the source {}",
                fmt_snapshot(&target),
                fmt_snapshot(want)
            ));
        }
        Ok(())
    };
    check(&mut m).map_err(|e| format!("{direction:?}/{policy:?}: {e}\n{}", m.describe()))
}

/// What a listing leaves out.
#[derive(Clone, Debug)]
enum Omit {
    /// Everything below the top level (`Depth: infinity` answered as 1).
    OneLevel,
    /// The `i`-th remote folder with everything in it.
    Subtree(usize),
    /// What is in the `i`-th remote folder.
    Contents(usize),
    /// Items picked by a seed.
    Some(u64),
}

fn omit() -> impl Strategy<Value = Omit> {
    prop_oneof![
        Just(Omit::OneLevel),
        idx().prop_map(Omit::Subtree),
        idx().prop_map(Omit::Contents),
        any::<u64>().prop_map(Omit::Some),
    ]
}

/// Whether the listing leaves `path` out: a listing that leaves out a
/// folder shows nothing in it either.
fn omitted(o: &Omit, dirs: &[String], path: &str) -> bool {
    let mut p = path;
    loop {
        if omitted_one(o, dirs, p) {
            return true;
        }
        p = ferry::engine::tree::parent(p);
        if p.is_empty() {
            return false;
        }
    }
}

fn omitted_one(o: &Omit, dirs: &[String], path: &str) -> bool {
    use ferry::engine::tree::is_within;
    let dir = |i: usize| (!dirs.is_empty()).then(|| dirs[i % dirs.len()].as_str());
    match o {
        Omit::OneLevel => path.contains('/'),
        Omit::Subtree(i) => dir(*i).is_some_and(|d| is_within(path, d)),
        Omit::Contents(i) => dir(*i).is_some_and(|d| is_within(path, d) && path != d),
        Omit::Some(seed) => {
            let h = path
                .bytes()
                .fold(*seed, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
            h % 3 == 0
        }
    }
}

/// A pass whose listing omits items, then passes until quiet: no item is
/// deleted or moved away locally unless the server really no longer has
/// it, and everything still converges without loss.
fn run_omitting(
    c: &Case,
    o: &Omit,
    direction: Direction,
    policy: ConflictPolicy,
) -> Result<(), String> {
    use ferry::engine::{DeleteReason, Kind, Op};
    let mut m = start(c, direction, policy);
    m.begin_changes();
    for a in &c.both {
        perform(&mut m, Side::Local, a);
        perform(&mut m, Side::Remote, a);
    }
    for a in &c.local {
        perform(&mut m, Side::Local, a);
    }
    for a in &c.remote {
        perform(&mut m, Side::Remote, a);
    }
    let protected = m.protected();
    let dirs: Vec<String> = m
        .remote
        .items
        .iter()
        .filter(|(_, i)| i.kind == Kind::Dir)
        .map(|(p, _)| p.clone())
        .collect();
    let remote_before = m.remote.items.clone();
    let base_before = m.base.clone();
    let (plan, _) = m.pass_omitting(|p| omitted(o, &dirs, p));
    let check = |m: &mut Model| -> Result<(), String> {
        for op in &plan.ops {
            let gone_from = match op {
                Op::Delete {
                    side: Side::Local,
                    path,
                    reason: DeleteReason::DeletedOnOtherSide | DeleteReason::Mirror,
                    ..
                } => path,
                Op::Move {
                    side: Side::Local,
                    from,
                    aside: false,
                    ..
                } => from,
                _ => continue,
            };
            if base_before.contains_key(gone_from) && remote_before.contains_key(gone_from) {
                return Err(format!(
                    "{} although the server still has {gone_from} (the listing left it out)",
                    model::fmt_op(op)
                ));
            }
        }
        m.run_until_quiet(MAX_PASSES)?;
        m.check_converged()?;
        m.check_base()?;
        m.check_no_loss(&protected)
    };
    check(&mut m).map_err(|e| format!("{direction:?}/{policy:?} {o:?}: {e}\n{}", m.describe()))
}

proptest! {
    #![proptest_config(Config {
        cases: cases(),
        // Regressions found here become named tests in planner_table.rs.
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    })]

    #[test]
    fn random_changes_on_both_sides_converge_without_loss(c in case()) {
        for (direction, policy) in MODES {
            if let Err(e) = run(&c, direction, policy) {
                prop_assert!(false, "{}", e);
            }
        }
    }

    #[test]
    fn a_listing_that_omits_items_deletes_nothing_the_server_still_has(c in case(), o in omit()) {
        for (direction, policy) in MODES {
            if let Err(e) = run_omitting(&c, &o, direction, policy) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}
