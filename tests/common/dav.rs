//! Real WebDAV servers for integration tests: Apache mod_dav, nginx dav +
//! dav_ext, `rclone serve webdav`, wsgidav and the in-process `dav-server`
//! crate. Each one listens on 127.0.0.1 on a free port, serves its own temp
//! folder and is stopped (process group killed and reaped) when the
//! [`DavServer`] is dropped.
//!
//! Use it from a test file with
//!
//! ```ignore
//! #[path = "common/dav.rs"]
//! mod dav;
//! use dav::{DavKind, DavServer};
//!
//! let server = DavServer::start(DavKind::Apache);
//! let url = server.url(); // http://127.0.0.1:PORT/dav/sync/ — exists, empty
//! server.write("a/b.txt", b"changed on the server");
//! let seen = server.requests(); // (method, path, status, bytes out, bytes in)
//! ```
//!
//! (or put `pub mod dav;` in a `tests/common/mod.rs` and use `mod common;`).
//!
//! Layout and URLs, the same for every kind:
//!
//! * `url()` is `http://127.0.0.1:PORT/dav/sync/`, backed by `root()`
//!   (`<tmp>/data/dav/sync`); `http://127.0.0.1:PORT/dav/` is a collection
//!   too (the parent of the sync folder).
//! * Change server-side files through [`DavServer::write`], [`DavServer::mkdir`],
//!   [`DavServer::remove`] and [`DavServer::set_mtime`]: Apache refuses to run
//!   as root, so when the tests run as root its workers run as `www-data`
//!   and these helpers hand new files and folders to that user. Files written
//!   into `root()` directly (as root) stay readable and replaceable by Apache,
//!   but it cannot create anything inside folders made that way.
//!
//! `requests()` lists the requests the server finished, oldest first, with
//! percent-decoded paths (no query string). Where they come from:
//!
//! | kind | source | bytes out / bytes in |
//! |---|---|---|
//! | Apache | access log (`%>s %I %O %r`, mod_logio) | whole response / whole request, headers included |
//! | nginx | access log (`$status $request_length $bytes_sent $request`) | whole response / whole request, headers included |
//! | rclone | a counting reverse proxy in the test process (rclone logs no status or sizes) | bodies only |
//! | wsgidav | a counting WSGI middleware around `WsgiDAVApp` | bodies only |
//! | dav-server | a counting wrapper around the handler | bodies only |
//!
//! A server logs a request only after the response went out, so for the
//! log-based kinds `requests()` first waits until every answered request is
//! logged: nginx (one worker, logs before it takes the next event) by a
//! marker request it waits to see in the log; Apache (logs on whichever
//! worker thread served the request) until mod_status shows no other busy
//! worker; wsgidav until the middleware counts no request in flight. The
//! harness's own requests (paths starting `/ferry-`) and the start-up traffic
//! are left out.
//!
//! What is needed (`scripts/test.sh` installs all of it): Debian `apache2`,
//! `nginx-extras` (nginx + the dav_ext module), `rclone`, and wsgidav +
//! cheroot in the venv `~/.cache/ferry-test-venv` (override with
//! `FERRY_WSGIDAV_PYTHON=/path/to/python`). `FERRY_DAV_KINDS=nginx,dav-server`
//! limits [`all_kinds`] to a subset; by default it is every kind, and a
//! missing server program makes [`DavServer::start`] panic with what to
//! install.
//!
//! Server set-up and quirks worth knowing (see also `shared/servers.md`):
//!
//! * Apache runs with Debian's mpm_event and keep-alive settings (2 worker
//!   processes), `DavDepthInfinity Off` (403 on `Depth: infinity`;
//!   [`DavOptions`] turns it on) and, like Debian's default set-up, mod_dir,
//!   which answers a request for a collection without its trailing slash
//!   with a 301. Its DAV lock database (Berkeley DB) is created at start-up
//!   by a PUT + DELETE of `/dav/.ferry-warm-up`: created lazily, concurrent
//!   first writes made some PUTs wait exactly 1 s.
//! * nginx runs one worker, as root when the tests run as root.
//! * rclone runs with `--dir-cache-time 0s`: with its default (5 min), files
//!   changed on disk stay invisible over WebDAV.
//! * wsgidav runs `WsgiDAVApp` with its default settings (so no
//!   `honor_mtime_header` unless [`DavOptions`] asks) and anonymous
//!   read-write access on cheroot, as its `wsgidav` command does.
//!
//! * Sign-in: [`DavOptions::basic_auth`] (nginx), [`DavOptions::digest_auth`]
//!   (wsgidav's `http_authenticator` accepting Digest only; Apache's
//!   mod_auth_digest with an htdigest file, the warm-up file left open) and
//!   [`DavOptions::bearer_token`] (nginx: a `map` on `$http_authorization`,
//!   401 with `WWW-Authenticate: Bearer` otherwise).
//!
//! Do not keep a `DavServer` in a `static`: statics are never dropped, so the
//! server would outlive the tests.
#![allow(dead_code)]

use std::convert::Infallible;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::{Request, Response};

/// The WebDAV servers the harness can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DavKind {
    /// Apache 2.4 mod_dav + mod_dav_fs (Debian `apache2`).
    Apache,
    /// nginx dav + dav_ext (Debian `nginx-extras`).
    Nginx,
    /// `rclone serve webdav` (Debian `rclone`).
    Rclone,
    /// wsgidav 4 on cheroot (PyPI `wsgidav`, `cheroot`).
    WsgiDav,
    /// The `dav-server` crate with `LocalFs`, in this process.
    DavServer,
}

impl DavKind {
    /// Every kind, in a fixed order.
    pub const ALL: [DavKind; 5] = [
        DavKind::Apache,
        DavKind::Nginx,
        DavKind::Rclone,
        DavKind::WsgiDav,
        DavKind::DavServer,
    ];

    /// A short lower-case name: `apache`, `nginx`, `rclone`, `wsgidav`,
    /// `dav-server` (the names `FERRY_DAV_KINDS` takes).
    pub fn name(self) -> &'static str {
        match self {
            DavKind::Apache => "apache",
            DavKind::Nginx => "nginx",
            DavKind::Rclone => "rclone",
            DavKind::WsgiDav => "wsgidav",
            DavKind::DavServer => "dav-server",
        }
    }

    /// `None` when this kind can run here, else what is missing and how to
    /// install it.
    pub fn missing(self) -> Option<String> {
        let debian = |pkg: &str, what: &str| {
            format!(
                "{what} not found: install the Debian package `{pkg}` \
                 (`apt-get install {pkg}`; scripts/test.sh does it)"
            )
        };
        match self {
            DavKind::Apache => {
                if find_program("apache2").is_none() {
                    return Some(debian("apache2", "apache2"));
                }
                for m in APACHE_MODULES {
                    let so = Path::new(APACHE_MODULE_DIR).join(format!("mod_{m}.so"));
                    if !so.exists() {
                        return Some(debian("apache2", &so.display().to_string()));
                    }
                }
                None
            }
            DavKind::Nginx => {
                if find_program("nginx").is_none() {
                    return Some(debian("nginx-extras", "nginx"));
                }
                if !Path::new(NGINX_DAV_EXT).exists() {
                    return Some(debian("nginx-extras", NGINX_DAV_EXT));
                }
                None
            }
            DavKind::Rclone => find_program("rclone")
                .is_none()
                .then(|| debian("rclone", "rclone")),
            DavKind::WsgiDav => {
                let python = wsgidav_python();
                let ok = Command::new(&python)
                    .args(["-c", "import wsgidav, cheroot"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                (!ok).then(|| {
                    format!(
                        "wsgidav not found for {}: run scripts/test.sh, or \
                         `python3 -m venv ~/.cache/ferry-test-venv && \
                         ~/.cache/ferry-test-venv/bin/pip install wsgidav cheroot` \
                         (Debian needs `python3-venv`), or point FERRY_WSGIDAV_PYTHON \
                         at a python that has wsgidav and cheroot",
                        python.display()
                    )
                })
            }
            DavKind::DavServer => None,
        }
    }

    /// Whether this kind's server program is installed.
    pub fn is_available(self) -> bool {
        self.missing().is_none()
    }
}

impl std::fmt::Display for DavKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kinds for the conformance suite: every kind, or those named in
/// `FERRY_DAV_KINDS` (comma-separated names, see [`DavKind::name`]). Missing
/// programs are not filtered out, so that a broken set-up fails loudly.
pub fn all_kinds() -> Vec<DavKind> {
    match std::env::var("FERRY_DAV_KINDS") {
        Ok(list) if !list.trim().is_empty() => {
            let kinds: Vec<DavKind> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|name| {
                    DavKind::ALL
                        .into_iter()
                        .find(|k| k.name().eq_ignore_ascii_case(name))
                        .unwrap_or_else(|| {
                            panic!("FERRY_DAV_KINDS: unknown kind {name:?} (known: apache, nginx, rclone, wsgidav, dav-server)")
                        })
                })
                .collect();
            kinds
        }
        _ => DavKind::ALL.to_vec(),
    }
}

/// Start-up options.
#[derive(Clone, Debug, Default)]
pub struct DavOptions {
    /// Apache only: `DavDepthInfinity On` (off by default, as on Debian).
    /// The other servers have no such switch (nginx always refuses
    /// `Depth: infinity`; rclone, wsgidav and dav-server allow it).
    pub depth_infinity: bool,
    /// nginx only: ask for HTTP Basic authentication on `/dav/` with this
    /// user and password ([`DavServer::set_password`] changes it while the
    /// server runs, as an administrator would).
    pub basic_auth: Option<(String, String)>,
    /// wsgidav only: `honor_mtime_header` (off by default, as in wsgidav):
    /// `X-OC-Mtime` on PUT sets the file's modification time.
    pub honor_mtime: bool,
    /// wsgidav and Apache: ask for HTTP Digest authentication (and accept
    /// nothing else) with this user and password: wsgidav's
    /// `http_authenticator` with `accept_basic: false`, Apache's
    /// mod_auth_digest with an htdigest file.
    pub digest_auth: Option<(String, String)>,
    /// nginx only: ask for `Authorization: Bearer <this token>` and answer
    /// anything else with 401 and `WWW-Authenticate: Bearer`.
    pub bearer_token: Option<String>,
}

/// One finished request, as `requests()` reports it.
pub type RequestRecord = (String, String, u16, u64, u64);

/// A running WebDAV server; dropped = stopped.
pub struct DavServer {
    kind: DavKind,
    port: u16,
    root: PathBuf,
    /// `(uid, gid)` that server-side files must belong to, when that is not
    /// the test process's own user (Apache's `www-data` when we are root).
    owner: Option<(u32, u32)>,
    backend: Backend,
    /// Dropped last (after the server stopped): removes the files.
    tmp: tempfile::TempDir,
}

enum Backend {
    /// A server process that writes an access log we parse.
    Logged {
        child: Child,
        log: PathBuf,
        /// Where the test's part of the log starts (after start-up traffic).
        log_start: u64,
        format: LogFormat,
        settle: Settle,
        markers: AtomicU64,
    },
    /// rclone behind a counting proxy in this process.
    Proxied { child: Child, http: InProcessHttp },
    /// dav-server in this process.
    InProcess { http: InProcessHttp },
}

/// How `requests()` makes sure every answered request is in the log.
#[derive(Clone, Copy)]
enum Settle {
    /// Send a marker request and wait until it is logged: enough for nginx,
    /// whose one worker logs a request before it reads the next event.
    Marker,
    /// Wait until mod_status shows no other busy worker and no connection
    /// in asynchronous write completion: Apache logs a request on the worker
    /// thread after the response went out, so another thread can log a later
    /// request first.
    ApacheStatus,
    /// Wait until our wsgidav middleware counts no request in flight (it
    /// logs after the response went out, on cheroot's worker thread).
    Inflight,
}

#[derive(Clone, Copy)]
enum LogFormat {
    /// `STATUS IN OUT METHOD URI PROTO` (Apache and nginx).
    Combined,
    /// One JSON object a line (our wsgidav wrapper).
    Json,
}

const APACHE_MODULE_DIR: &str = "/usr/lib/apache2/modules";
const APACHE_MODULES: [&str; 7] = [
    "mpm_event",
    "authz_core",
    "dir",
    "mime",
    "dav",
    "dav_fs",
    "status",
];
/// What [`DavOptions::digest_auth`] adds to Apache.
const APACHE_DIGEST_MODULES: [&str; 4] = ["auth_digest", "authn_core", "authn_file", "authz_user"];

/// MD5 in hex (an htdigest line), by Python's hashlib: the harness has no
/// MD5 of its own.
fn md5_hex(text: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.md5(sys.argv[1].encode()).hexdigest())",
            text,
        ])
        .output()
        .expect("python3 for an htdigest line");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

const NGINX_DAV_EXT: &str = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so";
/// Requests to paths starting with this are the harness's own and left out
/// of `requests()`.
const INTERNAL_PREFIX: &str = "/ferry-";
const MARKER_PREFIX: &str = "/ferry-log-marker-";
const APACHE_STATUS: &str = "/ferry-server-status";
const WSGIDAV_INFLIGHT: &str = "/ferry-inflight";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 4;

impl DavServer {
    /// Starts a server of this kind with default options. Panics (saying
    /// what to install) when the server program is missing.
    pub fn start(kind: DavKind) -> DavServer {
        DavServer::start_with(kind, DavOptions::default())
    }

    /// Starts a server of this kind with `options`.
    pub fn start_with(kind: DavKind, options: DavOptions) -> DavServer {
        if let Some(missing) = kind.missing() {
            panic!("cannot start the {kind} WebDAV server: {missing}");
        }
        let tmp = tempfile::Builder::new()
            .prefix(&format!("ferry-dav-{}-", kind.name()))
            .tempdir()
            .expect("create a temp dir for the WebDAV server");
        let data = tmp.path().join("data");
        let root = data.join("dav").join("sync");
        fs::create_dir_all(&root).expect("create the server's data folder");

        let owner = match kind {
            DavKind::Apache if is_root() => Some(user_ids("www-data")),
            _ => None,
        };
        if let Some((uid, gid)) = owner {
            // The workers must get through the temp dir and own the data.
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
            for dir in [&data, &data.join("dav"), &root] {
                std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
            }
        }

        let mut last_failure = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let started = match kind {
                DavKind::Apache => start_apache(tmp.path(), owner, &options),
                DavKind::Nginx => start_nginx(tmp.path(), &options),
                DavKind::Rclone => start_rclone(tmp.path()),
                DavKind::WsgiDav => start_wsgidav(tmp.path(), &options),
                DavKind::DavServer => Ok(start_dav_server(tmp.path())),
            };
            match started {
                Ok((port, backend)) => {
                    return DavServer {
                        kind,
                        port,
                        root,
                        owner,
                        backend,
                        tmp,
                    };
                }
                Err(failure) => {
                    // Retry only what a port taken in the meantime explains.
                    let port_race = failure.contains("in use") || failure.contains("not answering");
                    last_failure = failure;
                    if !port_race {
                        break;
                    }
                    eprintln!(
                        "dav harness: {kind} did not start (attempt {attempt}/{START_ATTEMPTS}): {last_failure}"
                    );
                }
            }
        }
        panic!("the {kind} WebDAV server did not start: {last_failure}");
    }

    /// `http://127.0.0.1:PORT/dav/sync/`: an existing, initially empty
    /// collection (ends in `/`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/dav/sync/", self.port)
    }

    /// Change the password of a server started with
    /// [`DavOptions::basic_auth`] (nginx), effective at the next request.
    pub fn set_password(&self, user: &str, password: &str) {
        assert_eq!(self.kind, DavKind::Nginx, "only nginx runs with a password");
        assert!(
            self.tmp.path().join("htpasswd").exists(),
            "the server was started without DavOptions::basic_auth"
        );
        write_htpasswd(self.tmp.path(), user, password);
    }

    /// `http://127.0.0.1:PORT/dav/`: the parent collection of [`url`](Self::url).
    pub fn parent_url(&self) -> String {
        format!("http://127.0.0.1:{}/dav/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The folder that backs [`url`](Self::url).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The server's temp dir (config, logs, data): for debugging.
    pub fn temp_dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn kind(&self) -> DavKind {
        self.kind
    }

    /// Requests the server has finished, oldest first:
    /// `(method, path, status, response bytes, request bytes)`. See the
    /// module docs for what the byte counts include for each kind.
    ///
    /// For Apache, nginx and wsgidav this blocks (up to 10 s, then warns)
    /// until the server has logged every request it answered: call it when
    /// the test's own requests are done, not while one is still running on
    /// the same thread.
    pub fn requests(&self) -> Vec<RequestRecord> {
        match &self.backend {
            Backend::Logged {
                log,
                log_start,
                format,
                settle,
                markers,
                ..
            } => {
                if !settle_log(self.port, log, *format, *settle, markers) {
                    eprintln!(
                        "dav harness: {} still has requests in flight: the list may be incomplete",
                        self.kind
                    );
                }
                parse_log(log, *log_start, *format)
                    .into_iter()
                    .filter(|r| !r.1.starts_with(INTERNAL_PREFIX))
                    .collect()
            }
            Backend::Proxied { http, .. } | Backend::InProcess { http } => http.records(),
        }
    }

    /// Writes a file under [`root`](Self::root) (creating missing folders),
    /// owned so that the server can read, replace and delete it.
    pub fn write(&self, rel: &str, content: &[u8]) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            self.create_dirs(parent);
        }
        fs::write(&path, content).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        self.give(&path);
    }

    /// Creates a folder (and missing parents) under [`root`](Self::root).
    pub fn mkdir(&self, rel: &str) {
        let path = self.path(rel);
        self.create_dirs(&path);
    }

    /// Reads a file under [`root`](Self::root); `None` if it is not there.
    pub fn read(&self, rel: &str) -> Option<Vec<u8>> {
        fs::read(self.path(rel)).ok()
    }

    /// Removes a file or a whole folder under [`root`](Self::root); nothing
    /// if it is not there.
    pub fn remove(&self, rel: &str) {
        let path = self.path(rel);
        let result = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(_) => return,
        };
        if let Err(e) = result
            && e.kind() != std::io::ErrorKind::NotFound
        {
            panic!("remove {}: {e}", path.display());
        }
    }

    /// Sets a file's modification time under [`root`](Self::root).
    pub fn set_mtime(&self, rel: &str, mtime: SystemTime) {
        let path = self.path(rel);
        let file = fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        file.set_modified(mtime)
            .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
    }

    fn path(&self, rel: &str) -> PathBuf {
        let rel = rel.trim_start_matches('/');
        assert!(
            !rel.split('/').any(|c| c == ".."),
            "path {rel:?} leaves the server root"
        );
        self.root.join(rel)
    }

    fn create_dirs(&self, dir: &Path) {
        if dir.is_dir() {
            return;
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent);
        }
        match fs::create_dir(dir) {
            Ok(()) => self.give(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }

    fn give(&self, path: &Path) {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }
}

impl Drop for DavServer {
    fn drop(&mut self) {
        match &mut self.backend {
            Backend::Logged { child, .. } => stop_process(child),
            Backend::Proxied { child, http } => {
                http.stop();
                stop_process(child);
            }
            Backend::InProcess { http } => http.stop(),
        }
    }
}

// ---------------------------------------------------------------------------
// Apache

fn start_apache(
    tmp: &Path,
    owner: Option<(u32, u32)>,
    options: &DavOptions,
) -> Result<(u16, Backend), String> {
    let port = free_port();
    let t = tmp.display();
    let lock_dir = tmp.join("lock");
    let run_dir = tmp.join("run");
    fs::create_dir_all(&lock_dir).unwrap();
    fs::create_dir_all(&run_dir).unwrap();
    if let Some((uid, gid)) = owner {
        // The DAV lock database is opened by the workers.
        std::os::unix::fs::chown(&lock_dir, Some(uid), Some(gid)).unwrap();
    }
    let log = tmp.join("access.log");
    let _ = fs::remove_file(&log);
    let mut conf = format!(
        "ServerRoot \"{t}\"\n\
         Listen 127.0.0.1:{port}\n\
         ServerName 127.0.0.1\n\
         PidFile \"{t}/run/httpd.pid\"\n\
         DefaultRuntimeDir \"{t}/run\"\n\
         Mutex file:{t}/run default\n\
         ErrorLog \"{t}/error.log\"\n\
         LogLevel warn\n"
    );
    for m in APACHE_MODULES {
        conf.push_str(&format!(
            "LoadModule {m}_module {APACHE_MODULE_DIR}/mod_{m}.so\n"
        ));
    }
    if owner.is_some() {
        conf.push_str("User www-data\nGroup www-data\n");
    }
    // Digest only: mod_auth_digest with an htdigest file (user:realm:MD5).
    let mut digest = String::new();
    if let Some((user, password)) = &options.digest_auth {
        for m in APACHE_DIGEST_MODULES {
            conf.push_str(&format!(
                "LoadModule {m}_module {APACHE_MODULE_DIR}/mod_{m}.so\n"
            ));
        }
        let realm = "ferry-test";
        let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
        fs::write(tmp.join("htdigest"), format!("{user}:{realm}:{ha1}\n")).unwrap();
        digest = format!(
            "  AuthType Digest\n  AuthName \"{realm}\"\n  AuthDigestProvider file\n  \
             AuthUserFile \"{t}/htdigest\"\n  Require valid-user\n  \
             <Files \".ferry-warm-up\">\n    Require all granted\n  </Files>\n"
        );
    }
    let mime = if Path::new("/etc/mime.types").exists() {
        "/etc/mime.types".to_string()
    } else {
        let empty = tmp.join("mime.types");
        fs::write(&empty, "").unwrap();
        empty.display().to_string()
    };
    conf.push_str(&format!(
        "# Debian's apache2.conf and mpm_event.conf\n\
         Timeout 300\n\
         KeepAlive On\n\
         MaxKeepAliveRequests 100\n\
         KeepAliveTimeout 5\n\
         StartServers 2\n\
         MinSpareThreads 25\n\
         MaxSpareThreads 75\n\
         ThreadLimit 64\n\
         ThreadsPerChild 25\n\
         MaxRequestWorkers 150\n\
         MaxConnectionsPerChild 0\n\
         TypesConfig \"{mime}\"\n\
         DavLockDB \"{t}/lock/DavLock\"\n\
         DocumentRoot \"{t}/data\"\n\
         <Directory />\n  AllowOverride None\n  Require all denied\n</Directory>\n\
         <Directory \"{t}/data\">\n  Require all granted\n</Directory>\n\
         <Directory \"{t}/data/dav\">\n  Dav On\n  DavDepthInfinity {}\n{digest}</Directory>\n\
         <Location {APACHE_STATUS}>\n  SetHandler server-status\n  Require all granted\n</Location>\n\
         LogFormat \"%>s %I %O %r\" ferry\n\
         CustomLog \"{t}/access.log\" ferry\n",
        if options.depth_infinity { "On" } else { "Off" }
    ));
    let conf_path = tmp.join("httpd.conf");
    fs::write(&conf_path, conf).unwrap();

    let mut cmd = Command::new(find_program("apache2").unwrap());
    cmd.arg("-f").arg(&conf_path).arg("-DFOREGROUND");
    let child = spawn(cmd, tmp, "apache")?;
    wait_logged(
        child,
        port,
        (log, LogFormat::Combined, Settle::ApacheStatus),
        &[tmp.join("error.log"), tmp.join("apache.out")],
    )
}

// ---------------------------------------------------------------------------
// nginx

/// nginx's password file (`{PLAIN}`: no hashing tool needed), replaced
/// atomically: nginx reads it at every request.
fn write_htpasswd(tmp: &Path, user: &str, password: &str) {
    let part = tmp.join("htpasswd.part");
    fs::write(&part, format!("{user}:{{PLAIN}}{password}\n")).unwrap();
    fs::rename(&part, tmp.join("htpasswd")).unwrap();
}

fn start_nginx(tmp: &Path, options: &DavOptions) -> Result<(u16, Backend), String> {
    let port = free_port();
    let t = tmp.display();
    let auth = match &options.basic_auth {
        Some((user, password)) => {
            write_htpasswd(tmp, user, password);
            format!(
                "auth_basic \"ferry-test\";\n               auth_basic_user_file \"{t}/htpasswd\";"
            )
        }
        None => String::new(),
    };
    let (bearer_map, auth) = match &options.bearer_token {
        Some(token) => (
            format!(
                "map $http_authorization $ferry_bearer_ok {{ default 0; \"Bearer {token}\" 1; }}"
            ),
            format!(
                "{auth}\n               if ($ferry_bearer_ok = 0) {{ \
                 add_header WWW-Authenticate 'Bearer realm=\"ferry-test\"' always; return 401; }}"
            ),
        ),
        None => (String::new(), auth),
    };
    fs::create_dir_all(tmp.join("nginx-tmp")).unwrap();
    let log = tmp.join("access.log");
    let _ = fs::remove_file(&log);
    let mime = if Path::new("/etc/nginx/mime.types").exists() {
        "include /etc/nginx/mime.types;"
    } else {
        ""
    };
    let user = if is_root() { "user root root;" } else { "" };
    let conf = format!(
        "load_module {NGINX_DAV_EXT};\n\
         {user}\n\
         worker_processes 1;\n\
         daemon off;\n\
         pid \"{t}/nginx.pid\";\n\
         error_log \"{t}/error.log\" warn;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
           {mime}\n\
           default_type application/octet-stream;\n\
           client_body_temp_path \"{t}/nginx-tmp/body\";\n\
           proxy_temp_path \"{t}/nginx-tmp/proxy\";\n\
           fastcgi_temp_path \"{t}/nginx-tmp/fastcgi\";\n\
           uwsgi_temp_path \"{t}/nginx-tmp/uwsgi\";\n\
           scgi_temp_path \"{t}/nginx-tmp/scgi\";\n\
           log_format ferry '$status $request_length $bytes_sent $request';\n\
           {bearer_map}\n\
           access_log \"{t}/access.log\" ferry;\n\
           server {{\n\
             listen 127.0.0.1:{port};\n\
             server_name 127.0.0.1;\n\
             root \"{t}/data\";\n\
             client_max_body_size 0;\n\
             location /dav/ {{\n\
               dav_methods PUT DELETE MKCOL COPY MOVE;\n\
               dav_ext_methods PROPFIND OPTIONS;\n\
               create_full_put_path on;\n\
               dav_access user:rw group:rw all:r;\n\
               {auth}\n\
             }}\n\
           }}\n\
         }}\n"
    );
    let conf_path = tmp.join("nginx.conf");
    fs::write(&conf_path, conf).unwrap();

    let mut cmd = Command::new(find_program("nginx").unwrap());
    cmd.arg("-p")
        .arg(tmp)
        .arg("-e")
        .arg(tmp.join("error.log"))
        .arg("-c")
        .arg(&conf_path);
    let child = spawn(cmd, tmp, "nginx")?;
    wait_logged(
        child,
        port,
        (log, LogFormat::Combined, Settle::Marker),
        &[tmp.join("error.log"), tmp.join("nginx.out")],
    )
}

// ---------------------------------------------------------------------------
// wsgidav

/// Runs `WsgiDAVApp` on cheroot (as the `wsgidav` command does) behind a
/// middleware that logs every request as a JSON line.
const WSGIDAV_RUNNER: &str = r#"
import json
import sys
import threading

from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp

config_path, log_path = sys.argv[1], sys.argv[2]
with open(config_path, encoding="utf-8") as f:
    config = json.load(f)
app = WsgiDAVApp(config)
log = open(log_path, "a", encoding="utf-8")
lock = threading.Lock()
inflight = 0


class CountingInput:
    def __init__(self, inner):
        self.inner = inner
        self.count = 0

    def read(self, *args):
        data = self.inner.read(*args)
        self.count += len(data)
        return data

    def readline(self, *args):
        data = self.inner.readline(*args)
        self.count += len(data)
        return data

    def readlines(self, *args):
        lines = self.inner.readlines(*args)
        self.count += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        for line in self.inner:
            self.count += len(line)
            yield line

    def __getattr__(self, name):
        return getattr(self.inner, name)


def counting_app(environ, start_response):
    global inflight
    method = environ.get("REQUEST_METHOD", "")
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    path = path.encode("latin-1", "replace").decode("utf-8", "replace")
    if path == "INFLIGHT_PATH":
        # How many requests have not been logged yet (for the harness).
        with lock:
            count = str(inflight).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(count)))])
        yield count
        return
    with lock:
        inflight += 1
    body = CountingInput(environ["wsgi.input"])
    environ["wsgi.input"] = body
    state = {"status": 0, "out": 0}

    def counting_start_response(status, headers, exc_info=None):
        state["status"] = int(status.split(" ", 1)[0])
        write = start_response(status, headers, exc_info)

        def counting_write(data):
            state["out"] += len(data)
            return write(data)

        return counting_write

    result = None
    try:
        result = app(environ, counting_start_response)
        for chunk in result:
            state["out"] += len(chunk)
            yield chunk
    finally:
        if result is not None and hasattr(result, "close"):
            result.close()
        line = json.dumps(
            {
                "method": method,
                "path": path,
                "status": state["status"],
                "out": state["out"],
                "in": body.count,
            }
        )
        with lock:
            log.write(line + "\n")
            log.flush()
            inflight -= 1


server = wsgi.Server((config["host"], config["port"]), counting_app, numthreads=50)
server.prepare()
print("serving on", config["host"], config["port"], flush=True)
server.serve()
"#;

fn start_wsgidav(tmp: &Path, options: &DavOptions) -> Result<(u16, Backend), String> {
    let port = free_port();
    let log = tmp.join("access.log");
    let _ = fs::remove_file(&log);
    let mut config = serde_json::json!({
        "host": "127.0.0.1",
        "port": port,
        "provider_mapping": { "/dav": tmp.join("data").join("dav") },
        "simple_dc": { "user_mapping": { "*": true } },
        "verbose": 3,
        "honor_mtime_header": options.honor_mtime,
    });
    if let Some((user, password)) = &options.digest_auth {
        config["simple_dc"] = serde_json::json!({
            "user_mapping": { "*": { user.as_str(): { "password": password } } }
        });
        config["http_authenticator"] = serde_json::json!({
            "accept_basic": false,
            "accept_digest": true,
            "default_to_digest": true,
        });
    }
    let conf_path = tmp.join("wsgidav.json");
    fs::write(&conf_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let runner = tmp.join("run_wsgidav.py");
    fs::write(
        &runner,
        WSGIDAV_RUNNER.replace("INFLIGHT_PATH", WSGIDAV_INFLIGHT),
    )
    .unwrap();

    let mut cmd = Command::new(wsgidav_python());
    cmd.arg(&runner).arg(&conf_path).arg(&log);
    let child = spawn(cmd, tmp, "wsgidav")?;
    wait_logged(
        child,
        port,
        (log, LogFormat::Json, Settle::Inflight),
        &[tmp.join("wsgidav.out")],
    )
}

fn wsgidav_python() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRY_WSGIDAV_PYTHON") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".cache/ferry-test-venv/bin/python")
}

// ---------------------------------------------------------------------------
// rclone, behind a counting proxy

fn start_rclone(tmp: &Path) -> Result<(u16, Backend), String> {
    let upstream = free_port();
    let log = tmp.join("rclone.log");
    let _ = fs::remove_file(&log);
    let mut cmd = Command::new(find_program("rclone").unwrap());
    cmd.arg("serve")
        .arg("webdav")
        .arg(tmp.join("data").join("dav"))
        .arg("--addr")
        .arg(format!("127.0.0.1:{upstream}"))
        .arg("--baseurl")
        .arg("/dav")
        // Without this, files changed on disk stay invisible for 5 minutes.
        .arg("--dir-cache-time")
        .arg("0s")
        .arg("--config")
        .arg(tmp.join("rclone.conf"))
        .arg("-v")
        .arg("--log-file")
        .arg(&log);
    let mut child = spawn(cmd, tmp, "rclone")?;

    let deadline = Instant::now() + START_TIMEOUT;
    let needle = format!("127.0.0.1:{upstream}");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "rclone exited ({status}): {}",
                tails(&[log.clone(), tmp.join("rclone.out")])
            ));
        }
        let logged = fs::read_to_string(&log).is_ok_and(|s| s.contains(&needle));
        if logged && TcpStream::connect(("127.0.0.1", upstream)).is_ok() {
            break;
        }
        if Instant::now() > deadline {
            stop_process(&mut child);
            return Err(format!(
                "rclone not listening on {upstream} after {START_TIMEOUT:?}: {}",
                tails(&[log.clone(), tmp.join("rclone.out")])
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let http = InProcessHttp::start_proxy(listener, upstream);
    Ok((port, Backend::Proxied { child, http }))
}

// ---------------------------------------------------------------------------
// dav-server, in this process

fn start_dav_server(tmp: &Path) -> (u16, Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let http = InProcessHttp::start_dav(listener, tmp.join("data").join("dav"));
    (port, Backend::InProcess { http })
}

// ---------------------------------------------------------------------------
// Processes

fn spawn(mut cmd: Command, tmp: &Path, name: &str) -> Result<Child, String> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(tmp.join(format!("{name}.out")))
        .unwrap();
    cmd.current_dir(tmp)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        // Its own process group, so that Drop stops its workers too.
        .process_group(0);
    cmd.spawn().map_err(|e| format!("cannot run {cmd:?}: {e}"))
}

/// Waits until a logging server answers and logs a marker request.
fn wait_logged(
    mut child: Child,
    port: u16,
    (log, format, settle): (PathBuf, LogFormat, Settle),
    diagnostics: &[PathBuf],
) -> Result<(u16, Backend), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut n = 0u64;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}): {}", tails(diagnostics)));
        }
        let marker = format!("{MARKER_PREFIX}start-{n}");
        n += 1;
        if log_barrier(port, &log, format, &marker, Duration::from_secs(2)) {
            if let Settle::ApacheStatus = settle {
                // Create the DAV lock database now: when it does not exist,
                // concurrent first writes from both worker processes race to
                // create it, and Berkeley DB makes the losers sleep 1 s.
                let warm = "/dav/.ferry-warm-up";
                http_request(port, "PUT", warm, b"x");
                http_request(port, "DELETE", warm, b"");
            }
            let markers = AtomicU64::new(0);
            settle_log(port, &log, format, settle, &markers);
            let log_start = fs::metadata(&log).map_or(0, |m| m.len());
            return Ok((
                port,
                Backend::Logged {
                    child,
                    log,
                    log_start,
                    format,
                    settle,
                    markers,
                },
            ));
        }
        if Instant::now() > deadline {
            stop_process(&mut child);
            return Err(format!(
                "not answering on 127.0.0.1:{port} after {START_TIMEOUT:?}: {}",
                tails(diagnostics)
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until every request the server answered is in its log; false if
/// that did not happen within 10 s.
fn settle_log(
    port: u16,
    log: &Path,
    format: LogFormat,
    settle: Settle,
    markers: &AtomicU64,
) -> bool {
    match settle {
        Settle::Marker => {
            let n = markers.fetch_add(1, Ordering::Relaxed);
            let marker = format!("{MARKER_PREFIX}{n}");
            log_barrier(port, log, format, &marker, Duration::from_secs(10))
        }
        Settle::ApacheStatus => wait_until(Duration::from_secs(10), || {
            let status = http_get(port, &format!("{APACHE_STATUS}?auto"))?;
            let field = |name: &str| -> Option<u64> {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse().ok())
            };
            // Our own status request is the one busy worker.
            Some(field("BusyWorkers:")? <= 1 && field("ConnsAsyncWriting:").unwrap_or(0) == 0)
        }),
        Settle::Inflight => wait_until(Duration::from_secs(10), || {
            let body = http_get(port, WSGIDAV_INFLIGHT)?;
            Some(body.trim() == "0")
        }),
    }
}

/// Sends `GET marker` and waits (up to `wait`) until the log has it.
/// False when the server does not answer or does not log it in time.
fn log_barrier(port: u16, log: &Path, format: LogFormat, marker: &str, wait: Duration) -> bool {
    if http_get(port, marker).is_none() {
        return false;
    }
    let deadline = Instant::now() + wait;
    loop {
        if parse_log(log, 0, format).iter().any(|r| r.1 == marker) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A bare `GET path` with `Connection: close`: the response body of a 200,
/// `Some("")` for another status, `None` if no response came.
fn http_get(port: u16, path: &str) -> Option<String> {
    let (status, body) = http_request(port, "GET", path, b"")?;
    Some(if status == 200 { body } else { String::new() })
}

/// One request on its own connection (`Connection: close`): the status and
/// body, or `None` if no response came.
fn http_request(port: u16, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let length = if body.is_empty() && method == "GET" {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{length}Connection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Polls `check` every 2 ms until it says `Some(true)` or `limit` passed.
fn wait_until(limit: Duration, mut check: impl FnMut() -> Option<bool>) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() == Some(true) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGTERM to the process group, then SIGKILL if it is still there after 5 s.
fn stop_process(child: &mut Child) {
    const SIGKILL: i32 = 9;
    const SIGTERM: i32 = 15;
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pgid = child.id() as i32;
    // SAFETY: kill(2) with a process group we created (process_group(0)
    // makes the child's pid its group id); no memory is involved.
    unsafe { kill(-pgid, SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: as above.
    unsafe { kill(-pgid, SIGKILL) };
    let _ = child.wait();
}

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn geteuid() -> u32;
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { geteuid() == 0 }
}

fn user_ids(user: &str) -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == user {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("user {user} not found in /etc/passwd (Debian's apache2 package creates it)")
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
}

/// A free port on 127.0.0.1, not handed out before by this process.
fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// The last lines of each of these files, for error messages.
fn tails(files: &[PathBuf]) -> String {
    let mut out = String::new();
    for f in files {
        let text = fs::read_to_string(f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        out.push_str(&format!("\n--- {} ---\n{tail}", f.display()));
    }
    out
}

// ---------------------------------------------------------------------------
// Access logs

/// The records logged from byte `start` on.
fn parse_log(log: &Path, start: u64, format: LogFormat) -> Vec<RequestRecord> {
    let Ok(bytes) = fs::read(log) else {
        return Vec::new();
    };
    let start = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    // Only complete lines: the server may be writing the last one.
    let complete = match text.rfind('\n') {
        Some(i) => &text[..i],
        None => return Vec::new(),
    };
    complete
        .lines()
        .filter_map(|line| match format {
            LogFormat::Combined => parse_combined(line),
            LogFormat::Json => parse_json(line),
        })
        .collect()
}

/// `STATUS IN OUT METHOD URI PROTO`
fn parse_combined(line: &str) -> Option<RequestRecord> {
    let mut f = line.split(' ');
    let status = f.next()?.parse().ok()?;
    let inb = f.next()?.parse().unwrap_or(0);
    let outb = f.next()?.parse().unwrap_or(0);
    let method = f.next()?.to_string();
    let uri = f.next()?;
    Some((method, decode_path(&unescape_log(uri)), status, outb, inb))
}

fn parse_json(line: &str) -> Option<RequestRecord> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some((
        v["method"].as_str()?.to_string(),
        v["path"].as_str()?.to_string(),
        v["status"].as_u64()? as u16,
        v["out"].as_u64().unwrap_or(0),
        v["in"].as_u64().unwrap_or(0),
    ))
}

/// Undoes the `\xHH` escapes Apache and nginx write into logs.
fn unescape_log(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1] == b'x'
            && let Some(v) = std::str::from_utf8(&b[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The percent-decoded path of a request target, without query string.
fn decode_path(uri: &str) -> String {
    let mut path = uri;
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------
// In-process HTTP (dav-server, and the proxy in front of rclone)

struct Entry {
    method: String,
    path: String,
    status: u16,
    out: Arc<AtomicU64>,
    inb: Arc<AtomicU64>,
}

type Records = Arc<Mutex<Vec<Entry>>>;

/// A hyper server on its own thread and tokio runtime.
struct InProcessHttp {
    records: Records,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcessHttp {
    fn start_dav(listener: TcpListener, dir: PathBuf) -> InProcessHttp {
        let records: Records = Arc::default();
        let handler = dav_server::DavHandler::builder()
            .filesystem(dav_server::localfs::LocalFs::new(dir, false, false, false))
            .locksystem(dav_server::fakels::FakeLs::new())
            .strip_prefix("/dav")
            .build_handler();
        let recs = records.clone();
        let serve = move |req: Request<Incoming>| {
            let handler = handler.clone();
            let recs = recs.clone();
            async move {
                let method = req.method().to_string();
                let path = decode_path(req.uri().path());
                let inb = Arc::new(AtomicU64::new(0));
                let out = Arc::new(AtomicU64::new(0));
                let req = req.map(|b| Counted::new(b, inb.clone()));
                let resp = handler.handle(req).await;
                push(&recs, method, path, resp.status().as_u16(), &out, &inb);
                resp.map(|b| Counted::new(b, out))
            }
        };
        InProcessHttp::start(listener, records, "dav-server", move || serve)
    }

    fn start_proxy(listener: TcpListener, upstream: u16) -> InProcessHttp {
        let records: Records = Arc::default();
        let recs = records.clone();
        InProcessHttp::start(listener, records, "dav-proxy", move || {
            install_crypto_provider();
            let client = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .http1_only()
                .build()
                .expect("build the proxy's HTTP client");
            move |req: Request<Incoming>| {
                let client = client.clone();
                let recs = recs.clone();
                async move { proxy(client, upstream, recs, req).await }
            }
        })
    }

    /// Serves on `listener` with the service `make()` builds inside the
    /// server's runtime.
    fn start<M, H, Fut, B>(
        listener: TcpListener,
        records: Records,
        name: &str,
        make: M,
    ) -> InProcessHttp
    where
        M: FnOnce() -> H + Send + 'static,
        H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<B>> + Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("build a tokio runtime");
                rt.block_on(async move {
                    let handler = make();
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    loop {
                        tokio::select! {
                            _ = &mut stop_rx => break,
                            accepted = listener.accept() => {
                                let Ok((stream, _)) = accepted else { continue };
                                let handler = handler.clone();
                                tokio::spawn(async move {
                                    let service = hyper::service::service_fn(move |req| {
                                        let fut = handler(req);
                                        async move { Ok::<_, Infallible>(fut.await) }
                                    });
                                    let _ = hyper::server::conn::http1::Builder::new()
                                        .serve_connection(
                                            hyper_util::rt::TokioIo::new(stream),
                                            service,
                                        )
                                        .await;
                                });
                            }
                        }
                    }
                });
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .expect("spawn the server thread");
        InProcessHttp {
            records,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn records(&self) -> Vec<RequestRecord> {
        let recs = self.records.lock().unwrap_or_else(|e| e.into_inner());
        recs.iter()
            .map(|e| {
                (
                    e.method.clone(),
                    e.path.clone(),
                    e.status,
                    e.out.load(Ordering::SeqCst),
                    e.inb.load(Ordering::SeqCst),
                )
            })
            .collect()
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn push(
    recs: &Records,
    method: String,
    path: String,
    status: u16,
    out: &Arc<AtomicU64>,
    inb: &Arc<AtomicU64>,
) {
    recs.lock().unwrap_or_else(|e| e.into_inner()).push(Entry {
        method,
        path,
        status,
        out: out.clone(),
        inb: inb.clone(),
    });
}

/// reqwest is built without a default TLS provider; install ring's (once).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain-HTTP client for tests: no proxy from the environment, no
/// redirects followed.
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

type ProxyStream = Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>;

async fn proxy(
    client: reqwest::Client,
    upstream: u16,
    recs: Records,
    req: Request<Incoming>,
) -> Response<Counted<StreamBody>> {
    let (parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let path = decode_path(parts.uri.path());
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://127.0.0.1:{upstream}{target}");
    let has_body = parts.headers.contains_key(hyper::header::CONTENT_LENGTH)
        || parts.headers.contains_key(hyper::header::TRANSFER_ENCODING);
    let mut headers = parts.headers;
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
    // The Host header stays: rclone checks Destination against it.
    let inb = Arc::new(AtomicU64::new(0));
    let out = Arc::new(AtomicU64::new(0));
    let mut request = client.request(parts.method, url).headers(headers);
    if has_body {
        let mut body = Counted::new(body, inb.clone());
        let stream = futures_util::stream::poll_fn(move |cx| {
            loop {
                return match Pin::new(&mut body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => Poll::Ready(Some(Ok::<_, hyper::Error>(data))),
                        Err(_) => continue, // trailers
                    },
                    Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                };
            }
        });
        request = request.body(reqwest::Body::wrap_stream(stream));
    }
    let (status, headers, stream): (u16, hyper::HeaderMap, ProxyStream) = match request.send().await
    {
        Ok(resp) => {
            let mut headers = resp.headers().clone();
            for h in HOP_BY_HOP {
                headers.remove(h);
            }
            (resp.status().as_u16(), headers, resp.bytes_stream().boxed())
        }
        Err(e) => {
            eprintln!("dav harness proxy: {e}");
            (
                502,
                hyper::HeaderMap::new(),
                futures_util::stream::empty().boxed(),
            )
        }
    };
    push(&recs, method, path, status, &out, &inb);
    let mut resp = Response::new(Counted::new(StreamBody(stream), out));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    *resp.headers_mut() = headers;
    resp
}

/// A response body from a stream of byte chunks.
struct StreamBody(ProxyStream);

impl Body for StreamBody {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        self.0
            .poll_next_unpin(cx)
            .map(|o| o.map(|r| r.map(Frame::data)))
    }
}

/// A body that adds the length of every data frame to a counter.
struct Counted<B> {
    inner: Pin<Box<B>>,
    count: Arc<AtomicU64>,
}

impl<B> Counted<B> {
    fn new(inner: B, count: Arc<AtomicU64>) -> Counted<B> {
        Counted {
            inner: Box::pin(inner),
            count,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for Counted<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.count.fetch_add(data.len() as u64, Ordering::SeqCst);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
