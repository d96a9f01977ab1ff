//! The icon and menu drawn with tray-icon (and its menu crate, muda) — the
//! same on every platform; only the main-thread loop around it differs
//! (`gtk` on Linux, `event_loop` on Windows and macOS). Menu choices are
//! forwarded to the worker as item ids.

use std::path::PathBuf;

use anyhow::Context as _;
use tray_icon::menu::{
    IsMenuItem, Menu as MudaMenu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu,
};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use super::Backend;
use super::icons;
use super::menu::{IconState, Item, Menu};

/// The tray icon and its menu, drawn by tray-icon.
pub struct IconTray {
    tray: TrayIcon,
    icon: IconState,
}

impl IconTray {
    /// Show the icon at once with this menu. `temp_dir` is where the
    /// Linux indicator reads icon files from (unused elsewhere).
    pub fn new(
        temp_dir: Option<PathBuf>,
        menu: &Menu,
        icon: IconState,
    ) -> anyhow::Result<IconTray> {
        let mut builder = TrayIconBuilder::new()
            .with_id("ferry")
            .with_title("Ferry")
            .with_tooltip("Ferry")
            .with_icon(load(icon)?)
            .with_menu(Box::new(to_muda(menu)?));
        if let Some(dir) = temp_dir {
            builder = builder.with_temp_dir_path(dir);
        }
        let tray = builder.build().context("cannot create the tray icon")?;
        Ok(IconTray { tray, icon })
    }

    /// The menu shown until the daemon's status is read.
    pub fn starting_menu() -> Menu {
        Menu {
            items: vec![Item::Label("Starting…".into())],
        }
    }
}

impl Backend for IconTray {
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

/// Send the id of each chosen menu item to the worker (muda calls this on
/// the thread that runs the loop).
pub fn forward_menu_events(actions: tokio::sync::mpsc::UnboundedSender<String>) {
    MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
        let _ = actions.send(e.id.0);
    }));
}

/// Stop forwarding menu choices (the loop is over).
pub fn stop_menu_events() {
    MenuEvent::set_event_handler(None::<fn(MenuEvent)>);
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
