//! The command line: argument parsing (clap) and the human and JSON output
//! of each command. Only this edge knows about exit codes and terminals.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Print a line to standard output, ignoring a closed pipe (`ferry … | head`
/// must not panic).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod args;
pub mod control;
pub mod journals;
pub mod output;
pub mod sync;

pub use args::{CompareArg, ConflictArg, DirectionArg, parse_filter, settings_json};
pub use journals::journal_path;
pub use output::describe_op_json;
pub use sync::SyncArgs;

/// Exit code when a guard stopped a pass (nothing was changed), or when a
/// first pass would have created the remote folder without `--create` (a
/// stop of the same kind: nothing done until the user says so).
pub const EXIT_NEEDS_CONFIRMATION: u8 = 3;
/// Exit code when the synchronization asked to run is disabled.
pub const EXIT_DISABLED: u8 = 4;
/// Exit code when the server cannot be reached.
pub const EXIT_UNREACHABLE: u8 = 5;
/// Exit code when the server refused the credentials (401).
pub const EXIT_CREDENTIALS: u8 = 6;

/// The exit code for a reason a pass did not run or finish, as the API
/// names it (`needs_confirmation`, `disabled`, `offline`,
/// `credentials_required`); `None` for any other.
pub fn exit_code_for(code: &str) -> Option<u8> {
    match code {
        "needs_confirmation" => Some(EXIT_NEEDS_CONFIRMATION),
        "disabled" => Some(EXIT_DISABLED),
        "offline" => Some(EXIT_UNREACHABLE),
        "credentials_required" => Some(EXIT_CREDENTIALS),
        _ => None,
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version,
    about = "Keep a folder on your computer in sync with a folder on a server or another disk.",
    long_about = "Ferry keeps local folders in sync with remote folders: on WebDAV servers \
(Apache, nginx, rclone, Nextcloud, Sync-in…) or plain folders on another disk or a \
mounted share. `ferry` (or `ferry daemon`) runs in the background and keeps every \
synchronization in sync by itself; the other commands talk to it (`ferry add`, \
`ferry status`, …). `ferry sync` runs one pass without a daemon.\n\n\
Nothing is lost: files are never written in place, deletions go to a trash \
(the OS trash locally, .ferry-trash at the root of the remote folder), and when \
both sides changed a file, both versions are kept.\n\n\
Names that are never synchronized: names starting with '.', starting or ending \
with '~', ending with '.tmp'; Microsoft User Data, Outlook Files, Thumbs.db, \
Thumbnails, thumbnails; names containing * / \\ : < > ? | \" or U+202E; names \
ending with a space or '.'; names longer than 255 characters; files over 5 TB.",
    after_help = "Exit status: 0 done; 1 an error (or some items failed); 2 a usage error; \
3 a guard stopped the pass and nothing was changed (`ferry confirm NAME` proceeds; \
`ferry sync` takes --force), or the remote folder does not exist and nothing was created \
(--create creates it); 4 the synchronization is disabled (`ferry enable NAME`); 5 the \
server cannot be reached; 6 the server refused the credentials (`ferry account add` \
saves new ones)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the background service that keeps every synchronization in sync
    /// (also what `ferry` with no command does).
    Daemon {
        /// No tray icon (servers, CI). The tray is not built yet: the daemon
        /// always runs headless for now.
        #[arg(long)]
        headless: bool,
        /// WebDAV: also trust this CA certificate (PEM file).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// WebDAV: give up on a request that sends nothing for this many seconds.
        #[arg(long, default_value_t = 120, value_name = "SECS")]
        timeout: u64,
    },
    /// Run one synchronization pass between LOCAL and REMOTE and print a
    /// summary (no daemon needed).
    Sync(SyncArgs),
    /// Write a bug-report bundle (logs, configuration and journal
    /// statistics, secrets removed) into a zip file.
    Diagnostics {
        /// The zip file (default: ferry-diagnostics-TIME.zip here).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    #[command(flatten)]
    Control(control::Control),
    /// Add, list or remove WebDAV accounts (passwords go to the system keyring).
    #[command(subcommand)]
    Account(crate::accounts::AccountCommand),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Daemon {
        headless: false,
        ca_file: None,
        timeout: 120,
    });
    let daemon = matches!(command, Command::Daemon { .. });
    let log_dir = if daemon {
        crate::config::data_dir().ok().map(|d| {
            // Before the log folder inside it: private from the start.
            let _ = crate::daemon::create_data_dir(&d);
            d.join("logs")
        })
    } else {
        None
    };
    let _log = crate::logging::init(&crate::logging::LogOptions {
        file_dir: log_dir,
        stderr: true,
        default_filter: if daemon { "info" } else { "warn" },
    });
    let result = match command {
        Command::Daemon {
            headless: _,
            ca_file,
            timeout,
        } => daemon_command(ca_file, timeout),
        Command::Sync(args) => sync::sync_command(args),
        Command::Account(cmd) => account_command(cmd),
        Command::Diagnostics { out } => diagnostics_command(out),
        Command::Control(cmd) => control::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferry: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn daemon_command(ca_file: Option<PathBuf>, timeout: u64) -> anyhow::Result<ExitCode> {
    crate::daemon::run(crate::daemon::RunOptions {
        config_dir: crate::config::default_dir()?,
        data_dir: crate::config::data_dir()?,
        ca_file,
        timeout: std::time::Duration::from_secs(timeout.max(1)),
    })?;
    Ok(ExitCode::SUCCESS)
}

fn diagnostics_command(out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let out = out.unwrap_or_else(|| {
        let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
        PathBuf::from(format!("ferry-diagnostics-{stamp}.zip"))
    });
    let summary = crate::diagnostics::write_bundle(
        &crate::config::default_dir()?,
        &crate::config::data_dir()?,
        &out,
    )?;
    out!(
        "Wrote {} ({} files, {} bytes). Secrets were removed; look inside before you share it.",
        summary.path.display(),
        summary.files.len(),
        summary.bytes
    );
    Ok(ExitCode::SUCCESS)
}

fn account_command(cmd: crate::accounts::AccountCommand) -> anyhow::Result<ExitCode> {
    // A running daemon owns the configuration: go through it.
    if let Some(code) = control::account_via_daemon(&cmd)? {
        return Ok(code);
    }
    let dir = crate::config::default_dir()?;
    crate::accounts::run(cmd, &dir, &crate::secrets::KeyringStore::new())?;
    Ok(ExitCode::SUCCESS)
}
