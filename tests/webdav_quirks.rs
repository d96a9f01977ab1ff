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

// Unix only: real servers, inodes, permissions and symlinks (the Windows
// lint in scripts/test.sh skips this file).
#![cfg(unix)]

#[path = "common/cli.rs"]
mod cli;
#[path = "common/dav.rs"]
mod dav;
#[path = "common/proxy.rs"]
mod proxy;
#[path = "common/quirks.rs"]
mod quirks;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use cli::{Env, files, write};
use dav::{DavKind, DavServer};
use quirks::{Dates, QuirkProxy, Quirks};

/// What went to a trash: the OS trash under the test's HOME, and, where
/// there is none, the files of `.ferry-trash/<time>/<path>` (dot-names
/// included).
fn trashed(env: &Env) -> BTreeSet<String> {
    let trash = env.home().join(".local/share/Trash/files");
    let mut names: BTreeSet<String> = fs::read_dir(&trash)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mut stack = vec![env.local().join(".ferry-trash")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                names.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names
}

/// The contents of every file under `dir` (dot-names included; nothing
/// when it does not exist).
fn contents_under(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(fs::read(e.path()).unwrap());
            }
        }
    }
    out
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
        let trashed = trashed(env);
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
    let env = Env::new(proxy.url_for(&format!("{}{user}", server.url()))).timeout(10);
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
            env.sync_ok(&[]);
        } else {
            env.sync_ok(extra);
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
    let env = Env::new(faults.url_for(&server.url())).timeout(10);
    write(&env.local().join("f.txt"), b"v1");
    env.sync_ok(&[]);
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
    env.sync_ok(&[]);
    env.assert_quiet();
    assert_eq!(server.read("f.txt").unwrap(), b"v2, longer");
    assert_eq!(fs::read(env.local().join("f.txt")).unwrap(), b"v2, longer");
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
}

/// Case 1: a server that answers `Depth: infinity` with one level.
fn a_file_missing_from_a_one_level_infinity_listing_is_not_trashed(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let env = Env::new(proxy.url_for(&server.url())).timeout(10);
    // Few enough nested files that the mass-delete guard would not stop it.
    for i in 0..8 {
        write(&env.local().join(format!("f{i}.txt")), b"top level");
    }
    write(&env.local().join("sub/inner.txt"), b"nested");
    env.sync_ok(&[]);
    env.assert_quiet();
    proxy.set(quirks_of("infinity_one_level"));
    for pass in 0..3 {
        env.sync_ok(&[]);
        assert!(
            env.local().join("sub/inner.txt").exists(),
            "pass {pass}: the nested file was taken for deleted"
        );
        assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
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
    env.sync_ok(&[]);
    assert!(env.local().join("sub/inner.txt").exists());
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
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
    let env = Env::new(proxy.url_for(&server.url())).timeout(10);
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
    env.sync_ok(&[]);
    env.assert_quiet();
    proxy.set(quirks_of("raw_hrefs"));
    let before = files(&env.local());
    for _ in 0..2 {
        let report = env.sync_ok(&[]);
        let counts = report["counts"].as_object().unwrap();
        assert!(
            counts.keys().all(|k| k == "adopt"),
            "raw hrefs made Ferry act: {report:#}"
        );
        assert_eq!(files(&env.local()), before);
        assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
    }
    // And a new file with such a name on the server arrives under its name.
    server.write("new #3 100%&more.txt", b"new");
    env.sync_ok(&[]);
    assert_eq!(
        fs::read(env.local().join("new #3 100%&more.txt")).unwrap(),
        b"new"
    );
    env.assert_quiet();
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
}

/// Case 2: an empty href skips that item (reported), nothing else.
fn an_empty_href_skips_only_that_item_and_says_so(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        Quirks::none(),
    );
    let env = Env::new(proxy.url_for(&server.url())).timeout(10);
    write(&env.local().join("box/nohref.txt"), b"hidden by the server");
    write(&env.local().join("box/seen.txt"), b"seen");
    write(&env.local().join("other/x.txt"), b"x");
    env.sync_ok(&[]);
    proxy.set(quirks_of("empty_hrefs"));
    let report = env.sync_ok(&[]);
    let problems = report["problems"].to_string();
    assert!(problems.contains("empty href"), "{report:#}");
    assert!(
        problems.contains("box"),
        "the folder is not named: {report:#}"
    );
    assert!(env.local().join("box/nohref.txt").exists());
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
    env.assert_quiet();
    // The rest of the tree still syncs, deletions included.
    server.remove("other/x.txt");
    server.write("box/new.txt", b"new");
    env.sync_ok(&[]);
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
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
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
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
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
    let env = Env::new(proxy.url_for(&server.url())).timeout(10);
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    server.write("iso.txt", b"iso");
    server.set_mtime("iso.txt", when);
    env.sync_ok(&[]);
    env.assert_quiet();
    assert_eq!(mtime_secs(&env.local().join("iso.txt")), 1_700_000_000);

    proxy.set(quirks_of("missing_dates"));
    server.write("undated.txt", b"undated");
    server.set_mtime("undated.txt", when);
    let start = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    env.sync_ok(&[]);
    // Unknown date: the file keeps the time it was written.
    assert!(mtime_secs(&env.local().join("undated.txt")) >= start - 1);
    env.assert_quiet();
    env.assert_quiet();

    // `--conflict newest` cannot pick a side by an unknown date: keeps both.
    std::thread::sleep(Duration::from_millis(1100));
    write(&env.local().join("undated.txt"), b"changed here");
    server.write("undated.txt", b"changed on the server!");
    env.sync_ok(&["--conflict", "newest"]);
    let local = files(&env.local());
    assert!(
        local.values().any(|v| v == b"changed here")
            && local.values().any(|v| v == b"changed on the server!"),
        "{:?}",
        local.keys()
    );
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
    env.assert_quiet();
}

/// Review finding 1: on a server that sends no dates, a same-size edit on
/// the server is a change (its entity tag moved, or, without tags, its
/// hash), never "the same": it reaches the local side; and an unseen server
/// version is never overwritten by a later local edit.
fn a_same_size_server_edit_of_an_undated_file_reaches_the_local_side(kind: DavKind) {
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        quirks_of("missing_dates"),
    );
    let env = Env::new(proxy.url_for(&server.url()));
    let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s);
    server.write("a.txt", b"version 1");
    server.set_mtime("a.txt", t(0));
    env.sync(&[]);
    env.assert_quiet();
    assert_eq!(fs::read(env.local().join("a.txt")).unwrap(), b"version 1");

    // Same size, another version (its date, which Ferry is not told,
    // moves its tag where the server has tags).
    server.write("a.txt", b"VERSION 2");
    server.set_mtime("a.txt", t(10));
    env.sync(&[]);
    assert_eq!(
        fs::read(env.local().join("a.txt")).unwrap(),
        b"VERSION 2",
        "{kind}: the server's same-size edit did not reach the local side"
    );
    env.assert_quiet();

    // Another same-size server edit, and a local edit before Ferry saw it:
    // the server's version is not overwritten unseen.
    server.write("a.txt", b"VERSION 3");
    server.set_mtime("a.txt", t(20));
    write(&env.local().join("a.txt"), b"local edit, longer");
    env.sync(&[]);
    let local = files(&env.local());
    let kept = local.values().any(|v| v == b"VERSION 3")
        || server.read("a.txt").as_deref() == Some(b"VERSION 3")
        || contents_under(&server.root().join(".ferry-trash"))
            .iter()
            .any(|v| v == b"VERSION 3");
    assert!(
        kept,
        "{kind}: the unseen server version was overwritten: local {:?}, server {:?}",
        local.keys(),
        server
            .read("a.txt")
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    );
    assert!(local.values().any(|v| v == b"local edit, longer"), "{kind}");
    assert!(trashed(&env).is_empty(), "{:?}", trashed(&env));
    env.assert_quiet();
}

/// Review finding 2: a download temp left by an interrupted download of an
/// older version of a file (same size, no dates) is never put in place as
/// the new version — neither a complete one nor a partial one continued.
fn a_leftover_download_temp_of_another_version_is_never_put_in_place(kind: DavKind) {
    use ferry::engine::Side;
    use ferry::fsops::{Folder, TrashPolicy};
    use ferry::remote::Remote;
    use ferry::remote::webdav::WebDav;
    let server = DavServer::start(kind);
    let proxy = QuirkProxy::start(
        &format!("http://127.0.0.1:{}", server.port()),
        quirks_of("missing_dates"),
    );
    let url = proxy.url_for(&server.url());
    let env = Env::new(url.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s);
    env.sync(&[]);
    let old_c: Vec<u8> = (0..64 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let new_c: Vec<u8> = (0..64 * 1024).map(|i| b'A' + (i % 26) as u8).collect();
    server.write("b.txt", b"old bytes");
    server.set_mtime("b.txt", t(0));
    server.write("c.txt", &old_c);
    server.set_mtime("c.txt", t(0));
    // What an interrupted download of those versions left: a complete
    // temp of b.txt, half of c.txt — at the names Ferry gives them.
    let dav = WebDav::new(&url, Default::default()).unwrap();
    let folder = Folder::new(env.local(), Side::Local, TrashPolicy::Folder);
    for (name, left) in [
        ("b.txt", &b"old bytes"[..]),
        ("c.txt", &old_c[..old_c.len() / 2]),
    ] {
        let seen = rt.block_on(dav.stat(name)).unwrap().unwrap();
        assert_eq!(seen.known_mtime(), None, "{kind}: the quirk left a date");
        fs::write(folder.resumable_temp(name, &seen), left).unwrap();
    }
    // Then the server's files change, keeping their sizes.
    server.write("b.txt", b"new bytes");
    server.set_mtime("b.txt", t(10));
    server.write("c.txt", &new_c);
    server.set_mtime("c.txt", t(10));
    env.sync(&[]);
    assert_eq!(
        fs::read(env.local().join("b.txt")).unwrap(),
        b"new bytes",
        "{kind}: a complete temp of another version was put in place"
    );
    assert!(
        fs::read(env.local().join("c.txt")).unwrap() == new_c,
        "{kind}: a partial temp of another version was continued"
    );
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
    let env = Env::new(proxy.url_for(&server.url())).timeout(10);
    for d in 0..4 {
        for s in 0..3 {
            server.write(&format!("d{d}/s{s}/f.txt"), b"f");
        }
    }
    let dirs = 1 + 4 + 4 * 3;
    let mut counts = Vec::new();
    for _ in 0..3 {
        proxy.clear_seen();
        env.sync_ok(&[]);
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
            #[test] fn finding_1_a_same_size_server_edit_of_an_undated_file_reaches_the_local_side() {
                a_same_size_server_edit_of_an_undated_file_reaches_the_local_side($kind)
            }
            #[test] fn finding_2_a_leftover_download_temp_of_another_version_is_never_put_in_place() {
                a_leftover_download_temp_of_another_version_is_never_put_in_place($kind)
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
