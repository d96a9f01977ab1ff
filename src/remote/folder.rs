//! The local-folder remote: a folder on another disk or a mounted share.
//! Deletions go to `.ferry-trash` at its root (excluded from sync).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::{Capabilities, Listing, Remote, RemoteError};
use crate::engine::{Entry, Filter, Hash, Kind, Side};
use crate::fsops::{Folder, FsError, TrashPolicy};

/// A remote that is a plain folder.
#[derive(Debug, Clone)]
pub struct FolderRemote {
    folder: Arc<Folder>,
}

impl FolderRemote {
    pub fn new(root: impl Into<PathBuf>) -> FolderRemote {
        FolderRemote {
            folder: Arc::new(Folder::new(root, Side::Remote, TrashPolicy::Folder)),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Folder) -> Result<T, FsError> + Send + 'static,
    ) -> Result<T, RemoteError> {
        let folder = self.folder.clone();
        match tokio::task::spawn_blocking(move || f(&folder)).await {
            Ok(r) => r.map_err(RemoteError::from),
            Err(e) => Err(RemoteError::Fs(FsError::Io {
                op: "run",
                path: self.folder.root().display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })),
        }
    }
}

#[async_trait]
impl Remote for FolderRemote {
    fn describe(&self) -> String {
        format!("folder {}", self.folder.root().display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            cheap_hash: true,
            trash: true,
            file_ids: true,
            set_mtime: true,
        }
    }

    fn local_root(&self) -> Option<&Path> {
        Some(self.folder.root())
    }

    async fn list(&self, filter: &Filter) -> Result<Option<Listing>, RemoteError> {
        let filter = filter.clone();
        let scan = self.run(move |f| f.scan(&filter)).await?;
        Ok(scan.map(|s| Listing {
            tree: s.tree,
            problems: s.problems,
            excluded: s.excluded,
            unobserved: Vec::new(),
        }))
    }

    fn can_list_paths(&self) -> bool {
        true
    }

    async fn list_paths(
        &self,
        paths: &[String],
        filter: &Filter,
    ) -> Result<Option<Listing>, RemoteError> {
        let (filter, paths) = (filter.clone(), paths.to_vec());
        let scan = self.run(move |f| f.scan_paths(&paths, &filter)).await?;
        Ok(scan.map(|s| Listing {
            tree: s.tree,
            problems: s.problems,
            excluded: s.excluded,
            unobserved: Vec::new(),
        }))
    }

    async fn stat(&self, path: &str) -> Result<Option<Entry>, RemoteError> {
        let path = path.to_string();
        self.run(move |f| {
            let abs = f.abs(&path);
            match std::fs::symlink_metadata(&abs) {
                Ok(m) => {
                    let kind = if m.is_dir() { Kind::Dir } else { Kind::File };
                    Ok(Some(crate::fsops::entry_of(&abs, &m, kind)))
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ) =>
                {
                    Ok(None)
                }
                Err(source) => Err(FsError::Io {
                    op: "stat",
                    path: abs.display().to_string(),
                    source,
                }),
            }
        })
        .await
    }

    async fn create_root(&self) -> Result<(), RemoteError> {
        self.run(|f| f.create_root()).await
    }

    async fn hash(&self, path: &str, expect: &Entry) -> Result<Hash, RemoteError> {
        let (path, expect) = (path.to_string(), expect.clone());
        self.run(move |f| f.hash(&path, &expect)).await
    }

    async fn mkdir(&self, path: &str) -> Result<Entry, RemoteError> {
        let path = path.to_string();
        self.run(move |f| f.mkdir(&path)).await
    }

    async fn upload(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<(Entry, Hash), RemoteError> {
        let (path, src, src_expect, replace) = (
            path.to_string(),
            src.to_path_buf(),
            src_expect.clone(),
            replace.cloned(),
        );
        self.run(move |f| f.copy_in(&path, &src, &src_expect, replace.as_ref(), backup))
            .await
    }

    async fn download(&self, path: &str, expect: &Entry, temp: &Path) -> Result<Hash, RemoteError> {
        let (path, expect, temp) = (path.to_string(), expect.clone(), temp.to_path_buf());
        self.run(move |f| f.copy_out(&path, &expect, &temp)).await
    }

    async fn rename(&self, from: &str, to: &str, expect: &Entry) -> Result<Entry, RemoteError> {
        let (from, to, expect) = (from.to_string(), to.to_string(), expect.clone());
        self.run(move |f| f.rename(&from, &to, &expect)).await
    }

    async fn delete(
        &self,
        path: &str,
        expect: &Entry,
        contents: &[(String, Entry)],
        filter: &Filter,
    ) -> Result<(), RemoteError> {
        let (path, expect, contents, filter) = (
            path.to_string(),
            expect.clone(),
            contents.to_vec(),
            filter.clone(),
        );
        self.run(move |f| f.delete(&path, &expect, &contents, &filter))
            .await
    }
}
