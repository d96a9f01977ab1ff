//! Downloads into a local temp that resumes (`Range` + `If-Range`), and
//! content hashes by GET.

use super::*;

/// Statuses worth trying again: overload, gateway trouble, rate limits.
/// (501 Not Implemented or 507 Insufficient Storage will not change.)
/// Empty a download's temp and write from its first byte again.
pub(super) async fn empty(file: &mut tokio::fs::File) -> std::io::Result<()> {
    file.set_len(0).await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    Ok(())
}

impl WebDav {
    pub(super) async fn hash(&self, path: &str, expect: &Entry) -> Result<Hash, RemoteError> {
        // No server-side SHA-256: download and hash.
        let resp = self
            .send("GET", || {
                Ok(self.request(Method::GET, self.url(path, false)))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error("GET", path, resp.status()));
        }
        let mut h = Sha256::new();
        let mut n = 0u64;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| http_error("GET", e))?;
            n += chunk.len() as u64;
            h.update(&chunk);
        }
        if n != expect.size {
            return Err(RemoteError::Changed {
                path: path.to_string(),
            });
        }
        Ok(h.finalize().into())
    }

    pub(super) async fn download(
        &self,
        path: &str,
        expect: &Entry,
        temp: &Path,
    ) -> Result<Hash, RemoteError> {
        let url = self.url(path, false);
        // The I/O error is kept whole: a full disk is told from the rest.
        let local = |op: &'static str, e: std::io::Error| {
            RemoteError::Fs(crate::fsops::FsError::Io {
                op,
                path: temp.display().to_string(),
                source: e,
            })
        };
        let mut file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(temp)
            .await
            .map_err(|e| local("open", e))?;
        // A temp left by an interrupted download of this same version (its
        // name says which): hash what it holds and continue after it. The
        // name tells versions apart only by a strong tag or a known mtime;
        // without either (a server with no dates and weak or no tags),
        // every same-size version has one name: start over.
        let strong_tag = expect
            .etag
            .as_deref()
            .filter(|t| !is_weak(t))
            .map(str::to_string);
        let identified = strong_tag.is_some() || expect.known_mtime().is_some();
        let mut hasher = Sha256::new();
        let mut written = file.metadata().await.map_err(|e| local("stat", e))?.len();
        if written > expect.size || (written > 0 && !identified) {
            file.set_len(0).await.map_err(|e| local("truncate", e))?;
            written = 0;
        } else if written > 0 {
            let mut buf = vec![0u8; 256 * 1024];
            let mut left = written;
            while left > 0 {
                let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf)
                    .await
                    .map_err(|e| local("read", e))?;
                if n == 0 {
                    break;
                }
                let n = n.min(left as usize);
                hasher.update(&buf[..n]);
                left -= n as u64;
            }
            tracing::debug!(%path, from = written, "resuming a download");
        }
        file.seek(std::io::SeekFrom::Start(written))
            .await
            .map_err(|e| local("seek", e))?;
        let mut attempt = 0;
        let mut etag_seen: Option<String> = None;
        // Every byte is already there (killed between the last write and
        // the rename): asking for the rest would be a `Range` past the end
        // (416). Check the server still has the version planned with; the
        // temp's name says it is that version's bytes.
        let mut complete = written == expect.size && expect.size > 0;
        if complete
            && expect
                .hash
                .is_some_and(|h| h != <[u8; 32]>::from(hasher.clone().finalize()))
        {
            // The planner knows this version's content, and the temp holds
            // other bytes: start over.
            tracing::debug!(%path, "a complete download was left of other content: starting over");
            empty(&mut file).await.map_err(|e| local("empty", e))?;
            hasher = Sha256::new();
            written = 0;
            complete = false;
        }
        let resumed_from_temp = written > 0;
        if complete {
            tracing::debug!(%path, "a complete download was left: checking, not downloading");
            self.expect(path, Some(expect)).await?;
        }
        loop {
            if complete {
                break;
            }
            attempt += 1;
            if written > 0 && etag_seen.is_none() && !identified {
                // Nothing to guard a range with, nor a way to tell the
                // version afterwards: the rest could be another version's.
                empty(&mut file).await.map_err(|e| local("empty", e))?;
                hasher = Sha256::new();
                written = 0;
            }
            let from = written;
            // The first range of a resumed temp is guarded by the planned
            // version's strong tag (the temp's name says it holds that
            // version's bytes); later ones by the tag this GET answered.
            let etag_for_range = etag_seen.clone().or_else(|| strong_tag.clone());
            let resp = self
                .send("GET", || {
                    let mut rb = self.request(Method::GET, url.clone());
                    if from > 0 {
                        rb = rb.header("Range", format!("bytes={from}-"));
                        if let Some(t) = &etag_for_range {
                            rb = rb.header("If-Range", t.clone());
                        }
                    }
                    Ok(rb)
                })
                .await?;
            let status = resp.status();
            if status == StatusCode::NOT_FOUND {
                return Err(RemoteError::Changed {
                    path: path.to_string(),
                });
            }
            if status == StatusCode::RANGE_NOT_SATISFIABLE && from > 0 && attempt < MAX_ATTEMPTS {
                // The server will not give the rest of what the temp holds
                // (the file is shorter now, or ranges are broken): start
                // over from the first byte rather than fail every pass.
                tracing::debug!(%path, from, "416 for the rest of a download: starting over");
                empty(&mut file).await.map_err(|e| local("empty", e))?;
                hasher = Sha256::new();
                written = 0;
                etag_seen = None;
                continue;
            }
            if !(status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT) {
                return Err(status_error("GET", path, status));
            }
            if from > 0 && status == StatusCode::OK {
                // The server ignored the range (or If-Range failed): start over.
                empty(&mut file).await.map_err(|e| local("empty", e))?;
                hasher = Sha256::new();
                written = 0;
            }
            if etag_seen.is_none() {
                etag_seen = resp
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .filter(|t| !t.starts_with("W/"))
                    .map(str::to_string);
            }
            let mut stream = resp.bytes_stream();
            let mut broke = false;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(c) => {
                        written += c.len() as u64;
                        if written > expect.size {
                            return Err(RemoteError::Changed {
                                path: path.to_string(),
                            });
                        }
                        hasher.update(&c);
                        file.write_all(&c).await.map_err(|e| local("write", e))?;
                    }
                    Err(e) => {
                        tracing::debug!(%path, written, %e, "download interrupted");
                        broke = true;
                        break;
                    }
                }
            }
            if !broke {
                break;
            }
            if attempt >= MAX_ATTEMPTS {
                return Err(RemoteError::Http {
                    message: format!("GET {path}: the transfer broke off"),
                    retryable: true,
                });
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        if written != expect.size {
            return Err(RemoteError::Changed {
                path: path.to_string(),
            });
        }
        if !complete && (resumed_from_temp || (attempt > 1 && etag_seen.is_none())) {
            // Resumed without a strong entity tag to guard the range, or
            // after bytes an earlier run wrote: make sure the file is still
            // the version planned with.
            self.expect(path, Some(expect)).await?;
        }
        file.flush().await.map_err(|e| local("write", e))?;
        let std_file = file.into_std().await;
        let mtime = expect.known_mtime();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            // A server that gave no date: the file keeps the time it was
            // written (never 1970).
            if let Some(mtime) = mtime {
                let t = std::time::UNIX_EPOCH + Duration::from_nanos(mtime.max(0) as u64);
                std_file.set_modified(t)?;
            }
            std_file.sync_all()
        })
        .await
        .map_err(|e| RemoteError::Local(e.to_string()))?
        .map_err(|e| local("fsync", e))?;
        Ok(hasher.finalize().into())
    }
}
