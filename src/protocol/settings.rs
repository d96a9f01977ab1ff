//! The application's settings and set-up helpers over the API:
//! `GET/PATCH /api/settings` (auto-start at login as the system sees it,
//! notification switches, start-all mode, the default poll interval, the
//! global bandwidth limits),
//! `POST /api/diagnostics` (the redacted bundle) and `POST
//! /api/check-local` (the setup assistant's local-folder field).

use serde::{Deserialize, Serialize};

pub use crate::config::{Bandwidth, Notifications, RateLimit};

/// Auto-start at login, as the desktop will see it (read from the system,
/// not from Ferry's configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Autostart {
    /// Ferry starts at login.
    pub on: bool,
    /// Ferry's entry is there but the desktop's startup settings turned it
    /// off (`on` is then `false`; turning it on rewrites it enabled).
    #[serde(default)]
    pub off_in_desktop_settings: bool,
    /// The entry's file (the XDG `.desktop` file on Linux), if there is one.
    #[serde(default)]
    pub file: Option<String>,
    /// Why the state could not be read (then `on` is `false`).
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /api/settings`, and the answer of `PATCH /api/settings`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub autostart: Autostart,
    /// Which desktop notifications the tray shows, by category.
    pub notifications: Notifications,
    /// "Run all" starts every synchronization at once (else one after the
    /// other).
    pub start_all_parallel: bool,
    /// How often a new synchronization polls its server for changes when
    /// it does not say.
    pub default_poll_interval_secs: u64,
    /// The global bandwidth limits, shared by every synchronization's
    /// transfers together.
    #[serde(default)]
    pub bandwidth: Bandwidth,
}

/// `PATCH /api/settings`: what to change (the rest stays).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsPatch {
    /// Turn auto-start at login on or off (the real entry; the choice is
    /// recorded, so Ferry no longer changes it by itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<NotificationsPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_all_parallel: Option<bool>,
    /// Seconds, 5 to 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_poll_interval_secs: Option<u64>,
    /// The global bandwidth limits to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<BandwidthPatch>,
}

/// Bandwidth limits to change, each direction on its own: a number sets
/// it (KiB/s, 1 to [`RateLimit::MAX_KIB_PER_SEC`]; 0, a negative, a
/// fraction or text is refused, saying why), `null` removes it, a missing
/// field leaves it as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandwidthPatch {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::syncs::present"
    )]
    pub upload_kib_per_sec: Option<Option<RateLimit>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::syncs::present"
    )]
    pub download_kib_per_sec: Option<Option<RateLimit>>,
}

impl BandwidthPatch {
    /// Set what is given on `b`; the rest stays.
    pub fn apply_to(&self, b: &mut Bandwidth) {
        if let Some(v) = self.upload_kib_per_sec {
            b.upload_kib_per_sec = v;
        }
        if let Some(v) = self.download_kib_per_sec {
            b.download_kib_per_sec = v;
        }
    }
}

/// Notification switches to change, each optional.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<bool>,
}

impl NotificationsPatch {
    /// Set what is given on `n`; the rest stays.
    pub fn apply_to(&self, n: &mut Notifications) {
        let set = |to: &mut bool, v: Option<bool>| {
            if let Some(v) = v {
                *to = v;
            }
        };
        set(&mut n.credentials, self.credentials);
        set(&mut n.confirmation, self.confirmation);
        set(&mut n.conflicts, self.conflicts);
        set(&mut n.errors, self.errors);
    }
}

/// `POST /api/diagnostics`: the bundle written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// Where the zip file is.
    pub path: String,
    /// How many files it holds.
    pub files: usize,
    pub bytes: u64,
}

/// `POST /api/check-local`: a local folder as typed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLocalRequest {
    pub path: String,
}

/// What a synchronization would find at a local folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalVerdict {
    /// The folder exists and is empty.
    Empty,
    /// The folder exists and holds `items` entries.
    NotEmpty,
    /// It does not exist: the first pass creates it.
    WillCreate,
    /// It cannot be a synchronization's local folder (`reason` says why).
    Refused,
}

/// The answer of `POST /api/check-local`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLocal {
    /// The folder in normal form (what would be saved), or as typed when
    /// it cannot be read as a folder.
    pub path: String,
    pub verdict: LocalVerdict,
    /// The entries directly in it (`not_empty`).
    #[serde(default)]
    pub items: u64,
    /// Why it is refused.
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notifications_patch_changes_only_what_it_names() {
        let patch: SettingsPatch =
            serde_json::from_str(r#"{"notifications": {"conflicts": false}}"#).unwrap();
        let mut n = Notifications::default();
        patch.notifications.unwrap().apply_to(&mut n);
        assert!(!n.conflicts);
        assert!(n.credentials && n.confirmation && n.errors);
        assert_eq!(patch.autostart, None);
    }

    #[test]
    fn a_bandwidth_patch_sets_removes_or_keeps_each_limit() {
        let mut b = Bandwidth {
            upload_kib_per_sec: Some(RateLimit::new(100).unwrap()),
            download_kib_per_sec: Some(RateLimit::new(200).unwrap()),
        };
        let patch: BandwidthPatch =
            serde_json::from_str(r#"{"upload_kib_per_sec": null}"#).unwrap();
        patch.apply_to(&mut b);
        assert_eq!(b.upload_kib_per_sec, None);
        assert_eq!(b.download_kib_per_sec, RateLimit::new(200).ok());
        let patch: BandwidthPatch =
            serde_json::from_str(r#"{"download_kib_per_sec": 50}"#).unwrap();
        patch.apply_to(&mut b);
        assert_eq!(b.download_kib_per_sec, RateLimit::new(50).ok());
    }

    #[test]
    fn a_bad_bandwidth_limit_is_refused_saying_why() {
        let err = |json: &str| {
            serde_json::from_str::<BandwidthPatch>(json)
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"upload_kib_per_sec": 0}"#).contains("at least 1 KiB/s"));
        assert!(err(r#"{"upload_kib_per_sec": -5}"#).contains("at least 1 KiB/s, not -5"));
        assert!(err(r#"{"download_kib_per_sec": 1.5}"#).contains("whole number"));
        assert!(err(r#"{"download_kib_per_sec": "fast"}"#).contains("not the text \"fast\""));
        assert!(
            err(r#"{"upload_kib_per_sec": 99999999999}"#).contains("more than the 4000000 KiB/s")
        );
        assert!(err(r#"{"upload_kib_per_sec": true}"#).contains("a whole number of KiB/s"));
    }

    #[test]
    fn verdicts_are_snake_case() {
        let v = serde_json::to_value(LocalVerdict::WillCreate).unwrap();
        assert_eq!(v, "will_create");
    }
}
