//! The scoped listing (`Remote::list_paths`): only the paths a scoped pass
//! names, with their parent folders (one `PROPFIND Depth: 0` each, the
//! root's included, a few at once) and everything inside a named folder
//! (the listing walk from there). Used only where the write probe saw
//! `Depth: 0` answered exactly (`Probe::depth0_exact`) and no scoped
//! answer was odd since.
//!
//! * A 404 leaves the item (and whatever is below it) out of the listing:
//!   absence is not evidence, `pass` asks `stat` before acting on it, and a
//!   scoped pass never deletes.
//! * Any failed request fails the listing: never a part taken for whole.
//! * An odd answer (more or fewer than one item, an href that is not the
//!   item asked for under either reading, or unusable) means the full listing this
//!   time and no scoped listing on this server from then on.
//! * The kept listing of the incremental walk (`ListingCache`) is neither
//!   read nor written here: it stays the last whole listing with its
//!   collections' tags, so the next full pass still descends into every
//!   collection that changed since, whatever a scoped pass saw or did.

use super::*;

/// What one `Depth: 0` PROPFIND said.
pub(super) enum Depth0 {
    Item(xml::DavItem),
    Missing,
    /// Not exactly the one item asked for: why.
    Odd(String),
}

/// The normal form of a scope: every path's NFC segments (empty ones
/// dropped), with `true` for a named path and `false` for a parent only
/// (sorted: a folder before what is in it). `None`: the root is named, or
/// a name is not one safe segment — list everything.
pub(super) fn scope_keys(paths: &[String]) -> Option<std::collections::BTreeMap<String, bool>> {
    let mut keys = std::collections::BTreeMap::new();
    for p in paths {
        let mut key = String::new();
        let mut segments = p.split('/').filter(|s| !s.is_empty()).peekable();
        segments.peek()?;
        while let Some(segment) = segments.next() {
            let segment = crate::engine::path::nfc(segment);
            check_segment(&segment).ok()?;
            key = join(&key, &segment);
            let named = segments.peek().is_none();
            let slot = keys.entry(key.clone()).or_insert(false);
            *slot |= named;
        }
    }
    Some(keys)
}

impl WebDav {
    /// Whether scoped listings are used here: the probe saw `Depth: 0`
    /// answered with exactly the item asked for, and no scoped answer was
    /// odd since.
    pub(super) fn can_list_paths(&self) -> bool {
        self.probe().depth0_exact && !self.depth0_odd.load(Ordering::Relaxed)
    }

    /// One `PROPFIND Depth: 0` of `rel` (a folder's URL with its `/`
    /// where `dir`), checked to be exactly that item.
    pub(super) async fn depth0(&self, rel: &str, dir: bool) -> Result<Depth0, RemoteError> {
        let Some(items) = self.propfind(rel, dir, "0").await? else {
            return Ok(Depth0::Missing);
        };
        let [item] = items.as_slice() else {
            return Ok(Depth0::Odd(format!("{} items", items.len())));
        };
        // On a server that does not encode names, a `%XX` in the href may
        // be read either way (see [`WebDav::ambiguous`]): this answer is
        // about the URL asked for, so either reading naming `rel` will do.
        let literal = self.ambiguous(&item.href);
        match self.resolve(&items, rel) {
            Ok((rows, unusable)) if unusable.is_empty() => match rows.as_slice() {
                [(r, _)] if r == rel => Ok(Depth0::Item(item.clone())),
                [(r, _)]
                    if !r.is_empty()
                        && literal
                            .as_deref()
                            .is_some_and(|lit| join(parent(r), lit) == rel) =>
                {
                    Ok(Depth0::Item(item.clone()))
                }
                _ => Ok(Depth0::Odd(format!("the href {:?}", item.href))),
            },
            Ok(_) => Ok(Depth0::Odd(format!("the unusable href {:?}", item.href))),
            Err(e) => Ok(Depth0::Odd(e.to_string())),
        }
    }

    /// List `paths` only (see the module docs); the full listing where the
    /// scope names the root, a name is unsafe or an answer is odd.
    pub(super) async fn list_paths(
        &self,
        paths: &[String],
        filter: &Filter,
    ) -> Result<Option<Listing>, RemoteError> {
        let Some(keys) = scope_keys(paths) else {
            return self.list(filter).await;
        };
        // Leftovers are the full listing's to find (`clean_leftovers`).
        let kept = self.leftovers.lock().map(|l| l.len()).unwrap_or(0);
        let scoped = self.scoped(&keys, filter).await;
        if let Ok(mut l) = self.leftovers.lock() {
            l.truncate(kept);
        }
        match scoped? {
            Ok(listing) => Ok(listing),
            Err(odd) => {
                tracing::warn!(base = %self.base, "a Depth: 0 PROPFIND answered {odd}: Ferry lists the whole tree from now on here");
                self.depth0_odd.store(true, Ordering::Relaxed);
                self.list(filter).await
            }
        }
    }

    /// The scoped listing of `keys` (see [`scope_keys`]); `Ok(Err(why))`
    /// when an answer was odd.
    async fn scoped(
        &self,
        keys: &std::collections::BTreeMap<String, bool>,
        filter: &Filter,
    ) -> Result<Result<Option<Listing>, String>, RemoteError> {
        // The root and every key at once (a few at a time): a named path
        // may be a file or a folder, a parent is a folder.
        let asked: Vec<(String, bool)> = std::iter::once((String::new(), true))
            .chain(keys.iter().map(|(k, named)| (k.clone(), !named)))
            .collect();
        let answers: Vec<Result<Depth0, RemoteError>> = futures_util::stream::iter(asked)
            .map(|(rel, dir)| async move { self.depth0(&rel, dir).await })
            .buffered(LIST_PARALLEL)
            .collect()
            .await;
        let mut answers = answers.into_iter();
        match answers.next() {
            Some(Ok(Depth0::Item(root))) if root.is_collection => {}
            Some(Ok(Depth0::Missing)) => return Ok(Ok(None)),
            Some(Ok(Depth0::Odd(why))) => return Ok(Err(why)),
            Some(Err(e)) => return Err(e),
            _ => return Ok(Err("the root with something that is not a folder".into())),
        }
        let mut listing = Listing::default();
        // Keys whose subtree is settled: missing, not a folder, skipped,
        // or a named folder walked whole.
        let mut done: Vec<&str> = Vec::new();
        let mut walks: Vec<&str> = Vec::new();
        for ((key, named), answer) in keys.iter().zip(answers) {
            let answer = answer?;
            if done.iter().any(|d| crate::engine::tree::is_within(key, d)) {
                continue;
            }
            let item = match answer {
                Depth0::Item(item) => item,
                Depth0::Missing => {
                    done.push(key);
                    continue;
                }
                Depth0::Odd(why) => return Ok(Err(why)),
            };
            match self.add_item(key, &item, filter, &mut listing) {
                Some(true) if *named => {
                    walks.push(key);
                    done.push(key);
                }
                Some(true) => {}
                Some(false) | None => done.push(key),
            }
        }
        // Everything inside the named folders, each walked as a full
        // listing walks (never from or into the kept listing).
        let walks: Vec<String> = walks.into_iter().map(str::to_string).collect();
        let walked = futures_util::stream::iter(walks)
            .map(|dir| async move {
                let mut inside = Listing::default();
                self.walk(&dir, filter, &mut inside)
                    .await
                    .map(|found| (dir, found.then_some(inside)))
            })
            .buffered(2)
            .collect::<Vec<_>>()
            .await;
        for w in walked {
            match w? {
                (_, Some(inside)) => {
                    listing.tree.extend(inside.tree);
                    listing.problems.extend(inside.problems);
                    listing.excluded.extend(inside.excluded);
                    listing.unobserved.extend(inside.unobserved);
                }
                // Gone since its Depth 0: not in the listing.
                (dir, None) => {
                    listing.tree.remove(&dir);
                }
            }
        }
        Ok(Ok(Some(listing)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_its_paths_normal_forms_with_their_parents() {
        let keys = scope_keys(&["a/b/c.txt".into(), "/a//b/".into(), "e\u{301}/f".into()]).unwrap();
        let got: Vec<(&str, bool)> = keys.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(
            got,
            [
                ("a", false),
                ("a/b", true),
                ("a/b/c.txt", true),
                ("\u{e9}", false),
                ("\u{e9}/f", true)
            ]
        );
    }

    #[test]
    fn a_scope_naming_the_root_or_an_unsafe_name_lists_everything() {
        assert!(scope_keys(&["a".into(), "/".into()]).is_none());
        assert!(scope_keys(&["a/../b".into()]).is_none());
        assert!(scope_keys(&["".into()]).is_none());
    }
}
