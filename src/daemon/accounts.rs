//! Accounts through the daemon: adding one (connection test, keyring,
//! configuration; its synchronizations restart), testing, removing one with
//! its synchronizations, and browsing an account's folders.

use std::path::Path;

use super::{Daemon, DaemonError, Event, Result, internal};
use crate::accounts::{AddError, RemoveError};
use crate::config::{Account, Config, SecretKind, SyncConfig};
use crate::remote::webdav::Credentials;
use crate::secrets::SERVICE;

impl Daemon {
    // -------------------------------------------------------- accounts --

    /// Add (or update) an account: test the connection unless told not to,
    /// store the password (or token, as `kind` says) in the keyring, save
    /// the account. The secret never reaches the configuration, a log or
    /// an answer.
    pub async fn add_account(
        &self,
        url: &str,
        user: &str,
        password: String,
        kind: SecretKind,
        test: bool,
    ) -> Result<Account> {
        let url = crate::config::normalize_url(url)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        if password.is_empty() {
            return Err(DaemonError::BadRequest(format!(
                "the {} is empty",
                kind.noun()
            )));
        }
        let credentials = Credentials {
            user: user.to_string(),
            password,
            kind,
        };
        let account = self
            .config()
            .await
            .clone()
            .add_account(&url, user)
            .map_err(|e| DaemonError::Conflict(e.to_string()))?
            .clone();
        if test {
            self.test_connection(&account, &credentials).await?;
        }
        let secrets = self.shared.secrets.clone();
        let (config, account) = self
            .change_config_saving(move |c, dir| {
                crate::accounts::save_account(c, dir, &*secrets, &url, &credentials)
                    .map(|added| added.account)
                    .map_err(|e| match e {
                        AddError::Refused(e) => DaemonError::Conflict(e.to_string()),
                        e => internal(e),
                    })
            })
            .await?;
        // Synchronizations on this account start over with the new password.
        for s in config.syncs_using(&account.id) {
            self.stop_worker(&s.id).await;
            self.start_worker(&config, s).await;
        }
        Ok(account)
    }

    /// "Update credentials": test `password` (a token when `kind` says so;
    /// `None`: what the account holds now) against the account's server,
    /// store it (the keyring, through [`crate::accounts::save_account`]),
    /// and restart the account's synchronizations, so that those waiting
    /// in "credentials required" run again with it.
    pub async fn update_password(
        &self,
        id_or_url: &str,
        password: String,
        kind: Option<SecretKind>,
    ) -> Result<Account> {
        let account = self.account(id_or_url).await?;
        let kind = kind.unwrap_or(account.secret);
        self.add_account(&account.url, &account.user, password, kind, true)
            .await
    }

    async fn test_connection(&self, account: &Account, credentials: &Credentials) -> Result<()> {
        let url = account.url.clone();
        let credentials = credentials.clone();
        let ca = self.shared.ca_file.clone();
        tokio::task::spawn_blocking(move || {
            crate::accounts::check_connection(&url, &credentials, ca.as_deref())
        })
        .await
        .map_err(internal)?
        .map_err(|e| DaemonError::BadRequest(e.to_string()))
    }

    /// Test an account's stored credentials.
    pub async fn test_account(&self, id_or_url: &str) -> Result<()> {
        let account = self.account(id_or_url).await?;
        let credentials = self.credentials(&account).await?;
        self.test_connection(&account, &credentials).await
    }

    async fn account(&self, id_or_url: &str) -> Result<Account> {
        self.config()
            .await
            .find_account(id_or_url)
            .cloned()
            .ok_or_else(|| DaemonError::NotFound(format!("no account {id_or_url:?}")))
    }

    /// The account's stored credentials (its password or token).
    async fn credentials(&self, account: &Account) -> Result<Credentials> {
        let secrets = self.shared.secrets.clone();
        let key = account.secret_key();
        let password = tokio::task::spawn_blocking(move || secrets.get(SERVICE, &key))
            .await
            .map_err(internal)?
            .map_err(internal)?
            .ok_or_else(|| {
                DaemonError::Conflict(format!(
                    "no {} stored for {} at {}: add the account again",
                    account.secret.noun(),
                    account.user,
                    account.url
                ))
            })?;
        Ok(Credentials {
            user: account.user.clone(),
            password,
            kind: account.secret,
        })
    }

    /// Remove an account ("deregister"): stop and remove its
    /// synchronizations (their local files stay), delete its password from
    /// the keyring, forget it.
    pub async fn remove_account(&self, id_or_url: &str) -> Result<(Account, Vec<String>)> {
        let account = self.account(id_or_url).await?;
        let syncs: Vec<SyncConfig> = self
            .config()
            .await
            .syncs_using(&account.id)
            .into_iter()
            .cloned()
            .collect();
        let mut removed = Vec::new();
        for s in syncs {
            self.remove_sync(&s.id).await?;
            removed.push(s.name);
        }
        let secrets = self.shared.secrets.clone();
        let id = account.id.clone();
        self.change_config_saving(move |c, dir| {
            crate::accounts::forget_account(c, dir, &*secrets, &id, false).map_err(|e| match e {
                RemoveError::NotFound(_) => DaemonError::NotFound(e.to_string()),
                e => internal(e),
            })
        })
        .await?;
        Ok((account, removed))
    }

    /// Load the configuration, let `change` change and save it (off the
    /// async threads: it may use the keyring), keep it: the configuration
    /// transaction of the one account actions in [`crate::accounts`].
    async fn change_config_saving<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut Config, &Path) -> Result<T> + Send + 'static,
    ) -> Result<(Config, T)> {
        let mut current = self.config.lock().await;
        let dir = self.config_dir.clone();
        let (config, warning, out) = tokio::task::spawn_blocking(move || {
            let (mut config, warning) = Config::load(&dir).map_err(internal)?;
            let out = change(&mut config, &dir)?;
            Ok::<_, DaemonError>((config, warning, out))
        })
        .await
        .map_err(internal)??;
        if let Some(w) = warning {
            tracing::warn!("{w}");
            if let Ok(mut ws) = self.config_warnings.lock() {
                ws.push(w.to_string());
            }
        }
        *current = config.clone();
        let _ = self.shared.events.send(Event::Config);
        Ok((config, out))
    }

    /// The sub-folders of `path` in an account (for choosing a remote
    /// folder and the selective-sync tree).
    pub async fn browse(&self, account: &str, path: &str) -> Result<Vec<String>> {
        let account = self.account(account).await?;
        let credentials = self.credentials(&account).await?;
        let options = crate::remote::webdav::Options::for_account(
            Some(credentials),
            self.shared.ca_file.clone(),
            self.shared.timeout,
        );
        let dav = crate::remote::webdav::WebDav::new(&account.url, options)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        crate::engine::path::check_relative(path.trim_matches('/'))
            .map_err(|e| DaemonError::BadRequest(format!("{path:?}: {e}")))
            .or_else(|e| {
                if path.trim_matches('/').is_empty() {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        dav.folders(path)
            .await
            .map_err(|e| DaemonError::Conflict(e.to_string()))?
            .ok_or_else(|| DaemonError::NotFound(format!("no folder {path:?} in {}", account.url)))
    }
}
