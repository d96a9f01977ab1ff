//! Opening an item of a synchronization with the desktop's default
//! application (`POST /api/open`: the conflicts page opens either version
//! of a file). Only items inside a configured synchronization's local
//! folder: never an arbitrary path, never through `..` or a symbolic link
//! leading out of the folder.

use std::path::PathBuf;

use super::{Daemon, DaemonError, Result, internal};

impl Daemon {
    /// The absolute path of `rel` in the synchronization `sync`, checked:
    /// a relative `/`-separated path of real names (no `.`, `..`, `\`),
    /// existing, and still inside the folder once symbolic links are
    /// resolved. `""` is the folder itself.
    pub async fn item_path(&self, sync: &str, rel: &str) -> Result<PathBuf> {
        let sync = self.find(sync).await?;
        let rel = rel.trim_matches('/');
        if !rel.is_empty() {
            crate::engine::path::check_relative(rel)
                .map_err(|e| DaemonError::BadRequest(format!("{rel:?}: {e}")))?;
        }
        let path = if rel.is_empty() {
            sync.local.clone()
        } else {
            sync.local.join(rel)
        };
        let real = std::fs::canonicalize(&path)
            .map_err(|e| DaemonError::NotFound(format!("{} is not there: {e}", path.display())))?;
        if !real.starts_with(&sync.local) {
            return Err(DaemonError::BadRequest(format!(
                "{} leads outside the synchronization's folder",
                path.display()
            )));
        }
        Ok(path)
    }

    /// Open `rel` of the synchronization `sync` with the desktop's default
    /// application (detached: the answer does not wait for it).
    pub async fn open_item(&self, sync: &str, rel: &str) -> Result<()> {
        let path = self.item_path(sync, rel).await?;
        tokio::task::spawn_blocking(move || open::that_detached(&path))
            .await
            .map_err(internal)?
            .map_err(|e| {
                DaemonError::Conflict(format!("no application could be started to open it: {e}"))
            })
    }
}
