//! Executing a plan: ops in phases (moves in order, then deletions, new
//! folders and transfers with bounded concurrency, then base records), each
//! op's precondition checked by the side right before it acts, each outcome
//! handed to [`super::record`].

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::outcome::{OpError, Outcome, now_ms};
use super::record::record;
use super::{Progress, Report, StopKind, SyncError, SyncJob};
use crate::engine::{self, BaseChange, BaseTree, Entry, Filter, Op, Problem, Side};
use crate::fsops::{Folder, FsError};
use crate::journal::{ConflictRow, LogRow};
use crate::remote::{Remote, RemoteError};

struct Ctx {
    name: String,
    local: Arc<Folder>,
    remote: Arc<dyn Remote>,
    filter: Arc<Filter>,
    base: Arc<BaseTree>,
    policy: String,
}

pub(super) async fn execute(
    job: &SyncJob,
    ops: Vec<Op>,
    base: Arc<BaseTree>,
    report: &mut Report,
) -> Result<(), SyncError> {
    let ctx = Arc::new(Ctx {
        name: job.name.clone(),
        local: job.local.clone(),
        remote: job.remote.clone(),
        filter: job.filter.clone(),
        base,
        policy: serde_json::to_value(job.settings.conflict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
    });
    // Ops come in phases; moves must run in order, the rest of a phase may
    // run at once.
    let mut phase: Vec<Op> = Vec::new();
    let mut phase_key = 0;
    for op in ops {
        let key = match op {
            Op::Move { .. } => 0,
            Op::Delete { .. } => 1,
            Op::MakeDir { .. } => 2,
            Op::Transfer { .. } => 3,
            Op::Adopt { .. } | Op::Forget { .. } => 4,
        };
        if key != phase_key && !phase.is_empty() {
            run_phase(job, &ctx, std::mem::take(&mut phase), phase_key, report).await?;
        }
        phase_key = key;
        phase.push(op);
    }
    if !phase.is_empty() {
        run_phase(job, &ctx, phase, phase_key, report).await?;
    }
    Ok(())
}

async fn run_phase(
    job: &SyncJob,
    ctx: &Arc<Ctx>,
    ops: Vec<Op>,
    phase: u8,
    report: &mut Report,
) -> Result<(), SyncError> {
    // Moves and new folders depend on each other's order: one at a time.
    let parallel = if phase == 0 || phase == 2 {
        1
    } else {
        job.concurrency.max(1)
    };
    let sem = Arc::new(Semaphore::new(parallel));
    let mut set = JoinSet::new();
    let mut outcomes = Vec::new();
    for op in ops {
        if report.stopped.is_none() && job.hooks.stopping() {
            report.stopped = Some("stopped (paused or shutting down)".into());
            report.stop_kind = Some(StopKind::Stopped);
        }
        if let Some(reason) = &report.stopped {
            report.skipped.push(Problem {
                path: op.path().to_string(),
                side: None,
                message: format!("not done: {reason}"),
            });
            continue;
        }
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| SyncError::Internal(e.to_string()))?;
        let ctx = ctx.clone();
        let hooks = job.hooks.clone();
        set.spawn(async move {
            let _permit = permit;
            let path = op.path().to_string();
            let action = op.action();
            let bytes = match &op {
                Op::Transfer { source, .. } => source.size,
                _ => 0,
            };
            let result = run_op(&ctx, op).await;
            if hooks.progress.is_some() {
                let error = match &result {
                    Ok(_) => None,
                    Err(OpError::Changed(m) | OpError::Failed(m) | OpError::Fatal(m, _)) => {
                        Some(m.clone())
                    }
                };
                hooks.report(Progress::Done {
                    action,
                    path: path.clone(),
                    bytes,
                    error,
                });
            }
            (path, action, result)
        });
        // Collect what is done so far so memory stays flat.
        while let Some(done) = set.try_join_next() {
            if let Ok((_, _, Err(OpError::Fatal(m, kind)))) = &done {
                report.stopped.get_or_insert(m.clone());
                report.stop_kind.get_or_insert(*kind);
            }
            outcomes.push(done);
        }
        if outcomes.len() >= 512 {
            record(job, std::mem::take(&mut outcomes), report).await?;
        }
    }
    while let Some(done) = set.join_next().await {
        outcomes.push(done);
    }
    record(job, outcomes, report).await
}

async fn local_blocking<T: Send + 'static>(
    ctx: &Ctx,
    f: impl FnOnce(&Folder) -> Result<T, FsError> + Send + 'static,
) -> Result<T, OpError> {
    let folder = ctx.local.clone();
    tokio::task::spawn_blocking(move || f(&folder))
        .await
        .map_err(|e| OpError::Failed(e.to_string()))?
        .map_err(OpError::from)
}

/// Run one op: act on its side (the side checks the precondition right
/// before acting), then say what to record: the base changes
/// ([`engine::base`]), the log line, a conflict.
async fn run_op(ctx: &Ctx, op: Op) -> Result<Outcome, OpError> {
    let action = op.action();
    let Acted {
        changes,
        path,
        bytes,
        conflict,
    } = match op {
        Op::Move {
            side,
            from,
            to,
            expect,
            aside,
            ..
        } => move_item(ctx, side, from, to, expect, aside).await?,
        Op::Delete {
            side,
            path,
            expect,
            contents,
            ..
        } => delete(ctx, side, path, expect, contents).await?,
        Op::MakeDir {
            side, path, source, ..
        } => make_dir(ctx, side, path, source).await?,
        Op::Transfer {
            to,
            path,
            source,
            replace,
            backup,
            ..
        } => transfer(ctx, to, path, source, replace, backup).await?,
        Op::Adopt {
            path,
            local,
            remote,
        } => Acted::new(engine::base::after_adopt(&path, &local, &remote), path),
        Op::Forget { path } => Acted::new(engine::base::after_forget(&path), path),
    };
    Ok(Outcome {
        changes,
        log: LogRow {
            time: now_ms(),
            sync: ctx.name.clone(),
            action: action.to_string(),
            path,
            bytes,
            result: "ok".into(),
        },
        conflict,
    })
}

/// What an op did, for its outcome.
struct Acted {
    changes: Vec<BaseChange>,
    /// The path the log line names.
    path: String,
    /// Bytes transferred.
    bytes: u64,
    conflict: Option<ConflictRow>,
}

impl Acted {
    fn new(changes: Vec<BaseChange>, path: String) -> Acted {
        Acted {
            changes,
            path,
            bytes: 0,
            conflict: None,
        }
    }
}

/// `Op::Move`: rename on `side`; a move aside (a conflicted copy) is
/// recorded as a conflict kept both.
async fn move_item(
    ctx: &Ctx,
    side: Side,
    from: String,
    to: String,
    expect: Entry,
    aside: bool,
) -> Result<Acted, OpError> {
    let moved = match side {
        Side::Local => {
            let (f, t, e) = (from.clone(), to.clone(), expect.clone());
            local_blocking(ctx, move |l| l.rename(&f, &t, &e)).await?
        }
        Side::Remote => ctx.remote.rename(&from, &to, &expect).await?,
    };
    let changes = engine::base::after_move(side, &from, &to, aside, ctx.base.get(&from), &moved);
    let conflict = aside.then(|| ConflictRow {
        time: now_ms(),
        path: from.clone(),
        copy: Some(to.clone()),
        policy: "keep-both".into(),
    });
    Ok(Acted {
        conflict,
        ..Acted::new(changes, to)
    })
}

/// `Op::Delete`: to `side`'s trash, with everything planned inside.
async fn delete(
    ctx: &Ctx,
    side: Side,
    path: String,
    expect: Entry,
    contents: Vec<(String, Entry)>,
) -> Result<Acted, OpError> {
    match side {
        Side::Local => {
            let (p, f) = (path.clone(), ctx.filter.clone());
            local_blocking(ctx, move |l| l.delete(&p, &expect, &contents, &f)).await?
        }
        Side::Remote => {
            ctx.remote
                .delete(&path, &expect, &contents, &ctx.filter)
                .await?
        }
    }
    Ok(Acted::new(engine::base::after_delete(&path), path))
}

/// `Op::MakeDir`: a new folder on `side` for `source` on the other.
async fn make_dir(ctx: &Ctx, side: Side, path: String, source: Entry) -> Result<Acted, OpError> {
    let made = match side {
        Side::Local => {
            let p = path.clone();
            local_blocking(ctx, move |l| l.mkdir(&p)).await?
        }
        Side::Remote => ctx.remote.mkdir(&path).await?,
    };
    let changes = engine::base::after_make_dir(side, &path, &source, &made);
    Ok(Acted::new(changes, path))
}

/// `Op::Transfer`: copy `source` to side `to`, replacing `replace` (to a
/// trash first with `backup`, recorded as a conflict under the policy).
async fn transfer(
    ctx: &Ctx,
    to: Side,
    path: String,
    source: Entry,
    replace: Option<Entry>,
    backup: bool,
) -> Result<Acted, OpError> {
    let (written, hash) = match to {
        Side::Remote => {
            let src = ctx.local.abs(&path);
            ctx.remote
                .upload(&path, &src, &source, replace.as_ref(), backup)
                .await?
        }
        Side::Local => download(ctx, &path, &source, replace.as_ref(), backup).await?,
    };
    let conflict = backup.then(|| ConflictRow {
        time: now_ms(),
        path: path.clone(),
        copy: None,
        policy: ctx.policy.clone(),
    });
    let changes = engine::base::after_transfer(to, &path, &source, &written, hash);
    Ok(Acted {
        changes,
        path,
        bytes: source.size,
        conflict,
    })
}

/// Download `path` into its resumable temp and put it in place. A full
/// local disk first clears this synchronization's leftover temps and tries
/// again; if the file still does not fit, this item fails with how much
/// space it needs and where (its partial temp removed, so that the disk is
/// not kept full and other items can go on).
async fn download(
    ctx: &Ctx,
    path: &str,
    source: &Entry,
    replace: Option<&Entry>,
    backup: bool,
) -> Result<(Entry, engine::Hash), OpError> {
    let (p, v) = (path.to_string(), source.clone());
    let temp = local_blocking(ctx, move |l| {
        l.ensure_parent(&p)?;
        Ok(l.resumable_temp(&p, &v))
    })
    .await?;
    let _active = crate::fsops::ActiveTemp::new(&temp);
    let mut cleaned = false;
    let hash = loop {
        match ctx.remote.download(path, source, &temp).await {
            Ok(hash) => break hash,
            Err(e) if disk_full(&e) && !cleaned => {
                cleaned = true;
                let freed = local_blocking(ctx, |l| Ok(l.clean_temps())).await?;
                tracing::warn!(%path, freed, "the local disk is full: removed leftover temp files, trying again");
            }
            Err(e) if disk_full(&e) => {
                let _ = std::fs::remove_file(&temp);
                let (p, size) = (path.to_string(), source.size);
                let message =
                    local_blocking(ctx, move |l| Ok(l.no_space_message(&p, size))).await?;
                return Err(OpError::Failed(message));
            }
            Err(e) => {
                let e = OpError::from(e);
                // Keep a partial download for next time when the network
                // failed; drop it when the file changed (that version will
                // never complete).
                if let OpError::Changed(_) = &e {
                    let _ = std::fs::remove_file(&temp);
                }
                return Err(e);
            }
        }
    };
    let (p, t, r) = (path.to_string(), temp.clone(), replace.cloned());
    let result = local_blocking(ctx, move |l| l.commit(&p, &t, r.as_ref(), backup)).await;
    if let Err(OpError::Changed(_)) = &result {
        let _ = std::fs::remove_file(&temp);
    }
    Ok((result?, hash))
}

/// Whether a download failed because the local disk is full.
fn disk_full(e: &RemoteError) -> bool {
    match e {
        RemoteError::Fs(FsError::Io { source, .. }) => crate::fsops::is_disk_full(source),
        _ => false,
    }
}
