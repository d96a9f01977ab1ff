//! The `ferry` binary: a thin shell around [`ferry::cli`].
//!
//! On Windows, a build with the tray is a GUI program (started from the
//! Start menu or at login it opens no console window); run from a
//! terminal, it attaches to the terminal's console so the commands' output
//! shows there.

#![cfg_attr(all(windows, feature = "tray"), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    #[cfg(all(windows, feature = "tray"))]
    // SAFETY: a plain Win32 call; it fails harmlessly when there is no
    // parent console (started from Explorer or at login).
    unsafe {
        windows_sys::Win32::System::Console::AttachConsole(
            windows_sys::Win32::System::Console::ATTACH_PARENT_PROCESS,
        );
    }
    ferry::cli::main()
}
