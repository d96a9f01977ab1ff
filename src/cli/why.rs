//! `ferry why PATH`: the rule or event that decided an item's state.

use std::path::Path;

use super::item_path;
use super::output::{emit, state_line};
use crate::protocol::Client;
use crate::protocol::why::Why;

pub(super) async fn why(client: &Client, path: &Path, json: bool) -> anyhow::Result<()> {
    let abs = item_path(path)?;
    let why = client.why(&abs).await?;
    emit(json, &why, print_why)
}

fn print_why(w: &Why) {
    out!("{} (in {}): {}", w.path, w.sync, w.verdict);
    if let Some(rule) = &w.excluded_by {
        out!("  excluded by: {rule}");
    }
    match &w.in_sync_as {
        Some(base) => out!(
            "  last in sync: {} bytes here, {} bytes on the remote",
            base.local_size,
            base.remote_size
        ),
        None => out!("  never synchronized"),
    }
    if let Some(state) = &w.state {
        out!("  synchronization: {}", state_line(state));
    }
    for c in &w.conflicts {
        out!(
            "  conflict since {}: copy {}",
            c.time,
            c.copy.as_deref().unwrap_or("-")
        );
    }
    if !w.log.is_empty() {
        out!("  history:");
        for l in &w.log {
            out!("    {} {} {}: {}", l.time, l.action, l.path, l.result);
        }
    }
}
