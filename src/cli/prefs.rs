//! Opening the preferences UI: `ferry prefs [PAGE]`, a second `ferry` while
//! one runs, the desktop launcher (`Exec=ferry prefs`) and the tray's
//! "Preferences…" / "Conflicts (N)" all come here. This module owns that
//! one way: ask the running daemon for a single-use login code
//! (`protocol::Client::login_code`), then open its URL in the browser —
//! `$BROWSER` first when set (a `:`-separated list of commands, `%s` standing
//! for the URL, as `xdg-open`'s and Python's conventions have it), else the
//! desktop's default (the `open` crate: `xdg-open` and friends). Where no
//! browser can be opened (no graphical session, e.g. over SSH) the URL is
//! printed instead, with how long it works.

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::protocol::Client;
use crate::protocol::prefs::LoginCode;

/// What became of a request to open the preferences.
#[derive(Debug)]
pub enum Opened {
    /// A browser was started with the login URL.
    InBrowser(LoginCode),
    /// No browser could be opened: the user should open the URL.
    Printable(LoginCode),
}

/// Ask the daemon of `data_dir` for a login URL for `page` and open it.
pub async fn open(data_dir: &std::path::Path, page: Option<&str>) -> anyhow::Result<Opened> {
    let client = Client::connect(data_dir)?;
    let login = client.login_code(page).await?;
    let url = login.url.clone();
    let opened = tokio::task::spawn_blocking(move || open_url(&url)).await?;
    Ok(if opened {
        Opened::InBrowser(login)
    } else {
        Opened::Printable(login)
    })
}

/// Open `url` in a browser; `false` when none could be started.
pub fn open_url(url: &str) -> bool {
    if let Some(list) = std::env::var_os("BROWSER").filter(|v| !v.is_empty()) {
        let list = list.to_string_lossy().into_owned();
        if list
            .split(':')
            .filter(|c| !c.trim().is_empty())
            .any(|c| run_browser(c, url))
        {
            return true;
        }
    }
    if !has_graphical_session() {
        return false;
    }
    open_default(url)
}

fn open_default(url: &str) -> bool {
    match open::that(url) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("no browser could be opened: {e}");
            false
        }
    }
}

/// Whether a browser could show a window here.
fn has_graphical_session() -> bool {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
}

/// Run one `$BROWSER` entry with `url`: `true` when it started and did not
/// fail within a moment (a browser may keep running: that is success).
fn run_browser(command: &str, url: &str) -> bool {
    let mut words: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return false;
    }
    if words.iter().any(|w| w.contains("%s")) {
        for w in &mut words {
            *w = w.replace("%s", url);
        }
    } else {
        words.push(url.to_string());
    }
    let child = Command::new(&words[0])
        .args(&words[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(_) => return false,
        }
    }
    // Still running: a browser that stays in the foreground. Reap it later
    // so it leaves no zombie.
    std::thread::spawn(move || child.wait());
    true
}

/// `ferry prefs [PAGE]`.
pub(super) fn command(page: Option<String>) -> anyhow::Result<ExitCode> {
    if let Some(p) = &page {
        if !crate::protocol::prefs::valid_page(p) {
            anyhow::bail!(
                "no page {p:?}: pages are syncs, assistant, conflicts, transfers, accounts, settings"
            );
        }
    }
    let data_dir = crate::config::data_dir()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opened = rt.block_on(open(&data_dir, page.as_deref()))?;
    say(&opened);
    Ok(ExitCode::SUCCESS)
}

/// Tell the user what happened.
pub(super) fn say(opened: &Opened) {
    match opened {
        Opened::InBrowser(login) => out!(
            "Opened Ferry's preferences in your browser (if nothing shows, open {} within {} s).",
            login.url,
            login.expires_in_secs
        ),
        Opened::Printable(login) => out!(
            "Open this link in a browser on this computer within {} s (it works once):\n{}",
            login.expires_in_secs,
            login.url
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_entry_gets_the_url_in_place_of_percent_s_or_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = dir.path().join("b.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\nprintf '%s|' \"$@\" >> '{}'\n", out.display()),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let s = script.display();
        assert!(run_browser(&format!("{s}"), "http://x/1"));
        assert!(run_browser(&format!("{s} --new %s --flag"), "http://x/2"));
        assert!(!run_browser("/nonexistent/browser", "http://x/3"));
        assert!(!run_browser("false", "http://x/4"));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "http://x/1|--new|http://x/2|--flag|"
        );
    }
}
