//! The way into the preferences UI, in a real headless Chromium against the
//! real daemon: a single-use login code exchanged for an `HttpOnly;
//! SameSite=Strict` session cookie, the cookie standing for the token, pages
//! of other sites refused, and `ferry prefs` / a second `ferry` opening the
//! browser (`$BROWSER`) or printing the link where none can be opened.

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;

#[path = "common/browser.rs"]
mod browser;

use std::time::Duration;

use browser::Browser;
use daemon::TestDaemon;
use serde_json::json;

#[test]
fn a_login_code_opens_the_preferences_once_with_a_strict_http_only_cookie() {
    let d = TestDaemon::started();
    let b = Browser::start();
    let url = Browser::login_url(&d, None);
    b.goto(&url);
    // Landed on the page, signed in: the header reads the daemon's status.
    b.wait_text("[data-test=overall]", "No synchronization yet");
    let (port, _) = d.endpoint();
    assert_eq!(b.url(), format!("http://127.0.0.1:{port}/#/syncs"));
    // The cookie: HttpOnly (no script sees it), SameSite=Strict, Path=/.
    let cookies = b.block_on(b.client().get_all_cookies()).unwrap();
    let c = cookies
        .iter()
        .find(|c| c.name() == "ferry_session")
        .expect("the session cookie");
    assert_eq!(c.http_only(), Some(true));
    assert_eq!(format!("{:?}", c.same_site()), "Some(Strict)", "{c:?}");
    assert_eq!(c.path(), Some("/"));
    assert_eq!(b.js("return document.cookie", vec![]), json!(""));
    // The code works once: the same link again is refused with a page
    // saying how to get a new one.
    b.goto(&url);
    b.wait_text("h1", "This link has expired");
    assert!(b.page_text().contains("ferry prefs"));
    // An unknown code too.
    b.goto(&format!("http://127.0.0.1:{port}/login?code=00"));
    b.wait_text("h1", "This link has expired");
}

#[test]
fn the_page_asked_for_opens_after_logging_in() {
    let d = TestDaemon::started();
    let b = Browser::start();
    b.login_to(&d, Some("settings"));
    let (port, _) = d.endpoint();
    assert_eq!(b.url(), format!("http://127.0.0.1:{port}/#/settings"));
    // A page name that is not one is refused before any code is made.
    let (status, v) = d.api(
        "POST",
        "/api/login-code",
        Some(&json!({"page": "//evil.example"})),
    );
    assert_eq!(status, 400, "{v}");
}

#[test]
fn without_a_session_the_page_says_how_to_get_in_and_the_api_refuses() {
    let d = TestDaemon::started();
    let b = Browser::start();
    b.open(&d, "#/syncs");
    b.wait_text("[data-test=signed-out]", "ferry prefs");
    let (status, _, _) = d.raw("GET", "/api/status", &[], None);
    assert_eq!(status, 401);
}

#[test]
fn a_browser_session_cannot_mint_login_codes() {
    let d = TestDaemon::started();
    let b = Browser::start();
    b.login(&d);
    let status = b.js(
        "return fetch('/api/login-code', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)",
        vec![],
    );
    assert_eq!(status, json!(403));
    // While the same session reads and changes what it may.
    let status = b.js(
        "return fetch('/api/pause', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)",
        vec![],
    );
    assert_eq!(status, json!(200));
}

#[test]
fn a_page_of_another_site_cannot_act_on_ferry_even_when_signed_in() {
    let mut d = TestDaemon::new();
    d.start();
    d.add_folder_sync("docs");
    d.wait_state("docs", "synced");
    let b = Browser::start();
    b.login(&d);
    let (port, _) = d.endpoint();
    // Another site (another origin on this machine: what a local web page
    // or a rebinding attacker's page is) sends what a form or a script
    // could: a simple POST that needs no preflight, cookies included if the
    // browser would send them.
    let other = another_site();
    b.goto(&format!("http://localhost:{other}/"));
    b.wait_text("p", "another site");
    let sent = b.js(
        "return fetch(arguments[0], {method: 'POST', mode: 'no-cors', credentials: 'include', \
         headers: {'Content-Type': 'text/plain'}, body: '{}'}).then(() => 'sent', e => String(e))",
        vec![json!(format!("http://127.0.0.1:{port}/api/pause"))],
    );
    assert_eq!(sent, json!("sent"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(d.sync_status("docs")["state"], "synced", "not paused");
    // The same request with the cookie and that origin, as a script that
    // bypassed the browser would send it, is refused by the daemon.
    let cookies = {
        b.login(&d);
        b.block_on(b.client().get_all_cookies()).unwrap()
    };
    let session = cookies
        .iter()
        .find(|c| c.name() == "ferry_session")
        .unwrap()
        .value()
        .to_string();
    let cookie = format!("ferry_session={session}");
    let (status, body, _) = d.raw(
        "POST",
        "/api/pause",
        &[("Cookie", &cookie), ("Origin", "null")],
        Some(("application/json", b"{}".to_vec())),
    );
    assert_eq!(status, 403, "{body}");
    let (status, body, _) = d.raw(
        "POST",
        "/api/pause",
        &[("Cookie", &cookie)],
        Some(("application/json", b"{}".to_vec())),
    );
    assert_eq!(status, 403, "no Origin at all: {body}");
    assert_eq!(d.sync_status("docs")["state"], "synced", "still not paused");
    // A form post (not JSON) from our own origin is refused too.
    let ours = format!("http://127.0.0.1:{port}");
    let (status, _, _) = d.raw(
        "POST",
        "/api/pause",
        &[("Cookie", &cookie), ("Origin", &ours)],
        Some(("application/x-www-form-urlencoded", b"a=1".to_vec())),
    );
    assert_eq!(status, 415);
    // The page itself can.
    b.js(
        "return fetch('/api/pause', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)",
        vec![],
    );
    d.wait_state("docs", "paused");
}

/// A web server of another site on loopback: every request gets a page
/// saying so. Its port.
fn another_site() -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = "<!doctype html><p>another site</p>";
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn every_answer_of_the_ui_carries_a_strict_content_security_policy() {
    let d = TestDaemon::started();
    for path in [
        "/",
        "/ui/js/app.js",
        "/ui/style.css",
        "/login?code=x",
        "/api/status",
    ] {
        let (_, _, headers) = d.raw("GET", path, &[], None);
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    }
    let (status, body, headers) = d.raw("GET", "/ui/js/app.js", &[], None);
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(body.contains("import"));
    let (status, _, _) = d.raw("GET", "/ui/../Cargo.toml", &[], None);
    assert_ne!(status, 200);
}

/// A `$BROWSER` that records the URL it was given in `out`.
fn recording_browser(d: &TestDaemon) -> (String, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let out = d.path("opened.txt");
    let script = d.path("my browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A `$BROWSER` entry is split on spaces: name the script through a
    // symlink without one.
    let link = d.path("browser");
    std::os::unix::fs::symlink(&script, &link).unwrap();
    (link.display().to_string(), out)
}

#[test]
fn ferry_prefs_opens_the_browser_named_in_browser_and_the_link_signs_in() {
    let d = TestDaemon::started();
    let (browser_cmd, out) = recording_browser(&d);
    let o = d
        .cli(&["prefs", "conflicts"])
        .env("BROWSER", format!("/nonexistent/first:{browser_cmd}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Opened Ferry's preferences"));
    let url = std::fs::read_to_string(&out).unwrap();
    let url = url.trim();
    assert!(
        url.contains("/login?code=") && url.ends_with("&page=conflicts"),
        "{url}"
    );
    let b = Browser::start();
    b.goto(url);
    let (port, _) = d.endpoint();
    b.wait_for("[data-test=overall]");
    assert_eq!(b.url(), format!("http://127.0.0.1:{port}/#/conflicts"));
}

#[test]
fn ferry_prefs_prints_the_link_where_no_browser_can_be_opened() {
    let d = TestDaemon::started();
    let o = d
        .cli(&["prefs"])
        .env_remove("BROWSER")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("Open this link in a browser"), "{stdout}");
    let url = stdout
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .expect("the link");
    let b = Browser::start();
    b.goto(url);
    b.wait_text("[data-test=overall]", "No synchronization yet");
    // A page that is not one is a clear error.
    let o = d.cli(&["prefs", "nope?"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no page"));
}

#[test]
fn a_second_ferry_opens_the_preferences_of_the_one_that_runs() {
    let d = TestDaemon::started();
    let (browser_cmd, out) = recording_browser(&d);
    let o = d
        .cli(&[])
        .env("BROWSER", &browser_cmd)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let url = std::fs::read_to_string(&out).unwrap();
    assert!(url.trim().contains("/login?code="), "{url}");
    // The daemon that ran is the one that still runs.
    assert_eq!(d.api_ok("GET", "/api/health", None)["ok"], true);
}
