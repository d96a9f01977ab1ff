//! The guards, wired into a pass: the engine's rules
//! ([`engine::guard`]) applied to what the observation found, a stop turned
//! into the pass's error (or, in a dry run, a note on the report), and the
//! roots the rules allow created.

use std::sync::Arc;

use super::observe::Seen;
use super::{PassOptions, Report, SyncError, SyncJob};
use crate::engine::guard::{self, Confirmed, Root, Stop};
use crate::engine::{self, BaseTree, Side, Tree};

/// The base and both sides' trees once the roots passed the guards.
pub(super) struct Sides {
    pub(super) base: Arc<BaseTree>,
    pub(super) local_tree: Tree,
    pub(super) remote_tree: Tree,
    /// What the observations excluded (the planner keeps folders holding
    /// such items).
    pub(super) excluded: engine::Excluded,
}

fn confirmed(opts: &PassOptions) -> Confirmed {
    Confirmed {
        force: opts.force,
        create_remote_root: opts.create_root,
    }
}

/// The pass's error for a stop, naming the actual folder or URL.
fn error_of(job: &SyncJob, stop: Stop) -> SyncError {
    match stop {
        Stop::RemoteRootAbsent => SyncError::RemoteRootAbsent {
            path: job.remote.describe(),
        },
        Stop::RootMissing { side, in_sync } => SyncError::RootMissing {
            side,
            path: match side {
                Side::Local => format!("folder {}", job.local.root().display()),
                Side::Remote => job.remote.describe(),
            },
            items: in_sync,
        },
        Stop::RootEmpty { .. } | Stop::MassDeletion { .. } => {
            SyncError::NeedsConfirmation(stop.to_string())
        }
    }
}

/// A real pass stops at the first stop; a dry run goes on past them all
/// and the report says which one would stop the real pass (the first).
fn stop_at(
    job: &SyncJob,
    opts: &PassOptions,
    stops: impl IntoIterator<Item = Stop>,
    report: &mut Report,
) -> Result<(), SyncError> {
    for stop in stops {
        let e = error_of(job, stop);
        if !opts.dry_run {
            return Err(e);
        }
        if report.needs_confirmation.is_none() {
            report.needs_confirmation = e.guard_reason();
        }
    }
    Ok(())
}

/// The guards on the roots, before anything is created on either side;
/// then the missing roots the rules allow are created (never in a dry
/// run). The observation's problems and exclusions go to the report and
/// the planner; what the remote could not see is put back as the base
/// says (`engine::tree::keep_unobserved`), not taken for deleted.
pub(super) async fn roots(
    job: &SyncJob,
    opts: &PassOptions,
    scoped: bool,
    seen: Seen,
    report: &mut Report,
) -> Result<Sides, SyncError> {
    let Seen {
        base,
        base_total,
        scan,
        listing,
    } = seen;
    let base = Arc::new(base);
    let mut excluded = engine::Excluded::default();
    let local_root = scan.is_some();
    let local_tree = match scan {
        Some(s) => {
            report.problems.extend(s.problems);
            excluded.local = s.excluded;
            s.tree
        }
        None => Tree::new(),
    };
    let remote_root = listing.is_some();
    let remote_tree = match listing {
        Some(l) => {
            report.problems.extend(l.problems);
            excluded.remote = l.excluded;
            let mut tree = l.tree;
            engine::tree::keep_unobserved(&mut tree, &base, Side::Remote, &l.unobserved);
            tree
        }
        None => Tree::new(),
    };
    let root = |there: bool, tree: &Tree| match (there, tree.is_empty()) {
        (false, _) => Root::Missing,
        (true, true) => Root::Empty,
        (true, false) => Root::Holding,
    };
    let (local, remote) = (
        root(local_root, &local_tree),
        root(remote_root, &remote_tree),
    );
    let confirmed = confirmed(opts);
    stop_at(
        job,
        opts,
        guard::roots(local, remote, base_total, scoped, confirmed),
        report,
    )?;
    if !opts.dry_run {
        if guard::creates_root(local, base_total, confirmed) {
            job.local.create_root()?;
            report.created.push(job.local.root().display().to_string());
        }
        if guard::creates_root(remote, base_total, confirmed) {
            job.remote.create_root().await?;
            report.created.push(job.remote.describe());
        }
    }
    Ok(Sides {
        base,
        local_tree,
        remote_tree,
        excluded,
    })
}

/// The mass-deletion guard on the plan's deletions (`report.deletions`),
/// against the whole base (`in_sync` items).
pub(super) fn deletions(
    job: &SyncJob,
    opts: &PassOptions,
    in_sync: usize,
    report: &mut Report,
) -> Result<(), SyncError> {
    let stop = guard::deletions(
        &job.settings.guards,
        report.deletions,
        in_sync,
        confirmed(opts),
    );
    stop_at(job, opts, stop, report)
}
