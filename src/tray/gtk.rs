//! The GTK backend (Linux): tray-icon with libappindicator, which exports a
//! StatusNotifierItem and a `com.canonical.dbusmenu` menu on the session
//! bus (and falls back to an XEmbed icon when no StatusNotifierWatcher is
//! there). GTK's main loop runs on the calling (main) thread; menu updates
//! come from the worker over a channel awaited on GTK's own main context
//! (no timer), menu choices go back over another.

use std::path::PathBuf;

use anyhow::Context as _;
use gtk::glib;
use tray_icon::menu::{
    IsMenuItem, Menu as MudaMenu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu,
};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::follow::{self, UiMsg};
use super::icons;
use super::menu::{IconState, Item, Menu};
use super::{Backend, TrayContext};

/// The tray icon drawn by tray-icon on GTK.
pub struct GtkTray {
    tray: TrayIcon,
    icon: IconState,
}

impl GtkTray {
    /// Show the icon at once (the menu comes with the first update).
    fn new(temp_dir: PathBuf, menu: &Menu, icon: IconState) -> anyhow::Result<GtkTray> {
        let tray = TrayIconBuilder::new()
            .with_id("ferry")
            .with_title("Ferry")
            .with_tooltip("Ferry")
            .with_temp_dir_path(temp_dir)
            .with_icon(load(icon)?)
            .with_menu(Box::new(to_muda(menu)?))
            .build()
            .context("cannot create the tray icon")?;
        Ok(GtkTray { tray, icon })
    }
}

impl Backend for GtkTray {
    fn show(&mut self, menu: &Menu, icon: IconState) -> anyhow::Result<()> {
        self.tray.set_menu(Some(Box::new(to_muda(menu)?)));
        if icon != self.icon {
            self.tray
                .set_icon(Some(load(icon)?))
                .context("cannot change the tray icon")?;
            self.icon = icon;
        }
        Ok(())
    }
}

fn load(state: IconState) -> anyhow::Result<Icon> {
    let i = icons::rgba(state)?;
    Icon::from_rgba(i.rgba, i.width, i.height)
        .map_err(|e| anyhow::anyhow!("the {} tray icon cannot be used: {e}", state.name()))
}

/// The menu as muda items.
fn to_muda(menu: &Menu) -> anyhow::Result<MudaMenu> {
    let m = MudaMenu::new();
    let mut n = 0;
    for item in &menu.items {
        let item = to_item(item, &mut n)?;
        m.append(item.as_ref())
            .context("cannot build the tray menu")?;
    }
    Ok(m)
}

fn to_item(item: &Item, n: &mut usize) -> anyhow::Result<Box<dyn IsMenuItem>> {
    *n += 1;
    Ok(match item {
        Item::Label(text) => Box::new(MenuItem::with_id(format!("label:{n}"), text, false, None)),
        Item::Separator => Box::new(PredefinedMenuItem::separator()),
        Item::Action {
            id, label, enabled, ..
        } => Box::new(MenuItem::with_id(id.as_str(), label, *enabled, None)),
        Item::Submenu { label, items } => {
            let sub = Submenu::with_id(format!("submenu:{n}"), label, !items.is_empty());
            for item in items {
                let item = to_item(item, n)?;
                sub.append(item.as_ref())
                    .context("cannot build the tray menu")?;
            }
            Box::new(sub)
        }
    })
}

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
    let starting = Menu {
        items: vec![Item::Label("Starting…".into())],
    };
    let mut tray = GtkTray::new(dir, &starting, IconState::Syncing)?;
    tracing::info!("tray: icon shown");

    let (mut ui, actions) = follow::start(ctx);
    MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
        let _ = actions.send(e.id.0);
    }));
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
    MenuEvent::set_event_handler(None::<fn(MenuEvent)>);
    Ok(())
}
