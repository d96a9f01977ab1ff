//! The other side of a synchronization: the [`Remote`] trait, its
//! capability flags and errors, and its implementations.
//!
//! The engine never asks which server it talks to; it asks what the remote
//! can do ([`Capabilities`]).

pub mod bandwidth;
pub mod folder;
pub mod webdav;

use std::path::Path;

use async_trait::async_trait;

use crate::engine::{Entry, Filter, Hash, Problem, Tree};
use crate::fsops::FsError;

/// What a remote can do beyond the basics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Hashing a file is cheap (no download needed).
    pub cheap_hash: bool,
    /// Deleted items go to a trash from which they can be restored.
    pub trash: bool,
    /// Items have a stable id that survives a move.
    pub file_ids: bool,
    /// Modification times set on upload are kept (seen working on the
    /// probe, for a WebDAV server).
    pub set_mtime: bool,
}

/// A remote error. `is_changed` errors are not failures: the item is
/// re-planned next pass.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The item is no longer as planned: re-plan next pass.
    #[error(
        "{path} changed on the remote since it was observed; it will be looked at again next pass"
    )]
    Changed { path: String },
    /// The local source of an upload changed while it was sent.
    #[error("{0} changed while it was uploaded; it will be sent again next pass")]
    SourceChanged(String),
    #[error(transparent)]
    Fs(FsError),
    /// The server wants (other) credentials (401 only): no retry until the
    /// user acts.
    #[error("credentials required: {0}")]
    Auth(String),
    /// The server asks for a sign-in scheme Ferry does not speak (NTLM,
    /// Negotiate, …): the message names it. No password would help; the
    /// pass stops.
    #[error("{0}")]
    AuthUnsupported(String),
    /// The server refused one request (403): an error for that item only,
    /// the pass goes on with the others. The message names the item and
    /// the method ("the server refused to store a/b.txt (PUT: 403
    /// Forbidden)").
    #[error("{0}")]
    Forbidden(String),
    /// The item is locked on the server (423): skipped this pass.
    #[error("{0} is locked on the server; skipped")]
    Locked(String),
    /// The server is out of space (507): the pass stops.
    #[error("the server has no space left (507): synchronization paused")]
    NoSpace,
    /// A parent folder is missing (409).
    #[error("the parent folder of {0} is missing on the server")]
    Conflict(String),
    /// The server's answer is not acceptable (hostile or broken).
    #[error("the server's answer was rejected: {0}")]
    Protocol(String),
    /// The server could not be reached (connection refused or reset,
    /// timeouts), after retries: the pass stops, the daemon goes offline.
    #[error("the server cannot be reached: {0}")]
    Unreachable(String),
    /// HTTP failed after retries (or with a status that retrying cannot fix).
    #[error("{message}")]
    Http { message: String, retryable: bool },
    /// A local file error during a transfer.
    #[error("local file: {0}")]
    Local(String),
    /// The remote is misconfigured (bad URL, CA file…).
    #[error("{0}")]
    Config(String),
}

impl From<FsError> for RemoteError {
    fn from(e: FsError) -> Self {
        match e {
            FsError::Changed { path } => RemoteError::Changed { path },
            other => RemoteError::Fs(other),
        }
    }
}

impl RemoteError {
    /// Not a failure: the item changed and is re-planned next pass.
    pub fn is_changed(&self) -> bool {
        matches!(
            self,
            RemoteError::Changed { .. } | RemoteError::SourceChanged(_) | RemoteError::Locked(_)
        )
    }

    /// Whether the whole pass should stop (no point trying other items).
    pub fn stops_pass(&self) -> bool {
        matches!(
            self,
            RemoteError::Auth(_)
                | RemoteError::AuthUnsupported(_)
                | RemoteError::NoSpace
                | RemoteError::Unreachable(_)
        )
    }
}

/// A listing of the remote tree.
#[derive(Debug, Default)]
pub struct Listing {
    pub tree: Tree,
    pub problems: Vec<Problem>,
    /// Items left out because the filter excludes them (a folder stands
    /// for everything in it): never deleted because of the other side.
    pub excluded: Vec<String>,
    /// Places the remote could not fully see (an item whose href was
    /// unusable, a name that is not NFC): whatever the base has at or below
    /// such a path and the tree lacks is kept as the base recorded it, never
    /// taken for deleted (see [`crate::engine::tree::keep_unobserved`]).
    pub unobserved: Vec<String>,
}

/// The other side. Paths are relative, `/`-separated, NFC keys.
#[async_trait]
pub trait Remote: Send + Sync {
    /// A human-readable description (no secrets).
    fn describe(&self) -> String;

    fn capabilities(&self) -> Capabilities;

    /// Whether the remote keeps the modification times clients set
    /// ([`Capabilities::set_mtime`]), finding out first where that takes a
    /// write (a WebDAV server's probe) and `may_write` allows it (not in a
    /// dry run). Unknown is no.
    async fn keeps_times(&self, may_write: bool) -> bool {
        let _ = may_write;
        self.capabilities().set_mtime
    }

    /// What the remote learnt about its server, to keep in the journal so
    /// the next run need not find it out again.
    fn export_state(&self) -> Option<String> {
        None
    }

    /// Restore what [`Remote::export_state`] gave (ignored when unreadable).
    fn import_state(&self, _state: &str) {}

    /// A cheap fingerprint of everything under the root, where the remote
    /// has one (a WebDAV server whose collection tags change when anything
    /// inside changes): an equal fingerprint means nothing changed.
    /// `Ok(None)`: no cheap check here, list instead.
    async fn fingerprint(&self) -> Result<Option<String>, RemoteError> {
        Ok(None)
    }

    /// The folder on this machine, for a folder remote (it can be watched).
    fn local_root(&self) -> Option<&Path> {
        None
    }

    /// List everything under the root. `None` when the root does not exist.
    async fn list(&self, filter: &Filter) -> Result<Option<Listing>, RemoteError>;

    /// Whether [`Remote::list_paths`] works here.
    fn can_list_paths(&self) -> bool {
        false
    }

    /// List only `paths`, their parent folders and, for folders, what is
    /// inside (a scoped pass). `None` when the root does not exist. Only
    /// called when [`Remote::can_list_paths`] says so.
    async fn list_paths(
        &self,
        _paths: &[String],
        filter: &Filter,
    ) -> Result<Option<Listing>, RemoteError> {
        self.list(filter).await
    }

    /// The item at `path` now, from one direct request for that item alone
    /// (WebDAV: `PROPFIND Depth: 0`; a folder: `symlink_metadata`), never
    /// from a listing or a cache. `Ok(None)` only when the remote says the
    /// item does not exist (404, no such file). Confirms an absence before
    /// anything is deleted because of it.
    async fn stat(&self, path: &str) -> Result<Option<Entry>, RemoteError>;

    /// A direct request found an item the last listing left out: the
    /// listing was not whole. The remote stops trusting whatever made it
    /// so (WebDAV: `Depth: infinity` listings and the reused listing) and
    /// says what it changed, for the report; `None`: nothing to change.
    fn listing_fell_short(&self) -> Option<String> {
        None
    }

    /// Create the root (first synchronization into a new remote folder).
    async fn create_root(&self) -> Result<(), RemoteError>;

    /// Remove what interrupted work of Ferry's own left on the remote and
    /// the last listing saw (a WebDAV server's `.ferry-probe-…` folders at
    /// the root, `.ferry-up-….part` temps older than a day). Nothing else;
    /// never called in a dry run. Failures are only logged.
    async fn clean_leftovers(&self) {}

    /// Content hash of a file, which must still be as `expect`.
    async fn hash(&self, path: &str, expect: &Entry) -> Result<Hash, RemoteError>;

    /// Create a folder (and missing parents); an existing folder is fine.
    async fn mkdir(&self, path: &str) -> Result<Entry, RemoteError>;

    /// Upload the local file `src` (as `src_expect`) to `path`, replacing
    /// `replace` (None: nothing may be there). With `backup` the replaced
    /// version goes to a trash first. Never leaves a partial file at `path`.
    async fn upload(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<(Entry, Hash), RemoteError>;

    /// Download file `path` (which must still be as `expect`) into the local
    /// file `temp`, with its mtime; returns the content hash. If `temp`
    /// already holds the start of this version (a download interrupted
    /// earlier), the remote may continue after it.
    async fn download(&self, path: &str, expect: &Entry, temp: &Path) -> Result<Hash, RemoteError>;

    /// Move `from` (still as `expect`) to `to`, which must not exist.
    async fn rename(&self, from: &str, to: &str, expect: &Entry) -> Result<Entry, RemoteError>;

    /// Delete to the trash, if still as observed (with everything inside).
    async fn delete(
        &self,
        path: &str,
        expect: &Entry,
        contents: &[(String, Entry)],
        filter: &Filter,
    ) -> Result<(), RemoteError>;
}

/// Open a remote from what the user typed: an `http(s)://` WebDAV URL, a
/// `file://` URL or a plain path, brought to its normal form first
/// ([`crate::config::Place`]); any other `scheme://` is refused.
pub fn open(spec: &str, options: webdav::Options) -> Result<Box<dyn Remote>, RemoteError> {
    match crate::config::Place::parse(spec).map_err(|e| RemoteError::Config(e.to_string()))? {
        crate::config::Place::Folder(path) => Ok(Box::new(folder::FolderRemote::new(path))),
        crate::config::Place::WebDav(url) => Ok(Box::new(webdav::WebDav::new(&url, options)?)),
    }
}
