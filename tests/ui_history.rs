//! The preferences' conflicts and transfers pages in a real headless
//! Chromium, against the real daemon on temp folders: a real conflict
//! (both sides changed between passes) resolved each way from the page,
//! opening either version, and the log's filters, search, paging and live
//! rows.

// Unix only: the daemon harness (keyctl), a stand-in `xdg-open`.
#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;

#[path = "common/browser.rs"]
mod browser;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use browser::Browser;
use daemon::{TestDaemon, files, write};
use serde_json::Value;

/// A folder-remote synchronization without watchers: passes run when the
/// test says so.
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
        "--no-live",
    ]);
    (local, remote)
}

/// Change `doc.txt` on both sides between two passes: a conflict.
fn make_conflict(d: &TestDaemon, local: &Path, remote: &Path, mine: &[u8], theirs: &[u8]) {
    // Modification times must differ from the base's (whole seconds on
    // some file systems).
    std::thread::sleep(Duration::from_millis(1100));
    write(&local.join("doc.txt"), mine);
    write(&remote.join("doc.txt"), theirs);
    d.ferry_ok(&["run", "c"]);
}

/// The conflicted copy in `dir` (the one file besides `doc.txt`).
fn copies(dir: &Path) -> Vec<String> {
    files(dir).into_keys().filter(|k| k != "doc.txt").collect()
}

#[test]
fn a_real_conflict_is_resolved_each_way_from_the_conflicts_page() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "c");
    {
        write(&local.join("doc.txt"), b"base");
        d.ferry_ok(&["run", "c"]);
        make_conflict(&d, &local, &remote, b"mine", b"theirs!");
    }
    assert_eq!(copies(&local).len(), 1, "{:?}", files(&local).keys());

    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/conflicts");
    browser.wait_text("[data-test=conflict-path]", "doc.txt");
    // Both versions, with where each came from and its size.
    browser.wait_text("[data-test=version-local] [data-test=version-size]", "4");
    browser.wait_text("[data-test=version-remote] [data-test=version-size]", "7");
    let copy = copies(&local).remove(0);
    browser.wait_text("[data-test=version-local] [data-test=version-path]", &copy);
    browser.wait_text("[data-test=conflict-policy]", "Both versions were kept");

    // 1. This computer's version: the copy replaces the file.
    browser.click("[data-test=conflict] [data-test=use-local]");
    browser.wait_gone("[data-test=conflict]");
    assert_eq!(fs::read(local.join("doc.txt")).unwrap(), b"mine");
    assert!(copies(&local).is_empty(), "{:?}", files(&local).keys());
    {
        d.ferry_ok(&["run", "c"]);
        d.ferry_ok(&["run", "c"]);
    }
    assert_eq!(fs::read(remote.join("doc.txt")).unwrap(), b"mine");
    assert_eq!(files(&local), files(&remote));

    // 2. The other side's version: the copy goes to the trash. The page
    // hears of the new conflict from the event stream.
    make_conflict(&d, &local, &remote, b"mine 2", b"theirs 2!!");
    browser.wait_text("[data-test=conflict-path]", "doc.txt");
    browser.click("[data-test=conflict] [data-test=use-remote]");
    browser.wait_gone("[data-test=conflict]");
    assert_eq!(fs::read(local.join("doc.txt")).unwrap(), b"theirs 2!!");
    assert!(copies(&local).is_empty(), "{:?}", files(&local).keys());
    {
        d.ferry_ok(&["run", "c"]);
        d.ferry_ok(&["run", "c"]);
    }
    assert_eq!(fs::read(remote.join("doc.txt")).unwrap(), b"theirs 2!!");
    assert_eq!(files(&local), files(&remote));

    // 3. Keep both: both files stay, and reach the other side.
    make_conflict(&d, &local, &remote, b"mine 3", b"theirs 3!!!");
    browser.wait_text("[data-test=conflict-path]", "doc.txt");
    browser.click("[data-test=conflict] [data-test=use-both]");
    browser.wait_gone("[data-test=conflict]");
    assert_eq!(fs::read(local.join("doc.txt")).unwrap(), b"theirs 3!!!");
    let kept = copies(&local);
    assert_eq!(kept.len(), 1, "{:?}", files(&local).keys());
    assert_eq!(fs::read(local.join(&kept[0])).unwrap(), b"mine 3");
    d.ferry_ok(&["run", "c"]);
    assert_eq!(files(&local), files(&remote));
    browser.wait_text("[data-test=conflicts-status]", "No conflicts");
    browser.close();
    d.stop();
}

#[test]
fn either_version_opens_with_the_desktops_application_and_nothing_outside_the_folder() {
    let mut d = TestDaemon::new();
    // A stand-in for the desktop's opener: it writes down what it was
    // asked to open.
    let bin = d.path("bin");
    fs::create_dir_all(&bin).unwrap();
    let opened = d.path("opened.txt");
    let script = bin.join("xdg-open");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            opened.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.clone()];
    paths.extend(std::env::split_paths(&path));
    d.set_env("PATH", std::env::join_paths(paths).unwrap());
    d.start();
    let (local, remote) = add_folder_sync(&d, "c");
    {
        write(&local.join("doc.txt"), b"base");
        d.ferry_ok(&["run", "c"]);
        make_conflict(&d, &local, &remote, b"mine", b"theirs!");
    }
    let copy = copies(&local).remove(0);
    let opened_lines = || fs::read_to_string(&opened).unwrap_or_default();

    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/conflicts");
    browser.wait_text("[data-test=conflict-path]", "doc.txt");
    // Both buttons as the user sees them: opening one file must not redraw
    // the page under the pointer.
    let open_remote = browser.wait_for("[data-test=open-remote]");
    browser.click("[data-test=open-local]");
    {
        d.wait_until("the copy opened", || {
            opened_lines().contains(&local.join(&copy).display().to_string())
        })
    }
    browser.wait_gone("[data-test=page-conflicts].busy");
    std::thread::sleep(std::time::Duration::from_millis(500));
    browser.click_held(
        &open_remote,
        "the other Open button, found before the first",
    );
    {
        d.wait_until("the file opened", || {
            opened_lines()
                .lines()
                .any(|l| l == local.join("doc.txt").display().to_string())
        })
    }
    // Never a path outside the synchronization's folder.
    std::os::unix::fs::symlink("/etc", local.join("system")).unwrap();
    for bad in [
        "../c-remote/doc.txt",
        "/etc/passwd",
        "system/passwd",
        "a/./b",
    ] {
        let (code, v): (u16, Value) = d.api(
            "POST",
            "/api/open",
            Some(&serde_json::json!({"sync": "c", "path": bad})),
        );
        assert!(code == 400 || code == 404, "{bad}: {code} {v:#}");
    }
    assert_eq!(opened_lines().lines().count(), 2, "{}", opened_lines());
    browser.close();
    d.stop();
}

/// The rows the page shows: (sync, path) of each.
fn page_rows(browser: &Browser) -> Vec<(String, String)> {
    let syncs = browser.texts("[data-test=log-row] [data-test=log-sync]");
    let paths = browser.texts("[data-test=log-row] [data-test=log-path]");
    syncs.into_iter().zip(paths).collect()
}

/// The same rows from the API.
fn api_rows(d: &TestDaemon, query: &str) -> Vec<(String, String)> {
    let v = d.api_ok("GET", &format!("/api/log?{query}"), None);
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sync"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Wait until the page shows `want` (the page loads after each change).
fn wait_rows(browser: &Browser, want: &[(String, String)]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = page_rows(browser);
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page shows {got:?}, the API {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_logs_filters_search_paging_and_live_rows_give_the_right_rows() {
    let mut d = TestDaemon::new();
    d.start();
    let (a, _) = add_folder_sync(&d, "alpha");
    let (b, _) = add_folder_sync(&d, "beta");
    {
        for i in 0..60 {
            write(&a.join(format!("photos/img-{i:02}.jpg")), b"jpeg");
        }
        write(&a.join("notes/plan.txt"), b"plan");
        write(&b.join("report-final.txt"), b"report");
        write(&b.join("old.txt"), b"old");
        d.ferry_ok(&["run", "alpha"]);
        d.ferry_ok(&["run", "beta"]);
        fs::remove_file(b.join("old.txt")).unwrap();
        d.ferry_ok(&["run", "beta"]);
    }

    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/transfers");
    // The newest page: 50 lines, newest first, as the API says.
    let want = api_rows(&d, "limit=50");
    assert_eq!(want.len(), 50);
    wait_rows(&browser, &want);
    // The older page.
    browser.click("[data-test=page-older]");
    let want = api_rows(&d, "offset=50&limit=50");
    assert!(!want.is_empty());
    wait_rows(&browser, &want);
    browser.click("[data-test=page-newer]");

    // Filtered by synchronization.
    let beta_id = d.api_ok("GET", "/api/syncs/beta", None)["config"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    browser.select("[data-test=filter-sync]", &beta_id);
    let want = api_rows(&d, "sync=beta&limit=50");
    assert!(want.iter().all(|(s, _)| s == "beta"), "{want:?}");
    assert_eq!(want.len(), 3, "{want:?}");
    wait_rows(&browser, &want);
    // …and by action: the deletion only.
    browser.select("[data-test=filter-action]", "delete");
    wait_rows(&browser, &[("beta".into(), "old.txt".into())]);
    // Back to every synchronization and action; a search.
    browser.select("[data-test=filter-sync]", "");
    browser.select("[data-test=filter-action]", "");
    browser.fill("[data-test=search]", "PLAN");
    wait_rows(&browser, &[("alpha".into(), "notes/plan.txt".into())]);
    browser.fill("[data-test=search]", "img-4");
    let want = api_rows(&d, "search=img-4&limit=50");
    assert_eq!(want.len(), 10, "{want:?}");
    wait_rows(&browser, &want);
    browser.fill("[data-test=search]", "no such file");
    wait_rows(&browser, &[]);
    browser.wait_text("[data-test=log-status]", "No lines match");

    // Live: a new transfer appears without reloading the page (searched
    // for: an emptied field sends no input event through WebDriver).
    browser.fill("[data-test=search]", "fresh");
    browser.wait_text("[data-test=log-status]", "No lines match");
    {
        write(&b.join("fresh-news.txt"), b"new");
        d.ferry_ok(&["run", "beta"]);
    }
    browser.wait_text("[data-test=log-rows]", "fresh-news.txt");
    let want = api_rows(&d, "search=fresh&limit=50");
    assert_eq!(want, [("beta".to_string(), "fresh-news.txt".to_string())]);
    wait_rows(&browser, &want);
    // The recent files list has it too.
    browser.wait_text("[data-test=recent]", "fresh-news.txt");
    browser.close();
    d.stop();
}
