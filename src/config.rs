//! Ferry's configuration file: accounts, synchronizations and settings.
//!
//! One JSON file, `config.json`, in the platform config folder
//! (`~/.config/ferry` on Linux; `FERRY_CONFIG_DIR` overrides it). It is
//! schema-versioned (`"version": 1`), and it never holds a secret: an
//! account's password lives in the OS keyring ([`crate::secrets`]).
//!
//! * **Written atomically**: a temp file in the same folder, fsynced, renamed
//!   over `config.json`, then the folder is fsynced. Mode 0600 on Unix.
//! * **Forward compatible**: unknown fields are ignored and missing ones take
//!   their defaults. A file of a newer schema version is refused (never
//!   rewritten by an older Ferry).
//! * **Never overwritten silently**: a file that cannot be read or parsed is
//!   moved aside to `config.json.corrupt-<timestamp>`; loading then returns
//!   an empty configuration and a [`Warning`] that says where the old file
//!   went, for the caller to show.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;
use serde::{Deserialize, Deserializer, Serialize};

// The settings types are part of the saved schema (and of the protocol).
pub use crate::engine::{CompareMode, ConflictPolicy, Direction, Guards, NewFolders, UserFilter};

/// Environment variable that overrides the data folder (journals, logs,
/// the API port file).
pub const DATA_DIR_ENV: &str = "FERRY_DATA_DIR";

/// The configuration file's name inside the config folder.
pub const CONFIG_FILE: &str = "config.json";
/// The schema version this Ferry writes and understands.
pub const CONFIG_VERSION: u32 = 1;
/// Environment variable that overrides the config folder.
pub const CONFIG_DIR_ENV: &str = "FERRY_CONFIG_DIR";

/// What went wrong with the configuration. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no home folder to keep Ferry's configuration in: set {CONFIG_DIR_ENV}")]
    NoHome,
    #[error("cannot read the configuration {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the configuration {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "the configuration {} could not be used ({reason}) and could not be moved aside to {}: {source}; fix or remove it by hand",
        path.display(),
        aside.display()
    )]
    MoveAside {
        path: PathBuf,
        aside: PathBuf,
        reason: String,
        source: io::Error,
    },
    #[error(
        "the configuration {} has version {found}, newer than this Ferry understands ({CONFIG_VERSION}): update Ferry",
        path.display()
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{spec:?} is a URL of an unknown kind ({scheme}://): {accepted}. Check it for a typo.")]
    UnknownScheme {
        spec: String,
        scheme: String,
        accepted: &'static str,
    },
    #[error("invalid folder {path:?}: {reason}")]
    BadPath { path: String, reason: String },
    #[error("{0}")]
    Conflict(String),
}

/// Something the user should be told about while loading, though loading
/// succeeded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The file that could not be used.
    pub path: PathBuf,
    /// Where it was moved.
    pub moved_to: PathBuf,
    /// Why it could not be used.
    pub reason: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the configuration {} could not be used ({}); it was moved to {} and Ferry starts with an empty configuration",
            self.path.display(),
            self.reason,
            self.moved_to.display()
        )
    }
}

/// A WebDAV account: where and who. Never a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Short, stable, human-readable id (e.g. `cloud-example-com`).
    pub id: String,
    /// The WebDAV base URL, normalised (see [`normalize_url`]); ends in `/`.
    pub url: String,
    /// The user name sent to the server.
    pub user: String,
    /// The URL the password was stored under in the keyring, when it differs
    /// from `url` (an account saved before URLs were normalised as they are
    /// now): the keyring entry keeps its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_url: Option<String>,
    /// What the keyring holds for it: a password (an app password is one;
    /// the default, and what an older configuration means) or a token.
    #[serde(default, skip_serializing_if = "SecretKind::is_password")]
    pub secret: SecretKind,
}

/// What an account's secret is: a password (Basic or Digest, as the server
/// asks) or a token (`Authorization: Bearer`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    #[default]
    Password,
    Token,
}

impl SecretKind {
    pub fn is_password(&self) -> bool {
        *self == SecretKind::Password
    }

    /// "password" or "token", as messages name it.
    pub fn noun(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::Token => "token",
        }
    }
}

impl Account {
    /// The key of this account's password in the keyring: `<user>@<url>`.
    pub fn secret_key(&self) -> String {
        crate::secrets::account_key(&self.user, self.key_url.as_deref().unwrap_or(&self.url))
    }

    /// The URL of `rel` (a `/`-separated path relative to the account URL,
    /// not percent-encoded); a folder URL, ending in `/`.
    pub fn url_for(&self, rel: &str) -> String {
        let mut s = self.url.clone();
        for seg in rel.split('/').filter(|s| !s.is_empty()) {
            s.extend(percent_encoding::utf8_percent_encode(seg, SEGMENT));
            s.push('/');
        }
        s
    }
}

/// Characters kept as they are in a path segment; all others are encoded.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The other side of a synchronization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RemoteSpec {
    /// A folder on another disk or a mounted share.
    Folder { path: PathBuf },
    /// A folder on a WebDAV server.
    WebDav {
        /// The [`Account::id`].
        account: String,
        /// Relative to the account URL, `/`-separated, not percent-encoded;
        /// `""` is the account URL itself.
        #[serde(default)]
        path: String,
    },
}

/// One synchronization: a local folder and a remote folder kept in sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncConfig {
    pub id: String,
    pub name: String,
    pub local: PathBuf,
    pub remote: RemoteSpec,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub conflict: ConflictPolicy,
    #[serde(default)]
    pub compare: CompareMode,
    /// Watch the local folder and poll the remote (else only scheduled or
    /// manual passes).
    #[serde(default = "default_true")]
    pub live: bool,
    /// How often the remote is polled for changes.
    #[serde(default = "default_poll")]
    pub poll_interval_secs: u64,
    /// How often both sides are scanned in full, whatever the watchers say.
    #[serde(default = "default_full_scan")]
    pub full_scan_interval_secs: u64,
    /// Run a pass every this many seconds (when not live).
    #[serde(default)]
    pub schedule_secs: Option<u64>,
    #[serde(default)]
    pub filters: Vec<UserFilter>,
    /// Selective sync: remote folders left out.
    #[serde(default)]
    pub deselected: Vec<String>,
    /// Selective sync: what happens to a folder that appears at the top of
    /// the server folder later (`sync` or `skip`).
    #[serde(default)]
    pub new_folders: NewFolders,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default, deserialize_with = "lenient_guards")]
    pub guards: Guards,
    /// This synchronization's own transfer rate limits (the global ones,
    /// [`AppSettings::bandwidth`], apply too).
    #[serde(default, deserialize_with = "lenient_bandwidth")]
    pub bandwidth: Bandwidth,
}

impl SyncConfig {
    /// A synchronization with every setting at its default; the id is
    /// assigned by [`Config::add_sync`] when left empty.
    pub fn new(name: &str, local: PathBuf, remote: RemoteSpec) -> SyncConfig {
        SyncConfig {
            id: String::new(),
            name: name.to_string(),
            local,
            remote,
            direction: Direction::default(),
            conflict: ConflictPolicy::default(),
            compare: CompareMode::default(),
            live: true,
            poll_interval_secs: default_poll(),
            full_scan_interval_secs: default_full_scan(),
            schedule_secs: None,
            filters: Vec::new(),
            deselected: Vec::new(),
            new_folders: NewFolders::Sync,
            enabled: true,
            guards: Guards::default(),
            bandwidth: Bandwidth::default(),
        }
    }

    /// The account this synchronization uses, if it is a WebDAV one.
    pub fn account(&self) -> Option<&str> {
        match &self.remote {
            RemoteSpec::WebDav { account, .. } => Some(account),
            RemoteSpec::Folder { .. } => None,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_poll() -> u64 {
    30
}

fn default_full_scan() -> u64 {
    3600
}

/// `Guards` with any missing field at its default (the engine's type has
/// no `#[serde(default)]`, and a partial object must not fail the load).
fn lenient_guards<'de, D: Deserializer<'de>>(d: D) -> Result<Guards, D::Error> {
    #[derive(Deserialize)]
    struct Partial {
        max_delete_ratio: Option<f64>,
        max_delete_count: Option<usize>,
    }
    let p = Partial::deserialize(d)?;
    let def = Guards::default();
    Ok(Guards {
        max_delete_ratio: p.max_delete_ratio.unwrap_or(def.max_delete_ratio),
        max_delete_count: p.max_delete_count.unwrap_or(def.max_delete_count),
    })
}

/// Application-wide settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSettings {
    /// Start Ferry when the user logs in. Kept for older files: the real
    /// state is the desktop's startup entry (`crate::autostart`), which is
    /// what the API and the CLI read and write.
    pub autostart: bool,
    /// Start all synchronizations at once (else one after the other).
    pub start_all_parallel: bool,
    /// Which desktop notifications the tray shows.
    pub notifications: Notifications,
    /// How often a new synchronization polls its remote for changes when
    /// it does not say ([`SyncConfig::poll_interval_secs`]).
    pub default_poll_interval_secs: u64,
    /// Transfer rate limits shared by every synchronization's transfers
    /// together.
    #[serde(deserialize_with = "lenient_bandwidth")]
    pub bandwidth: Bandwidth,
}

impl Default for AppSettings {
    fn default() -> AppSettings {
        AppSettings {
            autostart: false,
            start_all_parallel: false,
            notifications: Notifications::default(),
            default_poll_interval_secs: default_poll(),
            bandwidth: Bandwidth::default(),
        }
    }
}

/// A transfer rate limit: a whole number of KiB/s, from 1 to
/// [`RateLimit::MAX_KIB_PER_SEC`] (about 4 GB/s: faster than any link a
/// limit is for; a larger number is a typo). "No limit" is the absence of
/// one (`Option<RateLimit>`), never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RateLimit(u32);

impl RateLimit {
    pub const MAX_KIB_PER_SEC: u32 = 4_000_000;

    /// The limit of `kib_per_sec` KiB/s, or why it is none.
    pub fn new(kib_per_sec: i64) -> Result<RateLimit, String> {
        match u32::try_from(kib_per_sec) {
            Ok(n) if (1..=Self::MAX_KIB_PER_SEC).contains(&n) => Ok(RateLimit(n)),
            _ if kib_per_sec <= 0 => Err(format!(
                "a bandwidth limit must be at least 1 KiB/s, not {kib_per_sec} (to remove a limit, leave it empty or give \"off\")"
            )),
            _ => Err(format!(
                "a bandwidth limit of {kib_per_sec} KiB/s is more than the {} KiB/s (about 4 GB/s) Ferry accepts",
                Self::MAX_KIB_PER_SEC
            )),
        }
    }

    /// A limit as typed (`ferry limit --up 512`): KiB/s, a whole number;
    /// `Ok(None)` for `off` (no limit).
    pub fn parse(typed: &str) -> Result<Option<RateLimit>, String> {
        let t = typed.trim();
        if ["off", "none", "unlimited"].contains(&t.to_ascii_lowercase().as_str()) {
            return Ok(None);
        }
        match t.parse::<i64>() {
            Ok(n) => RateLimit::new(n).map(Some),
            Err(_) => Err(format!(
                "{typed:?} is not a bandwidth limit: give a whole number of KiB/s (e.g. 512), or \"off\" for no limit"
            )),
        }
    }

    pub fn kib_per_sec(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} KiB/s", self.0)
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RateLimit, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = RateLimit;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "a bandwidth limit: a whole number of KiB/s from 1 to {} (null: no limit)",
                    RateLimit::MAX_KIB_PER_SEC
                )
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RateLimit, E> {
                RateLimit::new(i64::try_from(v).unwrap_or(i64::MAX)).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RateLimit, E> {
                RateLimit::new(v).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RateLimit, E> {
                Err(E::custom(format!(
                    "a bandwidth limit is a whole number of KiB/s, not {v}"
                )))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RateLimit, E> {
                Err(E::custom(format!(
                    "a bandwidth limit is a number of KiB/s, not the text {v:?}"
                )))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Transfer rate limits, each direction on its own (`None`: no limit).
/// They apply to what moves file contents over the network (WebDAV
/// uploads, downloads, hashes by GET), not to a folder remote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bandwidth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_kib_per_sec: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_kib_per_sec: Option<RateLimit>,
}

/// [`Bandwidth`] from a configuration file, each value on its own: one
/// that is not a valid limit (text, 0, negative, absurd) is no limit and
/// a warning in the log, never a reason to set the whole file aside.
fn lenient_bandwidth<'de, D: Deserializer<'de>>(d: D) -> Result<Bandwidth, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let field = |name: &str| match value.get(name) {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => match RateLimit::deserialize(v) {
            Ok(limit) => Some(limit),
            Err(e) => {
                tracing::warn!("the configuration's {name} is not used ({e}): no limit");
                None
            }
        },
    };
    if !(value.is_object() || value.is_null()) {
        tracing::warn!(
            "the configuration's bandwidth limits are not used (not an object): no limit"
        );
    }
    Ok(Bandwidth {
        upload_kib_per_sec: field("upload_kib_per_sec"),
        download_kib_per_sec: field("download_kib_per_sec"),
    })
}

/// The shortest and longest default poll interval a user may set: polling
/// a server more often than every 5 s is a load on it; less often than
/// once a day is no longer "live".
pub const POLL_INTERVAL_RANGE: std::ops::RangeInclusive<u64> = 5..=86_400;

/// Which desktop notifications are shown, by category: each one is on
/// unless the user turned it off (a missing field reads as on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Notifications {
    /// A server refuses the credentials (or there are none).
    pub credentials: bool,
    /// A guard stopped a pass and waits for confirmation.
    pub confirmation: bool,
    /// New conflicts (both versions kept).
    pub conflicts: bool,
    /// A synchronization stopped with an error.
    pub errors: bool,
}

impl Default for Notifications {
    fn default() -> Notifications {
        Notifications {
            credentials: true,
            confirmation: true,
            conflicts: true,
            errors: true,
        }
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub version: u32,
    pub accounts: Vec<Account>,
    #[serde(rename = "synchronizations")]
    pub syncs: Vec<SyncConfig>,
    pub settings: AppSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: CONFIG_VERSION,
            accounts: Vec::new(),
            syncs: Vec::new(),
            settings: AppSettings::default(),
        }
    }
}

/// The config folder: `$FERRY_CONFIG_DIR`, else the platform's
/// (`~/.config/ferry` on Linux).
pub fn default_dir() -> Result<PathBuf, ConfigError> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "ferry")
        .map(|d| d.config_dir().to_path_buf())
        .ok_or(ConfigError::NoHome)
}

/// The data folder: `$FERRY_DATA_DIR`, else the platform's
/// (`~/.local/share/ferry` on Linux). Journals live in `syncs/`, logs in
/// `logs/`, the API endpoint in `api.port`.
pub fn data_dir() -> Result<PathBuf, ConfigError> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "ferry")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(ConfigError::NoHome)
}

/// The path of the configuration file in `dir`.
pub fn config_path(dir: &Path) -> PathBuf {
    dir.join(CONFIG_FILE)
}

impl Config {
    /// Load the configuration from `dir`. A missing file is an empty
    /// configuration. A file that cannot be read or parsed is moved aside
    /// and an empty configuration is returned with a [`Warning`]; if it
    /// cannot be moved aside, that is an error (so it is never overwritten).
    pub fn load(dir: &Path) -> Result<(Config, Option<Warning>), ConfigError> {
        let path = config_path(dir);
        let reason = match fs::read(&path) {
            Ok(bytes) => match parse(&bytes) {
                Ok(config) => {
                    if config.version > CONFIG_VERSION {
                        return Err(ConfigError::TooNew {
                            path,
                            found: config.version,
                        });
                    }
                    let mut config = config;
                    config.normalize();
                    return Ok((config, None));
                }
                Err(e) => format!("not a valid Ferry configuration: {e}"),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Config::default(), None)),
            Err(e) => format!("unreadable: {e}"),
        };
        let moved_to = move_aside(&path, &reason)?;
        Ok((
            Config::default(),
            Some(Warning {
                path,
                moved_to,
                reason,
            }),
        ))
    }

    /// Save the configuration to `dir` (created if missing) atomically.
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        let path = config_path(dir);
        let err = |source: io::Error| ConfigError::Write {
            path: path.clone(),
            source,
        };
        crate::fsops::private::create_dir(dir).map_err(err)?;
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| err(io::Error::other(e)))?;
        json.push(b'\n');
        crate::fsops::private::write(&path, &json).map_err(err)
    }

    // ----- accounts -----

    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.id == id)
    }

    /// The account with this id, or whose URL equals this URL (normalised).
    pub fn find_account(&self, url_or_id: &str) -> Option<&Account> {
        find_account(&self.accounts, url_or_id)
    }

    /// Add an account for `url` and `user`, or return the existing one when
    /// the same user already has an account at that URL. Another user at
    /// the same URL is refused: an URL picks one account.
    pub fn add_account(&mut self, url: &str, user: &str) -> Result<&Account, ConfigError> {
        let url = normalize_url(url)?;
        if user.is_empty() {
            return Err(ConfigError::Conflict("the user name is empty".into()));
        }
        if let Some(i) = self.accounts.iter().position(|a| same_url(&a.url, &url)) {
            let existing = &self.accounts[i];
            if existing.user != user {
                return Err(ConfigError::Conflict(format!(
                    "the account {} already uses {} (as user {}): remove it first with `ferry account remove {}`",
                    existing.id, existing.url, existing.user, existing.id
                )));
            }
            return Ok(&self.accounts[i]);
        }
        let id = unique_id(&slug_of_url(&url), |id| self.account(id).is_some());
        self.accounts.push(Account {
            id,
            url,
            user: user.to_string(),
            key_url: None,
            secret: SecretKind::Password,
        });
        let last = self.accounts.len() - 1;
        Ok(&self.accounts[last])
    }

    /// Remove the account with this id; returns it.
    pub fn remove_account(&mut self, id: &str) -> Option<Account> {
        let i = self.accounts.iter().position(|a| a.id == id)?;
        Some(self.accounts.remove(i))
    }

    /// The synchronizations that use the account `id`.
    pub fn syncs_using(&self, account_id: &str) -> Vec<&SyncConfig> {
        self.syncs
            .iter()
            .filter(|s| s.account() == Some(account_id))
            .collect()
    }

    /// The account whose URL is the longest prefix of `url` (comparing
    /// normalised URLs segment by segment), with the rest of the path,
    /// percent-decoded, `/`-separated, without leading or trailing `/`.
    pub fn find_account_for_url(&self, url: &str) -> Option<(&Account, String)> {
        account_for_url(&self.accounts, url)
    }

    /// Bring every place saved in the configuration to its normal form
    /// (an older Ferry, or a hand edit, may have saved another spelling):
    /// account URLs ([`normalize_url`]; the keyring entry keeps its old
    /// key), local folders and folder remotes ([`normalize_local`]) and
    /// WebDAV paths ([`normalize_remote_path`]). A value that cannot be
    /// normalised is left as it is (the synchronization then reports it).
    pub fn normalize(&mut self) {
        for a in &mut self.accounts {
            if let Ok(url) = normalize_url(&a.url) {
                if url != a.url {
                    if a.key_url.is_none() {
                        a.key_url = Some(a.url.clone());
                    }
                    a.url = url;
                }
            }
        }
        for s in &mut self.syncs {
            // (A relative path is refused when the synchronization starts;
            // it must not become relative to the daemon's folder here.)
            if s.local.is_absolute()
                && let Ok(local) = normalize_local(&s.local)
            {
                s.local = local;
            }
            match &mut s.remote {
                RemoteSpec::Folder { path } => {
                    if path.is_absolute()
                        && let Ok(p) = normalize_local(path)
                    {
                        *path = p;
                    }
                }
                RemoteSpec::WebDav { path, .. } => *path = normalize_remote_path(path),
            }
        }
    }

    // ----- synchronizations -----

    /// The synchronization with this id.
    pub fn sync(&self, id: &str) -> Option<&SyncConfig> {
        self.syncs.iter().find(|s| s.id == id)
    }

    /// The synchronization with this id, mutably.
    pub fn sync_mut(&mut self, id: &str) -> Option<&mut SyncConfig> {
        self.syncs.iter_mut().find(|s| s.id == id)
    }

    /// The synchronization with this id or name.
    pub fn find_sync(&self, id_or_name: &str) -> Option<&SyncConfig> {
        self.sync(id_or_name)
            .or_else(|| self.syncs.iter().find(|s| s.name == id_or_name))
    }

    /// Add a synchronization. An empty id is replaced by a unique slug of
    /// its name; a duplicate id, or a WebDAV remote naming no known account,
    /// is refused. Returns the id.
    pub fn add_sync(&mut self, mut sync: SyncConfig) -> Result<String, ConfigError> {
        if sync.id.is_empty() {
            sync.id = unique_id(&slug(&sync.name), |id| self.sync(id).is_some());
        } else if self.sync(&sync.id).is_some() {
            return Err(ConfigError::Conflict(format!(
                "a synchronization with id {} already exists",
                sync.id
            )));
        }
        if let Some(account) = sync.account() {
            if self.account(account).is_none() {
                return Err(ConfigError::Conflict(format!(
                    "no account {account}: add it first with `ferry account add`"
                )));
            }
        }
        let id = sync.id.clone();
        self.syncs.push(sync);
        Ok(id)
    }

    /// Remove the synchronization with this id; returns it.
    pub fn remove_sync(&mut self, id: &str) -> Option<SyncConfig> {
        let i = self.syncs.iter().position(|s| s.id == id)?;
        Some(self.syncs.remove(i))
    }
}

/// Parse a configuration: any JSON object; unknown fields are ignored.
fn parse(bytes: &[u8]) -> Result<Config, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Move a file that cannot be used to `<name>.corrupt-<timestamp>` (never
/// replacing anything). Returns the new path.
fn move_aside(path: &Path, reason: &str) -> Result<PathBuf, ConfigError> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let base = format!("{CONFIG_FILE}.corrupt-{stamp}");
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut aside = dir.join(&base);
    let mut n = 1;
    while fs::symlink_metadata(&aside).is_ok() {
        n += 1;
        aside = dir.join(format!("{base}-{n}"));
    }
    match fs::rename(path, &aside) {
        Ok(()) => {
            let _ = crate::fsops::private::sync_dir(dir);
            Ok(aside)
        }
        Err(source) => Err(ConfigError::MoveAside {
            path: path.to_path_buf(),
            aside,
            reason: reason.to_string(),
            source,
        }),
    }
}

// ----- places: one normal form for each -----
//
// A place (a local folder, a folder remote, a WebDAV folder) can be typed
// in many ways: `L` and `L/`, a path and its `file://` URL, a symlinked
// parent, `HTTP://Host:80/a/%7euser`… Everything Ferry derives from a place
// (journal names, account matching, synchronization overlap checks) is
// derived from its normal form, made by the functions below and nowhere
// else.

/// What `ferry sync` and `ferry add` accept for a remote.
const REMOTE_SCHEMES: &str =
    "use http:// or https:// for a WebDAV folder, file:// or a plain path for a folder";
/// What an account accepts.
const ACCOUNT_SCHEMES: &str = "an account URL starts with http:// or https://";
/// What a local folder accepts.
const LOCAL_SCHEMES: &str = "the local folder is a path or a file:// URL";

/// The scheme of `spec` when it looks like a URL
/// (`^[a-zA-Z][a-zA-Z0-9+.-]*://`), as typed.
pub fn url_scheme(spec: &str) -> Option<&str> {
    let (scheme, _) = spec.trim_start().split_once("://")?;
    if cfg!(windows) && scheme.len() == 1 {
        // `C://folder`: a drive letter.
        return None;
    }
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

/// A place, in normal form: where a synchronization's side is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A folder on this computer (absolute, canonical: [`normalize_local`]).
    Folder(PathBuf),
    /// A WebDAV folder URL ([`normalize_url`]).
    WebDav(String),
}

impl Place {
    /// The place the user typed for a remote: an `http(s)://` URL, a
    /// `file://` URL or a path (relative to the current folder). Any other
    /// `scheme://` is refused, naming the scheme: `htp://host/x` is a typo,
    /// not a folder called `htp:`.
    pub fn parse(spec: &str) -> Result<Place, ConfigError> {
        match url_scheme(spec) {
            None => Ok(Place::Folder(normalize_local(Path::new(spec))?)),
            Some(s) if s.eq_ignore_ascii_case("file") => Ok(Place::Folder(file_url_path(spec)?)),
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
                Ok(Place::WebDav(normalize_url(spec)?))
            }
            Some(s) => Err(ConfigError::UnknownScheme {
                spec: redact_userinfo(spec),
                scheme: s.to_string(),
                accepted: REMOTE_SCHEMES,
            }),
        }
    }

    /// The normal form as one string: the folder's path or the URL. Journal
    /// names are derived from it.
    pub fn key(&self) -> String {
        match self {
            Place::Folder(p) => p.to_string_lossy().into_owned(),
            Place::WebDav(u) => u.clone(),
        }
    }
}

/// The local folder the user typed: a path or a `file://` URL, in normal
/// form. A URL of another kind is refused.
pub fn local_folder(spec: &Path) -> Result<PathBuf, ConfigError> {
    let Some(text) = spec.to_str() else {
        return normalize_local(spec);
    };
    match url_scheme(text) {
        None => normalize_local(spec),
        Some(s) if s.eq_ignore_ascii_case("file") => file_url_path(text),
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            Err(ConfigError::BadPath {
                path: redact_userinfo(text),
                reason:
                    "the local folder must be on this computer: give the WebDAV URL as the remote"
                        .into(),
            })
        }
        Some(s) => Err(ConfigError::UnknownScheme {
            spec: redact_userinfo(text),
            scheme: s.to_string(),
            accepted: LOCAL_SCHEMES,
        }),
    }
}

/// A `file://` URL as a normalised local path: percent-decoded, host empty
/// or `localhost`.
fn file_url_path(spec: &str) -> Result<PathBuf, ConfigError> {
    let bad = |reason: &str| ConfigError::BadPath {
        path: spec.to_string(),
        reason: reason.to_string(),
    };
    let u = reqwest::Url::parse(spec.trim()).map_err(|e| bad(&e.to_string()))?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(bad("a file:// URL names a folder: no ? or # part"));
    }
    let path = u.to_file_path().map_err(|()| {
        bad("a file:// URL names a folder on this computer: file:///path or file://localhost/path")
    })?;
    normalize_local(&path)
}

/// A local path in normal form: absolute (relative to the current folder),
/// `.` and `..` resolved, no trailing separator, and every part that exists
/// resolved through its symlinks (`fs::canonicalize`). The parts that do not
/// exist yet are added lexically under the deepest existing one, so a
/// folder keeps its name before and after it is created.
pub fn normalize_local(path: &Path) -> Result<PathBuf, ConfigError> {
    use std::path::Component;
    let bad = |reason: String| ConfigError::BadPath {
        path: path.display().to_string(),
        reason,
    };
    if path.as_os_str().is_empty() {
        return Err(bad("the path is empty".into()));
    }
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| bad(format!("cannot read the current folder: {e}")))?
            .join(path)
    };
    let mut out = PathBuf::new();
    // Once a part is missing, the ones after it are too (unless `..`
    // climbs back): no need to ask the disk.
    let mut exists = true;
    for comp in absolute.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir => out.push(comp.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
                exists = true;
            }
            Component::Normal(name) => {
                out.push(name);
                if exists {
                    match fs::canonicalize(&out) {
                        Ok(real) => out = real,
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A path below an account URL in normal form: `/`-separated, no empty,
/// `.` or `..` segments, no leading or trailing `/`.
pub fn normalize_remote_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    segments.join("/")
}

/// Normalise a WebDAV folder URL: http(s) only, no user name or password in
/// it, no query or fragment, scheme and host lower-cased, default port
/// dropped; the path without empty, `.` or `..` segments, each segment
/// percent-encoded one way (unreserved characters as they are, everything
/// else `%XX` in upper case), ending in `/`.
pub fn normalize_url(url: &str) -> Result<String, ConfigError> {
    let bad = |reason: &str| ConfigError::BadUrl {
        url: redact_userinfo(url),
        reason: reason.to_string(),
    };
    if let Some(s) = url_scheme(url)
        && !s.eq_ignore_ascii_case("http")
        && !s.eq_ignore_ascii_case("https")
    {
        return Err(ConfigError::UnknownScheme {
            spec: redact_userinfo(url),
            scheme: s.to_string(),
            accepted: ACCOUNT_SCHEMES,
        });
    }
    let mut u = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("not an http(s) URL"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad(
            "put no user name or password in the URL: give the user with --user",
        ));
    }
    u.set_query(None);
    u.set_fragment(None);
    let path = canonical_url_path(u.path());
    u.set_path(&path);
    Ok(u.to_string())
}

/// A URL path with each segment decoded once and encoded with [`SEGMENT`],
/// `.`/`..` (also encoded ones) resolved, empty segments dropped, ending
/// in `/`.
fn canonical_url_path(path: &str) -> String {
    let mut segments: Vec<String> = Vec::new();
    for raw in path.split('/').filter(|s| !s.is_empty()) {
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
        match bytes.as_slice() {
            b"." => {}
            b".." => {
                segments.pop();
            }
            b => segments.push(percent_encoding::percent_encode(b, SEGMENT).to_string()),
        }
    }
    let mut out = String::from("/");
    for s in segments {
        out.push_str(&s);
        out.push('/');
    }
    out
}

/// The account whose URL is the longest prefix of `url`, segment by
/// segment (both normalised), with the rest of the path, percent-decoded,
/// `/`-separated, without leading or trailing `/`.
pub fn account_for_url<'a>(accounts: &'a [Account], url: &str) -> Option<(&'a Account, String)> {
    let target = UrlParts::of(&normalize_url(url).ok()?)?;
    accounts
        .iter()
        .filter_map(|a| {
            let p = UrlParts::of(&normalize_url(&a.url).ok()?)?;
            (p.origin == target.origin && target.segments.starts_with(&p.segments))
                .then_some((a, p.segments.len()))
        })
        .max_by_key(|(_, n)| *n)
        .map(|(a, n)| (a, target.segments[n..].join("/")))
}

/// Refuse a local folder and a folder remote inside one another (a pass
/// would synchronize a folder with itself). Both in normal form.
pub fn check_apart(local: &Path, remote: &Path) -> Result<(), ConfigError> {
    if remote.starts_with(local) || local.starts_with(remote) {
        return Err(ConfigError::Conflict(format!(
            "the local folder and the remote folder must not contain each other: {} and {}",
            local.display(),
            remote.display()
        )));
    }
    Ok(())
}

/// System folders a synchronization's local folder may be neither nor be
/// inside of: what the system and other programs keep there is not the
/// user's to synchronize (and deleting or replacing it would break the
/// computer).
#[cfg(unix)]
const SYSTEM_TREES: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/cache",
    "/var/db",
    "/var/lib",
    "/var/lock",
    "/var/log",
    "/var/mail",
    "/var/run",
    "/var/spool",
    "/System",
    "/Library",
    "/Applications",
    "/private/etc",
    "/private/var/db",
    "/private/var/log",
];

/// Folders that hold other people's or other programs' folders: refused
/// themselves, while a folder inside them is fine (`/home/alice/Sync`,
/// `/mnt/disk/Photos`, `/var/home/alice` on Fedora Atomic).
#[cfg(unix)]
const SHARED_ROOTS: &[&str] = &[
    "/",
    "/home",
    "/media",
    "/mnt",
    "/opt",
    "/private",
    "/private/var",
    "/root",
    "/srv",
    "/tmp",
    "/Users",
    "/var",
    "/var/tmp",
    "/Volumes",
];

/// Windows: the drive's root, `C:\Users`, and the system's folders.
#[cfg(windows)]
fn system_folders() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let env = |k: &str, fallback: &str| {
        PathBuf::from(std::env::var_os(k).unwrap_or_else(|| fallback.into()))
    };
    let trees = vec![
        env("SystemRoot", r"C:\Windows"),
        env("ProgramFiles", r"C:\Program Files"),
        env("ProgramFiles(x86)", r"C:\Program Files (x86)"),
        env("ProgramData", r"C:\ProgramData"),
    ];
    let drive = env("SystemDrive", "C:");
    // `C:` + `\` by text: `Path::join` with a rooted argument would
    // replace the drive instead.
    let drive = drive.display().to_string();
    let roots = vec![
        PathBuf::from(format!("{drive}\\")),
        PathBuf::from(format!("{drive}\\Users")),
    ];
    (trees, roots)
}

/// Whether `local` may be a synchronization's local folder: not `/` (or a
/// drive's root), not a system folder or inside one, not a folder that
/// holds other users' folders (`/home`, `/Users`…), and neither Ferry's
/// configuration folder nor its data folder (which holds the API token
/// and the journals), nor inside or around either. `local` is in normal
/// form ([`local_folder`]); the two folders are normalised here.
pub fn check_local_allowed(
    local: &Path,
    config_dir: &Path,
    data_dir: &Path,
) -> Result<(), ConfigError> {
    let refuse = |reason: String| ConfigError::BadPath {
        path: local.display().to_string(),
        reason,
    };
    // A bare drive or root: no parent.
    if local.parent().is_none() {
        return Err(refuse(
            "the root of a disk cannot be synchronized: choose a folder of your own".into(),
        ));
    }
    #[cfg(unix)]
    let (trees, roots): (Vec<PathBuf>, Vec<PathBuf>) = (
        SYSTEM_TREES.iter().map(PathBuf::from).collect(),
        SHARED_ROOTS.iter().map(PathBuf::from).collect(),
    );
    #[cfg(windows)]
    let (trees, roots) = system_folders();
    let same = |a: &Path, b: &Path| {
        if cfg!(windows) {
            a.to_string_lossy().to_lowercase() == b.to_string_lossy().to_lowercase()
        } else {
            a == b
        }
    };
    let inside = |a: &Path, b: &Path| {
        if cfg!(windows) {
            PathBuf::from(a.to_string_lossy().to_lowercase())
                .starts_with(b.to_string_lossy().to_lowercase())
        } else {
            a.starts_with(b)
        }
    };
    if let Some(t) = trees.iter().find(|t| inside(local, t)) {
        return Err(refuse(format!(
            "{} is a system folder: Ferry does not synchronize it or anything inside it",
            t.display()
        )));
    }
    if roots.iter().any(|r| same(local, r)) {
        return Err(refuse(
            "this folder holds other users' or programs' folders: choose a folder inside it".into(),
        ));
    }
    for (own, what) in [(config_dir, "configuration"), (data_dir, "data")] {
        // Unknown (no home folder): nothing to compare with.
        if own.as_os_str().is_empty() {
            continue;
        }
        let own = normalize_local(own).unwrap_or_else(|_| own.to_path_buf());
        if inside(local, &own) || inside(&own, local) {
            return Err(refuse(format!(
                "Ferry keeps its {what} in {}: a synchronization's folder can be neither that folder, nor inside it, nor around it",
                own.display()
            )));
        }
    }
    Ok(())
}

/// The account with this id, or else the one at this URL (in any spelling
/// of it): how `ferry account remove` and the API find an account.
pub fn find_account<'a>(accounts: &'a [Account], url_or_id: &str) -> Option<&'a Account> {
    if let Some(a) = accounts.iter().find(|a| a.id == url_or_id) {
        return Some(a);
    }
    let url = normalize_url(url_or_id).ok()?;
    accounts.iter().find(|a| same_url(&a.url, &url))
}

/// Whether two account URLs name the same place.
pub fn same_url(a: &str, b: &str) -> bool {
    match (
        normalize_url(a).ok().and_then(|a| UrlParts::of(&a)),
        normalize_url(b).ok().and_then(|b| UrlParts::of(&b)),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// `url` with any `user:password@` part replaced, for messages.
fn redact_userinfo(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>@{}", &url[..start], &url[start + at + 1..]),
        None => url.to_string(),
    }
}

/// A normalised URL split for comparison: origin and decoded path segments.
#[derive(Debug, PartialEq, Eq)]
struct UrlParts {
    origin: String,
    segments: Vec<String>,
}

impl UrlParts {
    fn of(normalised: &str) -> Option<UrlParts> {
        let u = reqwest::Url::parse(normalised).ok()?;
        let origin = format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str()?,
            u.port_or_known_default()?
        );
        let segments = u
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        Some(UrlParts { origin, segments })
    }
}

/// Lower-case letters, digits and single dashes; never empty.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 32 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "item".into() } else { out }
}

fn slug_of_url(url: &str) -> String {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    slug(&host)
}

/// `base`, or `base-2`, `base-3`… whichever is free.
fn unique_id(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    let mut n = 2u64;
    loop {
        let id = format!("{base}-{n}");
        if !taken(&id) {
            return id;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn sample() -> Config {
        let mut c = Config::default();
        let id = c
            .add_account(
                "https://Cloud.Example.com:443/remote.php/dav/files/alice",
                "alice",
            )
            .unwrap()
            .id
            .clone();
        let mut s = SyncConfig::new(
            "Documents",
            PathBuf::from("/home/alice/Documents"),
            RemoteSpec::WebDav {
                account: id,
                path: "Documents".into(),
            },
        );
        s.filters.push(UserFilter::glob("*.log"));
        s.deselected.push("Big".into());
        s.schedule_secs = Some(600);
        s.direction = Direction::Send;
        c.add_sync(s).unwrap();
        c.add_sync(SyncConfig::new(
            "Backup",
            PathBuf::from("/home/alice/Pictures"),
            RemoteSpec::Folder {
                path: PathBuf::from("/mnt/usb/Pictures"),
            },
        ))
        .unwrap();
        c.settings.autostart = true;
        c
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let c = sample();
        c.save(dir.path()).unwrap();
        let (back, warning) = Config::load(dir.path()).unwrap();
        assert_eq!(warning, None);
        assert_eq!(back, c);
        let text = fs::read_to_string(config_path(dir.path())).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");
        assert!(text.contains("\"synchronizations\""), "{text}");
        assert!(text.contains("\"type\": \"webdav\""), "{text}");
    }

    #[test]
    fn missing_file_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let (c, w) = Config::load(&dir.path().join("nope")).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(w, None);
    }

    #[cfg(unix)]
    #[test]
    fn saved_file_is_private_and_no_temp_left() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        sample().save(&sub).unwrap();
        sample().save(&sub).unwrap();
        let mode = fs::metadata(config_path(&sub))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![CONFIG_FILE.to_string()]);
    }

    #[test]
    fn save_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        sample().save(dir.path()).unwrap();
        // A reader holding the old file keeps the old content: the new one
        // is a different file renamed over it, never a rewrite in place.
        let old = File::open(config_path(dir.path())).unwrap();
        let old_len = old.metadata().unwrap().len();
        Config::default().save(dir.path()).unwrap();
        assert_eq!(old.metadata().unwrap().len(), old_len);
        let (c, _) = Config::load(dir.path()).unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn failed_save_leaves_old_file() {
        let dir = tempfile::tempdir().unwrap();
        sample().save(dir.path()).unwrap();
        // The target is a non-empty folder: the rename fails.
        let blocked = dir.path().join("blocked");
        fs::create_dir_all(config_path(&blocked).join("x")).unwrap();
        let e = sample().save(&blocked).unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
        let names: Vec<_> = fs::read_dir(&blocked).unwrap().collect();
        assert_eq!(names.len(), 1, "temp file left behind");
    }

    #[test]
    fn corrupt_file_is_moved_aside_with_clear_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_path(dir.path());
        fs::write(&path, b"{\"version\": 1, \"accounts\": [").unwrap();
        let (c, w) = Config::load(dir.path()).unwrap();
        assert_eq!(c, Config::default());
        let w = w.expect("a warning");
        assert_eq!(w.path, path);
        assert!(!path.exists());
        let aside = fs::read(&w.moved_to).unwrap();
        assert_eq!(aside, b"{\"version\": 1, \"accounts\": [");
        let name = w.moved_to.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("config.json.corrupt-"), "{name}");
        let msg = w.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(&w.moved_to.display().to_string()), "{msg}");
        assert!(msg.contains("empty configuration"), "{msg}");

        // A second corrupt file in the same second does not replace the first.
        fs::write(&path, b"not json").unwrap();
        let (_, w2) = Config::load(dir.path()).unwrap();
        let w2 = w2.unwrap();
        assert_ne!(w2.moved_to, w.moved_to);
        assert_eq!(fs::read(&w.moved_to).unwrap(), aside);
        assert_eq!(fs::read(&w2.moved_to).unwrap(), b"not json");
    }

    #[test]
    fn unreadable_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should be cannot be read as one.
        fs::create_dir(config_path(dir.path())).unwrap();
        let (c, w) = Config::load(dir.path()).unwrap();
        assert_eq!(c, Config::default());
        let w = w.unwrap();
        assert!(w.moved_to.is_dir());
        assert!(w.to_string().contains("unreadable"), "{w}");
    }

    #[test]
    fn wrong_shape_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(config_path(dir.path()), b"[1, 2]").unwrap();
        let (_, w) = Config::load(dir.path()).unwrap();
        assert!(w.is_some());
    }

    #[test]
    fn newer_version_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_path(dir.path());
        fs::write(&path, br#"{"version": 7}"#).unwrap();
        let e = Config::load(dir.path()).unwrap_err();
        assert!(matches!(e, ConfigError::TooNew { found: 7, .. }), "{e}");
        assert!(e.to_string().contains("update Ferry"));
        assert!(path.exists());
    }

    #[test]
    fn unknown_fields_ignored_and_defaults_filled() {
        let dir = tempfile::tempdir().unwrap();
        let json = r#"{
            "version": 1,
            "future_top": {"x": 1},
            "accounts": [{"id": "a", "url": "https://h/dav/", "user": "u", "colour": "red"}],
            "synchronizations": [{
                "id": "s", "name": "S", "local": "/l",
                "remote": {"type": "webdav", "account": "a", "path": "x", "extra": true},
                "guards": {"max_delete_count": 5},
                "new_knob": 42
            }],
            "settings": {"autostart": true, "theme": "dark"}
        }"#;
        fs::write(config_path(dir.path()), json).unwrap();
        let (c, w) = Config::load(dir.path()).unwrap();
        assert_eq!(w, None);
        assert_eq!(c.accounts[0].user, "u");
        let s = &c.syncs[0];
        assert!(s.live && s.enabled);
        assert_eq!(s.poll_interval_secs, 30);
        assert_eq!(s.full_scan_interval_secs, 3600);
        assert_eq!(s.schedule_secs, None);
        assert_eq!(s.direction, Direction::Both);
        assert_eq!(s.guards.max_delete_count, 5);
        assert_eq!(
            s.guards.max_delete_ratio,
            Guards::default().max_delete_ratio
        );
        assert!(c.settings.autostart);
        assert!(!c.settings.start_all_parallel);
        assert_eq!(c.settings.notifications, Notifications::default());
    }

    #[test]
    fn notification_switches_are_on_unless_turned_off() {
        let all_on = Notifications::default();
        assert!(all_on.credentials && all_on.confirmation && all_on.conflicts && all_on.errors);
        let s: AppSettings =
            serde_json::from_str(r#"{"notifications": {"conflicts": false}}"#).unwrap();
        assert_eq!(
            s.notifications,
            Notifications {
                conflicts: false,
                ..Notifications::default()
            }
        );
    }

    #[test]
    fn bandwidth_limits_are_saved_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = sample();
        c.settings.bandwidth.upload_kib_per_sec = RateLimit::new(512).ok();
        c.syncs[0].bandwidth.download_kib_per_sec = RateLimit::new(64).ok();
        c.save(dir.path()).unwrap();
        let (back, warning) = Config::load(dir.path()).unwrap();
        assert_eq!((back, warning), (c, None));
    }

    #[test]
    fn a_corrupt_bandwidth_limit_is_no_limit_and_the_rest_of_the_config_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let json = serde_json::json!({
            "version": 1,
            "settings": {
                "default_poll_interval_secs": 60,
                "bandwidth": {"upload_kib_per_sec": "fast", "download_kib_per_sec": 300}
            },
            "synchronizations": [
                {"id": "a", "name": "a", "local": "/tmp/a",
                 "remote": {"type": "folder", "path": "/tmp/b"},
                 "bandwidth": {"upload_kib_per_sec": 0, "download_kib_per_sec": -3}},
                {"id": "b", "name": "b", "local": "/tmp/c",
                 "remote": {"type": "folder", "path": "/tmp/d"},
                 "bandwidth": "garbage"},
                {"id": "c", "name": "c", "local": "/tmp/e",
                 "remote": {"type": "folder", "path": "/tmp/f"},
                 "bandwidth": {"upload_kib_per_sec": 99999999999u64, "download_kib_per_sec": 1.5}}
            ]
        });
        fs::write(config_path(dir.path()), json.to_string()).unwrap();
        let (c, warning) = Config::load(dir.path()).unwrap();
        assert_eq!(warning, None);
        assert_eq!(c.settings.default_poll_interval_secs, 60);
        assert_eq!(c.settings.bandwidth.upload_kib_per_sec, None);
        assert_eq!(
            c.settings.bandwidth.download_kib_per_sec,
            RateLimit::new(300).ok()
        );
        assert_eq!(c.syncs.len(), 3);
        for s in &c.syncs {
            assert_eq!(s.bandwidth, Bandwidth::default(), "{}", s.name);
        }
    }

    #[test]
    fn a_typed_limit_is_a_whole_number_of_kib_per_second_or_off() {
        assert_eq!(RateLimit::parse("512"), Ok(RateLimit::new(512).ok()));
        assert_eq!(RateLimit::parse(" off "), Ok(None));
        assert!(
            RateLimit::parse("0")
                .unwrap_err()
                .contains("at least 1 KiB/s")
        );
        assert!(RateLimit::parse("-1").unwrap_err().contains("not -1"));
        assert!(
            RateLimit::parse("1.5")
                .unwrap_err()
                .contains("not a bandwidth limit")
        );
        assert!(
            RateLimit::parse("4000001")
                .unwrap_err()
                .contains("more than")
        );
        assert_eq!(
            RateLimit::parse("4000000").map(|l| l.map(RateLimit::kib_per_sec)),
            Ok(Some(4_000_000))
        );
    }

    #[test]
    fn empty_object_is_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(config_path(dir.path()), b"{}").unwrap();
        let (c, w) = Config::load(dir.path()).unwrap();
        assert_eq!((c, w), (Config::default(), None));
    }

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalize_url("HTTPS://Example.COM:443/dav").unwrap(),
            "https://example.com/dav/"
        );
        assert_eq!(
            normalize_url("http://h:8080/a/b/?x=1#f").unwrap(),
            "http://h:8080/a/b/"
        );
        assert_eq!(normalize_url("https://h").unwrap(), "https://h/");
        assert!(normalize_url("ftp://h/").is_err());
        assert!(normalize_url("https://bob:pw@h/").is_err());
        assert!(normalize_url("not a url").is_err());
        let e = normalize_url("https://bob:s3cret@h/x").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("https://<redacted>@h/x"), "{e}");
        let e = normalize_url("https://bob:s3cret@h:99999/").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn one_webdav_folder_has_one_spelling() {
        let canonical = "http://h.example/dav/~alice/My%20Docs/";
        for spelling in [
            "http://h.example/dav/~alice/My%20Docs/",
            "http://h.example/dav/~alice/My%20Docs",
            "HTTP://H.Example:80/dav/~alice/My%20Docs",
            "http://h.example/dav/%7Ealice/My%20Docs/",
            "http://h.example/dav/%7ealice/My Docs/",
            "http://h.example//dav///~alice/./My%20Docs//",
            "http://h.example/dav/x/../~alice/My%20Docs/",
            "http://h.example/dav/%2E/~alice/%2e%2E/~alice/My%20Docs",
        ] {
            assert_eq!(normalize_url(spelling).unwrap(), canonical, "{spelling}");
        }
        assert_eq!(
            normalize_url("https://h:443/a%2fb/%c3%a4+").unwrap(),
            "https://h/a%2Fb/%C3%A4%2B/"
        );
        assert_eq!(normalize_url("https://h:8443/").unwrap(), "https://h:8443/");
    }

    #[test]
    fn unknown_schemes_are_refused_by_name() {
        for spec in [
            "htp://host/Work",
            "webdav://h/x",
            "ftp://h/",
            "s3+x.y-z://b",
        ] {
            let e = Place::parse(spec).unwrap_err();
            let scheme = spec.split("://").next().unwrap();
            assert!(
                matches!(&e, ConfigError::UnknownScheme { scheme: s, .. } if s == scheme),
                "{spec}: {e}"
            );
            assert!(e.to_string().contains("http://"), "{e}");
            assert!(normalize_url(spec).is_err());
            assert!(local_folder(Path::new(spec)).is_err());
        }
        assert_eq!(url_scheme("C:\\x"), None);
        assert_eq!(url_scheme("a b://x"), None);
        assert_eq!(url_scheme("1x://x"), None);
        assert!(local_folder(Path::new("https://h/x")).is_err());
        assert!(matches!(
            Place::parse("https://H/x").unwrap(),
            Place::WebDav(u) if u == "https://h/x/"
        ));
    }

    #[test]
    #[cfg(unix)]
    fn one_local_folder_has_one_spelling() {
        let tmp = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(tmp.path()).unwrap();
        fs::create_dir_all(real.join("a/L")).unwrap();
        std::os::unix::fs::symlink(real.join("a"), real.join("link")).unwrap();
        let l = real.join("a/L");
        let file_url = format!("file://{}", real.join("a/L").display()).replace(' ', "%20");
        for spelling in [
            l.clone(),
            PathBuf::from(format!("{}/", l.display())),
            real.join("a/./L/."),
            real.join("a/x/../L"),
            real.join("link/L"),
            real.join("link/../a/L"),
        ] {
            assert_eq!(
                normalize_local(&spelling).unwrap(),
                l,
                "{}",
                spelling.display()
            );
            assert_eq!(
                Place::parse(&spelling.display().to_string()).unwrap(),
                Place::Folder(l.clone())
            );
        }
        for url in [
            file_url.clone(),
            file_url.replace("file://", "file://localhost"),
        ] {
            assert_eq!(
                Place::parse(&url).unwrap(),
                Place::Folder(l.clone()),
                "{url}"
            );
            assert_eq!(local_folder(Path::new(&url)).unwrap(), l, "{url}");
        }
        assert!(Place::parse("file://elsewhere/x").is_err());
        // Not there yet: lexical under the deepest existing folder's real path.
        assert_eq!(
            normalize_local(&real.join("link/new/./deeper/../x/")).unwrap(),
            real.join("a/new/x")
        );
        // `..` through a symlink climbs from its target, as the system does.
        std::os::unix::fs::symlink(real.join("a/L"), real.join("toL")).unwrap();
        assert_eq!(
            normalize_local(&real.join("toL/..")).unwrap(),
            real.join("a")
        );
        assert!(normalize_local(Path::new("")).is_err());
    }

    #[test]
    fn saved_spellings_are_normalised_on_load() {
        let tmp = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(tmp.path()).unwrap();
        let json = serde_json::json!({
            "version": 1,
            "accounts": [{"id": "h", "url": "https://h/dav/%7ealice//", "user": "u"}],
            "synchronizations": [
                {"id": "a", "name": "a", "local": format!("{}/L/", real.display()),
                 "remote": {"type": "webdav", "account": "h", "path": "/x//y/./z/"}},
                {"id": "b", "name": "b", "local": format!("{}/M/../N", real.display()),
                 "remote": {"type": "folder", "path": format!("{}/R/", real.display())}},
            ]
        });
        fs::write(config_path(tmp.path()), json.to_string()).unwrap();
        let (c, _) = Config::load(tmp.path()).unwrap();
        let a = &c.accounts[0];
        assert_eq!(a.url, "https://h/dav/~alice/");
        // The password stays where it was stored.
        assert_eq!(a.secret_key(), "u@https://h/dav/%7ealice//");
        assert_eq!(c.syncs[0].local, real.join("L"));
        assert_eq!(
            c.syncs[0].remote,
            RemoteSpec::WebDav {
                account: "h".into(),
                path: "x/y/z".into()
            }
        );
        assert_eq!(c.syncs[1].local, real.join("N"));
        assert_eq!(
            c.syncs[1].remote,
            RemoteSpec::Folder {
                path: real.join("R")
            }
        );
        // Saved and loaded again: the same.
        c.save(tmp.path()).unwrap();
        let (again, _) = Config::load(tmp.path()).unwrap();
        assert_eq!(again, c);
        assert_eq!(again.accounts[0].secret_key(), a.secret_key());
    }

    #[test]
    fn account_url_matching_takes_longest_prefix() {
        let mut c = Config::default();
        let root = c
            .add_account("https://h.example/dav", "u1")
            .unwrap()
            .id
            .clone();
        let deep = c
            .add_account("https://h.example/dav/files/alice/", "alice")
            .unwrap()
            .id
            .clone();
        c.add_account("https://other.example/dav/", "o").unwrap();
        assert_ne!(root, deep);

        let (a, rel) = c
            .find_account_for_url("https://H.example/dav/files/alice/My%20Docs/x")
            .unwrap();
        assert_eq!((a.id.as_str(), rel.as_str()), (deep.as_str(), "My Docs/x"));
        let (a, rel) = c
            .find_account_for_url("https://h.example/dav/files/bob")
            .unwrap();
        assert_eq!((a.id.as_str(), rel.as_str()), (root.as_str(), "files/bob"));
        let (a, rel) = c.find_account_for_url("https://h.example:443/dav").unwrap();
        assert_eq!((a.id.as_str(), rel.as_str()), (root.as_str(), ""));
        // Segment boundaries: /dav2 is not under /dav.
        assert!(c.find_account_for_url("https://h.example/dav2/x").is_none());
        // Scheme and port matter.
        assert!(c.find_account_for_url("http://h.example/dav/").is_none());
        assert!(
            c.find_account_for_url("https://h.example:8443/dav/")
                .is_none()
        );
        // Percent-encoding differences do not matter.
        let mut c2 = Config::default();
        c2.add_account("https://h/a%7Eb/", "u").unwrap();
        assert_eq!(c2.find_account_for_url("https://h/a~b/c").unwrap().1, "c");
    }

    #[test]
    fn add_account_is_idempotent_and_refuses_second_user() {
        let mut c = Config::default();
        let a = c.add_account("https://h/dav", "u").unwrap().clone();
        assert_eq!(a.url, "https://h/dav/");
        assert_eq!(a.id, "h");
        let again = c.add_account("https://H/dav/", "u").unwrap().clone();
        assert_eq!(again, a);
        assert_eq!(c.accounts.len(), 1);
        let e = c.add_account("https://h/dav/", "other").unwrap_err();
        assert!(e.to_string().contains("already uses"), "{e}");
        let b = c.add_account("https://h/dav/other/", "v").unwrap().clone();
        assert_eq!(b.id, "h-2");
        assert_eq!(c.find_account("https://h/dav").unwrap().id, "h");
        assert_eq!(c.find_account("h-2").unwrap().user, "v");
        assert!(c.find_account("https://h/").is_none());
        assert_eq!(c.remove_account("h").unwrap(), a);
        assert!(c.remove_account("h").is_none());
    }

    #[test]
    fn syncs_helpers() {
        let mut c = sample();
        let acc = c.accounts[0].id.clone();
        assert_eq!(c.syncs_using(&acc).len(), 1);
        assert_eq!(c.find_sync("documents").unwrap().name, "Documents");
        assert_eq!(c.find_sync("Backup").unwrap().id, "backup");
        let dup = SyncConfig::new(
            "Documents",
            PathBuf::from("/x"),
            RemoteSpec::Folder {
                path: PathBuf::from("/y"),
            },
        );
        assert_eq!(c.add_sync(dup).unwrap(), "documents-2");
        let orphan = SyncConfig::new(
            "O",
            PathBuf::from("/o"),
            RemoteSpec::WebDav {
                account: "nobody".into(),
                path: String::new(),
            },
        );
        assert!(c.add_sync(orphan).is_err());
        c.sync_mut("backup").unwrap().enabled = false;
        assert!(!c.sync("backup").unwrap().enabled);
        assert!(c.remove_sync("backup").is_some());
        assert!(c.sync("backup").is_none());
    }

    #[test]
    fn url_for_encodes_segments() {
        let a = Account {
            id: "a".into(),
            url: "https://h/dav/".into(),
            user: "u".into(),
            key_url: None,
            secret: SecretKind::Password,
        };
        assert_eq!(a.url_for(""), "https://h/dav/");
        assert_eq!(a.url_for("My Docs/ä"), "https://h/dav/My%20Docs/%C3%A4/");
        assert_eq!(a.secret_key(), "u@https://h/dav/");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Cloud.Example.com"), "cloud-example-com");
        assert_eq!(slug("  --  "), "item");
        assert_eq!(slug("Mes Documents (2)"), "mes-documents-2");
    }

    #[test]
    fn settings_without_a_default_poll_interval_read_as_thirty_seconds() {
        let s: AppSettings = serde_json::from_str(r#"{"start_all_parallel": true}"#).unwrap();
        assert_eq!(s.default_poll_interval_secs, 30);
        assert!(s.start_all_parallel);
        assert!(POLL_INTERVAL_RANGE.contains(&s.default_poll_interval_secs));
    }
}

#[cfg(test)]
mod local_allowed_tests {
    use super::*;

    fn home() -> PathBuf {
        directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from("/home/someone"))
    }

    fn own_dirs() -> (PathBuf, PathBuf) {
        (
            home().join(".config/ferry"),
            home().join(".local/share/ferry"),
        )
    }

    fn check(local: &str) -> Result<(), ConfigError> {
        let (c, d) = own_dirs();
        check_local_allowed(Path::new(local), &c, &d)
    }

    #[test]
    fn a_normal_folder_under_home_is_accepted_as_a_local_folder() {
        let (c, d) = own_dirs();
        check_local_allowed(&home().join("Ferry"), &c, &d).unwrap();
        check_local_allowed(&home().join("Documents/Work"), &c, &d).unwrap();
        check("/mnt/disk/Photos").unwrap();
        check("/var/home/alice/Sync").unwrap();
        check("/tmp/somewhere").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_root_folder_is_refused_as_a_local_folder() {
        let e = check("/").unwrap_err().to_string();
        assert!(e.contains("root of a disk"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn system_folders_and_folders_inside_them_are_refused_as_local_folders() {
        for p in [
            "/etc",
            "/etc/ssh",
            "/usr/share",
            "/bin",
            "/var/lib/dpkg",
            "/proc/1",
            "/sys",
            "/dev",
            "/boot",
            "/lib64",
        ] {
            let e = check(p).unwrap_err().to_string();
            assert!(e.contains("system folder"), "{p}: {e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn folders_holding_other_users_folders_are_refused_but_not_what_is_inside() {
        for p in ["/home", "/var", "/opt", "/Users", "/media", "/tmp"] {
            let e = check(p).unwrap_err().to_string();
            assert!(e.contains("other users"), "{p}: {e}");
        }
        check("/opt/shared/team").unwrap();
    }

    #[test]
    fn ferrys_own_folders_are_refused_as_local_folders_with_what_is_inside_and_around_them() {
        let home = PathBuf::from("/home/someone");
        let (c, d) = (home.join(".config/ferry"), home.join(".local/share/ferry"));
        for p in [
            c.clone(),
            c.join("sub"),
            d.clone(),
            d.join("syncs"),
            home.join(".local"),
            home.join(".config"),
            home.clone(),
        ] {
            let e = check_local_allowed(&p, &c, &d).unwrap_err().to_string();
            assert!(e.contains("Ferry keeps its"), "{}: {e}", p.display());
        }
    }
}
