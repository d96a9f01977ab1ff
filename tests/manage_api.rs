//! The routes the preferences' Synchronizations, Selective sync and
//! Filters pages use, over real HTTP against the real `ferry daemon
//! --headless`: one level of a synchronization's server folders (a folder
//! remote and a real WebDAV server), filter checks by the engine, the
//! built-in rules, the filter preview, opening the local folder, and the
//! "skip new server folders" setting end to end.

// Unix only: real servers and a shell script standing in for xdg-open.
#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/dav.rs"]
mod dav;

use std::fs;
use std::path::PathBuf;

use daemon::{TestDaemon, files, write};
use dav::{DavKind, DavServer};
use serde_json::{Value, json};

/// A folder-remote synchronization added through the CLI, polled every
/// second.
fn add_folder_sync(d: &TestDaemon, name: &str) -> (PathBuf, PathBuf) {
    let local = d.path(&format!("{name}-local"));
    let remote = d.path(&format!("{name}-remote"));
    fs::create_dir_all(&local).unwrap();
    fs::create_dir_all(&remote).unwrap();
    d.ferry_ok(&[
        "add",
        name,
        &local.display().to_string(),
        &remote.display().to_string(),
        "--poll",
        "1",
    ]);
    (local, remote)
}

fn paths(v: &Value) -> Vec<String> {
    v["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_folder_remotes_server_folders_are_listed_one_level_at_a_time() {
    let mut d = TestDaemon::new();
    d.start();
    let (_, remote) = add_folder_sync(&d, "s");
    for dir in [
        "Photos/2019",
        "Photos/2020",
        "Work",
        ".hidden",
        ".ferry-trash/x",
    ] {
        fs::create_dir_all(remote.join(dir)).unwrap();
    }
    write(&remote.join("top.txt"), b"a file, not a folder");
    let top = d.api_ok("GET", "/api/syncs/s/folders", None);
    assert_eq!(top["path"], "");
    assert_eq!(paths(&top), ["Photos", "Work"], "{top:#}");
    let photos = d.api_ok("GET", "/api/syncs/s/folders?path=Photos", None);
    assert_eq!(paths(&photos), ["Photos/2019", "Photos/2020"], "{photos:#}");
    assert_eq!(photos["folders"][0]["name"], "2019");
    // Nothing outside the synchronization's folder can be listed.
    for bad in ["..", "Photos/../..", "Photos//x"] {
        let (status, v) = d.api(
            "GET",
            &format!("/api/syncs/s/folders?path={}", bad.replace('/', "%2F")),
            None,
        );
        assert_eq!(status, 400, "{bad}: {v:#}");
    }
    let (status, _) = d.api("GET", "/api/syncs/s/folders?path=Nope", None);
    assert_eq!(status, 404);
    let (status, _) = d.api("GET", "/api/syncs/other/folders", None);
    assert_eq!(status, 404);
    d.stop();
}

#[test]
fn a_webdav_synchronizations_server_folders_are_read_from_the_server() {
    let server = DavServer::start(DavKind::Nginx);
    server.mkdir("Team/Plans");
    server.mkdir("Team/Archive");
    server.mkdir("Solo");
    server.write("Team/readme.txt", b"x");
    let mut d = TestDaemon::new();
    d.start();
    d.add_account(&server.parent_url(), "s3cret-pw-1234");
    let local = d.path("dav-local");
    d.ferry_ok(&[
        "add",
        "dav",
        &local.display().to_string(),
        &server.url(),
        "--poll",
        "1",
    ]);
    let top = d.api_ok("GET", "/api/syncs/dav/folders?path=", None);
    assert_eq!(paths(&top), ["Solo", "Team"], "{top:#}");
    let team = d.api_ok("GET", "/api/syncs/dav/folders?path=Team", None);
    assert_eq!(paths(&team), ["Team/Archive", "Team/Plans"], "{team:#}");
    let (status, _) = d.api("GET", "/api/syncs/dav/folders?path=Missing", None);
    assert_eq!(status, 404);
    d.stop();
}

#[test]
fn filters_are_checked_rule_by_rule_by_the_engines_compiler() {
    let mut d = TestDaemon::new();
    d.start();
    let v = d.api_ok(
        "POST",
        "/api/filters/check",
        Some(&json!({"filters": [
            {"kind": "glob", "pattern": "*.log"},
            {"kind": "regex", "pattern": "(unclosed"},
            {"kind": "contains", "pattern": ""},
            {"kind": "glob", "pattern": "a[b"},
            {"kind": "ends-with", "pattern": ".bak"},
        ]})),
    );
    assert_eq!(v["ok"], false, "{v:#}");
    let rules = v["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    assert_eq!(rules[0], json!({"ok": true}));
    assert!(
        rules[1]["error"]
            .as_str()
            .unwrap()
            .contains("invalid regular expression '(unclosed'"),
        "{v:#}"
    );
    assert!(
        rules[2]["error"].as_str().unwrap().contains("needs a text"),
        "{v:#}"
    );
    assert!(
        rules[3]["error"].as_str().unwrap().contains("invalid glob"),
        "{v:#}"
    );
    assert_eq!(rules[4], json!({"ok": true}));
    let all_good = d.api_ok(
        "POST",
        "/api/filters/check",
        Some(&json!({"filters": [{"kind": "starts-with", "pattern": "draft"}]})),
    );
    assert_eq!(all_good["ok"], true);
    // A kind the engine does not know is a bad request, not a verdict.
    let (status, _) = d.api(
        "POST",
        "/api/filters/check",
        Some(&json!({"filters": [{"kind": "sounds-like", "pattern": "x"}]})),
    );
    assert_eq!(status, 400);
    d.stop();
}

#[test]
fn the_builtin_rules_are_the_engines() {
    let mut d = TestDaemon::new();
    d.start();
    let v = d.api_ok("GET", "/api/filters/builtin", None);
    let rules: Vec<&str> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let engine: Vec<&str> = ferry::engine::filter::BUILTIN_RULES.to_vec();
    assert_eq!(rules, engine);
    assert!(rules.contains(&"name starts with '.'"));
    d.stop();
}

#[test]
fn the_filter_preview_lists_exactly_the_existing_items_that_would_be_left_out() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "p");
    for f in ["a.log", "b.txt", "sub/c.log", "sub/d.txt", "logs.txt"] {
        write(&local.join(f), b"x");
    }
    d.wait_until("the first pass", || files(&remote).len() == 5);
    d.wait_state("p", "synced");
    // Something only on disk (paused, so it stays unsynchronized) counts
    // too.
    d.api_ok("POST", "/api/syncs/p/pause", Some(&json!({})));
    write(&local.join("new.log"), b"x");
    let filters = json!([{"kind": "ends-with", "pattern": ".log"}]);
    let v = d.api_ok(
        "POST",
        "/api/syncs/p/filters/preview",
        Some(&json!({ "filters": filters })),
    );
    let items: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["a.log", "new.log", "sub/c.log"], "{v:#}");
    assert_eq!(v["count"], 3);
    assert_eq!(v["truncated"], false);
    assert_eq!(v["items"][0]["rule"], "filter ends with '.log'");
    assert_eq!(v["items"][0]["kind"], "file");
    assert_eq!(v["items"][0]["already"], false);
    // Capped, with the count.
    let v = d.api_ok(
        "POST",
        "/api/syncs/p/filters/preview",
        Some(&json!({ "filters": filters, "limit": 1 })),
    );
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (v["count"].as_u64(), v["truncated"].as_bool()),
        (Some(3), Some(true))
    );
    // A folder matched takes what is in it along.
    let v = d.api_ok(
        "POST",
        "/api/syncs/p/filters/preview",
        Some(&json!({"filters": [{"kind": "glob", "pattern": "sub"}]})),
    );
    assert_eq!(v["count"], 3, "{v:#}");
    // Nothing was saved by previewing.
    let cfg = d.api_ok("GET", "/api/syncs/p", None);
    assert_eq!(cfg["config"]["filters"], json!([]));
    // An invalid filter is a clear 400.
    let (status, v) = d.api(
        "POST",
        "/api/syncs/p/filters/preview",
        Some(&json!({"filters": [{"kind": "regex", "pattern": "("}]})),
    );
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("regular expression"));
    d.stop();
}

#[test]
fn opening_the_local_folder_starts_the_file_manager_on_that_folder_only() {
    let mut d = TestDaemon::new();
    // A stand-in for the desktop's opener that records what it is asked.
    let bin = d.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let record = d.path("opened.txt");
    let script = bin.join("xdg-open");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut new_path = bin.clone().into_os_string();
    new_path.push(":");
    new_path.push(path);
    d.set_env("PATH", new_path);
    d.start();
    let (local, _) = add_folder_sync(&d, "o");
    assert_eq!(
        d.api_ok("POST", "/api/syncs/o/open", Some(&json!({}))),
        json!({"ok": true})
    );
    d.wait_until("the opener ran", || record.exists());
    let opened = fs::read_to_string(&record).unwrap();
    assert_eq!(opened.trim(), local.display().to_string());
    // Only a configured synchronization, and only its folder: a path in
    // the body changes nothing.
    let (status, _) = d.api("POST", "/api/syncs/nope/open", Some(&json!({})));
    assert_eq!(status, 404);
    d.api_ok("POST", "/api/syncs/o/open", Some(&json!({"path": "/etc"})));
    d.wait_until("the second open", || {
        fs::read_to_string(&record).unwrap().lines().count() == 2
    });
    assert!(!fs::read_to_string(&record).unwrap().contains("/etc"));
    // A folder that is not there (the synchronization disabled, so that no
    // pass makes it again) is said so.
    d.api_ok("POST", "/api/syncs/o/disable", Some(&json!({})));
    fs::remove_dir_all(&local).unwrap();
    let (status, v) = d.api("POST", "/api/syncs/o/open", Some(&json!({})));
    assert_eq!(status, 409, "{v:#}");
    d.stop();
}

/// The daemon honours `new_folders: skip`: after the first pass a new
/// top-level server folder stays on the server, a new file next to it
/// still comes down, and switching back to `sync` brings the folder.
#[test]
fn a_new_server_folder_is_left_on_the_server_when_new_folders_are_skipped() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "n");
    write(&remote.join("first/a.txt"), b"a");
    d.wait_until("the first pass", || local.join("first/a.txt").exists());
    let cfg = d.api_ok(
        "PATCH",
        "/api/syncs/n",
        Some(&json!({"new_folders": "skip"})),
    );
    assert_eq!(cfg["new_folders"], "skip");
    d.wait_state("n", "synced");
    write(&remote.join("later/b.txt"), b"b");
    write(&remote.join("first/c.txt"), b"c");
    write(&remote.join("top.txt"), b"t");
    d.wait_until("the other changes", || {
        local.join("first/c.txt").exists() && local.join("top.txt").exists()
    });
    d.api_ok("POST", "/api/syncs/n/run", Some(&json!({"wait": true})));
    assert!(!local.join("later").exists());
    assert!(remote.join("later/b.txt").exists());
    d.api_ok(
        "PATCH",
        "/api/syncs/n",
        Some(&json!({"new_folders": "sync"})),
    );
    d.wait_until("the folder comes", || local.join("later/b.txt").exists());
    d.stop();
}
