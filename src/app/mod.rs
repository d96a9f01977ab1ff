//! The composition root of the `ferry` program: the one place that wires
//! the process together for `ferry daemon`.
//!
//! [`run`] is `ferry daemon`: a single-instance lock in the data folder, a
//! tokio runtime, the API on 127.0.0.1 and a random port (written with its
//! token to `api.port`), and a graceful shutdown on SIGINT/SIGTERM: passes
//! start no new op, running ops get a grace period, interrupted downloads
//! keep their partial file and resume on the next start.

mod lock;
mod signals;

pub use lock::{LOCK_FILE, lock};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::daemon::{Daemon, Options};
use crate::secrets::SecretStore;
use signals::wait_for_signal;

/// How `ferry daemon` was started.
pub struct RunOptions {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// Create the data folder if it is missing, readable by the user only (it
/// holds the API token, the journals and the logs).
pub fn create_data_dir(data_dir: &Path) -> std::io::Result<()> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(data_dir)
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
