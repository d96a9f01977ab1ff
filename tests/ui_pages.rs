//! Every page of the preferences UI, in a real headless Chromium against the
//! real daemon with a realistic configuration (a WebDAV account and
//! synchronization, a folder synchronization with a conflict, a log): each
//! page draws without a fault (none reported by the page, no script error),
//! and with `FERRY_SCREENSHOTS=DIR` its picture is saved there
//! (`scripts/screenshots.sh` uses that for `docs/screenshots/`).

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;

#[path = "common/browser.rs"]
mod browser;

#[path = "common/dav.rs"]
mod dav;

use std::time::Duration;

use browser::Browser;
use daemon::{TestDaemon, write};
use dav::{DavKind, DavServer};

const PAGES: &[(&str, &str)] = &[
    ("syncs", "#/syncs"),
    ("assistant", "#/assistant"),
    ("selective", "#/selective/Documents"),
    ("filters", "#/filters/Documents"),
    ("conflicts", "#/conflicts"),
    ("transfers", "#/transfers"),
    ("accounts", "#/accounts"),
    ("settings", "#/settings"),
];

#[test]
fn every_page_draws_without_a_fault() {
    let server = DavServer::start(DavKind::DavServer);
    for dir in [
        "Documents",
        "Documents/Reports",
        "Documents/Photos",
        "Archive",
    ] {
        server.mkdir(dir);
    }
    server.write("Documents/Reports/q3.txt", b"third quarter");
    server.write("Documents/plan.txt", b"the plan");
    let mut d = TestDaemon::new();
    d.start();
    // A WebDAV account and synchronization.
    d.add_account(&server.url(), "secret");
    let docs = d.path("home/Documents");
    std::fs::create_dir_all(&docs).unwrap();
    write(&docs.join("notes.txt"), b"my notes");
    d.ferry_ok(&[
        "add",
        "Documents",
        docs.to_str().unwrap(),
        &format!("{}Documents", server.url()),
    ]);
    d.wait_state("Documents", "synced");
    // A folder synchronization with a conflict.
    let local = d.path("home/Photos");
    let remote = d.path("backup/Photos");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::create_dir_all(&remote).unwrap();
    d.ferry_ok(&[
        "add",
        "Photos",
        local.to_str().unwrap(),
        remote.to_str().unwrap(),
        "--no-live",
    ]);
    write(&local.join("trip.txt"), b"base");
    d.ferry_ok(&["run", "Photos"]);
    std::thread::sleep(Duration::from_millis(1100));
    write(&local.join("trip.txt"), b"mine");
    write(&remote.join("trip.txt"), b"theirs!");
    d.ferry_ok(&["run", "Photos"]);

    let shots = std::env::var_os("FERRY_SCREENSHOTS").map(std::path::PathBuf::from);
    let b = Browser::start();
    b.login(&d);
    for (name, hash) in PAGES {
        b.open(&d, hash);
        let root = format!("[data-test=page-{name}]");
        b.wait_for(&root);
        b.wait_until(&format!("{name} loaded"), || {
            b.count(&format!("{root} .loading")) == 0 && b.count(".page > .loading") == 0
        });
        // Let the page's requests land.
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            b.count("[data-test=page-error]"),
            0,
            "{name}: {}",
            b.page_text()
        );
        let errors = b.js("return window.ferryErrors", vec![]);
        assert_eq!(errors, serde_json::json!([]), "{name}: script errors");
        assert!(
            b.text(&root).trim().len() > 20,
            "{name} shows next to nothing: {}",
            b.text(&root)
        );
        if let Some(dir) = &shots {
            b.screenshot(&dir.join(format!("{name}.png")));
        }
    }
}
