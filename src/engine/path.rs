//! Names and relative paths: validation of untrusted names, NFC
//! normalisation, and conflicted-copy names. Pure string work.

use unicode_normalization::{UnicodeNormalization, is_nfc};

use super::tree::{file_name, join, parent};

/// Why a name cannot be used as a path segment at all (as opposed to being
/// excluded by a rule: see [`super::filter`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    #[error("empty name")]
    Empty,
    #[error("'.' or '..' is not a name")]
    Dots,
    #[error("name contains a path separator")]
    Separator,
    #[error("name contains NUL or a control character")]
    Control,
}

/// Check that `name` is exactly one safe path segment. Every name that comes
/// from a server or a directory listing passes through here before it is
/// joined to a local path.
pub fn check_segment(name: &str) -> Result<(), BadName> {
    if name.is_empty() {
        return Err(BadName::Empty);
    }
    if name == "." || name == ".." {
        return Err(BadName::Dots);
    }
    if name.contains('/') || name.contains('\\') {
        return Err(BadName::Separator);
    }
    if name.chars().any(char::is_control) {
        return Err(BadName::Control);
    }
    Ok(())
}

/// Check a whole relative path, segment by segment.
pub fn check_relative(path: &str) -> Result<(), BadName> {
    if path.is_empty() {
        return Err(BadName::Empty);
    }
    path.split('/').try_for_each(check_segment)
}

/// The NFC form of `name`, borrowing when it already is NFC.
pub fn nfc(name: &str) -> std::borrow::Cow<'_, str> {
    if is_nfc(name) {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(name.nfc().collect())
    }
}

/// The name of the copy that keeps the losing side of a conflict:
/// `dir/name (conflicted copy 2026-11-22 101500).ext`. `stamp` is the local
/// time, formatted by the caller (the planner gets time as a parameter).
/// A number is added when that name is taken.
pub fn conflict_copy_name(path: &str, stamp: &str, taken: impl Fn(&str) -> bool) -> String {
    let name = file_name(path);
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let dir = parent(path);
    let mut n = 1;
    loop {
        let suffix = if n == 1 {
            format!(" (conflicted copy {stamp})")
        } else {
            format!(" (conflicted copy {stamp} {n})")
        };
        let candidate = join(dir, &format!("{stem}{suffix}{ext}"));
        if !taken(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// Format a civil date-time the way conflict copies name it.
pub fn conflict_stamp(now: jiff::civil::DateTime) -> String {
    now.strftime("%Y-%m-%d %H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_traversal_and_separators() {
        assert_eq!(check_segment(".."), Err(BadName::Dots));
        assert_eq!(check_segment("a/b"), Err(BadName::Separator));
        assert_eq!(check_segment("a\\b"), Err(BadName::Separator));
        assert_eq!(check_segment("a\0b"), Err(BadName::Control));
        assert_eq!(check_segment("a\nb"), Err(BadName::Control));
        assert!(check_segment("naïve résumé #1 + 50%.txt").is_ok());
        assert!(check_relative("a/../b").is_err());
        assert!(check_relative("a//b").is_err());
    }

    #[test]
    fn conflict_names_keep_extension_and_avoid_taken_names() {
        let stamp = conflict_stamp(jiff::civil::date(2026, 11, 22).at(10, 15, 0, 0));
        assert_eq!(
            conflict_copy_name("docs/report.txt", &stamp, |_| false),
            "docs/report (conflicted copy 2026-11-22 101500).txt"
        );
        assert_eq!(
            conflict_copy_name(".bashrc", &stamp, |_| false),
            ".bashrc (conflicted copy 2026-11-22 101500)"
        );
        let first = conflict_copy_name("a", &stamp, |_| false);
        assert_eq!(
            conflict_copy_name("a", &stamp, |p| p == first),
            "a (conflicted copy 2026-11-22 101500 2)"
        );
    }

    #[test]
    fn nfc_normalises_decomposed_names() {
        let nfd = "e\u{301}t\u{e9}";
        assert_eq!(nfc(nfd), "\u{e9}t\u{e9}");
    }
}
