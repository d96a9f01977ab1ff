//! Scoped passes on WebDAV (issue 12, item 7): after watcher news a pass
//! looks at the named paths alone — a few `Depth: 0` PROPFINDs, not a
//! listing of the whole tree — against every real server of
//! `tests/common/dav.rs`, through `ferry::pass::run_pass` on real folders
//! and a real journal.
//!
//! * A local edit of one file is uploaded with no request for any other
//!   folder.
//! * A file changed on the server outside the scope is left alone by the
//!   scoped pass and brought in by the next full pass.
//! * Hrefs as odd servers send them (full URLs, `#`, `&` and spaces not
//!   encoded) still name the paths asked for.
//! * An edit in a new sub-folder, a rename and a move whose two ends come
//!   as separate news all end as a full pass would leave them.

// Unix only: real servers.
#![cfg(unix)]

#[path = "common/dav.rs"]
mod dav;
#[path = "common/quirks.rs"]
mod quirks;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use dav::DavServer;
use ferry::engine::{Filter, Settings, Side};
use ferry::fsops::{Folder, TrashPolicy};
use ferry::journal::Journal;
use ferry::pass::{PassHooks, PassOptions, Report, SyncJob, run_pass};
use ferry::remote::webdav::{Options, WebDav};
use quirks::{QuirkProxy, Quirks};

/// A synchronization of a temp local folder with a real server.
struct Env {
    dir: tempfile::TempDir,
    server: DavServer,
    /// The synchronized folder's URL (the server's, or a proxy's in front).
    url: String,
    _quirks: Option<QuirkProxy>,
}

/// Folders × files of the tree each test starts from.
const FOLDERS: usize = 6;
const FILES: usize = 5;

impl Env {
    /// A tree of `FOLDERS` × `FILES` files, synchronized (the first pass
    /// runs the write probe) and quiet.
    async fn in_sync(server: DavServer) -> Env {
        Env::in_sync_with(server, None, &[]).await
    }
    /// The same, through `quirks` when given, with `extra` files too.
    async fn in_sync_with(server: DavServer, quirks: Option<Quirks>, extra: &[&str]) -> Env {
        let url = server.url();
        let proxy =
            quirks.map(|q| QuirkProxy::start(&format!("http://127.0.0.1:{}", server.port()), q));
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
            url: proxy.as_ref().map_or(url.clone(), |p| p.url_for(&url)),
            server,
            _quirks: proxy,
        };
        for d in 0..FOLDERS {
            for f in 0..FILES {
                env.write(&format!("d{d}/f{f}.txt"), format!("{d}/{f}").as_bytes());
            }
        }
        for rel in extra {
            env.write(rel, rel.as_bytes());
        }
        let first = env.pass(None).await;
        assert!(
            first.errors.is_empty(),
            "{}: {:?}",
            env.name(),
            first.errors
        );
        assert_eq!(
            first.counts.get("upload"),
            Some(&(FOLDERS * FILES + extra.len()))
        );
        env.quiet().await;
        env
    }
    fn name(&self) -> String {
        self.server.kind().to_string()
    }
    fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }
    fn write(&self, rel: &str, content: &[u8]) {
        let p = self.local().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    fn read(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.local().join(rel)).ok()
    }
    /// One pass, scoped to `scope` when given, and the requests the server
    /// answered meanwhile (method, path below the synchronized folder).
    async fn pass_counted(&self, scope: Option<&[&str]>) -> (Report, Vec<(String, String)>) {
        let before = self.server.requests().len();
        let r = self.pass(scope).await;
        let requests = self.server.requests()[before..]
            .iter()
            .map(|(m, p, ..)| {
                let rel = p.strip_prefix("/dav/sync").unwrap_or(p);
                (m.clone(), rel.trim_matches('/').to_string())
            })
            .collect();
        (r, requests)
    }
    async fn pass(&self, scope: Option<&[&str]>) -> Report {
        let journal = Journal::open(&self.dir.path().join("journal.db")).unwrap();
        std::fs::create_dir_all(self.local()).unwrap();
        let job = SyncJob {
            name: "scoped".into(),
            local: Arc::new(Folder::new(self.local(), Side::Local, TrashPolicy::Folder)),
            remote: Arc::new(WebDav::new(&self.url, Options::default()).unwrap()),
            journal: Arc::new(Mutex::new(journal)),
            settings: Settings::default(),
            filter: Arc::new(Filter::default()),
            concurrency: 4,
            hooks: PassHooks::default(),
        };
        let opts = PassOptions {
            scope: scope.map(|s| s.iter().map(|p| p.to_string()).collect()),
            ..PassOptions::default()
        };
        let now = jiff::civil::date(2026, 12, 7).at(12, 0, 0, 0);
        run_pass(&job, opts, now)
            .await
            .unwrap_or_else(|e| panic!("{}: pass failed: {e}", self.name()))
    }
    /// A full pass that changes nothing on either side (an `adopt` only
    /// refreshes the journal: Apache's tags turn strong a second after a
    /// write).
    async fn quiet(&self) {
        let r = self.pass(None).await;
        assert!(
            r.counts.keys().all(|k| *k == "adopt") && r.errors.is_empty(),
            "{}: pass not quiet: {:?} {:?}",
            self.name(),
            r.counts,
            r.errors
        );
    }
}

/// The folders of the starting tree other than `except` that a request
/// named (a full listing asks for every one of them).
fn other_folders_asked(requests: &[(String, String)], except: &[&str]) -> Vec<String> {
    requests
        .iter()
        .filter(|(m, _)| m == "PROPFIND")
        .map(|(_, p)| p.split('/').next().unwrap_or_default().to_string())
        .filter(|top| top.starts_with('d') && !except.contains(&top.as_str()))
        .collect()
}

fn servers() -> Vec<DavServer> {
    dav::all_kinds().into_iter().map(DavServer::start).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_edit_is_uploaded_by_a_scoped_pass_that_asks_for_its_path_alone() {
    for server in servers() {
        let env = Env::in_sync(server).await;
        let name = env.name();
        env.write("d2/f3.txt", b"edited here, and longer");
        let (r, requests) = env.pass_counted(Some(&["d2/f3.txt"])).await;
        assert_eq!(r.counts.get("upload"), Some(&1), "{name}: {:?}", r.counts);
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(
            env.server.read("d2/f3.txt").as_deref(),
            Some(&b"edited here, and longer"[..]),
            "{name}"
        );
        let asked = other_folders_asked(&requests, &["d2"]);
        assert!(asked.is_empty(), "{name}: {asked:?} in {requests:?}");
        let propfinds = requests.iter().filter(|(m, _)| m == "PROPFIND").count();
        println!(
            "{name}: a scoped edit cost {} requests, {propfinds} PROPFINDs: {requests:?}",
            requests.len()
        );
        // The root, `d2` and the file; the upload's own checks.
        assert!(propfinds <= 6, "{name}: {requests:?}");
        env.quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_on_the_server_outside_the_scope_waits_for_the_next_full_pass() {
    for server in servers() {
        let env = Env::in_sync(server).await;
        let name = env.name();
        env.server.write("d0/f0.txt", b"changed on the server");
        env.write("d4/f1.txt", b"edited here");
        let (r, requests) = env.pass_counted(Some(&["d4/f1.txt"])).await;
        assert_eq!(r.counts.get("upload"), Some(&1), "{name}: {:?}", r.counts);
        assert_eq!(r.counts.get("download"), None, "{name}: {:?}", r.counts);
        assert_eq!(
            env.read("d0/f0.txt").as_deref(),
            Some(&b"0/0"[..]),
            "{name}"
        );
        assert!(
            other_folders_asked(&requests, &["d4"]).is_empty(),
            "{name}: {requests:?}"
        );
        let full = env.pass(None).await;
        assert_eq!(
            full.counts.get("download"),
            Some(&1),
            "{name}: {:?}",
            full.counts
        );
        assert_eq!(
            env.read("d0/f0.txt").as_deref(),
            Some(&b"changed on the server"[..]),
            "{name}"
        );
        env.quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_in_a_new_sub_folder_is_uploaded_by_a_scoped_pass() {
    for server in servers() {
        let env = Env::in_sync(server).await;
        let name = env.name();
        env.write("d1/new/deeper/x.txt", b"in a new folder");
        let (r, requests) = env
            .pass_counted(Some(&["d1/new", "d1/new/deeper/x.txt"]))
            .await;
        assert_eq!(r.counts.get("upload"), Some(&1), "{name}: {:?}", r.counts);
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(
            env.server.read("d1/new/deeper/x.txt").as_deref(),
            Some(&b"in a new folder"[..]),
            "{name}"
        );
        assert!(
            other_folders_asked(&requests, &["d1"]).is_empty(),
            "{name}: {requests:?}"
        );
        env.quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_and_a_move_seen_by_the_watcher_end_as_a_full_pass_would_leave_them() {
    for server in servers() {
        let env = Env::in_sync(server).await;
        let name = env.name();
        // A rename, both ends in one piece of news: a MOVE on the server,
        // looking at that folder only.
        std::fs::rename(
            env.local().join("d3/f0.txt"),
            env.local().join("d3/renamed.txt"),
        )
        .unwrap();
        let (r, requests) = env
            .pass_counted(Some(&["d3/f0.txt", "d3/renamed.txt"]))
            .await;
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert!(
            other_folders_asked(&requests, &["d3"]).is_empty(),
            "{name}: {requests:?}"
        );
        assert_eq!(env.server.read("d3/f0.txt"), None, "{name}");
        assert_eq!(
            env.server.read("d3/renamed.txt").as_deref(),
            Some(&b"3/0"[..]),
            "{name}"
        );
        // A move to another folder whose ends come as two pieces of news:
        // the new end first (a new file, as far as that scope can tell),
        // then the old one, whose deletion only a full pass may decide.
        std::fs::rename(
            env.local().join("d5/f4.txt"),
            env.local().join("d0/moved.txt"),
        )
        .unwrap();
        let (r, requests) = env.pass_counted(Some(&["d0/moved.txt"])).await;
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(r.counts.get("delete"), None, "{name}: {:?}", r.counts);
        assert!(
            other_folders_asked(&requests, &["d0"]).is_empty(),
            "{name}: {requests:?}"
        );
        let r = env.pass(Some(&["d5/f4.txt"])).await;
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(env.server.read("d5/f4.txt"), None, "{name}");
        assert_eq!(
            env.server.read("d0/moved.txt").as_deref(),
            Some(&b"5/4"[..]),
            "{name}"
        );
        assert_eq!(
            env.read("d0/moved.txt").as_deref(),
            Some(&b"5/4"[..]),
            "{name}"
        );
        assert_eq!(env.read("d5/f4.txt"), None, "{name}");
        env.quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_pass_finds_its_paths_in_absolute_and_unencoded_hrefs() {
    const ODD: &str = "odd #dir & more/name #1 & two+three.txt";
    for server in servers() {
        let quirks = Quirks {
            raw_hrefs: true,
            absolute_hrefs: true,
            ..Quirks::none()
        };
        let env = Env::in_sync_with(server, Some(quirks), &[ODD]).await;
        let name = env.name();
        env.write(ODD, b"edited, with an odd name");
        let (r, requests) = env.pass_counted(Some(&[ODD])).await;
        assert_eq!(r.counts.get("upload"), Some(&1), "{name}: {:?}", r.counts);
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        assert_eq!(
            env.server.read(ODD).as_deref(),
            Some(&b"edited, with an odd name"[..]),
            "{name}"
        );
        let asked = other_folders_asked(&requests, &[]);
        assert!(asked.is_empty(), "{name}: {asked:?} in {requests:?}");
        env.quiet().await;
    }
}
