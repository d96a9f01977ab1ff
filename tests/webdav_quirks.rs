//! Real servers made to behave like odd ones (`tests/common/quirks.rs`):
//! a `Depth: infinity` answered with one level, hrefs with raw `#`, `%`,
//! `&`, empty hrefs, ISO or missing dates, entity tags that are only an
//! mtime hash; and, through the fault proxy behind it
//! (`tests/common/proxy.rs`), tags that are only weak but checked by `If:`,
//! a connection reset right after every MOVE is forwarded, and 404 on
//! MKCOL of the collections above the user's folder. The sync scenarios (a
//! first sync of nested folders, edits, deletions and renames on both
//! sides) run through each quirk, end to end through the real `ferry sync`
//! binary, against every server of `tests/common/dav.rs`. After every pass:
//! nothing local went to the trash or was renamed that the user did not
//! change, and the next pass is quiet.

#[path = "common/dav.rs"]
mod dav;
#[path = "common/proxy.rs"]
mod proxy;
#[path = "common/quirks.rs"]
mod quirks;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use dav::{DavKind, DavServer};
use quirks::{Dates, QuirkProxy, Quirks};

struct Env {
    dir: tempfile::TempDir,
    url: String,
}

impl Env {
    fn new(url: String) -> Env {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("local")).unwrap();
        fs::create_dir_all(dir.path().join("home")).unwrap();
        Env { dir, url }
    }
    fn local(&self) -> PathBuf {
        self.dir.path().join("local")
    }
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    /// Where the local side's deletions go: the OS trash under our HOME.
    fn trashed(&self) -> BTreeSet<String> {
        let trash = self.dir.path().join("home/.local/share/Trash/files");
        let mut names: BTreeSet<String> = fs::read_dir(&trash)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Where there is no OS trash: `.ferry-trash/<time>/<path>`.
        for (k, _) in files_with_dots(&self.local().join(".ferry-trash")) {
            names.insert(k.rsplit('/').next().unwrap_or_default().to_string());
        }
        names
    }
    fn cmd(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
        c.arg("sync")
            .arg(self.local())
            .arg(&self.url)
            .arg("--state")
            .arg(self.state())
            .args(["--timeout", "10"])
            .args(extra)
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_DATA_HOME", self.dir.path().join("home/.local/share"))
            .env_remove("FERRY_LOG");
        c
    }
    /// A pass that may report failed items (exit status 1), but not stop.
    fn pass(&self, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.cmd(&args).output().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "ferry sync stopped: {}",
            show(&out)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}): {}", show(&out)));
        assert_eq!(report["stopped"], serde_json::Value::Null, "{report:#}");
        report
    }
    fn sync(&self, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["--json"];
        args.extend_from_slice(extra);
        let out = self.cmd(&args).output().unwrap();
        assert!(out.status.success(), "ferry sync failed: {}", show(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["errors"], serde_json::json!([]), "{report:#}");
        report
    }
    /// The next pass changes nothing (a refreshed journal record, `adopt`,
    /// is allowed: Apache turns weak tags strong a second after a write).
    fn assert_quiet(&self) {
        let again = self.sync(&[]);
        let counts = again["counts"].as_object().unwrap();
        assert!(
            counts.keys().all(|k| k == "adopt"),
            "second pass not quiet: {again:#}"
        );
    }
}

fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// Synchronized items under a folder (dot-names skipped): path → content.
fn snapshot(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && d == root {
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

fn files_with_dots(root: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// Files only: path → content.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(root)
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .filter(|(k, _)| !k.split('/').any(|s| s.starts_with('.')))
        .collect()
}

fn quirks_of(name: &str) -> Quirks {
    match name {
        "infinity_one_level" => Quirks {
            infinity_one_level: true,
            ..Quirks::none()
        },
        "raw_hrefs" => Quirks {
            raw_hrefs: true,
            absolute_hrefs: true,
            ..Quirks::none()
        },
        "empty_hrefs" => Quirks {
            empty_href_for: vec!["nohref".into()],
            ..Quirks::none()
        },
        "iso_dates" => Quirks {
            dates: Dates::Iso,
            ..Quirks::none()
        },
        "missing_dates" => Quirks {
            dates: Dates::Missing,
            ..Quirks::none()
        },
        "mtime_etags" => Quirks {
            mtime_etags: true,
            ..Quirks::none()
        },
        // The fault proxy's quirks (see `faults_of`): answers as they are.
        "weak_tags_with_if" | "reset_after_move" | "mkcol_404_above_the_user" => Quirks::none(),
        other => panic!("no quirk {other}"),
    }
}

/// The collections above the user's folder in [`scenarios`] (`/dav/sync/`
/// is the suite's folder; the user's is below it, see [`user_folder`]).
const ABOVE_THE_USER: [&str; 3] = ["/", "/dav/", "/dav/sync/"];

/// The quirks of the fault proxy (`tests/common/proxy.rs`), which sits
/// between the quirks proxy and the server.
fn faults_of(name: &str, faults: &proxy::Proxy) {
    match name {
        // Every tag weak, the `If:` header still checked with them.
        "weak_tags_with_if" => faults.set_weak_tags(true),
        // Every MOVE is done by the server, its answer never arrives.
        "reset_after_move" => faults.add("MOVE", "/", usize::MAX, proxy::Fault::ResetAfterForward),
        // The collections above the user's folder exist but are not the
        // user's: MKCOL of them is refused with 404.
        "mkcol_404_above_the_user" => {
            for above in ABOVE_THE_USER {
                faults.add_exact("MKCOL", above, usize::MAX, proxy::Fault::Status(404, None));
            }
        }
        _ => {}
    }
}

/// The user's folder under the server's `/dav/sync/`: where MKCOL above it
/// is refused, it does not exist yet (two levels missing), so that the
/// first pass (`--create`) must create it through the quirk.
fn user_folder(quirk: &str) -> &'static str {
    if quirk == "mkcol_404_above_the_user" {
        "user/folder/"
    } else {
        ""
    }
}

/// What the local folder must hold and which names may be in its trash.
struct Expect {
    files: BTreeMap<String, Vec<u8>>,
    /// Names of items the user deleted or renamed on the server (their
    /// local copies may go to the trash); nothing else may.
    may_trash: BTreeSet<String>,
}

impl Expect {
    fn check(&self, env: &Env, step: &str) {
        let local = files(&env.local());
        assert_eq!(
            local.keys().collect::<Vec<_>>(),
            self.files.keys().collect::<Vec<_>>(),
            "{step}: the local files are not as the user left them"
        );
        for (k, v) in &self.files {
            assert_eq!(&local[k], v, "{step}: {k} has other content");
            // No file is dated 1970 (an unknown server date is not the epoch).
            let m = fs::metadata(env.local().join(k))
                .unwrap()
                .modified()
                .unwrap();
            assert!(
                m > SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000),
                "{step}: {k} is dated {m:?}"
            );
        }
        let trashed = env.trashed();
        let unexpected: Vec<_> = trashed
            .iter()
            .filter(|n| !self.may_trash.contains(n.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{step}: trashed locally although the user did not change it: {unexpected:?}"
        );
    }
}

/// The sync scenarios through one quirk on one server: the quirks proxy
/// in front of the fault proxy in front of the server, each applying its
/// own quirks (`quirks_of`, `faults_of`).
fn scenarios(kind: DavKind, quirk: &str) {
    let server = DavServer::start(kind);
    let faults = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    faults_of(quirk, &faults);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", faults.port),
        quirks_of(quirk),
    );
    let user = user_folder(quirk);
    let env = Env::new(proxy.url_for(&format!("{}{user}", server.url())));
    // The user's folder on the server (`at`: a path in it).
    let at = |rel: &str| format!("{user}{rel}");
    let server_root = server.root().join(user);
    let root_missing = !server_root.exists();
    let moves_unheard = quirk == "reset_after_move";
    let mut expect = Expect {
        files: BTreeMap::new(),
        may_trash: BTreeSet::new(),
    };
    // One step's passes, and the checks after each.
    let settle = |step: &str, expect: &Expect, extra: &[&str]| {
        if moves_unheard {
            // The server does every MOVE (a publishing one, a rename, a
            // move to its trash) but the answer never arrives: the client
            // cannot know it happened, so this pass may report those items
            // as failed or skipped. Nothing may be lost or trashed all the
            // same (the local side is checked as strictly as after any
            // pass), and the next pass, which finds the server already as
            // planned, must converge without an error.
            let report = env.pass(extra);
            expect.check(&env, &format!("{step}, MOVE answers lost: {report:#}"));
            env.sync(&[]);
        } else {
            env.sync(extra);
        }
        expect.check(&env, step);
        env.assert_quiet();
        expect.check(&env, &format!("{step}, second pass"));
    };
    let local = |rel: &str, content: &[u8], expect: &mut Expect| {
        write(&env.local().join(rel), content);
        expect.files.insert(rel.to_string(), content.to_vec());
    };
    // 1. A first sync of nested folders, odd names, twins with one mtime.
    for (rel, content) in [
        ("docs/2026/report.txt", &b"report v1"[..]),
        ("docs/notes.txt", b"notes v1"),
        ("odd dir #%&+/hash#.txt", b"hash"),
        ("100% done.txt", b"done"),
        ("50%20off.txt", b"a percent escape, literally"),
        ("a&b+c.txt", b"amp plus"),
        ("quiet/nohref keep.txt", b"kept"),
        ("twins/one.txt", b"twin one"),
        ("twins/two.txt", b"twin two"),
    ] {
        local(rel, content, &mut expect);
    }
    let t = SystemTime::now() - Duration::from_secs(3600);
    for rel in ["twins/one.txt", "twins/two.txt"] {
        fs::File::options()
            .write(true)
            .open(env.local().join(rel))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
    let server_first = |expect: &mut Expect| {
        for (rel, content) in [
            ("server/deep/er/file.txt", &b"deep v1"[..]),
            ("server/top.txt", b"top"),
            ("srv #1/x&y.txt", b"x and y"),
            ("srvtwins/a.txt", b"twin a"),
            ("srvtwins/b.txt", b"twin b"),
        ] {
            server.write(&at(rel), content);
            expect.files.insert(rel.to_string(), content.to_vec());
        }
        for rel in ["srvtwins/a.txt", "srvtwins/b.txt"] {
            server.set_mtime(&at(rel), t);
        }
    };
    if root_missing {
        // The user's folder is created by the first pass (`--create`), the
        // server's files arrive in it afterwards.
        settle("first sync, creating the folder", &expect, &["--create"]);
        assert!(server_root.is_dir(), "the user's folder was not created");
        server_first(&mut expect);
        settle("first sync, the server's files", &expect, &[]);
    } else {
        server_first(&mut expect);
        settle("first sync", &expect, &[]);
    }

    // 2. Edits on both sides.
    std::thread::sleep(Duration::from_millis(1100));
    local("docs/2026/report.txt", b"report v2, longer", &mut expect);
    server.write(&at("server/deep/er/file.txt"), b"deep v2 from the server");
    expect.files.insert(
        "server/deep/er/file.txt".into(),
        b"deep v2 from the server".to_vec(),
    );
    settle("edits", &expect, &[]);
    assert_eq!(
        server.read(&at("docs/2026/report.txt")).unwrap(),
        b"report v2, longer"
    );

    // 3. Deletions on both sides.
    fs::remove_file(env.local().join("docs/notes.txt")).unwrap();
    expect.files.remove("docs/notes.txt");
    server.remove(&at("server/top.txt"));
    expect.files.remove("server/top.txt");
    expect.may_trash.extend(["top.txt".to_string()]);
    settle("deletions", &expect, &[]);
    assert!(server.read(&at("docs/notes.txt")).is_none());

    // 4. Renames on both sides.
    fs::rename(env.local().join("docs"), env.local().join("documents")).unwrap();
    let moved: Vec<(String, Vec<u8>)> = expect
        .files
        .iter()
        .filter(|(k, _)| k.starts_with("docs/"))
        .map(|(k, v)| (k.replacen("docs/", "documents/", 1), v.clone()))
        .collect();
    expect.files.retain(|k, _| !k.starts_with("docs/"));
    expect.files.extend(moved);
    // One twin deleted, the other renamed: both had one tag.
    server.remove(&at("srvtwins/b.txt"));
    expect.files.remove("srvtwins/b.txt");
    fs::rename(
        server_root.join("srvtwins/a.txt"),
        server_root.join("srvtwins/c.txt"),
    )
    .unwrap();
    fs::rename(
        server_root.join("server/deep"),
        server_root.join("server/deeper"),
    )
    .unwrap();
    let a = expect.files.remove("srvtwins/a.txt").unwrap();
    expect.files.insert("srvtwins/c.txt".into(), a);
    let f = expect.files.remove("server/deep/er/file.txt").unwrap();
    expect.files.insert("server/deeper/er/file.txt".into(), f);
    // Renamed on the server: the old local copies may go to the trash
    // (a rename seen as a deletion and a new file).
    expect.may_trash.extend(
        ["a.txt", "b.txt", "deep", "file.txt"]
            .iter()
            .map(|s| s.to_string()),
    );
    settle("renames", &expect, &[]);

    // Both sides agree (the item behind an empty href aside: it cannot be
    // seen, so it is left as it was).
    let mut server_files = files(&server_root);
    let mut local_files = files(&env.local());
    if quirk == "empty_hrefs" {
        server_files.retain(|k, _| !k.contains("nohref"));
        local_files.retain(|k, _| !k.contains("nohref"));
    }
    assert_eq!(local_files, server_files);

    // The fault proxy's quirk was really met.
    let seen = faults.seen();
    match quirk {
        "reset_after_move" => assert!(
            seen.iter().any(|s| s.method == "MOVE" && s.faulted),
            "{kind}: no MOVE was answered with a reset"
        ),
        "mkcol_404_above_the_user" => {
            let mkcols: Vec<&str> = seen
                .iter()
                .filter(|s| s.method == "MKCOL")
                .map(|s| s.path.as_str())
                .collect();
            assert!(
                mkcols.contains(&"/dav/sync/user/folder/"),
                "{kind}: the user's folder was not made by MKCOL: {mkcols:?}"
            );
            assert!(
                !mkcols.iter().any(|p| ABOVE_THE_USER.contains(p)),
                "{kind}: MKCOL of an existing folder above the user's: {mkcols:?}"
            );
        }
        "weak_tags_with_if" => {
            assert!(
                seen.iter()
                    .any(|s| s.method == "PROPFIND" && s.status == 207),
                "{kind}: no listing went through the weak tags"
            );
            // Every tag the client sent back in `If:` was a weak one (where
            // the server checks `If:`, publishing over a file used them).
            let tagged: Vec<&str> = seen.iter().filter_map(|s| s.if_header.as_deref()).collect();
            assert!(
                tagged
                    .iter()
                    .all(|h| h.contains("[W/") && !h.contains("[\"")),
                "{kind}: a strong tag in an If: header: {tagged:?}"
            );
            eprintln!("{kind}: {} requests with weak tags in If:", tagged.len());
        }
        _ => {}
    }
}

/// A publishing MOVE whose answer is lost (the server did it, the client
/// never heard) is not sent again over the file it just published: rclone
/// removed the destination when the MOVE came again with `Overwrite: T`,
/// and the updated file was gone from the server.
fn an_update_whose_move_answer_was_lost_stays_on_the_server(kind: DavKind) {
    let server = DavServer::start(kind);
    let faults = proxy::Proxy::start(&format!("http://127.0.0.1:{}", server.port()));
    let env = Env::new(faults.url_for(&server.url()));
    write(&env.local().join("f.txt"), b"v1");
    env.sync(&[]);
    env.assert_quiet();
    std::thread::sleep(Duration::from_millis(1100));
    write(&env.local().join("f.txt"), b"v2, longer");
    faults.add("MOVE", ".ferry-up-", 1, proxy::Fault::ResetAfterForward);
    env.pass(&[]);
    assert!(
        faults
            .seen()
            .iter()
            .any(|s| s.method == "MOVE" && s.faulted),
        "the fault did not fire"
    );
    assert_eq!(
        server.read("f.txt").as_deref(),
        Some(&b"v2, longer"[..]),
        "{kind}: the published file is not on the server"
    );
    env.sync(&[]);
    env.assert_quiet();
    assert_eq!(server.read("f.txt").unwrap(), b"v2, longer");
    assert_eq!(fs::read(env.local().join("f.txt")).unwrap(), b"v2, longer");
    assert!(env.trashed().is_empty(), "{:?}", env.trashed());
}

/// Case 1: a server that answers `Depth: infinity` with one level.
fn a_file_missing_from_a_one_level_infinity_listing_is_not_trashed(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let env = Env::new(proxy.url_for(&server.url()));
    // Few enough nested files that the mass-delete guard would not stop it.
    for i in 0..8 {
        write(&env.local().join(format!("f{i}.txt")), b"top level");
    }
    write(&env.local().join("sub/inner.txt"), b"nested");
    env.sync(&[]);
    env.assert_quiet();
    proxy.set(quirks_of("infinity_one_level"));
    for pass in 0..3 {
        env.sync(&[]);
        assert!(
            env.local().join("sub/inner.txt").exists(),
            "pass {pass}: the nested file was taken for deleted"
        );
        assert!(env.trashed().is_empty(), "{:?}", env.trashed());
    }
    // A journal of an older version that says infinity works is checked
    // again, not trusted.
    let journal = fs::read_dir(env.state())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .expect("the journal");
    let db = rusqlite::Connection::open(&journal).unwrap();
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('remote_state', ?1)",
        [r#"{"depth_infinity":true,"file_ids":false,"collection_etags_propagate":false,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":false,"if_header":false,"probed_at":1795880000}"#],
    )
    .unwrap();
    drop(db);
    env.sync(&[]);
    assert!(env.local().join("sub/inner.txt").exists());
    assert!(env.trashed().is_empty(), "{:?}", env.trashed());
    env.assert_quiet();
    assert_eq!(files(&env.local()), files(server.root()));
}

/// Case 2: hrefs with raw `#`, `%`, `&` (and `+`, `?`), and empty hrefs.
fn a_raw_hash_percent_or_ampersand_in_an_href_neither_renames_nor_trashes_a_file(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let env = Env::new(proxy.url_for(&server.url()));
    let names = [
        "hash#.txt",
        "odd dir #%&+/inside #1.txt",
        "50% off.txt",
        "50%20off.txt",
        "R&D+.txt",
        "plain.txt",
    ];
    for n in names {
        write(&env.local().join(n), n.as_bytes());
    }
    server.write("from server #2/a&b.txt", b"server");
    env.sync(&[]);
    env.assert_quiet();
    proxy.set(quirks_of("raw_hrefs"));
    let before = files(&env.local());
    for _ in 0..2 {
        let report = env.sync(&[]);
        let counts = report["counts"].as_object().unwrap();
        assert!(
            counts.keys().all(|k| k == "adopt"),
            "raw hrefs made Ferry act: {report:#}"
        );
        assert_eq!(files(&env.local()), before);
        assert!(env.trashed().is_empty(), "{:?}", env.trashed());
    }
    // And a new file with such a name on the server arrives under its name.
    server.write("new #3 100%&more.txt", b"new");
    env.sync(&[]);
    assert_eq!(
        fs::read(env.local().join("new #3 100%&more.txt")).unwrap(),
        b"new"
    );
    env.assert_quiet();
    assert!(env.trashed().is_empty(), "{:?}", env.trashed());
}

/// Case 2: an empty href skips that item (reported), nothing else.
fn an_empty_href_skips_only_that_item_and_says_so(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let env = Env::new(proxy.url_for(&server.url()));
    write(&env.local().join("box/nohref.txt"), b"hidden by the server");
    write(&env.local().join("box/seen.txt"), b"seen");
    write(&env.local().join("other/x.txt"), b"x");
    env.sync(&[]);
    proxy.set(quirks_of("empty_hrefs"));
    let report = env.sync(&[]);
    let problems = report["problems"].to_string();
    assert!(problems.contains("empty href"), "{report:#}");
    assert!(
        problems.contains("box"),
        "the folder is not named: {report:#}"
    );
    assert!(env.local().join("box/nohref.txt").exists());
    assert!(env.trashed().is_empty(), "{:?}", env.trashed());
    env.assert_quiet();
    // The rest of the tree still syncs, deletions included.
    server.remove("other/x.txt");
    server.write("box/new.txt", b"new");
    env.sync(&[]);
    assert!(!env.local().join("other/x.txt").exists());
    assert_eq!(fs::read(env.local().join("box/new.txt")).unwrap(), b"new");
    assert!(env.local().join("box/nohref.txt").exists());
    env.assert_quiet();
}

/// An item whose href cannot be used, at the root, holds back only the
/// root's items the listing lacks: deletions in the folders it did list
/// still go through.
fn an_unusable_href_at_the_root_does_not_hold_back_deletions_in_listed_folders(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let env = Env::new(proxy.url_for(&server.url()));
    write(&env.local().join("nohref.txt"), b"hidden by the server");
    write(
        &env.local().join("box/deleted.txt"),
        b"deleted on the server",
    );
    write(&env.local().join("box/kept.txt"), b"kept");
    env.sync(&[]);
    proxy.set(quirks_of("empty_hrefs"));
    server.remove("box/deleted.txt");
    let report = env.sync(&[]);
    assert!(
        report["problems"].to_string().contains("empty href"),
        "{report:#}"
    );
    assert!(
        !env.local().join("box/deleted.txt").exists(),
        "a deletion in a listed folder was held back: {report:#}"
    );
    assert!(env.local().join("nohref.txt").exists());
    assert!(env.local().join("box/kept.txt").exists());
    env.assert_quiet();
}

/// A `Depth: infinity` that was proven on a small folder but cuts the
/// whole tree off below some depth: once a direct request finds an item
/// that listing left out, infinity is no longer trusted (and the report
/// says so), so what changes below the cut is seen from the next pass on.
fn items_a_cut_off_infinity_listing_leaves_out_are_seen_once_the_server_is_found_to_have_them(
    kind: DavKind,
) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks {
            infinity_max_depth: Some(3),
            ..Quirks::none()
        },
    );
    let env = Env::new(proxy.url_for(&server.url()));
    server.write("deep/1/2/3/4/f.txt", b"deep");
    server.write("s/t/u.txt", b"shallow");
    // Walked with Depth 1; infinity proven on the smallest nested folder.
    env.sync(&[]);
    assert_eq!(
        fs::read(env.local().join("deep/1/2/3/4/f.txt")).unwrap(),
        b"deep"
    );
    proxy.clear_seen();
    let report = env.sync(&[]);
    let used_infinity = proxy
        .seen()
        .iter()
        .any(|s| s.method == "PROPFIND" && s.depth.as_deref() == Some("infinity"));
    if used_infinity {
        assert!(
            report["problems"]
                .to_string()
                .contains("no longer trusts its `Depth: infinity`"),
            "{kind}: {report:#}"
        );
    }
    assert!(env.local().join("deep/1/2/3/4/f.txt").exists());
    assert!(env.trashed().is_empty(), "{:?}", env.trashed());
    // Changes below the cut arrive.
    server.write("deep/1/2/3/4/new.txt", b"new");
    server.write("deep/1/2/3/4/f.txt", b"deep, edited");
    env.sync(&[]);
    assert_eq!(
        fs::read(env.local().join("deep/1/2/3/4/new.txt")).ok(),
        Some(b"new".to_vec()),
        "{kind}: a new file below the cut was never seen"
    );
    assert_eq!(
        fs::read(env.local().join("deep/1/2/3/4/f.txt")).unwrap(),
        b"deep, edited"
    );
    env.assert_quiet();
    assert!(env.trashed().is_empty(), "{:?}", env.trashed());
}

fn mtime_secs(p: &Path) -> i64 {
    fs::metadata(p)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Case 3: ISO 8601 and missing dates.
fn a_file_with_an_iso_or_missing_server_date_is_not_dated_1970(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        quirks_of("iso_dates"),
    );
    let env = Env::new(proxy.url_for(&server.url()));
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    server.write("iso.txt", b"iso");
    server.set_mtime("iso.txt", when);
    env.sync(&[]);
    env.assert_quiet();
    assert_eq!(mtime_secs(&env.local().join("iso.txt")), 1_700_000_000);

    proxy.set(quirks_of("missing_dates"));
    server.write("undated.txt", b"undated");
    server.set_mtime("undated.txt", when);
    let start = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    env.sync(&[]);
    // Unknown date: the file keeps the time it was written.
    assert!(mtime_secs(&env.local().join("undated.txt")) >= start - 1);
    env.assert_quiet();
    env.assert_quiet();

    // `--conflict newest` cannot pick a side by an unknown date: keeps both.
    std::thread::sleep(Duration::from_millis(1100));
    write(&env.local().join("undated.txt"), b"changed here");
    server.write("undated.txt", b"changed on the server!");
    env.sync(&["--conflict", "newest"]);
    let local = files(&env.local());
    assert!(
        local.values().any(|v| v == b"changed here")
            && local.values().any(|v| v == b"changed on the server!"),
        "{:?}",
        local.keys()
    );
    assert!(env.trashed().is_empty(), "{:?}", env.trashed());
    env.assert_quiet();
}

/// How many listing requests a pass makes: the first pass of a fresh
/// journal walks with Depth 1 and checks infinity once; later passes use
/// what the journal says.
fn listing_requests_per_pass(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let env = Env::new(proxy.url_for(&server.url()));
    for d in 0..4 {
        for s in 0..3 {
            server.write(&format!("d{d}/s{s}/f.txt"), b"f");
        }
    }
    let dirs = 1 + 4 + 4 * 3;
    let mut counts = Vec::new();
    for _ in 0..3 {
        proxy.clear_seen();
        env.sync(&[]);
        let seen = proxy.seen();
        let propfind = seen.iter().filter(|s| s.method == "PROPFIND").count();
        let infinity = seen
            .iter()
            .filter(|s| s.method == "PROPFIND" && s.depth.as_deref() == Some("infinity"))
            .count();
        counts.push((propfind, infinity));
    }
    eprintln!("{kind}: {dirs} folders; PROPFINDs per pass (all, of which infinity): {counts:?}");
    // The first pass: a Depth 1 walk plus one infinity check.
    assert_eq!(counts[0].1, 1, "{counts:?}");
    assert!(counts[0].0 >= dirs, "{counts:?}");
    // Later passes: one infinity listing where it was seen to work, else
    // the walk alone (no check again within a day).
    for c in &counts[1..] {
        assert!(c.0 == 1 || (c.0 == dirs && c.1 == 0), "{counts:?}");
    }
}

/// The write probe trusts `Depth: infinity` only where its own nested
/// folder comes back whole, and a trusted infinity that starts answering
/// one level is caught by the next listing.
fn the_write_probe_trusts_infinity_only_where_its_tree_comes_back_whole(kind: DavKind) {
    use ferry::remote::Remote;
    use ferry::remote::webdav::{Probe, WebDav};
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let url = proxy.url_for(&server.url());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let infinity = |dav: &WebDav| {
        let p: Probe = serde_json::from_str(&dav.export_state().unwrap()).unwrap();
        assert!(p.depth_infinity_checked_at > 0, "{p:?}");
        p.depth_infinity
    };
    // As the server is: rclone and wsgidav allow infinity, Apache (by
    // default), nginx and dav-server refuse it.
    let dav = WebDav::new(&url, Default::default()).unwrap();
    rt.block_on(dav.write_probe());
    let allows = matches!(kind, DavKind::Rclone | DavKind::WsgiDav);
    assert_eq!(infinity(&dav), allows, "{kind}");
    // One level only: not trusted.
    proxy.set(quirks_of("infinity_one_level"));
    let fresh = WebDav::new(&url, Default::default()).unwrap();
    rt.block_on(fresh.write_probe());
    assert!(!infinity(&fresh), "{kind}: a one-level answer was trusted");
    // Trusted, then the server starts answering one level: the listing
    // still has everything, and infinity is no longer trusted.
    proxy.set(Quirks::none());
    server.write("a/b/c.txt", b"deep");
    server.write("top.txt", b"top");
    if allows {
        proxy.set(quirks_of("infinity_one_level"));
        let filter = ferry::engine::Filter::default();
        let listing = rt.block_on(dav.list(&filter)).unwrap().unwrap();
        assert!(
            listing.tree.contains_key("a/b/c.txt"),
            "{kind}: {:?}",
            listing.tree.keys()
        );
        assert!(!infinity(&dav), "{kind}: still trusted");
    }
}

macro_rules! quirks {
    ($($module:ident => $kind:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            #[test] fn the_scenarios_lose_nothing_where_depth_infinity_answers_one_level() {
                scenarios($kind, "infinity_one_level")
            }
            #[test] fn the_scenarios_lose_nothing_where_hrefs_carry_raw_hash_percent_and_ampersand() {
                scenarios($kind, "raw_hrefs")
            }
            #[test] fn the_scenarios_lose_nothing_where_some_hrefs_are_empty() {
                scenarios($kind, "empty_hrefs")
            }
            #[test] fn the_scenarios_lose_nothing_where_dates_are_iso_8601() {
                scenarios($kind, "iso_dates")
            }
            #[test] fn the_scenarios_lose_nothing_where_dates_are_missing() {
                scenarios($kind, "missing_dates")
            }
            #[test] fn the_scenarios_lose_nothing_where_entity_tags_are_only_an_mtime_hash() {
                scenarios($kind, "mtime_etags")
            }
            #[test] fn the_scenarios_converge_where_tags_are_only_weak_but_checked_by_if() {
                scenarios($kind, "weak_tags_with_if")
            }
            #[test] fn the_scenarios_lose_nothing_when_every_move_answer_is_cut_off() {
                scenarios($kind, "reset_after_move")
            }
            #[test] fn the_scenarios_create_the_users_folder_where_mkcol_above_it_is_refused() {
                scenarios($kind, "mkcol_404_above_the_user")
            }
            #[test] fn case_1_a_file_missing_from_a_one_level_infinity_listing_is_not_trashed() {
                a_file_missing_from_a_one_level_infinity_listing_is_not_trashed($kind)
            }
            #[test] fn case_2_a_raw_hash_percent_or_ampersand_in_an_href_neither_renames_nor_trashes_a_file() {
                a_raw_hash_percent_or_ampersand_in_an_href_neither_renames_nor_trashes_a_file($kind)
            }
            #[test] fn case_2_an_empty_href_skips_only_that_item_and_says_so() {
                an_empty_href_skips_only_that_item_and_says_so($kind)
            }
            #[test] fn an_unusable_href_at_the_root_does_not_hold_back_deletions_in_listed_folders() {
                super::an_unusable_href_at_the_root_does_not_hold_back_deletions_in_listed_folders($kind)
            }
            #[test] fn items_a_cut_off_infinity_listing_leaves_out_are_seen_once_the_server_is_found_to_have_them() {
                super::items_a_cut_off_infinity_listing_leaves_out_are_seen_once_the_server_is_found_to_have_them($kind)
            }
            #[test] fn case_3_a_file_with_an_iso_or_missing_server_date_is_not_dated_1970() {
                a_file_with_an_iso_or_missing_server_date_is_not_dated_1970($kind)
            }
            #[test] fn an_update_whose_move_answer_was_lost_stays_on_the_server() {
                super::an_update_whose_move_answer_was_lost_stays_on_the_server($kind)
            }
            #[test] fn depth_infinity_is_checked_once_then_used_or_walked_without_asking_again() {
                listing_requests_per_pass($kind)
            }
            #[test] fn the_write_probe_trusts_infinity_only_where_its_tree_comes_back_whole() {
                super::the_write_probe_trusts_infinity_only_where_its_tree_comes_back_whole($kind)
            }
        }
    )*};
}

quirks! {
    apache => DavKind::Apache,
    nginx => DavKind::Nginx,
    rclone => DavKind::Rclone,
    wsgidav => DavKind::WsgiDav,
    dav_server => DavKind::DavServer,
}
