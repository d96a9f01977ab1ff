//! The tray benchmark (a benchmark, not a test): on a private desktop
//! (`Xvfb`, a session bus, `trayer`; the tests' harness in
//! `tests/common/desktop.rs`) it measures
//!
//! 1. start: `ferry` (daemon and tray in one process) started → its
//!    StatusNotifierItem's menu on the session bus, and → the first menu
//!    built from the daemon's status;
//! 2. icon change latency: Pause all / Resume all through the API, from the
//!    request sent until the item's `NewIcon` signal is seen on the bus
//!    (p50, p99, max over `BENCH_TRAY_CHANGES` changes, default 100);
//! 3. memory: VmRSS of `ferry` with the tray vs `ferry daemon --headless`,
//!    same configuration, settled.
//!
//! `cargo bench --bench tray` (Linux, default features). Prints a Markdown
//! table on stdout; progress on stderr. `BENCH_TRAY_STARTS` (default 5)
//! sets how often the start is measured.

#[path = "../tests/common/daemon.rs"]
#[cfg(all(feature = "tray", target_os = "linux"))]
mod daemon;
#[path = "../tests/common/desktop.rs"]
#[cfg(all(feature = "tray", target_os = "linux"))]
mod desktop;

#[cfg(not(all(feature = "tray", target_os = "linux")))]
fn main() {
    eprintln!("the tray benchmark runs on Linux with the tray feature");
}

#[cfg(all(feature = "tray", target_os = "linux"))]
fn main() {
    bench::main();
}

#[cfg(all(feature = "tray", target_os = "linux"))]
mod bench {
    use std::sync::mpsc::{Receiver, RecvTimeoutError};
    use std::time::{Duration, Instant};

    use dbus::channel::MatchingReceiver as _;
    use ferry::tray::menu::IconState;

    use crate::daemon::{PATIENCE, TestDaemon};
    use crate::desktop::{Desktop, Tray, start_on_desktop, wait_exit};

    fn env_or(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn say(what: &str) {
        eprintln!("bench: {what}");
    }

    /// The `q`-quantile of sorted durations, in ms.
    fn quantile(sorted: &[Duration], q: f64) -> f64 {
        let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
        sorted[i].as_secs_f64() * 1000.0
    }

    /// VmRSS of a process, in MiB.
    fn rss_mib(pid: u32) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        kib / 1024.0
    }

    /// One HTTP client for the whole run (a new one per call would be
    /// measured too).
    struct Api {
        rt: tokio::runtime::Runtime,
        client: reqwest::Client,
        base: String,
        token: String,
    }

    impl Api {
        fn new(d: &TestDaemon) -> Api {
            let (port, token) = d.endpoint();
            let _ = rustls::crypto::ring::default_provider().install_default();
            Api {
                rt: tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap(),
                client: reqwest::Client::builder().no_proxy().build().unwrap(),
                base: format!("http://127.0.0.1:{port}"),
                token,
            }
        }

        fn post(&self, path: &str) {
            self.rt.block_on(async {
                let resp = self
                    .client
                    .post(format!("{}{path}", self.base))
                    .bearer_auth(&self.token)
                    .header("Content-Type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .unwrap();
                assert!(resp.status().is_success(), "POST {path}: {}", resp.status());
            });
        }
    }

    /// The times at which the tray's item sent `NewIcon`, from a thread of
    /// its own listening on the bus.
    fn new_icon_signals(desktop: &Desktop, sender: &str) -> Receiver<Instant> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (bus, sender) = (desktop.bus.clone(), sender.to_string());
        std::thread::spawn(move || {
            let mut channel = dbus::channel::Channel::open_private(&bus).unwrap();
            channel.register().unwrap();
            let conn = dbus::blocking::Connection::from(channel);
            let rule =
                dbus::message::MatchRule::new_signal("org.kde.StatusNotifierItem", "NewIcon")
                    .with_sender(sender);
            conn.add_match_no_cb(&rule.match_str()).unwrap();
            conn.start_receive(rule, Box::new(move |_, _| tx.send(Instant::now()).is_ok()));
            ready_tx.send(()).unwrap();
            // Ends when the receiver is gone (the next signal fails to send)
            // or the bus goes away.
            while conn.process(Duration::from_millis(200)).is_ok() {}
        });
        ready_rx.recv_timeout(PATIENCE).unwrap();
        rx
    }

    /// Wait for the next `NewIcon`; when it came.
    fn next_signal(signals: &Receiver<Instant>, what: &str) -> Instant {
        match signals.recv_timeout(PATIENCE) {
            Ok(at) => at,
            Err(RecvTimeoutError::Timeout) => panic!("no NewIcon after {what}"),
            Err(e) => panic!("the bus listener stopped: {e}"),
        }
    }

    /// Signals already there (or coming within `quiet`) are dropped.
    fn drain(signals: &Receiver<Instant>, quiet: Duration) {
        while signals.recv_timeout(quiet).is_ok() {}
    }

    /// A local-folder synchronization "Docs" with a few files.
    fn add_docs(d: &TestDaemon) {
        let local = d.path("Docs-local");
        let remote = d.path("Docs-remote");
        std::fs::create_dir_all(&remote).unwrap();
        for i in 0..10 {
            crate::daemon::write(&local.join(format!("f{i}.txt")), b"some text");
        }
        d.ferry_ok(&[
            "add",
            "Docs",
            &local.display().to_string(),
            &remote.display().to_string(),
            "--poll",
            "60",
        ]);
        d.wait_state("Docs", "synced");
    }

    fn quit(tray: &mut Tray<'_>) {
        let _ = tray.try_click("Quit Ferry");
        let status = wait_exit(&mut tray.proc, "ferry did not quit");
        assert!(status.success(), "{status}");
    }

    pub fn main() {
        let starts = env_or("BENCH_TRAY_STARTS", 5).max(1);
        let changes = env_or("BENCH_TRAY_CHANGES", 100).max(2);
        let mut d = TestDaemon::new();
        let desktop = Desktop::start(d.dir.path());

        // 1. Start: `ferry` with an empty configuration, then with Docs.
        let mut to_bus = Vec::new();
        let mut to_menu = Vec::new();
        for i in 0..starts {
            let mut tray = start_on_desktop(&d, &desktop, &[]);
            let since_bus = Instant::now();
            if i == 0 {
                add_docs(&d);
            }
            tray.wait_menu("the daemon's status", |l| {
                l.first().map(String::as_str) == Some("[Up to date]")
            });
            to_bus.push(tray.started);
            if i > 0 {
                to_menu.push(tray.started + since_bus.elapsed());
            }
            say(&format!(
                "start {}: menu on the bus after {:?}",
                i + 1,
                tray.started
            ));
            if i + 1 < starts {
                quit(&mut tray);
            } else {
                // 2. and 3. with this one.
                let (latencies, rss_tray) = icon_changes(&d, &desktop, &tray, changes);
                quit(&mut tray);
                d.start();
                d.wait_state("Docs", "synced");
                std::thread::sleep(Duration::from_secs(2));
                let rss_headless = rss_mib(d.pid());
                d.stop();
                report(&to_bus, &to_menu, &latencies, rss_tray, rss_headless);
            }
        }
    }

    /// `changes` icon changes (Pause all, Resume all, …); the latencies,
    /// and the RSS of the process at the end.
    fn icon_changes(
        d: &TestDaemon,
        desktop: &Desktop,
        tray: &Tray<'_>,
        changes: usize,
    ) -> (Vec<Duration>, f64) {
        tray.wait_icon(IconState::Synced);
        let api = Api::new(d);
        let signals = new_icon_signals(desktop, &tray.name);
        let mut latencies = Vec::with_capacity(changes);
        say(&format!("{changes} icon changes"));
        for i in 0..changes {
            let (path, settled) = if i % 2 == 0 {
                ("/api/pause", IconState::Paused)
            } else {
                ("/api/resume", IconState::Synced)
            };
            drain(&signals, Duration::ZERO);
            let sent = Instant::now();
            api.post(path);
            let seen = next_signal(&signals, path);
            latencies.push(seen.saturating_duration_since(sent));
            // A resume may pass through Syncing: let the icon settle.
            tray.wait_icon(settled);
            drain(&signals, Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(1));
        let rss = rss_mib(tray.proc.0.id());
        (latencies, rss)
    }

    fn report(
        to_bus: &[Duration],
        to_menu: &[Duration],
        latencies: &[Duration],
        rss_tray: f64,
        rss_headless: f64,
    ) {
        let ms = |d: &[Duration], q: f64| {
            let mut d = d.to_vec();
            d.sort();
            if d.is_empty() {
                "–".to_string()
            } else {
                format!("{:.0} ms", quantile(&d, q))
            }
        };
        println!("| measure | value |");
        println!("|---|---|");
        println!(
            "| `ferry` started → tray menu on the bus (median / max of {}) | {} / {} |",
            to_bus.len(),
            ms(to_bus, 0.5),
            ms(to_bus, 1.0)
        );
        println!(
            "| `ferry` started → first menu from the daemon's status (median / max of {}) | {} / {} |",
            to_menu.len(),
            ms(to_menu, 0.5),
            ms(to_menu, 1.0)
        );
        let mut sorted = latencies.to_vec();
        sorted.sort();
        println!(
            "| icon change: Pause/Resume all sent → `NewIcon` on the bus, p50 / p99 / max of {} | {:.1} / {:.1} / {:.1} ms |",
            sorted.len(),
            quantile(&sorted, 0.5),
            quantile(&sorted, 0.99),
            quantile(&sorted, 1.0)
        );
        println!("| RSS of `ferry` (daemon + tray), one synchronization | {rss_tray:.1} MiB |");
        println!("| RSS of `ferry daemon --headless`, same | {rss_headless:.1} MiB |");
    }
}
