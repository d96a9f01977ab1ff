//! `ferry sync`: one pass between two folders, no daemon needed.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use std::path::PathBuf;

use super::args::SettingsArgs;
use super::journals::{
    default_state_dir, journal_files, journal_path, migrate_journal, old_journal_paths,
};
use super::output::{emit, print_json_line};
use super::{EXIT_CREDENTIALS, EXIT_NEEDS_CONFIRMATION, EXIT_UNREACHABLE};
use crate::engine::{Filter, Guards, Settings};
use crate::fsops::{Folder, TrashPolicy, human_bytes};
use crate::journal::Journal;
use crate::pass::{PassOptions, SyncError, SyncJob, run_pass};
use crate::protocol::report::{PassReport, PlannedOp, Problem, Side, StopKind, Stopped};

/// A limit as `--up-limit` takes it: a number of KiB/s (no `off`: leave
/// the flag out).
fn rate_limit(typed: &str) -> Result<crate::config::RateLimit, String> {
    crate::config::RateLimit::parse(typed)?
        .ok_or_else(|| "leave the flag out for no limit".to_string())
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
    #[command(flatten)]
    pub settings: SettingsArgs,
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
    /// WebDAV: give up on a request (or an upload) that stands still for this
    /// many seconds; an upload that keeps moving may take longer.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub timeout: u64,
    /// WebDAV: send files no faster than this many KiB/s (all transfers
    /// together). The daemon's limits are `ferry limit`'s.
    #[arg(long, value_name = "KIB/S", value_parser = rate_limit)]
    pub up_limit: Option<crate::config::RateLimit>,
    /// WebDAV: receive files no faster than this many KiB/s (all
    /// transfers together).
    #[arg(long, value_name = "KIB/S", value_parser = rate_limit)]
    pub down_limit: Option<crate::config::RateLimit>,
    /// WebDAV: also trust this CA certificate (PEM file).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

fn settings_of(args: &SyncArgs) -> Settings {
    Settings {
        direction: args.settings.direction(),
        conflict: args.settings.conflict(),
        compare: args.settings.compare(),
        guards: Guards {
            max_delete_ratio: args.max_delete_ratio,
            max_delete_count: args.max_delete_count,
        },
        times_kept: false,
    }
}

pub(super) fn sync_command(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let settings = settings_of(&args);
    let filter = Filter::new(&args.settings.filters(), &args.settings.deselect)?;
    // One normal form per place, before anything is derived from it.
    let local_root = crate::config::local_folder(&args.local)?;
    crate::config::check_local_allowed(
        &local_root,
        &crate::config::default_dir().unwrap_or_default(),
        &crate::config::data_dir().unwrap_or_default(),
    )?;
    let place = crate::config::Place::parse(&args.remote)?;
    let remote_spec = place.key();
    if let crate::config::Place::Folder(r) = &place {
        crate::config::check_apart(&local_root, r)?;
    }
    let state = match &args.state {
        Some(s) => s.clone(),
        None => default_state_dir()?,
    };
    crate::fsops::private::create_dir(&state)
        .map_err(|e| anyhow::anyhow!("cannot create state folder {}: {e}", state.display()))?;
    let journal_file = journal_path(&state, &local_root, &remote_spec);
    migrate_journal(
        &journal_file,
        &old_journal_paths(&state, (&args.local, &args.remote), &local_root, &place),
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
    let mut options = crate::remote::webdav::Options::for_account(
        credentials,
        args.ca_file.clone(),
        std::time::Duration::from_secs(args.timeout.max(1)),
    );
    let limits = crate::remote::bandwidth::Limits::new(&crate::config::Bandwidth {
        upload_kib_per_sec: args.up_limit,
        download_kib_per_sec: args.down_limit,
    });
    options.bandwidth = crate::remote::bandwidth::Limits::throttles(&limits, &Default::default());
    let remote = crate::remote::open(&remote_spec, options)?;
    // A progress bar for a person at a terminal (as `ferry run` shows).
    let bar = progress_bar(!args.json);
    let hooks = crate::pass::PassHooks {
        progress: bar.clone().map(|bar| {
            Arc::new(move |p: crate::pass::Progress| match p {
                crate::pass::Progress::Planned { ops, .. } => {
                    bar.set_length(ops as u64);
                    bar.set_position(0);
                    bar.set_message("synchronizing");
                }
                crate::pass::Progress::Done { path, .. } => {
                    bar.inc(1);
                    bar.set_message(path);
                }
            }) as Arc<dyn Fn(crate::pass::Progress) + Send + Sync>
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
            crate::engine::Side::Local,
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
    let result = rt
        .block_on(run_pass(&job, opts, now))
        .map(|r| crate::pass_report::report(&r));
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) if report.needs_confirmation.is_some() => {
            // A dry run into a guard: the plan, and the status a real pass
            // would end with.
            emit(args.json, &report, |r| print_report(&job, r))?;
            Ok(ExitCode::from(EXIT_NEEDS_CONFIRMATION))
        }
        Ok(report) => {
            emit(args.json, &report, |r| print_report(&job, r))?;
            match report.stop_kind {
                Some(StopKind::Credentials) => Ok(ExitCode::from(EXIT_CREDENTIALS)),
                Some(StopKind::Offline) => Ok(ExitCode::from(EXIT_UNREACHABLE)),
                _ if report.errors.is_empty() && report.stop_kind.is_none() => {
                    Ok(ExitCode::SUCCESS)
                }
                _ => Ok(ExitCode::FAILURE),
            }
        }
        Err(e @ (SyncError::NeedsConfirmation(_) | SyncError::RootMissing { .. })) => {
            if args.json {
                print_json_line(&Stopped {
                    stopped: true,
                    needs_confirmation: true,
                    needs_create: false,
                    message: e.to_string(),
                })?;
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
                print_json_line(&Stopped {
                    stopped: true,
                    needs_confirmation: false,
                    needs_create: true,
                    message: e.to_string(),
                })?;
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

fn print_report(job: &SyncJob, r: &PassReport) {
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
        .filter(|(k, _)| !matches!(k.as_str(), "adopt" | "forget"))
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
    let list = |title: &str, items: &[Problem]| {
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

fn describe_op(op: &PlannedOp) -> String {
    match op {
        PlannedOp::Move {
            side,
            from,
            to,
            why,
            ..
        } => format!("move     {side}: {from} -> {to} ({why})"),
        PlannedOp::Delete {
            side,
            path,
            reason,
            items,
        } => {
            let extra = if *items == 0 {
                String::new()
            } else {
                format!(" with {items} items")
            };
            format!("delete   {side}: {path}{extra} to the trash ({reason})")
        }
        PlannedOp::MakeDir { side, path, why } => format!("mkdir    {side}: {path} ({why})"),
        PlannedOp::Transfer {
            to,
            path,
            size,
            why,
            ..
        } => {
            let verb = if *to == Side::Remote {
                "upload  "
            } else {
                "download"
            };
            format!("{verb} {path} ({}, {why})", human_bytes(*size))
        }
        PlannedOp::Adopt { path } => format!("adopt    {path} (already equal)"),
        PlannedOp::Forget { path } => format!("forget   {path} (gone on both sides)"),
    }
}
