//! Accounts over the API: `GET/POST /api/accounts`,
//! `DELETE /api/accounts/{id}`, `PUT /api/accounts/{id}/password`,
//! `GET /api/accounts/{id}/folders`. The
//! account itself is [`crate::config::Account`], as saved (never a
//! secret).

use serde::{Deserialize, Serialize};

pub use crate::config::{Account, SecretKind};

/// `POST /api/accounts`: add an account, or change its password or token.
#[derive(Clone, Deserialize, Serialize)]
pub struct NewAccount {
    pub url: String,
    pub user: String,
    /// Goes to the keyring; never saved, logged or answered. An app
    /// password (Nextcloud, ownCloud) is a password.
    #[serde(default)]
    pub password: String,
    /// A token instead of a password (sent as `Authorization: Bearer`):
    /// to the keyring the same way. Give one or the other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Test the connection before saving anything (the default).
    #[serde(default = "yes")]
    pub test: bool,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("test", &self.test)
            .finish()
    }
}

/// `PUT /api/accounts/{id}/password`: "update credentials" (tested
/// against the server before it is stored).
#[derive(Clone, Deserialize, Serialize)]
pub struct NewPassword {
    /// Goes to the keyring; never saved, logged or answered.
    #[serde(default)]
    pub password: String,
    /// A token instead (the account then signs in with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The secret of a [`NewAccount`] or [`NewPassword`] and what it is; `Err`:
/// both or neither given.
pub fn secret_of(password: String, token: Option<String>) -> Result<(String, SecretKind), String> {
    match token {
        Some(_) if !password.is_empty() => Err("give a password or a token, not both".to_string()),
        Some(token) => Ok((token, SecretKind::Token)),
        None => Ok((password, SecretKind::Password)),
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword")
            .field("password", &"<redacted>")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn yes() -> bool {
    true
}

/// `DELETE /api/accounts/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemovedAccount {
    pub account: Account,
    /// The names of the synchronizations removed with it (their folders
    /// are left as they are).
    pub removed_syncs: Vec<String>,
}

/// `GET /api/accounts/{id}/folders?path=…`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Folders {
    /// The folder listed, relative to the account's URL.
    pub path: String,
    /// Its sub-folders' names.
    pub folders: Vec<String>,
}
