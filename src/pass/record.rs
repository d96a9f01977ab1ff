//! Recording a pass: each op's outcome goes to the journal (base changes,
//! log lines, conflicts, in one transaction per batch) and to the report.

use super::execute::{OpError, Outcome, now_ms};
use super::{Report, SyncError, SyncJob, blocking_err};
use crate::engine::Problem;
use crate::journal::LogRow;

pub(super) type Done =
    Result<(String, &'static str, Result<Outcome, OpError>), tokio::task::JoinError>;

pub(super) async fn record(
    job: &SyncJob,
    done: Vec<Done>,
    report: &mut Report,
) -> Result<(), SyncError> {
    let mut changes = Vec::new();
    let mut log = Vec::new();
    let mut conflicts = Vec::new();
    for d in done {
        let (path, action, result) = d.map_err(blocking_err)?;
        match result {
            Ok(o) => {
                changes.extend(o.changes);
                log.push(o.log);
                conflicts.extend(o.conflict);
            }
            Err(OpError::Changed(message)) => {
                log.push(LogRow {
                    time: now_ms(),
                    sync: job.name.clone(),
                    action: action.to_string(),
                    path: path.clone(),
                    bytes: 0,
                    result: format!("skipped: {message}"),
                });
                report.skipped.push(Problem {
                    path,
                    side: None,
                    message,
                });
            }
            Err(e @ (OpError::Failed(_) | OpError::Fatal(..))) => {
                let (message, fatal) = match e {
                    OpError::Fatal(m, kind) => {
                        report.stop_kind.get_or_insert(kind);
                        (m, true)
                    }
                    OpError::Failed(m) | OpError::Changed(m) => (m, false),
                };
                tracing::warn!(%path, action, %message, fatal, "op failed");
                log.push(LogRow {
                    time: now_ms(),
                    sync: job.name.clone(),
                    action: action.to_string(),
                    path: path.clone(),
                    bytes: 0,
                    result: format!("error: {message}"),
                });
                if fatal {
                    report.stopped.get_or_insert(message.clone());
                }
                report.errors.push(Problem {
                    path,
                    side: None,
                    message,
                });
            }
        }
    }
    let journal = job.journal.clone();
    tokio::task::spawn_blocking(move || {
        let mut j = journal
            .lock()
            .map_err(|e| SyncError::Internal(e.to_string()))?;
        j.record(&changes, &log, &conflicts)
            .map_err(SyncError::from)
    })
    .await
    .map_err(blocking_err)?
}
