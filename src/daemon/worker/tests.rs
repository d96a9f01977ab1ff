//! The worker's loop under tokio's paused time: a real journal and a
//! folder remote in temp folders, the clock advanced by the runtime alone.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{Command, Spec, WorkerHandle, spawn_with};
use crate::config::SyncConfig;
use crate::daemon::shared::Shared;
use crate::protocol::status::{Event, SyncState};

fn config(dir: &Path, live: bool, schedule: Option<u64>) -> SyncConfig {
    let mut value = serde_json::json!({
        "id": "s1",
        "name": "test",
        "local": dir.join("local"),
        "remote": {"type": "folder", "path": dir.join("remote")},
        "live": live,
    });
    if let Some(s) = schedule {
        value["schedule_secs"] = s.into();
    }
    serde_json::from_value(value).unwrap()
}

async fn start(
    dir: &Path,
    cfg: SyncConfig,
    jitter: fn() -> f64,
) -> (WorkerHandle, broadcast::Receiver<Event>) {
    let (events, rx) = broadcast::channel(1024);
    let shared = Arc::new(Shared {
        data_dir: dir.join("data"),
        events,
        recent: Mutex::new(VecDeque::new()),
        secrets: Arc::new(crate::secrets::MemoryStore::new()),
        ca_file: None,
        timeout: Duration::from_secs(5),
        bandwidth: Default::default(),
    });
    let spec = Spec {
        config: cfg,
        account: None,
        create_root: false,
    };
    let handle = spawn_with(spec, shared, jitter).await.unwrap();
    (handle, rx)
}

/// The next pass that ends: when (paused time) and the state it left.
async fn next_pass(events: &mut broadcast::Receiver<Event>) -> (Instant, SyncState) {
    let mut syncing = false;
    loop {
        if let Event::State { sync } = events.recv().await.unwrap() {
            match sync.state {
                SyncState::Syncing(_) => syncing = true,
                state if syncing => return (Instant::now(), state),
                _ => {}
            }
        }
    }
}

/// The ends of the next `n` passes, as offsets from `since`.
async fn passes(
    events: &mut broadcast::Receiver<Event>,
    since: Instant,
    n: usize,
) -> Vec<(Duration, SyncState)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let (at, state) = next_pass(events).await;
        out.push((at - since, state));
    }
    out
}

/// `at` is `expected` give or take the few milliseconds a pass may take.
fn about(at: Duration, expected: Duration) -> bool {
    at >= expected && at < expected + Duration::from_millis(500)
}

fn one() -> f64 {
    1.0
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_synchronization_runs_at_start_and_then_every_schedule_secs() {
    let dir = tempfile::tempdir().unwrap();
    for d in ["local", "remote"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let t0 = Instant::now();
    let (_worker, mut events) = start(dir.path(), config(dir.path(), false, Some(60)), one).await;
    let got = passes(&mut events, t0, 3).await;
    for ((at, state), expected) in got.iter().zip([0, 60, 120]) {
        assert!(about(*at, Duration::from_secs(expected)), "{got:?}");
        assert_eq!(*state, SyncState::Synced);
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_pass_is_retried_after_a_backoff_that_doubles() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("remote")).unwrap();
    // The local folder is a file: every pass fails.
    std::fs::write(dir.path().join("local"), b"not a folder").unwrap();
    let t0 = Instant::now();
    let (worker, mut events) = start(dir.path(), config(dir.path(), false, None), one).await;
    // Not live, no schedule: the first pass comes from the user.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    worker.tx.send(Command::Run { reply: None }).unwrap();
    let got = passes(&mut events, t0, 4).await;
    let ends: Vec<Duration> = got.iter().map(|(at, _)| *at).collect();
    let hour = Duration::from_secs(3600);
    for (at, expected) in ends.iter().zip([0, 2, 6, 14]) {
        assert!(about(*at, hour + Duration::from_secs(expected)), "{ends:?}");
    }
    for ((_, state), retry) in got.iter().zip([2, 4, 8, 16]) {
        assert!(
            matches!(state, SyncState::Error { retry_in_secs, .. } if *retry_in_secs == retry),
            "{state:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_jitter_stretches_or_shrinks_the_backoff() {
    fn short() -> f64 {
        0.75
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("remote")).unwrap();
    std::fs::write(dir.path().join("local"), b"not a folder").unwrap();
    let t0 = Instant::now();
    let (worker, mut events) = start(dir.path(), config(dir.path(), false, None), short).await;
    worker.tx.send(Command::Run { reply: None }).unwrap();
    let ends: Vec<Duration> = passes(&mut events, t0, 3)
        .await
        .into_iter()
        .map(|(at, _)| at)
        .collect();
    for (at, expected) in ends.iter().zip([0, 1500, 4500]) {
        assert!(about(*at, Duration::from_millis(expected)), "{ends:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn sync_now_runs_at_once_during_a_backoff_and_pause_stops_the_retries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("remote")).unwrap();
    std::fs::write(dir.path().join("local"), b"not a folder").unwrap();
    let t0 = Instant::now();
    let (worker, mut events) = start(dir.path(), config(dir.path(), false, None), one).await;
    worker.tx.send(Command::Run { reply: None }).unwrap();
    passes(&mut events, t0, 2).await; // at 0 and 2 s; the next retry at 6 s
    tokio::time::sleep(Duration::from_secs(1)).await;
    worker.tx.send(Command::Run { reply: None }).unwrap();
    let got = passes(&mut events, t0, 1).await;
    assert!(about(got[0].0, Duration::from_secs(3)), "{got:?}");
    // Paused: no retry comes, however long it waits.
    worker.tx.send(Command::Pause).unwrap();
    let quiet = tokio::time::timeout(Duration::from_secs(3600), next_pass(&mut events)).await;
    assert!(quiet.is_err(), "a pass ran while paused: {quiet:?}");
}
