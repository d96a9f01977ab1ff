//! The routes the preferences' setup pages use, against the real `ferry
//! daemon --headless` (temp HOME and XDG_CONFIG_HOME, the kernel keyring):
//! settings with the real auto-start entry, notification switches that
//! reach the tray's policy, the default poll interval, diagnostics, the
//! local-folder check (the same refusal as adding a synchronization), a
//! synchronization simulated before it is added (and its first pass doing
//! just that), "update credentials" after the server's password changed,
//! and browsing an account's folders one level at a time.

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/dav.rs"]
mod dav;

use std::collections::BTreeSet;
use std::fs;
use std::time::{Duration, Instant};

use daemon::{TestDaemon, files, write};
use dav::{DavKind, DavOptions, DavServer};
use serde_json::{Value, json};

/// The daemon's auto-start entry in its temp XDG_CONFIG_HOME.
fn desktop_file(d: &TestDaemon) -> std::path::PathBuf {
    d.path("home/.config/autostart/ferry.desktop")
}

#[test]
fn settings_show_and_switch_the_real_autostart_entry() {
    let d = TestDaemon::started();
    let s = d.api_ok("GET", "/api/settings", None);
    assert_eq!(s["autostart"]["on"], false, "{s:#}");
    assert_eq!(s["default_poll_interval_secs"], 30);
    assert_eq!(s["start_all_parallel"], false);
    assert_eq!(s["notifications"]["conflicts"], true);

    let s = d.api_ok("PATCH", "/api/settings", Some(&json!({"autostart": true})));
    assert_eq!(s["autostart"]["on"], true, "{s:#}");
    let file = desktop_file(&d);
    assert_eq!(s["autostart"]["file"], file.display().to_string());
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains("Exec="), "{text}");
    // The choice is recorded: Ferry no longer changes it by itself.
    assert!(d.config_dir().join("autostart-chosen").exists());

    // A desktop's startup settings turned it off: the page says so.
    fs::write(&file, format!("{text}Hidden=true\n")).unwrap();
    let s = d.api_ok("GET", "/api/settings", None);
    assert_eq!(s["autostart"]["on"], false, "{s:#}");
    assert_eq!(s["autostart"]["off_in_desktop_settings"], true, "{s:#}");

    let s = d.api_ok("PATCH", "/api/settings", Some(&json!({"autostart": false})));
    assert_eq!(s["autostart"]["on"], false);
    assert_eq!(s["autostart"]["off_in_desktop_settings"], false);
    assert!(!file.exists());
    // `ferry autostart status` reads the same entry.
    assert_eq!(d.ferry_ok(&["autostart", "status"]).trim(), "off");
}

#[test]
fn a_notification_switch_turned_off_silences_that_category_in_the_trays_policy() {
    use ferry::notify_policy::{Category, Limits, Notice, Policy, Switches};
    let d = TestDaemon::started();
    // A synchronization, so that the event stream opens with its state:
    // once that is read, the stream is subscribed.
    fs::create_dir_all(d.path("remote")).unwrap();
    d.api_ok(
        "POST",
        "/api/syncs",
        Some(&json!({"name": "docs", "local": d.path("local"), "remote": {"type": "folder", "path": d.path("remote")}})),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use futures_util::StreamExt;
        let client = ferry::protocol::Client::connect(&d.data_dir()).unwrap();
        let mut events = client.events();
        let first = events.next().await;
        assert!(
            matches!(
                first,
                Some(Ok(ferry::protocol::status::Event::State { .. }))
            ),
            "{first:?}"
        );
        let patch = ferry::protocol::settings::SettingsPatch {
            notifications: Some(ferry::protocol::settings::NotificationsPatch {
                conflicts: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = client.change_settings(&patch).await.unwrap();
        assert!(!s.notifications.conflicts);
        assert!(s.notifications.credentials && s.notifications.errors);
        // The tray hears of it: a `config` event, then it reads the status.
        let config_event = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(ev) = events.next().await {
                if matches!(ev, Ok(ferry::protocol::status::Event::Config)) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(config_event, Ok(true), "no config event after the change");
        let n = client.status().await.unwrap().notifications;
        assert!(!n.conflicts && n.credentials);

        // The switches as the tray sets them: conflicts are not shown, the
        // other categories still are.
        let mut policy = Policy::new(
            Switches {
                credentials: n.credentials,
                confirmation: n.confirmation,
                conflicts: n.conflicts,
                errors: n.errors,
            },
            Limits::default(),
        );
        let t0 = Instant::now();
        for (category, detail) in [
            (Category::Conflicts, "a.txt"),
            (Category::Credentials, "dav.example"),
        ] {
            policy.observe(
                Notice {
                    category,
                    sync: "docs".into(),
                    detail: detail.into(),
                },
                t0,
            );
        }
        let shown: Vec<Category> = policy
            .due(t0 + Duration::from_secs(600))
            .into_iter()
            .map(|n| n.category)
            .collect();
        assert_eq!(shown, vec![Category::Credentials]);
    });
    // Saved: the next daemon reads it.
    let text = fs::read_to_string(d.config_dir().join("config.json")).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(saved["settings"]["notifications"]["conflicts"], false);
}

#[test]
fn the_default_poll_interval_applies_to_new_synchronizations_that_do_not_say() {
    let d = TestDaemon::started();
    let (status, err) = d.api(
        "PATCH",
        "/api/settings",
        Some(&json!({"default_poll_interval_secs": 1})),
    );
    assert_eq!(status, 400, "{err:#}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("between 5 and 86400")
    );
    let s = d.api_ok(
        "PATCH",
        "/api/settings",
        Some(&json!({"default_poll_interval_secs": 120, "start_all_parallel": true})),
    );
    assert_eq!(s["default_poll_interval_secs"], 120);
    assert_eq!(s["start_all_parallel"], true);

    for (name, extra, want) in [
        ("a", json!({}), 120),
        ("b", json!({"poll_interval_secs": 7}), 7),
    ] {
        let local = d.path(&format!("{name}-local"));
        let remote = d.path(&format!("{name}-remote"));
        fs::create_dir_all(&remote).unwrap();
        let mut body =
            json!({"name": name, "local": local, "remote": {"type": "folder", "path": remote}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let sync = d.api_ok("POST", "/api/syncs", Some(&body));
        assert_eq!(sync["poll_interval_secs"], want, "{name}: {sync:#}");
    }
}

#[test]
fn diagnostics_are_written_where_the_answer_says() {
    let d = TestDaemon::started();
    let a = d.api_ok("POST", "/api/diagnostics", Some(&json!({})));
    let path = std::path::PathBuf::from(a["path"].as_str().unwrap());
    assert!(path.starts_with(d.data_dir().join("diagnostics")), "{a:#}");
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"PK"), "not a zip");
    assert_eq!(a["bytes"], bytes.len() as u64);
    assert!(a["files"].as_u64().unwrap() >= 3, "{a:#}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A second bundle in the same second does not replace the first.
    let b = d.api_ok("POST", "/api/diagnostics", Some(&json!({})));
    assert_ne!(a["path"], b["path"]);
    assert!(path.exists());
}

fn check(d: &TestDaemon, path: &str) -> Value {
    d.api_ok("POST", "/api/check-local", Some(&json!({ "path": path })))
}

#[test]
fn the_local_folder_field_says_what_is_there_and_refuses_what_adding_refuses() {
    let d = TestDaemon::started();
    let empty = d.path("empty");
    fs::create_dir_all(&empty).unwrap();
    let full = d.path("full");
    write(&full.join("a.txt"), b"a");
    write(&full.join("sub/b.txt"), b"b");

    let c = check(&d, &empty.display().to_string());
    assert_eq!(c["verdict"], "empty", "{c:#}");
    // The normal form: no trailing slash, `..` resolved.
    let c = check(&d, &format!("{}/../full/", empty.display()));
    assert_eq!(c["verdict"], "not_empty", "{c:#}");
    assert_eq!(c["items"], 2);
    assert_eq!(
        c["path"],
        fs::canonicalize(&full).unwrap().display().to_string()
    );
    let c = check(&d, &d.path("new/deeper").display().to_string());
    assert_eq!(c["verdict"], "will_create", "{c:#}");
    let c = check(&d, &full.join("a.txt").display().to_string());
    assert_eq!(c["verdict"], "refused", "{c:#}");
    assert!(
        c["reason"].as_str().unwrap().contains("not a folder"),
        "{c:#}"
    );
    let c = check(&d, "relative/path");
    assert_eq!(c["verdict"], "refused");

    // An existing synchronization's folder, inside it, or around it.
    let remote = d.path("remote");
    fs::create_dir_all(&remote).unwrap();
    d.api_ok(
        "POST",
        "/api/syncs",
        Some(&json!({"name": "docs", "local": full, "remote": {"type": "folder", "path": remote}})),
    );
    for overlapping in [full.join("sub"), d.path("")] {
        let c = check(&d, &overlapping.display().to_string());
        assert_eq!(c["verdict"], "refused", "{c:#}");
        let why = c["reason"].as_str().unwrap();
        assert!(
            why.contains("docs") || why.contains("Ferry keeps its"),
            "{why}"
        );
    }

    // `/`, a system folder, Ferry's own folders: refused by the field and
    // by adding a synchronization, with the same reason.
    for refused in [
        "/".to_string(),
        "/etc".to_string(),
        d.config_dir().display().to_string(),
        d.data_dir().join("syncs").display().to_string(),
    ] {
        let c = check(&d, &refused);
        assert_eq!(c["verdict"], "refused", "{refused}: {c:#}");
        let (status, err) = d.api(
            "POST",
            "/api/syncs",
            Some(&json!({"name": "bad", "local": refused, "remote": {"type": "folder", "path": remote}})),
        );
        assert_eq!(status, 400, "{refused}: {err:#}");
        assert_eq!(err["error"], c["reason"], "{refused}");
    }
    assert_eq!(
        d.api_ok("GET", "/api/syncs", None)
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The ops of a report as (action, path), a transfer named as the log
/// names it (`upload`: to the remote, `download`: to the local side).
fn ops_of(report: &Value) -> BTreeSet<(String, String)> {
    report["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            let action = match (op["op"].as_str().unwrap(), op["to"].as_str()) {
                ("transfer", Some("remote")) => "upload",
                ("transfer", Some("local")) => "download",
                (other, _) => other,
            };
            let path = op["path"]
                .as_str()
                .or(op["to"].as_str())
                .unwrap_or_default();
            (action.to_string(), path.to_string())
        })
        .collect()
}

#[test]
fn a_synchronization_simulated_before_it_is_added_touches_nothing_and_its_first_pass_does_what_was_shown()
 {
    let d = TestDaemon::started();
    let local = d.path("local");
    let remote = d.path("remote");
    write(&local.join("mine.txt"), b"local file");
    write(&remote.join("theirs/t.txt"), b"remote file");
    let before = (files(&local), files(&remote));
    let body = json!({"name": "new", "local": local, "remote": {"type": "folder", "path": remote}});

    let report = d.api_ok("POST", "/api/simulate", Some(&body));
    assert_eq!(report["dry_run"], true, "{report:#}");
    let planned = ops_of(&report);
    assert!(
        planned.iter().any(|(_, p)| p == "mine.txt")
            && planned.iter().any(|(_, p)| p == "theirs/t.txt"),
        "{report:#}"
    );
    // Nothing saved, started or touched; no scratch journal left.
    assert_eq!((files(&local), files(&remote)), before);
    assert!(
        d.api_ok("GET", "/api/syncs", None)
            .as_array()
            .unwrap()
            .is_empty()
    );
    let leftovers: Vec<_> = fs::read_dir(d.data_dir().join("tmp"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // A simulation of what adding refuses is refused the same way.
    let (status, _) = d.api(
        "POST",
        "/api/simulate",
        Some(&json!({"name": "x", "local": "/etc", "remote": {"type": "folder", "path": remote}})),
    );
    assert_eq!(status, 400);

    // Added: its first pass does what the simulation showed.
    d.api_ok("POST", "/api/syncs", Some(&body));
    d.wait_until("the first pass", || {
        d.sync_status("new")["last_pass"].is_object()
    });
    let done = d.api_ok("GET", "/api/log?sync=new&limit=100", None);
    let did: BTreeSet<(String, String)> = done
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap().to_string(),
                l["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let transfers = |ops: &BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
        ops.iter()
            .filter(|(a, _)| a == "upload" || a == "download")
            .cloned()
            .collect()
    };
    assert!(!transfers(&planned).is_empty(), "{planned:?}");
    assert_eq!(transfers(&did), transfers(&planned), "log: {done:#}");
    assert_eq!(
        fs::read(local.join("theirs/t.txt")).unwrap(),
        b"remote file"
    );
    assert_eq!(fs::read(remote.join("mine.txt")).unwrap(), b"local file");
}

/// nginx asking for `alice`'s password, an account and a synchronization
/// on it, in sync.
fn with_password_server(d: &TestDaemon) -> (DavServer, String) {
    let server = DavServer::start_with(
        DavKind::Nginx,
        DavOptions {
            basic_auth: Some(("alice".into(), "first-pass".into())),
            ..DavOptions::default()
        },
    );
    let account = d.api_ok(
        "POST",
        "/api/accounts",
        Some(&json!({"url": server.url(), "user": "alice", "password": "first-pass"})),
    );
    let id = account["id"].as_str().unwrap().to_string();
    fs::create_dir_all(d.path("local")).unwrap();
    d.api_ok(
        "POST",
        "/api/syncs",
        Some(&json!({"name": "docs", "local": d.path("local"),
                     "remote": {"type": "webdav", "account": id, "path": ""},
                     "poll_interval_secs": 1})),
    );
    d.wait_state("docs", "synced");
    (server, id)
}

#[test]
fn update_credentials_after_the_server_changed_the_password_wakes_the_synchronization() {
    let d = TestDaemon::started();
    let (server, id) = with_password_server(&d);
    server.set_password("alice", "second-pass");
    server.write("new-on-server.txt", b"after the change");
    let (status, err) = d.api("POST", "/api/syncs/docs/run", Some(&json!({"wait": true})));
    assert_eq!(status, 409, "{err:#}");
    assert_eq!(err["code"], "credentials_required", "{err:#}");
    d.wait_state("docs", "credentials_required");

    // A wrong new password is refused and nothing changes.
    let (status, err) = d.api(
        "PUT",
        &format!("/api/accounts/{id}/password"),
        Some(&json!({"password": "wrong"})),
    );
    assert_eq!(status, 400, "{err:#}");
    assert_eq!(d.sync_status("docs")["state"], "credentials_required");

    let account = d.api_ok(
        "PUT",
        &format!("/api/accounts/{id}/password"),
        Some(&json!({"password": "second-pass"})),
    );
    assert_eq!(account["id"], id);
    assert!(
        !d.all_logs().contains("second-pass"),
        "the password was logged"
    );
    d.wait_until("the file from the server", || {
        d.path("local/new-on-server.txt").exists()
    });
    d.wait_state("docs", "synced");
    d.api_ok(
        "POST",
        &format!("/api/accounts/{id}/test"),
        Some(&json!({})),
    );
}

#[test]
fn an_accounts_folders_are_listed_one_level_at_a_time() {
    let d = TestDaemon::started();
    let server = DavServer::start(DavKind::Nginx);
    server.mkdir("a/b/c");
    server.mkdir("z");
    server.write("a/file.txt", b"not a folder");
    let account = d.api_ok(
        "POST",
        "/api/accounts",
        Some(&json!({"url": server.url(), "user": "alice", "password": "pw", "test": false})),
    );
    let id = account["id"].as_str().unwrap();
    let top = d.api_ok("GET", &format!("/api/accounts/{id}/folders?path="), None);
    assert_eq!(top["folders"], json!(["a", "z"]));
    let a = d.api_ok("GET", &format!("/api/accounts/{id}/folders?path=a"), None);
    assert_eq!(a["folders"], json!(["b"]));
    assert_eq!(a["path"], "a");
    // One request of depth 1 for each level.
    let propfinds: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.0 == "PROPFIND")
        .collect();
    assert_eq!(propfinds.len(), 2, "{propfinds:?}");
    let (status, _) = d.api(
        "GET",
        &format!("/api/accounts/{id}/folders?path=nope"),
        None,
    );
    assert_eq!(status, 404);
}
