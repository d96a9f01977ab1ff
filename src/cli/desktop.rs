//! The desktop commands: `ferry` / `ferry daemon` (the daemon, with the
//! tray on the main thread when there is a graphical session), `ferry tray`
//! (the tray of a daemon running elsewhere) and `ferry autostart`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::app::{self, AppHandle, RunOptions};

/// `ferry autostart on|off|status`.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AutostartAction {
    /// Start Ferry when you log in.
    On,
    /// Do not start Ferry when you log in.
    Off,
    /// Say whether Ferry starts when you log in (the real state: also when
    /// the desktop's startup settings turned it off).
    Status,
}

/// How the daemon was asked for.
pub struct DaemonRequest {
    /// `ferry daemon --headless`: never a tray.
    pub headless: bool,
    /// `ferry` with no command: a second one while Ferry runs says where it
    /// is instead of failing.
    pub implicit: bool,
    pub ca_file: Option<PathBuf>,
    pub timeout: u64,
}

/// `ferry` and `ferry daemon`: run until a signal, "Quit Ferry" or the
/// tray's end. The tray is shown when the build has it, a graphical
/// session is there and `--headless` was not given.
pub(super) fn daemon(req: DaemonRequest) -> anyhow::Result<ExitCode> {
    let data_dir = crate::config::data_dir()?;
    if req.implicit && running_daemon(&data_dir).is_some() {
        // A second `ferry` (the launcher, a double click): show the
        // preferences of the one that runs instead of failing.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let opened = rt.block_on(super::prefs::open(&data_dir, None))?;
        super::prefs::say(&opened);
        return Ok(ExitCode::SUCCESS);
    }
    let opts = RunOptions {
        config_dir: crate::config::default_dir()?,
        data_dir,
        ca_file: req.ca_file,
        timeout: std::time::Duration::from_secs(req.timeout.max(1)),
    };
    if req.headless || !wants_tray() {
        app::run(opts, app::headless)?;
    } else {
        app::run(opts, with_tray)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The port of a Ferry daemon that answers, if one does.
fn running_daemon(data_dir: &std::path::Path) -> Option<u16> {
    let endpoint = crate::protocol::portfile::read(data_dir).ok()?;
    let client = crate::protocol::Client::connect(data_dir).ok()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(client.health()).ok()?;
    Some(endpoint.port)
}

/// Whether to show the tray: built with it, and a graphical session.
fn wants_tray() -> bool {
    cfg!(feature = "tray") && crate::tray::has_display()
}

/// The main thread's hook with the tray: it runs until "Quit Ferry" or
/// until Ferry stops; either way Ferry then stops.
#[cfg(feature = "tray")]
fn with_tray(app: AppHandle) -> anyhow::Result<()> {
    let ctx = crate::tray::TrayContext::new(app.data_dir().to_path_buf(), app.runtime())
        .with_stopping(app.stopping())
        .with_open_page(page_opener(app.data_dir().to_path_buf(), app.runtime()));
    let shown = crate::tray::run(ctx);
    app.shutdown();
    if let Err(e) = shown {
        // The daemon goes on without a tray (none can be shown here).
        tracing::warn!("no tray icon: {e:#}; Ferry goes on without one");
        app::headless(app)?;
    }
    Ok(())
}

#[cfg(not(feature = "tray"))]
fn with_tray(app: AppHandle) -> anyhow::Result<()> {
    app::headless(app)
}

/// What the tray's "Preferences…" and "Conflicts (N)" do: open that page
/// of the preferences in the browser (the tray calls it off its own thread,
/// where blocking is fine).
#[cfg(feature = "tray")]
fn page_opener(
    data_dir: PathBuf,
    runtime: tokio::runtime::Handle,
) -> Box<dyn Fn(crate::tray::Page) + Send + Sync> {
    Box::new(move |page| {
        let name = match page {
            crate::tray::Page::Preferences => None,
            crate::tray::Page::Conflicts => Some("conflicts"),
        };
        match runtime.block_on(super::prefs::open(&data_dir, name)) {
            Ok(super::prefs::Opened::InBrowser(_)) => {}
            Ok(super::prefs::Opened::Printable(login)) => tracing::warn!(
                "tray: no browser could be opened for the preferences; the link (valid {} s) is {}",
                login.expires_in_secs,
                login.url
            ),
            Err(e) => tracing::warn!("tray: the preferences could not be opened: {e:#}"),
        }
    })
}

/// `ferry tray`: the tray of the daemon that runs (it follows the daemon,
/// and waits for one to start).
#[cfg(feature = "tray")]
pub(super) fn tray() -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let data_dir = crate::config::data_dir()?;
    let opener = page_opener(data_dir.clone(), runtime.handle().clone());
    crate::tray::run(
        crate::tray::TrayContext::new(data_dir, runtime.handle().clone()).with_open_page(opener),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `ferry autostart on|off|status`.
pub(super) fn autostart(action: AutostartAction) -> anyhow::Result<ExitCode> {
    use crate::autostart::{self, Status};
    match action {
        AutostartAction::On => autostart::enable(&std::env::current_exe()?)?,
        AutostartAction::Off => autostart::disable()?,
        AutostartAction::Status => {}
    }
    if !matches!(action, AutostartAction::Status) {
        // The user chose: Ferry no longer turns it on by itself.
        autostart::mark_chosen(&crate::config::default_dir()?)?;
    }
    let place = autostart::location().map(|p| format!(" ({})", p.display()));
    match autostart::status()? {
        Status::On { program } => out!(
            "on: {} starts at login{}",
            program.display(),
            place.unwrap_or_default()
        ),
        Status::Off => out!("off"),
        Status::OffInDesktopSettings { file } => out!(
            "off: turned off in the desktop's startup settings ({}); `ferry autostart on` turns it on",
            file.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}
