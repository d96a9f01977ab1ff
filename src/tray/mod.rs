//! The tray icon and its menu: a client of the running daemon that follows
//! its event stream (never polls) and shows the overall state.
//!
//! * [`menu`] — pure: the menu and the icon state from the daemon's status
//!   list, the recent files and the open conflicts.
//! * `proto` — the one file that names the daemon's protocol types and API
//!   client.
//! * `follow` — the worker side: connects, reads the status and the event
//!   stream, builds the menu, carries out what the user chooses.
//! * `notify` — the desktop notifications: the daemon's states and new
//!   conflicts through [`crate::notify_policy`], sent over D-Bus.
//! * [`Backend`] — what draws the icon and the menu: `draw` (tray-icon and
//!   its menu crate, behind the default-on `tray` feature), the same on
//!   every platform; a GTK-free one (tray-icon's `ksni`) could replace it.
//! * The main thread's loop around it: `gtk` on Linux (libappindicator),
//!   `event_loop` on Windows (`win`, a Win32 message loop) and macOS
//!   (`mac`, NSApplication's run loop).
//!
//! [`run`] takes the main thread until the user chooses "Quit Ferry"; the
//! caller then stops the daemon cleanly.

pub mod menu;
// Without the tray feature only the menu model uses it.
#[cfg_attr(not(feature = "tray"), allow(dead_code))]
mod proto;

#[cfg(feature = "tray")]
mod draw;
#[cfg(all(feature = "tray", any(target_os = "windows", target_os = "macos")))]
mod event_loop;
#[cfg(feature = "tray")]
mod follow;
#[cfg(all(feature = "tray", target_os = "linux"))]
mod gtk;
#[cfg(feature = "tray")]
pub mod icons;
#[cfg(all(feature = "tray", target_os = "macos"))]
mod mac;
#[cfg(feature = "tray")]
mod notify;
#[cfg(all(feature = "tray", target_os = "windows"))]
mod win;

use std::path::PathBuf;

use menu::{IconState, Menu};

/// What draws the tray: shows a menu and an icon, replacing what it showed.
/// Lives on the main thread (GTK objects are not `Send`).
pub trait Backend {
    fn show(&mut self, menu: &Menu, icon: IconState) -> anyhow::Result<()>;
}

/// A page of the preferences the tray opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Preferences,
    Conflicts,
}

/// What [`run`] needs from the program around it.
pub struct TrayContext {
    /// The daemon's data folder (where its `api.port` file is).
    pub data_dir: PathBuf,
    /// A runtime on other threads, for the API client.
    pub runtime: tokio::runtime::Handle,
    /// Opens a page of the preferences (until the preferences UI exists,
    /// the caller says where it will be).
    pub open_page: Box<dyn Fn(Page) + Send + Sync>,
    /// Becomes `true` when Ferry is stopping (a signal, the daemon's end):
    /// the tray then goes too. `None` for a tray of a daemon that runs in
    /// another process (`ferry tray`).
    pub stopping: Option<tokio::sync::watch::Receiver<bool>>,
}

impl TrayContext {
    /// A context whose preference pages are not built yet: choosing one
    /// logs where they will be.
    pub fn new(data_dir: PathBuf, runtime: tokio::runtime::Handle) -> TrayContext {
        TrayContext {
            data_dir,
            runtime,
            open_page: Box::new(|page| {
                tracing::warn!(
                    "tray: the preferences ({page:?}) are not built yet; \
                     `ferry status` and `ferry conflicts` show the same from the command line"
                );
            }),
            stopping: None,
        }
    }

    /// Open the preferences' pages with `open_page` (called off the main
    /// thread; it may block).
    pub fn with_open_page(mut self, open_page: Box<dyn Fn(Page) + Send + Sync>) -> TrayContext {
        self.open_page = open_page;
        self
    }

    /// The tray ends when `stopping` becomes `true` (or its sender goes).
    pub fn with_stopping(mut self, stopping: tokio::sync::watch::Receiver<bool>) -> TrayContext {
        self.stopping = Some(stopping);
        self
    }
}

/// Show the tray and follow the daemon until the user chooses "Quit Ferry"
/// (then it returns `Ok`, and the caller stops the daemon). Runs on the
/// main thread; needs a graphical session (`DISPLAY` or
/// `WAYLAND_DISPLAY`), else it fails at once with an error saying so.
#[cfg(all(feature = "tray", target_os = "linux"))]
pub fn run(ctx: TrayContext) -> anyhow::Result<()> {
    gtk::run(ctx)
}

/// On Windows and macOS the tray runs on the platform's own event loop
/// (see `event_loop`).
#[cfg(all(feature = "tray", any(target_os = "windows", target_os = "macos")))]
pub fn run(ctx: TrayContext) -> anyhow::Result<()> {
    #[cfg(target_os = "windows")]
    let run_loop = win::run_loop;
    #[cfg(target_os = "macos")]
    let run_loop = mac::run_loop;
    event_loop::run(ctx, run_loop)
}

/// Other systems have no tray backend: this says so.
#[cfg(all(
    feature = "tray",
    not(any(target_os = "linux", target_os = "windows", target_os = "macos"))
))]
pub fn run(_ctx: TrayContext) -> anyhow::Result<()> {
    anyhow::bail!("the tray is not available on this platform: run `ferry daemon --headless`")
}

/// Whether a graphical session is there to show a tray in: on Linux a
/// `DISPLAY` or `WAYLAND_DISPLAY`; Windows and macOS always have one (a
/// service or an SSH login without one fails in [`run`], and Ferry goes on
/// without a tray).
pub fn has_display() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}
