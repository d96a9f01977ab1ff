//! End to end with the real `ferry daemon --headless`: temp config and data
//! folders, the kernel keyring in a fresh session, a folder remote or a real
//! WebDAV server (nginx, behind a proxy that can take it off the network).
//! Nothing is triggered by hand unless the test says so: changes must reach
//! the other side by the watchers and pollers alone.

// Unix only: real servers, inodes, permissions and symlinks (the Windows
// lint in scripts/test.sh skips this file).
#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/dav.rs"]
mod dav;
#[path = "common/proxy.rs"]
mod proxy;

use std::fs;
use std::time::Duration;

use daemon::{TestDaemon, files, write};
use dav::{DavKind, DavServer};
use serde_json::{Value, json};

/// Add a folder-remote synchronization through the CLI.
fn add_folder_sync(
    d: &TestDaemon,
    name: &str,
    extra: &[&str],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let local = d.path(&format!("{name}-local"));
    let remote = d.path(&format!("{name}-remote"));
    fs::create_dir_all(&local).unwrap();
    fs::create_dir_all(&remote).unwrap();
    let (l, r) = (local.display().to_string(), remote.display().to_string());
    let mut args = vec!["add", name, &l, &r, "--poll", "1"];
    args.extend_from_slice(extra);
    d.ferry_ok(&args);
    (local, remote)
}

#[test]
fn the_cli_says_when_no_daemon_runs() {
    let d = TestDaemon::new();
    for args in [&["status"][..], &["list"], &["run", "--all"], &["log"]] {
        let out = d.ferry(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Ferry is not running") && err.contains("ferry daemon"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_second_daemon_reports_the_running_one() {
    let mut d = TestDaemon::new();
    d.start();
    let out = d.ferry(&["daemon", "--headless"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already running") && err.contains(&format!("pid {}", d.pid())),
        "{err}"
    );
    d.stop();
    assert!(
        !d.data_dir().join("api.port").exists(),
        "port file left behind"
    );
}

#[test]
fn local_and_remote_edits_travel_by_themselves() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "docs", &[]);
    write(&local.join("a.txt"), b"first");
    d.wait_until("a.txt on the remote", || {
        fs::read(remote.join("a.txt")).ok().as_deref() == Some(&b"first"[..])
    });
    // The folder remote is watched too: a change there comes back.
    write(&remote.join("sub/b.txt"), b"from the other disk");
    d.wait_until("sub/b.txt locally", || local.join("sub/b.txt").exists());
    // An edit and a deletion.
    write(&local.join("a.txt"), b"second version");
    fs::remove_file(local.join("sub/b.txt")).unwrap();
    d.wait_until("the edit and the deletion on the remote", || {
        fs::read(remote.join("a.txt")).ok().as_deref() == Some(&b"second version"[..])
            && !remote.join("sub/b.txt").exists()
    });
    d.wait_state("docs", "synced");
    assert_eq!(files(&local), files(&remote));
    // The log and the recent files saw it.
    let log = d.ferry_ok(&["log", "--sync", "docs", "--action", "upload"]);
    assert!(log.contains("a.txt"), "{log}");
    let recent = d.api_ok("GET", "/api/recent", None);
    assert!(
        recent
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == "a.txt"),
        "{recent:#}"
    );
    d.stop();
}

#[test]
fn folders_created_renamed_and_deleted_while_live() {
    // Passes after watcher news look only at the paths named: a folder's
    // contents, renames (both ends) and deletions must all come through.
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "tree", &[]);
    for i in 0..5 {
        write(&local.join(format!("keep/k{i}.txt")), b"k");
    }
    d.wait_until("the first files", || files(&remote).len() == 5);
    d.wait_state("tree", "synced");
    // A new folder with files in it, made in one go.
    for i in 0..50 {
        write(
            &local.join(format!("new/deep/f{i}.txt")),
            format!("{i}").as_bytes(),
        );
    }
    d.wait_until("the new folder's files", || files(&remote).len() == 55);
    let before: Vec<u64> = (0..50)
        .map(|i| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(remote.join(format!("new/deep/f{i}.txt")))
                .unwrap()
                .ino()
        })
        .collect();
    // Renamed: moved on the other side, not copied.
    fs::rename(local.join("new"), local.join("renamed")).unwrap();
    d.wait_until("the rename", || {
        remote.join("renamed/deep/f0.txt").exists() && !remote.join("new").exists()
    });
    let after: Vec<u64> = (0..50)
        .map(|i| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(remote.join(format!("renamed/deep/f{i}.txt")))
                .unwrap()
                .ino()
        })
        .collect();
    assert_eq!(before, after, "the files were copied, not moved");
    // A folder deleted on the other side (6 of 56 items: under the guard).
    fs::remove_dir_all(remote.join("keep")).unwrap();
    d.wait_until("the deletion", || !local.join("keep").exists());
    d.wait_state("tree", "synced");
    assert_eq!(files(&local), files(&remote));
    assert_eq!(files(&local).len(), 50);
    d.stop();
}

#[test]
fn two_synchronizations_run_at_once() {
    let mut d = TestDaemon::new();
    d.start();
    let (l1, r1) = add_folder_sync(&d, "one", &[]);
    let (l2, r2) = add_folder_sync(&d, "two", &[]);
    for i in 0..20 {
        write(
            &l1.join(format!("one-{i}.txt")),
            format!("1/{i}").as_bytes(),
        );
        write(
            &r2.join(format!("two-{i}.txt")),
            format!("2/{i}").as_bytes(),
        );
    }
    d.wait_until("both converge", || {
        files(&r1).len() == 20 && files(&l2).len() == 20
    });
    d.wait_state("one", "synced");
    d.wait_state("two", "synced");
    assert_eq!(files(&l1), files(&r1));
    assert_eq!(files(&l2), files(&r2));
    let status = d.api_ok("GET", "/api/status", None);
    assert_eq!(status["overall"], "synced", "{status:#}");
    assert_eq!(status["syncs"].as_array().unwrap().len(), 2);
    // Run all, in parallel and one after the other, through the CLI.
    let out = d.ferry_ok(&["run", "--all", "--parallel"]);
    assert!(out.contains("one:") && out.contains("two:"), "{out}");
    let out = d.ferry_ok(&["run", "--all", "--sequential", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{v:#}");
    d.stop();
}

#[test]
fn a_guard_waits_for_confirmation_and_confirming_proceeds() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "guarded", &[]);
    for i in 0..10 {
        write(&local.join(format!("f{i}.txt")), b"x");
    }
    d.wait_until("the first sync", || files(&remote).len() == 10);
    d.wait_state("guarded", "synced");
    for i in 0..8 {
        fs::remove_file(local.join(format!("f{i}.txt"))).unwrap();
    }
    let st = d.wait_state("guarded", "needs_confirmation");
    assert!(
        st["reason"].as_str().unwrap().contains("delete 8"),
        "{st:#}"
    );
    // Nothing was deleted meanwhile, and nothing will be while it waits.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(files(&remote).len(), 10);
    let status = d.ferry_ok(&["status"]);
    assert!(
        status.contains("needs confirmation") && status.contains("ferry confirm guarded"),
        "{status}"
    );
    // The simulation shows what confirming would do.
    let sim = d.ferry_ok(&["simulate", "guarded"]);
    assert!(
        sim.contains("delete") && sim.contains("Nothing was changed"),
        "{sim}"
    );
    d.ferry_ok(&["confirm", "guarded"]);
    d.wait_until("the deletions", || files(&remote).len() == 2);
    d.wait_state("guarded", "synced");
    // The deleted files are in the remote's trash, not gone.
    let trash = files(&remote.join(".ferry-trash"));
    assert_eq!(trash.len(), 8, "{:?}", trash.keys());
    d.stop();
}

#[test]
fn pause_resume_and_cancel() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "p", &[]);
    d.wait_state("p", "synced");
    d.ferry_ok(&["pause", "p"]);
    d.wait_state("p", "paused");
    write(&local.join("while-paused.txt"), b"waits");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !remote.join("while-paused.txt").exists(),
        "a paused sync must not run"
    );
    d.ferry_ok(&["resume", "p"]);
    d.wait_until("the file after resume", || {
        remote.join("while-paused.txt").exists()
    });
    d.wait_state("p", "synced");
    // Cancelling a confirmation pauses.
    fs::remove_file(local.join("while-paused.txt")).unwrap();
    d.wait_state("p", "needs_confirmation");
    d.ferry_ok(&["confirm", "p", "--cancel"]);
    d.wait_state("p", "paused");
    assert!(remote.join("while-paused.txt").exists());
    d.stop();
}

#[test]
fn settings_change_and_removal_keep_the_files() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "s", &[]);
    write(&local.join("keep.txt"), b"k");
    d.wait_until("keep.txt", || remote.join("keep.txt").exists());
    // Send only: a remote-side file no longer comes back...
    let (code, v) = d.api("PATCH", "/api/syncs/s", Some(&json!({"direction": "send"})));
    assert_eq!(code, 200, "{v:#}");
    assert_eq!(v["direction"], "send");
    d.wait_state("s", "synced");
    // ...and an invalid change is refused with a clear error.
    let (code, v) = d.api(
        "PATCH",
        "/api/syncs/s",
        Some(&json!({"direction": "sideways"})),
    );
    assert_eq!(code, 400, "{v:#}");
    assert!(
        v["error"].as_str().unwrap().contains("direction")
            || v["error"].as_str().unwrap().contains("sideways"),
        "{v:#}"
    );
    let list = d.ferry_ok(&["list"]);
    assert!(list.contains("send"), "{list}");
    d.ferry_ok(&["remove", "s"]);
    assert!(local.join("keep.txt").exists() && remote.join("keep.txt").exists());
    assert!(d.ferry_ok(&["list"]).contains("No synchronizations"));
    // The configuration survives a restart.
    d.stop();
    let (l2, _r2) = add_folder_sync_offline(&d, "later");
    d.start();
    d.wait_state("later", "synced");
    assert!(l2.exists());
    d.stop();
}

/// Finding 10: a PATCH cannot move a synchronization to other folders. Its
/// journal records what was in sync in the old place; kept for a new one,
/// every item the new place lacks would read as deleted there, and the
/// local copies would be trashed. The API refuses with a message that says
/// what to do instead, and nothing changes on either side.
#[test]
fn a_patch_that_moves_a_synchronization_to_other_folders_is_refused_and_nothing_is_trashed() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "s", &[]);
    write(&local.join("a.txt"), b"a");
    write(&local.join("b.txt"), b"b");
    d.wait_until("b.txt", || {
        remote.join("a.txt").exists() && remote.join("b.txt").exists()
    });
    d.wait_state("s", "synced");
    // Another remote folder holding only a.txt, and another local one.
    let elsewhere = d.path("elsewhere-remote");
    write(&elsewhere.join("a.txt"), b"a");
    let other_local = d.path("elsewhere-local");
    fs::create_dir_all(&other_local).unwrap();
    for patch in [
        json!({"remote": {"type": "folder", "path": elsewhere}}),
        json!({"local": other_local}),
    ] {
        let (code, v) = d.api("PATCH", "/api/syncs/s", Some(&patch));
        assert_eq!(code, 400, "{patch}: {v:#}");
        let error = v["error"].as_str().unwrap();
        assert!(
            error.contains("cannot be changed") && error.contains("add it again"),
            "{error}"
        );
    }
    // The synchronization is where it was, and a pass there changes nothing.
    let (code, v) = d.api("GET", "/api/syncs/s", None);
    assert_eq!(code, 200, "{v:#}");
    assert_eq!(v["config"]["local"], json!(local), "{v:#}");
    assert_eq!(v["config"]["remote"]["path"], json!(remote), "{v:#}");
    d.ferry_ok(&["run", "s"]);
    d.wait_state("s", "synced");
    assert_eq!(fs::read(local.join("b.txt")).unwrap(), b"b");
    assert_eq!(fs::read(local.join("a.txt")).unwrap(), b"a");
    assert!(!elsewhere.join("b.txt").exists());
    assert_eq!(fs::read_dir(&other_local).unwrap().count(), 0);
    // A change of settings only is still accepted.
    let (code, v) = d.api("PATCH", "/api/syncs/s", Some(&json!({"direction": "send"})));
    assert_eq!(code, 200, "{v:#}");
    d.stop();
}

/// Write a synchronization into the config file while no daemon runs (as
/// an older version or a hand edit would); the daemon picks it up.
fn add_folder_sync_offline(d: &TestDaemon, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let local = d.path(&format!("{name}-local"));
    let remote = d.path(&format!("{name}-remote"));
    fs::create_dir_all(&remote).unwrap();
    let path = d.config_dir().join("config.json");
    let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    config["synchronizations"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "id": name, "name": name, "local": local, "remote": {"type": "folder", "path": remote},
            "poll_interval_secs": 1
        }));
    fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    (local, remote)
}

#[test]
fn conflicts_are_listed_and_resolved() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "c", &["--no-live"]);
    write(&local.join("doc.txt"), b"base");
    d.ferry_ok(&["run", "c"]);
    assert!(remote.join("doc.txt").exists());
    std::thread::sleep(Duration::from_millis(1100));
    write(&local.join("doc.txt"), b"mine");
    write(&remote.join("doc.txt"), b"theirs!");
    d.ferry_ok(&["run", "c"]);
    let list = d.ferry_ok(&["conflicts"]);
    assert!(
        list.contains("doc.txt") && list.contains("conflicted copy"),
        "{list}"
    );
    // Keep mine: the copy replaces the file; the next pass sends it.
    d.ferry_ok(&[
        "resolve",
        &local.join("doc.txt").display().to_string(),
        "--use",
        "local",
    ]);
    d.ferry_ok(&["run", "c"]);
    d.ferry_ok(&["run", "c"]);
    assert_eq!(fs::read(local.join("doc.txt")).unwrap(), b"mine");
    assert_eq!(fs::read(remote.join("doc.txt")).unwrap(), b"mine");
    assert_eq!(files(&local), files(&remote));
    assert_eq!(files(&local).len(), 1, "{:?}", files(&local).keys());
    assert!(d.ferry_ok(&["conflicts"]).contains("No conflicts"));
    // `why` explains an item.
    let why = d.ferry_ok(&["why", &local.join("doc.txt").display().to_string()]);
    assert!(why.contains("in sync"), "{why}");
    write(&local.join("notes.tmp"), b"scratch");
    let why = d.ferry_ok(&["why", &local.join("notes.tmp").display().to_string()]);
    assert!(why.contains("excluded"), "{why}");
    d.stop();
}

// ------------------------------------------------------------- WebDAV --

/// nginx behind a proxy, an account and a live synchronization polled
/// every second.
fn webdav_setup(d: &TestDaemon, server: &DavServer, proxy: &proxy::Proxy) -> std::path::PathBuf {
    let url = proxy.url_for(&server.parent_url());
    d.add_account(&url, "s3cret-pw-1234");
    let local = d.path("dav-local");
    let remote_url = proxy.url_for(&server.url());
    d.ferry_ok(&[
        "add",
        "dav",
        &local.display().to_string(),
        &remote_url,
        "--poll",
        "1",
    ]);
    local
}

#[test]
fn webdav_changes_travel_and_offline_changes_go_out_on_reconnect() {
    let server = DavServer::start(DavKind::Nginx);
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let mut d = TestDaemon::new();
    d.start();
    let local = webdav_setup(&d, &server, &proxy);
    d.wait_state("dav", "synced");
    write(&local.join("up.txt"), b"to the server");
    d.wait_until("up.txt on the server", || server.read("up.txt").is_some());
    server.write("down.txt", b"from the server");
    d.wait_until("down.txt locally (one poll)", || {
        local.join("down.txt").exists()
    });

    // The server goes away: local changes wait, the state says offline.
    proxy.set_down(true);
    write(&local.join("offline-1.txt"), b"written while offline");
    write(&local.join("up.txt"), b"edited while offline");
    let st = d.wait_state("dav", "offline");
    assert!(st["retry_in_secs"].as_u64().is_some(), "{st:#}");
    // Back: everything goes out by itself.
    proxy.set_down(false);
    d.wait_until("the offline changes on the server", || {
        server.read("offline-1.txt").as_deref() == Some(&b"written while offline"[..])
            && server.read("up.txt").as_deref() == Some(&b"edited while offline"[..])
    });
    d.wait_state("dav", "synced");

    // No secret in any answer or log line.
    for path in ["/api/status", "/api/accounts", "/api/syncs", "/api/log"] {
        let (_, body, _) = d.raw(
            "GET",
            path,
            &[("Authorization", &format!("Bearer {}", d.endpoint().1))],
            None,
        );
        assert!(!body.contains("s3cret-pw-1234"), "{path}: {body}");
    }
    // Deregister: the account's synchronization goes, its files stay.
    let accounts = d.ferry_ok(&["account", "list"]);
    let id = accounts.split_whitespace().next().unwrap().to_string();
    let out = d.ferry_ok(&["account", "remove", &id, "--yes"]);
    assert!(out.contains("removed") && out.contains("dav"), "{out}");
    assert!(d.ferry_ok(&["list"]).contains("No synchronizations"));
    assert!(d.ferry_ok(&["account", "list"]).contains("No accounts"));
    assert!(local.join("up.txt").exists() && server.read("up.txt").is_some());
    let token = d.endpoint().1;
    d.stop();
    let logs = d.all_logs();
    assert!(!logs.contains("s3cret-pw-1234"), "the password is in a log");
    assert!(!logs.contains(&token), "the API token is in a log");
}

#[test]
fn a_download_interrupted_by_kill_9_resumes_after_restart() {
    let server = DavServer::start(DavKind::Nginx);
    let proxy = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let mut d = TestDaemon::new();
    d.start();
    let local = webdav_setup(&d, &server, &proxy);
    d.wait_state("dav", "synced");
    // 8 MiB served slowly (~1.3 MiB/s): kill the daemon half way.
    let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    proxy.add("GET", "big.bin", 1, proxy::Fault::Throttle(128 * 1024));
    server.write("big.bin", &big);
    d.wait_until("a partial download", || {
        fs::read_dir(&local)
            .map(|rd| {
                rd.flatten().any(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with(".ferry-dl-")
                        && e.metadata().map(|m| m.len() > 1024 * 1024).unwrap_or(false)
                })
            })
            .unwrap_or(false)
    });
    d.kill9();
    proxy.clear();
    d.start();
    d.wait_until("big.bin complete", || {
        fs::read(local.join("big.bin")).ok().as_deref() == Some(&big[..])
    });
    // It continued where it stopped: a GET with a Range after the restart.
    let ranged = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path.contains("big.bin"))
        .any(|s| {
            s.range
                .as_deref()
                .is_some_and(|r| !r.starts_with("bytes=0-"))
        });
    assert!(ranged, "no ranged GET: {:?}", proxy.seen());
    d.wait_state("dav", "synced");
    let leftovers: Vec<_> = fs::read_dir(&local)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ferry-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    d.stop();
}

// ---------------------------------------------------------- API security --

#[test]
fn the_api_refuses_what_it_must() {
    let mut d = TestDaemon::new();
    d.start();
    let (port, token) = d.endpoint();
    let bearer = format!("Bearer {token}");
    let ok_auth = [("Authorization", bearer.as_str())];
    // The port file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(d.data_dir().join("api.port"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let mode = fs::metadata(d.data_dir()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the data folder: {mode:o}");
    assert_eq!(token.len(), 64);
    // Health is public; the rest is not.
    assert_eq!(d.raw("GET", "/api/health", &[], None).0, 200);
    let (code, body, headers) = d.raw("GET", "/api/status", &[], None);
    assert_eq!(code, 401, "{body}");
    assert!(headers.contains_key("www-authenticate"));
    let wrong = format!("Bearer {}", "0".repeat(64));
    assert_eq!(
        d.raw("GET", "/api/status", &[("Authorization", &wrong)], None)
            .0,
        401
    );
    assert_eq!(d.raw("GET", "/api/status", &ok_auth, None).0, 200);
    // DNS rebinding: another Host.
    let evil = [("Authorization", bearer.as_str()), ("Host", "evil.example")];
    assert_eq!(d.raw("GET", "/api/status", &evil, None).0, 403);
    let other_port = format!("127.0.0.1:{}", port.wrapping_add(1));
    let wrong_port = [
        ("Authorization", bearer.as_str()),
        ("Host", other_port.as_str()),
    ];
    assert_eq!(d.raw("GET", "/api/status", &wrong_port, None).0, 403);
    // A foreign Origin.
    let foreign = [
        ("Authorization", bearer.as_str()),
        ("Origin", "https://evil.example"),
    ];
    assert_eq!(d.raw("GET", "/api/status", &foreign, None).0, 403);
    let own = format!("http://127.0.0.1:{port}");
    let same = [("Authorization", bearer.as_str()), ("Origin", own.as_str())];
    assert_eq!(d.raw("GET", "/api/status", &same, None).0, 200);
    // JSON bodies only.
    let (code, _, _) = d.raw(
        "POST",
        "/api/pause",
        &ok_auth,
        Some(("text/plain", b"{}".to_vec())),
    );
    assert_eq!(code, 415);
    let (code, _, _) = d.raw(
        "POST",
        "/api/pause",
        &ok_auth,
        Some(("application/json", b"{}".to_vec())),
    );
    assert_eq!(code, 200);
    // Size limit: a body announced as over 1 MiB is refused before it is
    // read. (Only the head is sent: a client still writing a big body when
    // the 413 and the close come gets a broken pipe instead of the answer,
    // so sending it made this test fail now and then. A body that grows
    // past the limit unannounced is refused too: `api::security`'s tests.)
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "POST /api/why HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: {bearer}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            1024 * 1024 + 1024
        )
        .unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&head));
    }
    // Bad JSON is a clear 400; no CORS anywhere.
    let (code, body, headers) = d.raw(
        "POST",
        "/api/syncs",
        &ok_auth,
        Some(("application/json", b"{nope".to_vec())),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid JSON"), "{body}");
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-"))
    );
    let (_, _, headers) = d.raw(
        "OPTIONS",
        "/api/status",
        &[
            ("Origin", own.as_str()),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    );
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-"))
    );
    d.stop();
    assert!(!d.all_logs().contains(&token), "the token is in a log");
}

/// The typed client (`ferry::protocol::Client`, what the CLI and the tray
/// use) reads every kind of answer of the real daemon as the protocol's
/// types: a field the daemon renamed would fail here (or not compile).
#[test]
fn the_typed_client_reads_the_real_daemons_answers() {
    use ferry::config::{Direction, RemoteSpec};
    use ferry::protocol::Client;
    use ferry::protocol::history::LogQuery;
    use ferry::protocol::status::{Event, SyncState};
    use ferry::protocol::syncs::{NewSync, SyncPatch, SyncSettings};
    use futures_util::StreamExt;

    let mut d = TestDaemon::new();
    d.start();
    let local = d.path("t-local");
    let remote = d.path("t-remote");
    fs::create_dir_all(&local).unwrap();
    fs::create_dir_all(&remote).unwrap();
    write(&local.join("a.txt"), b"hello");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = Client::connect(&d.data_dir()).unwrap();
        assert!(c.health().await.unwrap().ok);
        let mut events = c.events();
        let created = c
            .add_sync(&NewSync {
                name: "t".into(),
                local: local.clone(),
                remote: RemoteSpec::Folder {
                    path: remote.clone(),
                },
                create_remote_root: false,
                settings: SyncSettings {
                    poll_interval_secs: Some(1),
                    ..SyncSettings::default()
                },
            })
            .await
            .unwrap();
        assert_eq!(created.name, "t");
        assert_eq!(created.poll_interval_secs, 1);
        // The worker's first pass sends it; a pass asked for answers with
        // its summary.
        d.wait_until("a.txt sent", || remote.join("a.txt").exists());
        let summary = c.run("t").await.unwrap();
        assert!(summary.errors.is_empty() && !summary.dry_run, "{summary:?}");
        // Events arrive typed.
        let first = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(
            matches!(
                &first,
                Event::State { .. } | Event::Config | Event::Transfer { .. }
            ),
            "{first:?}"
        );
        let status = c.status().await.unwrap();
        assert_eq!(status.syncs.len(), 1);
        assert_eq!(status.syncs[0].status.name, "t");
        let log = c.log(&LogQuery::default()).await.unwrap();
        assert!(
            log.iter()
                .any(|l| l.path == "a.txt" && l.action == "upload"),
            "{log:?}"
        );
        assert!(c.recent().await.unwrap().iter().any(|r| r.path == "a.txt"));
        assert!(c.conflicts().await.unwrap().is_empty());
        let why = c.why(&local.join("a.txt")).await.unwrap();
        assert_eq!((why.sync.as_str(), why.path.as_str()), ("t", "a.txt"));
        assert_eq!(why.verdict, "in sync");
        assert_eq!(why.in_sync_as.map(|b| b.local_size), Some(5));
        // A simulation with nothing to do.
        let report = c.simulate("t").await.unwrap();
        assert!(report.dry_run && report.ops.is_empty(), "{report:?}");
        // A typed change of settings.
        let patch = SyncPatch {
            settings: SyncSettings {
                direction: Some(Direction::Send),
                ..SyncSettings::default()
            },
            ..SyncPatch::default()
        };
        let changed = c.update_sync("t", &patch).await.unwrap();
        assert_eq!(changed.direction, Direction::Send);
        let entry = c.sync("t").await.unwrap();
        assert_eq!(entry.config.direction, Direction::Send);
        assert!(!c.set_enabled("t", false).await.unwrap().enabled);
        let off = c.syncs().await.unwrap();
        assert!(
            matches!(
                off[0].status.as_ref().map(|s| &s.state),
                Some(SyncState::Disabled)
            ),
            "{off:?}"
        );
        let removed = c.remove_sync("t").await.unwrap();
        assert_eq!(removed.removed, "t");
        assert!(local.join("a.txt").exists() && remote.join("a.txt").exists());
    });
    d.stop();
}

#[test]
fn a_retry_of_an_unreachable_server_stays_offline_until_the_server_answers() {
    // The icon and the alerts must not flip to "syncing" and back at every
    // retry: an attempt shows "offline, retrying now".
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    let mut d = TestDaemon::new();
    d.start();
    let (api_port, token) = d.endpoint();
    let mut stream = TcpStream::connect(("127.0.0.1", api_port)).unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{api_port}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let url = d.unreachable_account();
    let local = d.path("far");
    fs::create_dir_all(&local).unwrap();
    d.ferry_ok(&["add", "far", local.to_str().unwrap(), &format!("{url}docs")]);

    // The first attempt fails, the retry (after about 2 s) says "retrying
    // now", and fails again.
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let far_states = |got: &[u8]| -> Vec<Value> {
        String::from_utf8_lossy(got)
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
            .filter(|e| e["type"] == "state" && e["sync"]["name"] == "far")
            .map(|e| e["sync"].clone())
            .collect()
    };
    let retried = |states: &[Value]| {
        states
            .iter()
            .position(|s| s["state"] == "offline" && s["retry_in_secs"] == 0)
            .is_some_and(|at| {
                states[at + 1..]
                    .iter()
                    .any(|s| s["retry_in_secs"].as_u64().is_some_and(|r| r > 0))
            })
    };
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !retried(&far_states(&got)) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let states = far_states(&got);
    assert!(retried(&states), "a retry that failed again: {states:#?}");
    let first_offline = states.iter().position(|s| s["state"] == "offline").unwrap();
    assert!(
        states[first_offline..]
            .iter()
            .all(|s| s["state"] == "offline"),
        "once offline, nothing but offline until the server answers: {states:#?}"
    );
    d.stop();
}
