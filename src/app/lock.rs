//! One daemon per user: an OS file lock on `daemon.lock` in the data
//! folder, released on any exit.

use std::path::Path;

use super::create_data_dir;

/// The lock file that keeps a second daemon from starting.
pub const LOCK_FILE: &str = "daemon.lock";

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
            let running = crate::protocol::portfile::read(data_dir)
                .map(|e| format!(" (pid {}, API on http://127.0.0.1:{})", e.pid, e.port))
                .unwrap_or_default();
            anyhow::bail!("Ferry is already running{running}")
        }
    }
}
