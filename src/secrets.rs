//! Where account passwords live: the OS keyring, behind a small trait.
//!
//! Secrets are never written to the configuration, the journal, logs,
//! `Debug` output or error messages. Every secret is stored under the
//! service [`SERVICE`] (`"ferry"`) and the account key [`account_key`]
//! (`<user>@<url>`).
//!
//! * [`KeyringStore`] — the `keyring` crate. On Linux it picks, once per
//!   store, the first backend that works:
//!   1. the **Secret Service** over D-Bus (GNOME Keyring, KWallet,
//!      KeePassXC…), through libdbus (`sync-secret-service`: blocking calls,
//!      no async runtime of its own, so it is safe to call from a tokio
//!      worker — but prefer `spawn_blocking` there, as a locked keyring can
//!      block for the D-Bus timeout);
//!   2. else the **Linux kernel keyring** (keyutils). It needs a session
//!      keyring the process may write to (run Ferry under `keyctl session -
//!      …`, or from a login session that has one; otherwise the kernel says
//!      EACCES, which keyring 3 reports as "no entry" — so the probe writes
//!      and reads back a test key). Keys are in kernel memory only: gone
//!      after a reboot. keyring also links them into the user's persistent
//!      keyring where the kernel has one, so a later `keyctl session -`
//!      finds them too, until 3 days after their last use
//!      (`kernel.keys.persistent_keyring_expiry`).
//!
//!   When neither works the error says what to do. `FERRY_KEYRING=
//!   secret-service|keyutils` forces a backend (`auto` is the default).
//!   On macOS and Windows it is the system keychain / credential manager.
//! * [`MemoryStore`] — in memory, for tests (the `keyring` crate's mock does
//!   not share state between entries).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

/// The keyring service name of every Ferry secret.
pub const SERVICE: &str = "ferry";
/// Environment variable that forces a keyring backend.
pub const KEYRING_ENV: &str = "FERRY_KEYRING";
/// The account used to probe whether a backend works (never holds a secret
/// for longer than the probe).
const PROBE_ACCOUNT: &str = "ferry-keyring-probe";

/// The keyring account key of a WebDAV account: `<user>@<url>`.
pub fn account_key(user: &str, url: &str) -> String {
    format!("{user}@{url}")
}

/// Why a secret could not be read, stored or deleted. Messages never hold
/// the secret and say what the user can do.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No keyring can be used on this system or session.
    #[error("no keyring to keep the password in: {0}")]
    Unavailable(String),
    /// The keyring exists but is locked or refused access.
    #[error("{0}")]
    Locked(String),
    /// Anything else the keyring reported.
    #[error("{0}")]
    Failed(String),
}

/// A place to keep secrets, keyed by (service, account).
pub trait SecretStore: Send + Sync {
    /// The secret, or `None` when there is none.
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError>;
    /// Store (or replace) the secret.
    fn set(&self, service: &str, account: &str, secret: &str) -> Result<(), SecretError>;
    /// Delete the secret: `true` if there was one.
    fn delete(&self, service: &str, account: &str) -> Result<bool, SecretError>;
    /// Where secrets go, for messages (e.g. "the Secret Service keyring").
    fn describe(&self) -> String;
}

/// A keyring backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The freedesktop Secret Service over D-Bus (Linux, BSD).
    SecretService,
    /// The Linux kernel key retention service (keyutils), in memory only.
    KernelKeyring,
    /// macOS Keychain or Windows Credential Manager.
    Native,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::SecretService => "the Secret Service keyring",
            Backend::KernelKeyring => "the Linux kernel keyring, which forgets it at reboot",
            Backend::Native => "the system keychain",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requested {
    Auto,
    Only(Backend),
    Invalid(String),
}

/// The OS keyring (see the module documentation for how a backend is
/// chosen). Cheap to create; the choice is made at the first use.
pub struct KeyringStore {
    requested: Requested,
    chosen: OnceLock<Result<Backend, String>>,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("requested", &self.requested)
            .field("chosen", &self.chosen.get())
            .finish()
    }
}

impl Default for KeyringStore {
    fn default() -> Self {
        KeyringStore::new()
    }
}

impl KeyringStore {
    /// The platform keyring; `FERRY_KEYRING` (`auto`, `secret-service`,
    /// `keyutils`) may force a backend.
    pub fn new() -> KeyringStore {
        let requested = match std::env::var(KEYRING_ENV) {
            Err(_) => Requested::Auto,
            Ok(v) => match v.trim() {
                "" | "auto" => Requested::Auto,
                "secret-service" => Requested::Only(Backend::SecretService),
                "keyutils" | "kernel" => Requested::Only(Backend::KernelKeyring),
                "native" => Requested::Only(Backend::Native),
                other => Requested::Invalid(other.to_string()),
            },
        };
        KeyringStore {
            requested,
            chosen: OnceLock::new(),
        }
    }

    /// Only this backend (it is still probed at the first use).
    pub fn with_backend(backend: Backend) -> KeyringStore {
        KeyringStore {
            requested: Requested::Only(backend),
            chosen: OnceLock::new(),
        }
    }

    /// The backend in use, probing for it at the first call.
    pub fn backend(&self) -> Result<Backend, SecretError> {
        self.chosen
            .get_or_init(|| choose(&self.requested))
            .clone()
            .map_err(SecretError::Unavailable)
    }

    fn entry(
        &self,
        service: &str,
        account: &str,
    ) -> Result<(Backend, keyring::Entry), SecretError> {
        let backend = self.backend()?;
        let entry =
            entry_for(backend, service, account).map_err(|e| map_error(backend, "open", e))?;
        Ok((backend, entry))
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError> {
        let (backend, entry) = self.entry(service, account)?;
        match entry.get_password() {
            Ok(p) => Ok(Some(p)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(backend, "read", e)),
        }
    }

    fn set(&self, service: &str, account: &str, secret: &str) -> Result<(), SecretError> {
        if secret.is_empty() {
            return Err(SecretError::Failed(
                "an empty password cannot be stored".into(),
            ));
        }
        let (backend, entry) = self.entry(service, account)?;
        entry
            .set_password(secret)
            .map_err(|e| map_error(backend, "store", e))
    }

    fn delete(&self, service: &str, account: &str) -> Result<bool, SecretError> {
        let (backend, entry) = self.entry(service, account)?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_error(backend, "delete", e)),
        }
    }

    fn describe(&self) -> String {
        match self.backend() {
            Ok(b) => b.to_string(),
            Err(_) => "the keyring (unavailable)".into(),
        }
    }
}

/// A keyring entry on one backend.
fn entry_for(backend: Backend, service: &str, account: &str) -> keyring::Result<keyring::Entry> {
    match backend {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        Backend::SecretService => Ok(keyring::Entry::new_with_credential(Box::new(
            keyring::secret_service::SsCredential::new_with_target(None, service, account)?,
        ))),
        #[cfg(target_os = "linux")]
        Backend::KernelKeyring => Ok(keyring::Entry::new_with_credential(Box::new(
            keyring::keyutils::KeyutilsCredential::new_with_target(None, service, account)?,
        ))),
        #[cfg(any(target_os = "macos", target_os = "ios", target_os = "windows"))]
        Backend::Native => keyring::Entry::new(service, account),
        #[allow(unreachable_patterns)]
        other => Err(keyring::Error::PlatformFailure(
            format!("{other:?} is not available on this system").into(),
        )),
    }
}

/// Pick the backend to use, or say why there is none.
fn choose(requested: &Requested) -> Result<Backend, String> {
    match requested {
        Requested::Invalid(v) => Err(format!(
            "{KEYRING_ENV}={v:?} is not a keyring backend: use auto, secret-service or keyutils"
        )),
        Requested::Only(b) => probe(*b).map(|()| *b).map_err(|e| match b {
            // Asked for by name: one sentence on what to do, not the
            // "or keep it in the kernel keyring" of the automatic choice.
            Backend::KernelKeyring if e == KEYUTILS_NO_ACCESS => KEYUTILS_ONLY_HELP.to_string(),
            Backend::KernelKeyring => format!("{e}. {KEYUTILS_HELP}"),
            Backend::SecretService => format!("{e}. {SECRET_SERVICE_HELP}"),
            Backend::Native => e,
        }),
        Requested::Auto => {
            if cfg!(any(
                target_os = "macos",
                target_os = "ios",
                target_os = "windows"
            )) {
                return probe(Backend::Native).map(|()| Backend::Native);
            }
            let ss = match probe(Backend::SecretService) {
                Ok(()) => return Ok(Backend::SecretService),
                Err(e) => e,
            };
            tracing::info!(reason = %ss, "no Secret Service; trying the kernel keyring");
            match probe(Backend::KernelKeyring) {
                Ok(()) => {
                    tracing::info!(
                        "no Secret Service ({ss}): passwords go to the Linux kernel keyring, which forgets them at reboot"
                    );
                    Ok(Backend::KernelKeyring)
                }
                Err(ku) => Err(format!(
                    "{ss}; and {ku}. {SECRET_SERVICE_HELP} {KEYUTILS_HELP}"
                )),
            }
        }
    }
}

const SECRET_SERVICE_HELP: &str = "Run Ferry in a desktop session with a Secret Service \
(GNOME Keyring, KWallet, KeePassXC), or start one for it: \
`dbus-run-session -- sh -c 'echo -n KEYRING_PASSWORD | gnome-keyring-daemon --unlock --components=secrets; ferry …'` \
(Debian packages dbus, gnome-keyring).";

const KEYUTILS_HELP: &str = "Or keep the password in the Linux kernel keyring, which needs a \
session keyring: run `keyctl session - ferry …` (Debian package keyutils); it forgets \
passwords at reboot.";

/// What the kernel keyring's probe says when the kernel refused access
/// (keyring 3 reports EACCES as `NoEntry`): no session keyring this process
/// may write to.
const KEYUTILS_NO_ACCESS: &str = "the Linux kernel keyring refused access (no session keyring)";

const KEYUTILS_ONLY_HELP: &str = "FERRY_KEYRING=keyutils asks for the Linux kernel keyring, \
but this process has no session keyring it may write to: start Ferry inside one with \
`keyctl session - ferry …` (Debian package keyutils), or unset FERRY_KEYRING to use the \
desktop's keyring.";

/// Check that a backend works, without touching any real secret.
fn probe(backend: Backend) -> Result<(), String> {
    let entry = entry_for(backend, SERVICE, PROBE_ACCOUNT)
        .map_err(|e| format!("{backend} cannot be used: {}", describe_error(&e)))?;
    match backend {
        // A lookup reaches the service; a missing item is fine. Only a
        // platform failure (no D-Bus session, no service) rules it out: a
        // locked keyring is reported when it is used.
        Backend::SecretService | Backend::Native => match entry.get_password() {
            Err(e @ keyring::Error::PlatformFailure(_)) => Err(format!(
                "{backend} is not reachable: {}",
                describe_error(&e)
            )),
            _ => Ok(()),
        },
        // keyutils reports "access denied" as "no entry", so only a write
        // that reads back proves it works.
        Backend::KernelKeyring => {
            let r = entry
                .set_password("probe")
                .and_then(|()| entry.get_password());
            let _ = entry.delete_credential();
            match r {
                Ok(v) if v == "probe" => Ok(()),
                Ok(_) => Err(format!("{backend} did not keep a test value")),
                Err(keyring::Error::NoEntry) => Err(KEYUTILS_NO_ACCESS.to_string()),
                Err(e) => Err(format!("{backend} cannot be used: {}", describe_error(&e))),
            }
        }
    }
}

/// A keyring error as text that never holds a secret (`BadEncoding` carries
/// the secret's bytes; only its kind is shown).
fn describe_error(e: &keyring::Error) -> String {
    match e {
        keyring::Error::BadEncoding(_) => "the stored value is not UTF-8 text".into(),
        keyring::Error::Ambiguous(v) => format!("{} entries match", v.len()),
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            inner.to_string()
        }
        other => other.to_string(),
    }
}

fn map_error(backend: Backend, op: &str, e: keyring::Error) -> SecretError {
    match &e {
        keyring::Error::NoStorageAccess(_) => SecretError::Locked(format!(
            "{backend} is locked or refused access ({}): unlock it (log in to the desktop, or \
             `echo -n KEYRING_PASSWORD | gnome-keyring-daemon --unlock`) and try again, or set \
             {KEYRING_ENV}=keyutils to use the Linux kernel keyring instead",
            describe_error(&e)
        )),
        // keyutils maps EACCES to NoEntry: on a write it means no access.
        keyring::Error::NoEntry if backend == Backend::KernelKeyring => SecretError::Unavailable(
            format!("{backend} refused access (no session keyring). {KEYUTILS_HELP}"),
        ),
        keyring::Error::Ambiguous(v) => SecretError::Failed(format!(
            "{backend} holds {} entries for this account: delete the extra ones \
             (e.g. with seahorse or `secret-tool clear service {SERVICE}`) and try again",
            v.len()
        )),
        keyring::Error::BadEncoding(_) => SecretError::Failed(format!(
            "the password in {backend} is not UTF-8 text: store it again with `ferry account add`"
        )),
        _ => SecretError::Failed(format!(
            "{backend}: cannot {op} the password: {}",
            describe_error(&e)
        )),
    }
}

/// Secrets in memory, shared by every user of one store: for tests.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<(String, String), String>>,
    failure: Option<String>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.len())
            .field("failure", &self.failure)
            .finish()
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// A store that fails every call as an unavailable keyring would.
    pub fn unavailable(reason: &str) -> MemoryStore {
        MemoryStore {
            map: Mutex::default(),
            failure: Some(reason.to_string()),
        }
    }

    /// How many secrets it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), String>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<(), SecretError> {
        match &self.failure {
            Some(r) => Err(SecretError::Unavailable(r.clone())),
            None => Ok(()),
        }
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, service: &str, account: &str) -> Result<Option<String>, SecretError> {
        self.check()?;
        Ok(self
            .lock()
            .get(&(service.to_string(), account.to_string()))
            .cloned())
    }

    fn set(&self, service: &str, account: &str, secret: &str) -> Result<(), SecretError> {
        self.check()?;
        if secret.is_empty() {
            return Err(SecretError::Failed(
                "an empty password cannot be stored".into(),
            ));
        }
        self.lock().insert(
            (service.to_string(), account.to_string()),
            secret.to_string(),
        );
        Ok(())
    }

    fn delete(&self, service: &str, account: &str) -> Result<bool, SecretError> {
        self.check()?;
        Ok(self
            .lock()
            .remove(&(service.to_string(), account.to_string()))
            .is_some())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trip_shared_between_calls() {
        let s = MemoryStore::new();
        assert_eq!(s.get(SERVICE, "a").unwrap(), None);
        s.set(SERVICE, "a", "pw1").unwrap();
        s.set(SERVICE, "b", "pw2").unwrap();
        assert_eq!(s.get(SERVICE, "a").unwrap().as_deref(), Some("pw1"));
        assert_eq!(s.get("other", "a").unwrap(), None);
        s.set(SERVICE, "a", "pw3").unwrap();
        assert_eq!(s.get(SERVICE, "a").unwrap().as_deref(), Some("pw3"));
        assert!(s.delete(SERVICE, "a").unwrap());
        assert!(!s.delete(SERVICE, "a").unwrap());
        assert_eq!(s.get(SERVICE, "a").unwrap(), None);
        assert_eq!(s.len(), 1);
        assert!(s.set(SERVICE, "c", "").is_err());
    }

    #[test]
    fn memory_store_debug_hides_secrets() {
        let s = MemoryStore::new();
        s.set(SERVICE, "alice@https://h/", "hunter2").unwrap();
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(!d.contains("alice"), "{d}");
    }

    #[test]
    fn unavailable_store_fails_clearly() {
        let s = MemoryStore::unavailable("no D-Bus");
        let e = s.get(SERVICE, "a").unwrap_err();
        assert!(e.to_string().contains("no D-Bus"), "{e}");
        assert!(s.set(SERVICE, "a", "x").is_err());
        assert!(s.delete(SERVICE, "a").is_err());
    }

    #[test]
    fn account_key_format() {
        assert_eq!(account_key("bob", "https://h/dav/"), "bob@https://h/dav/");
    }

    #[test]
    fn errors_never_show_secret_bytes() {
        let e = map_error(
            Backend::SecretService,
            "read",
            keyring::Error::BadEncoding(b"hunter2\xff".to_vec()),
        );
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{e:?}").contains("hunter2"), "{e:?}");
    }

    #[test]
    fn invalid_backend_name_is_reported() {
        let store = KeyringStore {
            requested: Requested::Invalid("nope".into()),
            chosen: OnceLock::new(),
        };
        let e = store.backend().unwrap_err();
        assert!(e.to_string().contains("FERRY_KEYRING=\"nope\""), "{e}");
        let e = store.get(SERVICE, "x").unwrap_err();
        assert!(matches!(e, SecretError::Unavailable(_)));
    }
}
