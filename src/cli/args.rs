//! The arguments several commands share: the settings of a
//! synchronization (one struct, flattened into `ferry sync` and `ferry
//! add`) and their value enums, each value with its help text.

use clap::ValueEnum;

use crate::engine::{CompareMode, ConflictPolicy, Direction, UserFilter};

/// The settings of a synchronization, as `ferry sync` and `ferry add`
/// take them.
#[derive(clap::Args, Debug)]
pub struct SettingsArgs {
    /// Which way changes flow: both ways, or a one-way mirror.
    #[arg(long, value_enum, default_value = "both")]
    pub direction: DirectionArg,
    /// When both sides changed a file: keep both (the local one becomes a
    /// conflicted copy), or let one side win (the loser goes to a trash).
    #[arg(long, value_enum, default_value = "keep-both")]
    pub conflict: ConflictArg,
    /// How changes are detected: size and time (fast) or content hashes (secure).
    #[arg(long, value_enum, default_value = "fast")]
    pub compare: CompareArg,
    /// Do not synchronize what matches (repeatable): a glob on the path
    /// ('*.log', 'build/**'), or 'starts:TEXT', 'contains:TEXT', 'ends:TEXT'
    /// on the name, or 'regex:EXPR' on the path.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Selective sync: leave this remote folder out (repeatable). Its local
    /// copy goes to the trash; the remote keeps it.
    #[arg(long, value_name = "FOLDER")]
    pub deselect: Vec<String>,
}

impl SettingsArgs {
    pub fn direction(&self) -> Direction {
        direction_of(self.direction)
    }

    pub fn conflict(&self) -> ConflictPolicy {
        conflict_of(self.conflict)
    }

    pub fn compare(&self) -> CompareMode {
        compare_of(self.compare)
    }

    /// The `--exclude` patterns as filters.
    pub fn filters(&self) -> Vec<UserFilter> {
        self.exclude.iter().map(|p| parse_filter(p)).collect()
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DirectionArg {
    /// Two-way: changes on either side reach the other.
    Both,
    /// Mirror local → remote: the remote ends equal to the local folder.
    Send,
    /// Mirror remote → local: the local folder ends equal to the remote.
    Receive,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConflictArg {
    /// Keep both versions: the local one becomes a conflicted copy.
    KeepBoth,
    /// The local version wins; the remote one goes to a trash.
    Local,
    /// The remote version wins; the local one goes to the trash.
    Remote,
    /// The version changed last wins (both are kept when a date is unknown).
    Newest,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompareArg {
    /// Size and modification time.
    Fast,
    /// The content hash of every file (slower, exact).
    Secure,
}

/// Which version `ferry resolve` keeps.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KeepArg {
    /// Your version (the conflicted copy) replaces the file; the other goes
    /// to the trash.
    Local,
    /// The other version stays; your conflicted copy goes to the trash.
    Remote,
    /// Keep both files as they are.
    Both,
}

pub(super) fn direction_of(d: DirectionArg) -> Direction {
    match d {
        DirectionArg::Both => Direction::Both,
        DirectionArg::Send => Direction::Send,
        DirectionArg::Receive => Direction::Receive,
    }
}

pub(super) fn conflict_of(c: ConflictArg) -> ConflictPolicy {
    match c {
        ConflictArg::KeepBoth => ConflictPolicy::KeepBoth,
        ConflictArg::Local => ConflictPolicy::Local,
        ConflictArg::Remote => ConflictPolicy::Remote,
        ConflictArg::Newest => ConflictPolicy::Newest,
    }
}

pub(super) fn compare_of(c: CompareArg) -> CompareMode {
    match c {
        CompareArg::Fast => CompareMode::Fast,
        CompareArg::Secure => CompareMode::Secure,
    }
}

/// A setting as the command line spells it (the name of its value).
pub fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Both => "both",
        Direction::Send => "send",
        Direction::Receive => "receive",
    }
}

/// A setting as the command line spells it (the name of its value).
pub fn conflict_name(c: ConflictPolicy) -> &'static str {
    match c {
        ConflictPolicy::KeepBoth => "keep-both",
        ConflictPolicy::Local => "local",
        ConflictPolicy::Remote => "remote",
        ConflictPolicy::Newest => "newest",
    }
}

/// A setting as the command line spells it (the name of its value).
pub fn compare_name(c: CompareMode) -> &'static str {
    match c {
        CompareMode::Fast => "fast",
        CompareMode::Secure => "secure",
    }
}

/// `--exclude` syntax: `starts:`, `contains:`, `ends:`, `regex:` or a glob.
pub fn parse_filter(spec: &str) -> UserFilter {
    use crate::engine::filter::FilterKind;
    let (kind, pattern) = match spec.split_once(':') {
        Some(("starts", p)) => (FilterKind::StartsWith, p),
        Some(("contains", p)) => (FilterKind::Contains, p),
        Some(("ends", p)) => (FilterKind::EndsWith, p),
        Some(("regex", p)) => (FilterKind::Regex, p),
        _ => (FilterKind::Glob, spec),
    };
    UserFilter {
        kind,
        pattern: pattern.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names printed by `ferry list` are the values `--direction` etc.
    /// take (and the configuration's).
    #[test]
    fn setting_names_are_the_values_the_options_take() {
        for d in DirectionArg::value_variants() {
            let name = d.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(direction_name(direction_of(*d))));
        }
        for c in ConflictArg::value_variants() {
            let name = c.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(conflict_name(conflict_of(*c))));
        }
        for c in CompareArg::value_variants() {
            let name = c.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(compare_name(compare_of(*c))));
        }
    }
}
