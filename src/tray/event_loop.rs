//! The tray on Windows and macOS: the platform's own event loop on the
//! main thread, as tray-icon asks there (`win`: a Win32 message loop on the
//! thread that owns the icon; `mac`: NSApplication's run loop, the icon
//! made once it runs). No windowing crate (tao, winit) is needed for an
//! icon and a menu.
//!
//! The worker's menu updates go through a channel; after each one the
//! worker calls the platform's [`Wake`], which makes the loop call
//! [`woken`] on the main thread (a message posted to a window of ours on
//! Windows, a block on the main dispatch queue on macOS). Menu choices go
//! back through muda's event handler, as on Linux.

use std::cell::RefCell;
use std::sync::Arc;

use super::draw::{self, IconTray};
use super::follow::{self, UiMsg};
use super::menu::IconState;
use super::{Backend, TrayContext};

/// Makes the main thread's loop call [`woken`]; callable from any thread.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// What the loop starts with once it runs (on its thread): it shows the
/// icon and gets the [`Wake`] to hand to the worker.
pub type Start = Box<dyn FnOnce(Wake) -> anyhow::Result<()>>;

thread_local! {
    /// The main thread's side: drains the updates into the icon; `false`
    /// when the tray is to end.
    static ON_WAKE: RefCell<Option<Box<dyn FnMut() -> bool>>> = const { RefCell::new(None) };
}

/// What the loop does after a wake.
#[derive(Debug, PartialEq, Eq)]
pub enum Woken {
    GoOn,
    /// End the loop: the user chose "Quit Ferry", or Ferry stops.
    Quit,
    /// Called from inside an update (a nested loop): wake again later.
    Busy,
}

/// Apply what the worker sent; called by the platform loop after a wake.
pub fn woken() -> Woken {
    ON_WAKE.with(|w| match w.try_borrow_mut() {
        Ok(mut f) => match f.as_mut().map(|f| f()) {
            Some(false) => Woken::Quit,
            Some(true) | None => Woken::GoOn,
        },
        Err(_) => Woken::Busy,
    })
}

/// Show the tray and run the platform's loop (`run_loop`: `win::run_loop`
/// or `mac::run_loop`, given by the caller so that this module does not
/// import the platforms that import it) until the user quits.
pub fn run(ctx: TrayContext, run_loop: fn(Start) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let runtime = ctx.runtime.clone();
    let (mut ui, actions) = follow::start(ctx);
    draw::forward_menu_events(actions);
    let start: Start = Box::new(move |wake: Wake| {
        let mut tray = IconTray::new(None, &IconTray::starting_menu(), IconState::Syncing)?;
        tracing::info!("tray: icon shown");
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            while let Some(msg) = ui.recv().await {
                if tx.send(msg).is_err() {
                    break;
                }
                wake();
            }
        });
        let on_wake = move || {
            while let Ok(msg) = rx.try_recv() {
                match msg {
                    UiMsg::Show(menu, icon) => {
                        if let Err(e) = tray.show(&menu, icon) {
                            tracing::warn!("tray: {e:#}");
                        }
                    }
                    UiMsg::Quit => return false,
                }
            }
            true
        };
        ON_WAKE.with(|w| *w.borrow_mut() = Some(Box::new(on_wake)));
        Ok(())
    });
    let ran = run_loop(start);
    // Removes the icon; the worker's forwarder ends with the channel, and
    // the worker itself with the menu's sender.
    ON_WAKE.with(|w| w.borrow_mut().take());
    draw::stop_menu_events();
    ran
}
