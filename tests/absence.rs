//! Absence is not evidence, end to end: passes of `ferry::pass::run_pass`
//! against real WebDAV servers (`tests/common/dav.rs`) and the folder
//! remote, on real folders and a real journal.
//!
//! * A listing that leaves items out (as a server that answers `Depth:
//!   infinity` with one level does) trashes nothing: each missing item is
//!   asked for directly, and one the server still has is left alone and
//!   reported. One the server really deleted is trashed as before.
//! * Excluded items are never deleted because of the other side: a folder
//!   deleted on one side keeps the other side's excluded items (the rest
//!   of it goes), and the next pass does nothing.
//!
//! The listing quirk comes from [`Omitting`], a `Remote` that drops items
//! from `list()` and delegates everything else to the real remote.

// Unix only: real servers, inodes, permissions and symlinks (the Windows
// lint in scripts/test.sh skips this file).
#![cfg(unix)]

#[path = "common/dav.rs"]
mod dav;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dav::DavServer;
use ferry::engine::{Entry, Filter, Hash, Settings, Side, UserFilter};
use ferry::fsops::{Folder, TrashPolicy};
use ferry::journal::Journal;
use ferry::pass::{PassHooks, PassOptions, Report, SyncJob, run_pass};
use ferry::remote::folder::FolderRemote;
use ferry::remote::webdav::{Options, WebDav};
use ferry::remote::{Capabilities, Listing, Remote, RemoteError};

type Rule = Arc<Mutex<Option<Box<dyn Fn(&str) -> bool + Send + Sync>>>>;

/// A remote whose `list()` leaves out the items a rule names; everything
/// else goes to the real remote.
struct Omitting {
    inner: Box<dyn Remote>,
    rule: Rule,
}

#[async_trait]
impl Remote for Omitting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn export_state(&self) -> Option<String> {
        self.inner.export_state()
    }
    fn import_state(&self, state: &str) {
        self.inner.import_state(state)
    }
    async fn fingerprint(&self) -> Result<Option<String>, RemoteError> {
        self.inner.fingerprint().await
    }
    fn local_root(&self) -> Option<&Path> {
        self.inner.local_root()
    }
    async fn list(&self, filter: &Filter) -> Result<Option<Listing>, RemoteError> {
        let mut listing = self.inner.list(filter).await?;
        if let (Some(l), Some(rule)) = (listing.as_mut(), self.rule.lock().unwrap().as_ref()) {
            l.tree.retain(|p, _| !rule(p));
        }
        Ok(listing)
    }
    fn can_list_paths(&self) -> bool {
        self.inner.can_list_paths()
    }
    async fn list_paths(
        &self,
        paths: &[String],
        filter: &Filter,
    ) -> Result<Option<Listing>, RemoteError> {
        let mut listing = self.inner.list_paths(paths, filter).await?;
        if let (Some(l), Some(rule)) = (listing.as_mut(), self.rule.lock().unwrap().as_ref()) {
            l.tree.retain(|p, _| !rule(p));
        }
        Ok(listing)
    }
    async fn stat(&self, path: &str) -> Result<Option<Entry>, RemoteError> {
        self.inner.stat(path).await
    }
    async fn create_root(&self) -> Result<(), RemoteError> {
        self.inner.create_root().await
    }
    async fn hash(&self, path: &str, expect: &Entry) -> Result<Hash, RemoteError> {
        self.inner.hash(path, expect).await
    }
    async fn mkdir(&self, path: &str) -> Result<Entry, RemoteError> {
        self.inner.mkdir(path).await
    }
    async fn upload(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<(Entry, Hash), RemoteError> {
        self.inner
            .upload(path, src, src_expect, replace, backup)
            .await
    }
    async fn download(&self, path: &str, expect: &Entry, temp: &Path) -> Result<Hash, RemoteError> {
        self.inner.download(path, expect, temp).await
    }
    async fn rename(&self, from: &str, to: &str, expect: &Entry) -> Result<Entry, RemoteError> {
        self.inner.rename(from, to, expect).await
    }
    async fn delete(
        &self,
        path: &str,
        expect: &Entry,
        contents: &[(String, Entry)],
        filter: &Filter,
    ) -> Result<(), RemoteError> {
        self.inner.delete(path, expect, contents, filter).await
    }
}

/// The other side of a test synchronization.
enum Other {
    Dav(DavServer),
    Folder(tempfile::TempDir),
}

impl Other {
    fn name(&self) -> String {
        match self {
            Other::Dav(s) => s.kind().to_string(),
            Other::Folder(_) => "folder".into(),
        }
    }
    fn write(&self, rel: &str, content: &[u8]) {
        match self {
            Other::Dav(s) => s.write(rel, content),
            Other::Folder(d) => {
                let p = d.path().join(rel);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, content).unwrap();
            }
        }
    }
    fn remove(&self, rel: &str) {
        match self {
            Other::Dav(s) => s.remove(rel),
            Other::Folder(d) => {
                let p = d.path().join(rel);
                if p.is_dir() {
                    std::fs::remove_dir_all(p).unwrap();
                } else {
                    std::fs::remove_file(p).unwrap();
                }
            }
        }
    }
    fn exists(&self, rel: &str) -> bool {
        match self {
            Other::Dav(s) => s.root().join(rel).exists(),
            Other::Folder(d) => d.path().join(rel).exists(),
        }
    }
    /// Files in the remote's `.ferry-trash`, relative to their time folder.
    fn trashed(&self) -> Vec<String> {
        let root = match self {
            Other::Dav(s) => s.root().join(".ferry-trash"),
            Other::Folder(d) => d.path().join(".ferry-trash"),
        };
        files_under(&root, 1)
    }
    fn open(&self) -> Box<dyn Remote> {
        match self {
            Other::Dav(s) => Box::new(WebDav::new(&s.url(), Options::default()).unwrap()),
            Other::Folder(d) => Box::new(FolderRemote::new(d.path())),
        }
    }
}

/// Files below `root`, paths relative to it with the first `skip`
/// segments (the trash's time folder) left out.
fn files_under(root: &Path, skip: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let rel: Vec<&str> = rel.split('/').skip(skip).collect();
                out.push(rel.join("/"));
            }
        }
    }
    out.sort();
    out
}

/// A synchronization of a temp local folder with `other`.
struct Env {
    dir: tempfile::TempDir,
    other: Other,
    rule: Rule,
    filter: Filter,
}

impl Env {
    fn new(other: Other) -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("local")).unwrap();
        Env {
            dir,
            other,
            rule: Arc::new(Mutex::new(None)),
            filter: Filter::new(&[UserFilter::glob("*.secret")], &[]).unwrap(),
        }
    }
    fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }
    fn write(&self, rel: &str, content: &[u8]) {
        let p = self.local().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    /// Files in the local trash (`.ferry-trash` at the local root here).
    fn trashed(&self) -> Vec<String> {
        files_under(&self.local().join(".ferry-trash"), 1)
    }
    /// From now on the listing leaves out what `rule` names.
    fn omit(&self, rule: impl Fn(&str) -> bool + Send + Sync + 'static) {
        *self.rule.lock().unwrap() = Some(Box::new(rule));
    }
    async fn pass(&self, dry_run: bool) -> Report {
        self.pass_with(PassOptions {
            dry_run,
            ..PassOptions::default()
        })
        .await
    }
    async fn pass_with(&self, opts: PassOptions) -> Report {
        let remote = Omitting {
            inner: self.other.open(),
            rule: self.rule.clone(),
        };
        let journal = Journal::open(&self.dir.path().join("journal.db")).unwrap();
        let job = SyncJob {
            name: "absence".into(),
            local: Arc::new(Folder::new(self.local(), Side::Local, TrashPolicy::Folder)),
            remote: Arc::new(remote),
            journal: Arc::new(Mutex::new(journal)),
            settings: Settings::default(),
            filter: Arc::new(self.filter.clone()),
            concurrency: 4,
            hooks: PassHooks::default(),
        };
        let now = jiff::civil::date(2026, 11, 28).at(12, 0, 0, 0);
        run_pass(&job, opts, now)
            .await
            .unwrap_or_else(|e| panic!("{}: pass failed: {e}", self.other.name()))
    }
    /// A pass that must change nothing on either side (an `adopt` only
    /// refreshes the journal).
    async fn quiet(&self) -> Report {
        let r = self.pass(false).await;
        assert!(
            r.counts.keys().all(|k| *k == "adopt"),
            "{}: pass not quiet: {:?}",
            self.other.name(),
            r.counts
        );
        r
    }
}

/// The next pass has nothing at all to do in `folders` (not even a journal
/// refresh) and nothing but journal refreshes elsewhere, and then does it.
/// Apache's entity tags turn from weak to strong a second after an upload:
/// whichever pass comes next records the new tag (an `adopt`), so how many
/// refreshes a pass makes depends on timing; what it does in `folders` must
/// not.
async fn nothing_more_at(env: &Env, folders: &[&str]) {
    let name = env.other.name();
    let plan = env.pass(true).await;
    for op in &plan.ops {
        assert_eq!(op.action(), "adopt", "{name}: {op:?}");
        let path = op.path();
        assert!(
            !folders
                .iter()
                .any(|f| path == *f || path.starts_with(&format!("{f}/"))),
            "{name}: {op:?}"
        );
    }
    env.quiet().await;
}

fn has_problem(r: &Report, path: &str, words: &str) -> bool {
    r.problems
        .iter()
        .any(|p| p.path == path && p.message.contains(words))
}

/// Files that stay, so that the deletions stay under the mass-delete guard.
fn ballast(env: &Env) {
    for i in 0..8 {
        env.write(&format!("keep{i}.txt"), b"stays");
    }
}

fn others() -> Vec<Other> {
    let mut out = vec![Other::Folder(tempfile::tempdir().unwrap())];
    for kind in dav::all_kinds() {
        out.push(Other::Dav(DavServer::start(kind)));
    }
    out
}

async fn in_sync(env: &Env) {
    ballast(env);
    env.write("top.txt", b"top");
    env.write("sub/b.txt", b"bee");
    env.write("sub/keep.txt", b"keep");
    env.write("sub/deep/c.txt", b"sea");
    let first = env.pass(false).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    env.quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_missing_from_a_listing_that_omits_a_folders_contents_is_not_trashed() {
    for other in others() {
        let env = Env::new(other);
        let name = env.other.name();
        in_sync(&env).await;
        // One level only: what is inside `sub` is left out.
        env.omit(|p| p.starts_with("sub/"));
        let dry = env.pass(true).await;
        let r = env.pass(false).await;
        for r in [&dry, &r] {
            assert!(
                r.ops.iter().all(|op| op.action() == "adopt"),
                "{name}: {:?}",
                r.ops
            );
            assert!(
                r.counts.keys().all(|k| *k == "adopt"),
                "{name}: {:?}",
                r.counts
            );
            for top in ["sub/b.txt", "sub/deep", "sub/keep.txt"] {
                assert!(
                    has_problem(
                        r,
                        top,
                        "missing from the server's listing, but the server still has it"
                    ),
                    "{name}: {top} not reported: {:?}",
                    r.problems
                );
            }
        }
        assert_eq!(env.trashed(), Vec::<String>::new(), "{name}");
        for f in ["top.txt", "sub/b.txt", "sub/keep.txt", "sub/deep/c.txt"] {
            assert!(env.local().join(f).is_file(), "{name}: {f} gone locally");
        }
        // A whole folder left out: its top is a folder.
        env.omit(|p| p == "sub" || p.starts_with("sub/"));
        let r = env.pass(false).await;
        assert!(
            r.counts.keys().all(|k| *k == "adopt"),
            "{name}: {:?}",
            r.counts
        );
        assert!(
            has_problem(&r, "sub", "the server still has it"),
            "{name}: {:?}",
            r.problems
        );
        assert_eq!(env.trashed(), Vec::<String>::new(), "{name}");
        // The listing whole again: nothing to do.
        *env.rule.lock().unwrap() = None;
        let r = env.quiet().await;
        assert!(
            r.problems
                .iter()
                .all(|p| !p.message.contains("missing from")),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_server_really_deleted_is_trashed_once_a_direct_request_confirms_it() {
    for other in others() {
        let env = Env::new(other);
        let name = env.other.name();
        in_sync(&env).await;
        env.other.remove("sub/b.txt");
        env.other.remove("sub/deep");
        // The listing leaves out the rest of `sub` as well.
        env.omit(|p| p.starts_with("sub/"));
        let r = env.pass(false).await;
        assert_eq!(r.counts.get("delete"), Some(&2), "{name}: {:?}", r.counts);
        assert_eq!(
            env.trashed(),
            ["sub/b.txt", "sub/deep/c.txt"],
            "{name}: trashed"
        );
        assert!(env.local().join("sub/keep.txt").is_file(), "{name}");
        assert!(
            has_problem(&r, "sub/keep.txt", "the server still has it"),
            "{name}: {:?}",
            r.problems
        );
        *env.rule.lock().unwrap() = None;
        env.quiet().await;
        assert!(env.local().join("sub/keep.txt").is_file(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_items_in_a_folder_deleted_on_the_server_stay_with_their_folder_locally() {
    for other in others() {
        let env = Env::new(other);
        let name = env.other.name();
        ballast(&env);
        env.write("proj/a.txt", b"a");
        env.write("proj/sub/b.txt", b"b");
        env.write("proj/.env", b"SECRET=1");
        env.write("proj/notes.secret", b"user-excluded");
        // Only the system's clutter: it goes with its folder.
        env.write("junk/c.txt", b"c");
        env.write("junk/.DS_Store", b"finder");
        env.pass(false).await;
        env.quiet().await;
        assert!(
            !env.other.exists("proj/.env"),
            "{name}: excluded item uploaded"
        );
        env.other.remove("proj");
        env.other.remove("junk");
        let r = env.pass(false).await;
        assert!(r.errors.is_empty() && r.skipped.is_empty(), "{name}: {r:?}");
        assert_eq!(
            env.trashed(),
            [
                "junk/.DS_Store",
                "junk/c.txt",
                "proj/a.txt",
                "proj/sub/b.txt"
            ],
            "{name}: trashed"
        );
        assert!(
            env.local().join("proj/.env").is_file(),
            "{name}: .env deleted"
        );
        assert!(env.local().join("proj/notes.secret").is_file(), "{name}");
        assert!(
            has_problem(&r, "proj", "it holds 'proj/.env', which is excluded"),
            "{name}: {:?}",
            r.problems
        );
        // Nothing more to do: the folder is not brought back to the server.
        nothing_more_at(&env, &["proj", "junk"]).await;
        assert!(!env.other.exists("proj"), "{name}: folder brought back");
        assert!(env.local().join("proj/.env").is_file(), "{name}");
    }
}

/// The server's root folder as a path on this machine.
fn other_root(other: &Other) -> PathBuf {
    match other {
        Other::Dav(s) => s.root().to_path_buf(),
        Other::Folder(d) => d.path().to_path_buf(),
    }
}

/// Finding 7: a local folder holding an excluded item, replaced on the
/// server by a file of the same name: the folder stays, the server's file
/// stays as it is (not renamed to a conflicted copy), no folder is made
/// over it, and the pass says so; the next pass does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_holding_an_excluded_item_replaced_by_a_file_on_the_server_is_kept_and_nothing_is_renamed()
 {
    for other in others() {
        let env = Env::new(other);
        let name = env.other.name();
        ballast(&env);
        env.write("proj/a.txt", b"a");
        env.write("proj/.env", b"SECRET=1");
        env.pass(false).await;
        env.quiet().await;
        env.other.remove("proj");
        env.other.write("proj", b"a file now");
        for round in 0..2 {
            let r = env.pass(false).await;
            assert!(
                has_problem(&r, "proj", "the other side replaced it with a file"),
                "{name} {round}: {:?}",
                r.problems
            );
            for op in ["rename", "conflict", "mkdir", "upload", "download"] {
                assert_eq!(r.counts.get(op), None, "{name} {round}: {:?}", r.counts);
            }
            let root = other_root(&env.other);
            assert_eq!(
                std::fs::read(root.join("proj")).unwrap(),
                b"a file now",
                "{name} {round}"
            );
            let names = |dir: &Path| -> Vec<String> {
                std::fs::read_dir(dir)
                    .unwrap()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("proj"))
                    .collect()
            };
            assert_eq!(names(&root), ["proj"], "{name} {round}");
            assert_eq!(names(&env.local()), ["proj"], "{name} {round}");
            assert!(env.local().join("proj").is_dir(), "{name} {round}");
            assert_eq!(
                std::fs::read(env.local().join("proj/.env")).unwrap(),
                b"SECRET=1",
                "{name} {round}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_items_in_a_folder_deleted_locally_stay_with_their_folder_on_the_server() {
    for other in others() {
        let env = Env::new(other);
        let name = env.other.name();
        ballast(&env);
        env.write("proj/a.txt", b"a");
        env.pass(false).await;
        env.other.write("proj/.env", b"SECRET=1");
        env.other.write("proj/notes.secret", b"user-excluded");
        env.quiet().await;
        std::fs::remove_dir_all(env.local().join("proj")).unwrap();
        let r = env.pass(false).await;
        assert!(r.errors.is_empty() && r.skipped.is_empty(), "{name}: {r:?}");
        assert_eq!(env.other.trashed(), ["proj/a.txt"], "{name}: trashed");
        assert!(env.other.exists("proj/.env"), "{name}: .env deleted");
        assert!(env.other.exists("proj/notes.secret"), "{name}");
        assert!(
            has_problem(&r, "proj", "which is excluded"),
            "{name}: {:?}",
            r.problems
        );
        nothing_more_at(&env, &["proj"]).await;
        assert!(
            !env.local().join("proj").exists(),
            "{name}: folder brought back"
        );
    }
}

/// The local side is confirmed the same way: a file the scan leaves out
/// (here replaced by a symbolic link, which is never synchronized; a
/// folder it cannot read is the same case) is still on disk, so its copy
/// on the server is not deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_file_the_scan_leaves_out_is_not_deleted_on_the_server() {
    for other in others() {
        let env = Env::new(other);
        let name = env.other.name();
        in_sync(&env).await;
        let b = env.local().join("sub/b.txt");
        std::fs::remove_file(&b).unwrap();
        std::os::unix::fs::symlink(env.local().join("top.txt"), &b).unwrap();
        let r = env.pass(false).await;
        assert!(
            r.counts.keys().all(|k| *k == "adopt"),
            "{name}: {:?}",
            r.counts
        );
        assert!(
            has_problem(&r, "sub/b.txt", "missing from the scan of the local folder"),
            "{name}: {:?}",
            r.problems
        );
        assert!(
            env.other.exists("sub/b.txt"),
            "{name}: deleted on the server"
        );
        assert_eq!(env.other.trashed(), Vec::<String>::new(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_pass_whose_listing_omits_an_item_trashes_nothing() {
    let env = Env::new(Other::Folder(tempfile::tempdir().unwrap()));
    in_sync(&env).await;
    // The watcher saw a new file in `sub`; the listing of `sub` leaves
    // `b.txt` out.
    env.write("sub/new.txt", b"new");
    env.omit(|p| p == "sub/b.txt");
    let r = env
        .pass_with(PassOptions {
            scope: Some(vec!["sub".to_string()].into()),
            ..PassOptions::default()
        })
        .await;
    assert_eq!(r.counts.get("upload"), Some(&1), "{:?}", r.counts);
    assert_eq!(r.counts.get("delete"), None, "{:?}", r.counts);
    assert!(
        has_problem(&r, "sub/b.txt", "the server still has it"),
        "{:?}",
        r.problems
    );
    assert_eq!(env.trashed(), Vec::<String>::new());
    assert!(env.local().join("sub/b.txt").is_file());
}

/// The cost of confirming, on nginx (whose listing is a `Depth: 1` walk):
/// a pass where nothing changed asks for nothing more, and one where the
/// server deleted one file in each of 20 folders asks for each of them
/// once. (Measured at 10,000 files in 100 folders with 100 deletions: 102
/// requests for a quiet pass, 202 for the deleting one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirming_deletions_costs_one_request_per_deleted_top_and_nothing_when_nothing_changed() {
    let server = DavServer::start(dav::DavKind::Nginx);
    for d in 0..20 {
        for f in 0..20 {
            server.write(
                &format!("d{d:03}/f{f:03}.txt"),
                format!("{d}/{f}").as_bytes(),
            );
        }
    }
    let env = Env::new(Other::Dav(server));
    let Other::Dav(server) = &env.other else {
        unreachable!()
    };
    let first = env.pass(false).await;
    assert_eq!(first.counts.get("download"), Some(&400));
    env.quiet().await;
    let count = |s: &DavServer| s.requests().len();
    let before = count(server);
    env.quiet().await;
    let quiet = count(server) - before;
    for d in 0..20 {
        server.remove(&format!("d{d:03}/f000.txt"));
    }
    let before = count(server);
    let r = env.pass(false).await;
    let deleting = count(server) - before;
    assert_eq!(r.counts.get("delete"), Some(&20));
    println!(
        "nginx, 400 files in 20 folders: no-change pass {quiet} requests; \
         pass deleting 20 files (one per folder) {deleting} requests"
    );
    assert_eq!(
        quiet, 21,
        "a quiet pass is its listing alone: one Depth 1 PROPFIND per folder"
    );
    assert_eq!(
        deleting,
        quiet + 20,
        "one Depth 0 PROPFIND per deleted file"
    );
}
