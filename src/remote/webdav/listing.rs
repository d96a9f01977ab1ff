//! Reading the server's tree: the listing walk (one trusted
//! `Depth: infinity` PROPFIND, else a bounded-parallel `Depth: 1` walk;
//! unchanged collections reused where collection tags propagate), how far
//! `Depth: infinity` is trusted, entries from multistatus items, `stat`
//! and the preconditions (`expect`, `same_version`).

use super::*;

/// Depth-1 listings run at most this many at once.
pub(super) const LIST_PARALLEL: usize = 8;

/// A listing and the entity tags of its collections (`""`: the root).
#[derive(Clone, Debug, Default)]
pub(super) struct ListingCache {
    tags: std::collections::HashMap<String, String>,
    tree: crate::engine::Tree,
    /// What the listing excluded (`Listing::excluded`): reused with the
    /// subtrees it lies in, so the planner still knows which folders hold
    /// excluded items.
    excluded: Vec<String>,
}

pub(super) const UNKNOWN: u8 = 0;

pub(super) const YES: u8 = 1;

pub(super) const NO: u8 = 2;

/// Findings about the server are checked again after this long.
pub(super) const RECHECK_SECS: i64 = 24 * 3600;

/// A `getlastmodified` value in nanoseconds since the epoch: the RFC 1123
/// date RFC 4918 asks for (and the other HTTP date forms), or ISO 8601 /
/// RFC 3339 as some servers send (`2026-11-28T17:41:33Z`, with an offset
/// or fractional seconds). `None`: unreadable, the date is unknown.
pub(super) fn parse_date(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(t) = httpdate::parse_http_date(value) {
        let secs = match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).ok()?,
            Err(e) => -i64::try_from(e.duration().as_secs()).ok()?,
        };
        return secs.checked_mul(1_000_000_000);
    }
    let ts = value.parse::<jiff::Timestamp>().ok().or_else(|| {
        // No offset at all ("2026-11-28T17:41:33"): take it as UTC.
        value
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })?;
    i64::try_from(ts.as_nanosecond()).ok()
}

/// Same item, unchanged: an equal entity tag (the weak marker ignored: a
/// weak/strong flip is not a change), or equal size and a known, equal
/// mtime. Two unknown dates prove nothing (see [`undecided`]).
pub(super) fn unchanged(now: &Entry, then: &Entry) -> bool {
    if now.kind != then.kind {
        return false;
    }
    if now.kind == Kind::Dir {
        return true;
    }
    if now.size != then.size {
        return false;
    }
    match (&now.etag, &then.etag) {
        (Some(a), Some(b)) if same_tag(a, b) => true,
        _ => now.same_known_mtime(then.mtime),
    }
}

/// A file of the same size that metadata cannot tell apart from `then`: no
/// entity tag on either side and no date (a server without tags and
/// dates). Only its content hash can say whether it is still `then`.
pub(super) fn undecided(now: &Entry, then: &Entry) -> bool {
    now.kind == Kind::File
        && then.kind == Kind::File
        && now.size == then.size
        && (now.etag.is_none() || then.etag.is_none())
        && (now.known_mtime().is_none() || then.known_mtime().is_none())
}

impl WebDav {
    /// The sub-folders of folder `rel` (names, sorted), for choosing a
    /// remote folder and for the selective-sync tree. `None`: no such folder.
    pub async fn folders(&self, rel: &str) -> Result<Option<Vec<String>>, RemoteError> {
        let rel = rel.trim_matches('/');
        let Some(items) = self.propfind(rel, true, "1").await? else {
            return Ok(None);
        };
        let mut names = Vec::new();
        let (rows, _unusable) = self.resolve(&items, rel)?;
        for (path, item) in rows {
            if path == rel || !item.is_collection {
                continue;
            }
            if parent(&path) != rel {
                return Err(RemoteError::Protocol(format!(
                    "the server listed {:?} in a Depth 1 listing of {rel:?}",
                    item.href
                )));
            }
            let name = path.rsplit('/').next().unwrap_or(&path).to_string();
            if crate::engine::path::check_segment(&name).is_ok() && !reserved::is_reserved(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(Some(names))
    }

    pub(super) fn entry_of(&self, item: &xml::DavItem) -> Entry {
        let kind = if item.is_collection {
            Kind::Dir
        } else {
            Kind::File
        };
        let mtime = item
            .last_modified
            .as_deref()
            .and_then(parse_date)
            .unwrap_or(UNKNOWN_MTIME);
        let etag = item.etag.as_deref().map(Into::into);
        Entry {
            kind,
            size: if kind == Kind::File {
                item.size.unwrap_or(0)
            } else {
                0
            },
            mtime,
            id: item.file_id.as_deref().map(Into::into).or_else(|| {
                if kind == Kind::File {
                    etag.clone()
                } else {
                    None
                }
            }),
            etag: if kind == Kind::File { etag } else { None },
            hash: None,
        }
    }

    /// The entry at `rel` now (`None`: nothing there).
    pub(super) async fn stat(&self, rel: &str) -> Result<Option<Entry>, RemoteError> {
        let Some(items) = self.propfind(rel, false, "0").await? else {
            return Ok(None);
        };
        let item = items
            .first()
            .ok_or_else(|| RemoteError::Protocol(format!("empty PROPFIND answer for {rel}")))?;
        Ok(Some(self.entry_of(item)))
    }

    /// Check the item at `rel` is still the one observed.
    pub(super) async fn expect(
        &self,
        rel: &str,
        expect: Option<&Entry>,
    ) -> Result<(), RemoteError> {
        let now = self.stat(rel).await?;
        let same = match (&now, expect) {
            (None, None) => true,
            (Some(n), Some(e)) => self.same_version(rel, n, e).await?,
            _ => false,
        };
        if same {
            Ok(())
        } else {
            Err(RemoteError::Changed {
                path: rel.to_string(),
            })
        }
    }

    /// Whether `now` (just seen at `rel`) is still the version `then`:
    /// [`unchanged`], or, where tags and dates cannot tell, the same
    /// content hash as the one the planner computed for `then` (one GET).
    /// Without that hash it is not the same: a precondition that cannot be
    /// checked has failed.
    pub(super) async fn same_version(
        &self,
        rel: &str,
        now: &Entry,
        then: &Entry,
    ) -> Result<bool, RemoteError> {
        if unchanged(now, then) {
            return Ok(true);
        }
        match then.hash {
            Some(h) if undecided(now, then) => match self.hash(rel, now).await {
                Ok(now_hash) => Ok(now_hash == h),
                Err(RemoteError::Changed { .. }) => Ok(false),
                Err(e) => Err(e),
            },
            _ => Ok(false),
        }
    }

    /// List the subtree at `root` into `listing`; `false` when `root` does
    /// not exist. One walk for every case: where collection tags propagate
    /// and the last listing of the root is kept, the root's tag is asked
    /// first (unchanged: that listing is reused whole) and collections
    /// whose tag did not change are not listed again; otherwise one
    /// trusted `Depth: infinity` PROPFIND, else `Depth: 1`, breadth first,
    /// a few collections at once.
    pub(super) async fn walk(
        &self,
        root: &str,
        filter: &Filter,
        listing: &mut Listing,
    ) -> Result<bool, RemoteError> {
        // Where collection tags propagate, reuse what did not change.
        let propagate = {
            let p = self.probe();
            p.collection_etags_propagate || p.file_ids
        };
        let cache = if root.is_empty() && propagate {
            self.cache.lock().ok().and_then(|c| c.clone())
        } else {
            None
        };
        if let Some(cache) = &cache {
            let Some(items) = self.propfind("", true, "0").await? else {
                return Ok(false);
            };
            let root_tag = items.first().and_then(|i| i.etag.clone());
            if root_tag.is_some() && root_tag.as_ref() == cache.tags.get("") {
                tracing::debug!("root unchanged: listing reused");
                listing.tree = cache.tree.clone();
                listing.excluded = cache.excluded.clone();
                return Ok(true);
            }
        } else if self.infinity() == YES {
            // One Depth: infinity listing, only where one was seen to come
            // back whole (Apache and nginx refuse it with 403, dav-server
            // with 501, and a server may answer it with one level).
            match self.propfind_raw(root, true, "infinity").await? {
                Ok(None) => return Ok(false),
                Ok(Some(items)) => {
                    if self.take_infinity(root, &items, filter, listing)? {
                        return Ok(true);
                    }
                }
                Err(s) if s.is_client_error() || s == StatusCode::NOT_IMPLEMENTED => {
                    tracing::debug!(status = %s, "Depth: infinity refused; walking with Depth: 1");
                    self.set_infinity(NO);
                }
                Err(s) => return Err(status_error("PROPFIND", root, s)),
            }
        }
        // Depth 1, breadth first, a few collections at once.
        let mut tags = std::collections::HashMap::new();
        let mut pending = vec![root.to_string()];
        let mut first = true;
        while !pending.is_empty() {
            let batch: Vec<String> = pending.drain(..pending.len().min(LIST_PARALLEL)).collect();
            let results = futures_util::future::join_all(
                batch.iter().map(|dir| self.propfind(dir, true, "1")),
            )
            .await;
            for (dir, result) in batch.iter().zip(results) {
                let Some(items) = result? else {
                    // The root itself gone (after the root's tag was read,
                    // with a kept listing, it is taken as empty, as
                    // before); a folder removed while we listed: the next
                    // pass sees it.
                    if first && cache.is_none() {
                        return Ok(false);
                    }
                    continue;
                };
                let (rows, mut unusable) = self.resolve(&items, dir)?;
                let rows = self.settle_escapes(rows, &mut unusable, dir).await?;
                note_unusable(listing, unusable);
                for (rel, item) in rows {
                    if rel == dir.trim_end_matches('/') {
                        if let Some(t) = &item.etag {
                            tags.insert(rel, t.clone());
                        }
                        continue;
                    }
                    if parent(&rel) != dir.trim_end_matches('/') {
                        return Err(RemoteError::Protocol(format!(
                            "the listing of {} was rejected: the server listed {:?} in a Depth 1 listing",
                            folder_name(dir),
                            item.href
                        )));
                    }
                    if self.add_item(&rel, item, filter, listing) != Some(true) {
                        continue;
                    }
                    match &cache {
                        Some(cache) if unchanged_collection(cache, &rel, item) => {
                            reuse_subtree(cache, &rel, listing, &mut tags);
                        }
                        _ => pending.push(rel),
                    }
                }
            }
            first = false;
        }
        if root.is_empty() {
            self.remember(tags, listing);
            if cache.is_none() && self.infinity() == UNKNOWN {
                self.prove_infinity_on(&listing.tree).await;
            }
        }
        Ok(true)
    }

    /// Take a `Depth: infinity` answer for `root` into `listing`. `false`
    /// (and `listing` untouched): it cannot be used as it is (an unusable
    /// href, whose place only a Depth 1 walk can tell; or collections with
    /// nothing listed in any of them, which is what a server that answers
    /// infinity with one level gives): walk with Depth 1 instead.
    pub(super) fn take_infinity(
        &self,
        root: &str,
        items: &[xml::DavItem],
        filter: &Filter,
        listing: &mut Listing,
    ) -> Result<bool, RemoteError> {
        let root = root.trim_end_matches('/');
        let (mut rows, unusable) = self.resolve(items, root)?;
        if !unusable.is_empty() {
            tracing::debug!(
                root,
                "unusable hrefs in a Depth: infinity listing; walking with Depth: 1"
            );
            return Ok(false);
        }
        if items.iter().any(|i| self.ambiguous(&i.href).is_some()) {
            tracing::debug!(
                root,
                "ambiguous hrefs in a Depth: infinity listing; walking with Depth: 1"
            );
            return Ok(false);
        }
        let levels = |rel: &str| {
            let below = if root.is_empty() {
                rel
            } else {
                rel.strip_prefix(root)
                    .unwrap_or(rel)
                    .trim_start_matches('/')
            };
            below.split('/').filter(|s| !s.is_empty()).count()
        };
        let folders = rows
            .iter()
            .any(|(rel, item)| item.is_collection && levels(rel) == 1);
        if folders && !rows.iter().any(|(rel, _)| levels(rel) >= 2) {
            tracing::warn!(base = %self.base, root, "a Depth: infinity listing has folders with nothing in any of them (one level only?); walking with Depth: 1 and checking again");
            self.set_infinity(UNKNOWN);
            return Ok(false);
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut excluded_dirs: Vec<String> = Vec::new();
        for (rel, item) in rows {
            if rel == root {
                continue;
            }
            if excluded_dirs
                .iter()
                .any(|d| crate::engine::tree::is_within(&rel, d))
            {
                continue;
            }
            if self.add_item(&rel, item, filter, listing).is_none() && item.is_collection {
                excluded_dirs.push(rel);
            }
        }
        Ok(true)
    }

    /// What is known of `Depth: infinity` now: a finding older than a day
    /// counts as UNKNOWN (checked again).
    pub(super) fn infinity(&self) -> u8 {
        let at = self.infinity_checked_at.load(Ordering::Relaxed);
        if at == 0 || jiff::Timestamp::now().as_second() - at > RECHECK_SECS {
            UNKNOWN
        } else {
            self.depth_infinity.load(Ordering::Relaxed)
        }
    }

    pub(super) fn set_infinity(&self, state: u8) {
        self.depth_infinity.store(state, Ordering::Relaxed);
        let at = if state == UNKNOWN {
            0
        } else {
            jiff::Timestamp::now().as_second()
        };
        self.infinity_checked_at.store(at, Ordering::Relaxed);
    }

    /// Check `Depth: infinity` read-only on a tree just walked with Depth 1:
    /// on the smallest folder that holds a sub-folder with something in
    /// it, one infinity PROPFIND must name everything the walk found there.
    /// Nothing nested to check on: stays unknown (walks stay Depth 1).
    pub(super) async fn prove_infinity_on(&self, tree: &crate::engine::Tree) {
        // Grandparents of some item, with how many items are below each.
        let mut below: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for path in tree.keys() {
            let p = parent(path);
            if !p.is_empty() {
                below.entry(parent(p)).or_insert(0);
            }
        }
        if below.is_empty() {
            return;
        }
        for path in tree.keys() {
            let mut a = parent(path);
            loop {
                if let Some(n) = below.get_mut(a) {
                    *n += 1;
                }
                if a.is_empty() {
                    break;
                }
                a = parent(a);
            }
        }
        let Some((folder, _)) = below.iter().min_by_key(|(k, n)| (**n, *k)) else {
            return;
        };
        let expect: Vec<String> = crate::engine::tree::descendants(tree, folder)
            .map(|(k, _)| k.clone())
            .collect();
        self.check_infinity(folder, &expect).await;
    }

    /// One `Depth: infinity` PROPFIND of `folder`, which holds at least
    /// `expect` (relative paths, some two levels down): YES only when every
    /// one of them is in the answer; NO when refused or anything is missing.
    pub(super) async fn check_infinity(&self, folder: &str, expect: &[String]) {
        let state = match self.propfind_raw(folder, true, "infinity").await {
            Ok(Ok(Some(items))) => match self.resolve(&items, folder) {
                Ok((rows, _)) => {
                    let seen: std::collections::HashSet<String> =
                        rows.into_iter().map(|(r, _)| r).collect();
                    let missing = expect.iter().filter(|e| !seen.contains(*e)).count();
                    if missing > 0 {
                        tracing::warn!(base = %self.base, folder, missing, "a Depth: infinity listing left out items a Depth: 1 walk found: not used on this server");
                        NO
                    } else {
                        YES
                    }
                }
                Err(_) => NO,
            },
            Ok(Err(s)) if s.is_client_error() || s == StatusCode::NOT_IMPLEMENTED => NO,
            // Gone meanwhile, or a transient failure: nothing learnt.
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return,
        };
        tracing::debug!(folder, works = state == YES, "checked Depth: infinity");
        self.set_infinity(state);
    }

    pub(super) fn remember(
        &self,
        tags: std::collections::HashMap<String, String>,
        listing: &Listing,
    ) {
        if let Ok(mut c) = self.cache.lock() {
            // A listing with places it could not see is not reused.
            *c = listing.unobserved.is_empty().then(|| ListingCache {
                tags,
                tree: listing.tree.clone(),
                excluded: listing.excluded.clone(),
            });
        }
    }

    /// Add one listed item; `Some(is_dir)` when it was added.
    pub(super) fn add_item(
        &self,
        rel: &str,
        item: &xml::DavItem,
        filter: &Filter,
        listing: &mut Listing,
    ) -> Option<bool> {
        let problem = |message: String| Problem {
            path: rel.to_string(),
            side: Some(Side::Remote),
            message,
        };
        let name = crate::engine::tree::file_name(rel);
        if let Err(e) = check_segment(name) {
            listing.problems.push(problem(format!(
                "unsafe name from the server, skipped: {e}"
            )));
            return None;
        }
        let norm = crate::engine::path::nfc(name);
        if norm != name {
            listing.problems.push(problem(
                "name is not NFC on the server: not synchronized".into(),
            ));
            // What was in sync under the NFC name is not taken for deleted.
            listing.unobserved.push(join(parent(rel), &norm));
            return None;
        }
        let entry = self.entry_of(item);
        if reserved::is_reserved(name) {
            if is_leftover(
                rel,
                &entry,
                jiff::Timestamp::now()
                    .as_second()
                    .saturating_mul(1_000_000_000),
            ) {
                if let Ok(mut l) = self.leftovers.lock() {
                    l.push((rel.to_string(), entry.clone()));
                }
            }
            if entry.kind == Kind::File {
                return None;
            }
        }
        if let Some(rule) = filter.excluded(rel, entry.kind, entry.size) {
            listing.problems.push(problem(format!("excluded: {rule}")));
            listing.excluded.push(rel.to_string());
            return None;
        }
        let is_dir = entry.kind == Kind::Dir;
        listing.tree.insert(rel.to_string(), entry);
        Some(is_dir)
    }

    pub(super) fn listing_fell_short(&self) -> Option<String> {
        let trusted = self.infinity() == YES;
        // Not trusted for a day; the write probe or a walk checks it again.
        self.set_infinity(NO);
        let cached = self.cache.lock().ok().and_then(|mut c| c.take()).is_some();
        let what = match (trusted, cached) {
            (false, false) => return None,
            (true, false) => "its `Depth: infinity` listings",
            (false, true) => "its unchanged folder tags (a listing reused)",
            (true, true) => "its `Depth: infinity` listings and unchanged folder tags",
        };
        Some(format!(
            "the server still has items its listing left out: Ferry no longer trusts {what} on this server and lists every folder on its own (`Depth: 1`) from the next pass on"
        ))
    }
}

/// Whether the collection `rel` just listed has the entity tag it had in
/// `cache` (and `cache` has it): its subtree is unchanged.
fn unchanged_collection(cache: &ListingCache, rel: &str, item: &xml::DavItem) -> bool {
    item.etag.is_some() && item.etag.as_ref() == cache.tags.get(rel) && cache.tree.contains_key(rel)
}

/// Take the unchanged subtree at `rel` from `cache`: its items, its
/// collections' tags and what was excluded in it.
fn reuse_subtree(
    cache: &ListingCache,
    rel: &str,
    listing: &mut Listing,
    tags: &mut std::collections::HashMap<String, String>,
) {
    for (k, e) in crate::engine::tree::descendants(&cache.tree, rel) {
        listing.tree.insert(k.clone(), e.clone());
    }
    for (k, t) in &cache.tags {
        if crate::engine::tree::is_within(k, rel) {
            tags.insert(k.clone(), t.clone());
        }
    }
    listing.excluded.extend(
        cache
            .excluded
            .iter()
            .filter(|k| crate::engine::tree::is_within(k, rel))
            .cloned(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dav() -> WebDav {
        WebDav::new("http://127.0.0.1:8080/dav/sync/", Options::default()).unwrap()
    }

    #[test]
    fn dates_in_rfc_1123_iso_8601_or_missing() {
        let s = 1_795_887_693_i64; // 2026-11-28T17:41:33Z
        let ns = s * 1_000_000_000;
        assert_eq!(parse_date("Sat, 28 Nov 2026 17:41:33 GMT"), Some(ns));
        assert_eq!(parse_date("2026-11-28T17:41:33Z"), Some(ns));
        assert_eq!(parse_date(" 2026-11-28T18:41:33+01:00 "), Some(ns));
        assert_eq!(
            parse_date("2026-11-28T17:41:33.25Z"),
            Some(ns + 250_000_000)
        );
        assert_eq!(parse_date("2026-11-28T17:41:33"), Some(ns));
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date(""), None);
        let d = dav();
        let item = xml::DavItem {
            href: "/dav/sync/a".into(),
            size: Some(1),
            ..Default::default()
        };
        assert_eq!(d.entry_of(&item).mtime, UNKNOWN_MTIME);
        assert_eq!(d.entry_of(&item).known_mtime(), None);
    }
}
