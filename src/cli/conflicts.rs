//! `ferry conflicts` and `ferry resolve`.

use std::path::Path;

use anyhow::{Context, bail};

use super::args::KeepArg;
use super::item_path;
use super::output::emit;
use crate::protocol::Client;
use crate::protocol::history::{Conflict, Keep, Resolve};

/// `ferry conflicts`: the open ones.
pub(super) async fn list(client: &Client, json: bool) -> anyhow::Result<()> {
    let rows = client.conflicts().await?;
    emit(json, &rows, |rows: &Vec<Conflict>| {
        if rows.is_empty() {
            out!("No conflicts.");
            return;
        }
        for c in rows {
            out!(
                "{}  {}: {}{}",
                c.time,
                c.sync,
                c.path,
                match &c.copy {
                    Some(copy) => format!("  (your version: {copy})"),
                    None => format!("  ({})", c.policy),
                }
            );
        }
        out!("Resolve one with `ferry resolve PATH --use local|remote|both`.");
    })
}

/// `ferry resolve PATH --use …`: PATH is the file or its conflicted copy.
pub(super) async fn resolve(client: &Client, path: &Path, keep: KeepArg) -> anyhow::Result<()> {
    let abs = item_path(path)?;
    let syncs = client.syncs().await?;
    let (sync, rel) = syncs
        .iter()
        .find_map(|s| {
            let rel = abs.strip_prefix(&s.config.local).ok()?;
            Some((s.config.name.clone(), rel.to_string_lossy().into_owned()))
        })
        .with_context(|| format!("{} is not in a synchronized folder", abs.display()))?;
    let conflicts = client.conflicts().await?;
    let Some(c) = conflicts
        .iter()
        .find(|c| c.sync == sync && (c.path == rel || c.copy.as_deref() == Some(&rel)))
    else {
        bail!(
            "no open conflict on {} (see `ferry conflicts`)",
            abs.display()
        );
    };
    let keep = match keep {
        KeepArg::Local => Keep::Local,
        KeepArg::Remote => Keep::Remote,
        KeepArg::Both => Keep::Both,
    };
    client
        .resolve(&Resolve {
            sync,
            id: c.id,
            keep,
        })
        .await?;
    out!(
        "Resolved {}: {}.",
        c.path,
        match keep {
            Keep::Local => "your version replaces it (the other went to the trash)",
            Keep::Remote => "the other version stays (your copy went to the trash)",
            Keep::Both => "both files are kept",
        }
    );
    Ok(())
}
