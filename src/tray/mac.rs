//! The macOS main loop: NSApplication's run loop on the main thread, as a
//! menu-bar app (no Dock icon). tray-icon wants the loop running before
//! the icon is made, so the start is queued on the main dispatch queue
//! before `run`; the worker wakes the loop by queueing [`woken`] there
//! too. Not compiled in CI (no Apple SDK on Linux for the C dependencies);
//! type-checked for `aarch64-apple-darwin` on its own when written.

use std::cell::RefCell;
use std::sync::Arc;

use anyhow::Context as _;
use dispatch2::DispatchQueue;
use objc2::MainThreadMarker;
use objc2_app_kit::{
    NSApplication, NSApplicationActivationPolicy, NSEvent, NSEventModifierFlags, NSEventType,
};
use objc2_foundation::NSPoint;

use super::event_loop::{self, Start, Wake, Woken};

thread_local! {
    static START: RefCell<Option<Start>> = const { RefCell::new(None) };
    static FAILED: RefCell<Option<anyhow::Error>> = const { RefCell::new(None) };
}

/// Run `start` once the loop runs, then the loop until the tray ends.
pub fn run_loop(start: Start) -> anyhow::Result<()> {
    let mtm = MainThreadMarker::new().context("the tray must run on the main thread")?;
    let app = NSApplication::sharedApplication(mtm);
    app.setActivationPolicy(NSApplicationActivationPolicy::Accessory);
    START.with(|s| *s.borrow_mut() = Some(start));
    DispatchQueue::main().exec_async(started);
    app.run();
    match FAILED.with(|f| f.borrow_mut().take()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn wake() -> Wake {
    Arc::new(|| DispatchQueue::main().exec_async(woken))
}

/// On the main queue, once the loop runs.
fn started() {
    let Some(start) = START.with(|s| s.borrow_mut().take()) else {
        return;
    };
    if let Err(e) = start(wake()) {
        FAILED.with(|f| *f.borrow_mut() = Some(e));
        stop();
    }
}

/// On the main queue, after the worker sent something.
fn woken() {
    match event_loop::woken() {
        Woken::GoOn => {}
        Woken::Quit => stop(),
        Woken::Busy => DispatchQueue::main().exec_async(woken),
    }
}

/// End `run`: `stop` takes effect after the next event, so post one.
fn stop() {
    let Some(mtm) = MainThreadMarker::new() else {
        return;
    };
    let app = NSApplication::sharedApplication(mtm);
    app.stop(None);
    let event = NSEvent::otherEventWithType_location_modifierFlags_timestamp_windowNumber_context_subtype_data1_data2(
        NSEventType::ApplicationDefined,
        NSPoint::new(0.0, 0.0),
        NSEventModifierFlags::empty(),
        0.0,
        0,
        None,
        0,
        0,
        0,
    );
    if let Some(event) = event {
        app.postEvent_atStart(&event, true);
    }
}
