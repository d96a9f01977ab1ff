//! `ferry account add|list|remove` when no daemon runs: on the
//! configuration and the keyring themselves, through the one add and remove
//! path of [`crate::accounts`] (`save_account`, `forget_account`).

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::accounts::{
    PasswordGone, RemoveError, check_connection, forget_account, load, save_account,
};
use crate::config::{Account, SecretKind, normalize_url};
use crate::remote::webdav::Credentials;
use crate::secrets::{SERVICE, SecretStore};

/// The `ferry account` subcommands.
#[derive(clap::Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Add a WebDAV account, or change its password (or token). The
    /// secret goes to the system keyring, never to the configuration file.
    /// An app password (Nextcloud, ownCloud) is a password.
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
        /// Sign in with a token (sent as `Authorization: Bearer`) instead
        /// of a password; it is read as the password is (asked for on the
        /// terminal, or --password-stdin), never given on the command line.
        #[arg(long)]
        token: bool,
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
            token,
            no_test,
            ca_file,
        } => add(
            &AddArgs {
                url: &url,
                user: &user,
                password_stdin,
                kind: if token {
                    SecretKind::Token
                } else {
                    SecretKind::Password
                },
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

struct AddArgs<'a> {
    url: &'a str,
    user: &'a str,
    password_stdin: bool,
    kind: SecretKind,
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
    let credentials = Credentials {
        user: account.user.clone(),
        password,
        kind: args.kind,
    };
    if args.no_test {
        writeln!(io.out, "Not testing the connection (--no-test).")?;
    } else {
        check_connection(&account.url, &credentials, args.ca_file).map_err(|e| {
            anyhow::anyhow!(
                "{e}\nNothing was saved: fix this and try again, or pass --no-test to save the account anyway."
            )
        })?;
        writeln!(io.out, "Connected to {} as {}.", account.url, account.user)?;
    }

    save_account(&mut config, config_dir, store, &url, &credentials)?;
    writeln!(
        io.out,
        "Account {} {}: {} at {} ({} in {}).",
        account.id,
        if existed { "updated" } else { "added" },
        account.user,
        account.url,
        args.kind.noun(),
        store.describe()
    )?;
    Ok(())
}

fn read_password(args: &AddArgs<'_>, account: &Account, io: &mut Io<'_>) -> anyhow::Result<String> {
    let noun = args.kind.noun();
    let password = if args.password_stdin {
        let mut line = String::new();
        let n = io
            .input
            .read_line(&mut line)
            .with_context(|| format!("cannot read the {noun} from standard input"))?;
        if n == 0 {
            bail!("no {noun} on standard input (--password-stdin reads its first line)");
        }
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        line
    } else {
        let label = if args.kind.is_password() {
            "Password"
        } else {
            "Token"
        };
        let prompt = format!("{label} for {} at {}: ", account.user, account.url);
        (io.prompt)(&prompt).map_err(|e| {
            anyhow::anyhow!(
                "no terminal to ask for the {noun} ({e}): pass it on standard input with --password-stdin, \
                 e.g. `printf '%s\\n' \"$PASSWORD\" | ferry account add {} --user {} --password-stdin{}`",
                account.url,
                account.user,
                if args.kind.is_password() { "" } else { " --token" }
            )
        })?
    };
    if password.is_empty() {
        bail!("the {noun} is empty");
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
    use crate::config::Config;
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
            token: false,
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
                token: false,
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
            token: false,
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
