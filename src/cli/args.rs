//! The arguments several commands share: the settings of a
//! synchronization (`ferry sync`, `ferry add`) and their value enums.

use clap::ValueEnum;

use crate::engine::{CompareMode, ConflictPolicy, Direction, UserFilter};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DirectionArg {
    Both,
    Send,
    Receive,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ConflictArg {
    KeepBoth,
    Local,
    Remote,
    Newest,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CompareArg {
    Fast,
    Secure,
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

/// The three settings as the configuration spells them (JSON).
pub fn settings_json(
    d: DirectionArg,
    c: ConflictArg,
    m: CompareArg,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut map = serde_json::Map::new();
    map.insert("direction".into(), serde_json::to_value(direction_of(d))?);
    map.insert("conflict".into(), serde_json::to_value(conflict_of(c))?);
    map.insert("compare".into(), serde_json::to_value(compare_of(m))?);
    Ok(map)
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
