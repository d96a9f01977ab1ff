//! The tray's menu and icon as plain data: a pure function of the daemon's
//! status list, the recent files, the number of open conflicts and the
//! time. No GUI here; a backend ([`super::Backend`]) draws what this
//! builds, and a chosen item's id maps back to its [`Action`].
//!
//! The menu: a disabled first line saying what is happening ("Syncing 3 of
//! 12 — 40.0 MiB left", "Up to date", "Offline — retrying in 20 s",
//! "Password needed for dav.example.com"); Pause all / Resume all and Sync
//! now at the top level; Recent files (uploads and downloads, labelled,
//! with when); Open folder (a submenu with one entry per synchronization
//! when there are several); Conflicts (N) when there are any;
//! Preferences…; Quit Ferry.

use std::path::PathBuf;

use super::proto::{RecentFile, SyncState, SyncStatus, overall};

/// The overall state the icon shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IconState {
    Synced,
    Syncing,
    Paused,
    Offline,
    Error,
    Credentials,
    Confirm,
}

impl IconState {
    /// Every state, in the order of the assets.
    pub const ALL: [IconState; 7] = [
        IconState::Synced,
        IconState::Syncing,
        IconState::Paused,
        IconState::Offline,
        IconState::Error,
        IconState::Credentials,
        IconState::Confirm,
    ];

    /// The name used in the icon files (`assets/png/ferry-<name>-<size>.png`).
    pub fn name(self) -> &'static str {
        match self {
            IconState::Synced => "synced",
            IconState::Syncing => "syncing",
            IconState::Paused => "paused",
            IconState::Offline => "offline",
            IconState::Error => "error",
            IconState::Credentials => "credentials",
            IconState::Confirm => "confirm",
        }
    }

    /// The icon for the overall state of these synchronizations (the most
    /// urgent one's).
    pub fn of(syncs: &[SyncStatus]) -> IconState {
        match overall(syncs) {
            "syncing" | "starting" => IconState::Syncing,
            "paused" => IconState::Paused,
            "offline" => IconState::Offline,
            "error" => IconState::Error,
            "credentials_required" => IconState::Credentials,
            "needs_confirmation" => IconState::Confirm,
            _ => IconState::Synced,
        }
    }
}

/// What choosing a menu item does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    PauseAll,
    ResumeAll,
    SyncNow,
    /// Open the folder holding this file, the file selected where the file
    /// manager allows.
    ShowFile(PathBuf),
    /// Open this folder.
    OpenFolder(PathBuf),
    /// Show the open conflicts.
    Conflicts,
    Preferences,
    /// Stop Ferry cleanly.
    Quit,
}

/// One menu entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A line that cannot be chosen (the status line).
    Label(String),
    /// An entry that does something when chosen; `id` is unique in its menu.
    Action {
        id: String,
        label: String,
        enabled: bool,
        action: Action,
    },
    /// A submenu (disabled when `items` is empty).
    Submenu {
        label: String,
        items: Vec<Item>,
    },
    Separator,
}

/// The whole menu.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Menu {
    pub items: Vec<Item>,
}

impl Menu {
    /// The action of the entry with this id, searched in submenus too.
    pub fn action(&self, id: &str) -> Option<&Action> {
        fn find<'a>(items: &'a [Item], id: &str) -> Option<&'a Action> {
            items.iter().find_map(|item| match item {
                Item::Action { id: i, action, .. } if i == id => Some(action),
                Item::Submenu { items, .. } => find(items, id),
                _ => None,
            })
        }
        find(&self.items, id)
    }

    /// The first line (what is happening).
    pub fn headline(&self) -> &str {
        match self.items.first() {
            Some(Item::Label(l)) => l,
            _ => "",
        }
    }
}

/// What the menu is built from.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub syncs: Vec<SyncStatus>,
    /// Newest first, as the daemon lists them.
    pub recent: Vec<RecentFile>,
    pub conflicts: usize,
}

/// How many recent files the menu lists.
pub const RECENT_SHOWN: usize = 10;

/// The menu for this snapshot at time `now`.
pub fn build(snap: &Snapshot, now: jiff::Timestamp) -> Menu {
    let active = snap
        .syncs
        .iter()
        .filter(|s| !matches!(s.state, SyncState::Paused { .. } | SyncState::Disabled))
        .count();
    let paused = snap
        .syncs
        .iter()
        .filter(|s| matches!(s.state, SyncState::Paused { .. }))
        .count();
    let mut items = vec![Item::Label(headline(&snap.syncs)), Item::Separator];

    items.push(if active == 0 && paused > 0 {
        action("resume_all", "Resume all", true, Action::ResumeAll)
    } else {
        action("pause_all", "Pause all", active > 0, Action::PauseAll)
    });
    items.push(action("sync_now", "Sync now", active > 0, Action::SyncNow));
    items.push(Item::Separator);

    let recent: Vec<Item> = snap
        .recent
        .iter()
        .take(RECENT_SHOWN)
        .enumerate()
        .map(|(i, r)| {
            let file = local_folder(&snap.syncs, &r.sync).map(|root| join(root, &r.path));
            Item::Action {
                id: format!("recent:{i}"),
                label: format!(
                    "{} {} · {}",
                    verb(&r.action),
                    shorten(&r.path, 48),
                    ago(&r.time, now)
                ),
                enabled: file.is_some(),
                action: Action::ShowFile(file.unwrap_or_default()),
            }
        })
        .collect();
    items.push(Item::Submenu {
        label: "Recent files".into(),
        items: recent,
    });

    match snap.syncs.as_slice() {
        [] => {}
        [one] => items.push(action(
            "folder:0",
            "Open folder",
            true,
            Action::OpenFolder(PathBuf::from(&one.local)),
        )),
        several => items.push(Item::Submenu {
            label: "Open folder".into(),
            items: several
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    action(
                        &format!("folder:{i}"),
                        &s.name,
                        true,
                        Action::OpenFolder(PathBuf::from(&s.local)),
                    )
                })
                .collect(),
        }),
    }
    if snap.conflicts > 0 {
        items.push(action(
            "conflicts",
            &format!("Conflicts ({})", snap.conflicts),
            true,
            Action::Conflicts,
        ));
    }
    items.push(Item::Separator);
    items.push(action(
        "preferences",
        "Preferences…",
        true,
        Action::Preferences,
    ));
    items.push(action("quit", "Quit Ferry", true, Action::Quit));
    Menu { items }
}

fn action(id: &str, label: &str, enabled: bool, action: Action) -> Item {
    Item::Action {
        id: id.into(),
        label: label.into(),
        enabled,
        action,
    }
}

/// The status line: what the most urgent synchronization is doing.
pub fn headline(syncs: &[SyncStatus]) -> String {
    let first = |name: &str| syncs.iter().find(|s| s.state.name() == name);
    match overall(syncs) {
        "credentials_required" => {
            let s = first("credentials_required");
            format!(
                "Password needed for {}",
                s.map(|s| host_of(&s.remote).unwrap_or_else(|| s.name.clone()))
                    .unwrap_or_default()
            )
        }
        "needs_confirmation" => format!(
            "Confirmation needed for {}",
            first("needs_confirmation")
                .map(|s| s.name.as_str())
                .unwrap_or_default()
        ),
        "error" => {
            let retry = syncs
                .iter()
                .filter_map(|s| match &s.state {
                    SyncState::Error { retry_in_secs, .. } => Some(*retry_in_secs),
                    _ => None,
                })
                .min()
                .unwrap_or(0);
            let name = first("error").map(|s| s.name.as_str()).unwrap_or_default();
            format!("Error in {name} — retrying in {}", secs(retry))
        }
        "offline" => {
            let retry = syncs
                .iter()
                .filter_map(|s| match &s.state {
                    SyncState::Offline { retry_in_secs, .. } => Some(*retry_in_secs),
                    _ => None,
                })
                .min()
                .unwrap_or(0);
            if retry == 0 {
                "Offline — retrying now".to_string()
            } else {
                format!("Offline — retrying in {}", secs(retry))
            }
        }
        "syncing" => {
            let (mut total, mut done, mut left) = (0usize, 0usize, 0u64);
            for s in syncs {
                if let SyncState::Syncing(p) = &s.state {
                    total += p.files_total;
                    done += p.files_done.min(p.files_total);
                    left += p.bytes_total.saturating_sub(p.bytes_done);
                }
            }
            if total == 0 {
                "Syncing — looking for changes".into()
            } else if left > 0 {
                format!(
                    "Syncing {done} of {total} — {} left",
                    crate::fsops::human_bytes(left)
                )
            } else {
                format!("Syncing {done} of {total}")
            }
        }
        "starting" => "Starting…".into(),
        "paused" => {
            let paused = syncs
                .iter()
                .filter(|s| matches!(s.state, SyncState::Paused { .. }))
                .count();
            if syncs
                .iter()
                .all(|s| matches!(s.state, SyncState::Paused { .. } | SyncState::Disabled))
            {
                "Paused".into()
            } else {
                format!("Up to date — {paused} paused")
            }
        }
        _ if syncs.is_empty() => "No folders synchronized yet".into(),
        _ if syncs.iter().all(|s| s.state == SyncState::Disabled) => {
            "Every synchronization is turned off".into()
        }
        _ => "Up to date".into(),
    }
}

/// The host of a URL remote (`dav.example.com`, with its port when it has
/// one); `None` for a folder.
fn host_of(remote: &str) -> Option<String> {
    let url = reqwest::Url::parse(remote).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

/// "20 s", "2 min", "3 h".
fn secs(n: u64) -> String {
    match n {
        0..60 => format!("{n} s"),
        60..3600 => format!("{} min", n.div_ceil(60)),
        _ => format!("{} h", n.div_ceil(3600)),
    }
}

/// How long ago an RFC 3339 time was: "just now", "5 min ago", "3 h ago",
/// "2 d ago"; "" when it cannot be read.
fn ago(time: &str, now: jiff::Timestamp) -> String {
    let Ok(t) = time.parse::<jiff::Timestamp>() else {
        return String::new();
    };
    let secs = now.as_second().saturating_sub(t.as_second()).max(0);
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86400),
    }
}

/// "Uploaded", "Downloaded", or the action as the daemon named it.
fn verb(action: &str) -> String {
    match action {
        "upload" => "Uploaded".into(),
        "download" => "Downloaded".into(),
        other => {
            let mut c = other.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

/// A path cut to about `max` characters, keeping its end (the file name).
fn shorten(path: &str, max: usize) -> String {
    let n = path.chars().count();
    if n <= max {
        return path.to_string();
    }
    let tail: String = path.chars().skip(n - (max - 1)).collect();
    format!("…{tail}")
}

/// The local folder of the synchronization named (or with the id) `sync`.
fn local_folder<'a>(syncs: &'a [SyncStatus], sync: &str) -> Option<&'a str> {
    syncs
        .iter()
        .find(|s| s.name == sync || s.id == sync)
        .map(|s| s.local.as_str())
}

/// `root` + the `/`-separated relative `path`.
fn join(root: &str, path: &str) -> PathBuf {
    path.split('/')
        .filter(|p| !p.is_empty())
        .fold(PathBuf::from(root), |acc, p| acc.join(p))
}

#[cfg(test)]
mod tests {
    use super::super::proto::Progress;
    use super::*;

    fn sync(name: &str, state: SyncState) -> SyncStatus {
        SyncStatus {
            id: name.into(),
            name: name.into(),
            local: format!("/home/ann/{name}"),
            remote: format!("https://dav.example.com/{name}/"),
            state,
            last_pass: None,
            watch_warning: None,
        }
    }

    fn now() -> jiff::Timestamp {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    fn snap(syncs: Vec<SyncStatus>) -> Snapshot {
        Snapshot {
            syncs,
            ..Snapshot::default()
        }
    }

    /// The menu as lines: `label` (disabled in brackets), submenus indented.
    fn lines(menu: &Menu) -> Vec<String> {
        fn walk(items: &[Item], indent: &str, out: &mut Vec<String>) {
            for item in items {
                match item {
                    Item::Label(l) => out.push(format!("{indent}[{l}]")),
                    Item::Separator => out.push(format!("{indent}---")),
                    Item::Action { label, enabled, .. } if *enabled => {
                        out.push(format!("{indent}{label}"))
                    }
                    Item::Action { label, .. } => out.push(format!("{indent}[{label}]")),
                    Item::Submenu { label, items } => {
                        out.push(format!("{indent}{label} >"));
                        walk(items, &format!("{indent}  "), out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&menu.items, "", &mut out);
        out
    }

    #[test]
    fn one_synced_folder_gives_the_whole_menu_in_order() {
        let menu = build(&snap(vec![sync("Docs", SyncState::Synced)]), now());
        assert_eq!(
            lines(&menu),
            [
                "[Up to date]",
                "---",
                "Pause all",
                "Sync now",
                "---",
                "Recent files >",
                "Open folder",
                "---",
                "Preferences…",
                "Quit Ferry",
            ]
        );
        assert_eq!(
            menu.action("folder:0"),
            Some(&Action::OpenFolder("/home/ann/Docs".into()))
        );
        assert_eq!(menu.action("quit"), Some(&Action::Quit));
        assert_eq!(menu.action("nothing"), None);
    }

    #[test]
    fn the_first_line_says_what_is_happening() {
        let progress = |total, done, bytes_total, bytes_done| {
            SyncState::Syncing(Progress {
                files_total: total,
                files_done: done,
                bytes_total,
                bytes_done,
                eta_secs: None,
            })
        };
        let cases = [
            (
                vec![
                    sync("a", progress(10, 2, 50 << 20, 20 << 20)),
                    sync("b", progress(2, 1, 10 << 20, 0)),
                    sync("c", SyncState::Synced),
                ],
                "Syncing 3 of 12 — 40.0 MiB left",
            ),
            (
                vec![sync("a", progress(0, 0, 0, 0))],
                "Syncing — looking for changes",
            ),
            (vec![sync("a", SyncState::Synced)], "Up to date"),
            (
                vec![
                    sync(
                        "a",
                        SyncState::Offline {
                            reason: "x".into(),
                            retry_in_secs: 45,
                        },
                    ),
                    sync(
                        "b",
                        SyncState::Offline {
                            reason: "x".into(),
                            retry_in_secs: 20,
                        },
                    ),
                ],
                "Offline — retrying in 20 s",
            ),
            (
                vec![
                    sync("a", SyncState::Synced),
                    sync(
                        "b",
                        SyncState::CredentialsRequired {
                            reason: "401".into(),
                        },
                    ),
                ],
                "Password needed for dav.example.com",
            ),
            (
                vec![sync(
                    "a",
                    SyncState::NeedsConfirmation {
                        reason: "would delete 90 files".into(),
                    },
                )],
                "Confirmation needed for a",
            ),
            (
                vec![sync(
                    "a",
                    SyncState::Error {
                        reason: "disk".into(),
                        retry_in_secs: 120,
                    },
                )],
                "Error in a — retrying in 2 min",
            ),
            (
                vec![sync("a", SyncState::Paused { reason: None })],
                "Paused",
            ),
            (
                vec![
                    sync("a", SyncState::Paused { reason: None }),
                    sync("b", SyncState::Synced),
                ],
                "Up to date — 1 paused",
            ),
            (vec![], "No folders synchronized yet"),
            (vec![sync("a", SyncState::Starting)], "Starting…"),
        ];
        for (syncs, want) in cases {
            assert_eq!(build(&snap(syncs), now()).headline(), want);
        }
    }

    #[test]
    fn pause_all_becomes_resume_all_when_everything_is_paused() {
        let menu = build(
            &snap(vec![
                sync("a", SyncState::Paused { reason: None }),
                sync("b", SyncState::Disabled),
            ]),
            now(),
        );
        assert_eq!(menu.action("resume_all"), Some(&Action::ResumeAll));
        assert_eq!(menu.action("pause_all"), None);
        // Nothing to sync while everything is paused.
        assert!(lines(&menu).contains(&"[Sync now]".to_string()));

        let menu = build(
            &snap(vec![
                sync("a", SyncState::Paused { reason: None }),
                sync("b", SyncState::Synced),
            ]),
            now(),
        );
        assert_eq!(menu.action("pause_all"), Some(&Action::PauseAll));
        assert!(lines(&menu).contains(&"Sync now".to_string()));
    }

    #[test]
    fn with_no_synchronization_pause_and_sync_now_are_disabled() {
        let l = lines(&build(&snap(vec![]), now()));
        assert!(l.contains(&"[Pause all]".to_string()), "{l:?}");
        assert!(l.contains(&"[Sync now]".to_string()), "{l:?}");
        assert!(!l.iter().any(|l| l.starts_with("Open folder")), "{l:?}");
    }

    #[test]
    fn several_synchronizations_get_one_open_folder_entry_each() {
        let menu = build(
            &snap(vec![
                sync("Docs", SyncState::Synced),
                sync("Photos", SyncState::Synced),
            ]),
            now(),
        );
        let l = lines(&menu);
        let at = l.iter().position(|l| l == "Open folder >").unwrap();
        assert_eq!(l[at + 1..at + 3], ["  Docs", "  Photos"]);
        assert_eq!(
            menu.action("folder:1"),
            Some(&Action::OpenFolder("/home/ann/Photos".into()))
        );
    }

    #[test]
    fn recent_files_are_labelled_with_direction_and_when_and_open_their_file() {
        let mut s = snap(vec![sync("Docs", SyncState::Synced)]);
        s.recent = vec![
            RecentFile {
                sync: "Docs".into(),
                path: "reports/q3.pdf".into(),
                action: "upload".into(),
                time: "2026-11-28T11:55:00Z".into(),
            },
            RecentFile {
                sync: "Docs".into(),
                path: "notes.txt".into(),
                action: "download".into(),
                time: "2026-11-28T11:59:30Z".into(),
            },
            RecentFile {
                sync: "Gone".into(),
                path: "x".into(),
                action: "download".into(),
                time: "2026-11-25T12:00:00Z".into(),
            },
        ];
        let menu = build(&s, now());
        let l = lines(&menu);
        let at = l.iter().position(|l| l == "Recent files >").unwrap();
        assert_eq!(
            l[at + 1..at + 4],
            [
                "  Uploaded reports/q3.pdf · 5 min ago",
                "  Downloaded notes.txt · just now",
                "  [Downloaded x · 3 d ago]",
            ]
        );
        assert_eq!(
            menu.action("recent:0"),
            Some(&Action::ShowFile("/home/ann/Docs/reports/q3.pdf".into()))
        );
    }

    #[test]
    fn conflicts_appear_only_when_there_are_some() {
        let mut s = snap(vec![sync("Docs", SyncState::Synced)]);
        assert!(build(&s, now()).action("conflicts").is_none());
        s.conflicts = 3;
        let menu = build(&s, now());
        assert!(lines(&menu).contains(&"Conflicts (3)".to_string()));
        assert_eq!(menu.action("conflicts"), Some(&Action::Conflicts));
    }

    #[test]
    fn the_icon_follows_the_most_urgent_state() {
        use IconState::*;
        let cases = [
            (vec![], Synced),
            (vec![sync("a", SyncState::Synced)], Synced),
            (vec![sync("a", SyncState::Starting)], Syncing),
            (
                vec![
                    sync("a", SyncState::Synced),
                    sync("b", SyncState::Syncing(Progress::default())),
                ],
                Syncing,
            ),
            (vec![sync("a", SyncState::Paused { reason: None })], Paused),
            (
                vec![
                    sync("a", SyncState::Syncing(Progress::default())),
                    sync(
                        "b",
                        SyncState::Offline {
                            reason: "x".into(),
                            retry_in_secs: 1,
                        },
                    ),
                ],
                Offline,
            ),
            (
                vec![sync(
                    "a",
                    SyncState::Error {
                        reason: "x".into(),
                        retry_in_secs: 1,
                    },
                )],
                Error,
            ),
            (
                vec![
                    sync("a", SyncState::NeedsConfirmation { reason: "x".into() }),
                    sync("b", SyncState::CredentialsRequired { reason: "x".into() }),
                ],
                Credentials,
            ),
            (
                vec![sync(
                    "a",
                    SyncState::NeedsConfirmation { reason: "x".into() },
                )],
                Confirm,
            ),
        ];
        for (syncs, want) in cases {
            assert_eq!(IconState::of(&syncs), want, "{syncs:?}");
        }
    }

    #[test]
    fn long_paths_keep_their_file_name() {
        let long = format!("{}/file.txt", "a".repeat(80));
        let s = shorten(&long, 48);
        assert_eq!(s.chars().count(), 48);
        assert!(s.starts_with('…') && s.ends_with("/file.txt"));
    }
}
