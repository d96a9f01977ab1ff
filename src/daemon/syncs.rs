//! Synchronizations in the configuration: the configuration transaction
//! (load → modify → save), adding, changing and removing a synchronization,
//! and the checks a new or changed one must pass.

use std::path::{Path, PathBuf};

use super::{Daemon, DaemonError, Event, Result, internal};
use crate::config::{Config, RemoteSpec, SyncConfig};
use crate::protocol::syncs::{NewSync, SyncPatch};

impl Daemon {
    /// Load the file, apply `change`, save; the new configuration.
    pub(super) async fn change_config<T>(
        &self,
        change: impl FnOnce(&mut Config) -> Result<T>,
    ) -> Result<(Config, T)> {
        let mut current = self.config.lock().await;
        let (mut config, warning) = Config::load(&self.config_dir).map_err(internal)?;
        if let Some(w) = warning {
            tracing::warn!("{w}");
            if let Ok(mut ws) = self.config_warnings.lock() {
                ws.push(w.to_string());
            }
        }
        let out = change(&mut config)?;
        config.save(&self.config_dir).map_err(internal)?;
        *current = config.clone();
        let _ = self.shared.events.send(Event::Config);
        Ok((config, out))
    }

    // ----------------------------------------------------------- syncs --

    /// Create a synchronization (and start it).
    pub async fn add_sync(&self, new: NewSync) -> Result<SyncConfig> {
        let sync = self.new_sync_config(&new).await?;
        let (config, (id, first)) = self
            .change_config(|c| {
                if c.syncs.iter().any(|s| s.name == sync.name) {
                    return Err(DaemonError::Conflict(format!(
                        "a synchronization named {:?} exists already",
                        sync.name
                    )));
                }
                let first = c.syncs.is_empty();
                let id = c
                    .add_sync(sync)
                    .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
                Ok((id, first))
            })
            .await?;
        if let (true, Some(hook)) = (first, self.on_first_sync.clone()) {
            if let Err(e) = tokio::task::spawn_blocking(move || hook()).await {
                tracing::warn!("the first synchronization's hook failed: {e}");
            }
        }
        let sync = config
            .sync(&id)
            .cloned()
            .ok_or_else(|| internal("the new synchronization vanished"))?;
        self.start_worker_with(&config, &sync, new.create_remote_root)
            .await;
        Ok(sync)
    }

    /// The configuration entry `new` asks for, in normal form and checked
    /// (what adding it and simulating it before adding it both use); a poll
    /// interval it does not give is the settings' default.
    pub(super) async fn new_sync_config(&self, new: &NewSync) -> Result<SyncConfig> {
        let mut sync = new.to_config();
        if new.settings.poll_interval_secs.is_none() {
            sync.poll_interval_secs = self.config().await.settings.default_poll_interval_secs;
        }
        normalize_sync(&mut sync)?;
        self.check_sync(&sync).await?;
        Ok(sync)
    }

    async fn check_sync(&self, sync: &SyncConfig) -> Result<()> {
        if !sync.local.is_absolute() {
            return Err(DaemonError::BadRequest(format!(
                "the local folder must be an absolute path: {}",
                sync.local.display()
            )));
        }
        if let Some(e) = self.local_refusal(&sync.local, Some(&sync.id)).await {
            return Err(e);
        }
        crate::engine::Filter::new(&sync.filters, &sync.deselected)
            .map_err(|e| DaemonError::BadRequest(format!("invalid filter: {e}")))?;
        match &sync.remote {
            RemoteSpec::Folder { path } => {
                if !path.is_absolute() {
                    return Err(DaemonError::BadRequest(format!(
                        "the remote folder must be an absolute path: {}",
                        path.display()
                    )));
                }
                crate::config::check_apart(&sync.local, path)
                    .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
            }
            RemoteSpec::WebDav { account, .. } => {
                if self.config().await.account(account).is_none() {
                    return Err(DaemonError::BadRequest(format!(
                        "no account {account:?}: add it first"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Change a synchronization's settings (what `patch` names; `id`
    /// cannot change) and restart it. A change of its bandwidth limits
    /// alone does not restart it: its transfers in flight go on at the new
    /// rates.
    pub async fn update_sync(&self, id_or_name: &str, patch: &SyncPatch) -> Result<SyncConfig> {
        let current = self.find(id_or_name).await?;
        let mut updated = patch.applied(&current);
        normalize_sync(&mut updated)?;
        self.check_sync(&updated).await?;
        self.check_same_places(&current, &updated).await?;
        let id = current.id.clone();
        let to_save = updated.clone();
        let (config, ()) = self
            .change_config(move |c| {
                let s = c
                    .sync_mut(&id)
                    .ok_or_else(|| DaemonError::NotFound(format!("no synchronization {id:?}")))?;
                *s = to_save;
                Ok(())
            })
            .await?;
        let limits_only = SyncConfig {
            bandwidth: updated.bandwidth,
            ..current.clone()
        } == updated;
        if limits_only {
            if let Some(w) = self.workers.lock().await.get(&current.id) {
                w.bandwidth.set(&updated.bandwidth);
                return Ok(updated);
            }
        }
        self.stop_worker(&current.id).await;
        self.start_worker(&config, &updated).await;
        Ok(updated)
    }

    /// A synchronization keeps its folders: its journal (the base) says
    /// what was in sync *there*. With it, a pass on other folders would
    /// take every item the new place lacks for a deletion on that side
    /// (and delete it on the other). A fresh journal instead would turn
    /// the change into a first pass of two unrelated folders behind the
    /// user's back, and drop the old history; removing the synchronization
    /// and adding it again does the same knowingly, so that is what the
    /// refusal asks for. Another account is a change of place unless it
    /// names the same server URL and user.
    async fn check_same_places(&self, current: &SyncConfig, updated: &SyncConfig) -> Result<()> {
        let refuse = |what: &str, from: String, to: String| {
            Err(DaemonError::BadRequest(format!(
                "the {what} of a synchronization cannot be changed ({from} → {to}): its journal records what was in sync in the old place, and a pass on the new one would delete what that place lacks. Remove the synchronization and add it again with the new folder (both folders are kept as they are)."
            )))
        };
        if current.local != updated.local {
            return refuse(
                "local folder",
                current.local.display().to_string(),
                updated.local.display().to_string(),
            );
        }
        match (&current.remote, &updated.remote) {
            (RemoteSpec::Folder { path: a }, RemoteSpec::Folder { path: b }) if a == b => Ok(()),
            (
                RemoteSpec::WebDav {
                    account: a,
                    path: pa,
                },
                RemoteSpec::WebDav {
                    account: b,
                    path: pb,
                },
            ) if pa == pb => {
                if a == b {
                    return Ok(());
                }
                let config = self.config().await;
                let server = |id: &str| {
                    config
                        .account(id)
                        .map(|acc| (acc.url.clone(), acc.user.clone()))
                };
                match (server(a), server(b)) {
                    (Some(x), Some(y)) if x == y => Ok(()),
                    _ => refuse(
                        "remote folder",
                        format!("account {a}"),
                        format!("account {b}"),
                    ),
                }
            }
            (from, to) => refuse("remote folder", describe_remote(from), describe_remote(to)),
        }
    }

    /// Remove a synchronization: stop it, forget it, delete its journal.
    /// Both folders stay as they are.
    pub async fn remove_sync(&self, id_or_name: &str) -> Result<SyncConfig> {
        let sync = self.find(id_or_name).await?;
        self.stop_worker(&sync.id).await;
        // Its recent files go with it.
        if let Ok(mut recent) = self.shared.recent.lock() {
            recent.retain(|r| r.sync != sync.id);
        }
        let id = sync.id.clone();
        self.change_config(move |c| {
            c.remove_sync(&id)
                .map(|_| ())
                .ok_or_else(|| DaemonError::NotFound(format!("no synchronization {id:?}")))
        })
        .await?;
        super::setup::remove_journal(&super::journals::journal_path(
            &self.shared.data_dir,
            &sync.id,
        ));
        Ok(sync)
    }
}

/// Bring a synchronization's places to their normal form
/// ([`crate::config::normalize_local`], [`crate::config::normalize_remote_path`])
/// before it is checked and saved: one place, one spelling. A folder given
/// as a URL of another kind (`htp://…`) is refused, naming the scheme.
/// A remote place in words, for messages.
fn describe_remote(remote: &RemoteSpec) -> String {
    match remote {
        RemoteSpec::Folder { path } => path.display().to_string(),
        RemoteSpec::WebDav { account, path } => format!("{path:?} on account {account}"),
    }
}

fn normalize_sync(sync: &mut SyncConfig) -> Result<()> {
    fn folder(path: &Path, what: &str) -> Result<PathBuf> {
        let bad = |e: crate::config::ConfigError| DaemonError::BadRequest(format!("{what}: {e}"));
        if path
            .to_str()
            .is_some_and(|p| crate::config::url_scheme(p).is_some())
        {
            return crate::config::local_folder(path).map_err(bad);
        }
        if !path.is_absolute() {
            return Err(DaemonError::BadRequest(format!(
                "the {what} must be an absolute path: {}",
                path.display()
            )));
        }
        crate::config::normalize_local(path).map_err(bad)
    }
    sync.local = folder(&sync.local, "local folder")?;
    match &mut sync.remote {
        RemoteSpec::Folder { path } => *path = folder(path, "remote folder")?,
        RemoteSpec::WebDav { path, .. } => {
            if let Some(scheme) = crate::config::url_scheme(path) {
                return Err(DaemonError::BadRequest(format!(
                    "the remote path {path:?} is a URL ({scheme}://): give the path below the account's URL"
                )));
            }
            *path = crate::config::normalize_remote_path(path)
        }
    }
    Ok(())
}
