//! Synchronizations over the API: the configuration entry and its state
//! (`GET /api/syncs`), a new one (`POST /api/syncs`), a change of settings
//! (`PATCH /api/syncs/{id}`), running passes (`POST …/run`, `/api/run`).
//!
//! The configuration entry is [`crate::config::SyncConfig`], the saved
//! schema itself (forward compatible, versioned): the protocol serves it
//! as it is saved.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

use super::settings::BandwidthPatch;
use super::status::{PassSummary, SyncStatus};
use crate::config::{
    CompareMode, ConflictPolicy, Direction, Guards, NewFolders, RemoteSpec, SyncConfig, UserFilter,
};

/// The settings of a synchronization, each one optional: what a new
/// synchronization sets (the rest keep their defaults) and what a change
/// changes (the rest stay as they are). Serialised flat, with the names of
/// [`SyncConfig`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<ConflictPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<CompareMode>,
    /// Watch the local folder and poll the remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_scan_interval_secs: Option<u64>,
    /// `Some(None)` (JSON `null`) turns the schedule off.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub schedule_secs: Option<Option<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<UserFilter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deselected: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_folders: Option<NewFolders>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guards: Option<Guards>,
    /// This synchronization's own bandwidth limits (the global ones apply
    /// too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<BandwidthPatch>,
}

/// A field that is there, `null` included (`Some(None)`); a missing one is
/// `None` through `#[serde(default)]`.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl SyncSettings {
    /// Set what is given on `sync`; the rest stays.
    pub fn apply_to(&self, sync: &mut SyncConfig) {
        let s = self.clone();
        if let Some(v) = s.direction {
            sync.direction = v;
        }
        if let Some(v) = s.conflict {
            sync.conflict = v;
        }
        if let Some(v) = s.compare {
            sync.compare = v;
        }
        if let Some(v) = s.live {
            sync.live = v;
        }
        if let Some(v) = s.poll_interval_secs {
            sync.poll_interval_secs = v;
        }
        if let Some(v) = s.full_scan_interval_secs {
            sync.full_scan_interval_secs = v;
        }
        if let Some(v) = s.schedule_secs {
            sync.schedule_secs = v;
        }
        if let Some(v) = s.filters {
            sync.filters = v;
        }
        if let Some(v) = s.deselected {
            sync.deselected = v;
        }
        if let Some(v) = s.new_folders {
            sync.new_folders = v;
        }
        if let Some(v) = s.enabled {
            sync.enabled = v;
        }
        if let Some(v) = s.guards {
            sync.guards = v;
        }
        if let Some(b) = s.bandwidth {
            b.apply_to(&mut sync.bandwidth);
        }
    }
}

/// `POST /api/syncs`: a new synchronization (its id is assigned).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewSync {
    pub name: String,
    pub local: PathBuf,
    pub remote: RemoteSpec,
    /// Create the remote folder if it does not exist: the first pass does
    /// it (and only the first). Without it, a missing remote folder puts the
    /// synchronization in "needs confirmation" and nothing is created.
    #[serde(default)]
    pub create_remote_root: bool,
    #[serde(flatten)]
    pub settings: SyncSettings,
}

impl NewSync {
    /// The configuration entry it asks for (id empty: assigned on saving).
    pub fn to_config(&self) -> SyncConfig {
        let mut sync = SyncConfig::new(&self.name, self.local.clone(), self.remote.clone());
        self.settings.apply_to(&mut sync);
        sync
    }
}

/// `PATCH /api/syncs/{id}`: what changes. The folders cannot change (the
/// daemon refuses it, saying why); `id` is not part of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteSpec>,
    #[serde(flatten)]
    pub settings: SyncSettings,
}

impl SyncPatch {
    /// `sync` with the change made (`id` kept).
    pub fn applied(&self, sync: &SyncConfig) -> SyncConfig {
        let mut s = sync.clone();
        if let Some(v) = &self.name {
            s.name = v.clone();
        }
        if let Some(v) = &self.local {
            s.local = v.clone();
        }
        if let Some(v) = &self.remote {
            s.remote = v.clone();
        }
        self.settings.apply_to(&mut s);
        s
    }

    /// Only `enabled`.
    pub fn enabled(on: bool) -> SyncPatch {
        SyncPatch {
            settings: SyncSettings {
                enabled: Some(on),
                ..SyncSettings::default()
            },
            ..SyncPatch::default()
        }
    }
}

/// `GET /api/syncs` (a list of these) and `GET /api/syncs/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncEntry {
    pub config: SyncConfig,
    /// `null` when it has no worker (e.g. just removed).
    pub status: Option<SyncStatus>,
}

/// `DELETE /api/syncs/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemovedSync {
    /// Its name.
    pub removed: String,
    /// The folders left as they are.
    pub kept: Vec<PathBuf>,
}

/// `POST /api/syncs/{id}/run` and `POST /api/run`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// Answer when the pass is done (with its summary); else at once.
    #[serde(default)]
    pub wait: bool,
    /// `/api/run` only: all at once (`true`), one after the other
    /// (`false`), or as the settings say (`None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
}

/// The answer to a run that does not wait (202).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub started: bool,
}

/// One synchronization's outcome in `POST /api/run` with `wait`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Its name.
    pub sync: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<PassSummary>,
    /// Why it did not run (when not `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's code (`needs_confirmation`, `disabled`, `offline`,
    /// `credentials_required`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_sets_what_it_names_and_null_clears_the_schedule() {
        let mut sync = SyncConfig::new(
            "s",
            PathBuf::from("/a"),
            RemoteSpec::Folder {
                path: PathBuf::from("/b"),
            },
        );
        sync.schedule_secs = Some(60);
        let patch: SyncPatch =
            serde_json::from_str(r#"{"direction": "send", "id": "ignored"}"#).unwrap();
        let changed = patch.applied(&sync);
        assert_eq!(changed.direction, Direction::Send);
        assert_eq!(changed.schedule_secs, Some(60));
        let patch: SyncPatch = serde_json::from_str(r#"{"schedule_secs": null}"#).unwrap();
        assert_eq!(patch.applied(&sync).schedule_secs, None);
        // What a client sends reads back the same.
        let v = serde_json::to_value(&patch).unwrap();
        assert_eq!(v, serde_json::json!({"schedule_secs": null}));
    }

    #[test]
    fn a_wrongly_typed_setting_is_refused() {
        assert!(serde_json::from_str::<SyncPatch>(r#"{"direction": "sideways"}"#).is_err());
        assert!(serde_json::from_str::<SyncPatch>(r#"{"live": "yes"}"#).is_err());
    }
}
