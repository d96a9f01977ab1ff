//! The Linux main loop: GTK's, for tray-icon with libappindicator, which
//! exports a StatusNotifierItem and a `com.canonical.dbusmenu` menu on the
//! session bus (and falls back to an XEmbed icon when no
//! StatusNotifierWatcher is there). GTK's main loop runs on the calling
//! (main) thread; menu updates come from the worker over a channel awaited
//! on GTK's own main context (no timer), menu choices go back over another.

use std::path::PathBuf;

use anyhow::Context as _;
use gtk::glib;

use super::draw::{self, IconTray};
use super::follow::{self, UiMsg};
use super::menu::IconState;
use super::{Backend, TrayContext};

/// A private folder for the icon files tray-icon hands to the indicator:
/// `$XDG_RUNTIME_DIR/ferry-tray`, else `DATA_DIR/tray` (not the shared
/// `/tmp/tray-icon`).
fn temp_dir(data_dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
        .map(|p| p.join("ferry-tray"))
        .unwrap_or_else(|| data_dir.join("tray"));
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the tray's icon folder {}", dir.display()))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(dir)
}

/// Show the tray and run GTK's main loop until the user quits.
pub fn run(ctx: TrayContext) -> anyhow::Result<()> {
    if !super::has_display() {
        anyhow::bail!(
            "no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set): \
             run `ferry daemon --headless`, or start Ferry from your desktop"
        );
    }
    gtk::init().context("cannot start GTK (is the display reachable?)")?;
    let dir = temp_dir(&ctx.data_dir)?;
    let mut tray = IconTray::new(Some(dir), &IconTray::starting_menu(), IconState::Syncing)?;
    tracing::info!("tray: icon shown");

    let (mut ui, actions) = follow::start(ctx);
    draw::forward_menu_events(actions);
    glib::MainContext::default().spawn_local(async move {
        while let Some(msg) = ui.recv().await {
            match msg {
                UiMsg::Show(menu, icon) => {
                    if let Err(e) = tray.show(&menu, icon) {
                        tracing::warn!("tray: {e:#}");
                    }
                }
                UiMsg::Quit => break,
            }
        }
        gtk::main_quit();
    });
    gtk::main();
    draw::stop_menu_events();
    Ok(())
}
