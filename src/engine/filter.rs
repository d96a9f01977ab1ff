//! What is not synchronized, and why: the built-in exclusion rules (those
//! of the WorkDocs sync client), the user's filters (glob, starts with,
//! contains, ends with, regular expression) and selective sync.
//!
//! Architecture Invariant: an excluded item is invisible to the planner on
//! both sides — it is never uploaded, downloaded or deleted because of the
//! other side (a folder that holds one is kept: see `plan::Excluded`; only
//! the system's clutter, [`disposable`], goes with its folder). Pure: no
//! I/O.

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::tree::{Kind, file_name, is_within};

/// Files larger than this are never synchronized (5 TB).
pub const MAX_FILE_SIZE: u64 = 5_000_000_000_000;
/// Names longer than this many characters are never synchronized.
pub const MAX_NAME_CHARS: usize = 255;

/// The built-in rules, as they are told to people (the preferences list
/// them read-only; [`builtin_rule`] answers with the one that applies).
pub mod rules {
    pub const OWN_NAME: &str = "Ferry's own name (.ferry-…)";
    pub const DOT: &str = "name starts with '.'";
    pub const TILDE: &str = "name starts or ends with '~'";
    pub const TMP: &str = "name ends with '.tmp'";
    pub const RESERVED: &str =
        "reserved name (Microsoft User Data, Outlook Files, Thumbs.db, Thumbnails, thumbnails)";
    pub const CHARS: &str = "name contains one of * / \\ : < > ? | \" or U+202E";
    pub const TRAILING: &str = "name ends with a space or '.'";
    pub const LONG: &str = "name longer than 255 characters";
    pub const HUGE: &str = "file larger than 5 TB";
}

/// Every built-in exclusion rule, in the order they are checked.
pub const BUILTIN_RULES: &[&str] = &[
    rules::OWN_NAME,
    rules::DOT,
    rules::TILDE,
    rules::TMP,
    rules::RESERVED,
    rules::CHARS,
    rules::TRAILING,
    rules::LONG,
    rules::HUGE,
];

/// The built-in rule that excludes `name`, if one does.
pub fn builtin_rule(name: &str) -> Option<&'static str> {
    if super::reserved::is_reserved(name) {
        return Some(rules::OWN_NAME);
    }
    if name.starts_with('.') {
        return Some(rules::DOT);
    }
    if name.starts_with('~') || name.ends_with('~') {
        return Some(rules::TILDE);
    }
    if name.ends_with(".tmp") {
        return Some(rules::TMP);
    }
    if matches!(
        name,
        "Microsoft User Data" | "Outlook Files" | "Thumbs.db" | "Thumbnails" | "thumbnails"
    ) {
        return Some(rules::RESERVED);
    }
    if name.chars().any(|c| {
        matches!(
            c,
            '*' | '/' | '\\' | ':' | '<' | '>' | '?' | '|' | '"' | '\u{202E}'
        )
    }) {
        return Some(rules::CHARS);
    }
    if name.ends_with(' ') || name.ends_with('.') {
        return Some(rules::TRAILING);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(rules::LONG);
    }
    None
}

/// Whether an excluded item is clutter the system puts in folders by itself
/// (Finder's `.DS_Store`, Explorer's `Thumbs.db` and `desktop.ini`, KDE's
/// `.directory`): it goes to the trash with its folder. Every other excluded
/// item keeps its folder from being deleted because of the other side.
pub fn disposable(name: &str) -> bool {
    matches!(
        name,
        ".DS_Store" | "Thumbs.db" | "desktop.ini" | ".directory"
    )
}

/// How a user filter matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterKind {
    /// A glob on the relative path (`*.log`, `build/**`).
    Glob,
    /// The item's name starts with the text.
    StartsWith,
    /// The item's name contains the text.
    Contains,
    /// The item's name ends with the text.
    EndsWith,
    /// A regular expression searched in the relative path.
    Regex,
}

/// One user filter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFilter {
    pub kind: FilterKind,
    pub pattern: String,
}

impl UserFilter {
    pub fn glob(pattern: &str) -> Self {
        UserFilter {
            kind: FilterKind::Glob,
            pattern: pattern.to_string(),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            FilterKind::Glob => "glob",
            FilterKind::StartsWith => "starts with",
            FilterKind::Contains => "contains",
            FilterKind::EndsWith => "ends with",
            FilterKind::Regex => "regex",
        }
    }

    fn describe(&self) -> String {
        format!("filter {} '{}'", self.kind_name(), self.pattern)
    }

    /// Whether this one filter compiles, checked exactly as
    /// [`Filter::new`] checks it.
    pub fn check(&self) -> Result<(), FilterError> {
        Filter::new(std::slice::from_ref(self), &[]).map(|_| ())
    }
}

/// A filter that cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("invalid glob '{pattern}': {source}")]
    Glob {
        pattern: String,
        source: globset::Error,
    },
    #[error("invalid regular expression '{pattern}': {source}")]
    Regex {
        pattern: String,
        source: regex::Error,
    },
    /// An empty pattern: "contains ''" or the regex `` would leave out
    /// everything, which is never what was meant.
    #[error("a {kind} filter needs a text to match")]
    Empty { kind: &'static str },
}

/// What happens to a folder that appears at the top of the server folder
/// after the first pass (selective sync's "new server folders").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NewFolders {
    /// Synchronize it like the rest (the default).
    #[default]
    Sync,
    /// Leave it on the server only, until it is selected.
    Skip,
}

/// Why an item is not synchronized.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exclusion {
    pub path: String,
    pub rule: String,
}

/// The compiled exclusion rules of one synchronization.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    globs: GlobSet,
    glob_filters: Vec<UserFilter>,
    others: Vec<(UserFilter, Option<Regex>)>,
    /// Folders deselected by selective sync (relative paths).
    deselected: Vec<String>,
    new_folders: NewFolders,
}

impl Filter {
    pub fn new(filters: &[UserFilter], deselected: &[String]) -> Result<Filter, FilterError> {
        let mut builder = GlobSetBuilder::new();
        let mut glob_filters = Vec::new();
        let mut others = Vec::new();
        for f in filters {
            if f.pattern.is_empty() {
                return Err(FilterError::Empty {
                    kind: f.kind_name(),
                });
            }
            match f.kind {
                FilterKind::Glob => {
                    let glob = Glob::new(&f.pattern).map_err(|source| FilterError::Glob {
                        pattern: f.pattern.clone(),
                        source,
                    })?;
                    builder.add(glob);
                    glob_filters.push(f.clone());
                }
                FilterKind::Regex => {
                    let re = Regex::new(&f.pattern).map_err(|source| FilterError::Regex {
                        pattern: f.pattern.clone(),
                        source,
                    })?;
                    others.push((f.clone(), Some(re)));
                }
                _ => others.push((f.clone(), None)),
            }
        }
        let globs = builder.build().map_err(|source| FilterError::Glob {
            pattern: "(set)".into(),
            source,
        })?;
        let mut deselected: Vec<String> = deselected
            .iter()
            .map(|d| d.trim_matches('/').to_string())
            .filter(|d| !d.is_empty())
            .collect();
        deselected.sort();
        Ok(Filter {
            globs,
            glob_filters,
            others,
            deselected,
            new_folders: NewFolders::Sync,
        })
    }

    /// This filter, with what to do with new server folders.
    pub fn with_new_folders(mut self, new_folders: NewFolders) -> Filter {
        self.new_folders = new_folders;
        self
    }

    /// Whether folders new at the top of the server are left out.
    pub fn skips_new_folders(&self) -> bool {
        self.new_folders == NewFolders::Skip
    }

    /// The rule that excludes this item, checking only its own name (its
    /// ancestors were checked when the walk reached them).
    pub fn excluded(&self, path: &str, kind: Kind, size: u64) -> Option<String> {
        let name = file_name(path);
        if let Some(rule) = builtin_rule(name) {
            return Some(rule.to_string());
        }
        if kind == Kind::File && size > MAX_FILE_SIZE {
            return Some(rules::HUGE.to_string());
        }
        if let Some(i) = self.globs.matches(path).first() {
            return Some(self.glob_filters[*i].describe());
        }
        for (f, re) in &self.others {
            let hit = match f.kind {
                FilterKind::StartsWith => name.starts_with(&f.pattern),
                FilterKind::Contains => name.contains(&f.pattern),
                FilterKind::EndsWith => name.ends_with(&f.pattern),
                FilterKind::Regex => re.as_ref().is_some_and(|re| re.is_match(path)),
                FilterKind::Glob => false,
            };
            if hit {
                return Some(f.describe());
            }
        }
        None
    }

    /// Whether any segment of `path` is excluded (for paths that were not
    /// reached by a walk, such as base records).
    pub fn excluded_path(&self, path: &str, kind: Kind, size: u64) -> Option<String> {
        for (i, c) in path.char_indices() {
            if c == '/' {
                if let Some(rule) = self.excluded(&path[..i], Kind::Dir, 0) {
                    return Some(rule);
                }
            }
        }
        self.excluded(path, kind, size)
    }

    /// Whether `path` lies in a folder deselected by selective sync.
    pub fn deselected(&self, path: &str) -> bool {
        self.deselected.iter().any(|d| is_within(path, d))
    }

    pub fn deselected_folders(&self) -> &[String] {
        &self.deselected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ferrys_own_names_are_excluded_as_ferrys_own() {
        for name in [
            ".ferry-trash",
            ".ferry-12-3.part",
            ".ferry-probe-0123456789abcdef",
        ] {
            assert_eq!(builtin_rule(name), Some("Ferry's own name (.ferry-…)"));
        }
        assert_eq!(builtin_rule(".ferryman"), Some("name starts with '.'"));
    }

    #[test]
    fn workdocs_rules() {
        for name in [
            ".lock",
            ".~doctor.ppt",
            ".",
            "..",
            "hello.txt~",
            "~WRD0000.tmp",
            "~$filename.txt",
            "pptC407.tmp",
            "Microsoft User Data",
            "Outlook Files",
            "Thumbs.db",
            "Thumbnails",
            "thumbnails",
            "a*b",
            "a:b",
            "a<b",
            "a>b",
            "a?b",
            "a|b",
            "a\"b",
            "a\\b",
            "evil\u{202E}txt.exe",
            "filename ",
            "filename.",
        ] {
            assert!(builtin_rule(name).is_some(), "{name:?} must be excluded");
        }
        assert!(builtin_rule(&"x".repeat(256)).is_some());
        assert!(builtin_rule(&"x".repeat(255)).is_none());
        for name in [
            "report.txt",
            "THUMBS.DB",
            "Thumbs",
            "a~b",
            "résumé.pdf",
            "a.tmpx",
        ] {
            assert!(
                builtin_rule(name).is_none(),
                "{name:?} must be synchronized"
            );
        }
    }

    #[test]
    fn huge_files_are_excluded() {
        let f = Filter::default();
        assert!(
            f.excluded("big.iso", Kind::File, MAX_FILE_SIZE + 1)
                .is_some()
        );
        assert!(f.excluded("big.iso", Kind::File, MAX_FILE_SIZE).is_none());
    }

    #[test]
    fn user_filters_report_their_rule() {
        let f = Filter::new(
            &[
                UserFilter::glob("*.log"),
                UserFilter {
                    kind: FilterKind::StartsWith,
                    pattern: "draft".into(),
                },
                UserFilter {
                    kind: FilterKind::Contains,
                    pattern: "secret".into(),
                },
                UserFilter {
                    kind: FilterKind::EndsWith,
                    pattern: ".bak".into(),
                },
                UserFilter {
                    kind: FilterKind::Regex,
                    pattern: "^build/".into(),
                },
            ],
            &["Photos/2019".into()],
        )
        .unwrap();
        assert_eq!(
            f.excluded("a/b/x.log", Kind::File, 1).unwrap(),
            "filter glob '*.log'"
        );
        assert!(
            f.excluded("a/draft-1.doc", Kind::File, 1)
                .unwrap()
                .contains("starts with")
        );
        assert!(f.excluded("my-secret-plan", Kind::File, 1).is_some());
        assert!(f.excluded("x.bak", Kind::File, 1).is_some());
        assert!(f.excluded("build/out", Kind::File, 1).is_some());
        assert!(f.excluded("src/build/out", Kind::File, 1).is_none());
        assert!(f.excluded("notes.txt", Kind::File, 1).is_none());
        assert!(f.excluded_path(".git/config", Kind::File, 1).is_some());
        assert!(f.deselected("Photos/2019/a.jpg"));
        assert!(f.deselected("Photos/2019"));
        assert!(!f.deselected("Photos/2019b"));
    }

    #[test]
    fn bad_patterns_are_clear_errors() {
        let err = Filter::new(
            &[UserFilter {
                kind: FilterKind::Regex,
                pattern: "(".into(),
            }],
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid regular expression '('"));
    }

    #[test]
    fn an_empty_pattern_is_refused_rather_than_excluding_everything() {
        for kind in [
            FilterKind::Glob,
            FilterKind::StartsWith,
            FilterKind::Contains,
            FilterKind::EndsWith,
            FilterKind::Regex,
        ] {
            let f = UserFilter {
                kind,
                pattern: String::new(),
            };
            let err = f.check().unwrap_err().to_string();
            assert!(err.contains("needs a text"), "{err}");
        }
        assert!(UserFilter::glob("*.log").check().is_ok());
    }

    #[test]
    fn every_rule_builtin_rule_answers_is_in_the_listed_rules() {
        for name in [
            ".ferry-trash",
            ".x",
            "~x",
            "x.tmp",
            "Thumbs.db",
            "a:b",
            "x.",
            &"x".repeat(256),
        ] {
            let rule = builtin_rule(name).unwrap();
            assert!(BUILTIN_RULES.contains(&rule), "{rule}");
        }
        let huge = Filter::default()
            .excluded("big", Kind::File, MAX_FILE_SIZE + 1)
            .unwrap();
        assert!(BUILTIN_RULES.contains(&huge.as_str()));
    }
}
