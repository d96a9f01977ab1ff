//! One synchronization pass: observe both sides, hash what the planner
//! needs, plan, check the guards, execute the ops, record the outcomes.
//!
//! One file per job: this one holds the public types and [`run_pass`], the
//! sequence of steps; `observe` reads the journal, scans, lists, confirms
//! absences and hashes; `guards` applies the engine's guards
//! ([`engine::guard`]) and creates the roots they allow; `execute` runs the
//! ops in phases with bounded concurrency, one function per op kind;
//! `record` counts the plan into the [`Report`] and writes each outcome to
//! the journal (the base changes are the engine's rules, [`engine::base`]).
//!
//! Invariants:
//! * The guards run before anything is touched: a pass that would delete
//!   more than the configured share or count of items, or that finds a
//!   side's root missing or empty while the base is not, stops with
//!   [`SyncError::NeedsConfirmation`] (or `RootMissing`) unless forced.
//! * An op's outcome reaches the journal only after the op is durable (the
//!   file-system layer fsyncs before it returns).
//! * A failed precondition is not an error: the op is reported as skipped
//!   and the item is re-planned next pass.
//! * Absence is not evidence: a base item missing from the listing or the
//!   scan is planned as gone only after a direct request for it (or for
//!   the top of its missing subtree) says so; otherwise it is put back as
//!   the base recorded it and reported (`confirm_absences`,
//!   `engine::absence`). Excluded items the observations found are handed
//!   to the planner, which keeps the folders that hold them.

mod execute;
mod guards;
mod observe;
mod outcome;
mod record;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::engine::{self, BaseTree, Filter, Op, Problem, Settings, Side, Tree};
use crate::fsops::{Folder, FsError};
use crate::journal::{Journal, JournalError};
use crate::remote::{Remote, RemoteError};
use execute::execute;
use observe::{confirm_absences, hash_what_is_needed};

/// Everything one synchronization needs to run a pass.
pub struct SyncJob {
    pub name: String,
    pub local: Arc<Folder>,
    pub remote: Arc<dyn Remote>,
    pub journal: Arc<Mutex<Journal>>,
    pub settings: Settings,
    pub filter: Arc<Filter>,
    /// Transfers run at most this many at once.
    pub concurrency: usize,
    /// Progress reports and the stop flag (the daemon's; the CLI has none).
    pub hooks: PassHooks,
}

/// What a pass tells its watcher while it runs.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The plan is made: this many ops moving this many bytes.
    Planned { ops: usize, bytes: u64 },
    /// One op finished (`error`: why it failed or was skipped).
    Done {
        action: &'static str,
        path: String,
        bytes: u64,
        error: Option<String>,
    },
}

/// Callbacks into whoever runs the pass.
#[derive(Clone, Default)]
pub struct PassHooks {
    /// Called from the pass's tasks; must be quick and must not block.
    pub progress: Option<Arc<dyn Fn(Progress) + Send + Sync>>,
    /// When set, the pass starts no new op: those running finish and are
    /// recorded, the rest is reported as skipped ("stopped").
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl PassHooks {
    fn report(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(p);
        }
    }

    fn stopping(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl std::fmt::Debug for PassHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassHooks")
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop)
            .finish()
    }
}

/// How to run a pass.
#[derive(Clone, Debug, Default)]
pub struct PassOptions {
    /// Plan and report, touch nothing.
    pub dry_run: bool,
    /// Proceed past the guards.
    pub force: bool,
    /// Look only at these paths (with their parents and, for folders,
    /// their contents) on both sides and in the base: a pass after the
    /// watchers named what changed. `None`: everything. Falls back to a
    /// full pass where the remote cannot list paths or a root is missing.
    pub scope: Option<Arc<[String]>>,
    /// A first pass (nothing in the journal) may create the remote root
    /// when it does not exist. Without it such a pass stops with
    /// [`SyncError::RemoteRootAbsent`] and creates nothing: a mistyped
    /// folder must not appear on the server. (`--create` in the CLI, an
    /// explicit choice when adding a synchronization through the API.)
    pub create_root: bool,
}

impl SyncError {
    /// What a guard stopped on, without saying how to proceed (that
    /// depends on the front end: `--force`, `ferry confirm`, `--create`).
    pub fn guard_reason(&self) -> Option<String> {
        match self {
            SyncError::NeedsConfirmation(m) => Some(m.clone()),
            SyncError::RootMissing { side, path, items } => Some(format!(
                "the {side} {path} does not exist, but {items} items were in sync: is a disk unmounted?"
            )),
            SyncError::RemoteRootAbsent { path } => Some(format!(
                "the remote {path} does not exist (check it for a typo)."
            )),
            _ => None,
        }
    }
}

/// Why a pass stopped before doing anything.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("stopped, nothing was changed: {0} Run again with --force to proceed.")]
    NeedsConfirmation(String),
    #[error(
        "the {side} {path} does not exist, but {items} items were in sync: is a disk unmounted? Nothing was changed. Run again with --force to proceed."
    )]
    RootMissing {
        side: Side,
        /// The side's root as [`Remote::describe`] says it (`folder /x`,
        /// `WebDAV https://…`): "the remote folder /x", never "folder folder".
        path: String,
        items: usize,
    },
    #[error(
        "the remote {path} does not exist. Nothing was created. Check it for a typo; if it is the right folder, run again with --create to create it."
    )]
    RemoteRootAbsent { path: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("local folder: {0}")]
    Local(FsError),
    #[error("remote: {0}")]
    Remote(RemoteError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a pass did (or, in a dry run, would do).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Ops per action (`upload`, `download`, `move`, …).
    pub counts: BTreeMap<&'static str, usize>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    /// Items the pass deletes (to a trash), as the guards count them.
    pub deletions: usize,
    /// Items the pass sends to a trash: deleted ones (deselected folders
    /// too) and files kept aside before being replaced.
    pub trashed: usize,
    /// The planned ops (always in a dry run).
    pub ops: Vec<Op>,
    /// Items not synchronized, with the reason.
    pub problems: Vec<Problem>,
    /// Ops skipped because an item changed while the pass ran.
    pub skipped: Vec<Problem>,
    /// Ops that failed.
    pub errors: Vec<Problem>,
    /// Why the pass stopped early (credentials required, server full), if it did.
    pub stopped: Option<String>,
    /// A dry run only: the guard that would stop the real pass until it is
    /// confirmed (the plan shown is what confirming would do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_confirmation: Option<String>,
    /// What stopped it.
    pub stop_kind: Option<StopKind>,
    /// The roots this pass created because they did not exist (a first
    /// pass), as paths or URLs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<String>,
    pub elapsed_ms: u128,
}

/// Why a pass stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

impl Report {
    /// Whether the pass changed anything (a follow-up pass may then be
    /// needed to settle items that changed meanwhile).
    pub fn changed_anything(&self) -> bool {
        self.counts.values().any(|&n| n > 0)
    }
}

impl From<FsError> for SyncError {
    fn from(e: FsError) -> Self {
        SyncError::Local(e)
    }
}

impl From<RemoteError> for SyncError {
    fn from(e: RemoteError) -> Self {
        SyncError::Remote(e)
    }
}

/// The journal key under which the remote keeps what it learnt.
const REMOTE_STATE: &str = "remote_state";

fn blocking_err(e: tokio::task::JoinError) -> SyncError {
    SyncError::Internal(e.to_string())
}

/// Run one pass. `now` is the local time used in conflict names.
///
/// The steps: read what the journal remembers; observe both sides and the
/// base; the guards on the roots (creating a missing root where allowed);
/// plan (after confirming absences and hashing what the planner needs);
/// the mass-deletion guard; execute and record; finish (the rebuild note,
/// the server's leftovers, what the remote learnt).
pub async fn run_pass(
    job: &SyncJob,
    opts: PassOptions,
    now: jiff::civil::DateTime,
) -> Result<Report, SyncError> {
    let start = Instant::now();
    let span = tracing::info_span!("pass", sync = %job.name, dry_run = opts.dry_run);
    let _enter = span.enter();

    let memo = observe::memo(job).await?;
    // A journal rebuilt after damage: its base is (nearly) empty, so this
    // pass is a first pass, and differing files are kept both whatever the
    // policy (no side's version is known to be the older one).
    let rebuilding = memo.rebuilt.is_some();
    let settings_rebuilding;
    let settings = if rebuilding {
        settings_rebuilding = Settings {
            conflict: engine::ConflictPolicy::KeepBoth,
            ..job.settings.clone()
        };
        &settings_rebuilding
    } else {
        &job.settings
    };
    if let Some(state) = &memo.remote_state {
        job.remote.import_state(state);
    }
    let scope = opts.scope.clone().filter(|_| job.remote.can_list_paths());
    let seen = observe::sides(job, scope.clone(), start).await?;
    if scope.is_some() && (seen.scan.is_none() || seen.listing.is_none()) {
        // A root is missing: the full pass decides (and guards).
        let full = PassOptions {
            scope: None,
            ..opts
        };
        drop(_enter);
        return Box::pin(run_pass(job, full, now)).await;
    }
    tracing::debug!(
        items = seen.base.len(),
        ms = start.elapsed().as_millis(),
        "journal loaded"
    );

    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    if let Some(note) = &memo.rebuilt {
        report.problems.push(Problem {
            path: String::new(),
            side: None,
            message: note.clone(),
        });
    }
    let base_total = seen.base_total;
    let guards::Sides {
        base,
        mut local_tree,
        mut remote_tree,
        excluded,
    } = guards::roots(job, &opts, scope.is_some(), seen, &mut report).await?;

    let plan = if engine::in_sync(&local_tree, &remote_tree, &base, settings, &job.filter) {
        engine::Plan::default()
    } else {
        // Absence is not evidence: what a side does not show is looked at
        // directly before the planner may delete or move because of it.
        // (Only here: a pass where nothing changed has nothing missing.)
        confirm_absences(job, &mut local_tree, &mut remote_tree, &base, &mut report).await?;
        // Files both sides hold with no record: where the remote keeps the
        // times clients set, fast mode compares them by size and time
        // instead of reading both (`Settings::times_kept`).
        let settings_times;
        let settings = if settings.compare == engine::CompareMode::Fast
            && engine::met_on_both(&local_tree, &remote_tree, &base)
            && job.remote.keeps_times(!opts.dry_run).await
        {
            settings_times = Settings {
                times_kept: true,
                ..settings.clone()
            };
            &settings_times
        } else {
            settings
        };
        hash_what_is_needed(
            job,
            settings,
            &mut local_tree,
            &mut remote_tree,
            &base,
            &mut report,
        )
        .await;
        engine::plan_with_excluded(
            &local_tree,
            &remote_tree,
            &base,
            settings,
            &job.filter,
            now,
            &excluded,
        )
    };
    tracing::debug!(
        ops = plan.ops.len(),
        ms = start.elapsed().as_millis(),
        "planned"
    );
    // A deletion seen by a scoped pass may be one end of a move whose other
    // end is outside the scope (a rename whose news is still on its way):
    // only a full pass can tell, so it decides.
    if scope.is_some() && plan.ops.iter().any(|op| matches!(op, Op::Delete { .. })) {
        tracing::debug!("a scoped pass would delete: running a full pass instead");
        let full = PassOptions {
            scope: None,
            ..opts
        };
        drop(_enter);
        return Box::pin(run_pass(job, full, now)).await;
    }
    // Three large trees: let another thread free them.
    let trees = (local_tree, remote_tree);
    report.problems.extend(plan.problems.iter().cloned());
    report.deletions = plan.deletions();
    guards::deletions(job, &opts, base_total, &mut report)?;
    record::count_plan(&plan.ops, &mut report);
    if opts.dry_run {
        report.ops = plan.ops;
        report.elapsed_ms = start.elapsed().as_millis();
        return Ok(report);
    }
    drop(_enter);
    job.hooks.report(Progress::Planned {
        ops: plan.ops.len(),
        bytes: report.bytes_up + report.bytes_down,
    });
    if !plan.ops.is_empty() {
        execute(job, plan.ops, base.clone(), &mut report).await?;
    }
    // Both sides are in the base now: back to normal passes. Only after a
    // full pass (a scoped one rebuilt only part of the base), and only
    // when no item that is on both sides and not in the base failed: that
    // one still needs "keep both". An item on one side only has no version
    // to choose between, so its lasting error (a 403) must not keep every
    // later pass in rebuild mode.
    if rebuilding
        && scope.is_none()
        && report.stopped.is_none()
        && !report
            .errors
            .iter()
            .any(|e| unadopted_on_both_sides(&e.path, &trees.0, &trees.1, &base))
    {
        record::end_rebuild(job).await?;
    }
    // Leftovers of interrupted work the listing saw (never in a dry run).
    if report.stop_kind.is_none() {
        job.remote.clean_leftovers().await;
    }
    record::remote_state(job, memo.remote_state.as_deref()).await?;
    report.elapsed_ms = start.elapsed().as_millis();
    drop_in_background((trees, base));
    Ok(report)
}

/// Whether `path` (or, for a folder, anything under it) is on both sides
/// and not in the base: an item a rebuilding pass had to keep both of. An
/// error without a path counts as such (it may be about anything).
fn unadopted_on_both_sides(path: &str, local: &Tree, remote: &Tree, base: &BaseTree) -> bool {
    if path.is_empty() {
        return true;
    }
    let under = format!("{path}/");
    local
        .range(path.to_string()..)
        .take_while(|(p, _)| p.as_str() == path || p.starts_with(&under) || p.starts_with(path))
        .filter(|(p, _)| p.as_str() == path || p.starts_with(&under))
        .any(|(p, _)| remote.contains_key(p) && !base.contains_key(p))
}

/// Free large trees on another thread: the pass is done, its caller should
/// not wait for 100,000 entries to be deallocated.
fn drop_in_background<T: Send + 'static>(value: T) {
    // Should no thread be had, the value is dropped right here instead.
    let _ = std::thread::Builder::new()
        .name("ferry-free".into())
        .spawn(move || {
            drop(value);
            crate::memory::trim();
        });
}
