//! The tray under a real X server (`Xvfb`), a real tray host (`trayer`), a
//! private D-Bus session bus and a real `ferry daemon`: the menu is read and
//! chosen **through D-Bus** (`com.canonical.dbusmenu` on the app
//! indicator's menu object), never through pixels.
//!
//! Needs Debian `xvfb trayer dbus libgtk-3-dev libayatana-appindicator3-1`
//! (see `scripts/test.sh`).

#![cfg(all(feature = "tray", target_os = "linux"))]

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/desktop.rs"]
mod desktop;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use daemon::{PATIENCE, TestDaemon};
use desktop::{Desktop, Tray, start_on_desktop, start_tray, wait_exit};
use ferry::tray::menu::IconState;
use serde_json::Value;

#[test]
fn the_tray_menu_on_dbus_shows_the_state_and_pause_all_pauses_the_daemon() {
    let mut d = TestDaemon::new();
    d.start();
    for name in ["Docs", "Photos"] {
        let local = d.path(&format!("{name}-local"));
        let remote = d.path(&format!("{name}-remote"));
        std::fs::create_dir_all(&local).unwrap();
        std::fs::create_dir_all(&remote).unwrap();
        d.ferry_ok(&[
            "add",
            name,
            &local.display().to_string(),
            &remote.display().to_string(),
            "--poll",
            "1",
        ]);
        d.wait_state(name, "synced");
    }
    let desktop = Desktop::start(d.dir.path());
    let tray = start_tray(&d, &desktop);

    let menu = tray.wait_menu("up to date", |l| {
        l.first().map(String::as_str) == Some("[Up to date]")
    });
    assert_eq!(
        menu,
        [
            "[Up to date]",
            "---",
            "Pause all",
            "Sync now",
            "---",
            "[Recent files]",
            "Open folder",
            "  Docs",
            "  Photos",
            "---",
            "Preferences…",
            "Quit Ferry",
        ]
    );

    tray.wait_icon(IconState::Synced);

    let clicked = Instant::now();
    tray.click("Pause all");
    for name in ["Docs", "Photos"] {
        d.wait_state(name, "paused");
    }
    // The tray follows the daemon's events: the menu turns to Resume all.
    let menu = tray.wait_menu("paused", |l| {
        l.first().map(String::as_str) == Some("[Paused]")
    });
    eprintln!(
        "Pause all chosen to the menu showing Paused: {} ms",
        clicked.elapsed().as_millis()
    );
    assert!(menu.contains(&"Resume all".to_string()), "{menu:#?}");
    assert!(menu.contains(&"[Sync now]".to_string()), "{menu:#?}");
    tray.wait_icon(IconState::Paused);

    tray.click("Resume all");
    for name in ["Docs", "Photos"] {
        d.wait_until(&format!("{name} resumed"), || {
            d.sync_status(name)["state"] != "paused"
        });
    }
    tray.wait_menu("resumed", |l| l.contains(&"Pause all".to_string()));
}

#[test]
fn quit_ferry_in_the_tray_menu_ends_the_tray() {
    let mut d = TestDaemon::new();
    d.start();
    let desktop = Desktop::start(d.dir.path());
    let mut tray = start_tray(&d, &desktop);
    let menu = tray.wait_menu("empty", |l| {
        l.first().map(String::as_str) == Some("[No folders synchronized yet]")
    });
    assert!(menu.contains(&"[Pause all]".to_string()), "{menu:#?}");
    if let Err(e) = tray.try_click("Quit Ferry") {
        // It may be gone before it answers.
        assert!(e.contains("disconnected"), "{e}");
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = tray.proc.0.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the tray did not quit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ferry_with_no_command_shows_the_tray_of_its_own_daemon_and_quit_ferry_stops_both() {
    // The test's daemon is not started: `ferry` is the daemon here.
    let d = TestDaemon::new();
    let desktop = Desktop::start(d.dir.path());
    let mut ferry = start_on_desktop(&d, &desktop, &[]);
    tray_menu_is_empty(&ferry);
    // The daemon runs in the same process and answers the CLI.
    let out = d.cli(&["status"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second `ferry` opens the running one's preferences instead of
    // failing (with no browser to open here, it prints the link).
    let second = d
        .cli(&[])
        .env_remove("DISPLAY")
        .env_remove("BROWSER")
        .output()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let said = String::from_utf8_lossy(&second.stdout);
    assert!(
        said.contains("Open this link") && said.contains("/login?code="),
        "{said}"
    );

    if let Err(e) = ferry.try_click("Quit Ferry") {
        assert!(e.contains("disconnected"), "{e}");
    }
    let status = wait_exit(&mut ferry.proc, "Quit Ferry did not stop ferry");
    assert!(status.success(), "{status}");
    // Stopped cleanly: the port file is gone, the CLI finds no daemon.
    assert!(
        !d.data_dir().join("api.port").exists(),
        "the port file outlived ferry"
    );
    let after = d.cli(&["status"]).output().unwrap();
    assert!(
        !after.status.success(),
        "a daemon still answers after Quit Ferry"
    );
}

#[test]
fn a_signal_that_stops_ferry_takes_its_tray_with_it() {
    let d = TestDaemon::new();
    let desktop = Desktop::start(d.dir.path());
    let mut ferry = start_on_desktop(&d, &desktop, &[]);
    tray_menu_is_empty(&ferry);
    let pid = ferry.proc.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_exit(
        &mut ferry.proc,
        "ferry went on after SIGTERM (the tray held the main thread)",
    );
    assert!(status.success(), "{status}");
}

/// The menu of a Ferry with no synchronization yet.
fn tray_menu_is_empty(tray: &Tray<'_>) {
    let menu = tray.wait_menu("empty", |l| {
        l.first().map(String::as_str) == Some("[No folders synchronized yet]")
    });
    assert!(menu.contains(&"Quit Ferry".to_string()), "{menu:#?}");
}

// -------------------------------------------------------- notifications --

/// A notification server for the test: owns `org.freedesktop.Notifications`
/// on the private bus and records each `Notify` (summary, body, when).
struct NotificationServer {
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, String, Instant)>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NotificationServer {
    fn start(desktop: &Desktop) -> NotificationServer {
        use dbus::channel::{MatchingReceiver as _, Sender as _};
        use std::sync::atomic::Ordering;
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (bus, record, stopping) = (desktop.bus.clone(), got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut channel = dbus::channel::Channel::open_private(&bus).unwrap();
            channel.register().unwrap();
            let conn = dbus::blocking::Connection::from(channel);
            conn.request_name("org.freedesktop.Notifications", false, true, true)
                .unwrap();
            conn.start_receive(
                dbus::message::MatchRule::new_method_call(),
                Box::new(move |msg, conn| {
                    if msg.member().is_some_and(|m| &*m == "Notify") {
                        let (_app, _replaces, _icon, summary, body): (
                            String,
                            u32,
                            String,
                            String,
                            String,
                        ) = msg.read5().unwrap();
                        let mut got = record.lock().unwrap();
                        got.push((summary, body, Instant::now()));
                        let _ = conn.send(msg.method_return().append1(got.len() as u32));
                    }
                    true
                }),
            );
            ready_tx.send(()).unwrap();
            while !stopping.load(Ordering::Relaxed) {
                conn.process(Duration::from_millis(50)).unwrap();
            }
        });
        ready_rx
            .recv_timeout(PATIENCE)
            .expect("the test's notification server did not start");
        NotificationServer {
            got,
            stop,
            thread: Some(thread),
        }
    }

    /// What was received so far: (summary, body, when).
    fn received(&self) -> Vec<(String, String, Instant)> {
        self.got.lock().unwrap().clone()
    }

    /// The summaries received so far.
    fn summaries(&self) -> Vec<String> {
        self.received().into_iter().map(|(s, _, _)| s).collect()
    }

    /// Wait for a notification whose summary satisfies `cond`.
    fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> (String, String, Instant) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(n) = self.received().into_iter().find(|(s, _, _)| cond(s)) {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "no notification {what}: got {:?}",
                self.summaries()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NotificationServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A configuration with one WebDAV synchronization, "Cloud", whose account
/// has no stored password (the daemon reports credentials required), and
/// the given notification settings. Written before the daemon starts.
fn config_with_a_cloud_without_password(d: &TestDaemon, notifications: Value) {
    let local = d.path("Cloud-local");
    std::fs::create_dir_all(&local).unwrap();
    let config = serde_json::json!({
        "version": 1,
        "accounts": [{"id": "acc", "url": "http://127.0.0.1:1/dav/", "user": "alice"}],
        "synchronizations": [{
            "id": "cloud", "name": "Cloud", "local": local,
            "remote": {"type": "webdav", "account": "acc", "path": "sync"}
        }],
        "settings": {"notifications": notifications}
    });
    std::fs::write(
        d.config_dir().join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
}

/// A folder synchronization "Docs" that runs only when asked.
fn add_docs(d: &TestDaemon) -> (std::path::PathBuf, std::path::PathBuf) {
    let local = d.path("Docs-local");
    let remote = d.path("Docs-remote");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::create_dir_all(&remote).unwrap();
    d.ferry_ok(&[
        "add",
        "Docs",
        &local.display().to_string(),
        &remote.display().to_string(),
        "--poll",
        "1",
        "--no-live",
    ]);
    (local, remote)
}

/// Conflicts on `names` in Docs: synchronized once, then edited on both
/// sides; returns when the pass that found them ended.
fn make_conflicts(d: &TestDaemon, local: &Path, remote: &Path, names: &[&str]) -> Instant {
    for n in names {
        daemon::write(&local.join(n), b"base");
    }
    d.ferry_ok(&["run", "Docs"]);
    std::thread::sleep(Duration::from_millis(1100));
    for n in names {
        daemon::write(&local.join(n), b"mine");
        daemon::write(&remote.join(n), b"theirs!");
    }
    d.ferry_ok(&["run", "Docs"]);
    Instant::now()
}

#[test]
fn notifications_aggregate_conflicts_hold_back_a_second_burst_and_name_the_server() {
    let mut d = TestDaemon::new();
    config_with_a_cloud_without_password(&d, serde_json::json!({}));
    d.start();
    let (local, remote) = add_docs(&d);
    let desktop = Desktop::start(d.dir.path());
    let server = NotificationServer::start(&desktop);
    let _tray = start_tray(&d, &desktop);

    // Credentials required: one notification naming the server.
    let (summary, body, _) = server.wait_for("for the password", |s| s.contains("Password"));
    assert_eq!(summary, "Password needed for 127.0.0.1:1", "{body}");
    assert!(body.contains("Cloud"), "{body}");

    // Three conflicts at once: one notification naming the count.
    let ended = make_conflicts(&d, &local, &remote, &["a.txt", "b.txt", "c.txt"]);
    let (summary, body, at) = server.wait_for("for the conflicts", |s| s.contains("conflict"));
    eprintln!(
        "pass with conflicts ended to the notification: {} ms (2 s of it gathering)",
        at.saturating_duration_since(ended).as_millis()
    );
    assert_eq!(summary, "3 conflicts");
    assert!(body.contains("Docs"), "{body}");

    // A second burst within the rate-limit window is held back.
    let ended = make_conflicts(&d, &local, &remote, &["d.txt", "e.txt"]);
    d.wait_until("the conflicts listed", || {
        d.ferry_ok(&["conflicts"]).contains("e.txt")
    });
    while ended.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server.summaries(),
        ["Password needed for 127.0.0.1:1", "3 conflicts"],
        "one notification per category, the second burst waits"
    );
}

#[test]
fn a_notification_category_switched_off_in_the_settings_sends_nothing() {
    let mut d = TestDaemon::new();
    config_with_a_cloud_without_password(&d, serde_json::json!({"conflicts": false}));
    d.start();
    let (local, remote) = add_docs(&d);
    let desktop = Desktop::start(d.dir.path());
    let server = NotificationServer::start(&desktop);
    let _tray = start_tray(&d, &desktop);
    // The other categories still come through.
    server.wait_for("for the password", |s| s.contains("Password"));
    let ended = make_conflicts(&d, &local, &remote, &["a.txt", "b.txt"]);
    d.wait_until("the conflicts listed", || {
        d.ferry_ok(&["conflicts"]).contains("b.txt")
    });
    while ended.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server.summaries(),
        ["Password needed for 127.0.0.1:1"],
        "conflicts are switched off"
    );
}
