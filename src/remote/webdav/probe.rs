//! What the server was found to do, and Ferry's leftovers on it: the
//! write probe in a temporary `.ferry-probe-…` folder (`X-OC-Mtime`,
//! `PROPPATCH` mtime, `If-Match`, collection-tag propagation, `If:`-tagged
//! MOVE with strong and weak tags, `MOVE` with `Overwrite: F`, whether a
//! PUT broken off half-way leaves anything and whether `If-None-Match: *`
//! keeps a PUT off an existing file), the findings kept in the journal
//! (`export_state` / `import_state`), and the removal of interrupted
//! work's probe folders and upload temps once seen unchanged long enough.

use super::*;

/// What the server was found to offer. Listing properties are learnt from
/// listings; the write behaviours by a probe in a temporary `.ferry-probe-…`
/// folder on the first upload, kept in the journal (see
/// [`Remote::export_state`]) and re-done after a day.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    /// `Depth: infinity` listings work: one such PROPFIND of a nested tree
    /// (the write probe's folder, or a folder of a listing walked with
    /// `Depth: 1`) was seen to come back whole. A 207 alone proves nothing:
    /// some servers answer one level.
    pub depth_infinity: bool,
    /// When `depth_infinity` was last checked (Unix seconds; 0: never).
    /// Journals written before this field say nothing: their
    /// `depth_infinity` is checked again, not trusted.
    #[serde(default)]
    pub depth_infinity_checked_at: i64,
    /// Items carry `oc:fileid` (Nextcloud, ownCloud).
    pub file_ids: bool,
    /// A collection's ETag changes when something deep inside it changes.
    pub collection_etags_propagate: bool,
    /// `X-OC-Mtime` on PUT sets the modification time.
    pub x_oc_mtime: bool,
    /// `PROPPATCH getlastmodified` sets it (Sync-in).
    pub proppatch_mtime: bool,
    /// `If-Match` on PUT is honoured.
    pub if_match: bool,
    /// The RFC 4918 `If:` header is honoured (used on the publishing MOVE).
    pub if_header: bool,
    /// The server's file tags are only ever weak (`W/"…"`), and the `If:`
    /// header is honoured with them: a MOVE tagged with an outdated weak
    /// tag is refused and one with the current tag allowed.
    #[serde(default)]
    pub if_header_weak: bool,
    /// A MOVE with `Overwrite: F` onto an existing file is refused (412)
    /// and leaves both files as they were: a new file is published without
    /// a PROPFIND first to make sure its name is still free.
    #[serde(default)]
    pub overwrite_f: bool,
    /// A PUT broken off half-way (fewer bytes than its `Content-Length`,
    /// then the connection dropped) was seen to leave nothing at a new name
    /// and an existing file as it was, both while it was being sent and
    /// after: the server writes a PUT elsewhere and puts it in place when
    /// complete (Apache, nginx), never in place.
    #[serde(default)]
    pub atomic_put: bool,
    /// `If-None-Match: *` on a PUT was seen to let a new name through and
    /// to refuse (412) a PUT onto an existing file, leaving it as it was.
    #[serde(default)]
    pub if_none_match: bool,
    /// A `PROPFIND Depth: 0` was seen to answer exactly the item asked
    /// for: one item, its href that item's (a file, and a folder with a
    /// file in it), and 404 for a name that is not there. Scoped listings
    /// (`Remote::list_paths`) are used only then.
    #[serde(default)]
    pub depth0_exact: bool,
    /// When the write probe ran (Unix seconds; 0: not yet).
    pub probed_at: i64,
}

/// A leftover as Ferry first saw it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Sighting {
    /// Unix seconds.
    first_seen: i64,
    size: u64,
    etag: Option<String>,
    mtime: i64,
}

impl Sighting {
    fn of(e: &Entry, now_secs: i64) -> Sighting {
        Sighting {
            first_seen: now_secs,
            size: e.size,
            etag: e
                .etag
                .as_deref()
                .map(|t| t.trim_start_matches("W/").to_string()),
            mtime: e.mtime,
        }
    }

    /// The same item, untouched since (size, tag and date all equal).
    fn same(&self, other: &Sighting) -> bool {
        self.size == other.size && self.etag == other.etag && self.mtime == other.mtime
    }
}

/// How long after Ferry first saw a leftover, unchanged, it may go: an
/// upload temp may be another client's upload in progress (a large file on
/// a slow line), a probe folder another client's probe (seconds).
pub(super) const UPLOAD_TEMP_MIN_SECS: i64 = 24 * 3600;

pub(super) const PROBE_MIN_SECS: i64 = 10 * 60;

/// A sighting not seen again for this long is forgotten.
pub(super) const SIGHTING_FORGET_SECS: i64 = 7 * 24 * 3600;

/// The key of the sightings in the exported state.
pub(super) const SIGHTINGS_KEY: &str = "leftovers_seen";

/// Uploads' temps older than this (server mtime) are a killed upload's.
pub(super) const STALE_UPLOAD_NANOS: i64 = 24 * 3600 * 1_000_000_000;

/// Whether a listed item is a leftover of Ferry's own interrupted work that
/// may be removed: a probe folder at the root (`.ferry-probe-` and 16 hex
/// digits; its age is judged by when Ferry first saw it), or an upload temp
/// (`.ferry-up-` and 16 hex digits, `.part`) anywhere whose server mtime
/// is known and more than a day old. Nothing else ever matches.
pub(super) fn is_leftover(rel: &str, entry: &Entry, now_nanos: i64) -> bool {
    let name = crate::engine::tree::file_name(rel);
    if reserved::is_probe_dir(name) {
        return entry.kind == Kind::Dir && rel == name;
    }
    if reserved::is_upload_temp(name) {
        return entry.kind == Kind::File
            && entry.mtime > 0
            && now_nanos.saturating_sub(entry.mtime) > STALE_UPLOAD_NANOS;
    }
    false
}

/// A weak entity tag (`W/"…"`).
pub(super) fn is_weak(tag: &str) -> bool {
    tag.starts_with("W/")
}

impl WebDav {
    /// What was learnt about the server so far (without waiting).
    pub(super) fn probe(&self) -> Probe {
        let mut p = self.known.lock().unwrap_or_else(|e| e.into_inner()).clone();
        p.depth_infinity = self.infinity() == YES;
        p.depth_infinity_checked_at = if self.infinity() == UNKNOWN {
            0
        } else {
            self.infinity_checked_at.load(Ordering::Relaxed)
        };
        p.file_ids = self.file_ids.load(Ordering::Relaxed);
        p
    }

    /// The write probe's findings, running it first when they are missing
    /// or older than a day. Writes (and removes) a `.ferry-probe-…` folder.
    pub async fn write_probe(&self) -> Probe {
        let mut guard = self.written.lock().await;
        let now = jiff::Timestamp::now().as_second();
        if guard.probed_at == 0 || now - guard.probed_at > 24 * 3600 {
            *guard = self.run_write_probe().await;
            guard.probed_at = now;
            tracing::debug!(probe = ?*guard, base = %self.base, "probed the server");
            self.settle_probe(&guard);
        }
        guard.clone()
    }

    /// Settle `written`'s new value for [`probe`](Self::probe) (call with
    /// `written` held).
    pub(super) fn settle_probe(&self, written: &Probe) {
        *self.known.lock().unwrap_or_else(|e| e.into_inner()) = written.clone();
    }

    /// Find out, in a folder of our own, how the server treats writes.
    pub(super) async fn run_write_probe(&self) -> Probe {
        let mut p = Probe::default();
        let dir = reserved::probe_dir(rand::random::<u64>());
        let sub = join(&dir, "sub");
        let file = join(&sub, "f");
        if self.mkcol(&dir).await.is_err() || self.mkcol(&sub).await.is_err() {
            return p;
        }
        let collection_etag = |items: Option<Vec<xml::DavItem>>| {
            items
                .and_then(|i| i.into_iter().next())
                .and_then(|i| i.etag)
        };
        let before = collection_etag(self.propfind(&dir, true, "0").await.ok().flatten());
        const PROBE_MTIME: i64 = 1_000_000_000;
        let put = |extra: Option<(&'static str, String)>| {
            let mut rb = self
                .request(Method::PUT, self.url(&file, false))
                .header("X-OC-Mtime", PROBE_MTIME.to_string())
                .body("ferry probe");
            if let Some((k, v)) = extra {
                rb = rb.header(k, v);
            }
            rb.send()
        };
        if matches!(put(None).await, Ok(r) if r.status().is_success()) {
            let mtime = |e: Option<Entry>| e.map(|e| e.mtime / 1_000_000_000);
            p.x_oc_mtime = mtime(self.stat(&file).await.ok().flatten()) == Some(PROBE_MTIME);
            if !p.x_oc_mtime {
                p.proppatch_mtime = self.proppatch_mtime(&file, PROBE_MTIME).await.is_ok()
                    && mtime(self.stat(&file).await.ok().flatten()) == Some(PROBE_MTIME);
            }
            let after = collection_etag(self.propfind(&dir, true, "0").await.ok().flatten());
            p.depth0_exact = self.depth0_is_exact(&sub, &file).await;
            // `Depth: infinity` must bring back the folder, its sub-folder
            // and the file in it.
            self.check_infinity(&dir, &[sub.clone(), file.clone()])
                .await;
            p.collection_etags_propagate = before.is_some() && after.is_some() && before != after;
            let bogus = "\"ferry-probe-no-such-etag\"".to_string();
            p.if_match = matches!(
                put(Some(("If-Match", bogus.clone()))).await,
                Ok(r) if r.status() == StatusCode::PRECONDITION_FAILED
            );
            // Exactly what publishing does: a MOVE over an existing file,
            // conditional on the destination's entity tag (servers differ
            // between PUT and MOVE here).
            let other = join(&sub, "g");
            let made = self
                .request(Method::PUT, self.url(&other, false))
                .body("ferry probe 2")
                .send()
                .await;
            // The tag of a version of `f` that was then replaced: the MOVE
            // must be refused (a bogus tag alone is not enough: some servers
            // refuse that but let a real, outdated tag through).
            // A MOVE that must not replace (`Overwrite: F`) onto `f`: refused
            // on the destination, and both files still there as they were.
            if made.as_ref().is_ok_and(|m| m.status().is_success()) {
                let refused = matches!(
                    self.move_item(&other, &file, false, false).await,
                    Err(RemoteError::Changed { path }) if path == file
                );
                let size_of = |e: Option<Entry>| e.filter(|e| e.kind == Kind::File).map(|e| e.size);
                p.overwrite_f = refused
                    && size_of(self.stat(&file).await.ok().flatten())
                        == Some(b"ferry probe".len() as u64)
                    && size_of(self.stat(&other).await.ok().flatten())
                        == Some(b"ferry probe 2".len() as u64);
            }
            (p.atomic_put, p.if_none_match) = self.probe_put_publishing(&sub).await;
            let mut old_tag = self.stat(&file).await.ok().flatten().and_then(|e| e.etag);
            if old_tag.as_deref().is_some_and(is_weak) {
                // Apache's tags are weak for a second after a write; a tag
                // still weak after that is a server with weak tags only.
                tokio::time::sleep(Duration::from_millis(1100)).await;
                old_tag = self.stat(&file).await.ok().flatten().and_then(|e| e.etag);
            }
            let weak_only = old_tag.as_deref().is_some_and(is_weak);
            let replaced = self
                .request(Method::PUT, self.url(&file, false))
                .body("ferry probe, a longer second version")
                .send()
                .await;
            if let (Ok(m), Some(tag), Ok(r)) = (made, old_tag, replaced) {
                if m.status().is_success() && r.status().is_success() {
                    // Refused means 412 on the destination (a 404 for a
                    // source lost to a retried MOVE proves nothing).
                    let refused = matches!(
                        self.move_if(&other, &file, false, true, Some(&tag)).await,
                        Err(RemoteError::Changed { path }) if path == file
                    );
                    // …and the current tag, of the same kind, must let it
                    // through (some servers refuse every tag).
                    let mut current = self.stat(&file).await.ok().flatten().and_then(|e| e.etag);
                    if refused && !weak_only && current.as_deref().is_some_and(is_weak) {
                        // Apache again: just written, weak for a second.
                        tokio::time::sleep(Duration::from_millis(1100)).await;
                        current = self.stat(&file).await.ok().flatten().and_then(|e| e.etag);
                    }
                    let accepted = match current.filter(|t| is_weak(t) == weak_only) {
                        Some(t) if refused => self
                            .move_if(&other, &file, false, true, Some(&t))
                            .await
                            .is_ok(),
                        _ => false,
                    };
                    // Trusted only when both halves were seen to work.
                    if weak_only {
                        p.if_header_weak = refused && accepted;
                    } else {
                        p.if_header = refused && accepted;
                    }
                }
            }
        }
        // Our own probe folder: a plain DELETE, retried like any request
        // (a reset after the server did it then finds nothing: fine). What
        // a kill leaves is removed by a later pass (`clean_leftovers`).
        let url = self.url(&dir, true);
        if let Err(e) = self
            .send("DELETE", || Ok(self.request(Method::DELETE, url.clone())))
            .await
        {
            tracing::debug!(%dir, %e, "could not remove the probe folder");
        }
        p
    }

    /// Whether `Depth: 0` answers exactly the item asked for, seen in the
    /// probe's folder `sub` holding `file` alone (b"ferry probe"): the
    /// file, the folder (not what is in it), and 404 for a missing name.
    async fn depth0_is_exact(&self, sub: &str, file: &str) -> bool {
        let missing = join(sub, "missing");
        let (f, s, m) = tokio::join!(
            self.depth0(file, false),
            self.depth0(sub, true),
            self.depth0(&missing, false)
        );
        matches!(f, Ok(scoped::Depth0::Item(i)) if !i.is_collection && i.size == Some(b"ferry probe".len() as u64))
            && matches!(s, Ok(scoped::Depth0::Item(i)) if i.is_collection)
            && matches!(m, Ok(scoped::Depth0::Missing))
    }

    /// Whether a PUT publishes atomically and whether `If-None-Match: *`
    /// keeps it from replacing a file, found out in folder `sub` of the
    /// probe: `(atomic_put, if_none_match)`. Each is true only when seen
    /// working; a failed request, an unexpected answer or a file not as
    /// it should be means false.
    async fn probe_put_publishing(&self, sub: &str) -> (bool, bool) {
        const FIRST: &[u8] = b"ferry probe: if-none-match";
        const SECOND: &[u8] = b"ferry probe: if-none-match, not taken";
        let taken = join(sub, "n");
        let fresh = join(sub, "a");
        let put_if_none = |body: &'static [u8]| {
            self.request(Method::PUT, self.url(&taken, false))
                .header("If-None-Match", "*")
                .body(body)
                .send()
        };
        let first = put_if_none(FIRST).await.map(|r| r.status());
        let second = put_if_none(SECOND).await.map(|r| r.status());
        // What `taken` holds now: the second version where the condition
        // was ignored.
        let expected: &[u8] = match (&first, &second) {
            (Ok(f), Ok(s)) if f.is_success() && s.is_success() => SECOND,
            (Ok(f), _) if f.is_success() => FIRST,
            _ => return (false, false),
        };
        let content_of = |rel: &str| {
            let url = self.url(rel, false);
            async move {
                match self.request(Method::GET, url).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.ok(),
                    _ => None,
                }
            }
        };
        let if_none_match = expected == FIRST
            && matches!(second, Ok(StatusCode::PRECONDITION_FAILED))
            && content_of(&taken).await.as_deref() == Some(FIRST);
        // Two PUTs broken off half-way: onto `taken`, and to a new name.
        // While they are open (their first bytes sent and given time to
        // land) and once they are dropped, `fresh` must not exist and
        // `taken` must keep its size; at the end, its content.
        const SENT: usize = 64 * 1024;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let aborted =
            |rel: &str| {
                let mut stopped = stopped.clone();
                let head = futures_util::stream::iter([Ok::<_, std::io::Error>(
                    bytes::Bytes::from(vec![b'x'; SENT]),
                )]);
                let tail = futures_util::stream::once(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                    Err(std::io::Error::other("the probe breaks this upload off"))
                });
                self.request(Method::PUT, self.url(rel, false))
                    .header("Content-Length", 2 * SENT)
                    .body(reqwest::Body::wrap_stream(head.chain(tail)))
                    .send()
            };
        let intact = |e: Result<Option<Entry>, RemoteError>| matches!(e, Ok(Some(e)) if e.kind == Kind::File && e.size == expected.len() as u64);
        let look = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (fresh_now, taken_now) = tokio::join!(self.stat(&fresh), self.stat(&taken));
            let _ = stop.send(true);
            matches!(fresh_now, Ok(None)) && intact(taken_now)
        };
        let (_, _, while_sent) = tokio::join!(aborted(&fresh), aborted(&taken), look);
        // Time for the server to give up on them.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let fresh_after = self.stat(&fresh).await;
        let atomic = while_sent
            && matches!(fresh_after, Ok(None))
            && content_of(&taken).await.as_deref() == Some(expected);
        (atomic, if_none_match)
    }

    /// Set a file's modification time with PROPPATCH (Sync-in's way).
    pub(super) async fn proppatch_mtime(&self, rel: &str, secs: i64) -> Result<(), RemoteError> {
        let when = std::time::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:getlastmodified>{}</d:getlastmodified></d:prop></d:set></d:propertyupdate>"#,
            httpdate::fmt_http_date(when)
        );
        let url = self.url(rel, false);
        let (status, text) = self
            .send_read("PROPPATCH", rel, 1024 * 1024, || {
                Ok(self
                    .request(dav_method("PROPPATCH"), url.clone())
                    .header("Content-Type", "application/xml; charset=utf-8")
                    .body(body.clone()))
            })
            .await?;
        if status != StatusCode::MULTI_STATUS && !status.is_success() {
            return Err(status_error("PROPPATCH", rel, status));
        }
        // A 207 can still refuse the property: look for a failed propstat.
        let text = String::from_utf8_lossy(&text);
        if text.contains(" 403") || text.contains(" 409") || text.contains(" 424") {
            return Err(RemoteError::Http {
                message: format!(
                    "the server refused to set the modification time of {}",
                    item_name(rel)
                ),
                retryable: false,
            });
        }
        Ok(())
    }

    pub(super) fn export_state(&self) -> Option<String> {
        let p = self.probe();
        let sightings = self.sightings.lock().map(|s| s.clone()).unwrap_or_default();
        if p.probed_at == 0 && p.depth_infinity_checked_at == 0 && sightings.is_empty() {
            return None;
        }
        let mut v = serde_json::to_value(&p).ok()?;
        if !sightings.is_empty() {
            if let (Some(o), Ok(s)) = (v.as_object_mut(), serde_json::to_value(&sightings)) {
                o.insert(SIGHTINGS_KEY.into(), s);
            }
        }
        serde_json::to_string(&v).ok()
    }

    pub(super) fn import_state(&self, state: &str) {
        let seen = serde_json::from_str::<serde_json::Value>(state)
            .ok()
            .and_then(|mut v| v.get_mut(SIGHTINGS_KEY).map(serde_json::Value::take))
            .and_then(|v| {
                serde_json::from_value::<std::collections::BTreeMap<String, Sighting>>(v).ok()
            });
        if let (Some(seen), Ok(mut mine)) = (seen, self.sightings.lock()) {
            for (rel, s) in seen {
                mine.entry(rel).or_insert(s);
            }
        }
        if let Ok(p) = serde_json::from_str::<Probe>(state) {
            // `Depth: infinity` as last checked, if that is more recent than
            // what this process knows. A journal without the check's time
            // (an older version's, which trusted any 207) is checked again.
            let at = p.depth_infinity_checked_at;
            if at > self.infinity_checked_at.load(Ordering::Relaxed) {
                self.depth_infinity
                    .store(if p.depth_infinity { YES } else { NO }, Ordering::Relaxed);
                self.infinity_checked_at.store(at, Ordering::Relaxed);
            }
            if p.file_ids {
                self.file_ids.store(true, Ordering::Relaxed);
            }
            if let Ok(mut w) = self.written.try_lock() {
                if p.probed_at >= w.probed_at {
                    *w = p;
                    self.settle_probe(&w);
                }
            }
        }
    }

    pub(super) async fn clean_leftovers(&self) {
        let found = match self.leftovers.lock() {
            Ok(mut l) => std::mem::take(&mut *l),
            Err(_) => return,
        };
        let now_secs = jiff::Timestamp::now().as_second();
        // Age is counted from when Ferry first saw the leftover as it is
        // now (a changed one is seen anew), never from its server date.
        let mut ripe = Vec::new();
        if let Ok(mut sightings) = self.sightings.lock() {
            for (rel, seen) in &found {
                let now = Sighting::of(seen, now_secs);
                let min_age = if seen.kind == Kind::Dir {
                    PROBE_MIN_SECS
                } else {
                    UPLOAD_TEMP_MIN_SECS
                };
                match sightings.get(rel) {
                    Some(first) if first.same(&now) => {
                        if now_secs.saturating_sub(first.first_seen) >= min_age {
                            ripe.push((rel.clone(), seen.clone(), first.clone()));
                        }
                    }
                    _ => {
                        sightings.insert(rel.clone(), now);
                    }
                }
            }
            sightings.retain(|rel, s| {
                found.iter().any(|(r, _)| r == rel)
                    || now_secs.saturating_sub(s.first_seen) < SIGHTING_FORGET_SECS
            });
        }
        for (rel, seen, first) in ripe {
            // Still exactly what was first seen (a temp may have been
            // written again meanwhile by another upload of that version).
            match self.stat(&rel).await {
                Ok(Some(now))
                    if now.kind == seen.kind && Sighting::of(&now, now_secs).same(&first) => {}
                other => {
                    tracing::debug!(%rel, ?other, "leftover changed or gone; kept");
                    continue;
                }
            }
            if let Ok(mut sightings) = self.sightings.lock() {
                sightings.remove(&rel);
            }
            let dir = seen.kind == Kind::Dir;
            match self
                .request(Method::DELETE, self.url(&rel, dir))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() || r.status() == StatusCode::NOT_FOUND => {
                    tracing::info!(%rel, "removed a leftover of interrupted work from the server");
                }
                Ok(r) => tracing::debug!(%rel, status = %r.status(), "could not remove a leftover"),
                Err(e) => tracing::debug!(%rel, %e, "could not remove a leftover"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: Kind, mtime_secs: i64) -> Entry {
        Entry {
            kind,
            size: 3,
            mtime: mtime_secs * 1_000_000_000,
            id: None,
            etag: None,
            hash: None,
        }
    }

    #[test]
    fn only_ferrys_own_leftovers_are_taken_for_leftovers() {
        let now_secs = 2_000_000_000;
        let now = now_secs * 1_000_000_000;
        let two_days_ago = now_secs - 2 * 24 * 3600;
        let an_hour_ago = now_secs - 3600;
        let probe = ".ferry-probe-0123456789abcdef";
        let temp = "a/.ferry-up-0123456789abcdef.part";
        // Probe folders at the root, any age.
        assert!(is_leftover(probe, &entry(Kind::Dir, an_hour_ago), now));
        assert!(is_leftover(probe, &entry(Kind::Dir, two_days_ago), now));
        assert!(!is_leftover(probe, &entry(Kind::File, two_days_ago), now));
        assert!(!is_leftover(
            &format!("a/{probe}"),
            &entry(Kind::Dir, two_days_ago),
            now
        ));
        assert!(!is_leftover(
            ".ferry-probe-notes",
            &entry(Kind::Dir, two_days_ago),
            now
        ));
        assert!(!is_leftover(
            ".ferry-probe-0123456789abcdeg",
            &entry(Kind::Dir, two_days_ago),
            now
        ));
        // Upload temps anywhere, older than a day by a known mtime.
        assert!(is_leftover(temp, &entry(Kind::File, two_days_ago), now));
        assert!(is_leftover(
            ".ferry-up-0123456789abcdef.part",
            &entry(Kind::File, two_days_ago),
            now
        ));
        assert!(!is_leftover(temp, &entry(Kind::File, an_hour_ago), now));
        assert!(!is_leftover(temp, &entry(Kind::File, 0), now));
        assert!(!is_leftover(temp, &entry(Kind::Dir, two_days_ago), now));
        for name in [
            "a/.ferry-up-0123456789abcdef.part.txt",
            "a/.ferry-up-0123456789abcde.part",
            "a/.ferry-up-.part",
            "a/.ferry-trash",
            "a/.ferry-dl-0123456789abcdef.part",
            "a/ferry-up-0123456789abcdef.part",
        ] {
            assert!(
                !is_leftover(name, &entry(Kind::File, two_days_ago), now),
                "{name}"
            );
        }
    }

    fn dav() -> WebDav {
        WebDav::new("http://127.0.0.1:8080/dav/sync/", Options::default()).unwrap()
    }

    #[test]
    fn the_findings_read_the_same_while_other_uploads_read_them() {
        // Reading the findings once failed (as "not probed") whenever
        // another upload was reading them at that instant.
        let d = std::sync::Arc::new(dav());
        let now = jiff::Timestamp::now().as_second();
        d.import_state(&format!(
            r#"{{"depth_infinity":false,"file_ids":false,"collection_etags_propagate":false,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":true,"if_header":true,"atomic_put":true,"if_none_match":true,"probed_at":{now}}}"#
        ));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let d = d.clone();
                std::thread::spawn(move || {
                    (0..50_000)
                        .filter(|_| {
                            let p = d.probe();
                            p.probed_at != now || !p.atomic_put
                        })
                        .count()
                })
            })
            .collect();
        let missed: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert_eq!(missed, 0, "findings read as not seen");
    }

    #[test]
    fn an_old_journal_saying_infinity_works_is_not_trusted() {
        let d = dav();
        d.import_state(r#"{"depth_infinity":true,"file_ids":false,"collection_etags_propagate":false,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":true,"if_header":false,"probed_at":1795880000}"#);
        assert_eq!(d.infinity(), UNKNOWN);
        // A recent check is kept.
        let now = jiff::Timestamp::now().as_second();
        d.import_state(&format!(
            r#"{{"depth_infinity":true,"depth_infinity_checked_at":{now},"file_ids":false,"collection_etags_propagate":false,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":true,"if_header":false,"probed_at":{now}}}"#
        ));
        assert_eq!(d.infinity(), YES);
        let exported: Probe = serde_json::from_str(&d.export_state().unwrap()).unwrap();
        assert!(exported.depth_infinity && exported.depth_infinity_checked_at == now);
        // A day later it is checked again.
        d.infinity_checked_at
            .store(now - RECHECK_SECS - 1, Ordering::Relaxed);
        assert_eq!(d.infinity(), UNKNOWN);
    }
}
