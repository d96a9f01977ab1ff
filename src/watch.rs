//! The file-system watcher of one synchronization's folder: notify's
//! recommended watcher (inotify on Linux), debounced here: changed paths are
//! collected until nothing happened for `settle` (or for at most
//! [`MAX_DELAY`] under a steady stream of changes), then reported as one
//! piece of news ([`WatchEvent`]): something changed (which paths), events
//! were lost (rescan), or live watching does not work here (poll instead).
//!
//! Not notify's own debouncers: notify-debouncer-full drops a file's create
//! and remove events when both fall in one window, but the daemon may have
//! synchronized the file in between — that deletion must not vanish. Every
//! path that saw an event is reported; the daemon compares with its journal.
//!
//! Left out: `Access` events (notify emits one per folder while it sets up
//! a recursive watch) and Ferry's own temp files and trash (any component
//! starting with `.ferry-`), so Ferry's own writes do not wake it up
//! beyond the final rename.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc::UnboundedSender;

/// News is sent at the latest this long after the first change it holds.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// News from a watcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// Something changed under the root: relative, `/`-separated paths,
    /// sorted and deduplicated (a rename names both ends; a new folder may
    /// stand for files created in it before its watch was set up).
    Changed(Vec<String>),
    /// Events were lost (queue overflow, a watch error): scan everything.
    Rescan(String),
    /// Live watching does not work for this tree; poll instead. Says why.
    Degraded(String),
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("too many folders to watch (the limit is the sysctl fs.inotify.max_user_watches): {0}")]
    TooManyFolders(String),
    #[error("{0}")]
    Notify(String),
}

/// A running watcher; dropping it stops watching (and its thread).
pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

fn is_ours(rel: &Path) -> bool {
    rel.components().any(|c| match c {
        Component::Normal(n) => crate::engine::reserved::is_reserved(&n.to_string_lossy()),
        _ => false,
    })
}

fn too_many(e: &notify::Error) -> bool {
    matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
}

/// What the debouncing thread has gathered.
#[derive(Default)]
struct Batch {
    paths: BTreeSet<String>,
    rescan: Option<String>,
    first: Option<Instant>,
}

impl Batch {
    fn take(&mut self) -> Option<WatchEvent> {
        self.first = None;
        let paths = std::mem::take(&mut self.paths);
        if let Some(reason) = self.rescan.take() {
            return Some(WatchEvent::Rescan(reason));
        }
        (!paths.is_empty()).then(|| WatchEvent::Changed(paths.into_iter().collect()))
    }
}

/// Watch `root` recursively; news goes to `tx` once events have settled
/// for `settle`.
pub fn watch(
    root: &Path,
    settle: Duration,
    tx: UnboundedSender<WatchEvent>,
) -> Result<Watcher, WatchError> {
    let base: PathBuf = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let (raw_tx, raw_rx) = std_mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(move |r| {
        let _ = raw_tx.send(r);
    })
    .map_err(|e| WatchError::Notify(e.to_string()))?;
    watcher
        .watch(&base, RecursiveMode::Recursive)
        .map_err(|e| {
            if too_many(&e) {
                WatchError::TooManyFolders(e.to_string())
            } else {
                WatchError::Notify(format!("cannot watch {}: {e}", base.display()))
            }
        })?;
    let root = base;
    std::thread::Builder::new()
        .name("ferry-watch".into())
        .spawn(move || debounce(&root, settle, &raw_rx, &tx))
        .map_err(|e| WatchError::Notify(e.to_string()))?;
    Ok(Watcher { _watcher: watcher })
}

/// The debouncing loop; ends when the watcher (the sender) is dropped.
fn debounce(
    root: &Path,
    settle: Duration,
    rx: &std_mpsc::Receiver<notify::Result<notify::Event>>,
    tx: &UnboundedSender<WatchEvent>,
) {
    let mut batch = Batch::default();
    loop {
        let wait = match batch.first {
            None => Duration::from_secs(3600),
            Some(first) => settle.min(MAX_DELAY.saturating_sub(first.elapsed())),
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(ev)) => {
                if ev.need_rescan() {
                    batch.rescan = Some("the system dropped file events".into());
                }
                if matches!(ev.kind, EventKind::Access(_)) {
                    continue;
                }
                if matches!(ev.kind, EventKind::Remove(_)) && ev.paths.iter().any(|p| p == root) {
                    let _ = tx.send(WatchEvent::Degraded(format!(
                        "the folder {} was removed",
                        root.display()
                    )));
                    continue;
                }
                let before = batch.paths.len();
                for p in &ev.paths {
                    let Ok(rel) = p.strip_prefix(root) else {
                        continue;
                    };
                    if rel.as_os_str().is_empty() || is_ours(rel) {
                        continue;
                    }
                    batch.paths.insert(rel.to_string_lossy().replace('\\', "/"));
                }
                if batch.first.is_none() && (batch.paths.len() > before || batch.rescan.is_some()) {
                    batch.first = Some(Instant::now());
                }
            }
            Ok(Err(e)) => {
                if too_many(&e) {
                    let _ = tx.send(WatchEvent::Degraded(
                        "too many folders to watch (raise the sysctl fs.inotify.max_user_watches); checking for changes by polling instead".into(),
                    ));
                } else {
                    batch.rescan = Some(e.to_string());
                    batch.first.get_or_insert_with(Instant::now);
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => {
                if let Some(news) = batch.take() {
                    tracing::debug!(news = ?news, "watcher");
                    if tx.send(news).is_err() {
                        return;
                    }
                }
            }
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use tokio::sync::mpsc;

    const WAIT: Duration = Duration::from_secs(10);

    /// Collect news until `want` paths were all seen.
    async fn seen(rx: &mut mpsc::UnboundedReceiver<WatchEvent>, want: &[&str]) -> Vec<String> {
        let mut all = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !want.iter().all(|w| all.iter().any(|p: &String| p == w)) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(WatchEvent::Changed(p))) => all.extend(p),
                Ok(Some(other)) => panic!("unexpected {other:?}"),
                _ => panic!("timed out; saw {all:?}, want {want:?}"),
            }
        }
        all
    }

    #[tokio::test]
    async fn changes_are_reported_with_relative_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch(tmp.path(), Duration::from_millis(100), tx).unwrap();
        fs::write(tmp.path().join("a.txt"), b"1").unwrap();
        seen(&mut rx, &["a.txt"]).await;
        // A new folder and a file created right after it: the file may
        // land before the folder's watch is set up, so the folder itself is
        // the news (the daemon scans what it names).
        fs::create_dir(tmp.path().join("sub")).unwrap();
        fs::write(tmp.path().join("sub/b.txt"), b"2").unwrap();
        seen(&mut rx, &["sub"]).await;
        // Once watched, its contents are reported too.
        tokio::time::sleep(Duration::from_millis(300)).await;
        fs::write(tmp.path().join("sub/c.txt"), b"3").unwrap();
        seen(&mut rx, &["sub/c.txt"]).await;
        // A rename names both ends; a deletion.
        fs::rename(tmp.path().join("sub"), tmp.path().join("moved")).unwrap();
        seen(&mut rx, &["sub", "moved"]).await;
        fs::remove_file(tmp.path().join("a.txt")).unwrap();
        seen(&mut rx, &["a.txt"]).await;
    }

    #[tokio::test]
    async fn a_burst_coalesces_and_our_temp_files_are_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch(tmp.path(), Duration::from_millis(300), tx).unwrap();
        // Ferry's own temp files and trash: nothing.
        fs::write(tmp.path().join(".ferry-1-2.part"), b"x").unwrap();
        fs::create_dir_all(tmp.path().join(".ferry-trash/t")).unwrap();
        fs::write(tmp.path().join(".ferry-trash/t/f"), b"x").unwrap();
        let quiet = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        assert!(quiet.is_err(), "{quiet:?}");
        // 200 writes in a burst: a few messages, not 200.
        for i in 0..200 {
            fs::write(tmp.path().join(format!("f{i}")), b"x").unwrap();
        }
        let want: Vec<String> = (0..200).map(|i| format!("f{i}")).collect();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        let mut messages = 0;
        let mut all = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        while !want.iter().all(|w| all.iter().any(|p: &String| p == w)) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(WatchEvent::Changed(p))) => {
                    messages += 1;
                    all.extend(p);
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(messages < 20, "{messages} messages for one burst");
    }

    #[tokio::test]
    async fn a_file_created_and_removed_in_one_window_is_still_news() {
        // The daemon may have synchronized it in between: its removal must
        // not be lost (notify-debouncer-full would drop both events).
        let tmp = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _w = watch(tmp.path(), Duration::from_millis(300), tx).unwrap();
        fs::write(tmp.path().join("brief.txt"), b"1").unwrap();
        fs::remove_file(tmp.path().join("brief.txt")).unwrap();
        seen(&mut rx, &["brief.txt"]).await;
    }

    #[test]
    fn our_names_are_recognised() {
        assert!(is_ours(Path::new(".ferry-trash/x")));
        assert!(is_ours(Path::new("a/.ferry-dl-1.part")));
        assert!(!is_ours(Path::new("a/ferry.txt")));
    }
}
