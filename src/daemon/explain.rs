//! `ferry why`: why an item is as it is.

use std::path::Path;

use super::log::rfc3339;
use super::{Daemon, DaemonError, Result, internal};
use crate::config::SyncConfig;
use crate::protocol::history::{Conflict, LogEntry};
use crate::protocol::why::{InSyncAs, ItemKind, OnDisk, Why};

/// The synchronization an absolute `path` is in, and the path relative to
/// its local folder (NFC, `/`-separated). Refused: a relative path, any
/// `..`, and a path outside every synchronization's folder, also through a
/// symbolic link (the folders above the item are resolved first).
pub(super) fn item_in_sync(syncs: &[SyncConfig], path: &Path) -> Result<(SyncConfig, String)> {
    use std::path::Component;
    if !path.is_absolute() {
        return Err(DaemonError::BadRequest(format!(
            "{} is not an absolute path",
            path.display()
        )));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(DaemonError::BadRequest(format!(
            "{}: a path with `..` is not accepted; give the item's own path",
            path.display()
        )));
    }
    let resolved = match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => crate::config::normalize_local(parent)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?
            .join(name),
        _ => crate::config::normalize_local(path)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?,
    };
    let found = syncs.iter().find_map(|s| {
        let rel = resolved.strip_prefix(&s.local).ok()?;
        let parts = rel
            .components()
            .map(|c| match c {
                Component::Normal(n) => n.to_str().map(str::to_string),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some((s.clone(), parts.join("/")))
    });
    let Some((sync, rel)) = found else {
        return Err(DaemonError::NotFound(format!(
            "{} is not inside any synchronized folder",
            path.display()
        )));
    };
    Ok((sync, crate::engine::path::nfc(&rel).into_owned()))
}

fn kind(k: crate::engine::Kind) -> ItemKind {
    match k {
        crate::engine::Kind::File => ItemKind::File,
        crate::engine::Kind::Dir => ItemKind::Dir,
    }
}

impl Daemon {
    /// Why an item is as it is: which synchronization it belongs to, the
    /// rule that excludes it (if one does), what was last in sync, what is
    /// on disk, its open conflicts and its latest log lines.
    pub async fn why(&self, path: &Path) -> Result<Why> {
        let config = self.config().await;
        let (sync, rel) = item_in_sync(&config.syncs, path)?;
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
                sync_id: sync.id.clone(),
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
        Ok(Why {
            sync: sync.name,
            path: rel,
            verdict,
            excluded_by: excluded,
            on_disk: on_disk.map(|e| OnDisk {
                kind: kind(e.kind),
                size: e.size,
                mtime_ns: e.mtime,
            }),
            in_sync_as: base.map(|b| InSyncAs {
                kind: kind(b.kind),
                local_size: b.local.size,
                remote_size: b.remote.size,
                hash: b.hash.map(hex::encode),
            }),
            state: status.map(|s| s.state),
            conflicts,
            log,
        })
    }
}
