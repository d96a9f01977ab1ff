//! `ferry sync`'s journals: one per (local, remote) pair, named by a hash
//! of the places' normal forms, and the move of a journal kept under an
//! older spelling.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The default folder for journals.
pub fn default_state_dir() -> anyhow::Result<PathBuf> {
    let dir = crate::config::data_dir()
        .map_err(|_| anyhow::anyhow!("no home folder: pass --state DIR"))?;
    Ok(dir.join("syncs"))
}

/// The journal file of a (local, remote) pair: one per synchronization.
/// `local` and `remote` are in normal form ([`crate::config::Place`]), so
/// every spelling of one place finds the same journal.
pub fn journal_path(state: &Path, local: &Path, remote: &str) -> PathBuf {
    journal_key(state, &local.to_string_lossy(), remote)
}

fn journal_key(state: &Path, local: &str, remote: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(local.as_bytes());
    h.update([0]);
    h.update(remote.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    state.join(format!("{}.db", hex::encode(&digest[..8])))
}

/// The journals an older Ferry may have kept for this pair under another
/// spelling: the arguments as typed (made absolute as it did, without
/// normalising), with and without a trailing `/`, and a folder remote as a
/// path and as a `file://` URL.
pub(super) fn old_journal_paths(
    state: &Path,
    (typed_local, typed_remote): (&Path, &str),
    local: &Path,
    remote: &crate::config::Place,
) -> Vec<PathBuf> {
    fn slashes(s: String) -> [String; 2] {
        let bare = s.trim_end_matches('/').to_string();
        let bare = if bare.is_empty() {
            "/".to_string()
        } else {
            bare
        };
        [format!("{bare}/"), bare]
    }
    let mut locals: Vec<String> = slashes(local.to_string_lossy().into_owned()).into();
    if let Ok(typed) = std::path::absolute(typed_local) {
        locals.extend(slashes(typed.to_string_lossy().into_owned()));
    }
    let mut remotes: Vec<String> = slashes(remote.key()).into();
    remotes.extend(slashes(typed_remote.to_string()));
    match remote {
        crate::config::Place::Folder(p) => {
            remotes.extend(slashes(format!("file://{}", p.display())));
            if !typed_remote.contains("://") {
                if let Ok(typed) = std::path::absolute(typed_remote) {
                    remotes.extend(slashes(typed.display().to_string()));
                }
            }
        }
        crate::config::Place::WebDav(_) => {}
    }
    let new = journal_path(state, local, &remote.key());
    let mut paths: Vec<PathBuf> = Vec::new();
    for l in &locals {
        for r in &remotes {
            let p = journal_key(state, l, r);
            if p != new && !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    paths
}

/// A journal's files: the database and SQLite's `-wal` and `-shm`.
pub(super) fn journal_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// When a journal was last written (its database or write-ahead log).
fn last_activity(db: &Path) -> Option<std::time::SystemTime> {
    journal_files(db)[..2]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

/// Rename a journal (with its `-wal` and `-shm`) to `to`, which must not
/// exist.
fn move_journal(from: &Path, to: &Path) -> anyhow::Result<()> {
    for (f, t) in journal_files(from).iter().zip(journal_files(to).iter()) {
        if std::fs::symlink_metadata(t).is_ok() {
            anyhow::bail!(
                "cannot move the journal {} to {}: {} exists",
                from.display(),
                to.display(),
                t.display()
            );
        }
        match std::fs::rename(f, t) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && f != from => {}
            Err(e) => anyhow::bail!(
                "cannot move the journal {} to {}: {e}",
                f.display(),
                t.display()
            ),
        }
    }
    Ok(())
}

/// Move a journal out of the way, next to where it was
/// (`<name>.aside-<time>.db`); never deleted. Returns where it went.
fn move_journal_aside(db: &Path) -> anyhow::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{stem}.aside-{stamp}.db")
        } else {
            format!("{stem}.aside-{stamp}-{n}.db")
        };
        let aside = db.with_file_name(name);
        if journal_files(&aside)
            .iter()
            .all(|p| std::fs::symlink_metadata(p).is_err())
        {
            move_journal(db, &aside)?;
            return Ok(aside);
        }
        n += 1;
    }
}

/// Bring the journal kept under an older spelling of this pair to `new`,
/// the normal form's name: one journal per place. When more than one
/// exists, the one written last is kept and the others are moved aside
/// (not deleted); what was done is said on standard error.
pub(super) fn migrate_journal(new: &Path, old: &[PathBuf]) -> anyhow::Result<()> {
    let found: Vec<&PathBuf> = old.iter().filter(|p| p.is_file()).collect();
    if found.is_empty() {
        return Ok(());
    }
    let mut all: Vec<&Path> = found.iter().map(|p| p.as_path()).collect();
    if new.is_file() {
        all.push(new);
    }
    // The most recent activity wins; on a tie, the normal form's own.
    let keep = all
        .iter()
        .copied()
        .max_by_key(|p| (last_activity(p), *p == new))
        .unwrap_or(new);
    for p in all.iter().copied().filter(|p| *p != keep) {
        let aside = move_journal_aside(p)?;
        eprintln!(
            "ferry: two journals were kept for this synchronization (the same folders spelt two ways); the one written last is used, the other was moved to {}",
            aside.display()
        );
    }
    if keep != new {
        move_journal(keep, new)?;
        eprintln!(
            "ferry: the journal of this synchronization was kept under another spelling of its folders; moved {} to {}",
            keep.display(),
            new.display()
        );
    }
    Ok(())
}
