//! Accounts: the one way to add and to remove one, and the credentials of
//! a URL.
//!
//! An account is a WebDAV base URL and a user name in the configuration
//! ([`crate::config`]) plus a password in the keyring ([`crate::secrets`]),
//! under the key `<user>@<url>`. [`credentials_for`] finds the account of a
//! URL (segment-wise: the account whose URL holds it, `config`'s
//! `find_account_for_url`) for `ferry sync`.
//!
//! [`save_account`] and [`forget_account`] are the one way to add and to
//! remove an account, used by `ferry account` without a daemon
//! (`cli::account::offline`) and by the daemon (`crate::daemon`), so that
//! both keep the same promises: a password stored for a new account is
//! deleted again when the configuration cannot be saved, and a password
//! that cannot be deleted leaves the account in place (unless forced). The
//! connection test is [`check_connection`] (in `remote::webdav`).

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, bail};

use crate::config::{Account, Config, ConfigError};
use crate::remote::webdav::Credentials;
pub use crate::remote::webdav::{CheckError, check_connection};
use crate::secrets::{SERVICE, SecretError, SecretStore};

/// An account added (or its password changed) by [`save_account`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    pub account: Account,
    /// It was there already (same URL and user): only its password changed.
    pub existed: bool,
}

/// Why [`save_account`] saved nothing.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The configuration refuses it (another user at this URL, an empty
    /// user name, a URL that is not one).
    #[error(transparent)]
    Refused(ConfigError),
    #[error("cannot store the password; nothing was saved: {0}")]
    Keyring(SecretError),
    /// The configuration could not be written (a new account's password
    /// was deleted from the keyring again).
    #[error(transparent)]
    Save(ConfigError),
}

/// The one way to add an account, or change its password or token, once
/// the secret is known (and tested): the secret goes to the keyring (under
/// the same key whichever it is), then the account, saying which it is,
/// into `config`, which is saved in `config_dir`. When saving fails, the
/// secret of an account that was not there before is deleted again:
/// nothing is left half-saved. On an error, `config` is to be dropped.
pub fn save_account(
    config: &mut Config,
    config_dir: &Path,
    store: &dyn SecretStore,
    url: &str,
    credentials: &Credentials,
) -> Result<Added, AddError> {
    let existed = config.find_account(url).is_some();
    let id = config
        .add_account(url, &credentials.user)
        .map_err(AddError::Refused)?
        .id
        .clone();
    if let Some(a) = config.accounts.iter_mut().find(|a| a.id == id) {
        a.secret = credentials.kind;
    }
    let account = config
        .account(&id)
        .cloned()
        .ok_or_else(|| AddError::Refused(ConfigError::Conflict(format!("no account {id}"))))?;
    let key = account.secret_key();
    store
        .set(SERVICE, &key, &credentials.password)
        .map_err(AddError::Keyring)?;
    if let Err(e) = config.save(config_dir) {
        if !existed {
            let _ = store.delete(SERVICE, &key);
        }
        return Err(AddError::Save(e));
    }
    Ok(Added { account, existed })
}

/// What became of a removed account's password.
#[derive(Debug)]
pub enum PasswordGone {
    Deleted,
    /// There was none in the keyring.
    NoneStored,
    /// It could not be deleted and stays in the keyring (`force`).
    Kept(SecretError),
}

/// Why [`forget_account`] changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error("no account {0:?}")]
    NotFound(String),
    /// The password could not be deleted (and not `force`).
    #[error("cannot delete the password from the keyring: {0}")]
    Keyring(SecretError),
    #[error(transparent)]
    Save(ConfigError),
}

/// The one way to remove an account (its synchronizations are the
/// caller's: the daemon removes them, the command without a daemon disables
/// them in `config` first): its password is deleted from the keyring —
/// when that fails nothing changes, unless `force`, which removes the
/// account anyway — then it is dropped from `config`, which is saved in
/// `config_dir`.
pub fn forget_account(
    config: &mut Config,
    config_dir: &Path,
    store: &dyn SecretStore,
    id: &str,
    force: bool,
) -> Result<(Account, PasswordGone), RemoveError> {
    let account = config
        .account(id)
        .cloned()
        .ok_or_else(|| RemoveError::NotFound(id.to_string()))?;
    let gone = match store.delete(SERVICE, &account.secret_key()) {
        Ok(true) => PasswordGone::Deleted,
        Ok(false) => PasswordGone::NoneStored,
        Err(e) if force => PasswordGone::Kept(e),
        Err(e) => return Err(RemoveError::Keyring(e)),
    };
    config.remove_account(&account.id);
    config.save(config_dir).map_err(RemoveError::Save)?;
    Ok((account, gone))
}

/// The credentials of the account whose URL is the longest prefix of `url`;
/// `None` when no account matches (or `url` is not an http(s) URL).
pub fn credentials_for(
    url: &str,
    config_dir: &Path,
    store: &dyn SecretStore,
) -> anyhow::Result<Option<Credentials>> {
    let config = load(config_dir, &mut io::stderr())?;
    let Some((account, _)) = config.find_account_for_url(url) else {
        return Ok(None);
    };
    let noun = account.secret.noun();
    let password = store.get(SERVICE, &account.secret_key()).with_context(|| {
        format!(
            "cannot read the {noun} of account {} ({})",
            account.id, account.url
        )
    })?;
    match password {
        Some(password) => Ok(Some(Credentials {
            user: account.user.clone(),
            password,
            kind: account.secret,
        })),
        None => bail!(
            "the account {} ({} as {}) has no {noun} in {}: store it again with `ferry account add {} --user {}{}`",
            account.id,
            account.url,
            account.user,
            store.describe(),
            account.url,
            account.user,
            if account.secret.is_password() {
                ""
            } else {
                " --token"
            }
        ),
    }
}

pub(crate) fn load(config_dir: &Path, err: &mut dyn Write) -> anyhow::Result<Config> {
    let (config, warning) = Config::load(config_dir)?;
    if let Some(w) = warning {
        let _ = writeln!(err, "ferry: warning: {w}");
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one "add an account" path, as the daemon and `ferry account add`
    /// both use it: a configuration that cannot be saved leaves no password
    /// of a new account behind.
    #[test]
    fn a_new_accounts_password_is_deleted_again_when_the_configuration_cannot_be_saved() {
        let tmp = tempfile::tempdir().unwrap();
        // A file where the configuration folder should be: saving fails.
        let not_a_dir = tmp.path().join("config");
        std::fs::write(&not_a_dir, b"").unwrap();
        let store = crate::secrets::MemoryStore::new();
        let mut config = Config::default();
        let e = save_account(
            &mut config,
            &not_a_dir,
            &store,
            "https://h.example/dav/",
            &Credentials::password("alice", "pw"),
        )
        .unwrap_err();
        assert!(matches!(e, AddError::Save(_)), "{e:?}");
        let key = crate::secrets::account_key("alice", "https://h.example/dav/");
        assert_eq!(store.get(SERVICE, &key).unwrap(), None);
        // Saved where it can be: the password is there, the account too.
        let dir = tmp.path().join("ok");
        let mut config = Config::default();
        let added = save_account(
            &mut config,
            &dir,
            &store,
            "https://h.example/dav",
            &Credentials::password("alice", "pw"),
        )
        .unwrap();
        assert!(!added.existed);
        assert_eq!(store.get(SERVICE, &key).unwrap().as_deref(), Some("pw"));
        let (saved, _) = Config::load(&dir).unwrap();
        assert_eq!(saved.accounts, vec![added.account.clone()]);
        // Forgetting it deletes both.
        let mut config = saved;
        let (gone, pw) =
            forget_account(&mut config, &dir, &store, &added.account.id, false).unwrap();
        assert_eq!(gone, added.account);
        assert!(matches!(pw, PasswordGone::Deleted));
        assert_eq!(store.get(SERVICE, &key).unwrap(), None);
        assert!(Config::load(&dir).unwrap().0.accounts.is_empty());
    }
}
