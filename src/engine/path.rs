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

/// The longest name (in bytes of UTF-8) most file systems and servers
/// accept for one path segment: every name Ferry makes fits in it.
pub const MAX_NAME_BYTES: usize = 255;

/// An extension longer than this is not kept whole when a name must be
/// shortened (it is more likely part of the name than a file type).
const MAX_KEPT_EXT_BYTES: usize = 32;

/// `s` cut to at most `max` bytes, on a character boundary.
pub fn cut_to_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `stem` + `marker` + `ext`, with the stem cut (on a character boundary)
/// so that the whole fits in [`MAX_NAME_BYTES`]. The marker is always kept
/// whole; so is the extension unless it is too long to be one.
pub fn fit_name(stem: &str, marker: &str, ext: &str) -> String {
    let (stem, ext) = if ext.len() > MAX_KEPT_EXT_BYTES
        && stem.len() + marker.len() + ext.len() > MAX_NAME_BYTES
    {
        // Not a file type: cut the name as a whole.
        (format!("{stem}{ext}"), "")
    } else {
        (stem.to_string(), ext)
    };
    let room = MAX_NAME_BYTES.saturating_sub(marker.len() + ext.len());
    format!("{}{marker}{ext}", cut_to_bytes(&stem, room))
}

/// The name of the copy that keeps the losing side of a conflict:
/// `dir/name (conflicted copy 2026-11-22 101500).ext`. `stamp` is the local
/// time, formatted by the caller (the planner gets time as a parameter).
/// A number is added when that name is taken. A name that would be longer
/// than [`MAX_NAME_BYTES`] has its stem shortened (the marker and the
/// extension stay), so the copy can be made on every file system.
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
        let candidate = join(dir, &fit_name(stem, &suffix, ext));
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
    fn a_conflicted_copy_of_a_240_byte_name_fits_in_255_bytes() {
        let stamp = conflict_stamp(jiff::civil::date(2026, 11, 22).at(10, 15, 0, 0));
        // 236 bytes of stem, with two-byte characters so the cut must
        // respect character boundaries.
        let stem = format!("x{}", "é".repeat(117) + "a");
        let name = format!("{stem}.txt");
        assert_eq!(name.len(), 240);
        let copy = conflict_copy_name(&format!("dir/{name}"), &stamp, |_| false);
        let copy_name = copy.strip_prefix("dir/").unwrap();
        assert!(copy_name.len() <= MAX_NAME_BYTES, "{}", copy_name.len());
        assert!(copy_name.ends_with(" (conflicted copy 2026-11-22 101500).txt"));
        assert!(stem.starts_with(copy_name.split(" (conflicted").next().unwrap()));
        // The numbered variant fits too, and differs.
        let second = conflict_copy_name(&format!("dir/{name}"), &stamp, |p| p == copy);
        assert!(second.len() - 4 <= MAX_NAME_BYTES);
        assert!(second.ends_with(" 2).txt") && second != copy);
        // An "extension" that is really most of the name is cut as a name.
        let long_ext = format!("a.{}", "b".repeat(250));
        let c = conflict_copy_name(&long_ext, &stamp, |_| false);
        assert!(c.len() <= MAX_NAME_BYTES && c.ends_with("101500)"), "{c}");
    }

    #[test]
    fn nfc_normalises_decomposed_names() {
        let nfd = "e\u{301}t\u{e9}";
        assert_eq!(nfc(nfd), "\u{e9}t\u{e9}");
    }
}
