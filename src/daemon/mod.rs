//! The daemon: one process that keeps every configured synchronization in
//! sync by itself, and the operations the loopback API exposes.
//!
//! It owns the configuration while it runs (every change is load → modify →
//! save, so an edit made by `ferry account add` with no daemon running is
//! never lost), one [`worker`] task per synchronization, the event bus that
//! `/api/events` streams, and the "recent files" list.
//!
//! [`run`] is `ferry daemon`: a single-instance lock in the data folder, a
//! tokio runtime, the API on 127.0.0.1 and a random port (written with its
//! token to `api.port`), and a graceful shutdown on SIGINT/SIGTERM: passes
//! start no new op, running ops get a grace period, interrupted downloads
//! keep their partial file and resume on the next start.

pub mod state;
pub mod worker;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};

use crate::config::{Account, Config, RemoteSpec, SyncConfig};
use crate::secrets::{SERVICE, SecretStore};
use state::{Event, PassSummary, RecentFile, SyncState, SyncStatus};
use worker::{Command, Spec, WorkerHandle};

/// How many recent files are kept.
pub const RECENT_FILES: usize = 20;
/// How long running ops may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the workers share.
pub struct Shared {
    pub data_dir: PathBuf,
    pub events: broadcast::Sender<Event>,
    pub recent: Mutex<VecDeque<RecentFile>>,
    pub secrets: Arc<dyn SecretStore>,
    /// An extra CA certificate for every WebDAV connection.
    pub ca_file: Option<PathBuf>,
    /// WebDAV request timeout.
    pub timeout: Duration,
}

/// An operation the API asked for failed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Internal(String),
    /// A pass asked for did not run or did not finish, for a reason the
    /// caller tells apart (the CLI's exit status): `code` is
    /// `needs_confirmation`, `disabled`, `offline` or `credentials_required`.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
}

type Result<T> = std::result::Result<T, DaemonError>;

fn internal(e: impl std::fmt::Display) -> DaemonError {
    DaemonError::Internal(e.to_string())
}

/// The running daemon.
pub struct Daemon {
    config_dir: PathBuf,
    shared: Arc<Shared>,
    /// Serialises configuration changes.
    config: tokio::sync::Mutex<Config>,
    workers: tokio::sync::Mutex<BTreeMap<String, WorkerHandle>>,
    /// Synchronizations whose worker could not start, with why.
    broken: Mutex<BTreeMap<String, SyncStatus>>,
    /// A configuration found corrupt and set aside (what `ferry status`
    /// shows until the daemon restarts).
    config_warnings: Mutex<Vec<String>>,
}

/// How to start a daemon.
pub struct Options {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub secrets: Arc<dyn SecretStore>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// A new synchronization, as the API receives it: the settings of
/// [`SyncConfig`] with `id` left out.
#[derive(Debug, Deserialize)]
pub struct NewSync {
    pub name: String,
    pub local: PathBuf,
    pub remote: RemoteSpec,
    /// Create the remote folder if it does not exist: the first pass does
    /// it (and only the first). Without it, a missing remote folder puts the
    /// synchronization in "needs confirmation" and nothing is created.
    #[serde(default)]
    pub create_remote_root: bool,
    #[serde(flatten)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// Which version a conflict resolution keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The local version (the conflicted copy) replaces the other.
    Local,
    /// The remote version stays; the conflicted copy goes to the trash.
    Remote,
    /// Keep both files as they are.
    Both,
}

/// A conflict as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Conflict {
    pub sync: String,
    pub id: i64,
    /// RFC 3339.
    pub time: String,
    pub path: String,
    /// The conflicted copy holding the local version, if one was kept.
    pub copy: Option<String>,
    pub policy: String,
}

/// A transfer-log query.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogQuery {
    pub sync: Option<String>,
    pub action: Option<String>,
    pub search: Option<String>,
    #[serde(default)]
    pub offset: usize,
    pub limit: Option<usize>,
}

/// A transfer-log line as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    pub sync: String,
    /// RFC 3339.
    pub time: String,
    pub action: String,
    pub path: String,
    pub bytes: u64,
    pub result: String,
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl Daemon {
    /// Load the configuration and start a worker per synchronization.
    pub async fn start(opts: Options) -> anyhow::Result<Arc<Daemon>> {
        let (config, warning) = Config::load(&opts.config_dir)?;
        if let Some(w) = &warning {
            tracing::warn!("{w}");
        }
        let (events, _) = broadcast::channel(1024);
        let daemon = Arc::new(Daemon {
            config_dir: opts.config_dir,
            shared: Arc::new(Shared {
                data_dir: opts.data_dir,
                events,
                recent: Mutex::new(VecDeque::new()),
                secrets: opts.secrets,
                ca_file: opts.ca_file,
                timeout: opts.timeout,
            }),
            config: tokio::sync::Mutex::new(config.clone()),
            workers: tokio::sync::Mutex::new(BTreeMap::new()),
            broken: Mutex::new(BTreeMap::new()),
            config_warnings: Mutex::new(warning.iter().map(|w| w.to_string()).collect()),
        });
        for sync in &config.syncs {
            daemon.start_worker(&config, sync).await;
        }
        Ok(daemon)
    }

    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    /// Subscribe to state changes and transfers.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.shared.events.subscribe()
    }

    async fn start_worker(&self, config: &Config, sync: &SyncConfig) {
        self.start_worker_with(config, sync, false).await;
    }

    /// Start a worker; `create_root`: its first pass may create a missing
    /// remote folder (the user asked for it when adding).
    async fn start_worker_with(&self, config: &Config, sync: &SyncConfig, create_root: bool) {
        let account = sync.account().and_then(|a| config.account(a)).cloned();
        let spec = Spec {
            config: sync.clone(),
            account: account.clone(),
            create_root,
        };
        match worker::spawn(spec, self.shared.clone()).await {
            Ok(handle) => {
                self.workers.lock().await.insert(sync.id.clone(), handle);
                if let Ok(mut b) = self.broken.lock() {
                    b.remove(&sync.id);
                }
            }
            Err(reason) => {
                tracing::error!(sync = %sync.name, "cannot start: {reason}");
                if let Ok(mut b) = self.broken.lock() {
                    b.insert(
                        sync.id.clone(),
                        SyncStatus {
                            id: sync.id.clone(),
                            name: sync.name.clone(),
                            local: sync.local.display().to_string(),
                            remote: worker::describe_remote(sync, account.as_ref()),
                            state: SyncState::Error {
                                reason,
                                retry_in_secs: 0,
                            },
                            last_pass: None,
                            watch_warning: None,
                        },
                    );
                }
            }
        }
    }

    async fn stop_worker(&self, id: &str) {
        let handle = self.workers.lock().await.remove(id);
        if let Some(h) = handle {
            h.stop.store(true, Ordering::Relaxed);
            let _ = h.tx.send(Command::Stop);
            let abort = h.task.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, h.task).await.is_err() {
                tracing::warn!(sync = id, "did not stop in time; aborted");
                abort.abort();
            }
        }
        if let Ok(mut b) = self.broken.lock() {
            b.remove(id);
        }
    }

    /// Stop every worker (shutdown).
    pub async fn shutdown(&self) {
        let ids: Vec<String> = self.workers.lock().await.keys().cloned().collect();
        let stops = ids.iter().map(|id| self.stop_worker(id));
        futures_util::future::join_all(stops).await;
    }

    /// Load the file, apply `change`, save; the new configuration.
    async fn change_config<T>(
        &self,
        change: impl FnOnce(&mut Config) -> Result<T>,
    ) -> Result<(Config, T)> {
        let mut current = self.config.lock().await;
        let (mut config, warning) = Config::load(&self.config_dir).map_err(internal)?;
        if let Some(w) = warning {
            tracing::warn!("{w}");
            if let Ok(mut ws) = self.config_warnings.lock() {
                ws.push(w.to_string());
            }
        }
        let out = change(&mut config)?;
        config.save(&self.config_dir).map_err(internal)?;
        *current = config.clone();
        let _ = self.shared.events.send(Event::Config);
        Ok((config, out))
    }

    /// The configuration as it stands.
    pub async fn config(&self) -> Config {
        self.config.lock().await.clone()
    }

    // ----------------------------------------------------------- status --

    /// Every synchronization's status, in configuration order.
    pub async fn statuses(&self) -> Vec<SyncStatus> {
        let config = self.config().await;
        let workers = self.workers.lock().await;
        let broken = self.broken.lock().map(|b| b.clone()).unwrap_or_default();
        config
            .syncs
            .iter()
            .filter_map(|s| {
                workers
                    .get(&s.id)
                    .map(|w| w.status.borrow().clone())
                    .or_else(|| broken.get(&s.id).cloned())
            })
            .collect()
    }

    /// Find a synchronization by id or name.
    pub async fn find(&self, id_or_name: &str) -> Result<SyncConfig> {
        self.config()
            .await
            .find_sync(id_or_name)
            .cloned()
            .ok_or_else(|| DaemonError::NotFound(format!("no synchronization {id_or_name:?}")))
    }

    pub async fn status(&self, id_or_name: &str) -> Result<SyncStatus> {
        let sync = self.find(id_or_name).await?;
        self.statuses()
            .await
            .into_iter()
            .find(|s| s.id == sync.id)
            .ok_or_else(|| DaemonError::NotFound(format!("{} is not running", sync.name)))
    }

    /// What went wrong with the configuration file since the daemon
    /// started (a corrupt file set aside).
    pub fn config_warnings(&self) -> Vec<String> {
        self.config_warnings
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    /// Whether a synchronization has never synchronized anything: no pass
    /// finished since the daemon started, and its journal holds no item and
    /// no log line.
    pub async fn never_ran(&self, status: &SyncStatus) -> bool {
        if status.last_pass.is_some() {
            return false;
        }
        self.with_journal(&status.id, |j| {
            Ok(j.base_len()? == 0 && j.log_page(None, None, 1, 0)?.is_empty())
        })
        .await
        .unwrap_or(false)
    }

    pub fn recent(&self) -> Vec<RecentFile> {
        self.shared
            .recent
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    // ----------------------------------------------------------- syncs --

    /// Create a synchronization (and start it).
    pub async fn add_sync(&self, new: NewSync) -> Result<SyncConfig> {
        let mut value = serde_json::Value::Object(new.settings);
        value["id"] = serde_json::Value::String(String::new());
        value["name"] = serde_json::Value::String(new.name.clone());
        value["local"] = serde_json::to_value(&new.local).map_err(internal)?;
        value["remote"] = serde_json::to_value(&new.remote).map_err(internal)?;
        let mut sync: SyncConfig = serde_json::from_value(value)
            .map_err(|e| DaemonError::BadRequest(format!("invalid synchronization: {e}")))?;
        normalize_sync(&mut sync)?;
        self.check_sync(&sync).await?;
        let (config, id) = self
            .change_config(|c| {
                if c.syncs.iter().any(|s| s.name == sync.name) {
                    return Err(DaemonError::Conflict(format!(
                        "a synchronization named {:?} exists already",
                        sync.name
                    )));
                }
                c.add_sync(sync)
                    .map_err(|e| DaemonError::BadRequest(e.to_string()))
            })
            .await?;
        let sync = config
            .sync(&id)
            .cloned()
            .ok_or_else(|| internal("the new synchronization vanished"))?;
        self.start_worker_with(&config, &sync, new.create_remote_root)
            .await;
        Ok(sync)
    }

    async fn check_sync(&self, sync: &SyncConfig) -> Result<()> {
        if !sync.local.is_absolute() {
            return Err(DaemonError::BadRequest(format!(
                "the local folder must be an absolute path: {}",
                sync.local.display()
            )));
        }
        crate::engine::Filter::new(&sync.filters, &sync.deselected)
            .map_err(|e| DaemonError::BadRequest(format!("invalid filter: {e}")))?;
        match &sync.remote {
            RemoteSpec::Folder { path } => {
                if !path.is_absolute() {
                    return Err(DaemonError::BadRequest(format!(
                        "the remote folder must be an absolute path: {}",
                        path.display()
                    )));
                }
                if path.starts_with(&sync.local) || sync.local.starts_with(path) {
                    return Err(DaemonError::BadRequest(format!(
                        "the local folder and the remote folder must not contain each other: {} and {}",
                        sync.local.display(),
                        path.display()
                    )));
                }
            }
            RemoteSpec::WebDav { account, .. } => {
                if self.config().await.account(account).is_none() {
                    return Err(DaemonError::BadRequest(format!(
                        "no account {account:?}: add it first"
                    )));
                }
            }
        }
        let config = self.config().await;
        for other in config.syncs.iter().filter(|s| s.id != sync.id) {
            if other.local.starts_with(&sync.local) || sync.local.starts_with(&other.local) {
                return Err(DaemonError::Conflict(format!(
                    "{} overlaps the local folder of {:?} ({})",
                    sync.local.display(),
                    other.name,
                    other.local.display()
                )));
            }
        }
        Ok(())
    }

    /// Change a synchronization's settings (a JSON merge of `patch` into
    /// it; `id` cannot change) and restart it.
    pub async fn update_sync(
        &self,
        id_or_name: &str,
        patch: serde_json::Value,
    ) -> Result<SyncConfig> {
        let current = self.find(id_or_name).await?;
        let mut value = serde_json::to_value(&current).map_err(internal)?;
        let serde_json::Value::Object(patch) = patch else {
            return Err(DaemonError::BadRequest("expected a JSON object".into()));
        };
        for (k, v) in patch {
            if k == "id" {
                continue;
            }
            value[k] = v;
        }
        let mut updated: SyncConfig = serde_json::from_value(value)
            .map_err(|e| DaemonError::BadRequest(format!("invalid synchronization: {e}")))?;
        normalize_sync(&mut updated)?;
        self.check_sync(&updated).await?;
        self.check_same_places(&current, &updated).await?;
        let id = current.id.clone();
        let to_save = updated.clone();
        let (config, ()) = self
            .change_config(move |c| {
                let s = c
                    .sync_mut(&id)
                    .ok_or_else(|| DaemonError::NotFound(format!("no synchronization {id:?}")))?;
                *s = to_save;
                Ok(())
            })
            .await?;
        self.stop_worker(&current.id).await;
        self.start_worker(&config, &updated).await;
        Ok(updated)
    }

    /// A synchronization keeps its folders: its journal (the base) says
    /// what was in sync *there*. With it, a pass on other folders would
    /// take every item the new place lacks for a deletion on that side
    /// (and delete it on the other). A fresh journal instead would turn
    /// the change into a first pass of two unrelated folders behind the
    /// user's back, and drop the old history; removing the synchronization
    /// and adding it again does the same knowingly, so that is what the
    /// refusal asks for. Another account is a change of place unless it
    /// names the same server URL and user.
    async fn check_same_places(&self, current: &SyncConfig, updated: &SyncConfig) -> Result<()> {
        let refuse = |what: &str, from: String, to: String| {
            Err(DaemonError::BadRequest(format!(
                "the {what} of a synchronization cannot be changed ({from} → {to}): its journal records what was in sync in the old place, and a pass on the new one would delete what that place lacks. Remove the synchronization and add it again with the new folder (both folders are kept as they are)."
            )))
        };
        if current.local != updated.local {
            return refuse(
                "local folder",
                current.local.display().to_string(),
                updated.local.display().to_string(),
            );
        }
        match (&current.remote, &updated.remote) {
            (RemoteSpec::Folder { path: a }, RemoteSpec::Folder { path: b }) if a == b => Ok(()),
            (
                RemoteSpec::WebDav {
                    account: a,
                    path: pa,
                },
                RemoteSpec::WebDav {
                    account: b,
                    path: pb,
                },
            ) if pa == pb => {
                if a == b {
                    return Ok(());
                }
                let config = self.config().await;
                let server = |id: &str| {
                    config
                        .account(id)
                        .map(|acc| (acc.url.clone(), acc.user.clone()))
                };
                match (server(a), server(b)) {
                    (Some(x), Some(y)) if x == y => Ok(()),
                    _ => refuse(
                        "remote folder",
                        format!("account {a}"),
                        format!("account {b}"),
                    ),
                }
            }
            (from, to) => refuse("remote folder", describe_remote(from), describe_remote(to)),
        }
    }

    /// Remove a synchronization: stop it, forget it, delete its journal.
    /// Both folders stay as they are.
    pub async fn remove_sync(&self, id_or_name: &str) -> Result<SyncConfig> {
        let sync = self.find(id_or_name).await?;
        self.stop_worker(&sync.id).await;
        // Its recent files go with it.
        if let Ok(mut recent) = self.shared.recent.lock() {
            recent.retain(|r| r.sync != sync.id);
        }
        let id = sync.id.clone();
        self.change_config(move |c| {
            c.remove_sync(&id)
                .map(|_| ())
                .ok_or_else(|| DaemonError::NotFound(format!("no synchronization {id:?}")))
        })
        .await?;
        let path = worker::journal_path(&self.shared.data_dir, &sync.id);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        Ok(sync)
    }

    async fn send(&self, id: &str, cmd: Command) -> Result<()> {
        let workers = self.workers.lock().await;
        let w = workers
            .get(id)
            .ok_or_else(|| DaemonError::Conflict(format!("{id} is not running")))?;
        w.tx.send(cmd)
            .map_err(|_| DaemonError::Conflict(format!("{id} is stopping")))
    }

    /// Run a pass of one synchronization now; with `wait`, its summary.
    pub async fn run(&self, id_or_name: &str, wait: bool) -> Result<Option<PassSummary>> {
        let sync = self.find(id_or_name).await?;
        if !sync.enabled {
            return Err(DaemonError::Refused {
                code: "disabled",
                message: format!(
                    "{} is disabled: `ferry enable {}` turns it on",
                    sync.name, sync.name
                ),
            });
        }
        if !wait {
            self.send(&sync.id, Command::Run { reply: None }).await?;
            return Ok(None);
        }
        let (tx, rx) = oneshot::channel();
        self.send(&sync.id, Command::Run { reply: Some(tx) })
            .await?;
        match rx.await {
            Ok(Ok(summary)) => Ok(Some(summary)),
            Ok(Err(e)) => Err(self.refusal(&sync.id, e).await),
            Err(_) => Err(internal("the synchronization stopped")),
        }
    }

    /// Why a pass of `id` failed, told apart by the state it left (the
    /// worker sets its state before it answers).
    async fn refusal(&self, id: &str, message: String) -> DaemonError {
        let code = match self.status(id).await.map(|s| s.state) {
            Ok(SyncState::NeedsConfirmation { .. }) => "needs_confirmation",
            Ok(SyncState::CredentialsRequired { .. }) => "credentials_required",
            Ok(SyncState::Offline { .. }) => "offline",
            _ => return DaemonError::Conflict(message),
        };
        DaemonError::Refused { code, message }
    }

    /// Run every enabled synchronization: one after the other, or all at
    /// once (`parallel`). With `wait`, each one's outcome.
    pub async fn run_all(
        &self,
        parallel: Option<bool>,
        wait: bool,
    ) -> Result<Vec<(String, std::result::Result<PassSummary, DaemonError>)>> {
        let config = self.config().await;
        let parallel = parallel.unwrap_or(config.settings.start_all_parallel);
        let syncs: Vec<SyncConfig> = config.syncs.into_iter().filter(|s| s.enabled).collect();
        let one = |s: SyncConfig| async move {
            let r = match self.run(&s.id, true).await {
                Ok(Some(summary)) => Ok(summary),
                Ok(None) => Err(internal("no outcome")),
                Err(e) => Err(e),
            };
            (s.name, r)
        };
        if !wait && parallel {
            for s in &syncs {
                self.send(&s.id, Command::Run { reply: None }).await?;
            }
            return Ok(Vec::new());
        }
        if parallel {
            return Ok(futures_util::future::join_all(syncs.into_iter().map(one)).await);
        }
        let mut out = Vec::new();
        for s in syncs {
            out.push(one(s).await);
        }
        Ok(out)
    }

    /// Pause one synchronization, or all.
    pub async fn pause(&self, id_or_name: Option<&str>) -> Result<()> {
        self.each(id_or_name, || Command::Pause).await
    }

    pub async fn resume(&self, id_or_name: Option<&str>) -> Result<()> {
        self.each(id_or_name, || Command::Resume).await
    }

    async fn each(&self, id_or_name: Option<&str>, cmd: impl Fn() -> Command) -> Result<()> {
        match id_or_name {
            Some(name) => {
                let sync = self.find(name).await?;
                self.send(&sync.id, cmd()).await
            }
            None => {
                for w in self.workers.lock().await.values() {
                    let _ = w.tx.send(cmd());
                }
                Ok(())
            }
        }
    }

    /// Proceed with what a guard stopped.
    pub async fn confirm(&self, id_or_name: &str) -> Result<()> {
        let status = self.status(id_or_name).await?;
        if !matches!(status.state, SyncState::NeedsConfirmation { .. }) {
            return Err(DaemonError::Conflict(format!(
                "{} is not waiting for a confirmation",
                status.name
            )));
        }
        self.send(&status.id, Command::Confirm).await
    }

    /// Do not proceed: the synchronization is paused.
    pub async fn cancel(&self, id_or_name: &str) -> Result<()> {
        let status = self.status(id_or_name).await?;
        if !matches!(status.state, SyncState::NeedsConfirmation { .. }) {
            return Err(DaemonError::Conflict(format!(
                "{} is not waiting for a confirmation",
                status.name
            )));
        }
        self.send(&status.id, Command::Cancel).await
    }

    /// What a pass would do now (nothing is touched).
    pub async fn simulate(&self, id_or_name: &str) -> Result<crate::sync::Report> {
        let sync = self.find(id_or_name).await?;
        let (tx, rx) = oneshot::channel();
        self.send(&sync.id, Command::Simulate { reply: tx }).await?;
        match rx.await {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(DaemonError::Conflict(e)),
            Err(_) => Err(internal("the synchronization stopped")),
        }
    }

    // --------------------------------------------------------- journals --

    async fn with_journal<T: Send + 'static>(
        &self,
        sync_id: &str,
        f: impl FnOnce(&crate::journal::Journal) -> crate::journal::Result<T> + Send + 'static,
    ) -> Result<T> {
        let shared = self
            .workers
            .lock()
            .await
            .get(sync_id)
            .map(|w| w.journal.clone());
        let path = worker::journal_path(&self.shared.data_dir, sync_id);
        tokio::task::spawn_blocking(move || match shared {
            Some(j) => {
                let j = j.lock().map_err(internal)?;
                f(&j).map_err(internal)
            }
            None => {
                let j = crate::journal::Journal::open(&path).map_err(internal)?;
                f(&j).map_err(internal)
            }
        })
        .await
        .map_err(internal)?
    }

    /// The transfer log, newest first.
    pub async fn log(&self, q: LogQuery) -> Result<Vec<LogEntry>> {
        let syncs = match &q.sync {
            Some(s) => vec![self.find(s).await?],
            None => self.config().await.syncs,
        };
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let mut all = Vec::new();
        for s in syncs {
            let (action, search) = (q.action.clone(), q.search.clone());
            // Enough rows of each to fill the page after merging.
            let want = q.offset + limit;
            let rows = self
                .with_journal(&s.id, move |j| {
                    j.log_page(action.as_deref(), search.as_deref(), want, 0)
                })
                .await?;
            all.extend(rows.into_iter().map(|r| (r.time, s.name.clone(), r)));
        }
        all.sort_by_key(|r| std::cmp::Reverse(r.0));
        Ok(all
            .into_iter()
            .skip(q.offset)
            .take(limit)
            .map(|(_, sync, r)| LogEntry {
                sync,
                time: rfc3339(r.time),
                action: r.action,
                path: r.path,
                bytes: r.bytes,
                result: r.result,
            })
            .collect())
    }

    /// Open conflicts of every synchronization.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut out = Vec::new();
        for s in self.config().await.syncs {
            let rows = self.with_journal(&s.id, |j| j.open_conflicts()).await?;
            out.extend(rows.into_iter().map(|(id, c)| Conflict {
                sync: s.name.clone(),
                id,
                time: rfc3339(c.time),
                path: c.path,
                copy: c.copy,
                policy: c.policy,
            }));
        }
        Ok(out)
    }

    /// Resolve a conflict: keep the local version (the conflicted copy
    /// replaces the file; the replaced version goes to the trash), the
    /// remote one (the copy goes to the trash), or both (as they are).
    /// The next pass carries the choice to the other side.
    pub async fn resolve(&self, sync: &str, id: i64, keep: Keep) -> Result<()> {
        let sync = self.find(sync).await?;
        let conflict = self
            .with_journal(&sync.id, |j| j.open_conflicts())
            .await?
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| c)
            .ok_or_else(|| DaemonError::NotFound(format!("no open conflict {id}")))?;
        if keep != Keep::Both {
            let Some(copy) = conflict.copy.clone() else {
                return Err(DaemonError::Conflict(
                    "this conflict kept no copy (a policy chose the winner; the loser is in the trash)".into(),
                ));
            };
            let folder = crate::fsops::Folder::new(
                sync.local.clone(),
                crate::engine::Side::Local,
                crate::fsops::TrashPolicy::Os,
            );
            let path = conflict.path.clone();
            tokio::task::spawn_blocking(move || -> Result<()> {
                let none = crate::engine::Filter::new(&[], &[]).map_err(internal)?;
                let copy_entry = folder.stat(&copy).map_err(internal)?.ok_or_else(|| {
                    DaemonError::Conflict(format!("the conflicted copy {copy} is gone"))
                })?;
                if copy_entry.kind != crate::engine::Kind::File {
                    return Err(DaemonError::Conflict(format!(
                        "{copy} is a folder: resolve it by hand"
                    )));
                }
                match keep {
                    Keep::Remote => folder
                        .delete(&copy, &copy_entry, &[], &none)
                        .map_err(internal),
                    Keep::Local => {
                        if let Some(current) = folder.stat(&path).map_err(internal)? {
                            if current.kind != crate::engine::Kind::File {
                                return Err(DaemonError::Conflict(format!(
                                    "{path} is a folder now: resolve it by hand"
                                )));
                            }
                            folder
                                .delete(&path, &current, &[], &none)
                                .map_err(internal)?;
                        }
                        folder
                            .rename(&copy, &path, &copy_entry)
                            .map(|_| ())
                            .map_err(internal)
                    }
                    Keep::Both => Ok(()),
                }
            })
            .await
            .map_err(internal)??;
        }
        self.with_journal(&sync.id, move |j| j.resolve_conflict(id))
            .await?;
        let _ = self.send(&sync.id, Command::Changed).await;
        Ok(())
    }

    /// Why an item is as it is: which synchronization it belongs to, the
    /// rule that excludes it (if one does), what was last in sync, what is
    /// on disk, its open conflicts and its latest log lines.
    pub async fn why(&self, path: &Path) -> Result<serde_json::Value> {
        let config = self.config().await;
        let Some((sync, rel)) = config.syncs.iter().find_map(|s| {
            path.strip_prefix(&s.local)
                .ok()
                .map(|r| (s.clone(), r.to_string_lossy().replace('\\', "/")))
        }) else {
            return Err(DaemonError::NotFound(format!(
                "{} is not inside any synchronized folder",
                path.display()
            )));
        };
        let rel = crate::engine::path::nfc(&rel).into_owned();
        let folder = crate::fsops::Folder::new(
            sync.local.clone(),
            crate::engine::Side::Local,
            crate::fsops::TrashPolicy::Os,
        );
        let on_disk = if rel.is_empty() {
            None
        } else {
            folder.stat(&rel).map_err(internal)?
        };
        let filter = crate::engine::Filter::new(&sync.filters, &sync.deselected)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        let excluded = on_disk
            .as_ref()
            .and_then(|e| filter.excluded_path(&rel, e.kind, e.size))
            .or_else(|| {
                if on_disk.is_none() {
                    filter.excluded_path(&rel, crate::engine::Kind::File, 0)
                } else {
                    None
                }
            });
        let r = rel.clone();
        let base = self
            .with_journal(&sync.id, move |j| j.base_entry(&r))
            .await?;
        let r = rel.clone();
        let log = self
            .with_journal(&sync.id, move |j| j.log_page(None, Some(&r), 50, 0))
            .await?
            .into_iter()
            .filter(|l| l.path == rel || l.path.starts_with(&format!("{rel}/")))
            .take(10)
            .map(|r| LogEntry {
                sync: sync.name.clone(),
                time: rfc3339(r.time),
                action: r.action,
                path: r.path,
                bytes: r.bytes,
                result: r.result,
            })
            .collect::<Vec<_>>();
        let conflicts: Vec<Conflict> = self
            .conflicts()
            .await?
            .into_iter()
            .filter(|c| c.sync == sync.name && (c.path == rel || c.copy.as_deref() == Some(&rel)))
            .collect();
        let status = self.status(&sync.id).await.ok();
        let verdict = if let Some(rule) = &excluded {
            format!("not synchronized: excluded ({rule})")
        } else if !conflicts.is_empty() {
            "in conflict: see `ferry conflicts`".to_string()
        } else {
            match (&on_disk, &base) {
                _ if rel.is_empty() => format!(
                    "the folder of the synchronization {}: `ferry status` tells its state",
                    sync.name
                ),
                // A folder has no content of its own to compare: its
                // size and time change with what is inside.
                (Some(now), Some(b))
                    if now.kind == crate::engine::Kind::Dir
                        && b.kind == crate::engine::Kind::Dir =>
                {
                    "in sync (a folder; `ferry why` on an item inside it tells about that item)"
                        .to_string()
                }
                (Some(now), Some(b)) if now.size == b.local.size && now.mtime == b.local.mtime => {
                    "in sync".to_string()
                }
                (Some(_), Some(_)) => {
                    "changed locally since the last pass: the next pass sends it".to_string()
                }
                (Some(_), None) => "new: the next pass sends it".to_string(),
                (None, Some(_)) => {
                    "deleted locally: the next pass deletes it on the other side (to its trash)"
                        .to_string()
                }
                (None, None) => "unknown: not on disk and never synchronized".to_string(),
            }
        };
        Ok(serde_json::json!({
            "sync": sync.name,
            "path": rel,
            "verdict": verdict,
            "excluded_by": excluded,
            "on_disk": on_disk.map(|e| serde_json::json!({"kind": e.kind, "size": e.size, "mtime_ns": e.mtime})),
            "in_sync_as": base.map(|b| serde_json::json!({"kind": b.kind, "local_size": b.local.size, "remote_size": b.remote.size, "hash": b.hash.map(hex::encode)})),
            "state": status.map(|s| s.state),
            "conflicts": conflicts,
            "log": log,
        }))
    }

    // -------------------------------------------------------- accounts --

    /// Add (or update) an account: test the connection unless told not to,
    /// store the password in the keyring, save the account. The password
    /// never reaches the configuration, a log or an answer.
    pub async fn add_account(
        &self,
        url: &str,
        user: &str,
        password: String,
        test: bool,
    ) -> Result<Account> {
        let url = crate::config::normalize_url(url)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        if password.is_empty() {
            return Err(DaemonError::BadRequest("the password is empty".into()));
        }
        let account = self
            .config()
            .await
            .clone()
            .add_account(&url, user)
            .map_err(|e| DaemonError::Conflict(e.to_string()))?
            .clone();
        if test {
            self.test_connection(&account, &password).await?;
        }
        let secrets = self.shared.secrets.clone();
        let key = account.secret_key();
        tokio::task::spawn_blocking(move || secrets.set(SERVICE, &key, &password))
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("cannot store the password; nothing was saved: {e}")))?;
        let u = user.to_string();
        let (config, account) = self
            .change_config(move |c| {
                c.add_account(&url, &u)
                    .cloned()
                    .map_err(|e| DaemonError::Conflict(e.to_string()))
            })
            .await?;
        // Synchronizations on this account start over with the new password.
        for s in config.syncs_using(&account.id) {
            self.stop_worker(&s.id).await;
            self.start_worker(&config, s).await;
        }
        Ok(account)
    }

    async fn test_connection(&self, account: &Account, password: &str) -> Result<()> {
        let (url, user, password) = (
            account.url.clone(),
            account.user.clone(),
            password.to_string(),
        );
        let ca = self.shared.ca_file.clone();
        tokio::task::spawn_blocking(move || {
            crate::accounts::check_connection(&url, &user, &password, ca.as_deref())
        })
        .await
        .map_err(internal)?
        .map_err(|e| DaemonError::BadRequest(e.to_string()))
    }

    /// Test an account's stored credentials.
    pub async fn test_account(&self, id_or_url: &str) -> Result<()> {
        let account = self.account(id_or_url).await?;
        let password = self.password(&account).await?;
        self.test_connection(&account, &password).await
    }

    async fn account(&self, id_or_url: &str) -> Result<Account> {
        self.config()
            .await
            .find_account(id_or_url)
            .cloned()
            .ok_or_else(|| DaemonError::NotFound(format!("no account {id_or_url:?}")))
    }

    async fn password(&self, account: &Account) -> Result<String> {
        let secrets = self.shared.secrets.clone();
        let key = account.secret_key();
        tokio::task::spawn_blocking(move || secrets.get(SERVICE, &key))
            .await
            .map_err(internal)?
            .map_err(internal)?
            .ok_or_else(|| {
                DaemonError::Conflict(format!(
                    "no password stored for {} at {}: add the account again",
                    account.user, account.url
                ))
            })
    }

    /// Remove an account ("deregister"): stop and remove its
    /// synchronizations (their local files stay), delete its password from
    /// the keyring, forget it.
    pub async fn remove_account(&self, id_or_url: &str) -> Result<(Account, Vec<String>)> {
        let account = self.account(id_or_url).await?;
        let syncs: Vec<SyncConfig> = self
            .config()
            .await
            .syncs_using(&account.id)
            .into_iter()
            .cloned()
            .collect();
        let mut removed = Vec::new();
        for s in syncs {
            self.remove_sync(&s.id).await?;
            removed.push(s.name);
        }
        let secrets = self.shared.secrets.clone();
        let key = account.secret_key();
        tokio::task::spawn_blocking(move || secrets.delete(SERVICE, &key))
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("cannot delete the password from the keyring: {e}")))?;
        let id = account.id.clone();
        self.change_config(move |c| {
            c.remove_account(&id)
                .map(|_| ())
                .ok_or_else(|| DaemonError::NotFound(format!("no account {id:?}")))
        })
        .await?;
        Ok((account, removed))
    }

    /// The sub-folders of `path` in an account (for choosing a remote
    /// folder and the selective-sync tree).
    pub async fn browse(&self, account: &str, path: &str) -> Result<Vec<String>> {
        let account = self.account(account).await?;
        let password = self.password(&account).await?;
        let options = crate::remote::webdav::Options::for_account(
            Some(crate::remote::webdav::Credentials {
                user: account.user.clone(),
                password,
            }),
            self.shared.ca_file.clone(),
            self.shared.timeout,
        );
        let dav = crate::remote::webdav::WebDav::new(&account.url, options)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        crate::engine::path::check_relative(path.trim_matches('/'))
            .map_err(|e| DaemonError::BadRequest(format!("{path:?}: {e}")))
            .or_else(|e| {
                if path.trim_matches('/').is_empty() {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        dav.folders(path)
            .await
            .map_err(|e| DaemonError::Conflict(e.to_string()))?
            .ok_or_else(|| DaemonError::NotFound(format!("no folder {path:?} in {}", account.url)))
    }
}

// ------------------------------------------------------------------ run --

/// How `ferry daemon` was started.
pub struct RunOptions {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// The lock file that keeps a second daemon from starting.
pub const LOCK_FILE: &str = "daemon.lock";

/// Bring a synchronization's places to their normal form
/// ([`crate::config::normalize_local`], [`crate::config::normalize_remote_path`])
/// before it is checked and saved: one place, one spelling. A folder given
/// as a URL of another kind (`htp://…`) is refused, naming the scheme.
/// A remote place in words, for messages.
fn describe_remote(remote: &RemoteSpec) -> String {
    match remote {
        RemoteSpec::Folder { path } => path.display().to_string(),
        RemoteSpec::WebDav { account, path } => format!("{path:?} on account {account}"),
    }
}

fn normalize_sync(sync: &mut SyncConfig) -> Result<()> {
    fn folder(path: &Path, what: &str) -> Result<PathBuf> {
        let bad = |e: crate::config::ConfigError| DaemonError::BadRequest(format!("{what}: {e}"));
        if path
            .to_str()
            .is_some_and(|p| crate::config::url_scheme(p).is_some())
        {
            return crate::config::local_folder(path).map_err(bad);
        }
        if !path.is_absolute() {
            return Err(DaemonError::BadRequest(format!(
                "the {what} must be an absolute path: {}",
                path.display()
            )));
        }
        crate::config::normalize_local(path).map_err(bad)
    }
    sync.local = folder(&sync.local, "local folder")?;
    match &mut sync.remote {
        RemoteSpec::Folder { path } => *path = folder(path, "remote folder")?,
        RemoteSpec::WebDav { path, .. } => {
            if let Some(scheme) = crate::config::url_scheme(path) {
                return Err(DaemonError::BadRequest(format!(
                    "the remote path {path:?} is a URL ({scheme}://): give the path below the account's URL"
                )));
            }
            *path = crate::config::normalize_remote_path(path)
        }
    }
    Ok(())
}

/// Create the data folder if it is missing, readable by the user only (it
/// holds the API token, the journals and the logs).
pub fn create_data_dir(data_dir: &Path) -> std::io::Result<()> {
    crate::fsops::private::create_dir(data_dir)
}

/// Hold the single-instance lock for as long as the returned file lives;
/// `Err` with a message naming the running daemon when another holds it.
pub fn lock(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    use fs4::fs_std::FileExt;
    create_data_dir(data_dir)?;
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    match file.try_lock_exclusive() {
        Ok(true) => Ok(file),
        Ok(false) | Err(_) => {
            let running = crate::api::portfile::read(data_dir)
                .map(|e| format!(" (pid {}, API on http://127.0.0.1:{})", e.pid, e.port))
                .unwrap_or_default();
            anyhow::bail!("Ferry is already running{running}")
        }
    }
}

/// `ferry daemon`: run until SIGINT or SIGTERM.
pub fn run(opts: RunOptions) -> anyhow::Result<()> {
    let _lock = lock(&opts.data_dir)?;
    crate::memory::limit_arenas();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(opts))
}

async fn serve(opts: RunOptions) -> anyhow::Result<()> {
    let secrets: Arc<dyn SecretStore> = Arc::new(crate::secrets::KeyringStore::new());
    let daemon = Daemon::start(Options {
        config_dir: opts.config_dir,
        data_dir: opts.data_dir.clone(),
        secrets,
        ca_file: opts.ca_file,
        timeout: opts.timeout,
    })
    .await?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let api = crate::api::start(daemon.clone(), shutdown_rx).await?;
    tracing::info!(port = api.port, "Ferry is running");
    eprintln!(
        "Ferry is running: {} synchronization(s); API on http://127.0.0.1:{} (token in {})",
        daemon.config().await.syncs.len(),
        api.port,
        api.port_file.display()
    );
    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    daemon.shutdown().await;
    crate::api::portfile::remove(&opts.data_dir, std::process::id());
    let _ = tokio::time::timeout(Duration::from_secs(2), api.task).await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
