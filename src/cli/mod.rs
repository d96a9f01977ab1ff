//! The command line: argument parsing (clap), exit codes, and one file per
//! command family. Only this edge knows about exit codes and terminals; it
//! talks to the daemon only through [`crate::protocol::Client`] and never
//! reads JSON itself.
//!
//! * [`args`] — the settings arguments `sync` and `add` share, value enums.
//! * [`output`] — one way to print (`--json` or for people), shared wording.
//! * [`sync`], [`journals`] — `ferry sync` and its journals.
//! * `desktop` — `ferry` / `ferry daemon` (with the tray where there is a
//!   display), `ferry tray`, `ferry autostart`.
//! * [`status`], [`syncs`], [`runs`], [`log`], [`conflicts`], [`why`],
//!   [`limit`], [`account`] — the commands served by the daemon.

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

pub mod account;
pub mod args;
mod conflicts;
mod desktop;
pub mod journals;
mod limit;
mod log;
pub mod output;
pub mod prefs;
mod runs;
mod status;
pub mod sync;
mod syncs;
mod why;

pub use args::{CompareArg, ConflictArg, DirectionArg, KeepArg, SettingsArgs, parse_filter};
pub use journals::journal_path;
pub use sync::SyncArgs;
pub use syncs::AddArgs;

use crate::protocol::Client;

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
        /// No tray icon (servers, CI). Without a graphical session (no
        /// DISPLAY or WAYLAND_DISPLAY) there is none either.
        #[arg(long)]
        headless: bool,
        /// WebDAV: also trust this CA certificate (PEM file).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// WebDAV: give up on a request (or an upload) that stands still for this
        /// many seconds; an upload that keeps moving may take longer.
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
    Control(Control),
    /// Add, list or remove WebDAV accounts (passwords go to the system keyring).
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Start Ferry when you log in: `on`, `off`, or `status` (the real state,
    /// also when the desktop's startup settings turned it off).
    Autostart {
        #[arg(value_enum)]
        action: desktop::AutostartAction,
    },
    /// Open Ferry's preferences in your browser (signed in with a link that
    /// works once; printed instead when no browser can be opened, e.g. over
    /// SSH). PAGE: syncs (the default), assistant, conflicts, transfers,
    /// accounts or settings.
    Prefs { page: Option<String> },
    /// Show the tray icon and menu of the Ferry daemon that runs (`ferry`
    /// shows it by itself; this is for a daemon started without one).
    #[cfg(feature = "tray")]
    Tray,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let implicit = cli.command.is_none();
    let command = cli.command.unwrap_or(Command::Daemon {
        headless: false,
        ca_file: None,
        timeout: 120,
    });
    let daemon = matches!(command, Command::Daemon { .. });
    let log_dir = if daemon {
        crate::config::data_dir().ok().map(|d| {
            // Before the log folder inside it: private from the start.
            let _ = crate::app::create_data_dir(&d);
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
            headless,
            ca_file,
            timeout,
        } => desktop::daemon(desktop::DaemonRequest {
            headless,
            implicit,
            ca_file,
            timeout,
        }),
        Command::Sync(args) => sync::sync_command(args),
        Command::Account(cmd) => account::account(cmd),
        Command::Diagnostics { out } => diagnostics_command(out),
        Command::Control(cmd) => control(cmd),
        Command::Autostart { action } => desktop::autostart(action),
        Command::Prefs { page } => prefs::command(page),
        #[cfg(feature = "tray")]
        Command::Tray => desktop::tray(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferry: {e:#}");
            ExitCode::FAILURE
        }
    }
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

/// The commands served by the daemon.
#[derive(Subcommand, Debug)]
pub enum Control {
    /// Show the state of every synchronization (and recent files).
    Status {
        #[arg(long)]
        json: bool,
        /// Keep printing state changes and transfers as they happen.
        #[arg(long)]
        follow: bool,
    },
    /// Create a synchronization between a local folder and a remote folder
    /// (a WebDAV URL inside an account's URL, or a folder path).
    Add(AddArgs),
    /// List the synchronizations and their settings.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a synchronization. Both folders are left as they are.
    Remove { name: String },
    /// Turn a synchronization on.
    Enable { name: String },
    /// Turn a synchronization off (its folders stay as they are).
    Disable { name: String },
    /// Run a pass now and wait for it: one synchronization, or all.
    Run {
        /// The synchronization (name or id).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        #[arg(long)]
        all: bool,
        /// With --all: run them at the same time (default: the setting).
        #[arg(long, requires = "all")]
        parallel: bool,
        /// With --all: one after the other.
        #[arg(long, requires = "all", conflicts_with = "parallel")]
        sequential: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pause one synchronization, or all.
    Pause { name: Option<String> },
    /// Resume one synchronization, or all.
    Resume { name: Option<String> },
    /// Proceed with a pass that a guard stopped (mass deletion, missing folder).
    Confirm {
        name: String,
        /// Do not proceed: pause the synchronization instead.
        #[arg(long)]
        cancel: bool,
    },
    /// Show what a pass would do now, without doing it.
    Simulate {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the transfer log, newest first.
    Log {
        /// Only this synchronization.
        #[arg(long = "sync", value_name = "NAME")]
        sync: Option<String>,
        /// Only this action.
        #[arg(long, value_parser = log::ACTIONS)]
        action: Option<String>,
        /// Only lines whose path or result contains TEXT.
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Page number (from 1).
        #[arg(long, default_value_t = 1)]
        page: usize,
        #[arg(long)]
        json: bool,
    },
    /// List the conflicts not yet resolved.
    Conflicts {
        #[arg(long)]
        json: bool,
    },
    /// Resolve a conflict on PATH (the file or its conflicted copy).
    Resolve {
        path: PathBuf,
        /// Which version to keep.
        #[arg(long = "use", value_enum)]
        keep: KeepArg,
    },
    /// Explain an item's state: the rule or event that decided it.
    Why {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show or change the bandwidth limits (KiB/s; `off`: none): the
    /// global ones, shared by every synchronization's transfers together,
    /// or one synchronization's own (--sync); both apply. A change takes
    /// effect on transfers in flight. Folder remotes are not limited.
    Limit(limit::LimitArgs),
}

/// Run a command served by the daemon (it says so, and how to start one,
/// when none runs).
fn control(cmd: Control) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let data_dir = crate::config::data_dir()?;
        let client = Client::connect(&data_dir)?;
        dispatch(&client, cmd).await
    })
}

/// A client of the running daemon, if its endpoint file is there (for
/// commands that work either way).
fn daemon_client() -> Option<Client> {
    let dir = crate::config::data_dir().ok()?;
    Client::connect(&dir).ok()
}

async fn dispatch(client: &Client, cmd: Control) -> anyhow::Result<ExitCode> {
    match cmd {
        Control::Status { json, follow } => status::status(client, json, follow).await?,
        Control::Add(args) => syncs::add(client, &args).await?,
        Control::List { json } => syncs::list(client, json).await?,
        Control::Remove { name } => syncs::remove(client, &name).await?,
        Control::Enable { name } => syncs::set_enabled(client, &name, true).await?,
        Control::Disable { name } => syncs::set_enabled(client, &name, false).await?,
        Control::Run {
            name,
            all,
            parallel,
            sequential,
            json,
        } => {
            let what = runs::RunWhat {
                name,
                all,
                parallel,
                sequential,
            };
            return runs::run(client, what, json).await;
        }
        Control::Pause { name } => syncs::pause(client, name.as_deref(), true).await?,
        Control::Resume { name } => syncs::pause(client, name.as_deref(), false).await?,
        Control::Confirm { name, cancel } => syncs::confirm(client, &name, cancel).await?,
        Control::Simulate { name, json } => runs::simulate(client, &name, json).await?,
        Control::Log {
            sync,
            action,
            search,
            limit,
            page,
            json,
        } => {
            let query = crate::protocol::history::LogQuery {
                sync,
                action,
                search,
                offset: 0,
                limit: Some(limit),
            };
            log::log(client, query, page, json).await?
        }
        Control::Conflicts { json } => conflicts::list(client, json).await?,
        Control::Resolve { path, keep } => conflicts::resolve(client, &path, keep).await?,
        Control::Why { path, json } => why::why(client, &path, json).await?,
        Control::Limit(args) => limit::limit(client, &args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// An item inside a synchronized folder as the user typed it, with its
/// folder in normal form ([`crate::config::normalize_local`]) so that it
/// matches the synchronization's saved folder however it was spelt; the
/// item's own name is kept (a symlink is an item, not where it points).
fn item_path(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) if !abs.ends_with("..") && !abs.ends_with(".") => {
            Ok(crate::config::normalize_local(parent)?.join(name))
        }
        _ => Ok(crate::config::normalize_local(&abs)?),
    }
}
