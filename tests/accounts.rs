//! `ferry account` end to end: the command logic on a temp config folder
//! with an in-memory secret store and a small WebDAV-ish server on
//! loopback, then the REAL keyring backends in child processes:
//!
//! * `real_keyring_roundtrip`: the Secret Service (GNOME Keyring) in a
//!   private D-Bus session (`dbus-run-session`), HOME in a temp folder;
//! * `real_kernel_keyring_fallback`: no D-Bus at all, inside a fresh kernel
//!   session keyring (`keyctl session -`): the automatic choice falls back
//!   to keyutils.
//!
//! Each of these re-runs this test binary (`current_exe`) with
//! `FERRY_TEST_INNER=<test name>` inside the prepared environment; the
//! inner run does the round trip. Missing tools make them FAIL, naming the
//! Debian packages `scripts/test.sh` installs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

use ferry::accounts;
use ferry::cli::account::offline::{self, AccountCommand, Io};
use ferry::config::{Config, RemoteSpec, SyncConfig};
use ferry::remote::webdav::Credentials;
use ferry::secrets::{Backend, KeyringStore, MemoryStore, SERVICE, SecretStore};

const INNER_ENV: &str = "FERRY_TEST_INNER";
const MARKER: &str = "FERRY-INNER-TEST-DONE";
const PACKAGES: &str = "dbus gnome-keyring keyutils";

// ---------------------------------------------------------------------------
// A tiny HTTP server answering PROPFIND like a WebDAV server would.

/// `alice:s3cret` in a Basic Authorization header.
const GOOD_AUTH: &str = "Basic YWxpY2U6czNjcmV0";

fn multistatus(href: &str, collection: bool) -> String {
    let rt = if collection {
        "<d:resourcetype><d:collection/></d:resourcetype>"
    } else {
        "<d:resourcetype/>"
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>{href}</d:href>
<d:propstat><d:prop>{rt}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>
</d:response></d:multistatus>"#
    )
}

fn respond(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut auth = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("authorization:") {
            auth = line["authorization:".len()..].trim().to_string();
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let (status, extra, body) = if method != "PROPFIND" || path.starts_with("/web/") {
        ("405 Method Not Allowed", String::new(), String::new())
    } else if path.starts_with("/moved/") {
        (
            "301 Moved Permanently",
            "Location: https://elsewhere.example/dav/\r\n".to_string(),
            String::new(),
        )
    } else if auth != GOOD_AUTH {
        (
            "401 Unauthorized",
            "WWW-Authenticate: Basic realm=\"test\"\r\n".to_string(),
            String::new(),
        )
    } else if path == "/dav/" || path.starts_with("/dav/sub/") {
        ("207 Multi-Status", String::new(), multistatus(path, true))
    } else if path.starts_with("/dav/file.txt") {
        ("207 Multi-Status", String::new(), multistatus(path, false))
    } else {
        ("404 Not Found", String::new(), String::new())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{extra}Content-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// Start the server; returns its base URL (`http://127.0.0.1:PORT`).
fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = respond(&mut stream);
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A loopback URL where nothing listens.
fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/dav/")
}

// ---------------------------------------------------------------------------
// Running commands.

struct Output {
    out: String,
    err: String,
}

fn run_io(
    cmd: AccountCommand,
    dir: &Path,
    store: &dyn SecretStore,
    stdin: &str,
) -> (anyhow::Result<()>, Output) {
    let mut input = std::io::Cursor::new(stdin.as_bytes().to_vec());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let prompt =
        |_: &str| -> std::io::Result<String> { Err(std::io::Error::other("no terminal in tests")) };
    let r = offline::run_with_io(
        cmd,
        dir,
        store,
        &mut Io {
            input: &mut input,
            out: &mut out,
            err: &mut err,
            prompt: &prompt,
        },
    );
    let o = Output {
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    };
    (r, o)
}

fn add(url: &str, user: &str, no_test: bool) -> AccountCommand {
    AccountCommand::Add {
        url: url.to_string(),
        user: user.to_string(),
        password_stdin: true,
        token: false,
        no_test,
        ca_file: None,
    }
}

fn config(dir: &Path) -> Config {
    let (c, w) = Config::load(dir).unwrap();
    assert!(w.is_none());
    c
}

// ---------------------------------------------------------------------------
// Command logic with a memory store.

#[test]
fn add_tests_the_connection_and_stores_secret_outside_config() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    let url = format!("{server}/dav");

    let (r, o) = run_io(add(&url, "alice", false), dir.path(), &store, "s3cret\n");
    r.unwrap();
    assert!(o.out.contains("Connected to"), "{}", o.out);
    assert!(o.out.contains("added"), "{}", o.out);
    let c = config(dir.path());
    assert_eq!(c.accounts.len(), 1);
    assert_eq!(c.accounts[0].url, format!("{server}/dav/"));
    assert_eq!(c.accounts[0].user, "alice");
    let key = format!("alice@{server}/dav/");
    assert_eq!(store.get(SERVICE, &key).unwrap().as_deref(), Some("s3cret"));
    let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(!text.contains("s3cret"), "secret in config: {text}");
    assert!(!o.out.contains("s3cret") && !o.err.contains("s3cret"));

    // Adding again changes the password (same account, same id).
    let (r, o) = run_io(add(&url, "alice", true), dir.path(), &store, "n3w\n");
    r.unwrap();
    assert!(o.out.contains("updated"), "{}", o.out);
    assert_eq!(config(dir.path()).accounts.len(), 1);
    assert_eq!(store.get(SERVICE, &key).unwrap().as_deref(), Some("n3w"));

    // `run` itself (stdout) lists it.
    offline::run(AccountCommand::List, dir.path(), &store).unwrap();
}

#[test]
fn wrong_password_is_reported_and_nothing_saved() {
    let server = start_server();
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    let (r, _) = run_io(
        add(&format!("{server}/dav/"), "alice", false),
        dir.path(),
        &store,
        "wrong-pw\n",
    );
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("401"), "{e}");
    assert!(e.contains("user name or password"), "{e}");
    assert!(e.contains("--no-test"), "{e}");
    assert!(e.contains("Nothing was saved"), "{e}");
    assert!(!e.contains("wrong-pw"), "{e}");
    assert!(store.is_empty());
    assert!(config(dir.path()).accounts.is_empty());
}

#[test]
fn unreachable_server_is_reported_but_no_test_saves() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    let url = refused_url();
    let (r, _) = run_io(add(&url, "bob", false), dir.path(), &store, "pw\n");
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("not reachable"), "{e}");
    assert!(e.contains("connection refused"), "{e}");
    assert!(config(dir.path()).accounts.is_empty());

    let (r, o) = run_io(add(&url, "bob", true), dir.path(), &store, "pw\n");
    r.unwrap();
    assert!(o.out.contains("--no-test"), "{}", o.out);
    assert_eq!(config(dir.path()).accounts.len(), 1);
    assert_eq!(store.len(), 1);
}

#[test]
fn connection_check_explains_other_failures() {
    let server = start_server();
    let check = |path: &str| {
        accounts::check_connection(
            &format!("{server}{path}"),
            &Credentials::password("alice", "s3cret"),
            None,
        )
        .map_err(|e| e.to_string())
    };
    assert_eq!(check("/dav/"), Ok(()));
    assert_eq!(check("/dav/sub/"), Ok(()));
    let e = check("/nothing/").unwrap_err();
    assert!(e.contains("404") && e.contains("check the URL"), "{e}");
    let e = check("/dav/file.txt").unwrap_err();
    assert!(e.contains("is a file, not a folder"), "{e}");
    let e = check("/web/").unwrap_err();
    assert!(e.contains("WebDAV URL"), "{e}");
    let e = check("/moved/").unwrap_err();
    assert!(e.contains("https://elsewhere.example/dav/"), "{e}");
    // TLS to a plain-HTTP server fails in the handshake.
    let https = server.replace("http://", "https://");
    let e = accounts::check_connection(
        &format!("{https}/dav/"),
        &Credentials::password("alice", "s3cret"),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, accounts::CheckError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("--ca-file"), "{e}");
}

#[test]
fn remove_refuses_while_used_and_force_disables_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    run_io(
        add("https://h.example/dav", "u", true),
        dir.path(),
        &store,
        "pw\n",
    )
    .0
    .unwrap();
    let mut c = config(dir.path());
    let id = c.accounts[0].id.clone();
    let local = dir.path().join("local");
    std::fs::create_dir(&local).unwrap();
    std::fs::write(local.join("keep.txt"), b"mine").unwrap();
    c.add_sync(SyncConfig::new(
        "Work",
        local.clone(),
        RemoteSpec::WebDav {
            account: id.clone(),
            path: "Work".into(),
        },
    ))
    .unwrap();
    c.add_sync(SyncConfig::new(
        "Other",
        dir.path().join("o"),
        RemoteSpec::Folder {
            path: dir.path().join("r"),
        },
    ))
    .unwrap();
    c.save(dir.path()).unwrap();

    let remove = |force| AccountCommand::Remove {
        url_or_id: "https://H.example:443/dav/".into(),
        yes: false,
        force,
    };
    let (r, _) = run_io(remove(false), dir.path(), &store, "");
    let e = r.unwrap_err().to_string();
    assert!(e.contains("Work") && e.contains("--force"), "{e}");
    assert_eq!(store.len(), 1, "nothing changed");
    assert_eq!(config(dir.path()).accounts.len(), 1);

    let (r, o) = run_io(remove(true), dir.path(), &store, "");
    r.unwrap();
    assert!(o.out.contains("Disabled synchronizations"), "{}", o.out);
    let c = config(dir.path());
    assert!(c.accounts.is_empty());
    assert!(store.is_empty());
    assert!(!c.find_sync("Work").unwrap().enabled);
    assert!(c.find_sync("Other").unwrap().enabled);
    assert_eq!(std::fs::read(local.join("keep.txt")).unwrap(), b"mine");

    let e = offline::run(
        AccountCommand::Remove {
            url_or_id: id,
            yes: false,
            force: false,
        },
        dir.path(),
        &store,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no account matches"), "{e}");
}

#[test]
fn remove_when_keyring_is_unavailable_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let good = MemoryStore::new();
    run_io(
        add("https://h.example/dav", "u", true),
        dir.path(),
        &good,
        "pw\n",
    )
    .0
    .unwrap();
    let broken = MemoryStore::unavailable("no D-Bus session");
    let (r, _) = run_io(
        AccountCommand::Remove {
            url_or_id: "h-example".into(),
            yes: false,
            force: false,
        },
        dir.path(),
        &broken,
        "",
    );
    let e = format!("{:#}", r.unwrap_err());
    assert!(
        e.contains("no D-Bus session") && e.contains("--force"),
        "{e}"
    );
    assert_eq!(config(dir.path()).accounts.len(), 1);
    let (r, o) = run_io(
        AccountCommand::Remove {
            url_or_id: "h-example".into(),
            yes: false,
            force: true,
        },
        dir.path(),
        &broken,
        "",
    );
    r.unwrap();
    assert!(o.err.contains("stays in the keyring"), "{}", o.err);
    assert!(config(dir.path()).accounts.is_empty());
}

#[test]
fn credentials_for_finds_the_longest_matching_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = MemoryStore::new();
    run_io(
        add("https://h.example/dav/", "root", true),
        dir.path(),
        &store,
        "pw-root\n",
    )
    .0
    .unwrap();
    run_io(
        add("https://h.example/dav/files/alice", "alice", true),
        dir.path(),
        &store,
        "pw-alice\n",
    )
    .0
    .unwrap();
    let creds = accounts::credentials_for(
        "https://h.example/dav/files/alice/Documents/",
        dir.path(),
        &store,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (creds.user.as_str(), creds.password.as_str()),
        ("alice", "pw-alice")
    );
    assert!(!format!("{creds:?}").contains("pw-alice"));
    let creds = accounts::credentials_for("https://h.example/dav/other", dir.path(), &store)
        .unwrap()
        .unwrap();
    assert_eq!(creds.user, "root");
    assert!(
        accounts::credentials_for("https://elsewhere.example/dav/", dir.path(), &store)
            .unwrap()
            .is_none()
    );
    assert!(
        accounts::credentials_for("/some/local/folder", dir.path(), &store)
            .unwrap()
            .is_none()
    );
    // The password was lost from the keyring: say what to do.
    store
        .delete(SERVICE, "alice@https://h.example/dav/files/alice/")
        .unwrap();
    let e = accounts::credentials_for("https://h.example/dav/files/alice/x", dir.path(), &store)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no password") && e.contains("ferry account add"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// The real keyring backends, in child processes.

fn inner_test() -> Option<String> {
    std::env::var(INNER_ENV).ok()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

fn require_tools(tools: &[&str]) {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    assert!(
        missing.is_empty(),
        "{} not found: this test needs the Debian packages {PACKAGES} \
         (scripts/test.sh installs them; or: apt-get install {PACKAGES})",
        missing.join(", ")
    );
}

/// A private HOME and runtime folder for a child, and the environment that
/// points at them (no D-Bus session, no desktop).
fn isolated(cmd: &mut Command, home: &Path) {
    let runtime = home.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    cmd.env("HOME", home)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("FERRY_KEYRING")
        .env_remove("FERRY_CONFIG_DIR");
}

/// Run a child to its end (killed after two minutes: a keyring waiting for a
/// prompt must not hang the suite) and check it ran the inner test.
fn run_child(mut cmd: Command, what: &str) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut pipes = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipes.0.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipes.1.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().unwrap();
    let stderr = err_reader.join().unwrap();
    let ok = status.is_some_and(|s| s.success()) && stdout.contains(MARKER);
    assert!(
        ok,
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        status.map_or("killed after 120 s".to_string(), |s| s.to_string())
    );
}

/// The same round trip on any real store: set, read back from a second
/// store value (state is shared, unlike keyring's mock), replace, delete;
/// then `ferry account add/remove` and `credentials_for` through it.
fn round_trip(make: &dyn Fn() -> KeyringStore, expect: Backend) {
    let store = make();
    assert_eq!(store.backend().unwrap(), expect);
    let key = "tester@https://dav.example/remote.php/dav/files/tester/";
    assert_eq!(store.get(SERVICE, key).unwrap(), None);
    store.set(SERVICE, key, "first secret").unwrap();
    assert_eq!(
        make().get(SERVICE, key).unwrap().as_deref(),
        Some("first secret")
    );
    store.set(SERVICE, key, "second sëcret").unwrap();
    assert_eq!(
        make().get(SERVICE, key).unwrap().as_deref(),
        Some("second sëcret")
    );
    assert!(store.delete(SERVICE, key).unwrap());
    assert!(!make().delete(SERVICE, key).unwrap());
    assert_eq!(make().get(SERVICE, key).unwrap(), None);
    assert!(!format!("{store:?}").contains("sëcret"));

    let dir = tempfile::tempdir().unwrap();
    let url = "https://dav.example/remote.php/dav/files/tester";
    let (r, o) = run_io(add(url, "tester", true), dir.path(), &store, "app-pass\n");
    r.unwrap();
    println!("{}", o.out.trim());
    let creds = accounts::credentials_for(&format!("{url}/Docs/"), dir.path(), &make())
        .unwrap()
        .unwrap();
    assert_eq!(creds.password, "app-pass");
    let (r, _) = run_io(
        AccountCommand::Remove {
            url_or_id: url.into(),
            yes: false,
            force: false,
        },
        dir.path(),
        &store,
        "",
    );
    r.unwrap();
    assert_eq!(
        make().get(SERVICE, &format!("tester@{url}/")).unwrap(),
        None
    );
}

#[test]
fn real_keyring_roundtrip() {
    if inner_test().as_deref() == Some("real_keyring_roundtrip") {
        round_trip(
            &|| KeyringStore::with_backend(Backend::SecretService),
            Backend::SecretService,
        );
        // The automatic choice takes the Secret Service when there is one.
        assert_eq!(
            KeyringStore::new().backend().unwrap(),
            Backend::SecretService
        );
        println!("{MARKER}");
        return;
    }
    require_tools(&["dbus-run-session", "gnome-keyring-daemon"]);
    let home = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = "echo -n test-keyring-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 97; \
                  exec \"$0\" --exact real_keyring_roundtrip --nocapture --test-threads=1";
    let mut cmd = Command::new("dbus-run-session");
    cmd.args(["--", "sh", "-c", script]).arg(&exe);
    isolated(&mut cmd, home.path());
    cmd.env(INNER_ENV, "real_keyring_roundtrip");
    run_child(cmd, "the Secret Service round trip under dbus-run-session");
}

#[test]
fn real_kernel_keyring_fallback() {
    if inner_test().as_deref() == Some("real_kernel_keyring_fallback") {
        // No D-Bus session here: the automatic choice falls back to keyutils.
        round_trip(&KeyringStore::new, Backend::KernelKeyring);
        println!("{MARKER}");
        return;
    }
    require_tools(&["keyctl"]);
    let home = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("keyctl");
    cmd.args(["session", "-"]).arg(&exe).args([
        "--exact",
        "real_kernel_keyring_fallback",
        "--nocapture",
        "--test-threads=1",
    ]);
    isolated(&mut cmd, home.path());
    cmd.env(INNER_ENV, "real_kernel_keyring_fallback");
    run_child(
        cmd,
        "the kernel keyring round trip under `keyctl session -`",
    );
}

/// Without a Secret Service and without a usable kernel keyring, the
/// error says what to do.
#[test]
fn no_keyring_error_says_what_to_do() {
    if inner_test().as_deref() == Some("no_keyring_error_says_what_to_do") {
        let e = KeyringStore::with_backend(Backend::SecretService)
            .get(SERVICE, "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("dbus-run-session"), "{e}");
        assert!(e.contains("gnome-keyring"), "{e}");
        println!("{MARKER}");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "no_keyring_error_says_what_to_do",
        "--nocapture",
        "--test-threads=1",
    ]);
    isolated(&mut cmd, home.path());
    cmd.env(INNER_ENV, "no_keyring_error_says_what_to_do");
    run_child(cmd, "the no-Secret-Service check");
}
