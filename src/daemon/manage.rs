//! Managing one synchronization from the preferences: listing its server
//! folders one level at a time (selective sync), checking filter lists with
//! the engine's own compiler, previewing which existing items a filter
//! list would leave out (the journal's base and a scan of the local
//! folder), the built-in rules, and opening its local folder in the
//! desktop's file manager.

use std::collections::BTreeMap;

use super::{Daemon, DaemonError, Result, internal};
use crate::config::{RemoteSpec, UserFilter};
use crate::engine::filter::{BUILTIN_RULES, builtin_rule};
use crate::engine::{Filter, Kind, Side};
use crate::protocol::manage::{
    BuiltinRules, FilterCheck, FilterPreview, PREVIEW_LIMIT_DEFAULT, PREVIEW_LIMIT_MAX,
    PreviewItem, RuleCheck, SyncFolder, SyncFolders,
};
use crate::protocol::why::ItemKind;

/// A folder path relative to a synchronization's remote folder: `""` or
/// `/`-separated segments without `.`, `..` or empty ones.
fn relative_folder(path: &str) -> Result<String> {
    let rel = path.trim_matches('/');
    if !rel.is_empty() {
        crate::engine::path::check_relative(rel)
            .map_err(|e| DaemonError::BadRequest(format!("{path:?}: {e}")))?;
    }
    Ok(rel.to_string())
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

impl Daemon {
    /// The sub-folders of `path` (relative to the synchronization's remote
    /// folder), from the server itself: a WebDAV account's folder or the
    /// folder remote's disk. Folders Ferry never synchronizes are left out.
    pub async fn sync_folders(&self, id_or_name: &str, path: &str) -> Result<SyncFolders> {
        let sync = self.find(id_or_name).await?;
        let rel = relative_folder(path)?;
        let names = match &sync.remote {
            RemoteSpec::WebDav {
                account,
                path: root,
            } => {
                let root = root.trim_matches('/');
                self.browse(account, &join(root, &rel)).await?
            }
            RemoteSpec::Folder { path: root } => {
                let dir = if rel.is_empty() {
                    root.clone()
                } else {
                    root.join(&rel)
                };
                tokio::task::spawn_blocking(move || list_dirs(&dir))
                    .await
                    .map_err(internal)??
            }
        };
        let mut folders: Vec<SyncFolder> = names
            .into_iter()
            .filter(|n| builtin_rule(n).is_none())
            .map(|name| SyncFolder {
                path: join(&rel, &name),
                name,
            })
            .collect();
        folders.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(SyncFolders { path: rel, folders })
    }

    /// Check each filter as the engine compiles it: one verdict per rule.
    pub fn check_filters(&self, filters: &[UserFilter]) -> FilterCheck {
        let rules: Vec<RuleCheck> = filters
            .iter()
            .map(|f| match f.check() {
                Ok(()) => RuleCheck {
                    ok: true,
                    error: None,
                },
                Err(e) => RuleCheck {
                    ok: false,
                    error: Some(e.to_string()),
                },
            })
            .collect();
        FilterCheck {
            ok: rules.iter().all(|r| r.ok),
            rules,
        }
    }

    /// The built-in exclusion rules, as the engine states them.
    pub fn builtin_rules(&self) -> BuiltinRules {
        BuiltinRules {
            rules: BUILTIN_RULES.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// Which existing items `filters` would leave out: every item of the
    /// journal's base (what was last in sync) and of a scan of the local
    /// folder that the filters exclude, sorted by path, at most `limit`.
    pub async fn preview_filters(
        &self,
        id_or_name: &str,
        filters: &[UserFilter],
        limit: Option<usize>,
    ) -> Result<FilterPreview> {
        let sync = self.find(id_or_name).await?;
        let proposed = Filter::new(filters, &[])
            .map_err(|e| DaemonError::BadRequest(format!("invalid filter: {e}")))?;
        let current = Filter::new(&sync.filters, &[]).unwrap_or_default();
        let limit = limit
            .unwrap_or(PREVIEW_LIMIT_DEFAULT)
            .clamp(1, PREVIEW_LIMIT_MAX);
        let base = self.with_journal(&sync.id, |j| j.load_base()).await?;
        let local = sync.local.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            let folder =
                crate::fsops::Folder::new(local, Side::Local, crate::fsops::TrashPolicy::Os);
            folder.scan(&Filter::default())
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
        // path -> (kind, size): the base first, what is on disk now over it.
        let mut items: BTreeMap<String, (Kind, u64)> = base
            .into_iter()
            .map(|(path, b)| (path, (b.kind, b.local.size)))
            .collect();
        if let Some(scan) = scanned {
            for (path, e) in scan.tree {
                items.insert(path, (e.kind, e.size));
            }
        }
        let mut count = 0;
        let mut out = Vec::new();
        for (path, (kind, size)) in items {
            let Some(rule) = proposed.excluded_path(&path, kind, size) else {
                continue;
            };
            count += 1;
            if out.len() < limit {
                out.push(PreviewItem {
                    already: current.excluded_path(&path, kind, size).is_some(),
                    kind: match kind {
                        Kind::File => ItemKind::File,
                        Kind::Dir => ItemKind::Dir,
                    },
                    path,
                    rule,
                });
            }
        }
        Ok(FilterPreview {
            truncated: out.len() < count,
            items: out,
            count,
        })
    }

    /// Open a synchronization's local folder with the desktop's file
    /// manager. Only a configured synchronization's own folder: the request
    /// names the synchronization, never a path.
    pub async fn open_local(&self, id_or_name: &str) -> Result<()> {
        let sync = self.find(id_or_name).await?;
        let dir = sync.local.clone();
        if !dir.is_dir() {
            return Err(DaemonError::Conflict(format!(
                "{} does not exist (yet): the next pass creates it",
                dir.display()
            )));
        }
        // The one way to open something: `open_item`'s checks and launcher.
        self.open_item(&sync.id, "").await
    }
}

/// The names of the sub-folders of `dir` (a folder remote), skipping names
/// that are not valid UTF-8 or not a valid segment.
fn list_dirs(dir: &std::path::Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DaemonError::NotFound(format!(
                "no folder {}",
                dir.display()
            )));
        }
        Err(e) => return Err(DaemonError::Conflict(format!("{}: {e}", dir.display()))),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DaemonError::Conflict(format!("{}: {e}", dir.display())))?;
        // Not followed: a symlink is not one of the remote's folders.
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if !is_dir {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            if crate::engine::path::check_segment(name).is_ok() {
                names.push(crate::engine::path::nfc(name).into_owned());
            }
        }
    }
    Ok(names)
}
