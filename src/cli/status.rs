//! `ferry status` (and `--follow`).

use futures_util::StreamExt;

use super::output::{emit, print_json_line, state_line};
use crate::protocol::Client;
use crate::protocol::status::{Event, Status, SyncState};

/// `ferry status`: the state of every synchronization, then with `follow`
/// every change as it happens, until the daemon goes away (an error).
pub(super) async fn status(client: &Client, json: bool, follow: bool) -> anyhow::Result<()> {
    let status = client.status().await?;
    emit(json && !follow, &status, print_status)?;
    if follow {
        follow_events(client, json).await?;
    }
    Ok(())
}

fn print_status(status: &Status) {
    out!(
        "Ferry {}: {}",
        status.version,
        status.overall.replace('_', " ")
    );
    if status.syncs.is_empty() {
        out!("No synchronizations. Add one with `ferry add NAME LOCAL REMOTE`.");
    }
    for listed in &status.syncs {
        let s = &listed.status;
        out!(
            "  {}: {}  ({} <-> {})",
            s.name,
            state_line(&s.state),
            s.local,
            s.remote
        );
        if let Some(w) = &s.watch_warning {
            out!("    warning: {w}");
        }
        if let SyncState::NeedsConfirmation { .. } = s.state {
            let name = &s.name;
            out!("    `ferry confirm {name}` proceeds; `ferry confirm {name} --cancel` pauses it.");
        }
        if listed.never_ran {
            out!("    never ran: nothing is synchronized yet");
        }
    }
    match status.open_conflicts {
        0 => {}
        1 => out!("1 open conflict: `ferry conflicts` shows it."),
        n => out!("{n} open conflicts: `ferry conflicts` shows them."),
    }
    for w in &status.config_warnings {
        out!("Warning: {w}");
    }
    if !status.recent.is_empty() {
        out!("Recent files:");
        for r in status.recent.iter().take(5) {
            out!("  {} {} ({})", r.action, r.path, r.sync);
        }
    }
}

async fn follow_events(client: &Client, json: bool) -> anyhow::Result<()> {
    let mut stream = client.events();
    while let Some(ev) = stream.next().await {
        let Ok(ev) = ev else { break };
        if json {
            print_json_line(&ev)?;
            continue;
        }
        match ev {
            Event::State { sync } => out!("{}: {}", sync.name, state_line(&sync.state)),
            Event::Transfer {
                sync,
                action,
                path,
                error,
                ..
            } => out!(
                "{sync}: {action} {path}{}",
                error.map(|e| format!(" FAILED: {e}")).unwrap_or_default()
            ),
            Event::Config | Event::Lagged { .. } | Event::Other => {}
        }
    }
    anyhow::bail!(
        "the Ferry daemon went away (it stopped or crashed); `ferry daemon` starts it again"
    )
}
