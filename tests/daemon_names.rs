//! One place, one name, through the daemon (issue 8, cases 7 and 8): a
//! synchronization added without the choice to create its missing remote
//! folder waits for it (nothing is created), with the choice (or a
//! confirmation) the first pass creates it; `htp://…` is refused by `ferry
//! add` and the API; places are saved in their normal form.

// Unix only: real servers, inodes, permissions and symlinks (the Windows
// lint in scripts/test.sh skips this file).
#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/dav.rs"]
mod dav;

use std::fs;
use std::time::Duration;

use daemon::{TestDaemon, files, write};
use dav::{DavKind, DavServer};
use serde_json::json;

#[test]
fn a_missing_remote_folder_waits_for_the_choice_to_create_it() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = (d.path("l"), d.path("typo-remote"));
    write(&local.join("a.txt"), b"a");
    // Through the API without the choice: the synchronization says what it
    // needs, and nothing is created meanwhile.
    d.api_ok(
        "POST",
        "/api/syncs",
        Some(&json!({"name": "t", "local": local, "remote": {"type": "folder", "path": remote}})),
    );
    let st = d.wait_state("t", "needs_confirmation");
    let reason = st["reason"].as_str().unwrap();
    assert!(
        reason.contains(&remote.display().to_string()) && reason.contains("does not exist"),
        "{st:#}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(!remote.exists(), "the remote folder was created unasked");
    // Confirming is the choice: created, synchronized.
    d.api_ok("POST", "/api/syncs/t/confirm", Some(&json!({})));
    d.wait_until("a.txt on the new remote", || remote.join("a.txt").exists());
    d.wait_state("t", "synced");

    // With the choice when adding: the first pass creates it.
    let (l2, r2) = (d.path("l2"), d.path("new/remote"));
    write(&l2.join("b.txt"), b"b");
    d.api_ok(
        "POST",
        "/api/syncs",
        Some(
            &json!({"name": "c", "local": l2, "remote": {"type": "folder", "path": r2},
                     "create_remote_root": true}),
        ),
    );
    d.wait_until("b.txt on the new remote", || r2.join("b.txt").exists());
    d.wait_state("c", "synced");
    assert_eq!(files(&l2), files(&r2));

    // `ferry add` without --create: waits; with it: created.
    let (l3, r3) = (d.path("l3"), d.path("r3"));
    fs::create_dir_all(&l3).unwrap();
    let (l3s, r3s) = (l3.display().to_string(), r3.display().to_string());
    let out = d.ferry_ok(&["add", "cli", &l3s, &r3s]);
    assert!(
        out.contains("does not exist") && out.contains("--create"),
        "{out}"
    );
    d.wait_state("cli", "needs_confirmation");
    assert!(!r3.exists());
    let (l4, r4) = (d.path("l4"), d.path("r4"));
    fs::create_dir_all(&l4).unwrap();
    let (l4s, r4s) = (l4.display().to_string(), r4.display().to_string());
    d.ferry_ok(&["add", "cli2", &l4s, &r4s, "--create"]);
    d.wait_state("cli2", "synced");
    assert!(r4.is_dir());
    d.stop();
}

#[test]
fn a_missing_webdav_folder_waits_for_the_choice_to_create_it() {
    let server = DavServer::start(DavKind::Nginx);
    let mut d = TestDaemon::new();
    d.start();
    d.ferry_ok_with_stdin(
        &[
            "account",
            "add",
            &server.parent_url(),
            "--user",
            "alice",
            "--password-stdin",
            "--no-test",
        ],
        b"pw\n",
    );
    let local = d.path("dav-local");
    write(&local.join("a.txt"), b"a");
    let ls = local.display().to_string();
    let url = format!("{}Wrok/", server.url());
    d.ferry_ok(&["add", "dav", &ls, &url, "--poll", "1"]);
    let st = d.wait_state("dav", "needs_confirmation");
    assert!(st["reason"].as_str().unwrap().contains("Wrok"), "{st:#}");
    std::thread::sleep(Duration::from_secs(2));
    assert!(!server.root().join("Wrok").exists());
    d.ferry_ok(&["remove", "dav"]);
    let local2 = d.path("dav-local-2");
    write(&local2.join("b.txt"), b"b");
    let ls2 = local2.display().to_string();
    d.ferry_ok(&["add", "dav2", &ls2, &url, "--poll", "1", "--create"]);
    d.wait_until("b.txt on the server", || {
        server.read("Wrok/b.txt").is_some()
    });
    d.wait_state("dav2", "synced");
    d.stop();
}

#[test]
fn a_url_of_an_unknown_kind_is_refused_by_add_and_the_api() {
    let mut d = TestDaemon::new();
    d.start();
    let local = d.path("l");
    fs::create_dir_all(&local).unwrap();
    let ls = local.display().to_string();
    let out = d.ferry(&["add", "typo", &ls, "htp://host/Work"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(htp://)") && err.contains("https://"),
        "{err}"
    );
    for (local, remote) in [
        (
            json!(local),
            json!({"type": "folder", "path": "htp://host/Work"}),
        ),
        (
            json!("htp://host/Work"),
            json!({"type": "folder", "path": d.path("r")}),
        ),
    ] {
        let (code, v) = d.api(
            "POST",
            "/api/syncs",
            Some(&json!({"name": "typo", "local": local, "remote": remote})),
        );
        assert_eq!(code, 400, "{v:#}");
        assert!(v.to_string().contains("(htp://)"), "{v:#}");
    }
    // Nor is it an account.
    let (code, v) = d.api(
        "POST",
        "/api/accounts",
        Some(&json!({"url": "htp://host/dav/", "user": "u", "password": "pw", "test": false})),
    );
    assert_eq!(code, 400, "{v:#}");
    assert!(v.to_string().contains("(htp://)"), "{v:#}");
    let list = d.api_ok("GET", "/api/syncs", None);
    assert_eq!(list, json!([]));
    assert_eq!(d.api_ok("GET", "/api/accounts", None), json!([]));
    assert!(!d.path("htp:").exists());
    d.stop();
}

#[test]
fn places_are_saved_in_their_normal_form() {
    let mut d = TestDaemon::new();
    d.start();
    let root = fs::canonicalize(d.path("")).unwrap();
    fs::create_dir_all(root.join("real/l")).unwrap();
    fs::create_dir_all(root.join("r")).unwrap();
    std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
    let v = d.api_ok(
        "POST",
        "/api/syncs",
        Some(&json!({"name": "n", "local": root.join("link/x/../l/"),
                     "remote": {"type": "folder", "path": format!("{}/./r/", root.display())}})),
    );
    assert_eq!(v["local"], json!(root.join("real/l")), "{v:#}");
    assert_eq!(v["remote"]["path"], json!(root.join("r")), "{v:#}");
    // The same folder under another name overlaps itself.
    let (code, v) = d.api(
        "POST",
        "/api/syncs",
        Some(&json!({"name": "n2", "local": root.join("real/l"),
                     "remote": {"type": "folder", "path": root.join("r2")}})),
    );
    assert_eq!(code, 409, "{v:#}");
    d.stop();
}
