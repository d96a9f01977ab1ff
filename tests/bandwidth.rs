//! Bandwidth limits through the real `ferry daemon --headless` against real
//! WebDAV servers (nginx and Apache on loopback): an upload and a download
//! go no faster than the limit set, the global limit is shared by two
//! synchronizations, a limit changed while a slow transfer is in flight
//! applies to it (the transfer neither restarted nor cut), and bad values
//! are refused by the API and the CLI with a sentence that says why.
//!
//! Only lower bounds on time are asserted ("no faster than the limit");
//! the one upper bound is a generous one (a transfer the old limit held to
//! ten minutes or more finishes within a minute of the limit's removal).

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/dav.rs"]
mod dav;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use daemon::{TestDaemon, write};
use dav::{DavKind, DavServer};
use serde_json::json;

/// The most a limit lets through at once: a tenth of a second's worth.
fn burst_kib(limit_kib: u64) -> u64 {
    (limit_kib / 10).clamp(1, 1024)
}

/// The least time `size_kib` can take at `limit_kib` KiB/s.
fn floor(size_kib: u64, limit_kib: u64) -> Duration {
    Duration::from_secs_f64((size_kib - burst_kib(limit_kib)) as f64 / limit_kib as f64)
}

fn content(kib: usize, seed: u8) -> Vec<u8> {
    (0..kib * 1024)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect::<Vec<u8>>()
}

/// An account on `server` and the synchronizations `names`, each of
/// `NAME-local` with the server folder `NAME/`, polled every second; the
/// daemon started. Their local folders.
fn setup(server: &DavServer, names: &[&str]) -> (TestDaemon, Vec<PathBuf>) {
    let mut d = TestDaemon::new();
    d.start();
    d.add_account(&server.parent_url(), "pw");
    let mut locals = Vec::new();
    for name in names {
        server.mkdir(name);
        let local = d.path(&format!("{name}-local"));
        let remote = format!("{}{name}/", server.url());
        d.ferry_ok(&[
            "add",
            name,
            &local.display().to_string(),
            &remote,
            "--poll",
            "1",
        ]);
        d.wait_state(name, "synced");
        locals.push(local);
    }
    (d, locals)
}

/// The requests of `method` the server saw in the synchronization
/// folder `folder` (its upload temps included), the write probe's left
/// out.
fn requests_in(server: &DavServer, method: &str, folder: &str) -> usize {
    let inside = format!("/dav/sync/{folder}/");
    server
        .requests()
        .iter()
        .filter(|r| r.0 == method && r.1.starts_with(&inside) && !r.1.contains(".ferry-probe-"))
        .count()
}

#[test]
fn an_upload_goes_no_faster_than_its_synchronizations_upload_limit() {
    let server = DavServer::start(DavKind::Apache);
    let (d, locals) = setup(&server, &["up"]);
    let out = d.ferry_ok(&["limit", "--sync", "up", "--up", "256"]);
    assert!(out.contains("upload 256 KiB/s, download no limit"), "{out}");
    let data = content(1536, 1);
    let start = Instant::now();
    write(&locals[0].join("big.bin"), &data);
    d.wait_until("big.bin on the server", || {
        server.read("up/big.bin").as_deref() == Some(&data[..])
    });
    let took = start.elapsed();
    assert!(took >= floor(1536, 256), "1.5 MiB at 256 KiB/s in {took:?}");
}

#[test]
fn a_download_goes_no_faster_than_the_global_download_limit() {
    let server = DavServer::start(DavKind::Nginx);
    let (d, locals) = setup(&server, &["down"]);
    let out = d.ferry_ok(&["limit", "--down", "256"]);
    assert!(
        out.contains("global limits: upload no limit, download 256 KiB/s"),
        "{out}"
    );
    let data = content(1536, 2);
    let start = Instant::now();
    server.write("down/big.bin", &data);
    let local = locals[0].join("big.bin");
    d.wait_until("big.bin locally", || {
        std::fs::read(&local).is_ok_and(|c| c == data)
    });
    let took = start.elapsed();
    assert!(took >= floor(1536, 256), "1.5 MiB at 256 KiB/s in {took:?}");
}

#[test]
fn the_global_upload_limit_is_shared_by_two_synchronizations() {
    let server = DavServer::start(DavKind::Nginx);
    let (d, locals) = setup(&server, &["one", "two"]);
    d.api_ok(
        "PATCH",
        "/api/settings",
        Some(&json!({"bandwidth": {"upload_kib_per_sec": 256}})),
    );
    // 768 KiB each: alone at 256 KiB/s each would take 3 s; together
    // through one 256 KiB/s limit, 6 s.
    let (a, b) = (content(768, 3), content(768, 4));
    let start = Instant::now();
    write(&locals[0].join("a.bin"), &a);
    write(&locals[1].join("b.bin"), &b);
    d.wait_until("both files on the server", || {
        server.read("one/a.bin").as_deref() == Some(&a[..])
            && server.read("two/b.bin").as_deref() == Some(&b[..])
    });
    let took = start.elapsed();
    assert!(
        took >= floor(1536, 256),
        "2 × 768 KiB at 256 KiB/s in {took:?}"
    );
}

#[test]
fn a_download_limit_removed_in_flight_lets_the_download_finish_without_starting_over() {
    let server = DavServer::start(DavKind::Nginx);
    let (d, locals) = setup(&server, &["slow"]);
    // 2.4 MiB at 4 KiB/s: over ten minutes.
    d.ferry_ok(&["limit", "--down", "4"]);
    let data = content(2458, 5);
    server.write("slow/big.bin", &data);
    let local = locals[0].join("big.bin");
    // In flight: its temp is made (the GET goes out right after) and the
    // first bytes are held back by the limit. They are written only once
    // ~1 MiB has come, so the temp's size says nothing yet.
    d.wait_until("the download under way", || {
        std::fs::read_dir(&locals[0])
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".ferry-dl-"))
    });
    // Long enough for the limit to hold one received chunk back longer
    // than the daemon's timeout (5 s; the chunks grow 8, 16, 32 KiB…, 2 s
    // each at first): time spent pacing is not the network standing still
    // (regression: the read timeout cut the GET, which started again with
    // a range).
    std::thread::sleep(Duration::from_secs(15));
    assert!(!local.exists());
    let out = d.ferry_ok(&["limit", "--down", "off"]);
    assert!(out.contains("download no limit"), "{out}");
    let lifted = Instant::now();
    d.wait_until("big.bin locally", || {
        std::fs::read(&local).is_ok_and(|c| c == data)
    });
    assert!(
        lifted.elapsed() < Duration::from_secs(60),
        "{:?}",
        lifted.elapsed()
    );
    assert_eq!(
        requests_in(&server, "GET", "slow"),
        1,
        "one GET, not restarted: {:?}",
        server.requests()
    );
}

#[test]
fn an_upload_limit_raised_in_flight_lets_the_upload_finish_without_starting_over() {
    let server = DavServer::start(DavKind::Nginx);
    let (d, locals) = setup(&server, &["slowup"]);
    // 2.4 MiB at 4 KiB/s: over ten minutes.
    d.ferry_ok(&["limit", "--sync", "slowup", "--up", "4"]);
    let data = content(2458, 6);
    write(&locals[0].join("big.bin"), &data);
    // Give it time to start and send a few KiB.
    std::thread::sleep(Duration::from_secs(5));
    assert!(server.read("slowup/big.bin").is_none());
    // Raised through the API, as the preferences do.
    d.api_ok(
        "PATCH",
        "/api/syncs/slowup",
        Some(&json!({"bandwidth": {"upload_kib_per_sec": 100000}})),
    );
    let raised = Instant::now();
    d.wait_until("big.bin on the server", || {
        server.read("slowup/big.bin").as_deref() == Some(&data[..])
    });
    assert!(
        raised.elapsed() < Duration::from_secs(60),
        "{:?}",
        raised.elapsed()
    );
    assert_eq!(
        requests_in(&server, "PUT", "slowup"),
        1,
        "one PUT, not restarted"
    );
}

#[test]
fn bad_limits_are_refused_by_the_api_and_the_cli_saying_why() {
    let server = DavServer::start(DavKind::Nginx);
    let (d, _) = setup(&server, &["bad"]);
    for (value, says) in [
        (json!(0), "at least 1 KiB/s"),
        (json!(-5), "at least 1 KiB/s, not -5"),
        (json!("fast"), "not the text \"fast\""),
        (json!(2.5), "whole number"),
        (json!(99_999_999_999u64), "more than the 4000000 KiB/s"),
    ] {
        for path in ["/api/settings", "/api/syncs/bad"] {
            let (status, body) = d.api(
                "PATCH",
                path,
                Some(&json!({"bandwidth": {"upload_kib_per_sec": value}})),
            );
            assert_eq!(status, 400, "{path} {value}: {body}");
            let error = body["error"].as_str().unwrap();
            assert!(error.contains(says), "{path} {value}: {error}");
        }
    }
    for (typed, says) in [
        ("0", "at least 1 KiB/s"),
        ("-5", "at least 1 KiB/s, not -5"),
        ("fast", "is not a bandwidth limit"),
        ("99999999999", "more than the 4000000 KiB/s"),
    ] {
        for sync in [None, Some("bad")] {
            let mut args = vec!["limit"];
            args.extend(sync.map(|s| ["--sync", s]).iter().flatten());
            args.extend(["--down", typed]);
            let out = d.ferry(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
    // Nothing was changed by the refusals.
    let s = d.api_ok("GET", "/api/settings", None);
    assert_eq!(s["bandwidth"], json!({}));
    let sync = d.api_ok("GET", "/api/syncs/bad", None);
    assert_eq!(sync["config"]["bandwidth"], json!({}));
}
