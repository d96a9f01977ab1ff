//! The Synchronizations, Selective sync and Filters pages in a real
//! headless Chromium against the real daemon (folder remotes on temp
//! folders, or a real WebDAV server from the suite): selective sync
//! deselects a folder (its local copy in the trash, the server's untouched)
//! and selects it again, a filter's preview and effect, a guard stop
//! confirmed from the page, the simulation's report with its reasons, and
//! run / pause / resume showing in the live state without a reload.

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;

#[path = "common/browser.rs"]
mod browser;

#[path = "common/dav.rs"]
mod dav;

use std::fs;
use std::path::{Path, PathBuf};

use browser::Browser;
use daemon::{TestDaemon, files, write};
use dav::{DavKind, DavServer};
use serde_json::json;

/// A folder-remote synchronization added through the CLI.
fn add_folder_sync(d: &TestDaemon, name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
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

/// Every file in the daemon's desktop trash (its temp home's
/// `~/.local/share/Trash/files`), relative paths.
fn trashed(d: &TestDaemon) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let root = d.path("home/.local/share/Trash/files");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn card(name: &str, inner: &str) -> String {
    format!("[data-test=\"sync-{name}\"] [data-test=\"{inner}\"]")
}

#[test]
fn selective_sync_deselects_a_folder_to_the_trash_and_selects_it_again() {
    let server = DavServer::start(DavKind::Nginx);
    server.write("Keep/k.txt", b"keep");
    server.write("Drop/d.txt", b"drop");
    server.write("Drop/Sub/s.txt", b"sub");
    let d = TestDaemon::started();
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
    d.wait_until("the first pass", || {
        local.join("Drop/Sub/s.txt").exists() && local.join("Keep/k.txt").exists()
    });
    d.wait_state("dav", "synced");

    let b = Browser::start();
    b.login(&d);
    b.open(&d, "#/selective/dav");
    // The server's first level, every folder checked.
    b.wait_for("[data-test=\"check-Drop\"]");
    assert_eq!(
        b.prop("[data-test=\"check-Drop\"]", "checked").as_deref(),
        Some("true")
    );
    assert_eq!(
        b.count("[data-test=\"check-Drop/Sub\"]"),
        0,
        "one level at a time"
    );
    b.click("[data-test=\"check-Drop\"]");
    b.click("[data-test=save]");
    // Said plainly before anything happens.
    let said = b.text("[data-test=confirm-box]");
    assert!(said.contains("goes to the trash"), "{said}");
    assert!(said.contains("the server keeps them"), "{said}");
    assert_eq!(b.text("[data-test=confirm-gone]"), "Drop");
    b.click("[data-test=confirm-save]");
    d.wait_until("the local copy goes", || !local.join("Drop").exists());
    // In the desktop's trash, not gone; the server untouched; the rest
    // stays.
    let trash = trashed(&d);
    assert!(
        trash.iter().any(|p| p.ends_with("Drop/d.txt"))
            && trash.iter().any(|p| p.ends_with("Drop/Sub/s.txt")),
        "{trash:?}"
    );
    assert_eq!(server.read("Drop/d.txt").as_deref(), Some(&b"drop"[..]));
    assert_eq!(server.read("Drop/Sub/s.txt").as_deref(), Some(&b"sub"[..]));
    assert!(local.join("Keep/k.txt").exists());
    assert_eq!(
        d.api_ok("GET", "/api/syncs/dav", None)["config"]["deselected"],
        json!(["Drop"])
    );

    // Select it again, but leave its sub-folder out: the folder shows as
    // partly selected.
    b.open(&d, "#/selective/dav");
    b.wait_for("[data-test=\"check-Drop\"]");
    assert_eq!(
        b.prop("[data-test=\"check-Drop\"]", "checked").as_deref(),
        Some("false")
    );
    b.click("[data-test=\"expand-Drop\"]");
    b.wait_for("[data-test=\"check-Drop/Sub\"]");
    assert_eq!(
        b.prop("[data-test=\"check-Drop/Sub\"]", "checked")
            .as_deref(),
        Some("false"),
        "inside a folder left out"
    );
    b.click("[data-test=\"check-Drop\"]");
    assert_eq!(
        b.prop("[data-test=\"check-Drop/Sub\"]", "checked")
            .as_deref(),
        Some("true")
    );
    b.click("[data-test=\"check-Drop/Sub\"]");
    assert_eq!(
        b.prop("[data-test=\"check-Drop\"]", "indeterminate")
            .as_deref(),
        Some("true")
    );
    b.click("[data-test=save]");
    assert_eq!(b.text("[data-test=confirm-back]"), "Drop");
    b.click("[data-test=confirm-save]");
    d.wait_until("the folder comes back", || {
        local.join("Drop/d.txt").exists()
    });
    assert_eq!(fs::read(local.join("Drop/d.txt")).unwrap(), b"drop");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(!local.join("Drop/Sub").exists());
    assert_eq!(
        d.api_ok("GET", "/api/syncs/dav", None)["config"]["deselected"],
        json!(["Drop/Sub"])
    );
    b.close();
}

#[test]
fn a_filters_preview_lists_exactly_the_matching_items_and_saving_keeps_new_ones_home() {
    let d = TestDaemon::started();
    let (local, remote) = add_folder_sync(&d, "p", &[]);
    for f in ["a.log", "b.txt", "sub/c.log", "sub/d.txt", "logbook.txt"] {
        write(&local.join(f), b"x");
    }
    d.wait_until("the first pass", || files(&remote).len() == 5);
    d.wait_state("p", "synced");

    let b = Browser::start();
    b.login(&d);
    b.open(&d, "#/filters/p");
    // The built-in rules, read-only, as the engine states them.
    let builtin = b.text("[data-test=builtin]");
    for rule in ferry::engine::filter::BUILTIN_RULES {
        assert!(builtin.contains(rule), "{rule} missing from {builtin}");
    }
    b.click("[data-test=add-rule]");
    // An expert rule that does not compile says so as it is typed.
    b.select("[data-test=rule-kind-0]", "regex");
    b.fill("[data-test=rule-pattern-0]", "(log");
    b.wait_text("[data-test=rule-error-0]", "invalid regular expression");
    b.wait_for("[data-test=preview-invalid]");
    b.select("[data-test=rule-kind-0]", "ends-with");
    b.fill("[data-test=rule-pattern-0]", ".log");
    b.wait_until("the preview", || {
        b.js(
                "const e = document.querySelector('[data-test=preview-count]'); return e ? e.dataset.count : null;",
                vec![],
            ) == json!("2")
    });
    assert_eq!(b.text("[data-test=rule-error-0]"), "");
    let listed = b.js(
        "return [...document.querySelectorAll('[data-test=preview-item]')].map(e => e.dataset.path);",
        vec![],
    );
    assert_eq!(listed, json!(["a.log", "sub/c.log"]));
    // Nothing is saved by the preview.
    assert_eq!(
        d.api_ok("GET", "/api/syncs/p", None)["config"]["filters"],
        json!([])
    );
    b.click("[data-test=save]");
    b.wait_text("[data-test=save-status]", "Saved");
    assert_eq!(
        d.api_ok("GET", "/api/syncs/p", None)["config"]["filters"],
        json!([{"kind": "ends-with", "pattern": ".log"}])
    );
    // The effect: a new matching file stays home, the rest still goes.
    d.wait_state("p", "synced");
    write(&local.join("new.log"), b"n");
    write(&local.join("new.txt"), b"n");
    d.wait_until("new.txt sent", || remote.join("new.txt").exists());
    d.api_ok("POST", "/api/syncs/p/run", Some(&json!({"wait": true})));
    assert!(!remote.join("new.log").exists());
    // What was sent before stays on the server.
    assert!(remote.join("a.log").exists());
    b.close();
}

#[test]
fn a_guard_stop_is_confirmed_from_the_page_and_the_deletions_happen() {
    let d = TestDaemon::started();
    let (local, remote) = add_folder_sync(&d, "guarded", &[]);
    for i in 0..10 {
        write(&local.join(format!("f{i}.txt")), b"x");
    }
    d.wait_until("the first sync", || files(&remote).len() == 10);
    d.wait_state("guarded", "synced");
    let b = Browser::start();
    b.login(&d);
    b.wait_text(&card("guarded", "state"), "Up to date");
    for i in 0..8 {
        fs::remove_file(local.join(format!("f{i}.txt"))).unwrap();
    }
    // The guard's sentence, with its counts, and the button that resolves
    // it, on the page by themselves (the event stream).
    let guard = b.wait_text(&card("guarded", "guard"), "delete 8");
    assert!(guard.contains("10"), "{guard}");
    assert_eq!(files(&remote).len(), 10, "nothing deleted while it waits");
    b.click(&card("guarded", "confirm"));
    d.wait_until("the deletions", || files(&remote).len() == 2);
    b.wait_text(&card("guarded", "state"), "Up to date");
    b.wait_gone(&card("guarded", "guard"));
    // In the remote's trash, not gone.
    assert_eq!(files(&remote.join(".ferry-trash")).len(), 8);
    b.close();
}

#[test]
fn simulate_shows_the_report_with_the_reason_for_each_item() {
    let d = TestDaemon::started();
    let (local, remote) = add_folder_sync(&d, "sim", &["--no-live"]);
    write(&local.join("old.txt"), b"old");
    d.api_ok("POST", "/api/syncs/sim/run", Some(&json!({"wait": true})));
    assert!(remote.join("old.txt").exists());
    write(&local.join("new.txt"), b"new");
    fs::remove_file(remote.join("old.txt")).unwrap();
    let b = Browser::start();
    b.login(&d);
    b.click(&card("sim", "simulate"));
    b.wait_for("[data-test=report-table]");
    let rows = b.texts("[data-test=report-table] [data-test=op]");
    let upload = rows
        .iter()
        .find(|r| r.contains("new.txt"))
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert!(upload.contains("upload"), "{upload}");
    let delete = rows
        .iter()
        .find(|r| r.contains("old.txt"))
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert!(
        delete.contains("delete on this computer") && delete.contains("deleted on the other side"),
        "{delete}"
    );
    // Every reason cell says something, and each item has its "why?".
    for reason in b.texts("[data-test=op-reason]") {
        assert!(!reason.trim().is_empty(), "{rows:?}");
    }
    assert_eq!(
        b.count("[data-test=report-table] [data-test=why]"),
        rows.len()
    );
    b.click("[data-test=report-table] [data-test=why]");
    b.wait_for("[data-test=dialog] h2");
    // Nothing was touched.
    assert!(local.join("old.txt").exists());
    assert!(!remote.join("new.txt").exists());
    b.close();
}

#[test]
fn run_now_pause_and_resume_show_in_the_live_state_without_a_reload() {
    let d = TestDaemon::started();
    let (local, remote) = add_folder_sync(&d, "live", &["--no-live"]);
    d.api_ok("POST", "/api/syncs/live/run", Some(&json!({"wait": true})));
    let b = Browser::start();
    b.login(&d);
    b.wait_text(&card("live", "state"), "Up to date");
    // A mark that a reload would wipe.
    b.js("window.ferryTestMark = 42; return null;", vec![]);
    write(&local.join("one.txt"), b"1");
    b.click(&card("live", "run"));
    d.wait_until("one.txt sent", || remote.join("one.txt").exists());
    b.wait_text(&card("live", "last-pass"), "1 sent");
    b.click(&card("live", "pause"));
    b.wait_text(&card("live", "state"), "Paused");
    assert_eq!(d.sync_status("live")["state"], "paused");
    b.wait_for(&card("live", "resume"));
    b.click(&card("live", "resume"));
    b.wait_text(&card("live", "state"), "Up to date");
    assert_eq!(b.js("return window.ferryTestMark;", vec![]), json!(42));
    b.close();
}

#[test]
fn with_no_synchronization_the_home_page_leads_to_the_assistant() {
    let d = TestDaemon::started();
    let b = Browser::start();
    b.login(&d);
    b.wait_text("[data-test=empty]", "No synchronization yet");
    b.click("[data-test=add-first]");
    b.wait_until("the assistant", || b.url().ends_with("#/assistant"));
    b.close();
}

#[test]
fn removing_says_both_folders_are_kept_and_keeps_them() {
    let d = TestDaemon::started();
    let (local, remote) = add_folder_sync(&d, "gone", &[]);
    write(&local.join("a.txt"), b"a");
    d.wait_until("a.txt sent", || remote.join("a.txt").exists());
    let b = Browser::start();
    b.login(&d);
    b.click(&card("gone", "remove"));
    let said = b.text(&card("gone", "remove-confirm"));
    assert!(said.contains("Both folders are kept"), "{said}");
    b.click(&card("gone", "remove-yes"));
    b.wait_for("[data-test=empty]");
    assert!(local.join("a.txt").exists() && remote.join("a.txt").exists());
    b.close();
}
