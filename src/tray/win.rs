//! The Windows main loop: a Win32 message loop on the thread that made the
//! icon (tray-icon's hidden window receives the icon's clicks there). The
//! worker wakes it by posting a message to a message-only window of ours,
//! not to the thread: a thread message would be lost while the tray's menu
//! runs its own modal loop, a window's is dispatched there too.

use std::sync::Arc;

use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, WPARAM};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, GetMessageW, HWND_MESSAGE,
    MSG, PostMessageW, PostQuitMessage, RegisterClassW, TranslateMessage, UnregisterClassW, WM_APP,
    WNDCLASSW,
};

use super::event_loop::{self, Start, Wake, Woken};

/// The message that says "the worker sent something".
const WM_WAKE: u32 = WM_APP + 1;

/// The window class name, NUL-terminated UTF-16.
fn class_name() -> Vec<u16> {
    "FerryTrayWake\0".encode_utf16().collect()
}

unsafe extern "system" fn wndproc(hwnd: HWND, msg: u32, wparam: WPARAM, lparam: LPARAM) -> LRESULT {
    if msg != WM_WAKE {
        // SAFETY: the arguments are the ones the system passed us.
        return unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) };
    }
    match event_loop::woken() {
        Woken::GoOn => {}
        // SAFETY: plain Win32 calls on this thread's own window and queue.
        Woken::Quit => unsafe { PostQuitMessage(0) },
        Woken::Busy => unsafe {
            PostMessageW(hwnd, WM_WAKE, 0, 0);
        },
    }
    0
}

/// A wake that posts [`WM_WAKE`] to `hwnd` (from any thread).
fn wake(hwnd: HWND) -> Wake {
    // A window handle is an address; it crosses threads as a number.
    let target = hwnd as usize;
    Arc::new(move || {
        // SAFETY: posting to a window that is gone fails harmlessly.
        unsafe {
            PostMessageW(target as HWND, WM_WAKE, 0, 0);
        }
    })
}

/// Run `start`, then the message loop until the tray ends.
pub fn run_loop(start: Start) -> anyhow::Result<()> {
    let class = class_name();
    // SAFETY: Win32 calls with valid, NUL-terminated strings that outlive
    // them, on this thread.
    let (instance, hwnd) = unsafe {
        let instance = GetModuleHandleW(std::ptr::null());
        let wc = WNDCLASSW {
            lpfnWndProc: Some(wndproc),
            hInstance: instance,
            lpszClassName: class.as_ptr(),
            ..std::mem::zeroed()
        };
        if RegisterClassW(&wc) == 0 {
            anyhow::bail!(
                "cannot register the tray's window class: {}",
                std::io::Error::last_os_error()
            );
        }
        let hwnd = CreateWindowExW(
            0,
            class.as_ptr(),
            std::ptr::null(),
            0,
            0,
            0,
            0,
            0,
            HWND_MESSAGE,
            std::ptr::null_mut(),
            instance,
            std::ptr::null(),
        );
        if hwnd.is_null() {
            let e = std::io::Error::last_os_error();
            UnregisterClassW(class.as_ptr(), instance);
            anyhow::bail!("cannot create the tray's message window: {e}");
        }
        (instance, hwnd)
    };
    let started = start(wake(hwnd));
    // SAFETY: the message loop of this thread; then the window and class
    // made above are removed, on the thread that made them.
    unsafe {
        if started.is_ok() {
            let mut msg: MSG = std::mem::zeroed();
            // 0 is WM_QUIT, -1 an error: both end the loop.
            while GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {
                TranslateMessage(&msg);
                DispatchMessageW(&msg);
            }
        }
        DestroyWindow(hwnd);
        UnregisterClassW(class.as_ptr(), instance);
    }
    started
}
