//! The real `ferry sync` binary run the way the end-to-end tests run it:
//! a temp folder holding `local/`, `state/` and `home/` (HOME and
//! XDG_DATA_HOME point there, so the OS trash stays inside it), and a
//! remote that is either a folder next to them or a URL. Plus the small
//! helpers those tests share: [`show`] an `Output`, [`write`] a file with
//! its folders, and the [`snapshot`] / [`files`] of a tree.
//!
//! What differs between test files is a builder method, never a weaker
//! check: [`Env::timeout`] for slow quirk proxies, and
//! [`Env::strictly_quiet`] where a quiet pass must change nothing at all
//! (not even refresh a journal record, `adopt`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    dir: tempfile::TempDir,
    remote: String,
    timeout: u64,
    adopt_is_quiet: bool,
}

impl Env {
    /// With a WebDAV (or any) URL as the remote.
    pub fn new(url: String) -> Env {
        Env::with(tempfile::tempdir().unwrap(), url)
    }

    /// With a folder remote, `remote/` next to `local/`.
    pub fn folders() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("remote").display().to_string();
        fs::create_dir_all(&remote).unwrap();
        Env::with(dir, remote)
    }

    fn with(dir: tempfile::TempDir, remote: String) -> Env {
        fs::create_dir_all(dir.path().join("local")).unwrap();
        fs::create_dir_all(dir.path().join("home")).unwrap();
        Env {
            dir,
            remote,
            timeout: 5,
            adopt_is_quiet: true,
        }
    }

    /// `--timeout` in seconds for every pass (5 unless set).
    pub fn timeout(mut self, secs: u64) -> Env {
        self.timeout = secs;
        self
    }

    /// A quiet pass has empty counts. Without this, a pass that only
    /// refreshes journal records (`adopt`) is quiet too: Apache turns a
    /// weak entity tag into a strong one a second after a write.
    pub fn strictly_quiet(mut self) -> Env {
        self.adopt_is_quiet = false;
        self
    }

    /// The temp folder everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }

    /// The remote as a path (for a folder remote).
    pub fn remote(&self) -> PathBuf {
        PathBuf::from(&self.remote)
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `ferry sync LOCAL REMOTE --state STATE --timeout N EXTRA…`.
    pub fn cmd(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
        c.arg("sync")
            .arg(self.local())
            .arg(&self.remote)
            .arg("--state")
            .arg(self.state())
            .args(["--timeout", &self.timeout.to_string()])
            .args(extra)
            // The OS trash lives under the home folder: keep it in the temp dir.
            .env("HOME", self.home())
            .env("XDG_DATA_HOME", self.home().join(".local/share"))
            .env_remove("FERRY_LOG");
        c
    }

    /// A pass that must succeed; its output (no `--json` added).
    pub fn succeed(&self, extra: &[&str]) -> Output {
        let out = self.cmd(extra).output().unwrap();
        assert!(out.status.success(), "ferry sync failed: {}", show(&out));
        out
    }

    /// A `--json` pass whose report is returned whatever its exit status
    /// (there must be one).
    pub fn run(&self, extra: &[&str]) -> (Output, serde_json::Value) {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.cmd(&args).output().unwrap();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", show(&out)));
        (out, report)
    }

    /// A `--json` pass that must succeed; its report.
    pub fn sync(&self, extra: &[&str]) -> serde_json::Value {
        let (out, report) = self.run(extra);
        assert!(out.status.success(), "ferry sync failed: {}", show(&out));
        report
    }

    /// [`sync`](Self::sync) that must also report no failed item.
    pub fn sync_ok(&self, extra: &[&str]) -> serde_json::Value {
        let report = self.sync(extra);
        assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
        report
    }

    /// A pass that may report failed items (exit status 1), but not stop.
    pub fn pass(&self, extra: &[&str]) -> serde_json::Value {
        let (out, report) = self.run(extra);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "ferry sync stopped: {}",
            show(&out)
        );
        assert_eq!(report["stopped"], serde_json::Value::Null, "{report:#}");
        report
    }

    /// The next pass succeeds, fails on nothing and changes nothing on
    /// either side (see [`strictly_quiet`](Self::strictly_quiet)).
    pub fn assert_quiet(&self) {
        let again = self.sync_ok(&[]);
        if self.adopt_is_quiet {
            let counts = again["counts"].as_object().unwrap();
            assert!(
                counts.keys().all(|k| k == "adopt"),
                "second pass not quiet: {again:#}"
            );
        } else {
            assert_eq!(
                again["counts"],
                serde_json::json!({}),
                "second pass not quiet: {again:#}"
            );
        }
    }

    /// Two passes: the first succeeds without failed items, the second is
    /// quiet. The first one's report.
    pub fn sync_quiet(&self) -> serde_json::Value {
        let first = self.sync_ok(&[]);
        self.assert_quiet();
        first
    }
}

/// Exit status, stdout and stderr of a finished command, for messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Write a file, creating its folders.
pub fn write(path: &Path, content: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// Synchronized items under a folder (dot-names skipped at every level):
/// path → content, `None` for a folder.
pub fn snapshot(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(rel, None);
                stack.push(e.path());
            } else {
                out.insert(rel, Some(fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

/// Synchronized files only (dot-names skipped): path → content.
pub fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}
