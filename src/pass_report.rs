//! A pass's results in the protocol's terms: [`crate::pass::Report`] and
//! the engine's ops and problems turned into [`crate::protocol::report`]
//! and [`crate::protocol::status::PassSummary`]. The one place that knows
//! both sides, so that `protocol` imports neither the engine nor the pass
//! (used by the daemon and by `ferry sync`).

use crate::engine;
use crate::pass::Report;
use crate::protocol::report::{DeleteReason, PassReport, PlannedOp, Problem, Side, StopKind};
use crate::protocol::status::PassSummary;

/// How many problems and errors a [`PassSummary`] lists.
const LISTED: usize = 100;

/// The protocol's side.
pub fn side(s: engine::Side) -> Side {
    match s {
        engine::Side::Local => Side::Local,
        engine::Side::Remote => Side::Remote,
    }
}

/// The protocol's problem.
pub fn problem(p: &engine::Problem) -> Problem {
    Problem {
        path: p.path.clone(),
        side: p.side.map(side),
        message: p.message.clone(),
    }
}

fn delete_reason(r: engine::DeleteReason) -> DeleteReason {
    match r {
        engine::DeleteReason::DeletedOnOtherSide => DeleteReason::DeletedOnOtherSide,
        engine::DeleteReason::Mirror => DeleteReason::Mirror,
        engine::DeleteReason::KindChanged => DeleteReason::KindChanged,
        engine::DeleteReason::Deselected => DeleteReason::Deselected,
    }
}

/// The protocol's view of a planned op (what it carries to re-check the
/// item stays in the engine).
pub fn op(op: &engine::Op) -> PlannedOp {
    match op {
        engine::Op::Move {
            side: s,
            from,
            to,
            aside,
            why,
            ..
        } => PlannedOp::Move {
            side: side(*s),
            from: from.clone(),
            to: to.clone(),
            aside: *aside,
            why: why.to_string(),
        },
        engine::Op::Delete {
            side: s,
            path,
            contents,
            reason,
            ..
        } => PlannedOp::Delete {
            side: side(*s),
            path: path.clone(),
            reason: delete_reason(*reason),
            items: contents.len(),
        },
        engine::Op::MakeDir {
            side: s, path, why, ..
        } => PlannedOp::MakeDir {
            side: side(*s),
            path: path.clone(),
            why: why.to_string(),
        },
        engine::Op::Transfer {
            to,
            path,
            source,
            backup,
            why,
            ..
        } => PlannedOp::Transfer {
            to: side(*to),
            path: path.clone(),
            size: source.size,
            backup: *backup,
            why: why.to_string(),
        },
        engine::Op::Adopt { path, .. } => PlannedOp::Adopt { path: path.clone() },
        engine::Op::Forget { path } => PlannedOp::Forget { path: path.clone() },
    }
}

/// Why a pass stopped, in the protocol's words.
pub fn stop_kind(k: crate::pass::StopKind) -> StopKind {
    match k {
        crate::pass::StopKind::Credentials => StopKind::Credentials,
        crate::pass::StopKind::Offline => StopKind::Offline,
        crate::pass::StopKind::NoSpace => StopKind::NoSpace,
        crate::pass::StopKind::Stopped => StopKind::Stopped,
    }
}

/// The whole report of a pass.
pub fn report(r: &Report) -> PassReport {
    PassReport {
        dry_run: r.dry_run,
        counts: r.counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        bytes_up: r.bytes_up,
        bytes_down: r.bytes_down,
        deletions: r.deletions,
        trashed: r.trashed,
        ops: r.ops.iter().map(op).collect(),
        problems: r.problems.iter().map(problem).collect(),
        skipped: r.skipped.iter().map(problem).collect(),
        errors: r.errors.iter().map(problem).collect(),
        stopped: r.stopped.clone(),
        needs_confirmation: r.needs_confirmation.clone(),
        stop_kind: r.stop_kind.map(stop_kind),
        created: r.created.clone(),
        elapsed_ms: u64::try_from(r.elapsed_ms).unwrap_or(u64::MAX),
    }
}

impl PassSummary {
    /// The summary of a finished pass, as the daemon keeps and serves it.
    pub fn of(report: &Report) -> PassSummary {
        PassSummary {
            finished_at: jiff::Timestamp::now().to_string(),
            elapsed_ms: u64::try_from(report.elapsed_ms).unwrap_or(u64::MAX),
            dry_run: report.dry_run,
            counts: report
                .counts
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            bytes_up: report.bytes_up,
            bytes_down: report.bytes_down,
            problems: report.problems.iter().take(LISTED).map(problem).collect(),
            errors: report.errors.iter().take(LISTED).map(problem).collect(),
            skipped: report.skipped.len(),
            trashed: report.trashed,
            stopped: report.stopped.clone(),
            stop_kind: report.stop_kind.map(|k| {
                match k {
                    crate::pass::StopKind::Credentials => "credentials_required",
                    crate::pass::StopKind::Offline => "offline",
                    crate::pass::StopKind::NoSpace => "no_space",
                    crate::pass::StopKind::Stopped => "stopped",
                }
                .to_string()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protocol's report reads like the engine's did: the same names
    /// for the same things (`ferry sync --json` and the API did not change).
    #[test]
    fn the_protocols_report_serialises_as_the_pass_report_did() {
        let entry = engine::Entry {
            size: 5,
            ..Default::default()
        };
        let r = Report {
            ops: vec![
                engine::Op::Transfer {
                    to: engine::Side::Remote,
                    path: "a".into(),
                    source: entry.clone(),
                    replace: None,
                    backup: false,
                    why: "new",
                },
                engine::Op::Forget { path: "b".into() },
            ],
            problems: vec![engine::Problem {
                path: "c".into(),
                side: Some(engine::Side::Local),
                message: "m".into(),
            }],
            stop_kind: Some(crate::pass::StopKind::NoSpace),
            elapsed_ms: 3,
            ..Report::default()
        };
        let engine_json = serde_json::to_value(&r).unwrap();
        let protocol_json = serde_json::to_value(report(&r)).unwrap();
        assert_eq!(engine_json, protocol_json);
    }
}
