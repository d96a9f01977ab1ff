//! The command line: argument parsing (clap) and the human and JSON output
//! of each command. Only this edge knows about exit codes and terminals.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{Parser, Subcommand, ValueEnum};
use sha2::{Digest, Sha256};

use crate::engine::{
    CompareMode, ConflictPolicy, Direction, Filter, Guards, Op, Settings, Side, UserFilter,
};
use crate::fsops::{Folder, TrashPolicy, human_bytes};
use crate::journal::Journal;
use crate::sync::{PassOptions, Report, SyncError, SyncJob, run_pass};

/// Print a line to standard output, ignoring a closed pipe (`ferry … | head`
/// must not panic).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

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
    Control(crate::control::Control),
    /// Add, list or remove WebDAV accounts (passwords go to the system keyring).
    #[command(subcommand)]
    Account(crate::accounts::AccountCommand),
    /// Start Ferry when you log in: `on`, `off`, or `status` (the real state,
    /// also when the desktop's startup settings turned it off).
    Autostart {
        #[arg(value_enum)]
        action: AutostartAction,
    },
    /// Show the tray icon and menu for the running daemon (until `ferry`
    /// shows it by itself).
    #[cfg(feature = "tray")]
    Tray,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AutostartAction {
    On,
    Off,
    Status,
}

#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// The local folder: a path or a file:// URL (created if missing on the
    /// first pass).
    pub local: PathBuf,
    /// The remote: a WebDAV URL (http:// or https://; its account is found by URL),
    /// a folder path or a file:// URL.
    pub remote: String,
    /// Create the remote folder if it does not exist (first pass only).
    /// Without it, a missing remote folder stops the pass (exit status 3):
    /// it is often a typo.
    #[arg(long)]
    pub create: bool,
    /// Which way changes flow: both ways, or a one-way mirror.
    #[arg(long, value_enum, default_value = "both")]
    pub direction: DirectionArg,
    /// When both sides changed a file: keep both (the local one becomes a
    /// conflicted copy), or let one side win (the loser goes to a trash).
    #[arg(long, value_enum, default_value = "keep-both")]
    pub conflict: ConflictArg,
    /// How changes are detected: size and time (fast) or content hashes (secure).
    #[arg(long, value_enum, default_value = "fast")]
    pub compare: CompareArg,
    /// Do not synchronize what matches (repeatable): a glob on the path
    /// ('*.log', 'build/**'), or 'starts:TEXT', 'contains:TEXT', 'ends:TEXT'
    /// on the name, or 'regex:EXPR' on the path.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Selective sync: leave this remote folder out (repeatable). Its local
    /// copy goes to the trash; the remote keeps it.
    #[arg(long, value_name = "FOLDER")]
    pub deselect: Vec<String>,
    /// Simulate: print what would be done and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Proceed even when a guard would stop the pass (mass deletion, a side
    /// missing or empty).
    #[arg(long)]
    pub force: bool,
    /// Stop when a pass would delete more than this share of the items in sync.
    #[arg(long, default_value_t = 0.5, value_name = "RATIO")]
    pub max_delete_ratio: f64,
    /// Stop when a pass would delete more than this many items.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_delete_count: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where the journal lives (default: Ferry's data folder).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// How many transfers run at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub jobs: usize,
    /// WebDAV: give up on a request that sends nothing for this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub timeout: u64,
    /// WebDAV: also trust this CA certificate (PEM file).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DirectionArg {
    Both,
    Send,
    Receive,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConflictArg {
    KeepBoth,
    Local,
    Remote,
    Newest,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompareArg {
    Fast,
    Secure,
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
        Command::Sync(args) => sync_command(args),
        Command::Account(cmd) => account_command(cmd),
        Command::Diagnostics { out } => diagnostics_command(out),
        Command::Control(cmd) => crate::control::run(cmd),
        Command::Autostart { action } => autostart_command(action),
        #[cfg(feature = "tray")]
        Command::Tray => tray_command(),
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

fn autostart_command(action: AutostartAction) -> anyhow::Result<ExitCode> {
    use crate::app::autostart::{self, Status};
    match action {
        AutostartAction::On => autostart::enable(&std::env::current_exe()?)?,
        AutostartAction::Off => autostart::disable()?,
        AutostartAction::Status => {}
    }
    let place = autostart::location().map(|p| format!(" ({})", p.display()));
    match autostart::status()? {
        Status::On { program } => out!(
            "on: {} starts at login{}",
            program.display(),
            place.unwrap_or_default()
        ),
        Status::Off => out!("off"),
        Status::OffInDesktopSettings { file } => out!(
            "off: turned off in the desktop's startup settings ({}); `ferry autostart on` turns it on",
            file.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "tray")]
fn tray_command() -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let data_dir = crate::config::data_dir()?;
    crate::tray::run(crate::tray::TrayContext::new(
        data_dir,
        runtime.handle().clone(),
    ))?;
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
    if let Some(code) = crate::control::account_via_daemon(&cmd)? {
        return Ok(code);
    }
    let dir = crate::config::default_dir()?;
    crate::accounts::run(cmd, &dir, &crate::secrets::KeyringStore::new())?;
    Ok(ExitCode::SUCCESS)
}

fn direction_of(d: DirectionArg) -> Direction {
    match d {
        DirectionArg::Both => Direction::Both,
        DirectionArg::Send => Direction::Send,
        DirectionArg::Receive => Direction::Receive,
    }
}

fn conflict_of(c: ConflictArg) -> ConflictPolicy {
    match c {
        ConflictArg::KeepBoth => ConflictPolicy::KeepBoth,
        ConflictArg::Local => ConflictPolicy::Local,
        ConflictArg::Remote => ConflictPolicy::Remote,
        ConflictArg::Newest => ConflictPolicy::Newest,
    }
}

fn compare_of(c: CompareArg) -> CompareMode {
    match c {
        CompareArg::Fast => CompareMode::Fast,
        CompareArg::Secure => CompareMode::Secure,
    }
}

/// The three settings as the configuration spells them (JSON).
pub fn settings_json(
    d: DirectionArg,
    c: ConflictArg,
    m: CompareArg,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut map = serde_json::Map::new();
    map.insert("direction".into(), serde_json::to_value(direction_of(d))?);
    map.insert("conflict".into(), serde_json::to_value(conflict_of(c))?);
    map.insert("compare".into(), serde_json::to_value(compare_of(m))?);
    Ok(map)
}

fn settings_of(args: &SyncArgs) -> Settings {
    Settings {
        direction: direction_of(args.direction),
        conflict: conflict_of(args.conflict),
        compare: compare_of(args.compare),
        guards: Guards {
            max_delete_ratio: args.max_delete_ratio,
            max_delete_count: args.max_delete_count,
        },
    }
}

/// `--exclude` syntax: `starts:`, `contains:`, `ends:`, `regex:` or a glob.
pub fn parse_filter(spec: &str) -> UserFilter {
    use crate::engine::filter::FilterKind;
    let (kind, pattern) = match spec.split_once(':') {
        Some(("starts", p)) => (FilterKind::StartsWith, p),
        Some(("contains", p)) => (FilterKind::Contains, p),
        Some(("ends", p)) => (FilterKind::EndsWith, p),
        Some(("regex", p)) => (FilterKind::Regex, p),
        _ => (FilterKind::Glob, spec),
    };
    UserFilter {
        kind,
        pattern: pattern.to_string(),
    }
}

/// The default folder for journals.
pub fn default_state_dir() -> anyhow::Result<PathBuf> {
    let dir = crate::config::data_dir()
        .map_err(|_| anyhow::anyhow!("no home folder: pass --state DIR"))?;
    Ok(dir.join("syncs"))
}

/// The journal file of a (local, remote) pair: one per synchronization.
/// `local` and `remote` are in normal form ([`crate::config::Place`]), so
/// every spelling of one place finds the same journal.
pub fn journal_path(state: &Path, local: &Path, remote: &str) -> PathBuf {
    journal_key(state, &local.to_string_lossy(), remote)
}

fn journal_key(state: &Path, local: &str, remote: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(local.as_bytes());
    h.update([0]);
    h.update(remote.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    state.join(format!("{}.db", hex::encode(&digest[..8])))
}

/// The journals an older Ferry may have kept for this pair under another
/// spelling: the arguments as typed (made absolute as it did, without
/// normalising), with and without a trailing `/`, and a folder remote as a
/// path and as a `file://` URL.
fn old_journal_paths(
    state: &Path,
    args: &SyncArgs,
    local: &Path,
    remote: &crate::config::Place,
) -> Vec<PathBuf> {
    fn slashes(s: String) -> [String; 2] {
        let bare = s.trim_end_matches('/').to_string();
        let bare = if bare.is_empty() {
            "/".to_string()
        } else {
            bare
        };
        [format!("{bare}/"), bare]
    }
    let mut locals: Vec<String> = slashes(local.to_string_lossy().into_owned()).into();
    if let Ok(typed) = std::path::absolute(&args.local) {
        locals.extend(slashes(typed.to_string_lossy().into_owned()));
    }
    let mut remotes: Vec<String> = slashes(remote.key()).into();
    remotes.extend(slashes(args.remote.clone()));
    match remote {
        crate::config::Place::Folder(p) => {
            remotes.extend(slashes(format!("file://{}", p.display())));
            if !args.remote.contains("://") {
                if let Ok(typed) = std::path::absolute(&args.remote) {
                    remotes.extend(slashes(typed.display().to_string()));
                }
            }
        }
        crate::config::Place::WebDav(_) => {}
    }
    let new = journal_path(state, local, &remote.key());
    let mut paths: Vec<PathBuf> = Vec::new();
    for l in &locals {
        for r in &remotes {
            let p = journal_key(state, l, r);
            if p != new && !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    paths
}

/// A journal's files: the database and SQLite's `-wal` and `-shm`.
fn journal_files(db: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut s = db.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// When a journal was last written (its database or write-ahead log).
fn last_activity(db: &Path) -> Option<std::time::SystemTime> {
    journal_files(db)[..2]
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

/// Rename a journal (with its `-wal` and `-shm`) to `to`, which must not
/// exist.
fn move_journal(from: &Path, to: &Path) -> anyhow::Result<()> {
    for (f, t) in journal_files(from).iter().zip(journal_files(to).iter()) {
        if std::fs::symlink_metadata(t).is_ok() {
            anyhow::bail!(
                "cannot move the journal {} to {}: {} exists",
                from.display(),
                to.display(),
                t.display()
            );
        }
        match std::fs::rename(f, t) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && f != from => {}
            Err(e) => anyhow::bail!(
                "cannot move the journal {} to {}: {e}",
                f.display(),
                t.display()
            ),
        }
    }
    Ok(())
}

/// Move a journal out of the way, next to where it was
/// (`<name>.aside-<time>.db`); never deleted. Returns where it went.
fn move_journal_aside(db: &Path) -> anyhow::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{stem}.aside-{stamp}.db")
        } else {
            format!("{stem}.aside-{stamp}-{n}.db")
        };
        let aside = db.with_file_name(name);
        if journal_files(&aside)
            .iter()
            .all(|p| std::fs::symlink_metadata(p).is_err())
        {
            move_journal(db, &aside)?;
            return Ok(aside);
        }
        n += 1;
    }
}

/// Bring the journal kept under an older spelling of this pair to `new`,
/// the normal form's name: one journal per place. When more than one
/// exists, the one written last is kept and the others are moved aside
/// (not deleted); what was done is said on standard error.
fn migrate_journal(new: &Path, old: &[PathBuf]) -> anyhow::Result<()> {
    let found: Vec<&PathBuf> = old.iter().filter(|p| p.is_file()).collect();
    if found.is_empty() {
        return Ok(());
    }
    let mut all: Vec<&Path> = found.iter().map(|p| p.as_path()).collect();
    if new.is_file() {
        all.push(new);
    }
    // The most recent activity wins; on a tie, the normal form's own.
    let keep = all
        .iter()
        .copied()
        .max_by_key(|p| (last_activity(p), *p == new))
        .unwrap_or(new);
    for p in all.iter().copied().filter(|p| *p != keep) {
        let aside = move_journal_aside(p)?;
        eprintln!(
            "ferry: two journals were kept for this synchronization (the same folders spelt two ways); the one written last is used, the other was moved to {}",
            aside.display()
        );
    }
    if keep != new {
        move_journal(keep, new)?;
        eprintln!(
            "ferry: the journal of this synchronization was kept under another spelling of its folders; moved {} to {}",
            keep.display(),
            new.display()
        );
    }
    Ok(())
}

fn sync_command(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let settings = settings_of(&args);
    let filters: Vec<UserFilter> = args.exclude.iter().map(|p| parse_filter(p)).collect();
    let filter = Filter::new(&filters, &args.deselect)?;
    // One normal form per place, before anything is derived from it.
    let local_root = crate::config::local_folder(&args.local)?;
    let place = crate::config::Place::parse(&args.remote)?;
    let remote_spec = place.key();
    if let crate::config::Place::Folder(r) = &place {
        if r.starts_with(&local_root) || local_root.starts_with(r) {
            anyhow::bail!(
                "the local folder and the remote folder must not contain each other: {} and {}",
                local_root.display(),
                r.display()
            );
        }
    }
    let state = match &args.state {
        Some(s) => s.clone(),
        None => default_state_dir()?,
    };
    std::fs::create_dir_all(&state)
        .map_err(|e| anyhow::anyhow!("cannot create state folder {}: {e}", state.display()))?;
    let journal_file = journal_path(&state, &local_root, &remote_spec);
    migrate_journal(
        &journal_file,
        &old_journal_paths(&state, &args, &local_root, &place),
    )?;
    let new_journal = !journal_file.exists();
    let journal = Journal::open(&journal_file)?;
    let credentials = if let crate::config::Place::WebDav(url) = &place {
        crate::accounts::credentials_for(
            url,
            &crate::config::default_dir()?,
            &crate::secrets::KeyringStore::new(),
        )?
    } else {
        None
    };
    let options = crate::remote::webdav::Options {
        credentials,
        ca_file: args.ca_file.clone(),
        max_listing_bytes: None,
        timeout: Some(std::time::Duration::from_secs(args.timeout.max(1))),
    };
    let remote = crate::remote::open(&remote_spec, options)?;
    // A progress bar for a person at a terminal (as `ferry run` shows).
    let bar = progress_bar(!args.json);
    let hooks = crate::sync::PassHooks {
        progress: bar.clone().map(|bar| {
            Arc::new(move |p: crate::sync::Progress| match p {
                crate::sync::Progress::Planned { ops, .. } => {
                    bar.set_length(ops as u64);
                    bar.set_position(0);
                    bar.set_message("synchronizing");
                }
                crate::sync::Progress::Done { path, .. } => {
                    bar.inc(1);
                    bar.set_message(path);
                }
            }) as Arc<dyn Fn(crate::sync::Progress) + Send + Sync>
        }),
        stop: None,
    };
    let job = SyncJob {
        name: local_root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sync".into()),
        local: Arc::new(Folder::new(
            local_root.clone(),
            Side::Local,
            TrashPolicy::Os,
        )),
        remote: Arc::from(remote),
        journal: Arc::new(Mutex::new(journal)),
        settings,
        filter: Arc::new(filter),
        concurrency: args.jobs.max(1),
        hooks,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let opts = PassOptions {
        dry_run: args.dry_run,
        force: args.force,
        scope: None,
        create_root: args.create,
    };
    let now = jiff::Zoned::now().datetime();
    let result = rt.block_on(run_pass(&job, opts, now));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) if report.needs_confirmation.is_some() => {
            // A dry run into a guard: the plan, and the status a real pass
            // would end with.
            if args.json {
                out!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&job, &report);
            }
            Ok(ExitCode::from(EXIT_NEEDS_CONFIRMATION))
        }
        Ok(report) => {
            if args.json {
                out!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&job, &report);
            }
            match report.stop_kind {
                Some(crate::sync::StopKind::Credentials) => Ok(ExitCode::from(EXIT_CREDENTIALS)),
                Some(crate::sync::StopKind::Offline) => Ok(ExitCode::from(EXIT_UNREACHABLE)),
                _ if report.errors.is_empty() && report.stop_kind.is_none() => {
                    Ok(ExitCode::SUCCESS)
                }
                _ => Ok(ExitCode::FAILURE),
            }
        }
        Err(e @ (SyncError::NeedsConfirmation(_) | SyncError::RootMissing { .. })) => {
            if args.json {
                out!(
                    "{}",
                    serde_json::json!({"stopped": true, "needs_confirmation": true, "message": e.to_string()})
                );
            }
            eprintln!("ferry: {e}");
            Ok(ExitCode::from(EXIT_NEEDS_CONFIRMATION))
        }
        Err(e @ SyncError::RemoteRootAbsent { .. }) => {
            // Nothing was recorded: a journal this run created is removed,
            // so that a typo leaves no trace.
            drop(job);
            if new_journal {
                for f in journal_files(&journal_file) {
                    let _ = std::fs::remove_file(f);
                }
            }
            if args.json {
                out!(
                    "{}",
                    serde_json::json!({"stopped": true, "needs_create": true, "message": e.to_string()})
                );
            }
            eprintln!("ferry: {e}");
            Ok(ExitCode::from(EXIT_NEEDS_CONFIRMATION))
        }
        Err(SyncError::Remote(e)) => {
            let code = match &e {
                crate::remote::RemoteError::Auth(_) => EXIT_CREDENTIALS,
                crate::remote::RemoteError::Unreachable(_) => EXIT_UNREACHABLE,
                _ => return Err(SyncError::Remote(e).into()),
            };
            eprintln!("ferry: {}", SyncError::Remote(e));
            Ok(ExitCode::from(code))
        }
        Err(e) => Err(e.into()),
    }
}

/// A progress bar on standard error when it is a terminal (and `show`).
fn progress_bar(show: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !show || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{bar:30}] {pos}/{len} items  {wide_msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("looking for changes");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.tick();
    Some(bar)
}

fn print_report(job: &SyncJob, r: &Report) {
    let verb = if r.dry_run { "would sync" } else { "synced" };
    out!(
        "ferry: {verb} {} <-> {} in {:.2} s",
        job.local.root().display(),
        job.remote.describe(),
        r.elapsed_ms as f64 / 1000.0
    );
    for root in &r.created {
        out!("  created {root}: it did not exist");
    }
    if r.dry_run {
        for op in &r.ops {
            out!("  {}", describe_op(op));
        }
    }
    let counts: Vec<String> = r
        .counts
        .iter()
        .filter(|(k, _)| !matches!(**k, "adopt" | "forget"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if counts.is_empty() {
        out!("  nothing to do: both sides are in sync");
    } else {
        out!(
            "  {}; {} up, {} down; {} to the trash",
            counts.join(", "),
            human_bytes(r.bytes_up),
            human_bytes(r.bytes_down),
            r.trashed
        );
    }
    let list = |title: &str, items: &[crate::engine::Problem]| {
        if items.is_empty() {
            return;
        }
        out!("  {} {title}:", items.len());
        for p in items.iter().take(50) {
            let side = p.side.map(|s| s.to_string()).unwrap_or_default();
            out!("    {side:6} {}: {}", p.path, p.message);
        }
        if items.len() > 50 {
            out!("    … and {} more (see --json)", items.len() - 50);
        }
    };
    list("not synchronized", &r.problems);
    list(
        "skipped (changed during the pass; retried next pass)",
        &r.skipped,
    );
    list("failed", &r.errors);
    if let Some(reason) = &r.stopped {
        out!("  the pass stopped early: {reason}");
    }
    if let Some(reason) = &r.needs_confirmation {
        out!(
            "  needs confirmation: {reason} Without --dry-run the pass stops here and changes nothing; --force proceeds."
        );
    }
}

/// An op of a JSON report (as the API sends it), described like
/// [`describe_op`] does.
pub fn describe_op_json(op: &serde_json::Value) -> String {
    let s = |k: &str| op[k].as_str().unwrap_or_default().to_string();
    match op["op"].as_str().unwrap_or_default() {
        "move" => format!("move     {}: {} -> {}", s("side"), s("from"), s("to")),
        "delete" => {
            let reason = match s("reason").as_str() {
                "deleted-on-other-side" => " (deleted on the other side)",
                "mirror" => " (not on the source side of the mirror)",
                "kind-changed" => " (replaced by another kind of item on the other side)",
                "deselected" => " (its folder is deselected)",
                _ => "",
            };
            format!("delete   {}: {} to the trash{reason}", s("side"), s("path"))
        }
        "make-dir" => format!("mkdir    {}: {}", s("side"), s("path")),
        "transfer" => {
            let verb = if op["to"] == "remote" {
                "upload  "
            } else {
                "download"
            };
            let size = op["size"].as_u64().unwrap_or(0);
            format!("{verb} {} ({})", s("path"), human_bytes(size))
        }
        "adopt" => format!("adopt    {} (already equal)", s("path")),
        "forget" => format!("forget   {} (gone on both sides)", s("path")),
        other => format!("{other} {}", s("path")),
    }
}

fn describe_op(op: &Op) -> String {
    match op {
        Op::Move {
            side,
            from,
            to,
            why,
            ..
        } => format!("move     {side}: {from} -> {to} ({why})"),
        Op::Delete {
            side,
            path,
            reason,
            contents,
            ..
        } => {
            let extra = if contents.is_empty() {
                String::new()
            } else {
                format!(" with {} items", contents.len())
            };
            format!("delete   {side}: {path}{extra} to the trash ({reason})")
        }
        Op::MakeDir {
            side, path, why, ..
        } => format!("mkdir    {side}: {path} ({why})"),
        Op::Transfer {
            to,
            path,
            source,
            why,
            ..
        } => {
            let verb = if *to == Side::Remote {
                "upload  "
            } else {
                "download"
            };
            format!("{verb} {path} ({}, {why})", human_bytes(source.size))
        }
        Op::Adopt { path, .. } => format!("adopt    {path} (already equal)"),
        Op::Forget { path } => format!("forget   {path} (gone on both sides)"),
    }
}
