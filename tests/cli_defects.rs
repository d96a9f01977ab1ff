//! The CLI as a new user meets it (issue 9, "CLI defects"): exit statuses,
//! messages and output, through the real `ferry` binary and, where the
//! behaviour is the daemon's, the real `ferry daemon --headless`.

#[path = "common/daemon.rs"]
mod daemon;

use std::fs;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::Output;

use daemon::{TestDaemon, files, write};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Add a folder-remote synchronization through the CLI.
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

/// A `ferry sync LOCAL REMOTE` with its own state folder and HOME.
fn standalone_sync(
    d: &TestDaemon,
    local: &std::path::Path,
    remote: &str,
    extra: &[&str],
) -> Output {
    let mut c = d.cli(&["sync"]);
    c.arg(local)
        .arg(remote)
        .arg("--state")
        .arg(d.path("state"))
        .args(["--timeout", "5"])
        .args(extra)
        .env_remove("FERRY_LOG");
    c.output().unwrap()
}

/// A loopback HTTP server that answers every request with 401.
fn refusing_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ferry-test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

// ------------------------------------------------------------ defect 1 --

#[test]
fn exit_status_3_is_only_a_guard_and_disabled_unreachable_and_refused_credentials_have_their_own() {
    let mut d = TestDaemon::new();
    d.start();
    // A guard: 3.
    let (local, remote) = add_folder_sync(&d, "guarded", &[]);
    for i in 0..10 {
        write(&local.join(format!("f{i}.txt")), b"x");
    }
    d.wait_until("the first sync", || files(&remote).len() == 10);
    d.wait_state("guarded", "synced");
    d.ferry_ok(&["pause", "guarded"]);
    d.wait_state("guarded", "paused");
    for i in 0..8 {
        fs::remove_file(local.join(format!("f{i}.txt"))).unwrap();
    }
    let out = d.ferry(&["run", "guarded"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    // Defect 2: `run` has no --force; the way on is `ferry confirm`.
    assert!(
        err.contains("ferry confirm guarded") && !err.contains("--force"),
        "{err}"
    );
    // `ferry simulate` shows the plan, marked as needing confirmation.
    let sim = d.ferry_ok(&["simulate", "guarded"]);
    assert!(
        sim.contains("f0.txt to the trash")
            && sim.contains("needs confirmation: this pass would delete 8 of the 10 items")
            && sim.contains("ferry confirm guarded"),
        "{sim}"
    );
    // A disabled synchronization: 4.
    let (_l, _r) = add_folder_sync(&d, "off", &["--disabled"]);
    let out = d.ferry(&["run", "off"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("disabled") && err.contains("ferry enable off"),
        "{err}"
    );
    d.stop();

    // An unreachable server: 5 (`ferry sync`, no daemon needed).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = standalone_sync(
        &d,
        &d.path("l5"),
        &format!("http://127.0.0.1:{port}/dav/"),
        &["--create"],
    );
    assert_eq!(out.status.code(), Some(5), "{:?}", text(&out));
    // Refused credentials (401): 6.
    let port = refusing_server();
    let out = standalone_sync(
        &d,
        &d.path("l6"),
        &format!("http://127.0.0.1:{port}/dav/"),
        &["--create"],
    );
    assert_eq!(out.status.code(), Some(6), "{:?}", text(&out));

    // All of them are in --help.
    let help = d.ferry_ok(&["--help"]);
    for needle in [
        "3 a guard",
        "4 the synchronization is disabled",
        "5 the server cannot be reached",
        "6 the server refused",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}

// ------------------------------------------------------------ defect 2 --

#[test]
fn a_dry_run_into_a_guard_shows_the_plan_marked_as_needing_confirmation() {
    let d = TestDaemon::new();
    let local = d.path("local");
    let remote = d.path("remote");
    fs::create_dir_all(&local).unwrap();
    fs::create_dir_all(&remote).unwrap();
    for i in 0..10 {
        write(&local.join(format!("f{i}.txt")), b"x");
    }
    let r = remote.display().to_string();
    let out = standalone_sync(&d, &local, &r, &[]);
    assert!(out.status.success(), "{:?}", text(&out));
    for i in 0..8 {
        fs::remove_file(local.join(format!("f{i}.txt"))).unwrap();
    }
    let out = standalone_sync(&d, &local, &r, &["--dry-run"]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(
        o.contains("delete") && o.contains("f0.txt"),
        "the plan: {o}"
    );
    assert!(
        o.contains("needs confirmation") && o.contains("8 of the 10 items"),
        "{o}"
    );
    assert_eq!(files(&remote).len(), 10, "a dry run changes nothing");
}

#[test]
fn a_guard_on_a_first_mirror_pass_never_says_1_of_the_0_items() {
    let d = TestDaemon::new();
    let local = d.path("local");
    let remote = d.path("remote");
    fs::create_dir_all(&local).unwrap();
    write(&remote.join("extra.txt"), b"only there");
    let out = standalone_sync(
        &d,
        &local,
        &remote.display().to_string(),
        &["--direction", "send"],
    );
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(!e.contains("of the 0 items"), "{e}");
    assert!(
        e.contains("delete 1 item and nothing was in sync before"),
        "{e}"
    );
}

// ------------------------------------------------------------ defect 7 --

#[test]
fn ferry_keyring_keyutils_without_a_writable_session_keyring_says_in_one_sentence_what_to_do() {
    let d = TestDaemon::new();
    // A session keyring this process may not write to: what the kernel
    // says without `keyctl session -` (EACCES).
    let mut c = std::process::Command::new("keyctl");
    c.args(["session", "-", "sh", "-c"])
        .arg(format!(
            "keyctl setperm @s 0x3b000000 >/dev/null; exec {} account add http://127.0.0.1:9/dav/ --user u --password-stdin --no-test",
            env!("CARGO_BIN_EXE_ferry")
        ))
        .env("HOME", d.path("home"))
        .env("FERRY_CONFIG_DIR", d.config_dir())
        .env("FERRY_DATA_DIR", d.data_dir())
        .env("FERRY_KEYRING", "keyutils")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c
        .spawn()
        .expect("keyctl (Debian keyutils) must be installed");
    child.stdin.take().unwrap().write_all(b"pw-1234\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (_, err) = text(&out);
    assert!(!out.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("ferry:"))
        .unwrap_or_default();
    assert!(
        line.contains("keyctl session - ferry") && line.contains("unset FERRY_KEYRING"),
        "{err}"
    );
    // One sentence: no "Or keep the password in the Linux kernel keyring"
    // when it was asked for by name.
    assert!(!line.contains(" Or "), "{line}");
    assert_eq!(line.matches(". ").count(), 0, "{line}");
}

// ------------------------------------------------------------ defect 5 --

#[test]
fn account_remove_names_the_synchronizations_it_removes_and_needs_yes_without_a_terminal() {
    let mut d = TestDaemon::new();
    d.start();
    d.ferry_ok_with_stdin(
        &[
            "account",
            "add",
            "http://127.0.0.1:9/dav/",
            "--user",
            "alice",
            "--password-stdin",
            "--no-test",
        ],
        b"pw-1234\n",
    );
    let local = d.path("work-local");
    d.ferry_ok(&[
        "add",
        "work",
        &local.display().to_string(),
        "http://127.0.0.1:9/dav/Work",
        "--disabled",
    ]);
    let id = d
        .ferry_ok(&["account", "list"])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // Standard input is not a terminal: nothing without --yes.
    let out = d.ferry(&["account", "remove", &id]);
    let (o, e) = text(&out);
    assert!(!out.status.success(), "{o}\n{e}");
    assert!(e.contains("work") && e.contains("--yes"), "{e}");
    assert!(
        d.ferry_ok(&["list"]).contains("work"),
        "nothing was removed"
    );
    assert!(d.ferry_ok(&["account", "list"]).contains(&id));
    // --help says so.
    let help = d.ferry_ok(&["account", "remove", "--help"]);
    assert!(
        help.contains("--yes") && help.contains("synchronizations that use it"),
        "{help}"
    );
    // With --yes it goes, with the synchronization.
    let out = d.ferry_ok(&["account", "remove", &id, "--yes"]);
    assert!(out.contains("work"), "{out}");
    assert!(d.ferry_ok(&["list"]).contains("No synchronizations"));
    d.stop();
}

// ------------------------------------------------------------ defect 3 --

#[test]
fn simulate_shows_real_sizes_why_says_a_folder_is_in_sync_and_summaries_count_the_trash() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "s", &[]);
    write(&local.join("sub/a.txt"), &[b'a'; 100]);
    for i in 0..4 {
        write(&local.join(format!("keep{i}.txt")), b"k");
    }
    d.wait_until("the first sync", || files(&remote).len() == 5);
    d.wait_state("s", "synced");
    d.ferry_ok(&["pause", "s"]);
    d.wait_state("s", "paused");
    // A folder in sync is in sync.
    let why = d.ferry_ok(&["why", &local.join("sub").display().to_string()]);
    assert!(why.contains(": in sync"), "{why}");
    // The plan shows the real size of what it sends.
    write(&local.join("big.bin"), &vec![7u8; 5000]);
    fs::remove_file(local.join("keep0.txt")).unwrap();
    let sim = d.ferry_ok(&["simulate", "s"]);
    assert!(sim.contains("big.bin (4.9 KiB)"), "{sim}");
    assert!(!sim.contains("(0 B)"), "{sim}");
    assert!(
        sim.contains("keep0.txt to the trash (deleted on the other side)"),
        "{sim}"
    );
    // The pass's summary counts what went to the trash.
    let out = d.ferry_ok(&["run", "s"]);
    assert!(out.contains("1 to the trash"), "{out}");
    assert!(!out.contains("adopt"), "{out}");
    d.stop();
}

#[test]
fn no_rust_enum_names_in_what_ferry_sync_prints() {
    let d = TestDaemon::new();
    let local = d.path("local");
    let remote = d.path("remote");
    fs::create_dir_all(&remote).unwrap();
    for i in 0..4 {
        write(&local.join(format!("f{i}.txt")), b"x");
    }
    let r = remote.display().to_string();
    assert!(standalone_sync(&d, &local, &r, &[]).status.success());
    fs::remove_file(local.join("f0.txt")).unwrap();
    let out = standalone_sync(&d, &local, &r, &["--dry-run"]);
    let (o, e) = text(&out);
    assert!(out.status.success(), "{o}\n{e}");
    assert!(
        o.contains("f0.txt to the trash (deleted on the other side)"),
        "{o}"
    );
    for name in ["DeletedOnOtherSide", "Mirror", "KindChanged", "Deselected"] {
        assert!(!o.contains(name) && !e.contains(name), "{name}: {o}\n{e}");
    }
}

// ------------------------------------------------------------ defect 6 --

#[test]
fn ferry_sync_shows_a_progress_bar_on_a_terminal_and_no_colours_elsewhere() {
    let d = TestDaemon::new();
    let local = d.path("local");
    let remote = d.path("remote");
    fs::create_dir_all(&remote).unwrap();
    for i in 0..50 {
        write(&local.join(format!("f{i}.txt")), b"x");
    }
    // On a terminal (script(1) gives it one): the bar is drawn.
    let transcript = d.path("typescript");
    let cmd = format!(
        "{} sync {} {} --state {}",
        env!("CARGO_BIN_EXE_ferry"),
        local.display(),
        remote.display(),
        d.path("state").display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd])
        .arg(&transcript)
        .env("HOME", d.path("home"))
        .env("XDG_DATA_HOME", d.path("home/.local/share"))
        .env_remove("FERRY_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) must be installed");
    let seen = String::from_utf8_lossy(&fs::read(&transcript).unwrap()).into_owned()
        + &String::from_utf8_lossy(&out.stdout);
    assert!(seen.contains("items"), "no progress bar: {seen}");
    assert!(seen.contains("synced"), "{seen}");
    assert_eq!(files(&remote).len(), 50);
    // Not a terminal: no escape sequences, not even from the log.
    write(&local.join("more.txt"), b"y");
    let mut c = d.cli(&["sync"]);
    c.arg(&local)
        .arg(&remote)
        .arg("--state")
        .arg(d.path("state"))
        .env("FERRY_LOG", "ferry=debug");
    let out = c.output().unwrap();
    let (o, e) = text(&out);
    assert!(out.status.success(), "{o}\n{e}");
    assert!(
        e.contains("DEBUG") || e.contains("debug"),
        "the log is on: {e}"
    );
    assert!(!o.contains('\u{1b}') && !e.contains('\u{1b}'), "{e:?}");
}

#[test]
fn log_action_rejects_an_unknown_action_and_lists_the_valid_ones() {
    let d = TestDaemon::new();
    let out = d.ferry(&["log", "--action", "uploads"]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{e}");
    for a in ["upload", "download", "move", "delete", "mkdir"] {
        assert!(e.contains(a), "{a}: {e}");
    }
}

#[test]
fn recent_files_forget_a_removed_synchronization() {
    let mut d = TestDaemon::new();
    d.start();
    let (local, remote) = add_folder_sync(&d, "gone", &[]);
    write(&local.join("a.txt"), b"a");
    d.wait_until("the upload", || remote.join("a.txt").exists());
    d.wait_state("gone", "synced");
    let (_, st) = d.api("GET", "/api/status", None);
    assert!(!st["recent"].as_array().unwrap().is_empty(), "{st:#}");
    d.ferry_ok(&["remove", "gone"]);
    let (_, st) = d.api("GET", "/api/status", None);
    assert_eq!(st["recent"], serde_json::json!([]), "{st:#}");
    assert!(!d.ferry_ok(&["status"]).contains("a.txt"));
    d.stop();
}

// ------------------------------------------------------------ defect 4 --

#[test]
fn status_shows_open_conflicts_a_corrupt_configuration_and_syncs_that_never_ran() {
    let mut d = TestDaemon::new();
    fs::create_dir_all(d.config_dir()).unwrap();
    fs::write(d.config_dir().join("config.json"), b"{ not json").unwrap();
    d.start();
    let (local, remote) = add_folder_sync(&d, "c", &[]);
    write(&local.join("a.txt"), b"first");
    d.wait_until("the upload", || remote.join("a.txt").exists());
    d.wait_state("c", "synced");
    d.ferry_ok(&["pause", "c"]);
    d.wait_state("c", "paused");
    write(&local.join("a.txt"), b"mine, longer");
    write(&remote.join("a.txt"), b"theirs, longer still");
    let _ = d.ferry(&["run", "c"]);
    let (_l, _r) = add_folder_sync(&d, "idle", &["--disabled"]);
    let status = d.ferry_ok(&["status"]);
    assert!(status.contains("1 open conflict"), "{status}");
    assert!(
        status.contains("config.json.corrupt-") && status.contains("could not be used"),
        "{status}"
    );
    let idle = status
        .lines()
        .skip_while(|l| !l.contains("idle:"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(idle.contains("never ran"), "{status}");
    let c = status
        .lines()
        .skip_while(|l| !l.contains("c:"))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!c.contains("never ran"), "{status}");
    d.stop();
}

#[test]
fn status_follow_says_when_the_daemon_goes_away_and_exits_non_zero() {
    let mut d = TestDaemon::new();
    d.start();
    let child = d
        .cli(&["status", "--follow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    d.stop();
    let out = child.wait_with_output().unwrap();
    let (o, e) = text(&out);
    assert!(!out.status.success(), "{o}\n{e}");
    assert!(e.contains("went away"), "{e}");
}

#[test]
fn a_missing_side_is_the_remote_folder_never_the_remote_folder_folder() {
    let d = TestDaemon::new();
    let local = d.path("local");
    let remote = d.path("remote");
    fs::create_dir_all(&remote).unwrap();
    write(&local.join("a.txt"), b"a");
    let r = remote.display().to_string();
    assert!(standalone_sync(&d, &local, &r, &[]).status.success());
    fs::rename(&remote, d.path("unmounted")).unwrap();
    let out = standalone_sync(&d, &local, &r, &[]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{o}\n{e}");
    assert!(
        e.contains(&format!("the remote folder {r} does not exist")),
        "{e}"
    );
    assert!(!e.contains("folder folder"), "{e}");
    fs::rename(d.path("unmounted"), &remote).unwrap();
    fs::rename(&local, d.path("gone")).unwrap();
    let out = standalone_sync(&d, &local, &r, &[]);
    let (_, e) = text(&out);
    assert!(
        e.contains(&format!(
            "the local folder {} does not exist",
            local.display()
        )),
        "{e}"
    );
}

#[test]
fn ferry_run_into_an_unreachable_server_exits_with_status_5() {
    let mut d = TestDaemon::new();
    d.start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://127.0.0.1:{port}/dav/");
    d.ferry_ok_with_stdin(
        &[
            "account",
            "add",
            &url,
            "--user",
            "u",
            "--password-stdin",
            "--no-test",
        ],
        b"pw-1234\n",
    );
    let local = d.path("far-local");
    d.ferry_ok(&[
        "add",
        "far",
        &local.display().to_string(),
        &format!("{url}x"),
        "--create",
    ]);
    let out = d.ferry(&["run", "far"]);
    assert_eq!(out.status.code(), Some(5), "{:?}", text(&out));
    d.stop();
}
