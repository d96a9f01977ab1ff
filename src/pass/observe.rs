//! Observing both sides for a pass: what the journal remembers, the base,
//! the local scan and the remote listing (all at once); then what a side's
//! scan or listing does not show is asked for directly before the planner
//! may act on its absence, and the content hashes the planner needs are
//! computed.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{REMOTE_STATE, Report, SyncError, SyncJob, blocking_err};
use crate::engine::{self, BaseTree, Entry, Problem, Settings, Side, Tree};
use crate::fsops::Scan;
use crate::journal::REBUILT_NOTE;
use crate::remote::{Listing, RemoteError};

/// What the journal remembers besides the base.
pub(super) struct Memo {
    /// What the remote learnt last time (`Remote::export_state`).
    pub(super) remote_state: Option<String>,
    /// The note a rebuilt journal carries until a full pass adopts both
    /// sides.
    pub(super) rebuilt: Option<String>,
}

/// Read what the journal remembers (a small read, before the rest).
pub(super) async fn memo(job: &SyncJob) -> Result<Memo, SyncError> {
    let journal = job.journal.clone();
    let (remote_state, rebuilt) = tokio::task::spawn_blocking(move || {
        let j = journal
            .lock()
            .map_err(|e| SyncError::Internal(e.to_string()))?;
        Ok::<_, SyncError>((j.meta(REMOTE_STATE)?, j.meta(REBUILT_NOTE)?))
    })
    .await
    .map_err(blocking_err)??;
    Ok(Memo {
        remote_state,
        rebuilt,
    })
}

/// The base and both sides as observed (`None`: that side's root does not
/// exist).
pub(super) struct Seen {
    pub(super) base: BaseTree,
    /// Items in the whole base (a scoped pass loads only part of it; the
    /// guards' ratio is of all items).
    pub(super) base_total: usize,
    pub(super) scan: Option<Scan>,
    pub(super) listing: Option<Listing>,
}

/// Load the base, scan the local side and list the remote, all at once;
/// with `scope`, only those paths (and their parents and contents).
pub(super) async fn sides(
    job: &SyncJob,
    scope: Option<Arc<[String]>>,
    start: Instant,
) -> Result<Seen, SyncError> {
    let journal = job.journal.clone();
    let base_scope = scope.clone();
    let base_task = tokio::task::spawn_blocking(move || {
        let j = journal
            .lock()
            .map_err(|e| SyncError::Internal(e.to_string()))?;
        match base_scope {
            // The whole base's size too: the guards' ratio is of all items.
            Some(paths) => Ok((j.load_base_paths(&paths)?, j.base_len()?)),
            None => {
                let base = j.load_base()?;
                let n = base.len();
                Ok::<_, SyncError>((base, n))
            }
        }
    });
    let local = job.local.clone();
    let filter = job.filter.clone();
    let scan_scope = scope.clone();
    let scan_task = tokio::task::spawn_blocking(move || match scan_scope {
        Some(paths) => local.scan_paths(&paths, &filter),
        None => local.scan(&filter),
    });
    let listing = match &scope {
        Some(paths) => job.remote.list_paths(paths, &job.filter).await?,
        None => job.remote.list(&job.filter).await?,
    };
    tracing::debug!(ms = start.elapsed().as_millis(), "remote listed");
    let scan = scan_task.await.map_err(blocking_err)??;
    tracing::debug!(ms = start.elapsed().as_millis(), "local scanned");
    let (base, base_total) = base_task.await.map_err(blocking_err)??;
    Ok(Seen {
        base,
        base_total,
        scan,
        listing,
    })
}

/// Direct requests for the base items a side's observation does not show
/// (one per missing subtree, at most [`SyncJob::concurrency`] at once): an
/// item confirmed gone stays missing; one that is there after all, or whose
/// request failed, is put back as the base recorded it and reported, so
/// the planner neither deletes, moves nor re-transfers anything because of
/// it (see [`engine::absence`]). A request that says the server cannot be
/// reached or wants credentials stops the pass, as a failed listing would.
pub(super) async fn confirm_absences(
    job: &SyncJob,
    local: &mut Tree,
    remote: &mut Tree,
    base: &Arc<BaseTree>,
    report: &mut Report,
) -> Result<(), SyncError> {
    use engine::absence::{Answer, missing_tops, renamed_to, settle};
    use futures_util::StreamExt;
    let parallel = job.concurrency.max(1);
    let remote_tops = missing_tops(remote, base, &job.filter);
    if !remote_tops.is_empty() {
        tracing::debug!(
            items = remote_tops.len(),
            "missing from the listing: asking for each"
        );
        let answers: Vec<(String, Result<Option<Entry>, RemoteError>)> =
            futures_util::stream::iter(remote_tops.iter().cloned())
                .map(|path| async move {
                    let r = job.remote.stat(&path).await;
                    (path, r)
                })
                .buffer_unordered(parallel)
                .collect()
                .await;
        let mut settled = std::collections::HashMap::new();
        for (path, r) in answers {
            let answer = match r {
                Ok(None) => Answer::Gone,
                Ok(Some(e)) => Answer::There(e),
                Err(e) if e.stops_pass() => return Err(SyncError::Remote(e)),
                Err(e) => Answer::Failed(e.to_string()),
            };
            settled.insert(path, answer);
        }
        // An item the listing left out that the server still has: that
        // listing cannot be trusted to be whole (a `Depth: infinity` cut
        // off by depth or count, a reused listing gone stale).
        if settled.values().any(|a| matches!(a, Answer::There(_))) {
            if let Some(note) = job.remote.listing_fell_short() {
                tracing::warn!("{note}");
                report.problems.push(engine::Problem {
                    path: String::new(),
                    side: Some(Side::Remote),
                    message: note,
                });
            }
        }
        let unique = job.remote.capabilities().file_ids;
        // An id seen at a new path is a rename only if a direct request
        // finds it there too.
        for path in renamed_to(remote, &remote_tops, base, &settled, unique) {
            let answer = match job.remote.stat(&path).await {
                Ok(None) => Answer::Gone,
                Ok(Some(e)) => Answer::There(e),
                Err(e) if e.stops_pass() => return Err(SyncError::Remote(e)),
                Err(e) => Answer::Failed(e.to_string()),
            };
            settled.insert(path, answer);
        }
        let problems = settle(remote, base, Side::Remote, &remote_tops, &settled, unique);
        for p in &problems {
            tracing::warn!(path = %p.path, "{}", p.message);
        }
        report.problems.extend(problems);
    }
    let local_tops = missing_tops(local, base, &job.filter);
    if !local_tops.is_empty() {
        let folder = job.local.clone();
        let tops = local_tops.clone();
        let look = |tops: Vec<String>| {
            let folder = folder.clone();
            move || {
                tops.into_iter()
                    .map(|path| {
                        let abs = folder.abs(&path);
                        let answer = match std::fs::symlink_metadata(&abs) {
                            Ok(m) => {
                                let kind = if m.is_dir() {
                                    engine::Kind::Dir
                                } else {
                                    engine::Kind::File
                                };
                                Answer::There(crate::fsops::entry_of(&abs, &m, kind))
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::NotFound
                                        | std::io::ErrorKind::NotADirectory
                                ) =>
                            {
                                Answer::Gone
                            }
                            Err(e) => Answer::Failed(format!("{}: {e}", abs.display())),
                        };
                        (path, answer)
                    })
                    .collect::<std::collections::HashMap<_, _>>()
            }
        };
        let mut settled = tokio::task::spawn_blocking(look(tops))
            .await
            .map_err(blocking_err)?;
        // An inode seen at a new path is a rename only if a direct look
        // there finds it too.
        let renamed = renamed_to(local, &local_tops, base, &settled, true);
        if !renamed.is_empty() {
            settled.extend(
                tokio::task::spawn_blocking(look(renamed))
                    .await
                    .map_err(blocking_err)?,
            );
        }
        let problems = settle(local, base, Side::Local, &local_tops, &settled, true);
        for p in &problems {
            tracing::warn!(path = %p.path, "{}", p.message);
        }
        report.problems.extend(problems);
    }
    Ok(())
}

/// Fill in the content hashes the planner asked for.
pub(super) async fn hash_what_is_needed(
    job: &SyncJob,
    settings: &Settings,
    local: &mut Tree,
    remote: &mut Tree,
    base: &BaseTree,
    report: &mut Report,
) {
    let requests = engine::hash_requests(local, remote, base, settings);
    if requests.is_empty() {
        return;
    }
    let sem = Arc::new(Semaphore::new(job.concurrency.max(1)));
    let mut set = JoinSet::new();
    for (side, path) in requests {
        let tree = match side {
            Side::Local => &*local,
            Side::Remote => &*remote,
        };
        let Some(expect) = tree.get(&path).cloned() else {
            continue;
        };
        let sem = sem.clone();
        let folder = job.local.clone();
        let remote = job.remote.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let result = match side {
                Side::Local => {
                    let (p, e) = (path.clone(), expect.clone());
                    match tokio::task::spawn_blocking(move || folder.hash(&p, &e)).await {
                        Ok(r) => r.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                }
                Side::Remote => remote.hash(&path, &expect).await.map_err(|e| e.to_string()),
            };
            (side, path, result)
        });
    }
    while let Some(joined) = set.join_next().await {
        let Ok((side, path, result)) = joined else {
            continue;
        };
        match result {
            Ok(h) => {
                let tree = match side {
                    Side::Local => &mut *local,
                    Side::Remote => &mut *remote,
                };
                if let Some(e) = tree.get_mut(&path) {
                    e.hash = Some(h);
                }
            }
            Err(message) => report.problems.push(Problem {
                path,
                side: Some(side),
                message: format!("could not hash: {message}"),
            }),
        }
    }
}
