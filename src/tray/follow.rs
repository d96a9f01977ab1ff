//! The tray's worker side, on the runtime: connects to the daemon, reads
//! its status once, then follows `/api/events` (no polling), keeps the
//! [`Snapshot`] up to date, and sends the main thread a new menu and icon
//! whenever they change. Menu choices come back as item ids and are carried
//! out here (API calls, opening folders). When the daemon goes away, the
//! menu says so and the connection is tried again every second.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use super::menu::{self, Action, IconState, Item, Menu, Snapshot};
use super::notify::Notifier;
use super::proto::{self, Client, EventNews};
use super::{Page, TrayContext};

/// What the worker asks of the main thread.
pub enum UiMsg {
    Show(Box<Menu>, IconState),
    Quit,
}

/// Recent files and conflicts are read again at most this often while
/// transfers are reported.
const REFRESH_AFTER_TRANSFER: Duration = Duration::from_millis(500);
/// Relative times in the menu ("5 min ago") are redrawn this often.
const RELABEL: Duration = Duration::from_secs(30);
/// How long to wait before connecting again to a daemon that is not there.
const RECONNECT: Duration = Duration::from_secs(1);

/// Why following the daemon stopped.
enum Stop {
    Quit,
    Disconnected,
}

/// Follow the daemon until the user quits (or the main thread is gone).
pub async fn follow(
    data_dir: PathBuf,
    open_page: std::sync::Arc<dyn Fn(Page) + Send + Sync>,
    ui: UnboundedSender<UiMsg>,
    mut actions: UnboundedReceiver<String>,
) {
    let mut shown = Shown::default();
    // Kept across reconnections: what was notified stays notified.
    let mut notifier = Notifier::default();
    loop {
        let stop = match Client::connect(&data_dir) {
            Ok(client) => {
                let ends = Ends {
                    open_page: &open_page,
                    ui: &ui,
                    actions: &mut actions,
                    shown: &mut shown,
                    notifier: &mut notifier,
                };
                session(&client, ends).await
            }
            Err(e) => {
                tracing::debug!("tray: {e}");
                Stop::Disconnected
            }
        };
        if matches!(stop, Stop::Quit) {
            let _ = ui.send(UiMsg::Quit);
            return;
        }
        shown.send(&ui, not_running(), IconState::Offline);
        // Wait before trying again, still answering the menu.
        let until = Instant::now() + RECONNECT;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                id = actions.recv() => {
                    let Some(id) = id else { return };
                    if shown.menu.action(&id) == Some(&Action::Quit) {
                        let _ = ui.send(UiMsg::Quit);
                        return;
                    }
                    if let Some(a) = shown.menu.action(&id).cloned() {
                        let open_page = open_page.clone();
                        tokio::task::spawn_blocking(move || local_action(&a, &open_page));
                    }
                }
            }
        }
    }
}

/// What the main thread shows now (sent only when it changes).
#[derive(Default)]
struct Shown {
    menu: Menu,
    icon: Option<IconState>,
}

impl Shown {
    fn send(&mut self, ui: &UnboundedSender<UiMsg>, menu: Menu, icon: IconState) {
        if self.menu == menu && self.icon == Some(icon) {
            return;
        }
        self.menu = menu.clone();
        self.icon = Some(icon);
        let _ = ui.send(UiMsg::Show(Box::new(menu), icon));
    }
}

/// The menu while no daemon answers: only Quit works.
fn not_running() -> Menu {
    Menu {
        items: vec![
            Item::Label("Ferry is not running — waiting for it".into()),
            Item::Separator,
            Item::Action {
                id: "quit".into(),
                label: "Quit Ferry".into(),
                enabled: true,
                action: Action::Quit,
            },
        ],
    }
}

/// What a session works with, kept by [`follow`] across connections.
struct Ends<'a> {
    open_page: &'a std::sync::Arc<dyn Fn(Page) + Send + Sync>,
    ui: &'a UnboundedSender<UiMsg>,
    actions: &'a mut UnboundedReceiver<String>,
    shown: &'a mut Shown,
    notifier: &'a mut Notifier,
}

/// One connection: the status, then the events, until the stream ends or
/// the user quits.
async fn session(client: &Client, ends: Ends<'_>) -> Stop {
    let Ends {
        open_page,
        ui,
        actions,
        shown,
        notifier,
    } = ends;
    // Subscribe first, so nothing between the status and the stream is missed.
    let mut events = proto::events(client);
    let mut snap = Snapshot::default();
    if reload(client, &mut snap, notifier).await.is_err() {
        return Stop::Disconnected;
    }
    let render = |snap: &Snapshot, shown: &mut Shown| {
        shown.send(
            ui,
            menu::build(snap, jiff::Timestamp::now()),
            IconState::of(&snap.syncs),
        );
    };
    render(&snap, shown);
    let mut refresh_at: Option<Instant> = None;
    let mut relabel = tokio::time::interval_at(Instant::now() + RELABEL, RELABEL);
    loop {
        tokio::select! {
            ev = events.next() => {
                match ev {
                    None => return Stop::Disconnected,
                    Some(Err(proto::ClientError::Protocol(e))) => {
                        tracing::debug!("tray: an event could not be read: {e}");
                        continue;
                    }
                    Some(Err(e)) => {
                        tracing::debug!("tray: the event stream ended: {e}");
                        return Stop::Disconnected;
                    }
                    Some(Ok(v)) => match proto::read_event(v) {
                        EventNews::State(s) => {
                            notifier.state(&s);
                            if ended_with_work(&snap.syncs, &s) {
                                // Its conflicts are recorded now.
                                refresh_at.get_or_insert(Instant::now());
                            }
                            upsert(&mut snap.syncs, *s);
                        }
                        EventNews::Transfer => {
                            refresh_at.get_or_insert(Instant::now() + REFRESH_AFTER_TRANSFER);
                        }
                        EventNews::Reload => {
                            if reload(client, &mut snap, notifier).await.is_err() {
                                return Stop::Disconnected;
                            }
                        }
                        EventNews::Other => continue,
                    },
                }
            }
            _ = sleep_until(refresh_at) => {
                refresh_at = None;
                refresh_files(client, &mut snap, notifier).await;
            }
            _ = sleep_until(notifier.next_due()) => {
                notifier.send_due();
                continue;
            }
            _ = relabel.tick() => {}
            id = actions.recv() => {
                let Some(id) = id else { return Stop::Quit };
                let Some(action) = shown.menu.action(&id).cloned() else { continue };
                if action == Action::Quit {
                    return Stop::Quit;
                }
                remote_action(client, &action).await;
                let open_page = open_page.clone();
                tokio::task::spawn_blocking(move || local_action(&action, &open_page));
                continue;
            }
        }
        render(&snap, shown);
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Whether `new` ends a pass that had something to do (conflicts may
/// have been recorded at its end).
fn ended_with_work(syncs: &[proto::SyncStatus], new: &proto::SyncStatus) -> bool {
    let was_working = syncs.iter().any(|x| {
        x.id == new.id && matches!(&x.state, proto::SyncState::Syncing(p) if p.files_total > 0)
    });
    was_working && !matches!(new.state, proto::SyncState::Syncing(_))
}

/// Replace the synchronization with this id, or add it.
fn upsert(syncs: &mut Vec<proto::SyncStatus>, s: proto::SyncStatus) {
    match syncs.iter_mut().find(|x| x.id == s.id) {
        Some(x) => *x = s,
        None => syncs.push(s),
    }
}

/// Read the whole status again (synchronizations added or removed, events
/// missed, settings changed).
async fn reload(
    client: &Client,
    snap: &mut Snapshot,
    notifier: &mut Notifier,
) -> Result<(), proto::ClientError> {
    let status = proto::status(client).await?;
    notifier.set_switches(status.notifications);
    for s in &status.syncs {
        notifier.state(s);
    }
    snap.syncs = status.syncs;
    snap.recent = status.recent;
    read_conflicts(client, snap, notifier).await;
    Ok(())
}

/// Read the recent files and the conflicts again (after transfers).
async fn refresh_files(client: &Client, snap: &mut Snapshot, notifier: &mut Notifier) {
    match proto::recent(client).await {
        Ok(r) => snap.recent = r,
        Err(e) => tracing::debug!("tray: cannot read the recent files: {e}"),
    }
    read_conflicts(client, snap, notifier).await;
}

/// Read the open conflicts: their count for the menu, the new ones for the
/// notifications.
async fn read_conflicts(client: &Client, snap: &mut Snapshot, notifier: &mut Notifier) {
    match proto::open_conflicts(client).await {
        Ok(list) => {
            snap.conflicts = list.len();
            notifier.conflicts(&list);
        }
        Err(e) => tracing::debug!("tray: cannot read the conflicts: {e}"),
    }
}

/// The choices that ask the daemon.
async fn remote_action(client: &Client, action: &Action) {
    let (what, result) = match action {
        Action::PauseAll => ("pause", proto::pause_all(client).await),
        Action::ResumeAll => ("resume", proto::resume_all(client).await),
        Action::SyncNow => ("start a pass", proto::sync_now(client).await),
        _ => return,
    };
    if let Err(e) = result {
        tracing::warn!("tray: cannot {what}: {e}");
    }
}

/// The choices that open something on the desktop.
fn local_action(action: &Action, open_page: &std::sync::Arc<dyn Fn(Page) + Send + Sync>) {
    match action {
        Action::OpenFolder(dir) => open_path(dir),
        Action::ShowFile(file) => show_file(file),
        Action::Conflicts => open_page(Page::Conflicts),
        Action::Preferences => open_page(Page::Preferences),
        _ => {}
    }
}

fn open_path(path: &Path) {
    if let Err(e) = open::that_detached(path) {
        tracing::warn!("tray: cannot open {}: {e}", path.display());
    }
}

/// Open the folder holding `file` with the file selected (the file
/// manager's `org.freedesktop.FileManager1.ShowItems` where there is one),
/// else just its folder.
fn show_file(file: &Path) {
    #[cfg(target_os = "linux")]
    {
        if show_item_over_dbus(file).is_ok() {
            return;
        }
    }
    open_path(file.parent().unwrap_or(file));
}

#[cfg(target_os = "linux")]
fn show_item_over_dbus(file: &Path) -> anyhow::Result<()> {
    let uri = reqwest::Url::from_file_path(file)
        .map_err(|()| anyhow::anyhow!("not an absolute path: {}", file.display()))?;
    let conn = dbus::blocking::Connection::new_session()?;
    let proxy = conn.with_proxy(
        "org.freedesktop.FileManager1",
        "/org/freedesktop/FileManager1",
        Duration::from_secs(2),
    );
    proxy.method_call::<(), _, _, _>(
        "org.freedesktop.FileManager1",
        "ShowItems",
        (vec![uri.to_string()], ""),
    )?;
    Ok(())
}

/// Start following on `ctx.runtime`; the returned channels are the main
/// thread's ends (menu updates in, chosen item ids out).
pub fn start(ctx: TrayContext) -> (UnboundedReceiver<UiMsg>, UnboundedSender<String>) {
    let (ui_tx, ui_rx) = tokio::sync::mpsc::unbounded_channel();
    let (act_tx, act_rx) = tokio::sync::mpsc::unbounded_channel();
    let open_page: std::sync::Arc<dyn Fn(Page) + Send + Sync> = std::sync::Arc::from(ctx.open_page);
    if let Some(mut stopping) = ctx.stopping {
        // Ferry is stopping (a signal, the daemon's end): the tray goes too.
        let ui = ui_tx.clone();
        ctx.runtime.spawn(async move {
            let _ = stopping.wait_for(|s| *s).await;
            let _ = ui.send(UiMsg::Quit);
        });
    }
    ctx.runtime
        .spawn(follow(ctx.data_dir, open_page, ui_tx, act_rx));
    (ui_rx, act_tx)
}
