//! Reading a synchronization's journal from the daemon: the running
//! worker's (shared, locked) or the file, on the blocking pool.

use super::{Daemon, Result, internal, worker};

impl Daemon {
    // --------------------------------------------------------- journals --

    pub(super) async fn with_journal<T: Send + 'static>(
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
}
