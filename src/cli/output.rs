//! How the commands print: one way to print a result as JSON (`--json`)
//! or for people, and the descriptions several commands share (a state, a
//! remote, a planned op).

use crate::config::RemoteSpec;
use crate::fsops::human_bytes;
use crate::protocol::report::{DeleteReason, PlannedOp, Side};
use crate::protocol::status::SyncState;

/// Print `value` as pretty JSON with `--json`, else as `human` says.
pub fn emit<T: serde::Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce(&T),
) -> anyhow::Result<()> {
    if json {
        print_json(value)
    } else {
        human(value);
        Ok(())
    }
}

/// Print `value` as pretty JSON.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Print `value` as JSON on one line (a stream of events).
pub fn print_json_line(value: &impl serde::Serialize) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// An op of a simulation, in one line.
pub fn describe_planned(op: &PlannedOp) -> String {
    match op {
        PlannedOp::Move { side, from, to, .. } => format!("move     {side}: {from} -> {to}"),
        PlannedOp::Delete {
            side, path, reason, ..
        } => {
            let reason = match reason {
                DeleteReason::DeletedOnOtherSide => " (deleted on the other side)",
                DeleteReason::Mirror => " (not on the source side of the mirror)",
                DeleteReason::KindChanged => {
                    " (replaced by another kind of item on the other side)"
                }
                DeleteReason::Deselected => " (its folder is deselected)",
            };
            format!("delete   {side}: {path} to the trash{reason}")
        }
        PlannedOp::MakeDir { side, path, .. } => format!("mkdir    {side}: {path}"),
        PlannedOp::Transfer { to, path, size, .. } => {
            let verb = if *to == Side::Remote {
                "upload  "
            } else {
                "download"
            };
            format!("{verb} {path} ({})", human_bytes(*size))
        }
        PlannedOp::Adopt { path } => format!("adopt    {path} (already equal)"),
        PlannedOp::Forget { path } => format!("forget   {path} (gone on both sides)"),
    }
}

/// A remote as the configuration names it: a folder, or `account:/path`.
pub fn describe_remote(r: &RemoteSpec) -> String {
    match r {
        RemoteSpec::Folder { path } => path.display().to_string(),
        RemoteSpec::WebDav { account, path } => format!("{account}:/{path}"),
    }
}

/// A synchronization's state in a few words.
pub fn state_line(state: &SyncState) -> String {
    let detail = match state {
        SyncState::Syncing(p) => {
            let total = p.files_total;
            if total == 0 {
                " (looking for changes)".to_string()
            } else {
                // Never "0 B of 0 B" (a pass that only moves or
                // deletes) nor more done than there is.
                let size = if p.bytes_total == 0 {
                    String::new()
                } else {
                    format!(
                        ", {} of {}",
                        human_bytes(p.bytes_done.min(p.bytes_total)),
                        human_bytes(p.bytes_total)
                    )
                };
                format!(
                    " ({}/{} items{size}{})",
                    p.files_done.min(total),
                    total,
                    p.eta_secs
                        .map(|e| format!(", about {e} s left"))
                        .unwrap_or_default()
                )
            }
        }
        SyncState::Offline {
            reason,
            retry_in_secs: 0,
        }
        | SyncState::Error {
            reason,
            retry_in_secs: 0,
        } => format!(": {reason} (retrying now)"),
        SyncState::Offline {
            reason,
            retry_in_secs,
        }
        | SyncState::Error {
            reason,
            retry_in_secs,
        } => format!(": {reason} (retrying in {retry_in_secs} s)"),
        SyncState::CredentialsRequired { reason } | SyncState::NeedsConfirmation { reason } => {
            format!(": {reason}")
        }
        SyncState::Paused { reason } => reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        SyncState::Starting | SyncState::Synced | SyncState::Disabled => String::new(),
    };
    format!("{}{detail}", state.name().replace('_', " "))
}
