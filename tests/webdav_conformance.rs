//! The WebDAV conformance suite: the same scenarios, end to end through the
//! real `ferry sync` binary, against every real server the harness starts
//! (Apache mod_dav, nginx dav + dav_ext, rclone, wsgidav, dav-server), each
//! on 127.0.0.1 with a free port.

// Unix only: real servers, inodes, permissions and symlinks (the Windows
// lint in scripts/test.sh skips this file).
#![cfg(unix)]

#[path = "common/cli.rs"]
mod cli;
#[path = "common/dav.rs"]
mod dav;
#[path = "common/proxy.rs"]
mod proxy;

use std::fs;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use cli::{Env, show, snapshot, write};
use dav::{DavKind, DavServer};

fn count(server: &DavServer, method: &str) -> usize {
    server.requests().iter().filter(|r| r.0 == method).count()
}

fn first_sync_merges_both_sides(kind: DavKind) {
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    write(&env.local().join("docs/report.txt"), b"local report");
    write(&env.local().join("top.txt"), b"top");
    server.write("photos/cat.jpg", b"meow");
    server.write("readme.md", b"from the server");
    env.sync_quiet();
    assert_eq!(snapshot(&env.local()), snapshot(server.root()));
}

fn a_missing_server_folder_is_created_on_the_first_sync(kind: DavKind) {
    let server = DavServer::start(kind);
    let env = Env::new(format!("{}new folder/and more/", server.url()));
    write(&env.local().join("a.txt"), b"a");
    // Creating the server folder is the user's explicit choice (a typo must
    // not become a folder): `--create` on the first pass.
    env.sync(&["--create"]);
    env.sync_quiet();
    assert_eq!(server.read("new folder/and more/a.txt").unwrap(), b"a");
}

fn edits_deletes_and_conflicts(kind: DavKind) {
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    for name in ["a.txt", "b.txt", "c.txt", "d.txt", "conflict.txt"] {
        write(&env.local().join(name), format!("{name} v1").as_bytes());
    }
    env.sync_quiet();
    // Make sure the next edits get new mtimes on servers with 1 s resolution.
    std::thread::sleep(Duration::from_millis(1100));
    write(&env.local().join("a.txt"), b"a edited locally");
    server.write("b.txt", b"b edited on the server");
    fs::remove_file(env.local().join("c.txt")).unwrap();
    server.remove("d.txt");
    write(&env.local().join("conflict.txt"), b"local side");
    server.write("conflict.txt", b"server side!");
    env.sync(&[]);
    env.sync_quiet();
    let local = snapshot(&env.local());
    assert_eq!(local, snapshot(server.root()));
    assert_eq!(local["a.txt"].as_deref(), Some(&b"a edited locally"[..]));
    assert_eq!(
        local["b.txt"].as_deref(),
        Some(&b"b edited on the server"[..])
    );
    assert!(!local.contains_key("c.txt") && !local.contains_key("d.txt"));
    assert_eq!(local["conflict.txt"].as_deref(), Some(&b"server side!"[..]));
    let copies: Vec<_> = local
        .iter()
        .filter(|(k, _)| k.starts_with("conflict (conflicted copy "))
        .collect();
    assert_eq!(copies.len(), 1, "{:?}", local.keys());
    assert_eq!(copies[0].1.as_deref(), Some(&b"local side"[..]));
    // The remote deletion of c.txt went to the server-side trash.
    let trash = server.root().join(".ferry-trash");
    let trashed = snapshot(&trash);
    assert!(
        trashed
            .iter()
            .any(|(k, v)| k.ends_with("c.txt") && v.as_deref() == Some(&b"c.txt v1"[..])),
        "{trashed:?}"
    );
}

fn many_deletions_in_parallel_all_reach_the_trash(kind: DavKind) {
    // Deletions run in parallel and each one moves its file into the same
    // `.ferry-trash/<time>/<folder>/`: the folders must be made once, not
    // raced (Apache answers the losing MKCOL with 403), parents first, so
    // that no MKCOL meets a missing parent and none is looked for.
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    for d in 0..5 {
        for f in 0..20 {
            write(
                &env.local().join(format!("d{d}/sub/f{f}.txt")),
                format!("{d}/{f}").as_bytes(),
            );
        }
    }
    env.sync_quiet();
    for d in 0..5 {
        for f in (0..20).step_by(3) {
            fs::remove_file(env.local().join(format!("d{d}/sub/f{f}.txt"))).unwrap();
        }
    }
    let before = server.requests().len();
    let report = env.sync(&[]);
    assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["counts"]["delete"], 35, "{report:#}");
    let requests = server.requests();
    let mkcols: Vec<_> = requests[before..]
        .iter()
        .filter(|r| r.0 == "MKCOL")
        .collect();
    env.sync_quiet();
    assert_eq!(snapshot(&env.local()), snapshot(server.root()));
    let trashed = snapshot(&server.root().join(".ferry-trash"));
    let files = trashed.values().filter(|v| v.is_some()).count();
    assert_eq!(files, 35, "{:?}", trashed.keys());
    // `.ferry-trash` itself and every folder in it, each made once.
    let folders = 1 + trashed.values().filter(|v| v.is_none()).count();
    assert!(
        mkcols.len() == folders && mkcols.iter().all(|r| r.2 == 201),
        "{kind:?}: {folders} trash folders, MKCOLs {mkcols:?}"
    );
}

fn odd_names_round_trip(kind: DavKind) {
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    let names = [
        "with space.txt",
        "hash#tag.txt",
        "percent 50%.txt",
        "plus+sign.txt",
        "amp&ersand.txt",
        "ünïcödé.txt",
        "日本語.txt",
        "emoji 🎉.txt",
        "semi;colon,comma.txt",
        "quote's [b] (p) {c}.txt",
        "folder with space/inner #1.txt",
    ];
    for n in &names[..6] {
        write(&env.local().join(n), n.as_bytes());
    }
    for n in &names[6..] {
        server.write(n, n.as_bytes());
    }
    env.sync_quiet();
    let local = snapshot(&env.local());
    assert_eq!(local, snapshot(server.root()));
    for n in names {
        assert_eq!(local[n].as_deref(), Some(n.as_bytes()), "{n}");
    }
}

/// Peak resident memory (VmHWM) of a child while it runs, in KiB.
fn run_measuring_peak(mut cmd: Command) -> (Output, u64) {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let p2 = peak.clone();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let d2 = done.clone();
    let watcher = std::thread::spawn(move || {
        while !d2.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(s) = fs::read_to_string(format!("/proc/{pid}/status")) {
                for line in s.lines() {
                    if let Some(v) = line.strip_prefix("VmHWM:") {
                        let kib: u64 = v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0);
                        p2.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    (out, peak.load(std::sync::atomic::Ordering::Relaxed))
}

fn big(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

fn empty_and_200_mib_files_with_flat_memory(kind: DavKind) {
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    let size = 200 * 1024 * 1024;
    let up = big(size, 1);
    write(&env.local().join("empty.txt"), b"");
    write(&env.local().join("big-up.bin"), &up);
    server.write("empty-remote.txt", b"");
    let (out, peak_up) = run_measuring_peak(env.cmd(&[]));
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        server.read("big-up.bin").unwrap(),
        up,
        "uploaded content differs"
    );
    drop(up);
    let down = big(size, 2);
    server.write("big-down.bin", &down);
    let (out, peak_down) = run_measuring_peak(env.cmd(&[]));
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        fs::read(env.local().join("big-down.bin")).unwrap() == down,
        "downloaded content differs"
    );
    assert_eq!(fs::read(env.local().join("empty-remote.txt")).unwrap(), b"");
    assert_eq!(server.read("empty.txt").unwrap(), b"");
    eprintln!("{kind:?}: peak RSS upload {peak_up} KiB, download {peak_down} KiB");
    assert!(peak_up > 0 && peak_down > 0, "could not measure memory");
    assert!(peak_up < 80 * 1024, "upload of 200 MiB used {peak_up} KiB");
    assert!(
        peak_down < 80 * 1024,
        "download of 200 MiB used {peak_down} KiB"
    );
}

fn a_folder_rename_is_one_move(kind: DavKind) {
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    for i in 0..60 {
        write(
            &env.local().join(format!("project/sub{}/f{i}.txt", i % 3)),
            format!("file {i}").as_bytes(),
        );
    }
    env.sync_quiet();
    let puts_before = count(&server, "PUT");
    let moves_before = count(&server, "MOVE");
    fs::rename(
        env.local().join("project"),
        env.local().join("project renamed"),
    )
    .unwrap();
    let report = env.sync(&[]);
    assert_eq!(
        report["counts"],
        serde_json::json!({"move": 1}),
        "{report:#}"
    );
    assert_eq!(
        count(&server, "PUT") - puts_before,
        0,
        "content was re-sent"
    );
    assert_eq!(count(&server, "MOVE") - moves_before, 1);
    env.sync_quiet();
    assert_eq!(snapshot(&env.local()), snapshot(server.root()));
    assert!(server.root().join("project renamed/sub1/f1.txt").exists());
}

fn guards_stop_mass_deletes_and_a_missing_root(kind: DavKind) {
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    for i in 0..10 {
        write(&env.local().join(format!("f{i}.txt")), b"x");
    }
    env.sync_quiet();
    for i in 0..8 {
        server.remove(&format!("f{i}.txt"));
    }
    let out = env.cmd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert_eq!(
        snapshot(&env.local()).len(),
        10,
        "the guard must not delete"
    );
    // The whole server folder disappears.
    for i in 8..10 {
        server.remove(&format!("f{i}.txt"));
    }
    fs::remove_dir_all(server.root()).unwrap();
    let out = env.cmd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not exist"),
        "{}",
        show(&out)
    );
    assert_eq!(snapshot(&env.local()).len(), 10);
}

fn a_remote_change_during_an_upload_is_not_clobbered(kind: DavKind) {
    let server = Arc::new(DavServer::start(kind));
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let env = Env::new(proxy.url_for(&server.url()));
    write(&env.local().join("shared.txt"), b"v1");
    env.sync_quiet();
    std::thread::sleep(Duration::from_millis(1100));
    write(&env.local().join("shared.txt"), b"v2 from this computer");
    // While Ferry uploads, someone saves another version on the server.
    let s2 = server.clone();
    proxy.add(
        "PUT",
        ".ferry-up-",
        1,
        proxy::Fault::After(Arc::new(move || {
            s2.write("shared.txt", b"v2 from someone else")
        })),
    );
    let report = env.sync(&[]);
    assert_eq!(
        report["skipped"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert_eq!(server.read("shared.txt").unwrap(), b"v2 from someone else");
    // The next pass sees a conflict and keeps both.
    env.sync(&[]);
    env.sync_quiet();
    let local = snapshot(&env.local());
    assert_eq!(local, snapshot(server.root()));
    let contents: Vec<&[u8]> = local.values().flatten().map(Vec::as_slice).collect();
    assert!(contents.contains(&&b"v2 from someone else"[..]));
    assert!(contents.contains(&&b"v2 from this computer"[..]));
}

/// The same for a new file: someone saves a file of the same name on the
/// server while Ferry uploads its own. Neither the publishing MOVE (the
/// server refuses, `Overwrite: F`) nor a PUT straight to the name (the
/// server refuses, `If-None-Match: *`) may replace it.
fn a_file_created_on_the_server_during_the_upload_of_a_new_one_is_not_clobbered(kind: DavKind) {
    let server = Arc::new(DavServer::start(kind));
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let env = Env::new(proxy.url_for(&server.url()));
    write(&env.local().join("first.txt"), b"first");
    env.sync_quiet();
    write(&env.local().join("new.txt"), b"new from this computer");
    let s2 = server.clone();
    let s3 = server.clone();
    // Whichever way it goes: after the PUT to a temp, or right before the
    // PUT to the name.
    proxy.add(
        "PUT",
        ".ferry-up-",
        1,
        proxy::Fault::After(Arc::new(move || {
            s2.write("new.txt", b"new from someone else!")
        })),
    );
    proxy.add(
        "PUT",
        "/new.txt",
        1,
        proxy::Fault::Before(Arc::new(move || {
            s3.write("new.txt", b"new from someone else!")
        })),
    );
    let report = env.sync(&[]);
    assert_eq!(
        report["skipped"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert_eq!(server.read("new.txt").unwrap(), b"new from someone else!");
    env.sync(&[]);
    env.sync_quiet();
    let local = snapshot(&env.local());
    assert_eq!(local, snapshot(server.root()));
    let contents: Vec<&[u8]> = local.values().flatten().map(Vec::as_slice).collect();
    assert!(
        contents.contains(&&b"new from someone else!"[..]),
        "{kind:?}"
    );
    assert!(
        contents.contains(&&b"new from this computer"[..]),
        "{kind:?}"
    );
}

fn faults_are_retried_boundedly_and_converge(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let env = Env::new(proxy.url_for(&server.url()));
    for i in 0..5 {
        write(
            &env.local().join(format!("up{i}.txt")),
            format!("up {i}").as_bytes(),
        );
    }
    let payload = big(3 * 1024 * 1024, 7);
    server.write("down.bin", &payload);
    proxy.add("PROPFIND", "/", 2, proxy::Fault::Status(503, None));
    proxy.add("PUT", ".ferry-up-", 1, proxy::Fault::Status(500, None));
    proxy.add("PUT", ".ferry-up-", 1, proxy::Fault::Reset);
    proxy.add("MOVE", "/", 1, proxy::Fault::Status(429, Some(1)));
    proxy.add("GET", "down.bin", 1, proxy::Fault::CutBody(1024 * 1024));
    env.sync_quiet();
    assert_eq!(snapshot(&env.local()), snapshot(server.root()));
    assert!(fs::read(env.local().join("down.bin")).unwrap() == payload);
    let seen = proxy.seen();
    // The cut download continued from where it stopped.
    assert!(
        seen.iter()
            .any(|s| s.method == "GET" && s.range.as_deref() == Some("bytes=1048576-")),
        "no resumed GET: {seen:?}"
    );
    // Retries are bounded: a server that always fails ends the pass with an
    // error, not an endless loop.
    proxy.clear();
    write(&env.local().join("never.txt"), b"never");
    // Every PUT: to a temp, or straight to the name where the probe (done
    // in the first pass) allows it.
    proxy.add("PUT", "/", 1000, proxy::Fault::Status(503, None));
    let out = env.cmd(&["--json"]).output().unwrap();
    assert!(!out.status.success());
    let puts = proxy.seen().iter().filter(|s| s.method == "PUT").count();
    assert!((2..=5).contains(&puts), "{puts} PUT attempts");
    // A hung server times out.
    proxy.clear();
    proxy.add(
        "PROPFIND",
        "/",
        1000,
        proxy::Fault::Hang(Duration::from_secs(30)),
    );
    let start = std::time::Instant::now();
    let out = env.cmd(&["--timeout", "1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "took {:?}",
        start.elapsed()
    );
}

fn a_download_resumes_after_ferry_restarts(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let env = Env::new(proxy.url_for(&server.url()));
    let payload = big(8 * 1024 * 1024, 9);
    server.write("movie.bin", &payload);
    // Every attempt of the first run breaks off after 1 MiB: the run fails.
    proxy.add("GET", "movie.bin", 5, proxy::Fault::CutBody(1024 * 1024));
    let out = env.cmd(&["--json"]).output().unwrap();
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        !env.local().join("movie.bin").exists(),
        "a partial file must never appear"
    );
    // The second run continues where the first stopped.
    proxy.clear();
    env.sync_quiet();
    assert!(fs::read(env.local().join("movie.bin")).unwrap() == payload);
    let gets: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.method == "GET")
        .collect();
    let from: u64 = gets
        .first()
        .and_then(|g| g.range.as_deref())
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0);
    assert!(
        from >= 4 * 1024 * 1024,
        "the restarted download began at {from}: {gets:?}"
    );
    let temps: Vec<_> = fs::read_dir(env.local())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".ferry-"))
        .collect();
    assert!(temps.is_empty(), "temp files left: {temps:?}");
}

fn the_probe_matches_what_the_server_does(kind: DavKind) {
    use ferry::remote::Remote;
    let server = DavServer::start(kind);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dav = ferry::remote::webdav::WebDav::new(&server.url(), Default::default()).unwrap();
    let probe = rt.block_on(dav.write_probe());
    let listing = rt
        .block_on(dav.list(&ferry::engine::Filter::default()))
        .unwrap()
        .unwrap();
    eprintln!("{kind:?}: {probe:?}");
    assert!(probe.probed_at > 0);
    assert!(
        listing.tree.is_empty(),
        "the probe left something: {:?}",
        listing.tree
    );
    assert!(
        fs::read_dir(server.root()).unwrap().next().is_none(),
        "the probe folder was not removed"
    );
    // Measured behaviour (shared/servers.md): none of these servers
    // propagates collection ETags to grandparents or honours X-OC-Mtime.
    assert!(!probe.collection_etags_propagate);
    assert!(!probe.x_oc_mtime);
    // Every one refuses a MOVE with `Overwrite: F` onto a file (412).
    assert!(probe.overwrite_f, "{kind:?}");
    match kind {
        DavKind::Apache | DavKind::WsgiDav => assert!(probe.if_match, "{kind:?}"),
        DavKind::Nginx | DavKind::Rclone => assert!(!probe.if_match, "{kind:?}"),
        DavKind::DavServer => {}
    }
    // A PUT broken off half-way: Apache and nginx write it elsewhere and
    // put it in place when complete; the others write in place (a new name
    // shows up at once, an existing file is cut short).
    let atomic = matches!(kind, DavKind::Apache | DavKind::Nginx);
    assert_eq!(probe.atomic_put, atomic, "{kind:?}");
    // `If-None-Match: *` keeps a PUT off an existing file on Apache,
    // wsgidav and dav-server; nginx and rclone ignore it.
    let if_none_match = matches!(
        kind,
        DavKind::Apache | DavKind::WsgiDav | DavKind::DavServer
    );
    assert_eq!(probe.if_none_match, if_none_match, "{kind:?}");
}

/// Where the server checks the `If:` header, a change that lands between
/// Ferry's last look and its MOVE is caught by the server itself.
fn a_change_just_before_the_publishing_move_is_not_clobbered(kind: DavKind) {
    use ferry::remote::Remote;
    let server = Arc::new(DavServer::start(kind));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dav = ferry::remote::webdav::WebDav::new(&server.url(), Default::default()).unwrap();
    if !rt.block_on(dav.write_probe()).if_header {
        eprintln!("{kind:?} ignores the If: header: its MOVE cannot be made conditional");
        return;
    }
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let env = Env::new(proxy.url_for(&server.url()));
    write(&env.local().join("shared.txt"), b"v1");
    env.sync_quiet();
    // Let a weak entity tag turn strong (Apache), then edit here.
    std::thread::sleep(Duration::from_millis(1100));
    env.sync(&[]);
    let listing = rt
        .block_on(dav.list(&ferry::engine::Filter::default()))
        .unwrap()
        .unwrap();
    let tag = listing.tree["shared.txt"].etag.clone().unwrap_or_default();
    if tag.starts_with("W/") {
        eprintln!("{kind:?} gives weak ETags ({tag}): Ferry re-checks with PROPFIND instead");
        return;
    }
    write(&env.local().join("shared.txt"), b"v2 from this computer");
    let s2 = server.clone();
    proxy.add(
        "MOVE",
        ".ferry-up-",
        1,
        proxy::Fault::Before(Arc::new(move || {
            s2.write("shared.txt", b"v2 from someone else")
        })),
    );
    let report = env.sync(&[]);
    assert_eq!(
        report["skipped"].as_array().map(Vec::len),
        Some(1),
        "{report:#}"
    );
    assert_eq!(server.read("shared.txt").unwrap(), b"v2 from someone else");
}

/// New files in a folder the server has. Where the probe saw PUTs
/// published only when complete and `If-None-Match: *` honoured (Apache):
/// per file one PUT straight to its name and one PROPFIND (its tags, for
/// the journal). Elsewhere one PUT (to the temp name), one MOVE, and two
/// PROPFINDs (the temp's stored size before publishing, the published
/// file's tags after); the name being free is left to the server
/// (`Overwrite: F`, seen working on the probe).
fn new_files_cost_the_fewest_requests_the_probe_allows(kind: DavKind) {
    const NEW: usize = 20;
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    write(&env.local().join("docs/first.txt"), b"first");
    env.sync_quiet();
    for i in 0..NEW {
        write(
            &env.local().join(format!("docs/new{i}.txt")),
            format!("new {i}").as_bytes(),
        );
    }
    let before = server.requests().len();
    let report = env.sync_ok(&[]);
    assert_eq!(report["counts"]["upload"], NEW as u64, "{report:#}");
    let requests = server.requests();
    let of = |method: &str| requests[before..].iter().filter(|r| r.0 == method).count();
    eprintln!(
        "{kind:?}: {} requests for {NEW} new files: PUT {}, MOVE {}, PROPFIND {}",
        requests.len() - before,
        of("PUT"),
        of("MOVE"),
        of("PROPFIND")
    );
    let direct = kind == DavKind::Apache;
    let (moves, propfinds) = if direct { (0, 1) } else { (1, 2) };
    assert_eq!(of("PUT"), NEW, "{kind:?}");
    assert_eq!(of("MOVE"), moves * NEW, "{kind:?}");
    // The listing of the two folders, at most one PROPFIND each.
    assert!(
        of("PROPFIND") <= propfinds * NEW + 2,
        "{kind:?}: {} PROPFINDs",
        of("PROPFIND")
    );
    assert_eq!(
        requests.len() - before,
        of("PUT") + of("MOVE") + of("PROPFIND"),
        "{kind:?}"
    );
}

/// A fresh tree of 200 folders, one new file in each: every folder is
/// made once (one MKCOL, parents first, then one PROPFIND for its entry)
/// and no file's PUT meets a missing parent or looks for one.
fn a_fresh_tree_makes_each_folder_once_and_probes_no_parent_per_file(kind: DavKind) {
    const TOP: usize = 20;
    const SUB: usize = 9;
    const FOLDERS: usize = TOP * (SUB + 1);
    let server = DavServer::start(kind);
    let env = Env::new(server.url());
    write(&env.local().join("first.txt"), b"first");
    env.sync_quiet();
    for t in 0..TOP {
        write(&env.local().join(format!("t{t}/f.txt")), b"top");
        for s in 0..SUB {
            write(
                &env.local().join(format!("t{t}/s{s}/f.txt")),
                format!("{t}/{s}").as_bytes(),
            );
        }
    }
    let before = server.requests().len();
    let report = env.sync_ok(&[]);
    assert_eq!(report["counts"]["upload"], FOLDERS as u64, "{report:#}");
    let requests = server.requests();
    let requests = &requests[before..];
    let of = |method: &str| requests.iter().filter(|r| r.0 == method).count();
    eprintln!(
        "{kind:?}: {} requests for {FOLDERS} new folders with a file each: MKCOL {}, PUT {}, MOVE {}, PROPFIND {}",
        requests.len(),
        of("MKCOL"),
        of("PUT"),
        of("MOVE"),
        of("PROPFIND")
    );
    assert_eq!(of("MKCOL"), FOLDERS, "{kind:?}");
    assert!(
        requests
            .iter()
            .filter(|r| r.0 == "PUT" || r.0 == "MKCOL")
            .all(|r| (200..300).contains(&r.2)),
        "{kind:?}: a PUT or MKCOL met a missing parent: {requests:?}"
    );
    // One per folder made, what each new file costs (see
    // `new_files_cost_the_fewest_requests_the_probe_allows`) and the
    // listing of the root.
    let per_file = if kind == DavKind::Apache { 1 } else { 2 };
    assert!(
        of("PROPFIND") <= FOLDERS + per_file * FOLDERS + 1,
        "{kind:?}: {} PROPFINDs",
        of("PROPFIND")
    );
}

/// An upload cut half-way on its way to the server, every attempt of a
/// pass: nothing under the file's name on any server, neither a new file
/// nor a file it was to replace (whether the PUT went to a temp or, where
/// the probe saw PUTs published only when complete, straight to the name).
/// The next pass uploads it whole.
fn an_upload_cut_half_way_never_leaves_a_truncated_file_under_its_name(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let env = Env::new(proxy.url_for(&server.url()));
    write(&env.local().join("docs/first.txt"), b"first");
    write(&env.local().join("docs/old.bin"), b"the old version");
    env.sync_quiet();
    let new = big(1024 * 1024, 3);
    let changed = big(1024 * 1024, 4);
    write(&env.local().join("docs/new.bin"), &new);
    std::thread::sleep(Duration::from_millis(1100));
    write(&env.local().join("docs/old.bin"), &changed);
    proxy.add("PUT", "/", 1000, proxy::Fault::CutRequest(256 * 1024));
    let out = env.cmd(&["--json"]).output().unwrap();
    assert!(!out.status.success(), "{}", show(&out));
    let cut = proxy.seen().iter().filter(|s| s.method == "PUT").count();
    assert!(cut >= 2, "{kind:?}: {cut} PUTs cut");
    // The server may take a moment to give up on a cut request.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(server.read("docs/new.bin"), None, "{kind:?}");
    assert_eq!(
        server.read("docs/old.bin").as_deref(),
        Some(&b"the old version"[..]),
        "{kind:?}"
    );
    proxy.clear();
    env.sync_quiet();
    assert!(server.read("docs/new.bin").unwrap() == new, "{kind:?}");
    assert!(server.read("docs/old.bin").unwrap() == changed, "{kind:?}");
}

/// A synchronization added again (its journal gone) onto a server that
/// already holds its files: where the server keeps the times clients set
/// (wsgidav with `honor_mtime_header`, seen so by the probe), fast mode
/// adopts every file by size and time and downloads none; where it does
/// not (nginx), every pair is read to compare before it is adopted. Either
/// way nothing is uploaded, downloaded, or made a conflict, and a file
/// that differs is kept both.
#[test]
fn adding_a_synchronization_again_adopts_what_the_server_holds_reading_only_where_times_cannot_be_trusted()
 {
    const FILES: usize = 40;
    for (kind, kept) in [(DavKind::WsgiDav, true), (DavKind::Nginx, false)] {
        let server = DavServer::start_with(
            kind,
            dav::DavOptions {
                honor_mtime: kept,
                ..Default::default()
            },
        );
        let env = Env::new(server.url());
        for i in 0..FILES {
            write(
                &env.local().join(format!("d{}/f{i}.txt", i % 4)),
                format!("file {i}").as_bytes(),
            );
        }
        env.sync_quiet();
        // The same synchronization added again: no journal.
        fs::remove_dir_all(env.state()).unwrap();
        // And one file that differs on the server (same size, another time).
        std::thread::sleep(Duration::from_millis(1100));
        server.write("d0/f0.txt", b"FILE 0");
        // Reads of files, not the write probe's own (it runs again: the
        // journal is new).
        let file_gets = || {
            server
                .requests()
                .iter()
                .filter(|r| r.0 == "GET" && !r.1.contains(".ferry-probe-"))
                .count()
        };
        let gets_before = file_gets();
        let report = env.sync_ok(&[]);
        let gets = file_gets() - gets_before;
        // Every file and folder adopted but the one that differs: kept
        // both (the local version moved aside and uploaded, the server's
        // downloaded).
        assert_eq!(
            report["counts"],
            serde_json::json!({"adopt": FILES - 1 + 4, "move": 1, "upload": 1, "download": 1}),
            "{kind:?}: {report:#}"
        );
        eprintln!("{kind:?}: {gets} GETs");
        if kept {
            // The file that differs: read to compare, then downloaded.
            assert!(gets <= 2, "{kind:?}: {gets} GETs");
        } else {
            assert!(gets >= FILES, "{kind:?}: {gets} GETs");
        }
        env.sync_quiet();
        let local = snapshot(&env.local());
        assert_eq!(local, snapshot(server.root()), "{kind:?}");
        assert_eq!(local["d0/f0.txt"].as_deref(), Some(&b"FILE 0"[..]));
        assert!(
            local
                .iter()
                .any(|(k, v)| k.starts_with("d0/f0 (conflicted copy ")
                    && v.as_deref() == Some(&b"file 0"[..])),
            "{kind:?}: {:?}",
            local.keys()
        );
    }
}

macro_rules! conformance {
    ($($module:ident => $kind:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            #[test] fn first_sync() { first_sync_merges_both_sides($kind) }
            #[test] fn first_sync_creates_server_folder() { a_missing_server_folder_is_created_on_the_first_sync($kind) }
            #[test] fn edits_deletes_conflicts() { edits_deletes_and_conflicts($kind) }
            #[test] fn parallel_deletions() { many_deletions_in_parallel_all_reach_the_trash($kind) }
            #[test] fn odd_names() { odd_names_round_trip($kind) }
            #[test] fn large_files_flat_memory() { empty_and_200_mib_files_with_flat_memory($kind) }
            #[test] fn folder_rename_one_move() { a_folder_rename_is_one_move($kind) }
            #[test] fn guards() { guards_stop_mass_deletes_and_a_missing_root($kind) }
            #[test] fn concurrent_change_not_clobbered() { a_remote_change_during_an_upload_is_not_clobbered($kind) }
            #[test] fn concurrent_new_file_not_clobbered() { a_file_created_on_the_server_during_the_upload_of_a_new_one_is_not_clobbered($kind) }
            #[test] fn faults_converge() { faults_are_retried_boundedly_and_converge($kind) }
            #[test] fn download_resumes_after_restart() { a_download_resumes_after_ferry_restarts($kind) }
            #[test] fn probe() { the_probe_matches_what_the_server_does($kind) }
            #[test] fn new_file_requests() { new_files_cost_the_fewest_requests_the_probe_allows($kind) }
            #[test] fn fresh_tree_folders_made_once() { a_fresh_tree_makes_each_folder_once_and_probes_no_parent_per_file($kind) }
            #[test] fn cut_upload_never_visible() { an_upload_cut_half_way_never_leaves_a_truncated_file_under_its_name($kind) }
            #[test] fn change_before_move_not_clobbered() { a_change_just_before_the_publishing_move_is_not_clobbered($kind) }
        }
    )*};
}

conformance! {
    apache => DavKind::Apache,
    nginx => DavKind::Nginx,
    rclone => DavKind::Rclone,
    wsgidav => DavKind::WsgiDav,
    dav_server => DavKind::DavServer,
}
