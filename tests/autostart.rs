//! `ferry autostart on|off|status` through the real binary, in a temp HOME
//! and XDG_CONFIG_HOME: the XDG autostart file is written, read back and
//! removed; a file a desktop's startup settings turned off reads as off;
//! the program's path survives spaces. The first `ferry add` (to a real
//! `ferry daemon` in that home) turns auto-start on; after `ferry autostart
//! off` it stays off.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Home { dir }
    }

    fn entry(&self) -> PathBuf {
        self.dir.path().join("xdg config/autostart/ferry.desktop")
    }

    /// Run `program autostart ARGS` in this home; its stdout (it must succeed).
    fn run(&self, program: &Path, arg: &str) -> String {
        let out = Command::new(program)
            .args(["autostart", arg])
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg config"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ferry autostart {arg}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn ferry(&self, arg: &str) -> String {
        self.run(Path::new(env!("CARGO_BIN_EXE_ferry")), arg)
    }
}

/// The `Exec` line of a desktop file, split the way a desktop splits it.
fn exec_of(text: &str) -> Vec<String> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Exec="))
        .expect("an Exec line");
    ferry::autostart::xdg::parse_exec(line).expect("well-quoted Exec")
}

#[test]
fn autostart_turns_on_reads_back_and_turns_off_in_the_xdg_folder() {
    let home = Home::new();
    assert_eq!(home.ferry("status").trim(), "off");

    let on = home.ferry("on");
    assert!(on.starts_with("on: "), "{on}");
    let text = std::fs::read_to_string(home.entry()).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_ferry")).unwrap();
    assert_eq!(exec_of(&text), vec![exe.display().to_string()]);
    assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
    assert!(home.ferry("status").starts_with("on: "));
    // Nothing else is left in the folder (no temp file).
    let names: Vec<_> = std::fs::read_dir(home.entry().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["ferry.desktop"]);

    assert_eq!(home.ferry("off").trim(), "off");
    assert!(!home.entry().exists());
    assert_eq!(home.ferry("status").trim(), "off");
    // Off when already off is not an error.
    assert_eq!(home.ferry("off").trim(), "off");
}

#[test]
fn an_entry_turned_off_by_the_desktop_reads_as_off_and_on_turns_it_back_on() {
    for key in ["Hidden=true", "X-GNOME-Autostart-enabled=false"] {
        let home = Home::new();
        home.ferry("on");
        let text = std::fs::read_to_string(home.entry()).unwrap();
        // What GNOME's startup settings do: the same file, one key changed.
        let edited = text.replace("X-GNOME-Autostart-enabled=true\n", "") + key + "\n";
        std::fs::write(home.entry(), edited).unwrap();

        let status = home.ferry("status");
        assert!(
            status.starts_with("off: turned off in the desktop's startup settings"),
            "{key}: {status}"
        );
        assert!(home.ferry("on").starts_with("on: "), "{key}");
        let text = std::fs::read_to_string(home.entry()).unwrap();
        assert!(!text.contains(key), "{key}: {text}");
        assert!(home.ferry("status").starts_with("on: "), "{key}");
    }
}

#[test]
fn a_program_path_with_spaces_survives_the_exec_line() {
    let home = Home::new();
    let dir = home.dir.path().join("My Apps (test) $HOME");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("ferry");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_ferry"), &program).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_ferry"), &program).unwrap();
    }
    let on = home.run(&program, "on");
    assert_eq!(
        on,
        format!(
            "on: {} starts at login ({})\n",
            program.display(),
            home.entry().display()
        )
    );
    let text = std::fs::read_to_string(home.entry()).unwrap();
    assert_eq!(exec_of(&text), vec![program.display().to_string()]);
    assert!(text.contains("Exec=\"/"), "quoted: {text}");
    // And the status read by another copy of ferry names the same program.
    assert!(
        home.ferry("status")
            .starts_with(&format!("on: {} ", program.display()))
    );
}

// ------------------------------------------------ on after first setup --

/// `ferry daemon --headless` in a [`Home`], killed when dropped.
struct RunningDaemon(std::process::Child);

impl Drop for RunningDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Home {
    /// `ferry ARGS` in this home: configuration and data in its XDG folders.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
        c.args(args)
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg config"))
            .env("XDG_DATA_HOME", self.dir.path().join("xdg data"))
            .env_remove("FERRY_CONFIG_DIR")
            .env_remove("FERRY_DATA_DIR")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("FERRY_KEYRING", "keyutils")
            .stdin(std::process::Stdio::null());
        c
    }

    /// Run `ferry ARGS` here; its stdout (it must succeed).
    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "ferry {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Start the daemon here; return once it answers.
    fn start_daemon(&self) -> RunningDaemon {
        let child = self
            .command(&["daemon", "--headless"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("daemon.stderr")).unwrap())
            .spawn()
            .unwrap();
        let daemon = RunningDaemon(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !self.command(&["status"]).output().unwrap().status.success() {
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon did not start: {}",
                std::fs::read_to_string(self.dir.path().join("daemon.stderr")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        daemon
    }

    /// `ferry add NAME` with two new folders.
    fn add_sync(&self, name: &str) {
        let local = self.dir.path().join(format!("{name}-local"));
        let remote = self.dir.path().join(format!("{name}-remote"));
        std::fs::create_dir_all(&local).unwrap();
        std::fs::create_dir_all(&remote).unwrap();
        self.ok(&[
            "add",
            name,
            &local.display().to_string(),
            &remote.display().to_string(),
        ]);
    }
}

#[test]
fn the_first_synchronization_turns_autostart_on_and_autostart_off_sticks_after() {
    let home = Home::new();
    let _daemon = home.start_daemon();
    assert_eq!(home.ferry("status").trim(), "off");

    home.add_sync("Docs");
    let on = home.ferry("status");
    assert!(on.starts_with("on: "), "{on}");
    let text = std::fs::read_to_string(home.entry()).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_ferry")).unwrap();
    assert_eq!(exec_of(&text), vec![exe.display().to_string()]);

    // The user turns it off: adding another synchronization leaves it off,
    // and so does setting up again from nothing.
    assert_eq!(home.ferry("off").trim(), "off");
    home.add_sync("Photos");
    assert_eq!(home.ferry("status").trim(), "off");
    home.ok(&["remove", "Docs"]);
    home.ok(&["remove", "Photos"]);
    home.add_sync("Music");
    assert_eq!(home.ferry("status").trim(), "off");
    assert!(!home.entry().exists());
}

#[test]
fn autostart_turned_off_before_the_first_setup_stays_off() {
    let home = Home::new();
    assert_eq!(home.ferry("off").trim(), "off");
    let _daemon = home.start_daemon();
    home.add_sync("Docs");
    assert_eq!(home.ferry("status").trim(), "off");
    assert!(!home.entry().exists());
}
