//! Downloads into a local temp that resumes (`Range` + `If-Range`), and
//! content hashes by GET. The bytes received are written and hashed by two
//! threads of their own ([`Sink`]), so that the socket, the disk and SHA-256
//! each keep a core busy rather than take turns on one. With a bandwidth
//! limit set, the received bytes are paced as they arrive (`Pacer`). A
//! download is given up (and resumed) when nothing comes for the
//! connection's timeout, the time spent pacing not counted
//! ([`WebDav::next_chunk`]).

use super::*;

use bytes::Bytes;
use std::io::{Seek, Write};
use tokio::sync::mpsc;

/// Bytes gathered before they go to the writer and the hasher: the chunks
/// the HTTP client hands over (often a few KiB) are passed on in blocks of
/// about this size, not copied.
const BLOCK: usize = 1024 * 1024;
/// Blocks on their way to each thread: at most this many MiB of a download
/// are in memory, whatever the file's size.
const BLOCKS_IN_FLIGHT: usize = 8;
/// The writer asks the kernel to start writing back every this many bytes,
/// so the fsync at the end waits for the last few MiB, not the whole file.
const WRITEBACK: u64 = 8 * 1024 * 1024;

/// What the writer and the hasher are told, in the order it happened.
#[derive(Clone)]
enum Piece {
    Block(std::sync::Arc<Vec<Bytes>>),
    /// The server sent the file again from its first byte: empty the temp,
    /// hash from scratch.
    Restart,
}

/// The local end of a download: a writer thread appends to the temp, a
/// hasher thread hashes the same bytes (shared, not copied).
struct Sink {
    block: Vec<Bytes>,
    block_len: usize,
    to_writer: mpsc::Sender<Piece>,
    to_hasher: mpsc::Sender<Piece>,
    writer: tokio::task::JoinHandle<std::io::Result<std::fs::File>>,
    hasher: tokio::task::JoinHandle<Sha256>,
}

/// A thread of the sink stopped (the writer after an I/O error, which
/// [`Sink::finish`] returns).
struct SinkStopped;

impl Sink {
    /// `file` is positioned after the bytes `hasher` has seen.
    fn start(file: std::fs::File, hasher: Sha256) -> Self {
        let (to_writer, rx_w) = mpsc::channel(BLOCKS_IN_FLIGHT);
        let (to_hasher, rx_h) = mpsc::channel(BLOCKS_IN_FLIGHT);
        Sink {
            block: Vec::new(),
            block_len: 0,
            to_writer,
            to_hasher,
            writer: tokio::task::spawn_blocking(move || write_pieces(file, rx_w)),
            hasher: tokio::task::spawn_blocking(move || hash_pieces(hasher, rx_h)),
        }
    }

    async fn push(&mut self, chunk: Bytes) -> Result<(), SinkStopped> {
        self.block_len += chunk.len();
        self.block.push(chunk);
        if self.block_len >= BLOCK {
            self.flush().await?;
        }
        Ok(())
    }

    /// Hand over the bytes gathered so far.
    async fn flush(&mut self) -> Result<(), SinkStopped> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.block_len = 0;
        let block = std::sync::Arc::new(std::mem::take(&mut self.block));
        self.send(Piece::Block(block)).await
    }

    /// Start over from the first byte (the bytes gathered are dropped).
    async fn restart(&mut self) -> Result<(), SinkStopped> {
        self.block.clear();
        self.block_len = 0;
        self.send(Piece::Restart).await
    }

    async fn send(&self, piece: Piece) -> Result<(), SinkStopped> {
        let (w, h) = tokio::join!(
            self.to_writer.send(piece.clone()),
            self.to_hasher.send(piece)
        );
        w.and(h).map_err(|_| SinkStopped)
    }

    /// Hand over what is left and wait for both threads: the temp (every
    /// byte written, not yet fsynced) and the hash of its content.
    async fn finish(mut self) -> Result<(std::fs::File, Sha256), std::io::Error> {
        let flushed = self.flush().await;
        let Sink {
            to_writer,
            to_hasher,
            writer,
            hasher,
            ..
        } = self;
        drop((to_writer, to_hasher));
        let joined = |e: tokio::task::JoinError| std::io::Error::other(e.to_string());
        let file = writer.await.map_err(joined)??;
        let hash = hasher.await.map_err(joined)?;
        // Both threads ended without an error: a failed hand-over means one
        // ended early, which only a panic does (caught by the join above).
        flushed.map_err(|SinkStopped| std::io::Error::other("a download thread stopped"))?;
        Ok((file, hash))
    }
}

fn write_pieces(
    mut file: std::fs::File,
    mut rx: mpsc::Receiver<Piece>,
) -> std::io::Result<std::fs::File> {
    let mut pos = file.stream_position()?;
    let mut written_back = pos;
    while let Some(piece) = rx.blocking_recv() {
        match piece {
            Piece::Block(block) => {
                for chunk in block.iter() {
                    file.write_all(chunk)?;
                    pos += chunk.len() as u64;
                }
                if pos - written_back >= WRITEBACK {
                    start_writeback(&file, written_back, pos - written_back);
                    written_back = pos;
                }
            }
            Piece::Restart => {
                file.set_len(0)?;
                file.seek(std::io::SeekFrom::Start(0))?;
                pos = 0;
                written_back = 0;
            }
        }
    }
    Ok(file)
}

fn hash_pieces(mut hasher: Sha256, mut rx: mpsc::Receiver<Piece>) -> Sha256 {
    while let Some(piece) = rx.blocking_recv() {
        match piece {
            Piece::Block(block) => block.iter().for_each(|c| hasher.update(c)),
            Piece::Restart => hasher = Sha256::new(),
        }
    }
    hasher
}

/// Ask the kernel to start writing `len` bytes at `from` to the disk, not
/// waiting for it: the final fsync, which alone makes the file durable,
/// then finds most of it written. Advice only: an error is left to the
/// fsync to report.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, from: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(from), Ok(len)) = (i64::try_from(from), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain system call on a descriptor `file` keeps open.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _from: u64, _len: u64) {}

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
            .send_watched("GET", &Progress::new(0), || {
                Ok(self.transfer_request(Method::GET, self.url(path, false)))
            })
            .await?;
        if !resp.status().is_success() {
            return Err(status_error("GET", path, resp.status()));
        }
        let mut h = Sha256::new();
        let mut n = 0u64;
        let mut pacer = self.bandwidth.down.pacer();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = self.next_chunk("GET", &mut stream).await? {
            if pacer.limited() {
                pacer.pass(chunk.len()).await;
            }
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
        let mut sink = Sink::start(file.into_std().await, hasher);
        // Received bytes are paced as they arrive: while a limit holds
        // them back, the socket is not read and TCP slows the server down.
        let mut pacer = self.bandwidth.down.pacer();
        let received = async {
            let mut attempt = 0;
            let mut etag_seen: Option<String> = None;
            // A thread of the sink stopped: `finish` says why.
            let stopped = |SinkStopped| RemoteError::Local("the download's writer stopped".into());
            loop {
                if complete {
                    break;
                }
                attempt += 1;
                if written > 0 && etag_seen.is_none() && !identified {
                    // Nothing to guard a range with, nor a way to tell the
                    // version afterwards: the rest could be another version's.
                    sink.restart().await.map_err(stopped)?;
                    written = 0;
                }
                let from = written;
                // The first range of a resumed temp is guarded by the planned
                // version's strong tag (the temp's name says it holds that
                // version's bytes); later ones by the tag this GET answered.
                let etag_for_range = etag_seen.clone().or_else(|| strong_tag.clone());
                let resp = self
                    .send_watched("GET", &Progress::new(0), || {
                        let mut rb = self.transfer_request(Method::GET, url.clone());
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
                if status == StatusCode::RANGE_NOT_SATISFIABLE && from > 0 && attempt < MAX_ATTEMPTS
                {
                    // The server will not give the rest of what the temp holds
                    // (the file is shorter now, or ranges are broken): start
                    // over from the first byte rather than fail every pass.
                    tracing::debug!(%path, from, "416 for the rest of a download: starting over");
                    sink.restart().await.map_err(stopped)?;
                    written = 0;
                    etag_seen = None;
                    continue;
                }
                if !(status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT) {
                    return Err(status_error("GET", path, status));
                }
                if from > 0 && status == StatusCode::OK {
                    // The server ignored the range (or If-Range failed): start over.
                    sink.restart().await.map_err(stopped)?;
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
                loop {
                    match self.next_chunk("GET", &mut stream).await {
                        Ok(None) => break,
                        Ok(Some(c)) => {
                            if pacer.limited() {
                                pacer.pass(c.len()).await;
                            }
                            written += c.len() as u64;
                            if written > expect.size {
                                return Err(RemoteError::Changed {
                                    path: path.to_string(),
                                });
                            }
                            sink.push(c).await.map_err(stopped)?;
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
                // What arrived before the break is written before the rest
                // is asked for (the range starts after it).
                sink.flush().await.map_err(stopped)?;
                tokio::time::sleep(backoff(attempt)).await;
            }
            Ok((attempt, etag_seen))
        }
        .await;
        // The writer's error first (a full disk is told from the rest); the
        // threads are always waited for, so that no write to the temp goes
        // on after this download returned.
        let finished = sink.finish().await.map_err(|e| local("write", e));
        let (std_file, hasher) = finished?;
        let (attempt, etag_seen) = received?;
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
