//! Accounts through the daemon: adding one (connection test, keyring,
//! configuration; its synchronizations restart), testing, removing one with
//! its synchronizations, and browsing an account's folders.

use super::{Daemon, DaemonError, Result, internal};
use crate::config::{Account, SyncConfig};
use crate::secrets::SERVICE;

impl Daemon {
    // -------------------------------------------------------- accounts --

    /// Add (or update) an account: test the connection unless told not to,
    /// store the password in the keyring, save the account. The password
    /// never reaches the configuration, a log or an answer.
    pub async fn add_account(
        &self,
        url: &str,
        user: &str,
        password: String,
        test: bool,
    ) -> Result<Account> {
        let url = crate::config::normalize_url(url)
            .map_err(|e| DaemonError::BadRequest(e.to_string()))?;
        if password.is_empty() {
            return Err(DaemonError::BadRequest("the password is empty".into()));
        }
        let account = self
            .config()
            .await
            .clone()
            .add_account(&url, user)
            .map_err(|e| DaemonError::Conflict(e.to_string()))?
            .clone();
        if test {
            self.test_connection(&account, &password).await?;
        }
        let secrets = self.shared.secrets.clone();
        let key = account.secret_key();
        tokio::task::spawn_blocking(move || secrets.set(SERVICE, &key, &password))
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("cannot store the password; nothing was saved: {e}")))?;
        let u = user.to_string();
        let (config, account) = self
            .change_config(move |c| {
                c.add_account(&url, &u)
                    .cloned()
                    .map_err(|e| DaemonError::Conflict(e.to_string()))
            })
            .await?;
        // Synchronizations on this account start over with the new password.
        for s in config.syncs_using(&account.id) {
            self.stop_worker(&s.id).await;
            self.start_worker(&config, s).await;
        }
        Ok(account)
    }

    async fn test_connection(&self, account: &Account, password: &str) -> Result<()> {
        let (url, user, password) = (
            account.url.clone(),
            account.user.clone(),
            password.to_string(),
        );
        let ca = self.shared.ca_file.clone();
        tokio::task::spawn_blocking(move || {
            crate::accounts::check_connection(&url, &user, &password, ca.as_deref())
        })
        .await
        .map_err(internal)?
        .map_err(|e| DaemonError::BadRequest(e.to_string()))
    }

    /// Test an account's stored credentials.
    pub async fn test_account(&self, id_or_url: &str) -> Result<()> {
        let account = self.account(id_or_url).await?;
        let password = self.password(&account).await?;
        self.test_connection(&account, &password).await
    }

    async fn account(&self, id_or_url: &str) -> Result<Account> {
        self.config()
            .await
            .find_account(id_or_url)
            .cloned()
            .ok_or_else(|| DaemonError::NotFound(format!("no account {id_or_url:?}")))
    }

    async fn password(&self, account: &Account) -> Result<String> {
        let secrets = self.shared.secrets.clone();
        let key = account.secret_key();
        tokio::task::spawn_blocking(move || secrets.get(SERVICE, &key))
            .await
            .map_err(internal)?
            .map_err(internal)?
            .ok_or_else(|| {
                DaemonError::Conflict(format!(
                    "no password stored for {} at {}: add the account again",
                    account.user, account.url
                ))
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
        let key = account.secret_key();
        tokio::task::spawn_blocking(move || secrets.delete(SERVICE, &key))
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("cannot delete the password from the keyring: {e}")))?;
        let id = account.id.clone();
        self.change_config(move |c| {
            c.remove_account(&id)
                .map(|_| ())
                .ok_or_else(|| DaemonError::NotFound(format!("no account {id:?}")))
        })
        .await?;
        Ok((account, removed))
    }

    /// The sub-folders of `path` in an account (for choosing a remote
    /// folder and the selective-sync tree).
    pub async fn browse(&self, account: &str, path: &str) -> Result<Vec<String>> {
        let account = self.account(account).await?;
        let password = self.password(&account).await?;
        let options = crate::remote::webdav::Options {
            credentials: Some(crate::remote::webdav::Credentials {
                user: account.user.clone(),
                password,
            }),
            ca_file: self.shared.ca_file.clone(),
            max_listing_bytes: None,
            timeout: Some(self.shared.timeout),
        };
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
