//! The preferences' setup pages in a real headless Chromium, against the
//! real daemon (temp HOME and XDG_CONFIG_HOME) and a real WebDAV server
//! (nginx, with a password where the test needs one): the assistant sets
//! up a synchronization end to end and its first pass does what its
//! simulation showed; "update credentials" after the server's password
//! changed; deregistering an account (its synchronizations go, the local
//! files stay); the settings page switches the real auto-start entry and a
//! notification category, and writes the diagnostics bundle.

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;

#[path = "common/browser.rs"]
mod browser;

#[path = "common/dav.rs"]
mod dav;

use std::collections::BTreeSet;
use std::fs;

use browser::Browser;
use daemon::{TestDaemon, files, write};
use dav::{DavKind, DavOptions, DavServer};
use serde_json::{Value, json};

/// nginx asking for alice's password.
fn password_server(password: &str) -> DavServer {
    DavServer::start_with(
        DavKind::Nginx,
        DavOptions {
            basic_auth: Some(("alice".into(), password.into())),
            ..DavOptions::default()
        },
    )
}

/// The (action, path) pairs of the simulation table, as the page shows
/// them.
fn plan_rows(browser: &Browser) -> BTreeSet<(String, String)> {
    let rows = browser.js(
        "return [...document.querySelectorAll('[data-test=plan-row]')].map((r) => [r.dataset.op, r.dataset.path]);",
        vec![],
    );
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_assistant_sets_up_a_webdav_synchronization_whose_first_pass_does_what_its_simulation_showed()
{
    let d = TestDaemon::started();
    let server = password_server("s3cret");
    server.write("team/docs/report.txt", b"from the server");
    server.write("team/docs/sub/notes.txt", b"notes");
    server.mkdir("other");
    let local = d.path("Documents");
    write(&local.join("mine.txt"), b"from this computer");

    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/assistant");

    // 1: the server, tested.
    browser.fill("[data-test=url]", &server.url());
    browser.fill("[data-test=user]", "alice");
    browser.fill("[data-test=password]", "wrong");
    browser.click("[data-test=test-connection]");
    browser.wait_text("[data-test=connection-result]", "Could not connect");
    browser.fill("[data-test=password]", "s3cret");
    browser.click("[data-test=test-connection]");
    browser.wait_text("[data-test=connection-result]", "Connected");
    browser.click("[data-test=next]");

    // 2: the local folder, checked as it is typed.
    browser.fill("[data-test=local]", "/etc");
    browser.wait_text("[data-test=local-check]", "cannot be used");
    browser.fill("[data-test=local]", &local.display().to_string());
    browser.wait_text("[data-test=local-check]", "holds 1 item");
    browser.click("[data-test=next]");

    // 3: the server folder, one level at a time.
    browser.click("[data-test=folder][data-name=team]");
    browser.click("[data-test=folder][data-name=docs]");
    browser.wait_text("[data-test=remote-path]", "team/docs/");
    browser.click("[data-test=next]");

    // 4: the settings (the defaults), then 5: the simulation.
    browser.wait_text("[data-test=step-4]", "Direction");
    browser.click("[data-test=next]");
    browser.wait_text(
        "[data-test=simulation-status]",
        "Nothing has been changed yet",
    );
    let shown = plan_rows(&browser);
    for want in [
        ("download", "report.txt"),
        ("download", "sub/notes.txt"),
        ("upload", "mine.txt"),
    ] {
        assert!(
            shown.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} not in {shown:?}"
        );
    }
    // Nothing was added or touched by the simulation.
    {
        assert!(
            d.api_ok("GET", "/api/syncs", None)
                .as_array()
                .unwrap()
                .is_empty()
        );
    };
    assert!(server.read("team/docs/mine.txt").is_none());
    assert_eq!(files(&local).len(), 1);

    browser.click("[data-test=start]");
    let log = {
        d.wait_until("the first pass", || {
            d.api("GET", "/api/syncs/Documents", None).0 == 200
                && d.sync_status("Documents")["last_pass"].is_object()
        });
        d.api_ok("GET", "/api/log?sync=Documents&limit=100", None)
    };
    let did: BTreeSet<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(a, _)| a == "upload" || a == "download")
        .collect();
    let simulated: BTreeSet<(String, String)> = shown
        .into_iter()
        .filter(|(a, _)| a == "upload" || a == "download")
        .collect();
    assert_eq!(did, simulated, "the log: {log:#}");
    assert_eq!(
        server.read("team/docs/mine.txt").as_deref(),
        Some(&b"from this computer"[..])
    );
    assert_eq!(fs::read(local.join("sub/notes.txt")).unwrap(), b"notes");
    browser.close();
}

/// An account on `server` with alice's password and a live
/// synchronization "docs" on it, in sync; the account's id.
fn account_and_sync(d: &TestDaemon, server: &DavServer, password: &str, name: &str) -> String {
    let account = d.api_ok(
        "POST",
        "/api/accounts",
        Some(&json!({"url": server.url(), "user": "alice", "password": password})),
    );
    let id = account["id"].as_str().unwrap().to_string();
    fs::create_dir_all(d.path(name)).unwrap();
    d.api_ok(
        "POST",
        "/api/syncs",
        Some(&json!({"name": name, "local": d.path(name),
                     "remote": {"type": "webdav", "account": id, "path": name},
                     "create_remote_root": true, "poll_interval_secs": 1})),
    );
    d.wait_state(name, "synced");
    id
}

#[test]
fn update_credentials_on_the_accounts_page_after_the_servers_password_changed() {
    let d = TestDaemon::started();
    let server = password_server("first-pass");
    let id = account_and_sync(&d, &server, "first-pass", "docs");
    server.set_password("alice", "second-pass");
    server.write("docs/while-refused.txt", b"waiting");
    {
        let (status, err) = d.api("POST", "/api/syncs/docs/run", Some(&json!({"wait": true})));
        assert_eq!(
            (status, err["code"].clone()),
            (409, json!("credentials_required")),
            "{err:#}"
        );
    };

    let browser = Browser::start();
    browser.login(&d);
    // Where "credentials required" leads.
    browser.open(&d, &format!("#/accounts?update={id}"));
    let account = format!("[data-test=account-{id}]");
    browser.wait_text(
        &format!("{account} [data-test=credentials-required]"),
        "docs",
    );
    browser.fill(&format!("{account} [data-test=password]"), "not-it");
    browser.click(&format!("{account} [data-test=save-password]"));
    browser.wait_text(&format!("{account} [data-test=result]"), "Not saved");
    assert_eq!(d.sync_status("docs")["state"], "credentials_required");

    browser.fill(&format!("{account} [data-test=password]"), "second-pass");
    browser.click(&format!("{account} [data-test=save-password]"));
    {
        d.wait_until("the file held back by the refused password", || {
            d.path("docs/while-refused.txt").exists()
        });
        d.wait_state("docs", "synced");
    };
    browser.wait_gone(&format!("{account} [data-test=credentials-required]"));
    browser.close();
}

#[test]
fn deregistering_an_account_names_its_synchronizations_removes_them_and_keeps_the_files() {
    let d = TestDaemon::started();
    let server = password_server("pw");
    let id = {
        let id = account_and_sync(&d, &server, "pw", "docs");
        account_and_sync(&d, &server, "pw", "photos");
        id
    };
    write(&d.path("docs/kept.txt"), b"stays here");
    {
        d.api_ok("POST", "/api/syncs/docs/run", Some(&json!({"wait": true})));
    };

    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/accounts");
    let account = format!("[data-test=account-{id}]");
    browser.click(&format!("{account} [data-test=remove]"));
    browser.wait_text(&format!("{account} [data-test=remove-syncs]"), "docs");
    let listed = browser.text(&format!("{account} [data-test=remove-syncs]"));
    assert!(listed.contains("photos"), "{listed}");
    browser.wait_text(
        &format!("{account} [data-test=files-stay]"),
        "Your files stay",
    );
    // Cancel removes nothing.
    browser.click(&format!("{account} [data-test=cancel-remove]"));
    assert_eq!(
        d.api_ok("GET", "/api/syncs", None)
            .as_array()
            .unwrap()
            .len(),
        2
    );

    browser.click(&format!("{account} [data-test=remove]"));
    browser.click(&format!("{account} [data-test=confirm-remove]"));
    browser.wait_gone(&account);
    {
        assert!(
            d.api_ok("GET", "/api/syncs", None)
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert!(
            d.api_ok("GET", "/api/accounts", None)
                .as_array()
                .unwrap()
                .is_empty()
        );
    };
    // Both sides keep their files.
    assert_eq!(fs::read(d.path("docs/kept.txt")).unwrap(), b"stays here");
    assert_eq!(
        server.read("docs/kept.txt").as_deref(),
        Some(&b"stays here"[..])
    );
    browser.close();
}

#[test]
fn the_accounts_page_keeps_its_buttons_while_a_synchronization_changes_state() {
    // A button replaced under the user's pointer loses the click: the page
    // updates the states in place.
    let d = TestDaemon::started();
    let server = password_server("pw");
    let id = account_and_sync(&d, &server, "pw", "docs");
    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/accounts");
    let account = format!("[data-test=account-{id}]");
    browser.wait_text(&format!("{account} [data-test=account-sync]"), "docs");
    let remove = browser.wait_for(&format!("{account} [data-test=remove]"));
    d.api_ok("POST", "/api/syncs/docs/pause", Some(&json!({})));
    browser.wait_text(&format!("{account} [data-test=account-sync]"), "paused");
    browser.click_held(&remove, "the Remove button, found before the change");
    browser.wait_text(
        &format!("{account} [data-test=files-stay]"),
        "Your files stay",
    );
    browser.close();
}

#[test]
fn the_settings_page_switches_the_real_autostart_entry_and_a_notification_category() {
    let d = TestDaemon::started();
    let entry = d.path("home/.config/autostart/ferry.desktop");
    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/settings");

    browser.wait_text("[data-test=autostart-state]", "Off");
    browser.click("[data-test=autostart]");
    browser.wait_text(
        "[data-test=autostart-state]",
        "On: Ferry starts when you log in",
    );
    let text = fs::read_to_string(&entry).unwrap();
    assert!(text.contains("Exec="), "{text}");

    // Turned off in the desktop's own startup settings: the page says so,
    // and turning it on from the page really starts Ferry again.
    // (what GNOME's startup settings write: the key set to false)
    assert!(text.contains("X-GNOME-Autostart-enabled=true"), "{text}");
    fs::write(
        &entry,
        text.replace(
            "X-GNOME-Autostart-enabled=true",
            "X-GNOME-Autostart-enabled=false",
        ),
    )
    .unwrap();
    browser.reload();
    browser.wait_text(
        "[data-test=autostart-state]",
        "turned off in your desktop's startup settings",
    );
    browser.click("[data-test=autostart]");
    browser.wait_text("[data-test=autostart-state]", "On:");
    assert!(
        !fs::read_to_string(&entry)
            .unwrap()
            .contains("X-GNOME-Autostart-enabled=false")
    );
    browser.click("[data-test=autostart]");
    browser.wait_text("[data-test=autostart-state]", "Off");
    assert!(!entry.exists());

    browser.click("[data-test=notify-conflicts]");
    browser.wait_text("[data-test=saved]", "do not show");
    let status: Value = d.api_ok("GET", "/api/status", None);
    assert_eq!(status["notifications"]["conflicts"], false);
    assert_eq!(status["notifications"]["errors"], true);

    browser.click("[data-test=diagnostics]");
    browser.wait_text("[data-test=diagnostics-result]", "Written to");
    let path = browser.text("[data-test=diagnostics-path]");
    assert!(fs::read(&path).unwrap().starts_with(b"PK"), "{path}");
    browser.close();
}

#[test]
fn the_bandwidth_limits_are_set_and_removed_from_the_settings_page_and_a_synchronizations_form() {
    let d = TestDaemon::started();
    d.add_folder_sync("bw");
    let browser = Browser::start();
    browser.login(&d);
    browser.open(&d, "#/settings");

    // A bad value: the daemon's sentence is shown, nothing is saved.
    browser.fill("[data-test=limit-up]", "fast");
    browser.click("[data-test=save-limits]");
    browser.wait_text("[data-test=limit-error]", "not the text \"fast\"");
    browser.fill("[data-test=limit-up]", "0");
    browser.click("[data-test=save-limits]");
    browser.wait_text("[data-test=limit-error]", "at least 1 KiB/s");
    assert_eq!(
        d.api_ok("GET", "/api/settings", None)["bandwidth"],
        json!({})
    );

    browser.fill("[data-test=limit-up]", "512");
    browser.fill("[data-test=limit-down]", "2048");
    browser.click("[data-test=save-limits]");
    browser.wait_text("[data-test=saved]", "upload 512 KiB/s, download 2048 KiB/s");
    let limits = json!({"upload_kib_per_sec": 512, "download_kib_per_sec": 2048});
    assert_eq!(d.api_ok("GET", "/api/settings", None)["bandwidth"], limits);
    assert!(
        d.ferry_ok(&["limit"])
            .contains("upload 512 KiB/s, download 2048 KiB/s")
    );
    // Emptied: no limit.
    browser.reload();
    assert_eq!(
        browser.prop("[data-test=limit-up]", "value").as_deref(),
        Some("512")
    );
    browser.fill("[data-test=limit-up]", "");
    browser.click("[data-test=save-limits]");
    browser.wait_text("[data-test=saved]", "upload no limit, download 2048 KiB/s");
    assert_eq!(
        d.api_ok("GET", "/api/settings", None)["bandwidth"],
        json!({"download_kib_per_sec": 2048})
    );

    // A synchronization's own limits, in its form.
    browser.open(&d, "#/syncs");
    browser.click("[data-test=sync-bw] [data-test=edit]");
    browser.fill("[data-test=edit-limit-down]", "-5");
    browser.click("[data-test=edit-save]");
    browser.wait_text("[data-test=edit-error]", "not -5");
    browser.fill("[data-test=edit-limit-down]", "64");
    browser.click("[data-test=edit-save]");
    browser.wait_gone("[data-test=edit-form]");
    let sync = d.api_ok("GET", "/api/syncs/bw", None);
    assert_eq!(
        sync["config"]["bandwidth"],
        json!({"download_kib_per_sec": 64})
    );
    browser.close();
}
