//! `ferry account`: add, list and remove WebDAV accounts.
//!
//! An account is a WebDAV base URL and a user name in the configuration
//! ([`crate::config`]) plus a password in the keyring ([`crate::secrets`]),
//! under the key `<user>@<url>`. [`credentials_for`] finds the account of a
//! URL (the longest account URL that is a prefix of it) for `ferry sync`.
//!
//! [`save_account`] and [`forget_account`] are the one way to add and to
//! remove an account, used by these commands (no daemon running) and by the
//! daemon (`crate::daemon`), so that both keep the same promises: a
//! password stored for a new account is deleted again when the
//! configuration cannot be saved, and a password that cannot be deleted
//! leaves the account in place (unless forced).
//!
//! `add` tests the connection ([`check_connection`], in
//! `remote::webdav`) before it saves anything, unless `--no-test` is given.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::config::{Account, Config, ConfigError, normalize_url};
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

/// The one way to add an account, or change its password, once the
/// password is known (and tested): the password goes to the keyring, then
/// the account into `config`, which is saved in `config_dir`. When saving
/// fails, the password of an account that was not there before is deleted
/// again: nothing is left half-saved. On an error, `config` is to be
/// dropped.
pub fn save_account(
    config: &mut Config,
    config_dir: &Path,
    store: &dyn SecretStore,
    url: &str,
    user: &str,
    password: &str,
) -> Result<Added, AddError> {
    let existed = config.find_account(url).is_some();
    let account = config
        .add_account(url, user)
        .map_err(AddError::Refused)?
        .clone();
    let key = account.secret_key();
    store
        .set(SERVICE, &key, password)
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

/// The `ferry account` subcommands.
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Add a WebDAV account, or change its password. The password goes to
    /// the system keyring, never to the configuration file.
    Add {
        /// The WebDAV URL of the account's root folder, e.g.
        /// `https://cloud.example.com/remote.php/dav/files/alice/`
        url: String,
        /// The user name on the server.
        #[arg(long)]
        user: String,
        /// Read the password from the first line of standard input instead
        /// of asking for it on the terminal.
        #[arg(long)]
        password_stdin: bool,
        /// Save the account without testing the connection first.
        #[arg(long)]
        no_test: bool,
        /// Also trust this CA certificate (PEM file) when testing the
        /// connection.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
    /// List the accounts (URL and user; never the password).
    List,
    /// Remove an account and its password from the keyring.
    ///
    /// The synchronizations that use it are named first, and removed with
    /// it (by a running daemon; without one they are disabled); their
    /// folders and files are left as they are. On a terminal Ferry asks
    /// before; otherwise pass --yes.
    Remove {
        /// The account's id (see `ferry account list`) or its URL.
        url_or_id: String,
        /// Do not ask: also remove (or, without a daemon, disable) the
        /// synchronizations that use it.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Remove it even when synchronizations use it (as --yes) or when
        /// the keyring cannot be reached (the password then stays in it).
        #[arg(long)]
        force: bool,
    },
}

/// Where a command reads and writes; [`run`] uses the process's own.
pub struct Io<'a> {
    /// Standard input (for `--password-stdin`).
    pub input: &'a mut dyn BufRead,
    /// Results.
    pub out: &'a mut dyn Write,
    /// Warnings.
    pub err: &'a mut dyn Write,
    /// Ask for a password on the terminal without echo.
    pub prompt: &'a dyn Fn(&str) -> io::Result<String>,
}

/// Run an account command with the process's stdin, stdout, stderr and
/// terminal.
pub fn run(cmd: AccountCommand, config_dir: &Path, store: &dyn SecretStore) -> anyhow::Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout();
    let mut err = io::stderr();
    let prompt = |p: &str| rpassword::prompt_password(p);
    let mut io = Io {
        input: &mut input,
        out: &mut out,
        err: &mut err,
        prompt: &prompt,
    };
    run_with_io(cmd, config_dir, store, &mut io)
}

/// Run an account command with the given input and output.
pub fn run_with_io(
    cmd: AccountCommand,
    config_dir: &Path,
    store: &dyn SecretStore,
    io: &mut Io<'_>,
) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Add {
            url,
            user,
            password_stdin,
            no_test,
            ca_file,
        } => add(
            &AddArgs {
                url: &url,
                user: &user,
                password_stdin,
                no_test,
                ca_file: ca_file.as_deref(),
            },
            config_dir,
            store,
            io,
        ),
        AccountCommand::List => list(config_dir, io),
        AccountCommand::Remove {
            url_or_id,
            yes,
            force,
        } => remove(&url_or_id, yes, force, config_dir, store, io),
    }
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
    let password = store.get(SERVICE, &account.secret_key()).with_context(|| {
        format!(
            "cannot read the password of account {} ({})",
            account.id, account.url
        )
    })?;
    match password {
        Some(password) => Ok(Some(Credentials {
            user: account.user.clone(),
            password,
        })),
        None => bail!(
            "the account {} ({} as {}) has no password in {}: store it again with `ferry account add {} --user {}`",
            account.id,
            account.url,
            account.user,
            store.describe(),
            account.url,
            account.user
        ),
    }
}

fn load(config_dir: &Path, err: &mut dyn Write) -> anyhow::Result<Config> {
    let (config, warning) = Config::load(config_dir)?;
    if let Some(w) = warning {
        let _ = writeln!(err, "ferry: warning: {w}");
    }
    Ok(config)
}

struct AddArgs<'a> {
    url: &'a str,
    user: &'a str,
    password_stdin: bool,
    no_test: bool,
    ca_file: Option<&'a Path>,
}

fn add(
    args: &AddArgs<'_>,
    config_dir: &Path,
    store: &dyn SecretStore,
    io: &mut Io<'_>,
) -> anyhow::Result<()> {
    let url = normalize_url(args.url)?;
    let mut config = load(config_dir, io.err)?;
    let existed = config.find_account(&url).is_some();
    // Refuse a conflicting account before asking for a password.
    let account = config.clone().add_account(&url, args.user)?.clone();

    let password = read_password(args, &account, io)?;
    if args.no_test {
        writeln!(io.out, "Not testing the connection (--no-test).")?;
    } else {
        check_connection(&account.url, &account.user, &password, args.ca_file).map_err(|e| {
            anyhow::anyhow!(
                "{e}\nNothing was saved: fix this and try again, or pass --no-test to save the account anyway."
            )
        })?;
        writeln!(io.out, "Connected to {} as {}.", account.url, account.user)?;
    }

    save_account(&mut config, config_dir, store, &url, args.user, &password)?;
    writeln!(
        io.out,
        "Account {} {}: {} at {} (password in {}).",
        account.id,
        if existed { "updated" } else { "added" },
        account.user,
        account.url,
        store.describe()
    )?;
    Ok(())
}

fn read_password(args: &AddArgs<'_>, account: &Account, io: &mut Io<'_>) -> anyhow::Result<String> {
    let password = if args.password_stdin {
        let mut line = String::new();
        let n = io
            .input
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        if n == 0 {
            bail!("no password on standard input (--password-stdin reads its first line)");
        }
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        line
    } else {
        let prompt = format!("Password for {} at {}: ", account.user, account.url);
        (io.prompt)(&prompt).map_err(|e| {
            anyhow::anyhow!(
                "no terminal to ask for the password ({e}): pass it on standard input with --password-stdin, \
                 e.g. `printf '%s\\n' \"$PASSWORD\" | ferry account add {} --user {} --password-stdin`",
                account.url,
                account.user
            )
        })?
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

fn list(config_dir: &Path, io: &mut Io<'_>) -> anyhow::Result<()> {
    let config = load(config_dir, io.err)?;
    if config.accounts.is_empty() {
        writeln!(
            io.out,
            "No accounts. Add one with `ferry account add URL --user NAME`."
        )?;
        return Ok(());
    }
    let w_id = config
        .accounts
        .iter()
        .map(|a| a.id.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let w_user = config
        .accounts
        .iter()
        .map(|a| a.user.len())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(io.out, "{:w_id$}  {:w_user$}  URL", "ID", "USER")?;
    for a in &config.accounts {
        writeln!(io.out, "{:w_id$}  {:w_user$}  {}", a.id, a.user, a.url)?;
    }
    Ok(())
}

fn remove(
    url_or_id: &str,
    yes: bool,
    force: bool,
    config_dir: &Path,
    store: &dyn SecretStore,
    io: &mut Io<'_>,
) -> anyhow::Result<()> {
    let mut config = load(config_dir, io.err)?;
    let Some(account) = config.find_account(url_or_id).cloned() else {
        bail!("no account matches {url_or_id:?}: `ferry account list` shows them");
    };
    let users: Vec<(String, String)> = config
        .syncs_using(&account.id)
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    let names = users
        .iter()
        .map(|(_, n)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if !users.is_empty() && !force && !yes {
        use std::io::IsTerminal as _;
        let what = format!(
            "the account {} ({}) is used by these synchronizations: {names}",
            account.id, account.url
        );
        if !std::io::stdin().is_terminal() {
            bail!(
                "{what}. Remove them first, or pass --yes (or --force) to remove the account and \
                 disable them (their local files are kept)"
            );
        }
        writeln!(
            io.err,
            "The {what}. Removing it disables them (their folders and files are left as they are)."
        )?;
        if !confirm("Remove the account and disable them?", false)? {
            writeln!(io.out, "Nothing was changed.")?;
            return Ok(());
        }
    }
    for (id, _) in &users {
        if let Some(s) = config.sync_mut(id) {
            s.enabled = false;
        }
    }
    let secret_note = match forget_account(&mut config, config_dir, store, &account.id, force) {
        Ok((_, PasswordGone::Deleted)) => {
            format!("its password was deleted from {}", store.describe())
        }
        Ok((_, PasswordGone::NoneStored)) => {
            format!("no password was stored in {}", store.describe())
        }
        Ok((_, PasswordGone::Kept(e))) => {
            writeln!(
                io.err,
                "ferry: warning: the password could not be deleted ({e}); it stays in the keyring \
                 (service {SERVICE:?}, account {:?})",
                account.secret_key()
            )?;
            "its password could not be deleted".to_string()
        }
        Err(RemoveError::Keyring(e)) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot delete the password of account {}; nothing was changed (pass --force to remove the account anyway)",
                account.id
            )));
        }
        Err(e) => return Err(e.into()),
    };
    writeln!(
        io.out,
        "Account {} removed ({} at {}); {secret_note}.",
        account.id, account.user, account.url
    )?;
    if !users.is_empty() {
        writeln!(
            io.out,
            "Disabled synchronizations (local files kept): {names}."
        )?;
    }
    Ok(())
}

/// Whether the user agrees: `yes` (`--yes`), or the answer to `question`
/// on the terminal. Without a terminal and without `--yes`, an error that
/// says to pass it.
pub fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    use std::io::IsTerminal as _;
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("not removed: standard input is not a terminal to ask on; pass --yes to confirm");
    }
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
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
            "alice",
            "pw",
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
            "alice",
            "pw",
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
    use crate::secrets::MemoryStore;

    struct Captured {
        out: Vec<u8>,
        err: Vec<u8>,
    }

    fn run_cmd(
        cmd: AccountCommand,
        dir: &Path,
        store: &dyn SecretStore,
        stdin: &str,
    ) -> (anyhow::Result<()>, Captured) {
        let mut input = io::Cursor::new(stdin.as_bytes().to_vec());
        let mut c = Captured {
            out: Vec::new(),
            err: Vec::new(),
        };
        let prompt = |_: &str| -> io::Result<String> {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                "/dev/tty: no such device",
            ))
        };
        let r = run_with_io(
            cmd,
            dir,
            store,
            &mut Io {
                input: &mut input,
                out: &mut c.out,
                err: &mut c.err,
                prompt: &prompt,
            },
        );
        (r, c)
    }

    fn add_cmd(url: &str, user: &str) -> AccountCommand {
        AccountCommand::Add {
            url: url.into(),
            user: user.into(),
            password_stdin: true,
            no_test: true,
            ca_file: None,
        }
    }

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: AccountCommand,
    }

    #[test]
    fn clap_definitions_parse() {
        use clap::{CommandFactory, Parser};
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "ferry",
            "add",
            "https://h/dav/",
            "--user",
            "u",
            "--password-stdin",
            "--no-test",
        ])
        .unwrap();
        assert_eq!(
            c.command,
            AccountCommand::Add {
                url: "https://h/dav/".into(),
                user: "u".into(),
                password_stdin: true,
                no_test: true,
                ca_file: None,
            }
        );
        let c = Cli::try_parse_from(["ferry", "remove", "h", "--force"]).unwrap();
        assert_eq!(
            c.command,
            AccountCommand::Remove {
                url_or_id: "h".into(),
                yes: false,
                force: true
            }
        );
        assert!(Cli::try_parse_from(["ferry", "add", "https://h/"]).is_err());
        assert_eq!(
            Cli::try_parse_from(["ferry", "list"]).unwrap().command,
            AccountCommand::List
        );
    }

    #[test]
    fn password_stdin_takes_first_line_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let (r, c) = run_cmd(
            add_cmd("https://h/dav", "u"),
            dir.path(),
            &store,
            " p w \r\nsecond\n",
        );
        r.unwrap();
        assert_eq!(
            store.get(SERVICE, "u@https://h/dav/").unwrap().as_deref(),
            Some(" p w ")
        );
        let out = String::from_utf8(c.out).unwrap();
        assert!(!out.contains(" p w "), "{out}");
        assert!(out.contains("Account h added"), "{out}");
    }

    #[test]
    fn password_without_newline_and_empty_input() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        run_cmd(add_cmd("https://h/dav", "u"), dir.path(), &store, "pw")
            .0
            .unwrap();
        assert_eq!(
            store.get(SERVICE, "u@https://h/dav/").unwrap().as_deref(),
            Some("pw")
        );
        let (r, _) = run_cmd(add_cmd("https://h2/", "u"), dir.path(), &store, "");
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("no password on standard input")
        );
        let (r, _) = run_cmd(add_cmd("https://h2/", "u"), dir.path(), &store, "\n");
        assert!(r.unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn no_terminal_says_to_use_password_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let cmd = AccountCommand::Add {
            url: "https://h/".into(),
            user: "u".into(),
            password_stdin: false,
            no_test: true,
            ca_file: None,
        };
        let e = run_cmd(cmd, dir.path(), &store, "")
            .0
            .unwrap_err()
            .to_string();
        assert!(e.contains("no terminal"), "{e}");
        assert!(e.contains("--password-stdin"), "{e}");
        assert!(store.is_empty());
        assert!(Config::load(dir.path()).unwrap().0.accounts.is_empty());
    }

    #[test]
    fn unavailable_keyring_saves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::unavailable("no D-Bus session; run `keyctl session - ferry …`");
        let e = run_cmd(add_cmd("https://h/", "u"), dir.path(), &store, "pw\n")
            .0
            .unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("keyctl session"), "{msg}");
        assert!(msg.contains("nothing was saved"), "{msg}");
        assert!(!msg.contains("pw\n"));
        assert!(Config::load(dir.path()).unwrap().0.accounts.is_empty());
    }

    #[test]
    fn list_formats_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = MemoryStore::new();
        let (_, c) = run_cmd(AccountCommand::List, dir.path(), &store, "");
        assert!(String::from_utf8(c.out).unwrap().contains("No accounts"));
        run_cmd(
            add_cmd("https://cloud.example.com/dav", "alice"),
            dir.path(),
            &store,
            "s3cret\n",
        )
        .0
        .unwrap();
        let (r, c) = run_cmd(AccountCommand::List, dir.path(), &store, "");
        r.unwrap();
        let out = String::from_utf8(c.out).unwrap();
        assert!(
            out.contains("cloud-example-com  alice  https://cloud.example.com/dav/"),
            "{out}"
        );
        assert!(!out.contains("s3cret"));
    }

    #[test]
    fn corrupt_config_warning_is_shown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), b"{oops").unwrap();
        let store = MemoryStore::new();
        let (r, c) = run_cmd(AccountCommand::List, dir.path(), &store, "");
        r.unwrap();
        let err = String::from_utf8(c.err).unwrap();
        assert!(err.contains("config.json.corrupt-"), "{err}");
        assert!(err.contains("empty configuration"), "{err}");
    }
}
