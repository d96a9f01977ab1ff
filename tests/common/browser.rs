//! A real headless Chromium for the preferences UI's tests, driven over
//! WebDriver (Debian's `chromium` + `chromium-driver`, one source package, so
//! their versions never drift) with fantoccini. Each `Browser` starts its own
//! chromedriver on a free loopback port with its own empty profile, and
//! stops both when dropped. The methods block (the harness owns a small
//! tokio runtime), so tests are plain `#[test]` functions next to a
//! `TestDaemon`.
//!
//! Use from a test file: `#[path = "common/daemon.rs"] mod daemon;` and
//! `#[path = "common/browser.rs"] mod browser;`.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::daemon::TestDaemon;

/// How long to wait for the page to show something.
pub const WAIT: Duration = Duration::from_secs(20);

pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn chromium() -> String {
    std::env::var("FERRY_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

impl Browser {
    /// Start chromedriver and a headless Chromium session.
    pub fn start() -> Browser {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: dropping the browser kills chromedriver
            // and the Chromium it started, whatever state they are in.
            cmd.process_group(0);
        }
        let driver = cmd
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed");
        let mut browser = Browser {
            rt,
            client: None,
            driver,
            _profile: profile,
        };
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-quic", "--no-first-run",
                    "--disable-default-apps", "--disable-extensions",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = browser.rt.block_on(async {
            loop {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                match ClientBuilder::new(connector)
                    .capabilities(caps.clone())
                    .connect(&url)
                    .await
                {
                    Ok(c) => break c,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("no WebDriver session: {e}"),
                }
            }
        });
        browser.client = Some(client);
        browser
    }

    /// The fantoccini client, for anything the helpers below do not do
    /// (run it with [`Browser::block_on`]).
    pub fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Run a future on the harness's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// A login URL from the daemon (asked with its API token), for `page`.
    pub fn login_url(daemon: &TestDaemon, page: Option<&str>) -> String {
        let body = match page {
            Some(p) => json!({ "page": p }),
            None => json!({}),
        };
        daemon.api_ok("POST", "/api/login-code", Some(&body))["url"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Log in to `daemon`'s preferences with a fresh code, landing on the
    /// Synchronizations page.
    pub fn login(&self, daemon: &TestDaemon) {
        self.login_to(daemon, None);
    }

    /// Log in and land on `page` (e.g. `"conflicts"`).
    pub fn login_to(&self, daemon: &TestDaemon, page: Option<&str>) {
        let url = Browser::login_url(daemon, page);
        self.goto(&url);
        self.wait_for("[data-test=overall]");
    }

    /// Load `url`.
    pub fn goto(&self, url: &str) {
        self.block_on(self.client().goto(url)).unwrap();
    }

    /// Open `hash` (e.g. `"#/settings"`) of `daemon`'s UI (logged in before).
    pub fn open(&self, daemon: &TestDaemon, hash: &str) {
        let (port, _) = daemon.endpoint();
        self.goto(&format!("http://127.0.0.1:{port}/{hash}"));
    }

    /// Load the page again (as the browser's reload button does).
    pub fn reload(&self) {
        self.block_on(self.client().refresh()).unwrap();
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.block_on(self.client().current_url())
            .unwrap()
            .to_string()
    }

    /// Wait until an element matches `css`; panics after [`WAIT`].
    pub fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.block_on(
            self.client()
                .wait()
                .at_most(WAIT)
                .for_element(Locator::Css(css)),
        )
        .unwrap_or_else(|e| panic!("no element {css}: {e}\n{}", self.page_text()))
    }

    /// Click the element matching `css` (waiting for it).
    pub fn click(&self, css: &str) {
        let el = self.wait_for(css);
        self.block_on(el.click())
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Click `el`, an element found before (`what` names it for the
    /// failure message). Fails if the page replaced it meanwhile, as a
    /// user's click on it would be lost.
    pub fn click_held(&self, el: &fantoccini::elements::Element, what: &str) {
        self.block_on(el.click())
            .unwrap_or_else(|e| panic!("click {what}: {e}"));
    }

    /// Replace the value of the input matching `css` with `text`.
    pub fn fill(&self, css: &str, text: &str) {
        let el = self.wait_for(css);
        self.block_on(async {
            el.clear().await?;
            el.send_keys(text).await
        })
        .unwrap_or_else(|e| panic!("fill {css}: {e}"));
    }

    /// Choose the option with `value` in the select matching `css`.
    pub fn select(&self, css: &str, value: &str) {
        let el = self.wait_for(css);
        self.block_on(el.select_by_value(value))
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// The text of the element matching `css` (waiting for it).
    pub fn text(&self, css: &str) -> String {
        let el = self.wait_for(css);
        self.block_on(el.text()).unwrap_or_default()
    }

    /// The texts of every element matching `css` (none: empty).
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.block_on(async {
            let mut out = Vec::new();
            for el in self.client().find_all(Locator::Css(css)).await? {
                out.push(el.text().await?);
            }
            Ok::<_, fantoccini::error::CmdError>(out)
        })
        .unwrap_or_default()
    }

    /// How many elements match `css` now.
    pub fn count(&self, css: &str) -> usize {
        self.block_on(self.client().find_all(Locator::Css(css)))
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// The value of attribute or property `name` of the element matching
    /// `css` (e.g. `"checked"`, `"value"`).
    pub fn prop(&self, css: &str, name: &str) -> Option<String> {
        let el = self.wait_for(css);
        self.block_on(el.prop(name)).unwrap_or(None)
    }

    /// Wait until the element matching `css` contains `needle`; its text.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let now: Vec<String> = self.texts(css);
            if let Some(t) = now.iter().find(|t| t.contains(needle)) {
                return t.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{css} never contained {needle:?}; it shows {now:?}\npage: {}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until nothing matches `css`.
    pub fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        while self.count(css) > 0 {
            assert!(Instant::now() < deadline, "{css} is still there");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until `cond` holds (checked every 100 ms), or panic with `what`.
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + WAIT;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\npage: {}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Run `script` in the page (an ES function body; `arguments` holds
    /// `args`) and return what it returns.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The page's visible text (for failure messages).
    pub fn page_text(&self) -> String {
        self.block_on(async {
            let body = self.client().find(Locator::Css("body")).await?;
            body.text().await
        })
        .unwrap_or_else(|e| format!("<no page text: {e}>"))
    }

    /// Save a PNG of the page to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self.block_on(self.client().screenshot()).unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    /// End the session and stop chromedriver.
    pub fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        #[cfg(unix)]
        unsafe {
            // The whole group: chromedriver and every Chromium process.
            libc::kill(-(self.driver.id() as i32), libc::SIGKILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
