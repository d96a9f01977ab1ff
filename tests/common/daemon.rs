//! A real `ferry daemon --headless` for tests: its own temp HOME, config and
//! data folders, the kernel keyring in a fresh session (`keyctl session -`),
//! started and stopped by the test. API calls go over real HTTP with the
//! token from the daemon's `api.port` file.
//!
//! Use from a test file: `#[path = "common/daemon.rs"] mod daemon;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    /// More environment for the daemon and the CLI ([`TestDaemon::set_env`]).
    extra_env: Vec<(String, std::ffi::OsString)>,
}

/// A long wait for something that normally takes a second: slow CI
/// machines must not fail a test, a hung daemon still does.
pub const PATIENCE: Duration = Duration::from_secs(60);

impl TestDaemon {
    /// A daemon with an empty configuration (not started).
    pub fn new() -> TestDaemon {
        let dir = tempfile::tempdir().unwrap();
        for d in ["home", "config"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        TestDaemon {
            dir,
            child: None,
            extra_env: Vec::new(),
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn env(&self, c: &mut Command) {
        c.env("HOME", self.dir.path().join("home"))
            .env("XDG_DATA_HOME", self.dir.path().join("home/.local/share"))
            // The first `ferry add` turns auto-start on: in the temp home.
            .env("XDG_CONFIG_HOME", self.dir.path().join("home/.config"))
            .env("FERRY_CONFIG_DIR", self.config_dir())
            .env("FERRY_DATA_DIR", self.data_dir())
            .env("FERRY_KEYRING", "keyutils")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("FERRY_LOG", "ferry=debug");
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
    }

    /// Set an environment variable for the daemon and the CLI (before
    /// [`TestDaemon::start`]), e.g. a `PATH` with a stand-in program first.
    pub fn set_env(&mut self, key: &str, value: impl Into<std::ffi::OsString>) {
        self.extra_env.push((key.to_string(), value.into()));
    }

    /// A `ferry` CLI command with this daemon's environment.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
        c.args(args).stdin(Stdio::null());
        self.env(&mut c);
        c
    }

    /// Run the CLI and return its output.
    pub fn ferry(&self, args: &[&str]) -> Output {
        self.cli(args).output().unwrap()
    }

    /// Run the CLI; panic unless it succeeds; its stdout.
    pub fn ferry_ok(&self, args: &[&str]) -> String {
        succeeded(args, self.ferry(args))
    }

    /// [`ferry`](Self::ferry) with `input` on its stdin (a password for
    /// `--password-stdin`).
    pub fn ferry_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = self
            .cli(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// [`ferry_ok`](Self::ferry_ok) with `input` on its stdin.
    pub fn ferry_ok_with_stdin(&self, args: &[&str], input: &[u8]) -> String {
        succeeded(args, self.ferry_with_stdin(args, input))
    }

    /// Add the account `alice` on the WebDAV server at `url` with
    /// `password`, as a user does (`ferry account add URL --user alice
    /// --password-stdin`: the connection tested); the CLI's output.
    pub fn add_account(&self, url: &str, password: &str) -> String {
        self.ferry_ok_with_stdin(
            &["account", "add", url, "--user", "alice", "--password-stdin"],
            format!("{password}\n").as_bytes(),
        )
    }

    /// Add a synchronization `name` between two new folders,
    /// `NAME-local` and `NAME-remote` under the test's folder (a folder
    /// remote), with the CLI; their paths.
    pub fn add_folder_sync(&self, name: &str) -> (PathBuf, PathBuf) {
        let local = self.path(&format!("{name}-local"));
        let remote = self.path(&format!("{name}-remote"));
        std::fs::create_dir_all(&local).unwrap();
        std::fs::create_dir_all(&remote).unwrap();
        self.ferry_ok(&[
            "add",
            name,
            local.to_str().unwrap(),
            remote.to_str().unwrap(),
        ]);
        (local, remote)
    }

    /// Add an account on a WebDAV server that does not answer (nothing
    /// listens on its loopback port, `--no-test`); its URL.
    pub fn unreachable_account(&self) -> String {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dead.local_addr().unwrap().port();
        drop(dead);
        let url = format!("http://127.0.0.1:{port}/dav/");
        self.ferry_ok_with_stdin(
            &[
                "account",
                "add",
                &url,
                "--user",
                "me",
                "--password-stdin",
                "--no-test",
            ],
            b"secret\n",
        );
        url
    }

    /// A new daemon, started (see [`start`](Self::start)).
    pub fn started() -> TestDaemon {
        let mut d = TestDaemon::new();
        d.start();
        d
    }

    /// Start the daemon and wait until its API answers.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already started");
        let _ = std::fs::remove_file(self.data_dir().join("api.port"));
        // A new session keyring: the kernel keyring backend works there.
        let mut c = Command::new("keyctl");
        c.args([
            "session",
            "-",
            env!("CARGO_BIN_EXE_ferry"),
            "daemon",
            "--headless",
            "--timeout",
            "5",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(self.dir.path().join("daemon.stderr")).unwrap());
        self.env(&mut c);
        self.child = Some(
            c.spawn()
                .expect("keyctl (Debian keyutils) must be installed"),
        );
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the daemon exited ({status}): {}", self.stderr());
            }
            if self.data_dir().join("api.port").exists() {
                if let Ok((200, _)) = self.try_api("GET", "/api/health", None) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not start: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + PATIENCE;
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(
                        status.success(),
                        "the daemon exited with {status}: {}",
                        self.stderr()
                    );
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the daemon did not stop on SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.stderr")).unwrap_or_default()
    }

    /// Every log line the daemon wrote (stderr and its log files).
    pub fn all_logs(&self) -> String {
        let mut s = self.stderr();
        if let Ok(dir) = std::fs::read_dir(self.data_dir().join("logs")) {
            for e in dir.flatten() {
                s.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        s
    }

    /// (port, token) from the port file.
    pub fn endpoint(&self) -> (u16, String) {
        let v: Value =
            serde_json::from_slice(&std::fs::read(self.data_dir().join("api.port")).unwrap())
                .unwrap();
        (
            v["port"].as_u64().unwrap() as u16,
            v["token"].as_str().unwrap().to_string(),
        )
    }

    /// A raw request: method, path, headers, body (with its content type).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let (port, _) = self.endpoint();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            let mut rb = client.request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("http://127.0.0.1:{port}{path}"),
            );
            for (k, v) in headers {
                rb = rb.header(*k, *v);
            }
            if let Some((ct, b)) = body {
                rb = rb.header("Content-Type", ct).body(b);
            }
            let resp = rb.send().await.unwrap();
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            (status, resp.text().await.unwrap(), headers)
        })
    }

    fn try_api(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let (port, token) =
            std::panic::catch_unwind(|| self.endpoint()).map_err(|_| "no port file".to_string())?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap();
            let mut rb = client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("http://127.0.0.1:{port}{path}"),
                )
                .bearer_auth(token);
            if let Some(b) = body {
                rb = rb
                    .header("Content-Type", "application/json")
                    .body(serde_json::to_vec(b).unwrap());
            }
            let resp = rb.send().await.map_err(|e| e.to_string())?;
            let status = resp.status().as_u16();
            let text = resp.text().await.map_err(|e| e.to_string())?;
            let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
            Ok((status, v))
        })
    }

    /// An API call with the token; (status, JSON).
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.try_api(method, path, body).unwrap()
    }

    /// An API call that must succeed (2xx).
    pub fn api_ok(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, v) = self.api(method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v:#}"
        );
        v
    }

    /// A synchronization's status.
    pub fn sync_status(&self, name: &str) -> Value {
        self.api_ok("GET", &format!("/api/syncs/{name}"), None)["status"].clone()
    }

    /// Wait until `cond` holds (checked every 100 ms), or panic with `what`.
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until a synchronization is in `state`.
    pub fn wait_state(&self, name: &str, state: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let last = self.sync_status(name);
            if last["state"] == state {
                return last;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never became {state}; last: {last:#}\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `ferry ARGS`' stdout; panic with its output unless it succeeded.
fn succeeded(args: &[&str], out: Output) -> String {
    assert!(
        out.status.success(),
        "ferry {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Write a file (and its parents).
pub fn write(path: &Path, content: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, content).unwrap();
}

/// Files under `root` (relative path → content), Ferry's own dot-files and
/// trash left out.
pub fn files(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    walk(root, root, &mut out);
    out
}
