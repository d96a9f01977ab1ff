//! Passes through the daemon: `ferry run` (one or all, with a progress
//! line from the event stream) and `ferry simulate`.

use std::process::ExitCode;
use std::time::Duration;

use futures_util::StreamExt;

use super::exit_code_for;
use super::output::{describe_planned, emit, print_json, state_line};
use crate::fsops::human_bytes;
use crate::protocol::report::PassReport;
use crate::protocol::status::{Event, SyncState};
use crate::protocol::syncs::RunResult;
use crate::protocol::{Client, ClientError};

/// Which passes `ferry run` asks for.
pub(super) struct RunWhat {
    /// One synchronization (without `--all`).
    pub name: Option<String>,
    pub all: bool,
    pub parallel: bool,
    pub sequential: bool,
}

/// `ferry run`: start the pass(es), show progress from the event stream
/// while waiting, print the outcome.
pub(super) async fn run(client: &Client, what: RunWhat, json: bool) -> anyhow::Result<ExitCode> {
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
        if what.all {
            let parallel = if what.parallel {
                Some(true)
            } else if what.sequential {
                Some(false)
            } else {
                None
            };
            client.run_all(parallel).await
        } else {
            let name = what.name.clone().unwrap_or_default();
            client.run(&name).await.map(|summary| {
                vec![RunResult {
                    sync: name,
                    ok: true,
                    summary: Some(summary),
                    error: None,
                    code: None,
                }]
            })
        }
    };
    let mut events = client.events();
    futures_util::pin_mut!(request);
    let result = loop {
        tokio::select! {
            r = &mut request => break r,
            Some(Ok(ev)) = events.next(), if show => {
                if let Event::State { sync } = ev
                    && matches!(sync.state, SyncState::Syncing(_))
                {
                    bar.set_message(format!("{}: {}", sync.name, state_line(&sync.state)));
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
        }) if exit_code_for(&code).is_some() => {
            eprintln!("ferry: {message}");
            return Ok(ExitCode::from(exit_code_for(&code).unwrap_or(1)));
        }
        Err(e) => return Err(e.into()),
    };
    if json {
        print_json(&results)?;
    }
    let mut failed = false;
    // The first specific reason (exit status 3 to 6) wins over a plain 1.
    let mut reason: Option<u8> = None;
    for r in &results {
        let name = &r.sync;
        let code = r
            .code
            .as_deref()
            .or(r.summary.as_ref().and_then(|s| s.stop_kind.as_deref()))
            .and_then(exit_code_for);
        reason = reason.or(code);
        let Some(s) = r.summary.as_ref().filter(|_| r.ok) else {
            failed = true;
            if !json {
                out!("{name}: {}", r.error.as_deref().unwrap_or_default());
            }
            continue;
        };
        if !s.errors.is_empty() || s.stopped.is_some() {
            failed = true;
        }
        if json {
            continue;
        }
        let counts = s
            .counts
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "adopt" | "forget"))
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let counts = if counts.is_empty() {
            "nothing to do".to_string()
        } else {
            counts
        };
        out!(
            "{name}: {counts}; {} up, {} down; {} to the trash; {} ms",
            human_bytes(s.bytes_up),
            human_bytes(s.bytes_down),
            s.trashed,
            s.elapsed_ms
        );
        for e in &s.errors {
            out!("  failed: {}: {}", e.path, e.message);
        }
        if let Some(stopped) = &s.stopped {
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

/// `ferry simulate`.
pub(super) async fn simulate(client: &Client, name: &str, json: bool) -> anyhow::Result<()> {
    let report = client.simulate(name).await?;
    emit(json, &report, |r| print_simulation(name, r))
}

fn print_simulation(name: &str, r: &PassReport) {
    if r.ops.is_empty() {
        out!("{name}: nothing to do.");
    } else {
        out!("{name}: a pass would do {} operation(s):", r.ops.len());
        for op in &r.ops {
            out!("  {}", describe_planned(op));
        }
    }
    if r.trashed > 0 {
        out!("  ({} item(s) would go to a trash)", r.trashed);
    }
    if let Some(reason) = &r.needs_confirmation {
        out!(
            "  needs confirmation: {reason} A pass stops before doing this until `ferry confirm {name}`."
        );
    }
    for p in &r.problems {
        out!("  not synchronized: {}: {}", p.path, p.message);
    }
    out!("Nothing was changed.");
}
