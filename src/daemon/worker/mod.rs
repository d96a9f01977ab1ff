//! One synchronization kept in sync by itself: a tokio task that owns the
//! synchronization's journal, remote connection and watchers, decides when
//! a pass runs (local changes, a remote poll, the periodic full pass, the
//! schedule, the user) and turns each pass's outcome into a [`SyncState`].
//!
//! When a pass runs:
//! * live: after the local watcher reports changes (debounced), when the
//!   remote poll finds a change (the remote's cheap fingerprint where it has
//!   one, else every poll), and every `full_scan_interval_secs` as a safety
//!   net; a folder remote is watched like the local folder;
//! * a watched folder that does not exist yet (the first pass creates it)
//!   or went away is looked for every second and watched once it is there,
//!   followed by one more pass for what arrived before the watch;
//! * not live: every `schedule_secs`, if set;
//! * always: on "sync now", on confirm, after a failure (with backoff).
//!
//! Failures: network errors → `Offline`, retried with jittered exponential
//! backoff (changes made meanwhile go out on reconnect, since passes
//! compare the trees); refused credentials → `CredentialsRequired`, not
//! retried until the user acts; a guard → `NeedsConfirmation`, nothing runs
//! until the user confirms or cancels.
//!
//! The loop waits for one wake-up of a closed set (`Wake`: a command, watch
//! news, a missing folder to arm, the remote poll, the periodic full pass,
//! the schedule, the end of a backoff) and acts on it; when to run next is
//! [`policy`]'s, pure functions of the time and the jitter they are given.
//! Its timers are tokio's, so tests run the loop with paused time.

pub mod policy;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use policy::{ARM_EVERY, Mode, SETTLE, Timing};

use super::shared::Shared;
use crate::config::{Account, RemoteSpec, SyncConfig};
use crate::engine::{Filter, Settings, Side};
use crate::fsops::{Folder, TrashPolicy};
use crate::journal::Journal;
use crate::pass::{self as sync, PassHooks, PassOptions, Report, StopKind, SyncError, SyncJob};
use crate::protocol::status::{Event, PassSummary, Progress, RecentFile, SyncState, SyncStatus};
use crate::remote::bandwidth::Limits;
use crate::remote::{Remote, RemoteError};
use crate::watch::WatchEvent;

/// How often progress is published while a pass runs.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What the daemon asks a worker to do.
#[derive(Debug)]
pub enum Command {
    /// Run a pass now (also when paused: "sync now" runs once). The reply,
    /// if any, gets the pass's summary.
    Run {
        reply: Option<oneshot::Sender<Result<PassSummary, String>>>,
    },
    /// Plan a pass and report it; touch nothing.
    Simulate {
        reply: oneshot::Sender<Result<Report, String>>,
    },
    Pause,
    Resume,
    /// The user confirms what a guard stopped: run it with force.
    Confirm,
    /// The user cancels what a guard stopped: pause.
    Cancel,
    /// Something changed outside the watchers' view (a resolved conflict).
    Changed,
    /// Finish what runs and end.
    Stop,
}

/// The daemon's end of a worker.
pub struct WorkerHandle {
    pub tx: mpsc::UnboundedSender<Command>,
    pub status: watch::Receiver<SyncStatus>,
    pub journal: Arc<Mutex<Journal>>,
    /// The running pass's stop flag (set on shutdown).
    pub stop: Arc<AtomicBool>,
    pub task: tokio::task::JoinHandle<()>,
    /// This synchronization's own bandwidth limits, which its remote
    /// obeys: changed here, they apply to transfers in flight.
    pub bandwidth: Arc<Limits>,
}

/// Everything a worker needs to start.
pub struct Spec {
    pub config: SyncConfig,
    pub account: Option<Account>,
    /// The user chose, when adding the synchronization, to have a missing
    /// remote folder created: honoured until the first pass succeeds.
    pub create_root: bool,
}

/// A human description of a synchronization's remote (no secrets).
pub fn describe_remote(config: &SyncConfig, account: Option<&Account>) -> String {
    match (&config.remote, account) {
        (RemoteSpec::Folder { path }, _) => path.display().to_string(),
        (RemoteSpec::WebDav { path, .. }, Some(a)) => a.url_for(path),
        (RemoteSpec::WebDav { account, path }, None) => {
            format!("{path} on account {account} (missing)")
        }
    }
}

/// Start a worker. Fails only when its journal cannot be opened.
pub async fn spawn(spec: Spec, shared: Arc<Shared>) -> Result<WorkerHandle, String> {
    spawn_with(spec, shared, || rand::random_range(policy::JITTER)).await
}

/// [`spawn`] with the retries' jitter factors drawn from `jitter`.
async fn spawn_with(
    spec: Spec,
    shared: Arc<Shared>,
    jitter: fn() -> f64,
) -> Result<WorkerHandle, String> {
    let cfg = spec.config;
    let path = super::journals::journal_path(&shared.data_dir, &cfg.id);
    let journal = super::journals::open(path).await?;
    let journal = Arc::new(Mutex::new(journal));
    let status = SyncStatus {
        id: cfg.id.clone(),
        name: cfg.name.clone(),
        local: cfg.local.display().to_string(),
        remote: describe_remote(&cfg, spec.account.as_ref()),
        state: if cfg.enabled {
            SyncState::Starting
        } else {
            SyncState::Disabled
        },
        last_pass: None,
        watch_warning: None,
    };
    let (status_tx, status_rx) = watch::channel(status);
    let (tx, rx) = mpsc::unbounded_channel();
    let stop = Arc::new(AtomicBool::new(false));
    let bandwidth = Arc::new(Limits::new(&cfg.bandwidth));
    let worker = Worker {
        bandwidth: bandwidth.clone(),
        cfg,
        account: spec.account,
        create_root: spec.create_root,
        shared,
        journal: journal.clone(),
        status: Arc::new(status_tx),
        stop: stop.clone(),
        rx,
        jitter,
    };
    let task = tokio::spawn(worker.run());
    Ok(WorkerHandle {
        tx,
        status: status_rx,
        journal,
        stop,
        task,
        bandwidth,
    })
}

struct Worker {
    cfg: SyncConfig,
    /// Its own bandwidth limits (the handle's).
    bandwidth: Arc<Limits>,
    account: Option<Account>,
    /// A first pass may create the remote root (the user's choice when
    /// adding; cleared by the first pass that succeeds).
    create_root: bool,
    shared: Arc<Shared>,
    journal: Arc<Mutex<Journal>>,
    status: Arc<watch::Sender<SyncStatus>>,
    stop: Arc<AtomicBool>,
    rx: mpsc::UnboundedReceiver<Command>,
    /// The factor a retry's backoff is multiplied by (random in
    /// [`policy::JITTER`]).
    jitter: fn() -> f64,
}

/// Why the next pass runs, and how.
#[derive(Default)]
struct Pending {
    /// A pass is wanted.
    dirty: bool,
    /// The next pass may pass the guards (the user confirmed).
    force: bool,
    /// The next pass runs even though paused ("sync now").
    once: bool,
    waiters: Vec<oneshot::Sender<Result<PassSummary, String>>>,
    /// Watcher news that arrived while a pass ran (judged after it).
    seen: Vec<(Side, WatchEvent)>,
    /// Paths the watchers named since the last pass: when nothing else
    /// asks for a full pass, the next pass looks at these alone.
    paths: std::collections::BTreeSet<String>,
}

impl Pending {
    fn wanted(&self) -> bool {
        self.dirty || !self.paths.is_empty()
    }
}

/// A folder's watch: running (kept alive here), or impossible (the
/// worker polls).
enum Watched {
    Yes { _watcher: crate::watch::Watcher },
    Failed,
}

/// The folders a live synchronization watches, each with its watch once it
/// could be set up (`None`: the folder does not exist, yet or any more).
struct Watchers {
    roots: Vec<(Side, PathBuf, Option<Watched>)>,
    tx: mpsc::UnboundedSender<(Side, WatchEvent)>,
}

impl Watchers {
    /// Whether a folder is still waited for.
    fn missing(&self) -> bool {
        self.roots.iter().any(|(_, _, w)| w.is_none())
    }

    /// When to look for missing folders next.
    fn next_check(&self) -> tokio::time::Instant {
        if self.missing() {
            tokio::time::Instant::now() + ARM_EVERY
        } else {
            far_future()
        }
    }

    /// After its watcher reported trouble: if `side`'s folder is gone,
    /// drop its watch so that it is set up again when the folder is back.
    fn disarm_if_gone(&mut self, side: Side) -> bool {
        for (s, root, w) in &mut self.roots {
            if *s == side && matches!(w, Some(Watched::Yes { .. })) && !root.is_dir() {
                *w = None;
                return true;
            }
        }
        false
    }
}

/// More changed paths than this in one piece of news: just run a pass.
const NEWS_CHECK_MAX: usize = 64;

/// Why the worker's loop woke up: everything it waits for, one closed set.
enum Wake {
    /// A command from the daemon (`None`: the daemon dropped its end).
    Command(Option<Command>),
    /// News from a watcher.
    Watch(Side, WatchEvent),
    /// Time to look for a missing folder to watch.
    Arm,
    /// Time to poll the remote (live).
    Poll,
    /// Time for the periodic full pass (live).
    FullPass,
    /// Time for the scheduled pass (not live).
    Schedule,
    /// The backoff after a failure is over.
    Retry,
}

/// An instant for a wake-up that never comes (`None`).
fn or_never(at: Option<tokio::time::Instant>) -> tokio::time::Instant {
    at.unwrap_or_else(far_future)
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

impl Worker {
    fn set_state(&self, state: SyncState) {
        self.status.send_modify(|s| s.state = state);
        self.publish();
    }

    fn publish(&self) {
        let sync = self.status.borrow().clone();
        let _ = self.shared.events.send(Event::State {
            sync: Box::new(sync),
        });
    }

    async fn run(mut self) {
        if !self.cfg.enabled {
            // A disabled synchronization only answers.
            while let Some(cmd) = self.rx.recv().await {
                match cmd {
                    Command::Stop => break,
                    Command::Run { reply: Some(r) } => {
                        let _ = r.send(Err(format!("{} is disabled", self.cfg.name)));
                    }
                    Command::Simulate { reply } => {
                        let _ = reply.send(Err(format!("{} is disabled", self.cfg.name)));
                    }
                    _ => {}
                }
            }
            return;
        }
        let remote: Arc<dyn Remote> = match self.open_remote().await {
            Ok(r) => r,
            Err(state) => {
                self.set_state(state);
                // Without a remote only "stop" means anything; a changed
                // account or password restarts the worker.
                while let Some(cmd) = self.rx.recv().await {
                    match cmd {
                        Command::Stop => break,
                        Command::Run { reply: Some(r) } => {
                            let _ = r.send(Err(self.status.borrow().state.name().to_string()));
                        }
                        Command::Simulate { reply } => {
                            let _ = reply.send(Err(self.status.borrow().state.name().to_string()));
                        }
                        _ => {}
                    }
                }
                return;
            }
        };
        let filter = match Filter::new(&self.cfg.filters, &self.cfg.deselected) {
            Ok(f) => Arc::new(f.with_new_folders(self.cfg.new_folders)),
            Err(e) => {
                self.set_state(SyncState::Error {
                    reason: format!("the synchronization's filters are invalid: {e}"),
                    retry_in_secs: 0,
                });
                while let Some(cmd) = self.rx.recv().await {
                    if matches!(cmd, Command::Stop) {
                        break;
                    }
                }
                return;
            }
        };
        let job = job_of(
            &self.cfg,
            remote.clone(),
            self.journal.clone(),
            filter,
            self.hooks(),
        );

        // Watchers: the local folder, and a folder remote; their news is
        // tagged with the side it comes from. A folder that does not exist
        // yet (the first pass creates it) or that went away is watched as
        // soon as it is there.
        let (wtx, mut wrx) = mpsc::unbounded_channel::<(Side, WatchEvent)>();
        let mut roots = Vec::new();
        if self.cfg.live {
            roots.push((Side::Local, self.cfg.local.clone()));
            if let Some(r) = remote.local_root() {
                roots.push((Side::Remote, r.to_path_buf()));
            }
        }
        let mut watchers = Watchers {
            roots: roots
                .into_iter()
                .map(|(side, root)| (side, root, None))
                .collect(),
            tx: wtx,
        };
        // Watching is impossible here (not live, an error, too many
        // folders): poll instead.
        let mut degraded = !self.cfg.live;
        self.arm(&mut watchers, &mut degraded);
        let mut next_arm = watchers.next_check();

        let timing = Timing::of(&self.cfg);
        let first = timing.first(tokio::time::Instant::now());
        let mut next_poll = or_never(first.poll);
        let mut next_full = or_never(first.full);
        let mut next_schedule = or_never(first.schedule);
        let mut pending = Pending {
            // Live and scheduled synchronizations start with a pass.
            dirty: timing.starts_with_pass(),
            ..Pending::default()
        };
        let mut mode = Mode::default();
        let mut last_fingerprint: Option<String> = None;
        if !pending.dirty {
            self.set_state(SyncState::Synced);
        }

        loop {
            let may_run = mode.may_run(pending.once, tokio::time::Instant::now());
            if mode.stopping {
                break;
            }
            if pending.wanted() && may_run {
                let full = policy::full_pass(pending.dirty, pending.paths.len());
                let paths = std::mem::take(&mut pending.paths);
                // A scoped pass leaves the remote's other changes for later:
                // keep the old fingerprint so the next poll still sees them.
                let fingerprint = if full {
                    remote.fingerprint().await.ok().flatten()
                } else {
                    last_fingerprint.clone()
                };
                let force = std::mem::take(&mut pending.force);
                let opts = PassOptions {
                    dry_run: false,
                    force,
                    scope: (!full).then(|| paths.into_iter().collect()),
                    // Confirming "the remote folder does not exist" is
                    // the user's explicit choice too.
                    create_root: self.create_root || force,
                };
                pending.dirty = false;
                pending.once = false;
                let waiters = std::mem::take(&mut pending.waiters);
                let result = self
                    .pass(&job, opts, &mut pending, &mut mode, &mut wrx)
                    .await;
                if result.is_ok() {
                    // The root exists now: never create it again.
                    self.create_root = false;
                }
                // What the watchers saw meanwhile: news, or the pass's own
                // writes coming back?
                for (side, ev) in std::mem::take(&mut pending.seen) {
                    self.note(&job, side, ev, &mut pending).await;
                }
                let ok = self.settle(result, &mut pending, &mut mode, waiters);
                crate::memory::trim();
                // The pass may have created a missing folder: watch it, and
                // look once more for what arrived before the watch did.
                if watchers.missing() && self.arm(&mut watchers, &mut degraded) {
                    pending.dirty = true;
                }
                next_arm = watchers.next_check();
                if ok {
                    last_fingerprint = fingerprint;
                }
                continue;
            }
            let retry = or_never(mode.retry_wake(pending.wanted()));
            let wake = tokio::select! {
                cmd = self.rx.recv() => Wake::Command(cmd),
                Some((side, ev)) = wrx.recv() => Wake::Watch(side, ev),
                _ = tokio::time::sleep_until(next_arm) => Wake::Arm,
                _ = tokio::time::sleep_until(next_poll) => Wake::Poll,
                _ = tokio::time::sleep_until(next_full) => Wake::FullPass,
                _ = tokio::time::sleep_until(next_schedule) => Wake::Schedule,
                _ = tokio::time::sleep_until(retry) => Wake::Retry,
            };
            match wake {
                Wake::Command(None) => break,
                Wake::Command(Some(cmd)) => self.command(cmd, &job, &mut pending, &mut mode).await,
                Wake::Watch(side, ev) => {
                    if let WatchEvent::Degraded(msg) = &ev {
                        if watchers.disarm_if_gone(side) {
                            // Its folder went away: watched again when back.
                            tracing::info!(sync = %self.cfg.name, "{msg}; watching again when it is back");
                            next_arm = watchers.next_check();
                        } else {
                            tracing::warn!(sync = %self.cfg.name, "{msg}; polling instead");
                            self.status
                                .send_modify(|s| s.watch_warning = Some(msg.clone()));
                            self.publish();
                            degraded = true;
                        }
                    }
                    self.note(&job, side, ev, &mut pending).await;
                }
                Wake::Arm => {
                    if self.arm(&mut watchers, &mut degraded) {
                        pending.dirty = true;
                    }
                    next_arm = watchers.next_check();
                }
                Wake::Poll => {
                    next_poll = tokio::time::Instant::now() + timing.poll;
                    let has_folder_watch =
                        remote.local_root().is_some() && !degraded && !watchers.missing();
                    if policy::poll_blind(degraded, watchers.missing(), mode.retry_at.is_some()) {
                        pending.dirty = true;
                    } else {
                        let now = remote.fingerprint().await;
                        let now = now.as_ref().map(|fp| fp.as_deref()).map_err(|_| ());
                        if policy::poll_wants_pass(
                            now,
                            last_fingerprint.as_deref(),
                            has_folder_watch,
                        ) {
                            pending.dirty = true;
                        }
                    }
                }
                Wake::FullPass => {
                    next_full = tokio::time::Instant::now() + timing.full;
                    pending.dirty = true;
                }
                Wake::Schedule => {
                    if let Some(s) = timing.schedule {
                        next_schedule = tokio::time::Instant::now() + s;
                    }
                    pending.dirty = true;
                }
                Wake::Retry => {
                    mode.retry_at = None;
                }
            }
        }
        for w in pending.waiters.drain(..) {
            let _ = w.send(Err("Ferry is shutting down".into()));
        }
        drop(watchers);
    }

    /// Start watching the folders that exist now and are not watched yet;
    /// `true` when one was armed (a pass should then look once more: files
    /// may have arrived before the watch did). A folder that cannot be
    /// watched makes the worker poll instead (`degraded`).
    fn arm(&self, watchers: &mut Watchers, degraded: &mut bool) -> bool {
        let mut armed = false;
        for (side, root, slot) in &mut watchers.roots {
            if slot.is_some() || !root.is_dir() {
                continue;
            }
            let (tx, mut rx) = mpsc::unbounded_channel();
            let tagged = watchers.tx.clone();
            let side = *side;
            tokio::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    if tagged.send((side, ev)).is_err() {
                        break;
                    }
                }
            });
            match crate::watch::watch(root, SETTLE, tx) {
                Ok(w) => {
                    tracing::debug!(sync = %self.cfg.name, root = %root.display(), "watching");
                    *slot = Some(Watched::Yes { _watcher: w });
                    armed = true;
                }
                Err(e) => {
                    *slot = Some(Watched::Failed);
                    *degraded = true;
                    let msg = format!("cannot watch {}: {e}", root.display());
                    tracing::warn!(sync = %self.cfg.name, "{msg}; polling instead");
                    self.status.send_modify(|s| s.watch_warning = Some(msg));
                }
            }
        }
        armed
    }

    /// Take watcher news into account: paths for a scoped pass, or a full
    /// pass for lost events and the like.
    async fn note(&self, job: &SyncJob, side: Side, ev: WatchEvent, pending: &mut Pending) {
        if pending.dirty || !self.is_news(job, side, &ev).await {
            return;
        }
        match ev {
            WatchEvent::Changed(paths) if !paths.is_empty() => pending.paths.extend(
                paths
                    .iter()
                    .map(|p| crate::engine::path::nfc(p).into_owned()),
            ),
            _ => pending.dirty = true,
        }
    }

    /// Whether watcher news means a pass is needed. A changed file that is
    /// now exactly as the journal last recorded it (size and mtime; same
    /// absence) is the echo of Ferry's own write: no pass. Folders, many
    /// paths, lost events and the secure compare mode always mean a pass.
    async fn is_news(&self, job: &SyncJob, side: Side, ev: &WatchEvent) -> bool {
        let WatchEvent::Changed(paths) = ev else {
            return true;
        };
        if paths.is_empty()
            || paths.len() > NEWS_CHECK_MAX
            || self.cfg.compare == crate::engine::CompareMode::Secure
        {
            return true;
        }
        let folder = match side {
            Side::Local => job.local.clone(),
            Side::Remote => match job.remote.local_root() {
                Some(root) => Arc::new(Folder::new(root, Side::Remote, TrashPolicy::Folder)),
                None => return true,
            },
        };
        let journal = self.journal.clone();
        let paths = paths.clone();
        let check = super::journals::locked(journal, move |j| {
            paths.iter().any(|p| {
                let rel = crate::engine::path::nfc(p);
                let now = match folder.stat(&rel) {
                    Ok(now) => now,
                    Err(_) => return true,
                };
                let base = match j.base_entry(&rel) {
                    Ok(b) => b,
                    Err(_) => return true,
                };
                match (now, base) {
                    (None, None) => false,
                    (Some(n), Some(b))
                        if n.kind == crate::engine::Kind::File
                            && b.kind == crate::engine::Kind::File =>
                    {
                        let sig = match side {
                            Side::Local => &b.local,
                            Side::Remote => &b.remote,
                        };
                        n.size != sig.size || n.mtime != sig.mtime
                    }
                    _ => true,
                }
            })
        });
        let news = check.await.unwrap_or(true);
        tracing::debug!(sync = %self.cfg.name, ?side, news, "watcher news judged");
        news
    }

    /// Handle a command between passes.
    async fn command(
        &mut self,
        cmd: Command,
        job: &SyncJob,
        pending: &mut Pending,
        mode: &mut Mode,
    ) {
        match cmd {
            Command::Stop => mode.stopping = true,
            Command::Run { reply } => {
                pending.dirty = true;
                pending.once = true;
                mode.blocked = false;
                mode.retry_at = None;
                pending.waiters.extend(reply);
            }
            Command::Simulate { reply } => {
                let _ = reply.send(simulate(job).await);
            }
            Command::Pause => {
                mode.paused = true;
                self.set_state(SyncState::Paused { reason: None });
            }
            Command::Resume => {
                mode.paused = false;
                mode.confirming = false;
                mode.blocked = false;
                mode.retry_at = None;
                pending.dirty = true;
            }
            Command::Confirm => {
                if mode.confirming {
                    mode.confirming = false;
                    pending.force = true;
                    pending.dirty = true;
                    pending.once = true;
                }
            }
            Command::Cancel => {
                if mode.confirming {
                    mode.confirming = false;
                    mode.paused = true;
                    self.set_state(SyncState::Paused {
                        reason: Some(
                            "the pass a guard stopped was cancelled: resume to look again".into(),
                        ),
                    });
                }
            }
            Command::Changed => pending.dirty = true,
        }
    }

    /// Run one pass, answering commands while it runs.
    async fn pass(
        &mut self,
        job: &SyncJob,
        opts: PassOptions,
        pending: &mut Pending,
        mode: &mut Mode,
        wrx: &mut mpsc::UnboundedReceiver<(Side, WatchEvent)>,
    ) -> Result<Report, SyncError> {
        self.stop.store(mode.stopping, Ordering::Relaxed);
        // A retry of a server that could not be reached stays "offline"
        // ("retrying now") until the server answers and the pass reports
        // its plan: the icon and the alerts do not flip to "syncing" and
        // back at every attempt.
        let retrying = match &self.status.borrow().state {
            SyncState::Offline { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        self.set_state(match retrying {
            Some(reason) => SyncState::Offline {
                reason,
                retry_in_secs: 0,
            },
            None => SyncState::Syncing(Progress::default()),
        });
        let now = jiff::Zoned::now().datetime();
        let fut = sync::run_pass(job, opts, now);
        tokio::pin!(fut);
        let mut simulations = Vec::new();
        let result = loop {
            tokio::select! {
                r = &mut fut => break r,
                cmd = self.rx.recv() => match cmd {
                    None | Some(Command::Stop) => {
                        mode.stopping = true;
                        self.stop.store(true, Ordering::Relaxed);
                    }
                    Some(Command::Pause) => {
                        mode.paused = true;
                        self.stop.store(true, Ordering::Relaxed);
                    }
                    Some(Command::Resume) => {
                        mode.paused = false;
                        self.stop.store(mode.stopping, Ordering::Relaxed);
                    }
                    Some(Command::Run { reply }) => {
                        pending.dirty = true;
                        pending.waiters.extend(reply);
                    }
                    Some(Command::Simulate { reply }) => simulations.push(reply),
                    Some(Command::Changed) => pending.dirty = true,
                    Some(Command::Confirm | Command::Cancel) => {}
                },
                Some(ev) = wrx.recv() => pending.seen.push(ev),
            }
        };
        self.stop.store(false, Ordering::Relaxed);
        for reply in simulations {
            let _ = reply.send(simulate(job).await);
        }
        result
    }

    /// Turn a pass's outcome into the state; `true` when the pass completed.
    fn settle(
        &self,
        result: Result<Report, SyncError>,
        pending: &mut Pending,
        mode: &mut Mode,
        waiters: Vec<oneshot::Sender<Result<PassSummary, String>>>,
    ) -> bool {
        let (state, reply, ok) = match result {
            Ok(report) => {
                let summary = PassSummary::of(&report);
                self.status
                    .send_modify(|s| s.last_pass = Some(summary.clone()));
                let state = match report.stop_kind {
                    Some(StopKind::Credentials) => {
                        mode.blocked = true;
                        SyncState::CredentialsRequired {
                            reason: report.stopped.clone().unwrap_or_default(),
                        }
                    }
                    Some(StopKind::Offline) => {
                        pending.dirty = true;
                        self.failure(mode, report.stopped.clone().unwrap_or_default(), true)
                    }
                    Some(StopKind::NoSpace) => {
                        pending.dirty = true;
                        self.failure(mode, report.stopped.clone().unwrap_or_default(), false)
                    }
                    Some(StopKind::Stopped) => {
                        pending.dirty = true;
                        SyncState::Paused { reason: None }
                    }
                    None if !report.errors.is_empty() => {
                        pending.dirty = true;
                        let first = &report.errors[0];
                        let reason = if report.errors.len() == 1 {
                            format!("{}: {}", first.path, first.message)
                        } else {
                            format!(
                                "{} items failed; the first: {}: {}",
                                report.errors.len(),
                                first.path,
                                first.message
                            )
                        };
                        self.failure(mode, reason, false)
                    }
                    None => {
                        mode.succeeded();
                        if !report.skipped.is_empty() {
                            // Items changed while the pass ran: look again.
                            pending.dirty = true;
                        }
                        SyncState::Synced
                    }
                };
                let ok = report.stop_kind.is_none();
                (state, Ok(summary), ok)
            }
            Err(e) => {
                let message = e.to_string();
                let state = match &e {
                    SyncError::NeedsConfirmation(m) => {
                        mode.confirming = true;
                        SyncState::NeedsConfirmation { reason: m.clone() }
                    }
                    SyncError::RootMissing { .. } => {
                        mode.confirming = true;
                        SyncState::NeedsConfirmation {
                            reason: e.guard_reason().unwrap_or_else(|| message.clone()),
                        }
                    }
                    SyncError::RemoteRootAbsent { path } => {
                        mode.confirming = true;
                        SyncState::NeedsConfirmation {
                            reason: format!(
                                "the remote {path} does not exist; nothing was created. Check it for a typo; confirm to create it."
                            ),
                        }
                    }
                    SyncError::Remote(RemoteError::Auth(m)) => {
                        mode.blocked = true;
                        SyncState::CredentialsRequired { reason: m.clone() }
                    }
                    SyncError::Remote(r) => {
                        pending.dirty = true;
                        self.failure(mode, r.to_string(), is_network(r))
                    }
                    _ => {
                        pending.dirty = true;
                        self.failure(mode, message.clone(), false)
                    }
                };
                // The CLI's `--force` means nothing here: a guard waits
                // for `ferry confirm`.
                let message = match &state {
                    SyncState::NeedsConfirmation { reason } => format!(
                        "{name}: stopped, nothing was changed: {reason} `ferry confirm {name}` proceeds; `ferry confirm {name} --cancel` pauses it.",
                        name = self.cfg.name
                    ),
                    _ => message,
                };
                (state, Err(message), false)
            }
        };
        let state = if mode.paused && !matches!(state, SyncState::NeedsConfirmation { .. }) {
            SyncState::Paused { reason: None }
        } else {
            state
        };
        tracing::info!(sync = %self.cfg.name, state = state.name(), "pass done");
        self.set_state(state);
        for w in waiters {
            let _ = w.send(reply.clone());
        }
        ok
    }

    /// Schedule a retry after a failure and describe it.
    fn failure(&self, mode: &mut Mode, reason: String, offline: bool) -> SyncState {
        let delay = mode.failed(tokio::time::Instant::now(), (self.jitter)());
        tracing::warn!(sync = %self.cfg.name, offline, retry_in = ?delay, "{reason}");
        let retry_in_secs = delay.as_secs().max(1);
        if offline {
            SyncState::Offline {
                reason,
                retry_in_secs,
            }
        } else {
            SyncState::Error {
                reason,
                retry_in_secs,
            }
        }
    }

    /// The pass's progress reports → state and events.
    fn hooks(&self) -> PassHooks {
        let status = self.status.clone();
        let shared = self.shared.clone();
        let name = self.cfg.name.clone();
        let id = self.cfg.id.clone();
        struct Live {
            progress: Progress,
            started: Instant,
            published: Instant,
        }
        let live = Arc::new(Mutex::new(Live {
            progress: Progress::default(),
            started: Instant::now(),
            published: Instant::now(),
        }));
        let progress = move |p: sync::Progress| {
            let Ok(mut l) = live.lock() else { return };
            let mut publish = false;
            match p {
                sync::Progress::Planned { ops, bytes } => {
                    l.progress = Progress {
                        files_total: ops,
                        bytes_total: bytes,
                        ..Progress::default()
                    };
                    l.started = Instant::now();
                    publish = true;
                }
                sync::Progress::Done {
                    action,
                    path,
                    bytes,
                    error,
                } => {
                    l.progress.files_done += 1;
                    l.progress.bytes_done += bytes;
                    let secs = l.started.elapsed().as_secs_f64();
                    let total = l.progress.bytes_total.max(1) as f64;
                    let done = l.progress.bytes_done as f64;
                    if secs > 1.0 && done > 0.0 {
                        l.progress.eta_secs = Some(((total - done).max(0.0) * secs / done) as u64);
                    }
                    if l.published.elapsed() >= PROGRESS_EVERY
                        || l.progress.files_done == l.progress.files_total
                    {
                        publish = true;
                    }
                    if error.is_none() && matches!(action, "upload" | "download") {
                        if let Ok(mut r) = shared.recent.lock() {
                            r.push_front(RecentFile {
                                sync: id.clone(),
                                path: path.clone(),
                                action: action.to_string(),
                                time: jiff::Timestamp::now().to_string(),
                            });
                            r.truncate(super::shared::RECENT_FILES);
                        }
                    }
                    let _ = shared.events.send(Event::Transfer {
                        sync: name.clone(),
                        action: action.to_string(),
                        path,
                        bytes,
                        error,
                    });
                }
            }
            if publish {
                l.published = Instant::now();
                let p = l.progress.clone();
                status.send_modify(|s| s.state = SyncState::Syncing(p));
                let sync = status.borrow().clone();
                let _ = shared.events.send(Event::State {
                    sync: Box::new(sync),
                });
            }
        };
        PassHooks {
            progress: Some(Arc::new(progress)),
            stop: Some(self.stop.clone()),
        }
    }

    /// Connect the remote; the state to show when that is not possible.
    async fn open_remote(&self) -> Result<Arc<dyn Remote>, SyncState> {
        open_remote(
            &self.cfg,
            self.account.as_ref(),
            &self.shared,
            &self.bandwidth,
        )
        .await
    }
}

/// Connect a synchronization's remote (a WebDAV one with its account's
/// password from the keyring); the state to show when that is not possible.
/// A WebDAV remote obeys the synchronization's bandwidth limits `own` and
/// the global ones; a folder remote none (limits are for the network).
async fn open_remote(
    cfg: &SyncConfig,
    account: Option<&Account>,
    shared: &Shared,
    own: &Limits,
) -> Result<Arc<dyn Remote>, SyncState> {
    match &cfg.remote {
        RemoteSpec::Folder { path } => Ok(Arc::new(crate::remote::folder::FolderRemote::new(
            path.clone(),
        ))),
        RemoteSpec::WebDav { account: id, path } => {
            let Some(acc) = account.cloned() else {
                return Err(SyncState::Error {
                    reason: format!("the account {id} does not exist (any more)"),
                    retry_in_secs: 0,
                });
            };
            let secrets = shared.secrets.clone();
            let key = acc.secret_key();
            let password =
                tokio::task::spawn_blocking(move || secrets.get(crate::secrets::SERVICE, &key))
                    .await
                    .map_err(|e| SyncState::Error {
                        reason: e.to_string(),
                        retry_in_secs: 0,
                    })?;
            let password = match password {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(SyncState::CredentialsRequired {
                        reason: format!(
                            "no {} stored for {} at {}: add the account again",
                            acc.secret.noun(),
                            acc.user,
                            acc.url
                        ),
                    });
                }
                Err(e) => {
                    return Err(SyncState::CredentialsRequired {
                        reason: format!("the keyring could not be read: {e}"),
                    });
                }
            };
            let mut options = crate::remote::webdav::Options::for_account(
                Some(crate::remote::webdav::Credentials {
                    user: acc.user.clone(),
                    password,
                    kind: acc.secret,
                }),
                shared.ca_file.clone(),
                shared.timeout,
            );
            options.bandwidth = Limits::throttles(own, &shared.bandwidth);
            crate::remote::webdav::WebDav::new(&acc.url_for(path), options)
                .map(|w| Arc::new(w) as Arc<dyn Remote>)
                .map_err(|e| SyncState::Error {
                    reason: e.to_string(),
                    retry_in_secs: 0,
                })
        }
    }
}

/// A dry run: what a pass would do now. A dry run goes on past a guard;
/// the report says which one would make the pass wait for a confirmation.
async fn simulate(job: &SyncJob) -> Result<Report, String> {
    let opts = PassOptions {
        dry_run: true,
        force: false,
        scope: None,
        create_root: true,
    };
    sync::run_pass(job, opts, jiff::Zoned::now().datetime())
        .await
        .map_err(|e| e.to_string())
}

/// The pass job of a synchronization: its local folder, `remote`, journal,
/// settings and filter.
fn job_of(
    cfg: &SyncConfig,
    remote: Arc<dyn Remote>,
    journal: Arc<Mutex<Journal>>,
    filter: Arc<Filter>,
    hooks: PassHooks,
) -> SyncJob {
    SyncJob {
        name: cfg.name.clone(),
        local: Arc::new(Folder::new(cfg.local.clone(), Side::Local, TrashPolicy::Os)),
        remote,
        journal,
        settings: Settings {
            direction: cfg.direction,
            conflict: cfg.conflict,
            compare: cfg.compare,
            guards: cfg.guards,
            times_kept: false,
        },
        filter,
        concurrency: 4,
        hooks,
    }
}

/// What the first pass of a synchronization that is not added yet would do
/// (the setup assistant's last page): a dry run against an empty journal
/// at `journal_path` (a scratch file the caller removes), with no worker,
/// no watcher and nothing written to either folder. `create_root`: the
/// synchronization will be added asking for a missing remote folder to be
/// created (else the report says the pass would wait for a confirmation).
pub async fn dry_run(
    cfg: &SyncConfig,
    account: Option<&Account>,
    shared: &Shared,
    journal_path: PathBuf,
    create_root: bool,
) -> Result<Report, String> {
    let remote = open_remote(cfg, account, shared, &Limits::new(&cfg.bandwidth))
        .await
        .map_err(|state| match state {
            SyncState::CredentialsRequired { reason } | SyncState::Error { reason, .. } => reason,
            other => other.name().to_string(),
        })?;
    let filter = Filter::new(&cfg.filters, &cfg.deselected)
        .map_err(|e| format!("the filters are invalid: {e}"))?;
    let journal = super::journals::open(journal_path).await?;
    let job = job_of(
        cfg,
        remote,
        Arc::new(Mutex::new(journal)),
        Arc::new(filter),
        PassHooks::default(),
    );
    let opts = PassOptions {
        dry_run: true,
        force: false,
        scope: None,
        create_root,
    };
    sync::run_pass(&job, opts, jiff::Zoned::now().datetime())
        .await
        .map_err(|e| e.to_string())
}

/// Whether an error means "the server cannot be reached" (offline) rather
/// than "the server said no".
fn is_network(e: &RemoteError) -> bool {
    matches!(e, RemoteError::Unreachable(_))
}
