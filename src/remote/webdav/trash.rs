//! Deletions: a re-check of what was planned (a folder's whole contents
//! included) and a MOVE into `.ferry-trash/<time>/` at the sync root.

use super::*;

/// The server-side trash folder, at the sync root (a dot-name: never synced).
pub const REMOTE_TRASH: &str = reserved::TRASH;

impl WebDav {
    /// Move `rel` into the server-side trash.
    pub(super) async fn trash(&self, rel: &str, dir: bool) -> Result<(), RemoteError> {
        let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H%M%S").to_string();
        let dest = join(&join(REMOTE_TRASH, &stamp), rel);
        {
            let mut known = self.trash_dirs.lock().await;
            let folder = parent(&dest).to_string();
            if !known.contains(&folder) {
                if known.len() > 10_000 {
                    known.clear();
                }
                // The folders below the deepest one known to exist, made
                // parents first: no MKCOL meets a missing parent, and no
                // folder is looked for (a deletion in a new folder costs
                // its MKCOLs only). A parent gone meanwhile (someone
                // emptied the trash): the careful way, which looks.
                let mut missing = Vec::new();
                let mut f = folder.as_str();
                while !f.is_empty() && !known.contains(f) {
                    missing.push(f);
                    f = parent(f);
                }
                for m in missing.iter().rev() {
                    match self.mkcol(m).await {
                        Ok(()) => {}
                        Err(RemoteError::Conflict(_)) => {
                            known.clear();
                            self.mkdirs(&folder).await?;
                            break;
                        }
                        Err(e) => return Err(e),
                    }
                }
                // The folder and its parents exist now.
                let mut f = folder.as_str();
                while !f.is_empty() && known.insert(f.to_string()) {
                    f = parent(f);
                }
            }
        }
        let mut target = dest.clone();
        for n in 2..100 {
            match self.move_item(rel, &target, dir, false).await {
                Err(RemoteError::Changed { path }) if path == target => {
                    target = format!("{dest} ({n})");
                }
                other => return other,
            }
        }
        Err(RemoteError::Changed {
            path: rel.to_string(),
        })
    }

    pub(super) async fn delete(
        &self,
        path: &str,
        expect: &Entry,
        contents: &[(String, Entry)],
        filter: &Filter,
    ) -> Result<(), RemoteError> {
        self.expect(path, Some(expect)).await?;
        if expect.kind == Kind::Dir {
            let mut listing = Listing::default();
            self.walk(path, filter, &mut listing).await?;
            // Excluded items are never deleted because of the other side;
            // and something inside that cannot be seen cannot be checked.
            if !listing.unobserved.is_empty()
                || listing
                    .excluded
                    .iter()
                    .any(|p| !crate::engine::filter::disposable(crate::engine::tree::file_name(p)))
            {
                return Err(RemoteError::Changed {
                    path: path.to_string(),
                });
            }
            let now: Vec<(&String, &Entry)> = listing.tree.iter().collect();
            let mut same = now.len() == contents.len();
            for ((k, e), (ek, ee)) in now.iter().zip(contents) {
                if !same {
                    break;
                }
                same = *k == ek && self.same_version(k, e, ee).await?;
            }
            if !same {
                return Err(RemoteError::Changed {
                    path: path.to_string(),
                });
            }
        }
        self.trash(path, expect.kind == Kind::Dir).await
    }
}
