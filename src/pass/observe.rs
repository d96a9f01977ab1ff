//! Observing both sides for a pass: what a side's scan or listing does
//! not show is asked for directly before the planner may act on its
//! absence, and the content hashes the planner needs are computed.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{Report, SyncError, SyncJob, blocking_err};
use crate::engine::{self, BaseTree, Entry, Problem, Settings, Side, Tree};
use crate::remote::RemoteError;

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
                                Answer::There(crate::fsops::entry_of(&m, kind))
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
