//! Hrefs read as paths, and paths written as URLs: an href is cut after
//! its server part, split at `/`, each segment percent-decoded once; an
//! href outside the listed collection rejects the listing, an unusable one
//! skips its item (reported, its place unobserved). A server that sends
//! raw `#`, `?`, spaces or lone `%` makes `%XX` ambiguous: both readings
//! are asked for directly.

use super::*;

/// Characters kept as they are in a path segment; all others are encoded.
pub(super) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An href that names nothing usable: that item is skipped and reported.
pub(super) struct Unusable {
    /// The item's path where its `displayname` says, else its folder's.
    path: String,
    message: String,
}

/// Report unusable hrefs: each is a problem, and its place is kept as the
/// base says (see [`Listing::unobserved`]).
pub(super) fn note_unusable(listing: &mut Listing, unusable: Vec<Unusable>) {
    for u in unusable {
        listing.problems.push(Problem {
            path: u.path.clone(),
            side: Some(Side::Remote),
            message: u.message,
        });
        listing.unobserved.push(u.path);
    }
}

/// `http://` or `https://` (any case) and what follows it.
pub(super) fn split_scheme(href: &str) -> Option<(&'static str, &str)> {
    for scheme in ["http", "https"] {
        let n = scheme.len() + 3;
        if href
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
            && href.get(scheme.len()..n) == Some("://")
        {
            return Some((scheme, &href[n..]));
        }
    }
    None
}

/// The segments of an href's path, each percent-decoded once (empty
/// segments dropped). `None`: a segment is not UTF-8 once decoded.
pub(super) fn href_segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|d| d.into_owned())
        })
        .collect()
}

/// Whether an href holds what no URL holds raw: a `#`, `?` or space in its
/// path, or a `%` that does not start an escape. (Servers that do this
/// send a `%` in a name as it is.)
pub(super) fn sends_raw(href: &str) -> bool {
    let raw = href.trim();
    let path = match split_scheme(raw) {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => raw,
    };
    let b = path.as_bytes();
    b.iter().enumerate().any(|(i, c)| match c {
        b'#' | b'?' | b' ' => true,
        b'%' => !(b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()),
        _ => false,
    })
}

/// The same item, as far as two answers of the server can tell: one kind,
/// and for files one size; one entity tag and one file id where both say.
pub(super) fn same_item(a: &Entry, b: &Entry) -> bool {
    let agree = |x: &Option<Box<str>>, y: &Option<Box<str>>| match (x, y) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    a.kind == b.kind
        && (a.kind == Kind::Dir || a.size == b.size)
        && (a.kind == Kind::Dir || agree(&a.etag, &b.etag))
        && agree(&a.id, &b.id)
}

/// A folder as error messages name it.
pub(super) fn folder_name(rel: &str) -> String {
    if rel.is_empty() {
        "the synchronized folder".to_string()
    } else {
        format!("folder {rel:?}")
    }
}

impl WebDav {
    /// The URL of a relative path (`""` is the root); `dir` adds a `/`.
    pub(super) fn url(&self, rel: &str, dir: bool) -> reqwest::Url {
        let mut s = self.base.as_str().to_string();
        for (i, seg) in rel.split('/').filter(|s| !s.is_empty()).enumerate() {
            if i > 0 {
                s.push('/');
            }
            s.extend(utf8_percent_encode(seg, SEGMENT));
        }
        if dir && !s.ends_with('/') {
            s.push('/');
        }
        // Joining encoded segments onto a valid base cannot fail to parse.
        reqwest::Url::parse(&s).unwrap_or_else(|_| self.base.clone())
    }

    /// What an href names, relative to the root, for a listing of folder
    /// `within`. Hrefs are paths: an absolute URL is cut after its server
    /// part and the rest taken literally (a raw `#` or `?` is part of a
    /// name, not a fragment or a query), then split at `/` and each segment
    /// percent-decoded once (a `%` not followed by two hex digits stays).
    ///
    /// `Ok(Err(_))`: the href is empty or does not decode; that item is
    /// skipped and reported. `Err`: the href lies outside `within` (another
    /// server, another folder, an unsafe folder segment): the listing is
    /// rejected, naming `within`.
    pub(super) fn rel_of(
        &self,
        href: &str,
        within: &str,
    ) -> Result<Result<String, String>, RemoteError> {
        let within = within.trim_matches('/');
        let reject = |why: &str| {
            RemoteError::Protocol(format!(
                "the listing of {} was rejected: the server listed {href:?}, {why}",
                folder_name(within)
            ))
        };
        let raw = href.trim();
        if raw.is_empty() {
            return Ok(Err("the server sent an empty href".into()));
        }
        let path = match split_scheme(raw) {
            Some((scheme, rest)) => {
                let end = rest.find('/').unwrap_or(rest.len());
                let origin = reqwest::Url::parse(&format!("{scheme}://{}/", &rest[..end]))
                    .map_err(|_| reject("whose server part cannot be read"))?;
                if origin.host_str() != self.base.host_str()
                    || origin.port_or_known_default() != self.base.port_or_known_default()
                {
                    return Err(reject("which points to another server"));
                }
                &rest[end..]
            }
            None if raw.starts_with('/') => raw,
            None => return Err(reject("which is not a path")),
        };
        let Some(segments) = href_segments(path) else {
            return Ok(Err(format!("the href {href:?} is not UTF-8 once decoded")));
        };
        // A server that does not encode names sends a folder `a%20b` as it
        // is: its segment matches literally.
        let raw = self.raw_hrefs.load(Ordering::Relaxed);
        let mut literal = path.split('/').filter(|s| !s.is_empty());
        let wanted = self
            .base_segments
            .iter()
            .map(String::as_str)
            .chain(within.split('/').filter(|s| !s.is_empty()));
        let mut segments = segments.into_iter();
        for w in wanted {
            let lit = literal.next();
            if segments.next().as_deref() != Some(w) && !(raw && lit == Some(w)) {
                return Err(reject("which is outside the folder asked for"));
            }
        }
        let rest: Vec<String> = segments.collect();
        // Every folder segment must be safe; a bad last segment is reported
        // per item by the caller (the name must be one the folder can hold).
        if let Some(bad) = rest[..rest.len().saturating_sub(1)]
            .iter()
            .find(|s| check_segment(s).is_err())
        {
            return Err(reject(&format!("whose folder segment {bad:?} is unsafe")));
        }
        if rest.last().is_some_and(|s| s.contains('/')) {
            return Ok(Err(format!(
                "the href {href:?} names an item with a `/` in its name"
            )));
        }
        let mut rel = within.to_string();
        for seg in rest {
            rel = join(&rel, &seg);
        }
        Ok(Ok(rel))
    }

    /// The items of a listing of folder `within` with their relative
    /// paths, and those whose href is unusable (skipped, to be reported).
    /// A listing none of whose hrefs can be used is rejected, naming the
    /// folder.
    #[allow(clippy::type_complexity)]
    pub(super) fn resolve<'a>(
        &self,
        items: &'a [xml::DavItem],
        within: &str,
    ) -> Result<(Vec<(String, &'a xml::DavItem)>, Vec<Unusable>), RemoteError> {
        let within = within.trim_matches('/');
        if !self.raw_hrefs.load(Ordering::Relaxed) && items.iter().any(|i| sends_raw(&i.href)) {
            tracing::info!(base = %self.base, "the server sends hrefs without percent-encoding: names with a %XX in them are checked one by one");
            self.raw_hrefs.store(true, Ordering::Relaxed);
        }
        let mut rows = Vec::with_capacity(items.len());
        let mut unusable = Vec::new();
        for item in items {
            match self.rel_of(&item.href, within)? {
                Ok(rel) => rows.push((rel, item)),
                Err(why) => {
                    let named = item
                        .display_name
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| check_segment(n).is_ok())
                        .map(crate::engine::path::nfc);
                    let (path, message) = match named {
                        Some(n) => (
                            join(within, &n),
                            format!(
                                "{why}: this item was skipped; nothing is taken as deleted here while it lasts"
                            ),
                        ),
                        None => (
                            within.to_string(),
                            format!(
                                "{why} for an item in this folder: it was skipped; nothing in this folder is taken as deleted while it lasts"
                            ),
                        ),
                    };
                    unusable.push(Unusable { path, message });
                }
            }
        }
        if rows.is_empty() && !items.is_empty() {
            return Err(RemoteError::Protocol(format!(
                "the listing of {} was rejected: none of its hrefs names an item ({})",
                folder_name(within),
                unusable
                    .first()
                    .map(|u| u.message.as_str())
                    .unwrap_or_default()
            )));
        }
        Ok((rows, unusable))
    }

    /// The literal last segment of a resolved item's href where it is
    /// ambiguous: on a server seen not to encode names (see
    /// [`WebDav::raw_hrefs`]), an escape `%XX` in it may be a `%` and two
    /// characters of the name as well as the character it encodes.
    pub(super) fn ambiguous(&self, href: &str) -> Option<String> {
        if !self.raw_hrefs.load(Ordering::Relaxed) {
            return None;
        }
        let last = href.trim().trim_end_matches('/').rsplit('/').next()?;
        let decoded = percent_decode_str(last).decode_utf8().ok()?;
        (decoded != last).then(|| last.to_string())
    }

    /// Settle the ambiguous names of a Depth 1 listing of `within` (see
    /// [`WebDav::ambiguous`]) with a direct request for each reading, the
    /// decoded one and the literal one: the item is taken under the one
    /// reading the server has as that item; with none or both, it is
    /// skipped and reported (nothing in `within` is then taken as deleted).
    pub(super) async fn settle_escapes<'a>(
        &self,
        rows: Vec<(String, &'a xml::DavItem)>,
        unusable: &mut Vec<Unusable>,
        within: &str,
    ) -> Result<Vec<(String, &'a xml::DavItem)>, RemoteError> {
        let within = within.trim_matches('/');
        let mut out = Vec::with_capacity(rows.len());
        for (rel, item) in rows {
            let literal = match self.ambiguous(&item.href) {
                Some(lit) if rel != within => join(parent(&rel), &lit),
                _ => {
                    out.push((rel, item));
                    continue;
                }
            };
            let listed = self.entry_of(item);
            let mut found = Vec::new();
            for reading in [&rel, &literal] {
                if check_segment(crate::engine::tree::file_name(reading)).is_err() {
                    continue;
                }
                let now = self.propfind(reading, item.is_collection, "0").await?;
                if now
                    .as_ref()
                    .and_then(|i| i.first())
                    .is_some_and(|i| same_item(&self.entry_of(i), &listed))
                {
                    found.push(reading.clone());
                }
            }
            match found.as_slice() {
                [one] => {
                    tracing::debug!(href = %item.href, rel = %one, "an ambiguous href checked");
                    out.push((one.clone(), item));
                }
                _ => unusable.push(Unusable {
                    path: within.to_string(),
                    message: format!(
                        "the server sends names without percent-encoding, and its href {:?} may name {rel:?} or {literal:?}; {}: it was skipped; nothing in this folder is taken as deleted while it lasts",
                        item.href,
                        if found.is_empty() {
                            "it has neither"
                        } else {
                            "it has both"
                        }
                    ),
                }),
            }
        }
        if out.is_empty() && !unusable.is_empty() {
            return Err(RemoteError::Protocol(format!(
                "the listing of {} was rejected: none of its hrefs names an item",
                folder_name(within)
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dav() -> WebDav {
        WebDav::new("http://127.0.0.1:8080/dav/sync/", Options::default()).unwrap()
    }

    #[test]
    fn hrefs_are_paths_with_raw_hash_percent_ampersand_plus_and_question_mark() {
        let d = dav();
        let ok = |href: &str, within: &str| d.rel_of(href, within).unwrap().unwrap();
        assert_eq!(ok("/dav/sync/hash#.txt", ""), "hash#.txt");
        assert_eq!(
            ok("http://127.0.0.1:8080/dav/sync/odd%20dir%20#%&+/", ""),
            "odd dir #%&+"
        );
        assert_eq!(ok("HTTP://127.0.0.1:8080/dav/sync/a?b=c#d", ""), "a?b=c#d");
        assert_eq!(ok("/dav/sync/100%25 done%", ""), "100% done%");
        assert_eq!(ok("/dav/sync/x/y%23z", "x"), "x/y#z");
        assert_eq!(ok("/dav/sync/x/", "x"), "x");
        assert_eq!(ok("/dav/sync", ""), "");
        // An encoded `/` stays inside its segment (and the name is then
        // refused per item, by the name check).
        // An encoded `/` is no name a folder can hold: that item is skipped.
        assert!(d.rel_of("/dav/sync/a%2Fb", "").unwrap().is_err());
    }

    #[test]
    fn an_unusable_href_skips_the_item_and_an_outside_one_rejects_the_listing() {
        let d = dav();
        assert!(d.rel_of("", "").unwrap().is_err());
        assert!(d.rel_of("  ", "x").unwrap().is_err());
        assert!(d.rel_of("/dav/sync/%FF", "").unwrap().is_err());
        for (href, within) in [
            ("http://other:8080/dav/sync/a", ""),
            ("http://127.0.0.1:8081/dav/sync/a", ""),
            ("/dav/other/a", ""),
            ("/dav/sync/y/a", "x"),
            ("/dav/sync/../a/b", ""),
            ("relative.txt", ""),
        ] {
            let e = d.rel_of(href, within).unwrap_err().to_string();
            assert!(e.contains("rejected"), "{href}: {e}");
        }
        let e = d.rel_of("/dav/elsewhere/a", "some/folder").unwrap_err();
        assert!(e.to_string().contains("\"some/folder\""), "{e}");
    }

    #[test]
    fn a_listing_with_no_usable_href_is_rejected_naming_its_folder() {
        let d = dav();
        let items = vec![xml::DavItem::default(), xml::DavItem::default()];
        let e = d.resolve(&items, "docs/2026").err().unwrap().to_string();
        assert!(e.contains("folder \"docs/2026\""), "{e}");
        let mut named = xml::DavItem {
            display_name: Some("lost #1.txt".into()),
            ..Default::default()
        };
        let good = xml::DavItem {
            href: "/dav/sync/docs/".into(),
            ..Default::default()
        };
        let both = [good.clone(), named.clone()];
        let (rows, unusable) = d.resolve(&both, "docs").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(unusable[0].path, "docs/lost #1.txt");
        named.display_name = None;
        let both = [good, named];
        let (_, unusable) = d.resolve(&both, "docs").unwrap();
        assert_eq!(unusable[0].path, "docs");
    }
}
