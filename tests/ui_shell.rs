//! The preferences UI's shell in a real headless Chromium against the real
//! daemon: what needs the user shows on every page, with the button that
//! resolves it.

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;

#[path = "common/browser.rs"]
mod browser;

use browser::Browser;
use daemon::{TestDaemon, files, write};

#[test]
fn a_guard_waiting_for_confirmation_is_shown_on_every_page_and_confirmed_from_there() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = d.add_folder_sync("guarded");
    for i in 0..10 {
        write(&local.join(format!("f{i}.txt")), b"x");
    }
    d.wait_until("the first sync", || files(&remote).len() == 10);
    d.wait_state("guarded", "synced");
    let b = Browser::start();
    b.login_to(&d, Some("settings"));
    assert_eq!(b.count("[data-test=alert]"), 0, "nothing to say yet");
    for i in 0..8 {
        std::fs::remove_file(local.join(format!("f{i}.txt"))).unwrap();
    }
    d.wait_state("guarded", "needs_confirmation");
    // It reaches the page by itself (the event stream), on a page that is
    // not the synchronizations'.
    let alert = b.wait_text(
        "[data-test=alert]",
        "guarded is waiting for your confirmation",
    );
    assert!(alert.contains("delete 8"), "{alert}");
    assert_eq!(files(&remote).len(), 10, "nothing deleted while it waits");
    b.click("[data-test=alert-confirm]");
    d.wait_until("the deletions", || files(&remote).len() == 2);
    d.wait_state("guarded", "synced");
    b.wait_gone("[data-test=alert]");
    // The deleted files are in the remote's trash, not gone.
    assert_eq!(files(&remote.join(".ferry-trash")).len(), 8);
}

/// A synchronization `name` of `d`'s `local` to a WebDAV server that does
/// not answer (nothing listens on its port).
fn offline_sync(d: &TestDaemon, name: &str) {
    let local = d.path(name);
    std::fs::create_dir_all(&local).unwrap();
    let url = d.unreachable_account();
    d.ferry_ok(&["add", name, local.to_str().unwrap(), &format!("{url}docs")]);
}

#[test]
fn an_offline_synchronization_is_shown_with_a_retry_button() {
    let mut d = TestDaemon::new();
    d.start();
    offline_sync(&d, "far");
    let b = Browser::start();
    b.login(&d);
    let alert = b.wait_text("[data-test=alert]", "far is offline");
    assert!(alert.contains("retrying in"), "{alert}");
    b.click("[data-test=alert-retry]");
    // Still offline after the retry, and said so again.
    b.wait_text("[data-test=alert]", "far is offline");
}

#[test]
fn an_alert_keeps_its_button_when_another_alert_arrives() {
    // The alerts are redrawn as states change; a button replaced under the
    // user's pointer would lose the click.
    let mut d = TestDaemon::new();
    d.start();
    offline_sync(&d, "far");
    let b = Browser::start();
    b.login(&d);
    b.wait_text("[data-test=alert]", "far is offline");
    let retry = b.wait_for("[data-test=alert][data-sync=far] [data-test=alert-retry]");
    offline_sync(&d, "farther");
    b.wait_text("[data-test=alert]", "farther is offline");
    b.click_held(&retry, "far's Retry button, found before the second alert");
    b.wait_text("[data-test=alert]", "far is offline");
}

#[test]
fn leaving_and_coming_back_many_times_never_stalls_the_page() {
    // Browsers allow six connections per server: a page kept in the
    // back-forward cache with its event stream open held one each time,
    // and the seventh visit waited forever for its data.
    let mut d = TestDaemon::new();
    d.start();
    d.add_folder_sync("docs");
    d.wait_state("docs", "synced");
    let b = Browser::start();
    b.login(&d);
    let (port, _) = d.endpoint();
    for visit in 0..10 {
        b.goto("about:blank");
        b.goto(&format!("http://127.0.0.1:{port}/#/syncs"));
        b.wait_until(&format!("visit {visit} shows the synchronization"), || {
            b.count("article.sync") == 1
        });
    }
}
