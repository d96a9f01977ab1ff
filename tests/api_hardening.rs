//! The loopback API as an attacker on the same computer would try it, with
//! the real `ferry daemon --headless`: idle connections, `..` in paths,
//! dangerous local folders, files other users could read.

// Unix only: file modes, symlinks, rlimits.
#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use daemon::{TestDaemon, write};
use serde_json::json;

/// The daemon's header-read timeout (`api::server::LIMITS`).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Let this test process hold a thousand sockets.
fn raise_own_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = lim.rlim_max;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    assert!(
        lim.rlim_max >= 1200,
        "the hard open-files limit is too low for this test"
    );
}

/// Whether the server closed `s` (end of file or reset) within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or 400 answer before the close is fine; read on.
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn add_folder_sync(d: &TestDaemon, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let local = d.path(&format!("{name}-local"));
    let remote = d.path(&format!("{name}-remote"));
    std::fs::create_dir_all(&local).unwrap();
    std::fs::create_dir_all(&remote).unwrap();
    d.ferry_ok(&[
        "add",
        name,
        &local.display().to_string(),
        &remote.display().to_string(),
        "--no-live",
    ]);
    (local, remote)
}

#[test]
fn a_thousand_idle_connections_do_not_stall_the_api_and_are_closed_after_the_header_timeout() {
    raise_own_open_files_limit();
    let mut d = TestDaemon::new();
    d.start();
    let (port, _) = d.endpoint();
    let mut idle = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        // Some send half a request line and stop there.
        if i % 10 == 0 {
            s.write_all(b"GET /api/sta").unwrap();
        }
        idle.push(s);
    }
    let opened = Instant::now();
    let started = Instant::now();
    let out = d.ferry(&["status"]);
    let took = started.elapsed();
    println!("`ferry status` with 1,000 idle connections open: {took:?}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took < Duration::from_secs(10),
        "`ferry status` waited {took:?} behind idle connections"
    );
    // Every idle connection is closed: the oldest at once (the cap), the
    // rest when the header-read timeout ends.
    let deadline = opened + HEADER_TIMEOUT + Duration::from_secs(10);
    for (i, s) in idle.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            closed_within(s, left.max(Duration::from_millis(1))),
            "idle connection {i} still open {:?} after it was opened",
            opened.elapsed()
        );
    }
    println!(
        "all 1,000 idle connections closed {:?} after they were opened",
        opened.elapsed()
    );
    // The daemon is still fine.
    d.ferry_ok(&["status"]);
    d.stop();
}

#[test]
fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let mut d = TestDaemon::new();
    d.start();
    let (port, _) = d.endpoint();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let opened = Instant::now();
    assert!(
        !closed_within(&mut s, HEADER_TIMEOUT - Duration::from_secs(2)),
        "closed before the timeout"
    );
    assert!(closed_within(&mut s, Duration::from_secs(10)));
    let after = opened.elapsed();
    println!("an idle connection was closed after {after:?}");
    assert!(
        after >= HEADER_TIMEOUT - Duration::from_millis(500),
        "{after:?}"
    );
    d.stop();
}

#[test]
fn the_event_stream_stays_open_past_the_header_timeout() {
    let mut d = TestDaemon::new();
    d.start();
    let (port, token) = d.endpoint();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(HEADER_TIMEOUT + Duration::from_secs(2));
    // A change now still reaches the stream.
    add_folder_sync(&d, "late");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&got).contains(r#""type":"config""#) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains(r#""type":"config""#), "{text}");
    d.stop();
}

#[test]
fn why_refuses_dot_dot_and_paths_outside_every_synchronization() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, _) = add_folder_sync(&d, "w");
    write(&local.join("a.txt"), b"a");
    let escape = format!("{}/../../../../../../../etc/passwd", local.display());
    // Through the API.
    let (code, v) = d.api("POST", "/api/why", Some(&json!({ "path": escape })));
    assert_eq!(code, 400, "{v:#}");
    assert!(v["error"].as_str().unwrap().contains(".."), "{v:#}");
    let (code, v) = d.api("POST", "/api/why", Some(&json!({ "path": "/etc/passwd" })));
    assert_eq!(code, 404, "{v:#}");
    // A symbolic link inside the folder leads nowhere else either.
    std::os::unix::fs::symlink("/etc", local.join("system")).unwrap();
    let via_link = local.join("system/passwd");
    let (code, v) = d.api("POST", "/api/why", Some(&json!({ "path": via_link })));
    assert_eq!(code, 404, "{v:#}");
    let (code, v) = d.api(
        "POST",
        "/api/why",
        Some(&json!({ "path": "relative/a.txt" })),
    );
    assert_eq!(code, 400, "{v:#}");
    // Through the CLI: never a report on /etc/passwd.
    for p in [escape.clone(), via_link.display().to_string()] {
        let out = d.ferry(&["why", &p]);
        assert!(!out.status.success(), "{p}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("not inside any synchronized folder"),
            "{p}: {err}"
        );
    }
    // An item inside still has its answer.
    let (code, v) = d.api(
        "POST",
        "/api/why",
        Some(&json!({ "path": local.join("a.txt") })),
    );
    assert_eq!(code, 200, "{v:#}");
    assert_eq!(v["path"], "a.txt");
    d.stop();
}

#[test]
fn the_root_system_folders_and_ferrys_own_folders_are_refused_as_local_folders() {
    let mut d = TestDaemon::new();
    d.start();
    let remote = d.path("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let refused = [
        std::path::PathBuf::from("/"),
        "/etc".into(),
        "/usr/share".into(),
        "/home".into(),
        d.data_dir(),
        d.data_dir().join("syncs"),
        d.config_dir(),
        // Around both of them.
        d.dir.path().to_path_buf(),
    ];
    for (i, local) in refused.iter().enumerate() {
        let (code, v) = d.api(
            "POST",
            "/api/syncs",
            Some(&json!({
                "name": format!("bad{i}"),
                "local": local,
                "remote": {"type": "folder", "path": remote},
            })),
        );
        assert_eq!(code, 400, "{}: {v:#}", local.display());
        let out = d.ferry(&[
            "sync",
            &local.display().to_string(),
            &remote.display().to_string(),
        ]);
        assert!(!out.status.success(), "ferry sync {}", local.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("system folder")
                || err.contains("root of a disk")
                || err.contains("other users")
                || err.contains("Ferry keeps its"),
            "{}: {err}",
            local.display()
        );
    }
    assert_eq!(d.api_ok("GET", "/api/syncs", None), json!([]));
    // Nothing was written to the remote.
    assert_eq!(std::fs::read_dir(&remote).unwrap().count(), 0);
    // A folder of one's own is fine.
    let fine = d.path("home/Sync");
    std::fs::create_dir_all(&fine).unwrap();
    let (code, v) = d.api(
        "POST",
        "/api/syncs",
        Some(
            &json!({ "name": "fine", "local": fine, "remote": {"type": "folder", "path": remote} }),
        ),
    );
    assert_eq!(code, 201, "{v:#}");
    d.stop();
}

#[test]
fn journals_and_logs_are_readable_by_the_user_only() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "p");
    write(&local.join("secret plans.txt"), b"x");
    d.ferry_ok(&["run", "p"]);
    assert!(remote.join("secret plans.txt").exists());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut seen = 0;
    for folder in ["syncs", "logs"] {
        let dir = d.data_dir().join(folder);
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
            seen += 1;
        }
    }
    // The journal, its -wal and -shm, and a log file at least.
    assert!(seen >= 4, "{seen} files");
    d.stop();
}

#[test]
fn a_request_without_the_token_is_answered_and_its_connection_closed() {
    let mut d = TestDaemon::new();
    d.start();
    let (port, _) = d.endpoint();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(HEADER_TIMEOUT - Duration::from_secs(2)))
        .unwrap();
    let mut answer = Vec::new();
    let started = Instant::now();
    // Read to the end: the server closes the connection itself.
    s.read_to_end(&mut answer)
        .expect("the connection is closed after the refusal");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    println!("refused and closed after {:?}", started.elapsed());
    d.stop();
}
