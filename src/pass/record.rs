//! Recording a pass: the report's counts of a plan, each op's outcome in
//! the journal (base changes, log lines, conflicts, in one transaction per
//! batch) and in the report, and what the journal keeps at the end of a
//! pass (the rebuild note removed, what the remote learnt).
//!
//! The base changes themselves are the engine's rules
//! ([`crate::engine::base`]); an outcome reaches the journal only after the
//! op is durable.

use super::outcome::{OpError, Outcome, now_ms};
use super::{REMOTE_STATE, Report, SyncError, SyncJob, blocking_err};
use crate::engine::{Op, Problem, Side};
use crate::journal::{LogRow, REBUILT_NOTE};

/// Count the planned ops into the report: per action, bytes each way, and
/// what goes to a trash.
pub(super) fn count_plan(ops: &[Op], report: &mut Report) {
    for op in ops {
        *report.counts.entry(op.action()).or_default() += 1;
        match op {
            Op::Delete { contents, .. } => report.trashed += 1 + contents.len(),
            Op::Transfer { backup: true, .. } => report.trashed += 1,
            _ => {}
        }
        if let Op::Transfer { to, source, .. } = op {
            match to {
                Side::Remote => report.bytes_up += source.size,
                Side::Local => report.bytes_down += source.size,
            }
        }
    }
}

/// A rebuilding pass adopted both sides: back to normal passes.
pub(super) async fn end_rebuild(job: &SyncJob) -> Result<(), SyncError> {
    let journal = job.journal.clone();
    tokio::task::spawn_blocking(move || {
        let j = journal
            .lock()
            .map_err(|e| SyncError::Internal(e.to_string()))?;
        j.remove_meta(REBUILT_NOTE).map_err(SyncError::from)
    })
    .await
    .map_err(blocking_err)?
}

/// Keep what the remote learnt (server behaviour, listings' tags) when it
/// differs from what the journal had (`before`).
pub(super) async fn remote_state(job: &SyncJob, before: Option<&str>) -> Result<(), SyncError> {
    let Some(state) = job.remote.export_state() else {
        return Ok(());
    };
    if before == Some(state.as_str()) {
        return Ok(());
    }
    let journal = job.journal.clone();
    tokio::task::spawn_blocking(move || {
        let j = journal
            .lock()
            .map_err(|e| SyncError::Internal(e.to_string()))?;
        j.set_meta(REMOTE_STATE, &state).map_err(SyncError::from)
    })
    .await
    .map_err(blocking_err)?
}

pub(super) type Done =
    Result<(String, &'static str, Result<Outcome, OpError>), tokio::task::JoinError>;

/// The log line of an op that moved nothing (skipped or failed).
fn unfinished(job: &SyncJob, action: &str, path: &str, result: String) -> LogRow {
    LogRow {
        time: now_ms(),
        sync: job.name.clone(),
        action: action.to_string(),
        path: path.to_string(),
        bytes: 0,
        result,
    }
}

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
                log.push(unfinished(
                    job,
                    action,
                    &path,
                    format!("skipped: {message}"),
                ));
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
                log.push(unfinished(job, action, &path, format!("error: {message}")));
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

#[cfg(test)]
mod tests {
    use crate::engine::base::{self, BaseChange};
    use crate::engine::{BaseTree, Entry, Kind, Side};
    use crate::journal::Journal;

    /// The model tests apply the engine's base changes in memory; the
    /// journal must record them the same way, or those tests check
    /// something the real pass does not do.
    #[test]
    fn the_journal_records_base_changes_as_the_engine_applies_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(&dir.path().join("j.db")).unwrap();
        let f = |id: &str| Entry::file(4, 1_000).with_id(id);
        let d = |id: &str| Entry::dir().with_id(id);
        let mut steps: Vec<Vec<BaseChange>> = Vec::new();
        for (p, e) in [
            ("a", d("1")),
            ("a b", f("2")),
            ("a/x", f("3")),
            ("a/é/y", f("4")),
        ] {
            steps.push(base::after_transfer(Side::Local, p, &e, &e, [9; 32]));
        }
        steps.push(base::after_make_dir(Side::Remote, "c", &d("5"), &d("6")));
        steps.push(base::after_transfer(
            Side::Remote,
            "c/old",
            &f("7"),
            &f("8"),
            [1; 32],
        ));
        let planned = base::entry(Kind::Dir, &d("1"), &d("1"), None);
        // Onto "c": what was recorded there (and below) is forgotten.
        steps.push(base::after_move(
            Side::Local,
            "a",
            "c",
            false,
            Some(&planned),
            &d("1m"),
        ));
        steps.push(base::after_move(
            Side::Remote,
            "a b",
            "a b (copy)",
            true,
            None,
            &f("2"),
        ));
        steps.push(base::after_adopt("z", &f("10"), &f("11")));
        steps.push(base::after_delete("c/é"));
        steps.push(base::after_forget("nothing"));
        let mut expected = BaseTree::new();
        for changes in &steps {
            journal.record(changes, &[], &[]).unwrap();
            base::apply(&mut expected, changes);
            assert_eq!(journal.load_base().unwrap(), expected, "after {changes:?}");
        }
        let keys: Vec<&str> = expected.keys().map(String::as_str).collect();
        assert_eq!(keys, ["c", "c/x", "z"]);
    }
}
