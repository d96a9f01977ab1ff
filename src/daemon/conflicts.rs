//! Open conflicts: listing them, and resolving one (keep the local
//! version, the remote one, or both) with the file operations that takes.

use super::log::rfc3339;
use super::worker::Command;
use super::{Daemon, DaemonError, Result, internal};

use crate::protocol::history::{Conflict, ConflictVersion, Keep, Origin};

/// Which side the file at a conflict's path came from. Kept both: the
/// local version was moved to the copy and the other side's took the path.
/// A policy that chose a winner: `local` or `remote` says which one;
/// `newest` does not.
fn origin_of_path(c: &Conflict) -> Option<Origin> {
    match (c.copy.is_some(), c.policy.as_str()) {
        (true, _) | (false, "remote") => Some(Origin::Remote),
        (false, "local") => Some(Origin::Local),
        _ => None,
    }
}

/// Fill in the versions of `conflicts` as they are in `local` now (stat
/// only; a file that is gone is left out).
fn add_versions(local: &std::path::Path, mut conflicts: Vec<Conflict>) -> Vec<Conflict> {
    let folder = crate::fsops::Folder::new(
        local.to_path_buf(),
        crate::engine::Side::Local,
        crate::fsops::TrashPolicy::Os,
    );
    let version = |path: &str, from: Option<Origin>| {
        let e = folder.stat(path).ok().flatten()?;
        (e.kind == crate::engine::Kind::File).then(|| ConflictVersion {
            path: path.to_string(),
            from,
            size: e.size,
            modified: jiff::Timestamp::from_nanosecond(i128::from(e.mtime))
                .map(|t| t.to_string())
                .unwrap_or_default(),
        })
    };
    for c in &mut conflicts {
        let mut versions = Vec::new();
        versions.extend(version(&c.path, origin_of_path(c)));
        if let Some(copy) = &c.copy {
            versions.extend(version(copy, Some(Origin::Local)));
        }
        c.versions = versions;
    }
    conflicts
}

impl Daemon {
    /// Open conflicts of every synchronization, with the versions on
    /// this computer now.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut out = Vec::new();
        for s in self.config().await.syncs {
            let rows = self.with_journal(&s.id, |j| j.open_conflicts()).await?;
            let local = s.local.clone();
            let conflicts = rows
                .into_iter()
                .map(|(id, c)| Conflict {
                    sync: s.name.clone(),
                    sync_id: s.id.clone(),
                    id,
                    time: rfc3339(c.time),
                    path: c.path,
                    copy: c.copy,
                    policy: c.policy,
                    versions: Vec::new(),
                })
                .collect::<Vec<_>>();
            let with_versions =
                tokio::task::spawn_blocking(move || add_versions(&local, conflicts))
                    .await
                    .map_err(internal)?;
            out.extend(with_versions);
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
}
