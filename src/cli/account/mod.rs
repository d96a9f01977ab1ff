//! `ferry account add|list|remove`: through a running daemon when one
//! answers (it owns the configuration), else on the configuration itself
//! ([`offline`]).

use std::process::ExitCode;

use anyhow::{Context, bail};

pub mod offline;

use crate::config::RemoteSpec;
use crate::protocol::accounts::NewAccount;
use crate::protocol::{Client, ClientError};
pub use offline::AccountCommand;

/// `ferry account …`.
pub(super) fn account(cmd: AccountCommand) -> anyhow::Result<ExitCode> {
    // A running daemon owns the configuration: go through it.
    if let Some(code) = via_daemon(&cmd)? {
        return Ok(code);
    }
    let dir = crate::config::default_dir()?;
    offline::run(cmd, &dir, &crate::secrets::KeyringStore::new())?;
    Ok(ExitCode::SUCCESS)
}

/// `ferry account …` through a running daemon; `None` when none runs (the
/// command then edits the configuration itself).
fn via_daemon(cmd: &AccountCommand) -> anyhow::Result<Option<ExitCode>> {
    let Some(client) = super::daemon_client() else {
        return Ok(None);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match client.health().await {
            Err(ClientError::NotRunning { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        match cmd {
            AccountCommand::Add {
                url,
                user,
                password_stdin,
                token,
                no_test,
                ca_file,
            } => {
                if ca_file.is_some() {
                    bail!(
                        "--ca-file: the running daemon uses its own (`ferry daemon --ca-file FILE`)"
                    );
                }
                let (noun, label) = if *token {
                    ("token", "Token")
                } else {
                    ("password", "Password")
                };
                let secret = if *password_stdin {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .with_context(|| format!("cannot read the {noun} from standard input"))?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                } else {
                    rpassword::prompt_password(format!("{label} for {user} at {url}: "))
                        .with_context(|| {
                            format!(
                                "no terminal to ask for the {noun}: pass it with --password-stdin"
                            )
                        })?
                };
                if secret.is_empty() {
                    bail!("the {noun} is empty");
                }
                let (password, token) = if *token {
                    (String::new(), Some(secret))
                } else {
                    (secret, None)
                };
                let account = client
                    .add_account(&NewAccount {
                        url: url.clone(),
                        user: user.clone(),
                        password,
                        token,
                        test: !no_test,
                    })
                    .await?;
                out!(
                    "Account {} saved: {} at {} ({noun} in the keyring).",
                    account.id,
                    account.user,
                    account.url
                );
            }
            AccountCommand::List => {
                let list = client.accounts().await?;
                if list.is_empty() {
                    out!("No accounts. Add one with `ferry account add URL --user NAME`.");
                }
                for a in &list {
                    out!("{}  {}  {}", a.id, a.user, a.url);
                }
            }
            AccountCommand::Remove {
                url_or_id,
                yes,
                force,
            } => return remove(&client, url_or_id, *yes || *force).await,
        }
        Ok(Some(ExitCode::SUCCESS))
    })
}

async fn remove(client: &Client, url_or_id: &str, yes: bool) -> anyhow::Result<Option<ExitCode>> {
    let accounts = client.accounts().await?;
    let id = crate::config::find_account(&accounts, url_or_id)
        .map(|a| a.id.clone())
        .with_context(|| {
            format!("no account matches {url_or_id:?}: `ferry account list` shows them")
        })?;
    // The daemon removes the synchronizations that use it: say which, and
    // ask first.
    let syncs = client.syncs().await?;
    let users: Vec<&str> = syncs
        .iter()
        .filter(
            |s| matches!(&s.config.remote, RemoteSpec::WebDav { account, .. } if *account == id),
        )
        .map(|s| s.config.name.as_str())
        .collect();
    if !users.is_empty() {
        eprintln!(
            "Removing the account {id} also removes these synchronizations: {} (their folders and files are left as they are).",
            users.join(", ")
        );
        if !offline::confirm("Remove them?", yes)? {
            out!("Nothing was changed.");
            return Ok(Some(ExitCode::FAILURE));
        }
    }
    let r = client.remove_account(&id).await?;
    out!("Account {id} removed; its password was deleted from the keyring.");
    if !r.removed_syncs.is_empty() {
        out!(
            "Its synchronizations were removed (their local files are kept): {}",
            r.removed_syncs.join(", ")
        );
    }
    Ok(Some(ExitCode::SUCCESS))
}
