//! The one way the daemon reaches a synchronization's journal: SQLite
//! blocks, so every use runs on tokio's blocking pool, holding the journal's
//! lock (the running worker's journal, shared with its passes) or opening
//! the file (a synchronization whose worker is not running).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Daemon, Result, internal};
use crate::journal::Journal;

/// Open (or create) the journal at `path`, creating its folder, on the
/// blocking pool. The error names the file or folder that failed.
pub async fn open(path: PathBuf) -> std::result::Result<Journal, String> {
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent() {
            crate::fsops::private::create_dir(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Journal::open(&path).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Run `f` on the blocking pool with `journal` locked. `Err` (a message)
/// when the lock is poisoned or the task could not finish.
pub async fn locked<T: Send + 'static>(
    journal: Arc<Mutex<Journal>>,
    f: impl FnOnce(&mut Journal) -> T + Send + 'static,
) -> std::result::Result<T, String> {
    tokio::task::spawn_blocking(move || {
        let mut j = journal
            .lock()
            .map_err(|e| format!("the journal is unusable: {e}"))?;
        Ok(f(&mut j))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Run `f` on the journal file at `path` (no worker holds it), on the
/// blocking pool.
async fn with_file<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce(&Journal) -> crate::journal::Result<T> + Send + 'static,
) -> Result<T> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let j = Journal::open(&path).map_err(internal)?;
        f(&j).map_err(internal)
    })
    .await
    .map_err(internal)?
}

impl Daemon {
    /// Run `f` on a synchronization's journal: its running worker's, or
    /// the file.
    pub(super) async fn with_journal<T: Send + 'static>(
        &self,
        sync_id: &str,
        f: impl FnOnce(&Journal) -> crate::journal::Result<T> + Send + 'static,
    ) -> Result<T> {
        let shared = self
            .workers
            .lock()
            .await
            .get(sync_id)
            .map(|w| w.journal.clone());
        match shared {
            Some(j) => locked(j, move |j| f(j).map_err(internal))
                .await
                .map_err(internal)?,
            None => with_file(&journal_path(&self.shared.data_dir, sync_id), f).await,
        }
    }
}

/// The journal file of a synchronization.
pub fn journal_path(data_dir: &std::path::Path, sync_id: &str) -> PathBuf {
    data_dir.join("syncs").join(format!("{sync_id}.db"))
}
