//! Managing one synchronization from the preferences: its server folders
//! one level at a time (selective sync), checking a filter list rule by
//! rule, previewing which existing items a filter list would leave out,
//! the built-in exclusion rules, and opening its local folder.

use serde::{Deserialize, Serialize};

use super::why::ItemKind;
use crate::config::UserFilter;

/// `GET /api/syncs/{id}/folders?path=a/b`: the sub-folders of a folder of
/// the synchronization's remote side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncFolders {
    /// The folder listed, relative to the synchronization's remote folder
    /// (`""`: the remote folder itself).
    pub path: String,
    /// Its sub-folders, sorted by name (the ones Ferry never synchronizes,
    /// such as `.ferry-trash` or dot-folders, are left out).
    pub folders: Vec<SyncFolder>,
}

/// One sub-folder in [`SyncFolders`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncFolder {
    pub name: String,
    /// Relative to the synchronization's remote folder: what `deselected`
    /// holds.
    pub path: String,
}

/// `POST /api/filters/check`: a filter list to check rule by rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterList {
    #[serde(default)]
    pub filters: Vec<UserFilter>,
}

/// The answer of `POST /api/filters/check`: one entry per rule, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCheck {
    pub rules: Vec<RuleCheck>,
    /// Whether every rule is valid.
    pub ok: bool,
}

/// One rule's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCheck {
    pub ok: bool,
    /// What is wrong with it, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/filters/builtin`: the rules that always apply, as the engine
/// tells them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltinRules {
    pub rules: Vec<String>,
}

/// `POST /api/syncs/{id}/filters/preview`: which existing items `filters`
/// would leave out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewRequest {
    #[serde(default)]
    pub filters: Vec<UserFilter>,
    /// At most this many items in the answer (default 200, at most 2000);
    /// `count` says how many there are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The answer of `POST /api/syncs/{id}/filters/preview`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterPreview {
    /// The items the filters would leave out, sorted by path (at most
    /// `limit`).
    pub items: Vec<PreviewItem>,
    /// How many items in all.
    pub count: usize,
    /// Whether `items` stops short of `count`.
    pub truncated: bool,
}

/// One item a filter list would leave out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewItem {
    /// Relative to the synchronization's folders.
    pub path: String,
    pub kind: ItemKind,
    /// The rule that leaves it out (`filter glob '*.log'`).
    pub rule: String,
    /// Whether the synchronization's current filters leave it out already.
    pub already: bool,
}

/// Items that can be kept in a preview answer.
pub const PREVIEW_LIMIT_MAX: usize = 2000;
/// Items in a preview answer when the request does not say.
pub const PREVIEW_LIMIT_DEFAULT: usize = 200;
