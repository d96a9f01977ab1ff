//! Writes that put something in place: missing folders (MKCOL of the
//! missing ones only, the remote root on request), uploads and renames.
//!
//! An upload is a PUT to a `.ferry-up-<hash>.part` temp hashed on the way,
//! a size check, then a MOVE over the planned version, tagged with `If:`
//! where the probe saw that work, or for a new file with `Overwrite: F`
//! alone where the probe saw it refused. A new file (nothing replaced, no
//! backup) is instead one PUT straight to its name with `If-None-Match: *`
//! where the write probe saw both that a PUT broken off half-way leaves
//! nothing behind (`Probe::atomic_put`) and that the condition refuses a
//! PUT onto an existing file (`Probe::if_none_match`); its source is
//! looked at again before the last block goes, and the PUT broken off if
//! it changed. Either way the stored entry is read back once (PROPFIND)
//! for the journal.

use super::*;
use crate::remote::bandwidth::Pacer;

/// Where the hash of an upload's content lands: the hasher of the last
/// attempt to send it.
pub(super) type HashCell = std::sync::Arc<std::sync::Mutex<Option<Hasher>>>;
/// Gives the hash of exactly `size` bytes, or `None` when it saw another
/// count (the file changed, or the request was dropped early).
pub(super) type Hasher = tokio::task::JoinHandle<Option<Hash>>;

/// The body of an upload: a thread reads `file` in 1 MiB blocks and another
/// hashes them (the same bytes, shared) while they are sent, so that the
/// socket never waits for SHA-256 (at most 4 blocks in flight to each:
/// flat memory). The hasher goes into `out`, replacing an earlier
/// attempt's.
///
/// With a limit set on `pacer`, blocks go out in pieces no faster than
/// it allows (with none, as they are read: one atomic read per block).
///
/// With `unchanged` (the source's path and the entry it was planned with),
/// the file is looked at again once every byte was read, before the last
/// block is handed over: changed meanwhile, the body ends in an error and
/// the request is broken off (on a server that publishes a PUT only when
/// complete, nothing of it is stored).
///
/// Each block (or piece) taken by the connection marks `progress`.
pub(super) fn read_and_hash(
    file: std::fs::File,
    size: u64,
    out: &HashCell,
    unchanged: Option<(PathBuf, Entry)>,
    pacer: Pacer,
    progress: &Progress,
) -> reqwest::Body {
    let progress = progress.clone();
    reqwest::Body::wrap_stream(
        read_and_hash_blocks(file, size, out, unchanged, pacer).inspect(move |block| {
            if let Ok(block) = block {
                progress.moved(block.len());
            }
        }),
    )
}

/// The blocks of [`read_and_hash`]'s body.
fn read_and_hash_blocks(
    mut file: std::fs::File,
    size: u64,
    out: &HashCell,
    unchanged: Option<(PathBuf, Entry)>,
    pacer: Pacer,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    use std::io::Read;
    const BLOCK: usize = 1024 * 1024;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let (to_hasher, blocks) = std::sync::mpsc::sync_channel::<bytes::Bytes>(4);
    let hasher: Hasher = tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        let mut seen = 0u64;
        for block in blocks {
            seen += block.len() as u64;
            if seen <= size {
                hasher.update(&block);
            }
        }
        (seen == size).then(|| hasher.finalize().into())
    });
    if let Ok(mut o) = out.lock() {
        *o = Some(hasher);
    }
    std::thread::spawn(move || {
        let mut seen = 0u64;
        loop {
            let mut buf = vec![0u8; BLOCK];
            let mut filled = 0;
            let result = loop {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        filled += n;
                        if filled == BLOCK {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            if filled == 0 {
                return;
            }
            buf.truncate(filled);
            seen += filled as u64;
            // Before the last block goes out: the request may complete
            // (Content-Length reached) without reading to the end.
            if seen == size {
                if let Some((path, expect)) = &unchanged {
                    let now = std::fs::metadata(path)
                        .map(|m| crate::fsops::entry_of(path, &m, Kind::File));
                    if !now.is_ok_and(|now| crate::fsops::same_item(&now, expect)) {
                        let _ = tx.blocking_send(Err(std::io::Error::other(
                            "the file changed while it was sent",
                        )));
                        return;
                    }
                }
            }
            let block = bytes::Bytes::from(buf);
            if to_hasher.send(block.clone()).is_err() {
                return;
            }
            if tx.blocking_send(Ok(block)).is_err() {
                return; // the request was dropped
            }
        }
    });
    // `rest`: what is left of a block going out in pieces (limited only).
    let state = (rx, pacer, bytes::Bytes::new());
    futures_util::stream::unfold(state, |(mut rx, mut pacer, mut rest)| async move {
        if rest.is_empty() {
            match rx.recv().await? {
                Ok(block) if pacer.limited() => rest = block,
                item => return Some((item, (rx, pacer, rest))),
            }
        }
        let piece = rest.split_to(pacer.piece().min(rest.len()));
        pacer.pass(piece.len()).await;
        Some((Ok(piece), (rx, pacer, rest)))
    })
}

/// The hash of what a PUT sent: its hasher's, once every one of the
/// `size` bytes went through it (none: the source was shorter or longer
/// than planned, or the request was dropped early).
async fn sent_hash(cell: &HashCell, src: &Path, size: u64) -> Result<Hash, RemoteError> {
    if size == 0 {
        return Ok(Sha256::digest(b"").into());
    }
    let hasher = cell.lock().ok().and_then(|mut h| h.take());
    let hash = match hasher {
        Some(h) => h.await.ok().flatten(),
        None => None,
    };
    hash.ok_or_else(|| RemoteError::SourceChanged(src.display().to_string()))
}

impl WebDav {
    /// Create folder `rel` and those of its parents that are missing, all
    /// inside the sync root (never above it). The common case, the parent
    /// exists, is one MKCOL. When the server says a parent is missing, the
    /// first missing folder is found with `PROPFIND Depth: 0` downwards
    /// from the root (deletions' `.ferry-trash/<time>/…` folders are
    /// missing right below the trash) and only the missing segments are
    /// created, top down.
    pub(super) async fn mkdirs(&self, rel: &str) -> Result<(), RemoteError> {
        let rel = rel.trim_matches('/');
        if rel.is_empty() {
            return Ok(());
        }
        match self.mkcol(rel).await {
            Err(RemoteError::Conflict(_)) => {}
            other => return other,
        }
        let ends: Vec<usize> = rel
            .match_indices('/')
            .map(|(i, _)| i)
            .chain([rel.len()])
            .collect();
        let mut first_missing = ends.len() - 1;
        for (n, &end) in ends[..ends.len() - 1].iter().enumerate() {
            let folder = &rel[..end];
            match self.stat(folder).await? {
                Some(e) if e.kind == Kind::Dir => {}
                Some(_) => {
                    return Err(RemoteError::Changed {
                        path: folder.to_string(),
                    });
                }
                None => {
                    first_missing = n;
                    break;
                }
            }
        }
        for &end in &ends[first_missing..] {
            self.mkcol(&rel[..end]).await?;
        }
        Ok(())
    }

    pub(super) async fn mkcol(&self, rel: &str) -> Result<(), RemoteError> {
        let url = self.url(rel, true);
        let resp = self
            .send("MKCOL", || {
                Ok(self.request(dav_method("MKCOL"), url.clone()))
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            // Exists already (405: Apache, nginx; 403: Apache when another
            // request created it a moment ago): fine if it is a folder.
            s @ (StatusCode::METHOD_NOT_ALLOWED | StatusCode::FORBIDDEN) => {
                match self.stat(rel).await? {
                    Some(e) if e.kind == Kind::Dir => Ok(()),
                    _ if s == StatusCode::FORBIDDEN => Err(status_error("MKCOL", rel, s)),
                    Some(e) if e.kind == Kind::Dir => Ok(()),
                    _ => Err(RemoteError::Changed {
                        path: rel.to_string(),
                    }),
                }
            }
            StatusCode::CONFLICT | StatusCode::NOT_FOUND => {
                Err(RemoteError::Conflict(rel.to_string()))
            }
            s => Err(status_error("MKCOL", rel, s)),
        }
    }

    /// PUT the content of `src` to `url` (creating missing parent folders
    /// once), hashing it on the way into `hash_cell`. `new_file`: straight
    /// to the file's own name, with `If-None-Match: *` (a 412 means the
    /// name was taken meanwhile: `Changed`), the request broken off if the
    /// source changes while it is sent, and a source found changed before
    /// an attempt ends it (`SourceChanged`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn put_file(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        url: &reqwest::Url,
        mtime_secs: &str,
        hash_cell: &HashCell,
        new_file: bool,
    ) -> Result<(), RemoteError> {
        let mut tried_parents = false;
        let progress = Progress::new(src_expect.size);
        loop {
            let resp = self
                .send_watched("PUT", &progress, || {
                    let file = std::fs::File::open(src)
                        .map_err(|e| RemoteError::Local(format!("open {}: {e}", src.display())))?;
                    let meta = file
                        .metadata()
                        .map_err(|e| RemoteError::Local(format!("stat {}: {e}", src.display())))?;
                    let changed = if new_file {
                        let now = crate::fsops::entry_of(src, &meta, Kind::File);
                        !crate::fsops::same_item(&now, src_expect)
                    } else {
                        meta.len() != src_expect.size
                    };
                    if changed {
                        return Err(RemoteError::SourceChanged(src.display().to_string()));
                    }
                    let unchanged = new_file.then(|| (src.to_path_buf(), src_expect.clone()));
                    let stream = read_and_hash(
                        file,
                        src_expect.size,
                        hash_cell,
                        unchanged,
                        self.bandwidth.up.pacer(),
                        &progress,
                    );
                    let mut rb = self
                        .transfer_request(Method::PUT, url.clone())
                        .header("Content-Length", src_expect.size)
                        .header("X-OC-Mtime", mtime_secs);
                    if new_file {
                        rb = rb.header("If-None-Match", "*");
                    }
                    Ok(rb.body(stream))
                })
                .await?;
            match resp.status() {
                s if s.is_success() => return Ok(()),
                StatusCode::PRECONDITION_FAILED if new_file => {
                    return Err(RemoteError::Changed {
                        path: path.to_string(),
                    });
                }
                StatusCode::CONFLICT | StatusCode::NOT_FOUND if !tried_parents => {
                    tried_parents = true;
                    self.mkdirs(parent(path)).await?;
                }
                s => return Err(status_error("PUT", path, s)),
            }
        }
    }

    /// Where the server ignores `X-OC-Mtime` but the probe saw `PROPPATCH`
    /// set the date: set it (a failure only means the server's own date).
    async fn set_mtime_after_put(&self, path: &str, src_expect: &Entry, probe: &Probe) {
        if !probe.x_oc_mtime && probe.proppatch_mtime {
            let secs = src_expect.mtime.div_euclid(1_000_000_000);
            if let Err(e) = self.proppatch_mtime(path, secs).await {
                tracing::debug!(%path, %e, "could not set the modification time");
            }
        }
    }

    /// Whether a new file may be PUT straight to its name: the write probe
    /// (already run, not older than a day: the first upload of a run goes
    /// the temp way while the probe runs) saw the server publish a PUT
    /// only when complete and refuse one with `If-None-Match: *` onto an
    /// existing file.
    fn puts_new_files_directly(&self) -> bool {
        let known = self.probe();
        let now = jiff::Timestamp::now().as_second();
        known.probed_at > 0
            && now - known.probed_at <= 24 * 3600
            && known.atomic_put
            && known.if_none_match
    }

    /// A new file in one request: PUT to its name with `If-None-Match: *`
    /// (see [`puts_new_files_directly`](Self::puts_new_files_directly)),
    /// then its entry as stored (its tags, for the journal).
    async fn upload_new(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        mtime_secs: &str,
    ) -> Result<(Entry, Hash), RemoteError> {
        let url = self.url(path, false);
        let hash_cell = HashCell::default();
        self.put_file(path, src, src_expect, &url, mtime_secs, &hash_cell, true)
            .await?;
        let hash = sent_hash(&hash_cell, src, src_expect.size).await?;
        self.set_mtime_after_put(path, src_expect, &self.probe())
            .await;
        match self.stat(path).await? {
            Some(e) if e.kind == Kind::File && e.size == src_expect.size => Ok((e, hash)),
            Some(e) if e.kind == Kind::File => Err(RemoteError::Protocol(format!(
                "the server stored a different size for {path}"
            ))),
            _ => Err(RemoteError::Changed {
                path: path.to_string(),
            }),
        }
    }

    /// MOVE `from` to `to` (both relative); `overwrite` replaces.
    pub(super) async fn move_item(
        &self,
        from: &str,
        to: &str,
        dir: bool,
        overwrite: bool,
    ) -> Result<(), RemoteError> {
        self.move_if(from, to, dir, overwrite, None).await
    }

    /// MOVE, optionally only if the destination still has entity tag
    /// `dest_etag` (RFC 4918 tagged `If:` list; 412 otherwise).
    pub(super) async fn move_if(
        &self,
        from: &str,
        to: &str,
        dir: bool,
        overwrite: bool,
        dest_etag: Option<&str>,
    ) -> Result<(), RemoteError> {
        let src = self.url(from, dir);
        let dst = self.url(to, dir);
        let condition = dest_etag.map(|t| format!("<{dst}> ([{t}])"));
        let build = || {
            let mut rb = self
                .request(dav_method("MOVE"), src.clone())
                .header("Destination", dst.as_str())
                .header("Overwrite", if overwrite { "T" } else { "F" });
            if let Some(c) = &condition {
                rb = rb.header("If", c.as_str());
            }
            Ok(rb)
        };
        // A MOVE whose answer was lost may have been done. Sent again, it
        // is not harmless: with `Overwrite: T` a server may remove the
        // destination — by then the moved item itself — before it finds
        // the source gone (rclone does), deleting the file just published.
        // So it is sent again only while its source is still there; a
        // source gone is what a 404 would have said.
        let mut lost = 0;
        let resp = loop {
            match self.send_unrepeated("MOVE", build).await? {
                Ok(resp) => break resp,
                Err(e) => {
                    lost += 1;
                    tracing::debug!(%from, %to, %e, "the answer to a MOVE was lost");
                    if self.propfind(from, dir, "0").await?.is_none() {
                        return Err(RemoteError::Changed {
                            path: from.to_string(),
                        });
                    }
                    if lost >= MAX_ATTEMPTS {
                        return Err(http_error("MOVE", e));
                    }
                    tokio::time::sleep(backoff(lost)).await;
                }
            }
        };
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::PRECONDITION_FAILED => Err(RemoteError::Changed {
                path: to.to_string(),
            }),
            StatusCode::NOT_FOUND => Err(RemoteError::Changed {
                path: from.to_string(),
            }),
            StatusCode::CONFLICT => Err(RemoteError::Conflict(to.to_string())),
            StatusCode::LOCKED => Err(RemoteError::Locked(from.to_string())),
            s => Err(status_error("MOVE", from, s)),
        }
    }

    /// Temp name for an upload of `rel` (deterministic per content version,
    /// so a retry after a crash reuses and overwrites it).
    pub(super) fn upload_temp(rel: &str, src_expect: &Entry) -> String {
        let mut h = Sha256::new();
        h.update(rel.as_bytes());
        h.update(src_expect.size.to_le_bytes());
        h.update(src_expect.mtime.to_le_bytes());
        let d: [u8; 32] = h.finalize().into();
        join(parent(rel), &reserved::upload_temp(reserved::id_of(&d)))
    }

    pub(super) async fn create_root(&self) -> Result<(), RemoteError> {
        // Only the missing folders are created: walk up from the root until
        // a collection exists, then MKCOL downwards. Folders above the
        // user's own space may refuse MKCOL (one server answers 404 for
        // `MKCOL /webdav/`), so an existing one is never asked.
        // (Decoded segments: a `%2F` in a folder's name is not a `/`.)
        let segments: Vec<&str> = self.base_segments.iter().map(String::as_str).collect();
        let url_of = |n: usize| {
            let path: String = segments[..n]
                .iter()
                .map(|s| format!("/{}", utf8_percent_encode(s, SEGMENT)))
                .collect::<String>()
                + "/";
            let mut url = self.base.clone();
            url.set_path(&path);
            (url, path)
        };
        let mut existing = segments.len();
        while existing > 0 {
            let (url, path) = url_of(existing);
            let (status, body) = self
                .send_read("PROPFIND", &path, 1024 * 1024, || {
                    Ok(self
                        .request(propfind_method(), url.clone())
                        .header("Depth", "0")
                        .header("Content-Type", "application/xml; charset=utf-8")
                        .body(PROPFIND_BODY))
                })
                .await?;
            match status {
                StatusCode::NOT_FOUND => existing -= 1,
                StatusCode::MULTI_STATUS => {
                    let items = xml::parse_multistatus(&body)
                        .map_err(|e| RemoteError::Protocol(format!("PROPFIND of {path}: {e}")))?;
                    if items.first().is_some_and(|i| !i.is_collection) {
                        return Err(RemoteError::Config(format!(
                            "{path} on the server is a file, not a folder: choose another folder"
                        )));
                    }
                    break;
                }
                // Not ours to look at (a folder above the user's space):
                // taken as existing; the MKCOL below will tell.
                s => {
                    tracing::debug!(%path, status = %s, "cannot look above; creating from here");
                    break;
                }
            }
        }
        if existing == segments.len() {
            return Ok(());
        }
        for n in existing + 1..=segments.len() {
            let (url, path) = url_of(n);
            let resp = self
                .send("MKCOL", || {
                    Ok(self.request(dav_method("MKCOL"), url.clone()))
                })
                .await?;
            let s = resp.status();
            // 405: made meanwhile by someone else.
            if !(s.is_success() || s == StatusCode::METHOD_NOT_ALLOWED) {
                return Err(status_error("MKCOL", &path, s));
            }
        }
        Ok(())
    }

    /// Make folder `path` (and its missing parents) and read its entry
    /// back: asked for as a collection (`…/`), which a server that
    /// redirects `…` to `…/` (Apache: 301) answers at once.
    pub(super) async fn mkdir(&self, path: &str) -> Result<Entry, RemoteError> {
        self.mkdirs(path).await?;
        let made = self
            .propfind(path, true, "0")
            .await?
            .and_then(|items| items.into_iter().next())
            .map(|item| self.entry_of(&item));
        match made {
            Some(e) if e.kind == Kind::Dir => Ok(e),
            _ => Err(RemoteError::Changed {
                path: path.to_string(),
            }),
        }
    }

    pub(super) async fn upload(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<(Entry, Hash), RemoteError> {
        let mtime_secs = (src_expect.mtime.div_euclid(1_000_000_000)).to_string();
        if replace.is_none() && !backup && self.puts_new_files_directly() {
            return self.upload_new(path, src, src_expect, &mtime_secs).await;
        }
        let temp = Self::upload_temp(path, src_expect);
        let temp_url = self.url(&temp, false);
        let hash_cell = HashCell::default();
        // The write probe (first upload of a run only) goes on while the
        // content is sent: it waits for Apache's tags to turn strong.
        let (sent, probe) = tokio::join!(
            self.put_file(
                path,
                src,
                src_expect,
                &temp_url,
                &mtime_secs,
                &hash_cell,
                false
            ),
            self.write_probe()
        );
        sent?;
        let hash = sent_hash(&hash_cell, src, src_expect.size).await?;
        // The file must not have changed while it was sent.
        let now = std::fs::metadata(src)
            .map_err(|e| RemoteError::Local(format!("stat {}: {e}", src.display())))?;
        let now = crate::fsops::entry_of(src, &now, Kind::File);
        if !crate::fsops::same_item(&now, src_expect) {
            let _ = self.request(Method::DELETE, temp_url.clone()).send().await;
            return Err(RemoteError::SourceChanged(src.display().to_string()));
        }
        // The temp must hold exactly what was sent.
        match self.stat(&temp).await? {
            Some(e) if e.kind == Kind::File && e.size == src_expect.size => {}
            _ => {
                let _ = self.request(Method::DELETE, temp_url.clone()).send().await;
                return Err(RemoteError::Protocol(format!(
                    "the server stored a different size for {path}"
                )));
            }
        }
        // Publish: only over the version planned with. Where the probe saw
        // the server honour the `If:` header with tags of the kind the
        // planned version has (strong; or weak, on a server whose tags are
        // all weak — never Apache's weak-for-a-second tags), the server
        // checks the tag atomically with the MOVE; otherwise a PROPFIND
        // re-check comes right before the MOVE.
        let usable_tag = replace.and_then(|r| r.etag.as_deref()).filter(|t| {
            if is_weak(t) {
                probe.if_header_weak
            } else {
                probe.if_header
            }
        });
        let publish = async {
            if backup && replace.is_some() {
                self.expect(path, replace).await?;
                self.trash(path, false).await?;
                self.move_item(&temp, path, false, false).await
            } else if let Some(tag) = usable_tag {
                match self.move_if(&temp, path, false, true, Some(tag)).await {
                    Err(RemoteError::Changed { .. })
                        if self
                            .stat(path)
                            .await?
                            .zip(replace)
                            .is_some_and(|(now, then)| now.etag == then.etag) =>
                    {
                        // Refused although the tag still matches: this
                        // server's If: support is broken. Stop using it.
                        tracing::warn!(base = %self.base, "the server refuses matching If: headers; re-checking with PROPFIND instead");
                        {
                            let mut w = self.written.lock().await;
                            if is_weak(tag) {
                                w.if_header_weak = false;
                            } else {
                                w.if_header = false;
                            }
                            self.settle_probe(&w);
                        }
                        self.expect(path, replace).await?;
                        self.move_item(&temp, path, false, true).await
                    }
                    other => other,
                }
            } else if replace.is_none() && probe.overwrite_f {
                // A new file: the server itself refuses the MOVE if the
                // name was taken meanwhile (seen working on the probe).
                self.move_item(&temp, path, false, false).await
            } else {
                self.expect(path, replace).await?;
                self.move_item(&temp, path, false, replace.is_some()).await
            }
        }
        .await;
        if let Err(e) = publish {
            let _ = self.request(Method::DELETE, temp_url.clone()).send().await;
            return Err(e);
        }
        self.set_mtime_after_put(path, src_expect, &probe).await;
        let entry = self.stat(path).await?.ok_or_else(|| RemoteError::Changed {
            path: path.to_string(),
        })?;
        Ok((entry, hash))
    }

    pub(super) async fn rename(
        &self,
        from: &str,
        to: &str,
        expect: &Entry,
    ) -> Result<Entry, RemoteError> {
        self.expect(from, Some(expect)).await?;
        let dir = expect.kind == Kind::Dir;
        match self.move_item(from, to, dir, false).await {
            Err(RemoteError::Conflict(_)) => {
                self.mkdirs(parent(to)).await?;
                self.move_item(from, to, dir, false).await?;
            }
            other => other?,
        }
        self.stat(to).await?.ok_or_else(|| RemoteError::Changed {
            path: to.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn blocks_of(
        path: &Path,
        size: u64,
        unchanged: Option<(PathBuf, Entry)>,
    ) -> (Vec<std::io::Result<bytes::Bytes>>, Option<Hash>) {
        let out = HashCell::default();
        let file = std::fs::File::open(path).unwrap();
        let pacer = crate::remote::bandwidth::Throttle::default().pacer();
        let blocks = read_and_hash_blocks(file, size, &out, unchanged, pacer)
            .collect::<Vec<_>>()
            .await;
        let hasher = out.lock().unwrap().take().unwrap();
        (blocks, hasher.await.unwrap())
    }

    #[tokio::test]
    async fn a_new_file_changed_since_it_was_planned_is_broken_off_before_its_last_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let content: Vec<u8> = (0..3 * 1024 * 1024 + 5).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let planned = crate::fsops::entry_of(&path, &meta, Kind::File);
        let size = content.len() as u64;
        // As planned: every block, and the hash of what was sent.
        let (blocks, hash) = blocks_of(&path, size, Some((path.clone(), planned.clone()))).await;
        let sent: Vec<u8> = blocks
            .into_iter()
            .flat_map(|b| b.unwrap().to_vec())
            .collect();
        assert!(sent == content);
        assert_eq!(hash, Some(Sha256::digest(&content).into()));
        // Changed since (another modification time): the body ends in an
        // error instead of its last block.
        let mut stale = planned;
        stale.mtime -= 1;
        let (blocks, _) = blocks_of(&path, size, Some((path.clone(), stale))).await;
        assert!(blocks.last().is_some_and(Result::is_err));
        let sent: usize = blocks.iter().flatten().map(bytes::Bytes::len).sum();
        assert!((sent as u64) < size, "{sent} bytes sent");
    }
}
