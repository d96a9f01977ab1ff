//! End-to-end tests of `ferry sync` with the real binary on temp folders
//! (a local folder and a local-folder remote).

// Unix only: real servers, inodes, permissions and symlinks (the Windows
// lint in scripts/test.sh skips this file).
#![cfg(unix)]

#[path = "common/cli.rs"]
mod cli;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli::{Env, snapshot, write};

fn all_files_recursive(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn first_sync_merges_both_sides_and_second_pass_is_quiet() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("docs/report.txt"), "local report");
    write(&env.local().join("naïve name #1 + 50%.txt"), "odd name");
    write(&env.remote().join("photos/cat.jpg"), "meow");
    fs::create_dir_all(env.remote().join("empty folder")).unwrap();
    env.sync_quiet();
    assert_eq!(snapshot(&env.local()), snapshot(&env.remote()));
    assert_eq!(
        fs::read_to_string(env.local().join("photos/cat.jpg")).unwrap(),
        "meow"
    );
    assert!(env.local().join("empty folder").is_dir());
    // Downloads keep the remote's modification time.
    let l = fs::metadata(env.local().join("photos/cat.jpg")).unwrap();
    let r = fs::metadata(env.remote().join("photos/cat.jpg")).unwrap();
    assert_eq!(l.mtime(), r.mtime());
    assert_eq!(l.mtime_nsec(), r.mtime_nsec());
}

#[test]
fn edits_on_both_sides_reach_the_other_side() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("a.txt"), "a1");
    write(&env.local().join("b.txt"), "b1");
    write(&env.local().join("keep/c.txt"), "c1");
    write(&env.local().join("gone.txt"), "bye");
    env.sync_quiet();

    write(&env.local().join("a.txt"), "a2 local edit");
    write(&env.remote().join("b.txt"), "b2 remote edit");
    write(&env.remote().join("keep/new-remote.txt"), "new");
    fs::remove_file(env.remote().join("gone.txt")).unwrap();
    env.sync_quiet();

    assert_eq!(snapshot(&env.local()), snapshot(&env.remote()));
    assert_eq!(
        fs::read_to_string(env.remote().join("a.txt")).unwrap(),
        "a2 local edit"
    );
    assert_eq!(
        fs::read_to_string(env.local().join("b.txt")).unwrap(),
        "b2 remote edit"
    );
    assert!(!env.local().join("gone.txt").exists());
    // The local deletion went to the OS trash (under our temp HOME), not away.
    let trash = env.home().join(".local/share/Trash/files");
    let trashed: Vec<_> = fs::read_dir(&trash)
        .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        trashed
            .iter()
            .any(|n| n.to_string_lossy().starts_with("gone")),
        "gone.txt not in the trash: {trashed:?}"
    );
}

#[test]
fn a_conflict_keeps_both_versions() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("plan.txt"), "v1");
    env.sync_quiet();
    write(&env.local().join("plan.txt"), "local version");
    write(&env.remote().join("plan.txt"), "remote version!");
    let report = env.sync(&[]);
    assert_eq!(report["errors"], serde_json::json!([]));
    env.sync_quiet();
    let snap = snapshot(&env.local());
    assert_eq!(snap, snapshot(&env.remote()));
    assert_eq!(
        snap["plan.txt"].as_deref(),
        Some("remote version!".as_bytes())
    );
    let copies: Vec<_> = snap
        .iter()
        .filter(|(k, _)| k.starts_with("plan (conflicted copy ") && k.ends_with(".txt"))
        .collect();
    assert_eq!(copies.len(), 1, "{snap:?}");
    assert_eq!(copies[0].1.as_deref(), Some("local version".as_bytes()));
}

#[test]
fn policies_keep_the_loser_in_a_trash() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("p.txt"), "v1");
    env.sync_quiet();
    write(&env.local().join("p.txt"), "local wins");
    write(&env.remote().join("p.txt"), "remote loses");
    env.succeed(&["--conflict", "local"]);
    assert_eq!(
        fs::read_to_string(env.remote().join("p.txt")).unwrap(),
        "local wins"
    );
    let trashed: Vec<String> = all_files_recursive(&env.remote().join(".ferry-trash"))
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(trashed, vec!["remote loses".to_string()]);
}

#[test]
fn renaming_a_folder_of_1000_files_moves_it_without_copying() {
    let env = Env::folders().strictly_quiet();
    for i in 0..1000 {
        write(
            &env.local().join(format!("big/sub{}/f{i}.txt", i % 10)),
            format!("content {i}"),
        );
    }
    env.sync_quiet();
    let inode = |p: PathBuf| fs::metadata(p).unwrap().ino();
    let before: Vec<u64> = (0..1000)
        .map(|i| inode(env.remote().join(format!("big/sub{}/f{i}.txt", i % 10))))
        .collect();
    fs::rename(env.local().join("big"), env.local().join("renamed")).unwrap();
    let report = env.sync(&[]);
    assert_eq!(
        report["counts"],
        serde_json::json!({"move": 1}),
        "{report:#}"
    );
    assert_eq!(report["bytes_up"], 0);
    let after: Vec<u64> = (0..1000)
        .map(|i| inode(env.remote().join(format!("renamed/sub{}/f{i}.txt", i % 10))))
        .collect();
    assert_eq!(before, after, "remote files were copied, not moved");
    assert!(!env.remote().join("big").exists());
    env.sync_quiet();
}

#[test]
fn the_mass_delete_guard_stops_and_force_proceeds() {
    let env = Env::folders().strictly_quiet();
    for i in 0..20 {
        write(&env.local().join(format!("f{i}.txt")), "x");
    }
    env.sync_quiet();
    for i in 0..15 {
        fs::remove_file(env.local().join(format!("f{i}.txt"))).unwrap();
    }
    let out = env.cmd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("would delete 15 of the 20 items"),
        "{stderr}"
    );
    assert_eq!(
        snapshot(&env.remote()).len(),
        20,
        "the guard must not delete"
    );

    // A lower count limit trips too.
    for i in 0..15 {
        write(&env.local().join(format!("f{i}.txt")), "x");
    }
    env.sync_quiet();
    for i in 0..3 {
        fs::remove_file(env.local().join(format!("f{i}.txt"))).unwrap();
    }
    let out = env.cmd(&["--max-delete-count", "2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));

    env.succeed(&["--max-delete-count", "2", "--force"]);
    assert_eq!(snapshot(&env.remote()).len(), 17);
    // The deleted remote files are in the remote's trash.
    assert_eq!(
        all_files_recursive(&env.remote().join(".ferry-trash")).len(),
        3
    );
}

#[test]
fn a_missing_or_emptied_side_stops_the_pass() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("a.txt"), "a");
    write(&env.local().join("b.txt"), "b");
    env.sync_quiet();
    // The remote disk is "unmounted".
    let moved = env.dir().join("unmounted");
    fs::rename(env.remote(), &moved).unwrap();
    let out = env.cmd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert_eq!(snapshot(&env.local()).len(), 2);
    // Emptied rather than missing.
    fs::create_dir(env.remote()).unwrap();
    let out = env.cmd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));
    assert_eq!(snapshot(&env.local()).len(), 2);
}

#[test]
fn excluded_names_are_never_propagated() {
    let env = Env::folders().strictly_quiet();
    for name in [
        ".hidden",
        "draft.tmp",
        "~$report.docx",
        "notes.txt~",
        "Thumbs.db",
    ] {
        write(&env.local().join(name), "private");
    }
    write(&env.local().join("build/out.log"), "log");
    write(&env.local().join("real.txt"), "real");
    write(&env.remote().join(".server-only"), "server private");
    let report = env.sync(&["--exclude", "*.log"]);
    let problems = report["problems"].to_string();
    assert!(problems.contains("name starts with '.'"), "{problems}");
    assert!(problems.contains("filter glob '*.log'"), "{problems}");
    let remote = snapshot(&env.remote());
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        vec!["build", "real.txt"],
        "{remote:?}"
    );
    assert!(!env.local().join(".server-only").exists());
    // Deleting an excluded file on one side never deletes the other's.
    fs::remove_file(env.remote().join(".server-only")).unwrap();
    write(&env.remote().join(".server-only"), "again");
    fs::remove_file(env.local().join(".hidden")).unwrap();
    env.succeed(&["--exclude", "*.log"]);
    assert!(env.remote().join(".server-only").exists());
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("a.txt"), "a");
    write(&env.remote().join("b.txt"), "b");
    let report = env.sync(&["--dry-run"]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(
        report["counts"],
        serde_json::json!({"upload": 1, "download": 1})
    );
    let ops = report["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert!(!env.remote().join("a.txt").exists());
    assert!(!env.local().join("b.txt").exists());
    let human = env.succeed(&["--dry-run"]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("would sync"), "{text}");
    assert!(text.contains("upload   a.txt"), "{text}");
}

#[test]
fn one_way_mirrors_make_the_target_equal_to_the_source() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("mine.txt"), "mine");
    write(&env.remote().join("theirs.txt"), "theirs");
    env.succeed(&["--direction", "send", "--force"]);
    assert_eq!(snapshot(&env.remote()), snapshot(&env.local()));
    assert!(!env.remote().join("theirs.txt").exists());
    // The mirror's deletion went to the remote trash.
    assert_eq!(
        all_files_recursive(&env.remote().join(".ferry-trash")).len(),
        1
    );

    write(&env.remote().join("server-new.txt"), "srv");
    write(&env.remote().join("mine.txt"), "changed on server");
    env.succeed(&["--direction", "receive"]);
    assert_eq!(snapshot(&env.local()), snapshot(&env.remote()));
    assert_eq!(
        fs::read_to_string(env.local().join("mine.txt")).unwrap(),
        "changed on server"
    );
}

#[test]
fn kill_9_in_the_middle_of_a_pass_loses_nothing() {
    let env = Env::folders().strictly_quiet();
    let n = 2000;
    for i in 0..n {
        write(
            &env.local().join(format!("d{}/f{i}.txt", i % 40)),
            format!("local file {i}"),
        );
    }
    for i in 0..200 {
        write(
            &env.remote().join(format!("r{}/g{i}.txt", i % 4)),
            format!("remote file {i}"),
        );
    }
    let mut child = env.cmd(&["--jobs", "4"]).spawn().unwrap();
    // Kill once the pass is well under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let uploaded = all_files_recursive(&env.remote())
            .iter()
            .filter(|p| p.to_string_lossy().contains("/d") && p.to_string_lossy().ends_with(".txt"))
            .count();
        if uploaded >= 100 || Instant::now() > deadline {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        None,
        "the pass finished before it could be killed: the test proves nothing"
    );
    let done_before_kill = all_files_recursive(&env.remote())
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".txt"))
        .count();
    assert!(
        done_before_kill < n + 200,
        "the pass had already finished ({done_before_kill} files)"
    );
    eprintln!(
        "killed with {done_before_kill} of {} remote files in place",
        n + 200
    );

    env.succeed(&[]);
    env.sync_quiet();
    let local = snapshot(&env.local());
    assert_eq!(local, snapshot(&env.remote()));
    for i in 0..n {
        let key = format!("d{}/f{i}.txt", i % 40);
        assert_eq!(
            local[&key].as_deref(),
            Some(format!("local file {i}").as_bytes())
        );
    }
    for i in 0..200 {
        let key = format!("r{}/g{i}.txt", i % 4);
        assert_eq!(
            local[&key].as_deref(),
            Some(format!("remote file {i}").as_bytes())
        );
    }
    let conflicts = local
        .keys()
        .filter(|k| k.contains("conflicted copy"))
        .count();
    assert_eq!(
        conflicts, 0,
        "an interrupted pass must not create conflicts"
    );
    for root in [env.local(), env.remote()] {
        let temps: Vec<_> = all_files_recursive(&root)
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".ferry-")
                    && p.to_string_lossy().ends_with(".part")
            })
            .collect();
        assert!(temps.is_empty(), "temp files left: {temps:?}");
    }
}

#[test]
fn a_folder_deleted_here_but_added_to_there_is_kept_with_the_new_file() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("project/old.txt"), "old");
    write(&env.local().join("project/notes.txt"), "notes");
    for i in 0..10 {
        write(&env.local().join(format!("other{i}.txt")), "x");
    }
    env.sync_quiet();
    fs::remove_dir_all(env.local().join("project")).unwrap();
    write(&env.remote().join("project/new-from-colleague.txt"), "new");
    env.sync_quiet();
    let local = snapshot(&env.local());
    assert_eq!(local, snapshot(&env.remote()));
    assert_eq!(
        local["project/new-from-colleague.txt"].as_deref(),
        Some("new".as_bytes()),
        "the new remote file must survive: {local:?}"
    );
    assert!(!local.contains_key("project/old.txt"));
    // Only the files deleted here went to the remote trash, not the new one.
    let trashed: Vec<String> = all_files_recursive(&env.remote().join(".ferry-trash"))
        .iter()
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    assert!(!trashed.contains(&"new".to_string()), "{trashed:?}");
}

/// Regression: `ferry sync … | head -1` panicked with "failed printing to
/// stdout: Broken pipe".
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let env = Env::folders().strictly_quiet();
    write(&env.local().join("a.txt"), "a");
    let mut child = env
        .cmd(&["--dry-run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn filters_of_every_kind_apply_from_the_command_line() {
    let env = Env::folders().strictly_quiet();
    for name in [
        "draft-1.doc",
        "my-secret.txt",
        "copy.bak",
        "build/out.o",
        "keep.txt",
    ] {
        write(&env.local().join(name), "x");
    }
    let report = env.sync(&[
        "--exclude",
        "starts:draft",
        "--exclude",
        "contains:secret",
        "--exclude",
        "ends:.bak",
        "--exclude",
        "regex:^build/.",
    ]);
    let remote = snapshot(&env.remote());
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        vec!["build", "keep.txt"],
        "{report:#}"
    );
    let problems = report["problems"].to_string();
    for rule in [
        "starts with 'draft'",
        "contains 'secret'",
        "ends with '.bak'",
        "regex '^build/.'",
    ] {
        assert!(problems.contains(rule), "{rule}: {problems}");
    }
}

#[test]
fn deselecting_a_folder_removes_the_local_copy_to_the_trash_and_keeps_the_remote() {
    let env = Env::folders().strictly_quiet();
    write(&env.remote().join("photos/2019/a.jpg"), "a");
    write(&env.remote().join("photos/2020/b.jpg"), "b");
    write(&env.remote().join("docs/c.txt"), "c");
    env.sync_quiet();
    assert!(env.local().join("photos/2019/a.jpg").exists());
    env.succeed(&["--deselect", "photos/2019"]);
    assert!(!env.local().join("photos/2019").exists());
    assert!(env.local().join("photos/2020/b.jpg").exists());
    assert!(
        env.remote().join("photos/2019/a.jpg").exists(),
        "the remote keeps it"
    );
    let trash = env.home().join(".local/share/Trash/files");
    assert!(
        trash.join("2019").exists(),
        "the local copy went to the trash"
    );
    // Later passes neither download it again nor delete it remotely.
    let again = env.sync(&["--deselect", "photos/2019"]);
    assert_eq!(again["counts"], serde_json::json!({}), "{again:#}");
    assert!(env.remote().join("photos/2019/a.jpg").exists());
}
