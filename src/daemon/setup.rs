//! What the preferences' setup and settings pages ask of the daemon: the
//! application settings (notification switches, start-all mode, the
//! default poll interval, the global bandwidth limits; auto-start is the desktop's, see
//! `crate::autostart`), the diagnostics bundle, checking a local folder as
//! it is typed, and simulating a synchronization before it is added.

use std::path::{Path, PathBuf};

use super::{Daemon, DaemonError, Result, internal};
use crate::config::{AppSettings, POLL_INTERVAL_RANGE};
use crate::diagnostics::BundleSummary;
use crate::protocol::settings::{CheckLocal, LocalVerdict, SettingsPatch};
use crate::protocol::syncs::NewSync;

impl Daemon {
    /// The configuration folder (next to it, the auto-start choice).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// Change the application settings `patch` names (not auto-start:
    /// that is the desktop's entry, changed by the caller). The tray hears
    /// of it through the `config` event and reads the switches again.
    pub async fn change_settings(&self, patch: &SettingsPatch) -> Result<AppSettings> {
        if let Some(secs) = patch
            .default_poll_interval_secs
            .filter(|s| !POLL_INTERVAL_RANGE.contains(s))
        {
            return Err(DaemonError::BadRequest(format!(
                "the default poll interval must be between {} and {} seconds, not {secs}",
                POLL_INTERVAL_RANGE.start(),
                POLL_INTERVAL_RANGE.end()
            )));
        }
        let patch = patch.clone();
        let (_, settings) = self
            .change_config(move |c| {
                if let Some(n) = &patch.notifications {
                    n.apply_to(&mut c.settings.notifications);
                }
                if let Some(p) = patch.start_all_parallel {
                    c.settings.start_all_parallel = p;
                }
                if let Some(secs) = patch.default_poll_interval_secs {
                    c.settings.default_poll_interval_secs = secs;
                }
                if let Some(b) = &patch.bandwidth {
                    b.apply_to(&mut c.settings.bandwidth);
                }
                Ok(c.settings.clone())
            })
            .await?;
        // Transfers in flight take the new limits at their next step.
        self.shared.bandwidth.set(&settings.bandwidth);
        Ok(settings)
    }

    /// Write the redacted diagnostics bundle (what `ferry diagnostics`
    /// writes) into `diagnostics/` in the data folder; what was written.
    pub async fn write_diagnostics(&self) -> Result<BundleSummary> {
        let config_dir = self.config_dir.clone();
        let data_dir = self.shared.data_dir.clone();
        tokio::task::spawn_blocking(move || {
            let dir = data_dir.join("diagnostics");
            crate::fsops::private::create_dir(&dir).map_err(internal)?;
            let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
            let mut out = dir.join(format!("ferry-diagnostics-{stamp}.zip"));
            let mut n = 1;
            while out.exists() {
                n += 1;
                out = dir.join(format!("ferry-diagnostics-{stamp}-{n}.zip"));
            }
            crate::diagnostics::write_bundle(&config_dir, &data_dir, &out)
                .map_err(|e| DaemonError::Internal(format!("{e:#}")))
        })
        .await
        .map_err(internal)?
    }

    /// Why `local` (in normal form) cannot be the local folder of a new
    /// synchronization (or of `except`, when it is changed): the system's
    /// folders and Ferry's own ([`crate::config::check_local_allowed`]),
    /// or another synchronization's folder around or inside it.
    pub(super) async fn local_refusal(
        &self,
        local: &Path,
        except: Option<&str>,
    ) -> Option<DaemonError> {
        if let Err(e) =
            crate::config::check_local_allowed(local, &self.config_dir, &self.shared.data_dir)
        {
            return Some(DaemonError::BadRequest(e.to_string()));
        }
        let config = self.config().await;
        let other = config
            .syncs
            .iter()
            .filter(|s| Some(s.id.as_str()) != except)
            .find(|s| s.local.starts_with(local) || local.starts_with(&s.local))?;
        Some(DaemonError::Conflict(format!(
            "{} overlaps the local folder of {:?} ({}): a folder can belong to one synchronization only",
            local.display(),
            other.name,
            other.local.display()
        )))
    }

    /// The setup assistant's local-folder field: the folder as it would be
    /// saved, and whether it exists (empty, or with how many entries),
    /// would be created by the first pass, or is refused and why.
    pub async fn check_local(&self, typed: &str) -> Result<CheckLocal> {
        let refused = |path: String, reason: String| CheckLocal {
            path,
            verdict: LocalVerdict::Refused,
            items: 0,
            reason: Some(reason),
        };
        let typed_path = Path::new(typed.trim());
        if typed.trim().is_empty() {
            return Ok(refused(String::new(), "type the path of a folder".into()));
        }
        if crate::config::url_scheme(typed.trim()).is_none() && !typed_path.is_absolute() {
            return Ok(refused(
                typed.to_string(),
                "give the whole path, starting with /".into(),
            ));
        }
        let local = match crate::config::local_folder(typed_path) {
            Ok(p) => p,
            Err(e) => return Ok(refused(typed.to_string(), e.to_string())),
        };
        let shown = local.display().to_string();
        if let Some(e) = self.local_refusal(&local, None).await {
            return Ok(refused(shown, e.to_string()));
        }
        let probe = local.clone();
        let looked = tokio::task::spawn_blocking(move || look_at(&probe))
            .await
            .map_err(internal)?;
        Ok(match looked {
            Ok(None) => CheckLocal {
                path: shown,
                verdict: LocalVerdict::WillCreate,
                items: 0,
                reason: None,
            },
            Ok(Some(0)) => CheckLocal {
                path: shown,
                verdict: LocalVerdict::Empty,
                items: 0,
                reason: None,
            },
            Ok(Some(n)) => CheckLocal {
                path: shown,
                verdict: LocalVerdict::NotEmpty,
                items: n,
                reason: None,
            },
            Err(reason) => refused(shown, reason),
        })
    }

    /// What the first pass of `new` would do, before it is added: the
    /// same checks as adding it, then a dry run against an empty scratch
    /// journal (removed afterwards). Nothing is saved, started or written
    /// to either folder.
    pub async fn simulate_new(&self, new: &NewSync) -> Result<crate::pass::Report> {
        let sync = self.new_sync_config(new).await?;
        let config = self.config().await;
        if config.syncs.iter().any(|s| s.name == sync.name) {
            return Err(DaemonError::Conflict(format!(
                "a synchronization named {:?} exists already: choose another name",
                sync.name
            )));
        }
        let account = sync.account().and_then(|a| config.account(a)).cloned();
        let scratch = self
            .shared
            .data_dir
            .join("tmp")
            .join(format!("simulate-{:016x}.db", rand::random::<u64>()));
        let report = super::worker::dry_run(
            &sync,
            account.as_ref(),
            &self.shared,
            scratch.clone(),
            new.create_remote_root,
        )
        .await;
        remove_journal(&scratch);
        report.map_err(DaemonError::Conflict)
    }
}

/// `Ok(None)`: nothing there; `Ok(Some(n))`: a folder with `n` entries;
/// `Err`: something that is not a usable folder.
fn look_at(path: &Path) -> std::result::Result<Option<u64>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        Ok(m) if !m.is_dir() => {
            return Err(format!(
                "{} is a file, not a folder: choose a folder",
                path.display()
            ));
        }
        Ok(_) => {}
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| format!("cannot read the folder {}: {e}", path.display()))?;
    Ok(Some(entries.count() as u64))
}

/// Remove a journal file and its SQLite companions.
pub(super) fn remove_journal(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}
