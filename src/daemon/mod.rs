//! The daemon: one process that keeps every configured synchronization in
//! sync by itself, and the operations the loopback API exposes.
//!
//! It owns the configuration while it runs (every change is load → modify →
//! save, so an edit made by `ferry account add` with no daemon running is
//! never lost), one [`worker`] task per synchronization, the event bus that
//! `/api/events` streams, and the "recent files" list.
//!
//! The process around it (the single-instance lock, the runtime, the API
//! server, signals) is wired by [`crate::app`]; the daemon does no HTTP
//! but its remotes'. At shutdown ([`Daemon::shutdown`]) passes start no new
//! op and running ops get a grace period; interrupted downloads keep their
//! partial file and resume on the next start.
//!
//! One job per file: this one holds [`Daemon`], its registry of workers,
//! start and shutdown; `shared` what the workers share; `syncs` the
//! configuration transactions and the synchronizations in it; `runs` the
//! passes the user asks for; `journals` reading a journal; `log` the
//! transfer log; `conflicts` listing and resolving conflicts; `explain`
//! `ferry why`; `open` opening an item with the desktop's application;
//! `accounts` accounts and browsing their folders; `manage` what the
//! preferences' pages ask of one synchronization (its server folders,
//! filter checks and previews, opening its folder); `setup` the
//! application settings, diagnostics, checking a local folder and
//! simulating a synchronization before it is added.

mod accounts;
mod conflicts;
mod explain;
mod journals;
mod log;
mod manage;
mod open;
mod runs;
mod setup;
mod shared;
mod syncs;
pub mod worker;

pub use shared::{RECENT_FILES, Shared};

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::config::{Config, SyncConfig};
use crate::protocol::status::{Event, PassSummary, RecentFile, SyncState, SyncStatus};
use crate::secrets::SecretStore;
use worker::{Command, Spec, WorkerHandle};

/// How long running ops may take to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
    on_first_sync: Option<FirstSyncHook>,
}

/// How to start a daemon.
pub struct Options {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub secrets: Arc<dyn SecretStore>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    /// Called once the first synchronization was added to an empty
    /// configuration (the composition root turns auto-start on there: the
    /// daemon knows nothing of the desktop). Runs on a blocking thread; the
    /// request that added the synchronization is answered after it.
    pub on_first_sync: Option<FirstSyncHook>,
}

/// What [`Options::on_first_sync`] runs.
pub type FirstSyncHook = Arc<dyn Fn() + Send + Sync>;

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
                bandwidth: crate::remote::bandwidth::Limits::new(&config.settings.bandwidth),
            }),
            config: tokio::sync::Mutex::new(config.clone()),
            workers: tokio::sync::Mutex::new(BTreeMap::new()),
            broken: Mutex::new(BTreeMap::new()),
            config_warnings: Mutex::new(warning.iter().map(|w| w.to_string()).collect()),
            on_first_sync: opts.on_first_sync,
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
}
