//! The other side of a synchronization: the [`Remote`] trait, its
//! capability flags and errors, and its implementations.
//!
//! The engine never asks which server it talks to; it asks what the remote
//! can do ([`Capabilities`]).

pub mod folder;

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
    /// Modification times can be set on upload.
    pub set_mtime: bool,
}

/// A remote error. `retryable` says whether trying again later can help.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The item is no longer as planned: re-plan next pass.
    #[error(
        "{path} changed on the remote since it was observed; it will be looked at again next pass"
    )]
    Changed { path: String },
    #[error(transparent)]
    Fs(FsError),
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
    pub fn is_changed(&self) -> bool {
        matches!(self, RemoteError::Changed { .. })
    }
}

/// A listing of the remote tree.
#[derive(Debug, Default)]
pub struct Listing {
    pub tree: Tree,
    pub problems: Vec<Problem>,
}

/// The other side. Paths are relative, `/`-separated, NFC keys.
#[async_trait]
pub trait Remote: Send + Sync {
    /// A human-readable description (no secrets).
    fn describe(&self) -> String;

    fn capabilities(&self) -> Capabilities;

    /// List everything under the root. `None` when the root does not exist.
    async fn list(&self, filter: &Filter) -> Result<Option<Listing>, RemoteError>;

    /// Create the root (first synchronization into a new remote folder).
    async fn create_root(&self) -> Result<(), RemoteError>;

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

    /// Download file `path` (which must still be as `expect`) into the new
    /// local file `temp`, with its mtime; returns the content hash.
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

/// Open a remote from what the user typed: a `file://` URL or a plain path.
pub fn open(spec: &str) -> anyhow::Result<Box<dyn Remote>> {
    if let Some(rest) = spec.strip_prefix("file://") {
        return Ok(Box::new(folder::FolderRemote::new(rest)));
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        anyhow::bail!("WebDAV remotes are not supported by this build yet: {spec}");
    }
    Ok(Box::new(folder::FolderRemote::new(spec)))
}
