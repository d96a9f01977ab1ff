//! The CLI commands that talk to a running daemon through its loopback API
//! (`ferry status`, `add`, `list`, `run`, `log`, `why`, …): argument
//! definitions, the requests, and the human (or `--json`) output. When no
//! daemon runs they say so and how to start one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::cli::{CompareArg, ConflictArg, DirectionArg};
use crate::fsops::human_bytes;
use crate::protocol::client::{Client, ClientError};

/// Print a line to standard output, ignoring a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
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
        #[arg(long, value_parser = ["upload", "download", "move", "delete", "mkdir", "adopt", "forget"])]
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
        /// local: the conflicted copy replaces the file; remote: the copy
        /// goes to the trash; both: keep both files.
        #[arg(long = "use", value_enum)]
        keep: KeepArg,
    },
    /// Explain an item's state: the rule or event that decided it.
    Why {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KeepArg {
    Local,
    Remote,
    Both,
}

#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// A name for it (unique).
    pub name: String,
    /// The local folder: a path or a file:// URL (created on the first pass
    /// if missing).
    pub local: PathBuf,
    /// The remote folder: a URL at or under an account's URL (see `ferry
    /// account list`), or a folder path or file:// URL.
    pub remote: String,
    #[arg(long, value_enum, default_value = "both")]
    pub direction: DirectionArg,
    #[arg(long, value_enum, default_value = "keep-both")]
    pub conflict: ConflictArg,
    #[arg(long, value_enum, default_value = "fast")]
    pub compare: CompareArg,
    /// Exclude what matches (repeatable): a glob, or starts:/contains:/ends:/regex:.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Selective sync: leave this remote folder out (repeatable).
    #[arg(long, value_name = "FOLDER")]
    pub deselect: Vec<String>,
    /// Poll the remote every SECS seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub poll: u64,
    /// Do not watch for changes: only scheduled (--every) or manual passes.
    #[arg(long)]
    pub no_live: bool,
    /// Run a pass every SECS seconds (with --no-live).
    #[arg(long, value_name = "SECS")]
    pub every: Option<u64>,
    /// Create it turned off.
    #[arg(long)]
    pub disabled: bool,
    /// Create the remote folder if it does not exist (on the first pass).
    /// Without it, a missing remote folder stops the first pass until you
    /// confirm: it is often a typo.
    #[arg(long)]
    pub create: bool,
}

/// Run a daemon command.
pub fn run(cmd: Control) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let data_dir = crate::config::data_dir()?;
        let client = connect(&data_dir)?;
        dispatch(&client, cmd).await
    })
}

fn connect(data_dir: &Path) -> anyhow::Result<Client> {
    Ok(Client::connect(data_dir)?)
}

/// Whether a daemon answers (for commands that work either way).
pub fn daemon_client() -> Option<Client> {
    let dir = crate::config::data_dir().ok()?;
    Client::connect(&dir).ok()
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

async fn dispatch(client: &Client, cmd: Control) -> anyhow::Result<ExitCode> {
    match cmd {
        Control::Status { json, follow } => {
            let status: Value = client.get("/api/status").await?;
            if json && !follow {
                print_json(&status)?;
            } else {
                print_status(&status);
            }
            if follow {
                follow_events(client, json).await?;
            }
        }
        Control::Add(args) => {
            let body = add_body(client, &args).await?;
            let created: Value = client.post("/api/syncs", &body).await?;
            out!(
                "Added {:?}: {} <-> {} (id {}).",
                created["name"].as_str().unwrap_or_default(),
                created["local"].as_str().unwrap_or_default(),
                describe_remote(&created["remote"]),
                created["id"].as_str().unwrap_or_default()
            );
            if let (false, Ok(crate::config::Place::Folder(remote))) =
                (args.create, crate::config::Place::parse(&args.remote))
                && !remote.exists()
            {
                out!(
                    "The remote folder {} does not exist: the first pass waits for `ferry confirm {}` to create it (or add with --create).",
                    remote.display(),
                    created["name"].as_str().unwrap_or_default()
                );
            }
        }
        Control::List { json } => {
            let list: Vec<Value> = client.get("/api/syncs").await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                out!("No synchronizations. Add one with `ferry add NAME LOCAL REMOTE`.");
            } else {
                for s in &list {
                    let c = &s["config"];
                    out!(
                        "{}  {} <-> {}  [{}; {}; {}; {}{}]  {}",
                        c["name"].as_str().unwrap_or_default(),
                        c["local"].as_str().unwrap_or_default(),
                        describe_remote(&c["remote"]),
                        c["direction"].as_str().unwrap_or_default(),
                        c["conflict"].as_str().unwrap_or_default(),
                        c["compare"].as_str().unwrap_or_default(),
                        if c["live"].as_bool().unwrap_or(false) {
                            "live"
                        } else {
                            "not live"
                        },
                        if c["enabled"].as_bool().unwrap_or(true) {
                            ""
                        } else {
                            "; disabled"
                        },
                        s["status"]["state"].as_str().unwrap_or("-")
                    );
                }
            }
        }
        Control::Remove { name } => {
            let r: Value = client.delete(&format!("/api/syncs/{}", seg(&name))).await?;
            out!(
                "Removed {}. Its folders were left as they are.",
                r["removed"].as_str().unwrap_or(&name)
            );
        }
        Control::Enable { name } => {
            let _: Value = client
                .post(&format!("/api/syncs/{}/enable", seg(&name)), &json!({}))
                .await?;
            out!("{name} is on.");
        }
        Control::Disable { name } => {
            let _: Value = client
                .post(&format!("/api/syncs/{}/disable", seg(&name)), &json!({}))
                .await?;
            out!("{name} is off.");
        }
        Control::Run {
            name,
            all,
            parallel,
            sequential,
            json,
        } => return run_passes(client, name, all, parallel, sequential, json).await,
        Control::Pause { name } => {
            let path = match &name {
                Some(n) => format!("/api/syncs/{}/pause", seg(n)),
                None => "/api/pause".into(),
            };
            let _: Value = client.post(&path, &json!({})).await?;
            out!(
                "Paused {}.",
                name.as_deref().unwrap_or("all synchronizations")
            );
        }
        Control::Resume { name } => {
            let path = match &name {
                Some(n) => format!("/api/syncs/{}/resume", seg(n)),
                None => "/api/resume".into(),
            };
            let _: Value = client.post(&path, &json!({})).await?;
            out!(
                "Resumed {}.",
                name.as_deref().unwrap_or("all synchronizations")
            );
        }
        Control::Confirm { name, cancel } => {
            let what = if cancel { "cancel" } else { "confirm" };
            let _: Value = client
                .post(&format!("/api/syncs/{}/{what}", seg(&name)), &json!({}))
                .await?;
            if cancel {
                out!("Cancelled: {name} is paused. `ferry resume {name}` looks again.");
            } else {
                out!("Confirmed: {name} proceeds.");
            }
        }
        Control::Simulate { name, json } => {
            let report: Value = client
                .post(&format!("/api/syncs/{}/simulate", seg(&name)), &json!({}))
                .await?;
            if json {
                print_json(&report)?;
            } else {
                print_simulation(&name, &report);
            }
        }
        Control::Log {
            sync,
            action,
            search,
            limit,
            page,
            json,
        } => {
            let mut q = vec![
                format!("limit={limit}"),
                format!("offset={}", limit * page.saturating_sub(1)),
            ];
            for (k, v) in [("sync", &sync), ("action", &action), ("search", &search)] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", query(v)));
                }
            }
            let rows: Vec<Value> = client.get(&format!("/api/log?{}", q.join("&"))).await?;
            if json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                out!(
                    "Nothing logged{}.",
                    if page > 1 { " on this page" } else { "" }
                );
            } else {
                for r in &rows {
                    out!(
                        "{}  {:<8} {:<9} {}  {}{}",
                        r["time"].as_str().unwrap_or_default(),
                        r["sync"].as_str().unwrap_or_default(),
                        r["action"].as_str().unwrap_or_default(),
                        r["path"].as_str().unwrap_or_default(),
                        r["result"].as_str().unwrap_or_default(),
                        match r["bytes"].as_u64() {
                            Some(b) if b > 0 => format!(" ({})", human_bytes(b)),
                            _ => String::new(),
                        }
                    );
                }
            }
        }
        Control::Conflicts { json } => {
            let rows: Vec<Value> = client.get("/api/conflicts").await?;
            if json {
                print_json(&rows)?;
            } else if rows.is_empty() {
                out!("No conflicts.");
            } else {
                for c in &rows {
                    out!(
                        "{}  {}: {}{}",
                        c["time"].as_str().unwrap_or_default(),
                        c["sync"].as_str().unwrap_or_default(),
                        c["path"].as_str().unwrap_or_default(),
                        match c["copy"].as_str() {
                            Some(copy) => format!("  (your version: {copy})"),
                            None => format!("  ({})", c["policy"].as_str().unwrap_or_default()),
                        }
                    );
                }
                out!("Resolve one with `ferry resolve PATH --use local|remote|both`.");
            }
        }
        Control::Resolve { path, keep } => {
            let abs = item_path(&path)?;
            let syncs: Vec<Value> = client.get("/api/syncs").await?;
            let (sync, rel) = syncs
                .iter()
                .find_map(|s| {
                    let local = PathBuf::from(s["config"]["local"].as_str()?);
                    let rel = abs.strip_prefix(&local).ok()?;
                    Some((
                        s["config"]["name"].as_str()?.to_string(),
                        rel.to_string_lossy().into_owned(),
                    ))
                })
                .with_context(|| format!("{} is not in a synchronized folder", abs.display()))?;
            let conflicts: Vec<Value> = client.get("/api/conflicts").await?;
            let Some(c) = conflicts.iter().find(|c| {
                c["sync"].as_str() == Some(&sync)
                    && (c["path"].as_str() == Some(&rel) || c["copy"].as_str() == Some(&rel))
            }) else {
                bail!(
                    "no open conflict on {} (see `ferry conflicts`)",
                    abs.display()
                );
            };
            let keep = match keep {
                KeepArg::Local => "local",
                KeepArg::Remote => "remote",
                KeepArg::Both => "both",
            };
            let _: Value = client
                .post(
                    "/api/conflicts/resolve",
                    &json!({"sync": sync, "id": c["id"], "keep": keep}),
                )
                .await?;
            out!(
                "Resolved {}: {}.",
                c["path"].as_str().unwrap_or_default(),
                match keep {
                    "local" => "your version replaces it (the other went to the trash)",
                    "remote" => "the other version stays (your copy went to the trash)",
                    _ => "both files are kept",
                }
            );
        }
        Control::Why { path, json } => {
            let abs = item_path(&path)?;
            let why: Value = client.post("/api/why", &json!({"path": abs})).await?;
            if json {
                print_json(&why)?;
            } else {
                print_why(&why);
            }
        }
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

/// Percent-encode a path segment (names may hold spaces, `/`, `?`…).
fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn query(s: &str) -> String {
    seg(s)
}

fn describe_remote(r: &Value) -> String {
    match r["type"].as_str() {
        Some("folder") => r["path"].as_str().unwrap_or_default().to_string(),
        Some("webdav") => format!(
            "{}:{}",
            r["account"].as_str().unwrap_or_default(),
            r["path"]
                .as_str()
                .map(|p| format!("/{p}"))
                .unwrap_or_default()
        ),
        _ => r.to_string(),
    }
}

fn state_line(s: &Value) -> String {
    let state = s["state"].as_str().unwrap_or("?");
    let detail = match state {
        "syncing" => {
            let total = s["files_total"].as_u64().unwrap_or(0);
            if total == 0 {
                " (looking for changes)".to_string()
            } else {
                // Never "0 B of 0 B" (a pass that only moves or
                // deletes) nor more done than there is.
                let bytes_total = s["bytes_total"].as_u64().unwrap_or(0);
                let size = if bytes_total == 0 {
                    String::new()
                } else {
                    format!(
                        ", {} of {}",
                        human_bytes(s["bytes_done"].as_u64().unwrap_or(0).min(bytes_total)),
                        human_bytes(bytes_total)
                    )
                };
                format!(
                    " ({}/{} items{size}{})",
                    s["files_done"].as_u64().unwrap_or(0).min(total),
                    total,
                    s["eta_secs"]
                        .as_u64()
                        .map(|e| format!(", about {e} s left"))
                        .unwrap_or_default()
                )
            }
        }
        "offline" | "error" => format!(
            ": {} (retrying in {} s)",
            s["reason"].as_str().unwrap_or_default(),
            s["retry_in_secs"].as_u64().unwrap_or(0)
        ),
        "credentials_required" | "needs_confirmation" => {
            format!(": {}", s["reason"].as_str().unwrap_or_default())
        }
        "paused" => s["reason"]
            .as_str()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    format!("{}{detail}", state.replace('_', " "))
}

fn print_status(status: &Value) {
    let syncs = status["syncs"].as_array().cloned().unwrap_or_default();
    out!(
        "Ferry {}: {}",
        status["version"].as_str().unwrap_or_default(),
        status["overall"]
            .as_str()
            .unwrap_or_default()
            .replace('_', " ")
    );
    if syncs.is_empty() {
        out!("No synchronizations. Add one with `ferry add NAME LOCAL REMOTE`.");
    }
    for s in &syncs {
        out!(
            "  {}: {}  ({} <-> {})",
            s["name"].as_str().unwrap_or_default(),
            state_line(s),
            s["local"].as_str().unwrap_or_default(),
            s["remote"].as_str().unwrap_or_default()
        );
        if let Some(w) = s["watch_warning"].as_str() {
            out!("    warning: {w}");
        }
        if s["state"] == "needs_confirmation" {
            let name = s["name"].as_str().unwrap_or_default();
            out!("    `ferry confirm {name}` proceeds; `ferry confirm {name} --cancel` pauses it.");
        }
        if s["never_ran"] == true {
            out!("    never ran: nothing is synchronized yet");
        }
    }
    match status["open_conflicts"].as_u64().unwrap_or(0) {
        0 => {}
        1 => out!("1 open conflict: `ferry conflicts` shows it."),
        n => out!("{n} open conflicts: `ferry conflicts` shows them."),
    }
    for w in status["config_warnings"].as_array().into_iter().flatten() {
        out!("Warning: {}", w.as_str().unwrap_or_default());
    }
    if let Some(recent) = status["recent"].as_array().filter(|r| !r.is_empty()) {
        out!("Recent files:");
        for r in recent.iter().take(5) {
            out!(
                "  {} {} ({})",
                r["action"].as_str().unwrap_or_default(),
                r["path"].as_str().unwrap_or_default(),
                r["sync"].as_str().unwrap_or_default()
            );
        }
    }
}

async fn follow_events(client: &Client, json: bool) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let stream = client.sse::<Value>("/api/events");
    futures_util::pin_mut!(stream);
    while let Some(ev) = stream.next().await {
        let Ok(ev) = ev else { break };
        if json {
            out!("{ev}");
            continue;
        }
        match ev["type"].as_str() {
            Some("state") => {
                let s = &ev["sync"];
                out!(
                    "{}: {}",
                    s["name"].as_str().unwrap_or_default(),
                    state_line(s)
                );
            }
            Some("transfer") => out!(
                "{}: {} {}{}",
                ev["sync"].as_str().unwrap_or_default(),
                ev["action"].as_str().unwrap_or_default(),
                ev["path"].as_str().unwrap_or_default(),
                ev["error"]
                    .as_str()
                    .map(|e| format!(" FAILED: {e}"))
                    .unwrap_or_default()
            ),
            _ => {}
        }
    }
    bail!("the Ferry daemon went away (it stopped or crashed); `ferry daemon` starts it again")
}

/// `ferry run`: start the pass(es), show progress from the event stream
/// while waiting, print the outcome.
async fn run_passes(
    client: &Client,
    name: Option<String>,
    all: bool,
    parallel: bool,
    sequential: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use futures_util::StreamExt;
    use std::io::IsTerminal;
    let show = !json && std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new_spinner();
    if show {
        bar.enable_steady_tick(Duration::from_millis(120));
        bar.set_message("starting…");
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let request = async {
        if all {
            let parallel = if parallel {
                Some(true)
            } else if sequential {
                Some(false)
            } else {
                None
            };
            client
                .post::<_, Value>("/api/run", &json!({"wait": true, "parallel": parallel}))
                .await
        } else {
            let name = name.clone().unwrap_or_default();
            client
                .post::<_, Value>(
                    &format!("/api/syncs/{}/run", seg(&name)),
                    &json!({"wait": true}),
                )
                .await
                .map(|summary| json!([{"sync": name, "ok": true, "summary": summary}]))
        }
    };
    let events = client.sse::<Value>("/api/events");
    futures_util::pin_mut!(request);
    futures_util::pin_mut!(events);
    let result = loop {
        tokio::select! {
            r = &mut request => break r,
            Some(Ok(ev)) = events.next(), if show => {
                if ev["type"] == "state" && ev["sync"]["state"] == "syncing" {
                    let s = &ev["sync"];
                    bar.set_message(format!("{}: {}", s["name"].as_str().unwrap_or_default(), state_line(s)));
                }
            }
        }
    };
    bar.finish_and_clear();
    let results = match result {
        Ok(r) => r,
        Err(ClientError::Api {
            status: 409,
            code,
            message,
        }) if crate::cli::exit_code_for(&code).is_some() => {
            eprintln!("ferry: {message}");
            return Ok(ExitCode::from(
                crate::cli::exit_code_for(&code).unwrap_or(1),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        print_json(&results)?;
    }
    let mut failed = false;
    // The first specific reason (exit status 3 to 6) wins over a plain 1.
    let mut reason: Option<u8> = None;
    for r in results.as_array().cloned().unwrap_or_default() {
        let name = r["sync"].as_str().unwrap_or_default();
        let code = r["code"]
            .as_str()
            .or(r["summary"]["stop_kind"].as_str())
            .and_then(crate::cli::exit_code_for);
        reason = reason.or(code);
        if r["ok"] != true {
            failed = true;
            if !json {
                out!("{name}: {}", r["error"].as_str().unwrap_or_default());
            }
            continue;
        }
        let s = &r["summary"];
        let errors = s["errors"].as_array().map(Vec::len).unwrap_or(0);
        if errors > 0 || s["stopped"].is_string() {
            failed = true;
        }
        if json {
            continue;
        }
        let counts = s["counts"]
            .as_object()
            .map(|c| {
                c.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "adopt" | "forget"))
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "nothing to do".into());
        out!(
            "{name}: {counts}; {} up, {} down; {} to the trash; {} ms",
            human_bytes(s["bytes_up"].as_u64().unwrap_or(0)),
            human_bytes(s["bytes_down"].as_u64().unwrap_or(0)),
            s["trashed"].as_u64().unwrap_or(0),
            s["elapsed_ms"].as_u64().unwrap_or(0)
        );
        for e in s["errors"].as_array().into_iter().flatten() {
            out!(
                "  failed: {}: {}",
                e["path"].as_str().unwrap_or_default(),
                e["message"].as_str().unwrap_or_default()
            );
        }
        if let Some(stopped) = s["stopped"].as_str() {
            out!("  stopped: {stopped}");
        }
    }
    Ok(if let Some(code) = reason {
        ExitCode::from(code)
    } else if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_simulation(name: &str, r: &Value) {
    let ops = r["ops"].as_array().cloned().unwrap_or_default();
    if ops.is_empty() {
        out!("{name}: nothing to do.");
    } else {
        out!("{name}: a pass would do {} operation(s):", ops.len());
        for op in &ops {
            out!("  {}", crate::cli::describe_op_json(op));
        }
    }
    let deletions = r["trashed"].as_u64().unwrap_or(0);
    if deletions > 0 {
        out!("  ({deletions} item(s) would go to a trash)");
    }
    if let Some(reason) = r["needs_confirmation"].as_str() {
        out!(
            "  needs confirmation: {reason} A pass stops before doing this until `ferry confirm {name}`."
        );
    }
    for p in r["problems"].as_array().into_iter().flatten() {
        out!(
            "  not synchronized: {}: {}",
            p["path"].as_str().unwrap_or_default(),
            p["message"].as_str().unwrap_or_default()
        );
    }
    out!("Nothing was changed.");
}

fn print_why(w: &Value) {
    out!(
        "{} (in {}): {}",
        w["path"].as_str().unwrap_or_default(),
        w["sync"].as_str().unwrap_or_default(),
        w["verdict"].as_str().unwrap_or_default()
    );
    if let Some(rule) = w["excluded_by"].as_str() {
        out!("  excluded by: {rule}");
    }
    if w["in_sync_as"].is_object() {
        out!(
            "  last in sync: {} bytes here, {} bytes on the remote",
            w["in_sync_as"]["local_size"],
            w["in_sync_as"]["remote_size"]
        );
    } else {
        out!("  never synchronized");
    }
    if let Some(state) = w["state"].as_object() {
        out!(
            "  synchronization: {}",
            state_line(&Value::Object(state.clone()))
        );
    }
    for c in w["conflicts"].as_array().into_iter().flatten() {
        out!(
            "  conflict since {}: copy {}",
            c["time"].as_str().unwrap_or_default(),
            c["copy"].as_str().unwrap_or("-")
        );
    }
    let log = w["log"].as_array().cloned().unwrap_or_default();
    if !log.is_empty() {
        out!("  history:");
        for l in &log {
            out!(
                "    {} {} {}: {}",
                l["time"].as_str().unwrap_or_default(),
                l["action"].as_str().unwrap_or_default(),
                l["path"].as_str().unwrap_or_default(),
                l["result"].as_str().unwrap_or_default()
            );
        }
    }
}

/// The request body of `ferry add`: a WebDAV URL becomes the account whose
/// URL is its longest prefix plus the path below it.
async fn add_body(client: &Client, a: &AddArgs) -> anyhow::Result<Value> {
    // One normal form per place (and `htp://…` refused) before anything
    // is saved.
    let local = crate::config::local_folder(&a.local)?;
    let remote = match crate::config::Place::parse(&a.remote)? {
        crate::config::Place::WebDav(url) => {
            let accounts: Vec<crate::config::Account> = client.get("/api/accounts").await?;
            let Some((account, rel)) = crate::config::account_for_url(&accounts, &url) else {
                bail!(
                    "no account covers {url}: add one first with `ferry account add URL --user NAME`"
                );
            };
            json!({"type": "webdav", "account": account.id, "path": rel})
        }
        crate::config::Place::Folder(path) => json!({"type": "folder", "path": path}),
    };
    let filters: Vec<crate::engine::UserFilter> = a
        .exclude
        .iter()
        .map(|p| crate::cli::parse_filter(p))
        .collect();
    let settings = crate::cli::settings_json(a.direction, a.conflict, a.compare)?;
    let mut body = json!({
        "name": a.name,
        "local": local,
        "remote": remote,
        "filters": filters,
        "deselected": a.deselect,
        "poll_interval_secs": a.poll.max(1),
        "live": !a.no_live,
        "schedule_secs": a.every,
        "enabled": !a.disabled,
        "create_remote_root": a.create,
    });
    if let Value::Object(b) = &mut body {
        b.extend(settings);
    }
    Ok(body)
}

/// `ferry account …` through a running daemon; `None` when none runs (the
/// command then edits the configuration itself).
pub fn account_via_daemon(
    cmd: &crate::accounts::AccountCommand,
) -> anyhow::Result<Option<ExitCode>> {
    use crate::accounts::AccountCommand;
    let Some(client) = daemon_client() else {
        return Ok(None);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match client.get::<Value>("/api/health").await {
            Err(ClientError::NotRunning { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        match cmd {
            AccountCommand::Add {
                url,
                user,
                password_stdin,
                no_test,
                ca_file,
            } => {
                if ca_file.is_some() {
                    bail!(
                        "--ca-file: the running daemon uses its own (`ferry daemon --ca-file FILE`)"
                    );
                }
                let password = if *password_stdin {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                } else {
                    rpassword::prompt_password(format!("Password for {user} at {url}: ")).context(
                        "no terminal to ask for the password: pass it with --password-stdin",
                    )?
                };
                if password.is_empty() {
                    bail!("the password is empty");
                }
                let account: Value = client
                    .post(
                        "/api/accounts",
                        &json!({"url": url, "user": user, "password": password, "test": !no_test}),
                    )
                    .await?;
                out!(
                    "Account {} saved: {} at {} (password in the keyring).",
                    account["id"].as_str().unwrap_or_default(),
                    account["user"].as_str().unwrap_or_default(),
                    account["url"].as_str().unwrap_or_default()
                );
            }
            AccountCommand::List => {
                let list: Vec<Value> = client.get("/api/accounts").await?;
                if list.is_empty() {
                    out!("No accounts. Add one with `ferry account add URL --user NAME`.");
                }
                for a in &list {
                    out!(
                        "{}  {}  {}",
                        a["id"].as_str().unwrap_or_default(),
                        a["user"].as_str().unwrap_or_default(),
                        a["url"].as_str().unwrap_or_default()
                    );
                }
            }
            AccountCommand::Remove {
                url_or_id,
                yes,
                force,
            } => {
                let accounts: Vec<crate::config::Account> = client.get("/api/accounts").await?;
                let id = accounts
                    .iter()
                    .find(|a| &a.id == url_or_id || crate::config::same_url(&a.url, url_or_id))
                    .map(|a| a.id.clone())
                    .with_context(|| {
                        format!("no account matches {url_or_id:?}: `ferry account list` shows them")
                    })?;
                // The daemon removes the synchronizations that use it: say
                // which, and ask first.
                let syncs: Vec<Value> = client.get("/api/syncs").await?;
                let users: Vec<&str> = syncs
                    .iter()
                    .filter(|s| s["config"]["remote"]["account"].as_str() == Some(id.as_str()))
                    .filter_map(|s| s["config"]["name"].as_str())
                    .collect();
                if !users.is_empty() {
                    eprintln!(
                        "Removing the account {id} also removes these synchronizations: {} (their folders and files are left as they are).",
                        users.join(", ")
                    );
                    if !crate::accounts::confirm("Remove them?", *yes || *force)? {
                        out!("Nothing was changed.");
                        return Ok(Some(ExitCode::FAILURE));
                    }
                }
                let r: Value = client
                    .delete(&format!("/api/accounts/{}", seg(&id)))
                    .await?;
                let removed: Vec<&str> = r["removed_syncs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                out!("Account {id} removed; its password was deleted from the keyring.");
                if !removed.is_empty() {
                    out!(
                        "Its synchronizations were removed (their local files are kept): {}",
                        removed.join(", ")
                    );
                }
            }
        }
        Ok(Some(ExitCode::SUCCESS))
    })
}
