//! Auto-start at login: turn it on or off and read the real state.
//!
//! On Linux (and the other XDG desktops) Ferry owns one file,
//! `$XDG_CONFIG_HOME/autostart/ferry.desktop` (`~/.config/…` when the
//! variable is unset), written and read here: its `Exec` is quoted as the
//! Desktop Entry specification says (a path with spaces survives), and a file
//! a desktop's startup settings turned off (`Hidden=true`,
//! `X-GNOME-Autostart-enabled=false`) reads as off; turning it on rewrites it
//! enabled. On macOS (a LaunchAgent) and Windows (the `Run` key) the
//! `auto-launch` crate does the work. Nothing here installs a system-wide
//! entry: the user could not turn that off.
//!
//! After the first setup (the first synchronization added) Ferry turns
//! auto-start on, once ([`on_first_setup`], called by the app's hook): not
//! when the user chose already, which [`mark_chosen`] records next to the
//! configuration (`ferry autostart on|off` and the preferences write it,
//! through [`choose`]).
//!
//! A top-level module (platform integration, like [`crate::secrets`]): the
//! composition root (`app`, the first-setup hook), the CLI (`ferry
//! autostart`) and the API (`/api/settings`) use it; the daemon does not
//! (the desktop is not its business).

use std::path::{Path, PathBuf};

/// Whether Ferry starts at login, as the system will see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Ferry starts at login, running `program`.
    On { program: PathBuf },
    /// Ferry does not start at login.
    Off,
    /// Ferry's entry exists but the desktop's startup settings turned it off
    /// (`Hidden=true` or `X-GNOME-Autostart-enabled=false`): it does not
    /// start. `ferry autostart on` turns it back on.
    OffInDesktopSettings { file: PathBuf },
}

impl Status {
    /// Whether Ferry will start at login.
    pub fn is_on(&self) -> bool {
        matches!(self, Status::On { .. })
    }
}

/// Start `program` (the `ferry` binary, run with no arguments) at login.
pub fn enable(program: &Path) -> anyhow::Result<()> {
    platform::enable(program)
}

/// Do not start Ferry at login (nothing to do when it is already off).
pub fn disable() -> anyhow::Result<()> {
    platform::disable()
}

/// Whether Ferry starts at login.
pub fn status() -> anyhow::Result<Status> {
    platform::status()
}

/// Where the entry lives, for messages: the `.desktop` file on Linux.
pub fn location() -> Option<PathBuf> {
    platform::location()
}

/// The file, in the config folder, that says auto-start was chosen: by the
/// user (`ferry autostart on|off`) or by Ferry after the first setup. With
/// it, Ferry never changes auto-start by itself again.
pub const CHOSEN_MARKER: &str = "autostart-chosen";

/// Record that auto-start was chosen (nothing to do when it was already).
pub fn mark_chosen(config_dir: &Path) -> anyhow::Result<()> {
    let marker = config_dir.join(CHOSEN_MARKER);
    if marker.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(config_dir)
        .and_then(|()| {
            std::fs::write(
                &marker,
                "Auto-start at login was chosen; Ferry leaves it as it is.\n",
            )
        })
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot record the auto-start choice in {}: {e} (check that the folder is writable)",
                marker.display()
            )
        })
}

/// Whether auto-start was chosen already ([`mark_chosen`]).
pub fn was_chosen(config_dir: &Path) -> bool {
    config_dir.join(CHOSEN_MARKER).exists()
}

/// The user's choice (`ferry autostart on|off`, the preferences' switch):
/// turn auto-start on (running `program`) or off, and record that it was
/// chosen, so Ferry never changes it by itself again. The state after it.
pub fn choose(on: bool, program: &Path, config_dir: &Path) -> anyhow::Result<Status> {
    if on {
        enable(program)?;
    } else {
        disable()?;
    }
    mark_chosen(config_dir)?;
    status()
}

/// After the first synchronization was set up: start `program` at login,
/// once, unless auto-start was chosen already. Whether it turned it on.
pub fn on_first_setup(config_dir: &Path, program: &Path) -> anyhow::Result<bool> {
    if was_chosen(config_dir) {
        return Ok(false);
    }
    enable(program)?;
    mark_chosen(config_dir)?;
    Ok(true)
}

#[cfg(not(any(target_os = "macos", target_os = "windows")))]
mod platform {
    use super::{Status, xdg};
    use anyhow::Context as _;
    use std::path::{Path, PathBuf};

    pub fn location() -> Option<PathBuf> {
        xdg::autostart_file()
    }

    fn file() -> anyhow::Result<PathBuf> {
        xdg::autostart_file().context(
            "cannot find the autostart folder: neither XDG_CONFIG_HOME nor HOME is set \
             (set one of them, e.g. HOME)",
        )
    }

    pub fn enable(program: &Path) -> anyhow::Result<()> {
        let file = file()?;
        xdg::write_atomically(&file, &xdg::desktop_entry(program))
            .with_context(|| format!("cannot write the autostart entry {}", file.display()))
    }

    pub fn disable() -> anyhow::Result<()> {
        let file = file()?;
        match std::fs::remove_file(&file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!(
                "cannot remove the autostart entry {}",
                file.display()
            ))),
        }
    }

    pub fn status() -> anyhow::Result<Status> {
        let file = file()?;
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Status::Off),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot read the autostart entry {}",
                    file.display()
                )));
            }
        };
        Ok(xdg::status_of(&text, &file))
    }
}

#[cfg(any(target_os = "macos", target_os = "windows"))]
mod platform {
    use super::Status;
    use anyhow::Context as _;
    use std::path::{Path, PathBuf};

    const NAME: &str = "Ferry";

    fn launcher(program: &Path) -> anyhow::Result<auto_launch::AutoLaunch> {
        let program = program
            .to_str()
            .context("the path of the ferry program is not valid Unicode")?;
        auto_launch::AutoLaunchBuilder::new()
            .set_app_name(NAME)
            .set_app_path(program)
            .build()
            .context("cannot set up auto-start")
    }

    pub fn location() -> Option<PathBuf> {
        None
    }

    pub fn enable(program: &Path) -> anyhow::Result<()> {
        launcher(program)?
            .enable()
            .context("cannot turn auto-start on")
    }

    pub fn disable() -> anyhow::Result<()> {
        let program = std::env::current_exe().context("cannot find the ferry program")?;
        let launcher = launcher(&program)?;
        if launcher.is_enabled().unwrap_or(false) {
            launcher.disable().context("cannot turn auto-start off")?;
        }
        Ok(())
    }

    pub fn status() -> anyhow::Result<Status> {
        let program = std::env::current_exe().context("cannot find the ferry program")?;
        let on = launcher(&program)?
            .is_enabled()
            .context("cannot read whether auto-start is on")?;
        Ok(if on {
            Status::On { program }
        } else {
            Status::Off
        })
    }
}

/// The XDG autostart `.desktop` file: writing, reading, `Exec` quoting.
/// Pure text functions plus the file's place, so every platform's tests run
/// them.
pub mod xdg {
    use super::Status;
    use std::path::{Path, PathBuf};

    /// `$XDG_CONFIG_HOME/autostart/ferry.desktop`, else
    /// `$HOME/.config/autostart/ferry.desktop`.
    pub fn autostart_file() -> Option<PathBuf> {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())
                    .map(|h| h.join(".config"))
            })?;
        Some(config.join("autostart").join("ferry.desktop"))
    }

    /// The entry that starts `program` with no arguments (the daemon and the
    /// tray) at login.
    pub fn desktop_entry(program: &Path) -> String {
        format!(
            "[Desktop Entry]\n\
             Type=Application\n\
             Name=Ferry\n\
             Comment=Keep your folders in sync\n\
             Exec={}\n\
             Icon=ferry\n\
             Terminal=false\n\
             X-GNOME-Autostart-enabled=true\n",
            quote_exec_arg(&program.to_string_lossy())
        )
    }

    /// Characters that make an `Exec` argument need quotes (Desktop Entry
    /// specification, "The Exec key").
    const RESERVED: &[char] = &[
        ' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(',
        ')', '`',
    ];

    /// One `Exec` argument as it is written in the file: quoted when it holds
    /// a reserved character (inside the quotes `"`, `` ` ``, `$` and `\` are
    /// backslash-escaped), `%` doubled (a field code otherwise), and then the
    /// string-value escaping of the file format (`\` written `\\`).
    pub fn quote_exec_arg(arg: &str) -> String {
        let arg = arg.replace('%', "%%");
        let quoted = if arg.contains(RESERVED) || arg.is_empty() {
            let mut q = String::from("\"");
            for c in arg.chars() {
                if matches!(c, '"' | '`' | '$' | '\\') {
                    q.push('\\');
                }
                q.push(c);
            }
            q.push('"');
            q
        } else {
            arg
        };
        escape_value(&quoted)
    }

    /// The string-value escaping of the Desktop Entry format.
    fn escape_value(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
        out
    }

    /// The string-value unescaping of the Desktop Entry format.
    fn unescape_value(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('s') => out.push(' '),
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('\\') => out.push('\\'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        }
        out
    }

    /// An `Exec` value (as written in the file) split into its arguments,
    /// the way a desktop does it: `None` when the quoting is broken. Field
    /// codes other than `%%` are kept as they are.
    pub fn parse_exec(value: &str) -> Option<Vec<String>> {
        let value = unescape_value(value);
        let mut args = Vec::new();
        let mut chars = value.chars().peekable();
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            let Some(&first) = chars.peek() else { break };
            let mut arg = String::new();
            if first == '"' {
                chars.next();
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => arg.push(chars.next()?),
                        c => arg.push(c),
                    }
                }
                if chars.peek().is_some_and(|c| *c != ' ') {
                    return None;
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ' ' {
                        break;
                    }
                    arg.push(c);
                    chars.next();
                }
            }
            args.push(arg.replace("%%", "%"));
        }
        Some(args)
    }

    /// The keys of the `[Desktop Entry]` group (the last value of a key
    /// wins; comments and other groups are skipped).
    fn entry_keys(text: &str) -> Vec<(String, String)> {
        let mut in_entry = false;
        let mut keys = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if line.starts_with('[') {
                in_entry = line == "[Desktop Entry]";
                continue;
            }
            if !in_entry {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                keys.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        keys
    }

    /// What an autostart file at `file` holding `text` means: off when a
    /// desktop hid it or turned it off, or when it has no usable `Exec`.
    pub fn status_of(text: &str, file: &Path) -> Status {
        let keys = entry_keys(text);
        let get = |key: &str| {
            keys.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let is_true = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let is_false = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("false"));
        if is_true(get("Hidden")) || is_false(get("X-GNOME-Autostart-enabled")) {
            return Status::OffInDesktopSettings {
                file: file.to_path_buf(),
            };
        }
        match get("Exec")
            .and_then(parse_exec)
            .and_then(|a| a.into_iter().next())
        {
            Some(program) if !program.is_empty() => Status::On {
                program: PathBuf::from(program),
            },
            _ => Status::Off,
        }
    }

    /// Write `text` to `path` without writing in place: a temp file next to
    /// it, synced, then renamed over it (its folder is created if missing).
    pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
        use std::io::Write as _;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::Status;
    use super::xdg::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn a_plain_path_is_written_without_quotes() {
        assert_eq!(quote_exec_arg("/usr/bin/ferry"), "/usr/bin/ferry");
    }

    #[test]
    fn a_path_with_spaces_and_reserved_characters_survives_the_exec_line() {
        for path in [
            "/home/ann/My Apps/ferry",
            "/opt/a \"b\" $c `d` \\e/ferry",
            "/tmp/100% sure/ferry",
            "/tmp/tab\there/ferry",
        ] {
            let line = quote_exec_arg(path);
            assert_eq!(parse_exec(&line), Some(vec![path.to_string()]), "{line}");
        }
        assert_eq!(
            quote_exec_arg("/home/ann/My Apps/ferry"),
            "\"/home/ann/My Apps/ferry\""
        );
    }

    #[test]
    fn exec_lines_written_by_others_are_split_like_a_desktop_does() {
        assert_eq!(
            parse_exec(r#""/a b/ferry" --flag  x"#),
            Some(vec!["/a b/ferry".into(), "--flag".into(), "x".into()])
        );
        assert_eq!(parse_exec(r#""/a b/ferry"#), None);
    }

    #[test]
    fn the_written_entry_reads_as_on_with_its_program() {
        let p = Path::new("/home/ann/My Apps/ferry");
        assert_eq!(
            status_of(&desktop_entry(p), Path::new("/x")),
            Status::On {
                program: p.to_path_buf()
            }
        );
    }

    #[test]
    fn an_entry_a_desktop_hid_or_disabled_reads_as_off() {
        let file = PathBuf::from("/c/autostart/ferry.desktop");
        let entry = desktop_entry(Path::new("/usr/bin/ferry"));
        for extra in ["Hidden=true\n", "X-GNOME-Autostart-enabled=false\n"] {
            let text = format!("{entry}{extra}");
            assert_eq!(
                status_of(&text, &file),
                Status::OffInDesktopSettings { file: file.clone() },
                "{extra}"
            );
        }
        // The same keys in another group do not count.
        let other = format!("{entry}[Desktop Action x]\nHidden=true\n");
        assert!(status_of(&other, &file).is_on());
    }
}
