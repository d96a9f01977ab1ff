//! The transfers page's data with a long history: a synchronization whose
//! journal holds 100,000 log lines, served by the real `ferry daemon
//! --headless`; times `GET /api/log` as the page asks for it (first page,
//! a later page, filtered by action, a search that finds a few lines, a
//! search that finds none) and prints a Markdown table. A benchmark, not a
//! test: `cargo bench --bench log_page` (`LOG_BENCH_ROWS=N` for another
//! size). Timing is `std::time::Instant`; nothing else is needed.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry::config::{Config, RemoteSpec, SyncConfig};
use ferry::journal::{Journal, LogRow};
use ferry::protocol::Client;
use ferry::protocol::history::LogQuery;

const RUNS: usize = 20;

fn main() {
    let rows: usize = std::env::var("LOG_BENCH_ROWS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::tempdir().expect("a temp folder");
    let (config, data) = (tmp.path().join("config"), tmp.path().join("data"));
    let (local, remote) = (tmp.path().join("local"), tmp.path().join("remote"));
    for d in [&config, &data, &local, &remote] {
        std::fs::create_dir_all(d).expect("a folder");
    }
    // The synchronization (disabled: no pass), in the configuration the
    // daemon reads.
    let mut cfg = Config::default();
    let mut sync = SyncConfig::new(
        "bench",
        local.clone(),
        RemoteSpec::Folder {
            path: remote.clone(),
        },
    );
    sync.id = "bench".into();
    sync.enabled = false;
    cfg.syncs.push(sync);
    cfg.save(&config).expect("config.json");
    let filled = Instant::now();
    fill_journal(&data.join("syncs/bench.db"), rows);
    eprintln!("{rows} log lines written in {:?}", filled.elapsed());

    let mut daemon = start(tmp.path(), &config, &data);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let client = Client::connect(&data).expect("the port file");
    let q = |action: Option<&str>, search: Option<&str>, offset: usize| LogQuery {
        sync: None,
        action: action.map(str::to_string),
        search: search.map(str::to_string),
        offset,
        limit: Some(100),
    };
    let cases = [
        ("first page (100 lines)", q(None, None, 0)),
        ("page 500 (offset 50,000)", q(None, None, 50_000)),
        ("filtered by action (delete)", q(Some("delete"), None, 0)),
        ("search that finds 10 lines", q(None, Some("report-07"), 0)),
        (
            "search that finds nothing",
            q(None, Some("no such name"), 0),
        ),
        (
            "search, a synchronization's name",
            q(None, Some("BENCH"), 0),
        ),
    ];
    println!("\n### Transfers page: `GET /api/log` over {rows} log lines\n");
    println!("| query | lines | median ms | max ms |");
    println!("|---|---:|---:|---:|");
    for (what, query) in &cases {
        let mut times = Vec::new();
        let mut lines = 0;
        for _ in 0..RUNS {
            let t = Instant::now();
            let page = rt.block_on(client.log(query)).expect("the log");
            times.push(t.elapsed());
            lines = page.len();
        }
        times.sort();
        println!(
            "| {what} | {lines} | {:.1} | {:.1} |",
            ms(times[RUNS / 2]),
            ms(times[RUNS - 1])
        );
    }
    println!();
    stop(&mut daemon);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `rows` lines, oldest first: uploads, downloads and a few deletions of
/// `folder-N/report-NN.txt` files; 10 lines name `report-07.txt`.
fn fill_journal(path: &Path, rows: usize) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("syncs/");
    let mut j = Journal::open(path).expect("the journal");
    let start = jiff::Timestamp::now().as_millisecond() - rows as i64 * 1000;
    let mut batch = Vec::new();
    for i in 0..rows {
        let action = match i % 10 {
            0 => "delete",
            1..=4 => "download",
            _ => "upload",
        };
        let name = if i % (rows / 10).max(1) == 0 {
            "report-07.txt".to_string()
        } else {
            format!("file-{i:06}.txt")
        };
        batch.push(LogRow {
            time: start + i as i64 * 1000,
            sync: "bench".into(),
            action: action.into(),
            path: format!("folder-{}/{name}", i % 100),
            bytes: (i % 5000) as u64,
            result: "ok".into(),
        });
        if batch.len() == 10_000 {
            j.record(&[], &batch, &[]).expect("a batch");
            batch.clear();
        }
    }
    j.record(&[], &batch, &[]).expect("the last batch");
}

fn start(home: &Path, config: &Path, data: &Path) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["daemon", "--headless"])
        .env("HOME", home)
        .env("FERRY_CONFIG_DIR", config)
        .env("FERRY_DATA_DIR", data)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry daemon");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !data.join("api.port").exists() {
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}
