//! `ferry autostart on|off|status` through the real binary, in a temp HOME
//! and XDG_CONFIG_HOME: the XDG autostart file is written, read back and
//! removed; a file a desktop's startup settings turned off reads as off;
//! the program's path survives spaces.

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
    ferry::app::autostart::xdg::parse_exec(line).expect("well-quoted Exec")
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
