//! A private desktop for the tray's tests and benchmark: a virtual X
//! server (`Xvfb`), a D-Bus session bus and a tray host (`trayer`), and
//! `ferry` shown on it, read and driven **through D-Bus**
//! (`com.canonical.dbusmenu` on the app indicator's menu object, the
//! StatusNotifierItem's properties), never through pixels on the screen.
//!
//! Use from a test or bench file (next to `daemon`):
//! `#[path = "common/daemon.rs"] mod daemon; #[path = "common/desktop.rs"] mod desktop;`.
//! Needs Debian `xvfb trayer dbus libayatana-appindicator3-1`.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry::tray::icons;
use ferry::tray::menu::IconState;
use serde_json::Value;

use crate::daemon::{PATIENCE, TestDaemon};

/// A child process killed when the test ends (pass or fail).
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `cmd` and read the first line it prints (Xvfb's display number,
/// dbus-daemon's address).
pub fn start_and_read_line(mut cmd: Command, what: &str) -> (Proc, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} (is it installed?): {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(!line.trim().is_empty(), "{what} printed nothing");
    (Proc(child), line.trim().to_string())
}

/// A private X server, session bus and tray host.
pub struct Desktop {
    pub display: String,
    pub bus: String,
    _procs: Vec<Proc>,
}

impl Desktop {
    pub fn start(dir: &Path) -> Desktop {
        let mut xvfb = Command::new("Xvfb");
        xvfb.args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "800x600x24",
            "-nolisten",
            "tcp",
        ]);
        let (x, n) = start_and_read_line(xvfb, "Xvfb");
        let display = format!(":{n}");
        let mut dbus = Command::new("dbus-daemon");
        dbus.args(["--session", "--nofork", "--print-address=1"]);
        let (bus_proc, bus) = start_and_read_line(dbus, "dbus-daemon");
        let trayer = Command::new("trayer")
            .args(["--edge", "top", "--align", "right", "--height", "24"])
            .env("DISPLAY", &display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .env("HOME", dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("trayer (Debian trayer) must be installed");
        Desktop {
            display,
            bus,
            _procs: vec![Proc(trayer), bus_proc, x],
        }
    }

    /// `busctl --address=BUS ARGS --json=short`, parsed.
    pub fn busctl(&self, args: &[&str]) -> Result<Value, String> {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.bus))
            .arg("--json=short")
            .args(args)
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        if out.stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null); // a method that returns nothing
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// The unique bus names of the process `pid` (GTK may open more than one
    /// connection).
    pub fn names_of(&self, pid: u32) -> Vec<String> {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.bus))
            .args(["list", "--no-legend", "--unique"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut cols = l.split_whitespace();
                let name = cols.next()?;
                (cols.next()? == pid.to_string()).then(|| name.to_string())
            })
            .collect()
    }

    /// The object path of the indicator's menu (`…/Menu`), once exported.
    pub fn menu_path(&self, name: &str) -> Option<String> {
        let out = Command::new("busctl")
            .arg(format!("--address={}", self.bus))
            .args(["--timeout=2", "tree", "--list", name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .find(|p| p.ends_with("/Menu"))
            .map(str::to_string)
    }
}

/// One dbusmenu item: its id, label, enabled state, and children.
#[derive(Debug)]
pub struct MenuItem {
    pub id: i64,
    pub label: String,
    pub enabled: bool,
    pub visible: bool,
    pub children: Vec<MenuItem>,
}

/// Read `(ia{sv}av)` as busctl's JSON gives it.
pub fn parse_item(v: &Value) -> MenuItem {
    let id = v[0].as_i64().unwrap();
    let props = &v[1];
    let label = props["label"]["data"]
        .as_str()
        .unwrap_or("")
        .replace('_', "");
    let enabled = props["enabled"]["data"].as_bool().unwrap_or(true);
    let visible = props["visible"]["data"].as_bool().unwrap_or(true);
    let children = v[2]
        .as_array()
        .map(|c| c.iter().map(|c| parse_item(&c["data"])).collect())
        .unwrap_or_default();
    MenuItem {
        id,
        label,
        enabled,
        visible,
        children,
    }
}

/// The menu as lines, like the unit tests' (`[label]` when disabled,
/// separators `---`, submenu entries indented).
pub fn lines(items: &[MenuItem], indent: &str, out: &mut Vec<String>) {
    for i in items.iter().filter(|i| i.visible) {
        let label = if i.label.is_empty() { "---" } else { &i.label };
        if i.enabled || label == "---" {
            out.push(format!("{indent}{label}"));
        } else {
            out.push(format!("{indent}[{label}]"));
        }
        lines(&i.children, &format!("{indent}  "), out);
    }
}

pub fn find<'a>(items: &'a [MenuItem], label: &str) -> Option<&'a MenuItem> {
    items.iter().find_map(|i| {
        if i.label == label {
            Some(i)
        } else {
            find(&i.children, label)
        }
    })
}

pub struct Tray<'a> {
    pub desktop: &'a Desktop,
    /// The tray's unique name on the bus.
    pub name: String,
    /// The object path of its menu (`…/Menu`).
    pub menu: String,
    /// From `ferry` started to its menu on the bus.
    pub started: Duration,
    pub proc: Proc,
}

impl Tray<'_> {
    pub fn layout(&self) -> Vec<MenuItem> {
        let v = self
            .desktop
            .busctl(&[
                "call",
                &self.name,
                &self.menu,
                "com.canonical.dbusmenu",
                "GetLayout",
                "iias",
                "--",
                "0",
                "-1",
                "0",
            ])
            .unwrap();
        parse_item(&v["data"][1]).children
    }

    /// The pixels of the icon the indicator shows now (its `IconName` is
    /// the PNG file tray-icon wrote, or a name in `IconThemePath`).
    pub fn icon_pixels(&self) -> Vec<u8> {
        let item = self.menu.trim_end_matches("/Menu");
        let prop = |name: &str| {
            let v = self
                .desktop
                .busctl(&[
                    "get-property",
                    &self.name,
                    item,
                    "org.kde.StatusNotifierItem",
                    name,
                ])
                .unwrap();
            v["data"].as_str().unwrap_or_default().to_string()
        };
        let name = prop("IconName");
        let path = if name.starts_with('/') {
            std::path::PathBuf::from(name)
        } else {
            Path::new(&prop("IconThemePath")).join(format!("{name}.png"))
        };
        let bytes = std::fs::read(&path).unwrap();
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        buf
    }

    /// Wait until the icon shows `state`.
    pub fn wait_icon(&self, state: IconState) {
        let want = icons::rgba(state).unwrap().rgba;
        let deadline = Instant::now() + PATIENCE;
        while self.icon_pixels() != want {
            assert!(Instant::now() < deadline, "the icon never showed {state:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        lines(&self.layout(), "", &mut out);
        out
    }

    /// Wait until the menu's lines satisfy `cond`; they, or a panic saying
    /// what was seen.
    pub fn wait_menu(&self, what: &str, cond: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let l = self.lines();
            if cond(&l) {
                return l;
            }
            assert!(Instant::now() < deadline, "{what}: the menu stayed {l:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn click(&self, label: &str) {
        self.try_click(label).unwrap();
    }

    /// Choose the item; the bus's answer (the tray may quit before it
    /// replies).
    pub fn try_click(&self, label: &str) -> Result<Value, String> {
        let layout = self.layout();
        let item = find(&layout, label).unwrap_or_else(|| panic!("no {label:?} in the menu"));
        self.desktop.busctl(&[
            "call",
            &self.name,
            &self.menu,
            "com.canonical.dbusmenu",
            "Event",
            "isvu",
            "--",
            &item.id.to_string(),
            "clicked",
            "i",
            "0",
            "0",
        ])
    }
}

/// Start `ferry tray` for this daemon on this desktop; wait until its menu
/// is on the bus.
pub fn start_tray<'a>(d: &TestDaemon, desktop: &'a Desktop) -> Tray<'a> {
    start_on_desktop(d, desktop, &["tray"])
}

/// Start `ferry ARGS` on this desktop (with this daemon's folders); wait
/// until its tray menu is on the bus.
pub fn start_on_desktop<'a>(d: &TestDaemon, desktop: &'a Desktop, args: &[&str]) -> Tray<'a> {
    let run = d.path("run");
    std::fs::create_dir_all(&run).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let started = Instant::now();
    let child = d
        .cli(args)
        .env("DISPLAY", &desktop.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus)
        .env("XDG_RUNTIME_DIR", &run)
        // No accessibility bus connection: one bus name to look at.
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.path("tray.stderr")).unwrap())
        .spawn()
        .unwrap();
    let mut proc = Proc(child);
    let pid = proc.0.id();
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = proc.0.try_wait().unwrap() {
            panic!(
                "ferry {args:?} exited ({status}): {}",
                std::fs::read_to_string(d.path("tray.stderr")).unwrap_or_default()
            );
        }
        let found = desktop
            .names_of(pid)
            .into_iter()
            .find_map(|name| Some((desktop.menu_path(&name)?, name)));
        if let Some((menu, name)) = found {
            eprintln!(
                "tray start to menu on the bus: {} ms",
                started.elapsed().as_millis()
            );
            return Tray {
                desktop,
                name,
                menu,
                started: started.elapsed(),
                proc,
            };
        }
        assert!(
            Instant::now() < deadline,
            "the tray's menu never appeared on the bus"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until the process ends; its exit status.
pub fn wait_exit(proc: &mut Proc, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = proc.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
