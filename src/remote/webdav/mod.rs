//! The WebDAV remote (RFC 4918) over reqwest with rustls.
//!
//! Correct on every server in `../shared/servers.md`, taking shortcuts only
//! where the capability probe found them:
//!
//! * Listing: one `PROPFIND Depth: infinity` where one was seen to bring
//!   back a nested tree whole (a 207 alone proves nothing: some servers
//!   answer one level), else a bounded-parallel `Depth: 1` walk.
//! * Hrefs are paths: cut after the server part, split at `/`, each segment
//!   decoded once; an unusable one skips its item, whose place is reported
//!   as unobserved (never taken for deleted).
//! * A missing or unreadable `getlastmodified` is an unknown date, never
//!   the epoch.
//! * Uploads never leave a partial file at the target: `PUT` to a
//!   dot-named temp in the same collection, check its size, re-check the
//!   target is still the planned version, then `MOVE` it over the target.
//! * Deletions and replaced conflict losers are moved into `.ferry-trash/`
//!   at the sync root on the server, so they can be restored with any
//!   WebDAV client. An ordinary update replaces the file (MOVE over it):
//!   the previous version is not kept.
//! * Transient failures (5xx, 429, timeouts, resets) are retried a bounded
//!   number of times with jittered exponential backoff that honours
//!   `Retry-After`; a download resumes with `Range` + `If-Range`. A MOVE
//!   whose answer was lost (the server may have done it) is sent again
//!   only while its source is still there.
//!
//! Invariant: every href is checked to lie inside the listed collection
//! (else the whole listing is rejected) and every name to be one safe
//! segment (else that item is skipped and reported).

pub mod xml;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{Capabilities, Listing, Remote, RemoteError};
use crate::engine::path::check_segment;
use crate::engine::tree::{UNKNOWN_MTIME, join, parent, same_tag};
use crate::engine::{Entry, Filter, Hash, Kind, Problem, Side};

/// Characters kept as they are in a path segment; all others are encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A multistatus body larger than this is refused.
pub const MAX_LISTING_BYTES: usize = 512 * 1024 * 1024;
/// At most this many attempts per request.
pub const MAX_ATTEMPTS: u32 = 5;
/// Depth-1 listings run at most this many at once.
const LIST_PARALLEL: usize = 8;
/// The server-side trash folder, at the sync root (a dot-name: never synced).
pub const REMOTE_TRASH: &str = ".ferry-trash";

const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>
<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/><d:displayname/><oc:fileid/>
</d:prop></d:propfind>"#;

/// User name and password (or app password). `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

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
    /// When the write probe ran (Unix seconds; 0: not yet).
    pub probed_at: i64,
}

/// Options of a WebDAV connection.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub credentials: Option<Credentials>,
    /// An extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Refuse listings larger than this (default [`MAX_LISTING_BYTES`]).
    pub max_listing_bytes: Option<usize>,
    /// Give up on a request that sends nothing for this long (default 120 s).
    pub timeout: Option<Duration>,
}

/// A WebDAV collection used as a remote.
pub struct WebDav {
    client: reqwest::Client,
    /// The collection URL, ending in `/`.
    base: reqwest::Url,
    /// Its path, one percent-decoded segment each (hrefs are compared by
    /// segment; a `%2F` in a segment is part of a name).
    base_segments: Vec<String>,
    credentials: Option<Credentials>,
    /// `Depth: infinity` listings: YES only once seen to work on a nested
    /// tree, NO when refused or seen to fall short, UNKNOWN until checked.
    depth_infinity: AtomicU8,
    /// When `depth_infinity` was last checked (Unix seconds; 0: never). A
    /// finding older than [`RECHECK_SECS`] counts as UNKNOWN.
    infinity_checked_at: AtomicI64,
    /// The server returns `oc:fileid` (Nextcloud, ownCloud): ids survive moves.
    file_ids: AtomicBool,
    /// Hrefs from this server were seen with characters a URL cannot hold
    /// raw (`#`, `?`, a space, a `%` not starting an escape): it does not
    /// percent-encode them, so a `%XX` in one of its hrefs may be a `%` in
    /// the name. Such names are checked with a direct request each.
    raw_hrefs: AtomicBool,
    /// The write probe's findings (`probed_at == 0`: not probed yet).
    written: tokio::sync::Mutex<Probe>,
    /// The last full listing with its collections' entity tags, for servers
    /// whose collection tags change when anything inside changes: an
    /// unchanged tag means an unchanged subtree, which is not listed again.
    cache: std::sync::Mutex<Option<ListingCache>>,
    /// Trash folders known to exist. Parallel deletions create them under
    /// this lock, one MKCOL each: racing MKCOLs of one folder make Apache
    /// answer 403 to the loser.
    trash_dirs: tokio::sync::Mutex<std::collections::HashSet<String>>,
    /// Leftovers of Ferry's own interrupted work that the last listing saw
    /// (`.ferry-probe-…` folders at the root, `.ferry-up-….part` temps
    /// older than a day), with their entries: candidates for
    /// [`Remote::clean_leftovers`], which removes one only once `sightings`
    /// has seen it unchanged long enough.
    leftovers: std::sync::Mutex<Vec<(String, Entry)>>,
    /// When Ferry first saw each leftover, and as what (kept in the
    /// journal with the probe, see [`Remote::export_state`]): a leftover is
    /// removed only when seen unchanged long enough after that, never by
    /// its server date (which a PUT's `X-OC-Mtime` sets to the source's).
    sightings: std::sync::Mutex<std::collections::BTreeMap<String, Sighting>>,
    max_listing_bytes: usize,
}

/// A leftover as Ferry first saw it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Sighting {
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
const UPLOAD_TEMP_MIN_SECS: i64 = 24 * 3600;
const PROBE_MIN_SECS: i64 = 10 * 60;
/// A sighting not seen again for this long is forgotten.
const SIGHTING_FORGET_SECS: i64 = 7 * 24 * 3600;
/// The key of the sightings in the exported state.
const SIGHTINGS_KEY: &str = "leftovers_seen";

/// A listing and the entity tags of its collections (`""`: the root).
#[derive(Clone, Debug, Default)]
struct ListingCache {
    tags: std::collections::HashMap<String, String>,
    tree: crate::engine::Tree,
    /// What the listing excluded (`Listing::excluded`): reused with the
    /// subtrees it lies in, so the planner still knows which folders hold
    /// excluded items.
    excluded: Vec<String>,
}

const UNKNOWN: u8 = 0;
const YES: u8 = 1;
const NO: u8 = 2;
/// Findings about the server are checked again after this long.
const RECHECK_SECS: i64 = 24 * 3600;

/// An href that names nothing usable: that item is skipped and reported.
struct Unusable {
    /// The item's path where its `displayname` says, else its folder's.
    path: String,
    message: String,
}

impl std::fmt::Debug for WebDav {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDav")
            .field("base", &self.base.as_str())
            .finish()
    }
}

/// Install the TLS crypto provider once per process.
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn http_error(what: &str, e: reqwest::Error) -> RemoteError {
    if e.is_connect() || e.is_timeout() {
        RemoteError::Unreachable(format!("{what}: {}", error_chain(&e)))
    } else {
        RemoteError::Http {
            message: format!("{what}: {}", error_chain(&e)),
            retryable: true,
        }
    }
}

/// An error with its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

impl WebDav {
    pub fn new(url: &str, options: Options) -> Result<WebDav, RemoteError> {
        install_crypto();
        let mut url =
            reqwest::Url::parse(url).map_err(|e| RemoteError::Config(format!("{url}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RemoteError::Config(format!("{url}: not an http(s) URL")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(RemoteError::Config(
                "put no user name or password in the URL: use `ferry account add`".into(),
            ));
        }
        if !url.path().ends_with('/') {
            let p = format!("{}/", url.path());
            url.set_path(&p);
        }
        let base_segments = href_segments(url.path())
            .ok_or_else(|| RemoteError::Config(format!("{url}: the path is not UTF-8")))?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(options.timeout.unwrap_or(Duration::from_secs(120)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Ferry/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &options.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| RemoteError::Config(format!("CA file {}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| RemoteError::Config(format!("CA file {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| RemoteError::Config(format!("HTTP client: {e}")))?;
        Ok(WebDav {
            client,
            base: url,
            base_segments,
            credentials: options.credentials,
            depth_infinity: AtomicU8::new(UNKNOWN),
            infinity_checked_at: AtomicI64::new(0),
            file_ids: AtomicBool::new(false),
            raw_hrefs: AtomicBool::new(false),
            written: tokio::sync::Mutex::new(Probe::default()),
            cache: std::sync::Mutex::new(None),
            trash_dirs: tokio::sync::Mutex::new(std::collections::HashSet::new()),
            leftovers: std::sync::Mutex::new(Vec::new()),
            sightings: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            max_listing_bytes: options.max_listing_bytes.unwrap_or(MAX_LISTING_BYTES),
        })
    }

    /// The URL of a relative path (`""` is the root); `dir` adds a `/`.
    fn url(&self, rel: &str, dir: bool) -> reqwest::Url {
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

    fn request(&self, method: Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let rb = self.client.request(method, url);
        match &self.credentials {
            Some(c) => rb.basic_auth(&c.user, Some(&c.password)),
            None => rb,
        }
    }

    /// Send a request built by `build`, retrying transient failures.
    async fn send(
        &self,
        what: &str,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
    ) -> Result<reqwest::Response, RemoteError> {
        match self.send_inner(what, build, true).await? {
            Ok(resp) => Ok(resp),
            Err(e) => Err(http_error(what, e)),
        }
    }

    /// Send a request that must not be repeated blindly once the server
    /// may have carried it out (a MOVE): transient statuses and failures to
    /// connect are retried as by [`send`](Self::send), but an answer lost
    /// after the request went out (connection reset, timeout) comes back
    /// as `Ok(Err(..))`, for the caller to find out what the server did.
    async fn send_unrepeated(
        &self,
        what: &str,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, RemoteError> {
        self.send_inner(what, build, false).await
    }

    async fn send_inner(
        &self,
        what: &str,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
        resend_unanswered: bool,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, RemoteError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = build()?.send().await;
            let wait = match &result {
                Ok(resp) => {
                    let s = resp.status();
                    if transient(s) {
                        Some(retry_after(resp).unwrap_or_else(|| backoff(attempt)))
                    } else {
                        None
                    }
                }
                Err(e) if e.is_connect() => Some(backoff(attempt)),
                Err(e) if e.is_timeout() || e.is_request() || e.is_body() => {
                    if !resend_unanswered {
                        return Ok(result);
                    }
                    Some(backoff(attempt))
                }
                Err(_) => None,
            };
            match (wait, result) {
                (Some(wait), result) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(what, attempt, ?wait, "retrying");
                    let _ = result;
                    tokio::time::sleep(wait).await;
                }
                (_, Ok(resp)) => return check_auth(resp).map(Ok),
                (_, Err(e)) => return Ok(Err(e)),
            }
        }
    }

    /// Send a request built by `build` and read its whole answer (at most
    /// `cap` bytes), retrying transient failures, a connection cut while
    /// the answer's body was read included. Only for requests that may be
    /// sent again (PROPFIND, PROPPATCH) and small or listing answers.
    async fn send_read(
        &self,
        what: &str,
        rel: &str,
        cap: usize,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
    ) -> Result<(StatusCode, Vec<u8>), RemoteError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let resp = self.send(what, &build).await?;
            let status = resp.status();
            match read_capped(resp, cap).await {
                Ok(body) => return Ok((status, body)),
                Err(ReadError::TooLarge) => {
                    return Err(RemoteError::Protocol(format!(
                        "the server's answer to {what} of {} is larger than {cap} bytes",
                        item_name(rel)
                    )));
                }
                Err(ReadError::Cut(e)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(what, rel, attempt, %e, "answer cut off; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(ReadError::Cut(e)) => {
                    return Err(http_error(
                        &format!("reading the answer to {what} of {}", item_name(rel)),
                        e,
                    ));
                }
            }
        }
    }

    /// PROPFIND one path; `None` when it does not exist.
    async fn propfind(
        &self,
        rel: &str,
        dir: bool,
        depth: &'static str,
    ) -> Result<Option<Vec<xml::DavItem>>, RemoteError> {
        match self.propfind_raw(rel, dir, depth).await? {
            Ok(items) => Ok(items),
            Err(s) => Err(status_error("PROPFIND", rel, s)),
        }
    }

    /// PROPFIND, with a status other than 207/404 given back as is.
    async fn propfind_raw(
        &self,
        rel: &str,
        dir: bool,
        depth: &'static str,
    ) -> Result<Result<Option<Vec<xml::DavItem>>, StatusCode>, RemoteError> {
        let url = self.url(rel, dir);
        let (status, body) = self
            .send_read("PROPFIND", rel, self.max_listing_bytes, || {
                Ok(self
                    .request(propfind_method(), url.clone())
                    .header("Depth", depth)
                    .header("Content-Type", "application/xml; charset=utf-8")
                    .body(PROPFIND_BODY))
            })
            .await?;
        match status {
            StatusCode::MULTI_STATUS => {}
            StatusCode::NOT_FOUND => return Ok(Ok(None)),
            // A folder asked for without its trailing slash (Apache's mod_dir).
            StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
                if !dir =>
            {
                return Box::pin(self.propfind_raw(rel, true, depth)).await;
            }
            s => return Ok(Err(s)),
        }
        let items =
            xml::parse_multistatus(&body).map_err(|e| RemoteError::Protocol(e.to_string()))?;
        if items.iter().any(|i| i.file_id.is_some()) {
            self.file_ids.store(true, Ordering::Relaxed);
        }
        Ok(Ok(Some(items)))
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
    fn rel_of(&self, href: &str, within: &str) -> Result<Result<String, String>, RemoteError> {
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
    fn resolve<'a>(
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
    fn ambiguous(&self, href: &str) -> Option<String> {
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
    async fn settle_escapes<'a>(
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
            if crate::engine::path::check_segment(&name).is_ok() && !name.starts_with(".ferry-") {
                names.push(name);
            }
        }
        names.sort();
        Ok(Some(names))
    }

    /// What was learnt about the server so far (without waiting).
    fn probe(&self) -> Probe {
        let mut p = self
            .written
            .try_lock()
            .map(|p| p.clone())
            .unwrap_or_default();
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
        }
        guard.clone()
    }

    /// Find out, in a folder of our own, how the server treats writes.
    async fn run_write_probe(&self) -> Probe {
        let mut p = Probe::default();
        let dir = format!(".ferry-probe-{:016x}", rand::random::<u64>());
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

    /// Set a file's modification time with PROPPATCH (Sync-in's way).
    async fn proppatch_mtime(&self, rel: &str, secs: i64) -> Result<(), RemoteError> {
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

    fn entry_of(&self, item: &xml::DavItem) -> Entry {
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
    async fn stat(&self, rel: &str) -> Result<Option<Entry>, RemoteError> {
        let Some(items) = self.propfind(rel, false, "0").await? else {
            return Ok(None);
        };
        let item = items
            .first()
            .ok_or_else(|| RemoteError::Protocol(format!("empty PROPFIND answer for {rel}")))?;
        Ok(Some(self.entry_of(item)))
    }

    /// Check the item at `rel` is still the one observed.
    async fn expect(&self, rel: &str, expect: Option<&Entry>) -> Result<(), RemoteError> {
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
    async fn same_version(
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

    /// Create folder `rel` and those of its parents that are missing, all
    /// inside the sync root (never above it). The common case, the parent
    /// exists, is one MKCOL. When the server says a parent is missing, the
    /// first missing folder is found with `PROPFIND Depth: 0` downwards
    /// from the root (deletions' `.ferry-trash/<time>/…` folders are
    /// missing right below the trash) and only the missing segments are
    /// created, top down.
    async fn mkdirs(&self, rel: &str) -> Result<(), RemoteError> {
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

    async fn mkcol(&self, rel: &str) -> Result<(), RemoteError> {
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

    /// PUT the content of `src` to `temp_url` (creating missing parent
    /// folders once), hashing it on the way into `hash_cell`.
    async fn put_temp(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        temp_url: &reqwest::Url,
        mtime_secs: &str,
        hash_cell: &std::sync::Arc<std::sync::Mutex<Option<Hash>>>,
    ) -> Result<(), RemoteError> {
        let mut tried_parents = false;
        loop {
            let hash_cell2 = hash_cell.clone();
            let resp = self
                .send("PUT", || {
                    let file = std::fs::File::open(src)
                        .map_err(|e| RemoteError::Local(format!("open {}: {e}", src.display())))?;
                    let meta = file
                        .metadata()
                        .map_err(|e| RemoteError::Local(format!("stat {}: {e}", src.display())))?;
                    if meta.len() != src_expect.size {
                        return Err(RemoteError::SourceChanged(src.display().to_string()));
                    }
                    let stream = read_and_hash(file, src_expect.size, hash_cell2.clone());
                    Ok(self
                        .request(Method::PUT, temp_url.clone())
                        .header("Content-Length", src_expect.size)
                        .header("X-OC-Mtime", mtime_secs)
                        .body(stream))
                })
                .await?;
            match resp.status() {
                s if s.is_success() => return Ok(()),
                StatusCode::CONFLICT | StatusCode::NOT_FOUND if !tried_parents => {
                    tried_parents = true;
                    self.mkdirs(parent(path)).await?;
                }
                s => return Err(status_error("PUT", path, s)),
            }
        }
    }

    /// MOVE `from` to `to` (both relative); `overwrite` replaces.
    async fn move_item(
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
    async fn move_if(
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

    /// Move `rel` into the server-side trash.
    async fn trash(&self, rel: &str, dir: bool) -> Result<(), RemoteError> {
        let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H%M%S").to_string();
        let dest = join(&join(REMOTE_TRASH, &stamp), rel);
        {
            let mut known = self.trash_dirs.lock().await;
            let folder = parent(&dest).to_string();
            if !known.contains(&folder) {
                if known.len() > 10_000 {
                    known.clear();
                }
                self.mkdirs(&folder).await?;
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

    /// List a collection subtree.
    async fn walk(
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
        if let Some(cache) = cache {
            return self.walk_incremental(filter, listing, cache).await;
        }
        // One Depth: infinity listing, only where one was seen to come back
        // whole (Apache and nginx refuse it with 403, dav-server with 501,
        // and a server may answer it with one level).
        let trusted = self.infinity() == YES;
        if trusted {
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
                    if first {
                        return Ok(false);
                    }
                    // Removed while we listed: the next pass sees it.
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
                    if self.add_item(&rel, item, filter, listing) == Some(true) {
                        pending.push(rel);
                    }
                }
            }
            first = false;
        }
        if root.is_empty() {
            self.remember(tags, listing);
            if self.infinity() == UNKNOWN {
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
    fn take_infinity(
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
    fn infinity(&self) -> u8 {
        let at = self.infinity_checked_at.load(Ordering::Relaxed);
        if at == 0 || jiff::Timestamp::now().as_second() - at > RECHECK_SECS {
            UNKNOWN
        } else {
            self.depth_infinity.load(Ordering::Relaxed)
        }
    }

    fn set_infinity(&self, state: u8) {
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
    async fn prove_infinity_on(&self, tree: &crate::engine::Tree) {
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
    async fn check_infinity(&self, folder: &str, expect: &[String]) {
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

    fn remember(&self, tags: std::collections::HashMap<String, String>, listing: &Listing) {
        if let Ok(mut c) = self.cache.lock() {
            // A listing with places it could not see is not reused.
            *c = listing.unobserved.is_empty().then(|| ListingCache {
                tags,
                tree: listing.tree.clone(),
                excluded: listing.excluded.clone(),
            });
        }
    }

    /// List from the root, descending only into collections whose entity
    /// tag changed since `cache` was taken (valid only where collection tags
    /// propagate upward: Nextcloud, ownCloud, or as the probe found).
    async fn walk_incremental(
        &self,
        filter: &Filter,
        listing: &mut Listing,
        cache: ListingCache,
    ) -> Result<bool, RemoteError> {
        let Some(root) = self.propfind("", true, "0").await? else {
            return Ok(false);
        };
        let root_tag = root.first().and_then(|i| i.etag.clone());
        if root_tag.is_some() && root_tag.as_ref() == cache.tags.get("") {
            tracing::debug!("root unchanged: listing reused");
            listing.tree = cache.tree;
            listing.excluded = cache.excluded;
            return Ok(true);
        }
        let mut tags = std::collections::HashMap::new();
        let mut pending = vec![String::new()];
        while !pending.is_empty() {
            let batch: Vec<String> = pending.drain(..pending.len().min(LIST_PARALLEL)).collect();
            let results = futures_util::future::join_all(
                batch.iter().map(|dir| self.propfind(dir, true, "1")),
            )
            .await;
            for (dir, result) in batch.iter().zip(results) {
                let Some(items) = result? else {
                    continue;
                };
                let (rows, mut unusable) = self.resolve(&items, dir)?;
                let rows = self.settle_escapes(rows, &mut unusable, dir).await?;
                note_unusable(listing, unusable);
                for (rel, item) in rows {
                    if rel == *dir {
                        if let Some(t) = &item.etag {
                            tags.insert(rel, t.clone());
                        }
                        continue;
                    }
                    if parent(&rel) != dir {
                        return Err(RemoteError::Protocol(format!(
                            "the listing of {} was rejected: the server listed {:?} in a Depth 1 listing",
                            folder_name(dir),
                            item.href
                        )));
                    }
                    if self.add_item(&rel, item, filter, listing) != Some(true) {
                        continue;
                    }
                    let unchanged = item.etag.is_some()
                        && item.etag.as_ref() == cache.tags.get(&rel)
                        && cache.tree.contains_key(&rel);
                    if unchanged {
                        for (k, e) in crate::engine::tree::descendants(&cache.tree, &rel) {
                            listing.tree.insert(k.clone(), e.clone());
                        }
                        for (k, t) in &cache.tags {
                            if crate::engine::tree::is_within(k, &rel) {
                                tags.insert(k.clone(), t.clone());
                            }
                        }
                        listing.excluded.extend(
                            cache
                                .excluded
                                .iter()
                                .filter(|k| crate::engine::tree::is_within(k, &rel))
                                .cloned(),
                        );
                    } else {
                        pending.push(rel);
                    }
                }
            }
        }
        self.remember(tags, listing);
        Ok(true)
    }

    /// Add one listed item; `Some(is_dir)` when it was added.
    fn add_item(
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
        if name.starts_with(".ferry-") {
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

    /// Temp name for an upload of `rel` (deterministic per content version,
    /// so a retry after a crash reuses and overwrites it).
    fn upload_temp(rel: &str, src_expect: &Entry) -> String {
        let mut h = Sha256::new();
        h.update(rel.as_bytes());
        h.update(src_expect.size.to_le_bytes());
        h.update(src_expect.mtime.to_le_bytes());
        let d: [u8; 32] = h.finalize().into();
        join(
            parent(rel),
            &format!(".ferry-up-{}.part", hex::encode(&d[..8])),
        )
    }
}

/// A `getlastmodified` value in nanoseconds since the epoch: the RFC 1123
/// date RFC 4918 asks for (and the other HTTP date forms), or ISO 8601 /
/// RFC 3339 as some servers send (`2026-11-28T17:41:33Z`, with an offset
/// or fractional seconds). `None`: unreadable, the date is unknown.
fn parse_date(value: &str) -> Option<i64> {
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

/// Report unusable hrefs: each is a problem, and its place is kept as the
/// base says (see [`Listing::unobserved`]).
fn note_unusable(listing: &mut Listing, unusable: Vec<Unusable>) {
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
fn split_scheme(href: &str) -> Option<(&'static str, &str)> {
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
fn href_segments(path: &str) -> Option<Vec<String>> {
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
fn sends_raw(href: &str) -> bool {
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
fn same_item(a: &Entry, b: &Entry) -> bool {
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
fn folder_name(rel: &str) -> String {
    if rel.is_empty() {
        "the synchronized folder".to_string()
    } else {
        format!("folder {rel:?}")
    }
}

/// Statuses worth trying again: overload, gateway trouble, rate limits.
/// (501 Not Implemented or 507 Insufficient Storage will not change.)
/// Empty a download's temp and write from its first byte again.
async fn empty(file: &mut tokio::fs::File) -> std::io::Result<()> {
    file.set_len(0).await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    Ok(())
}

fn transient(s: StatusCode) -> bool {
    matches!(s.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

fn propfind_method() -> Method {
    dav_method("PROPFIND")
}

/// A WebDAV method (an extension method: always a valid token).
fn dav_method(name: &'static str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap_or(Method::OPTIONS)
}

/// Uploads' temps older than this (server mtime) are a killed upload's.
const STALE_UPLOAD_NANOS: i64 = 24 * 3600 * 1_000_000_000;

/// Whether a listed item is a leftover of Ferry's own interrupted work that
/// may be removed: a probe folder at the root (`.ferry-probe-` and 16 hex
/// digits; its age is judged by when Ferry first saw it), or an upload temp
/// (`.ferry-up-` and 16 hex digits, `.part`) anywhere whose server mtime
/// is known and more than a day old. Nothing else ever matches.
fn is_leftover(rel: &str, entry: &Entry, now_nanos: i64) -> bool {
    let name = crate::engine::tree::file_name(rel);
    let hex16 = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(id) = name.strip_prefix(".ferry-probe-") {
        return entry.kind == Kind::Dir && rel == name && hex16(id);
    }
    if let Some(id) = name
        .strip_prefix(".ferry-up-")
        .and_then(|r| r.strip_suffix(".part"))
    {
        return entry.kind == Kind::File
            && hex16(id)
            && entry.mtime > 0
            && now_nanos.saturating_sub(entry.mtime) > STALE_UPLOAD_NANOS;
    }
    false
}

/// A weak entity tag (`W/"…"`).
fn is_weak(tag: &str) -> bool {
    tag.starts_with("W/")
}

/// Same item, unchanged: an equal entity tag (the weak marker ignored: a
/// weak/strong flip is not a change), or equal size and a known, equal
/// mtime. Two unknown dates prove nothing (see [`undecided`]).
fn unchanged(now: &Entry, then: &Entry) -> bool {
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
fn undecided(now: &Entry, then: &Entry) -> bool {
    now.kind == Kind::File
        && then.kind == Kind::File
        && now.size == then.size
        && (now.etag.is_none() || then.etag.is_none())
        && (now.known_mtime().is_none() || then.known_mtime().is_none())
}

fn check_auth(resp: reqwest::Response) -> Result<reqwest::Response, RemoteError> {
    match check_auth_status(resp.status()) {
        Some(e) => Err(e),
        None => Ok(resp),
    }
}

/// What stops a pass whatever the request: 401 (credentials; a 403 is
/// only that request's refusal) and 507 (the server is full).
fn check_auth_status(s: StatusCode) -> Option<RemoteError> {
    match s {
        StatusCode::UNAUTHORIZED => Some(RemoteError::Auth(
            "the server asks for credentials (401): check the account's user and password".into(),
        )),
        StatusCode::INSUFFICIENT_STORAGE => Some(RemoteError::NoSpace),
        _ => None,
    }
}

/// How messages name an item: its path, or "the synchronized folder" for
/// the root (`""`).
fn item_name(rel: &str) -> String {
    if rel.trim_matches('/').is_empty() {
        "the synchronized folder".to_string()
    } else {
        rel.to_string()
    }
}

/// The error for an unexpected status of `method` on `rel`. Only 401 means
/// credentials (see [`check_auth`]); a 403 refuses this one request: an
/// error for this item, the pass goes on.
fn status_error(method: &str, rel: &str, s: StatusCode) -> RemoteError {
    let item = item_name(rel);
    match s {
        StatusCode::FORBIDDEN => {
            let verb = match method {
                "PUT" => "store",
                "GET" => "send",
                "PROPFIND" => "list",
                "MKCOL" => "create",
                "MOVE" => "move",
                "COPY" => "copy",
                "DELETE" => "delete",
                "PROPPATCH" => "set the modification time of",
                _ => "change",
            };
            let advice = if rel.trim_matches('/').is_empty() {
                ": check the folder's address and that this account may use it"
            } else {
                ""
            };
            RemoteError::Forbidden(format!(
                "the server refused to {verb} {item} ({method}: {s}){advice}"
            ))
        }
        StatusCode::LOCKED => RemoteError::Locked(rel.to_string()),
        StatusCode::INSUFFICIENT_STORAGE => RemoteError::NoSpace,
        s => RemoteError::Http {
            message: format!("{method} of {item} failed: {s}"),
            retryable: s.is_server_error(),
        },
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get("Retry-After")?.to_str().ok()?;
    let d = if let Ok(secs) = v.trim().parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let t = httpdate::parse_http_date(v).ok()?;
        t.duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
    };
    Some(d.min(Duration::from_secs(60)))
}

/// Exponential backoff with full jitter: up to 200 ms · 2^attempt, ≤ 10 s.
fn backoff(attempt: u32) -> Duration {
    let cap = (200u64 << attempt.min(6)).min(10_000);
    Duration::from_millis(rand::random_range(cap / 4..=cap))
}

/// Why an answer's body could not be read whole.
enum ReadError {
    /// Larger than allowed: not retried.
    TooLarge,
    /// The connection broke off (or timed out) mid-body: worth retrying.
    Cut(reqwest::Error),
}

async fn read_capped(resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n as usize > cap) {
        return Err(ReadError::TooLarge);
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ReadError::Cut)?;
        if out.len() + chunk.len() > cap {
            return Err(ReadError::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[async_trait]
impl Remote for WebDav {
    fn describe(&self) -> String {
        format!("WebDAV {}", self.base)
    }

    fn export_state(&self) -> Option<String> {
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

    fn import_state(&self, state: &str) {
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
                }
            }
        }
    }

    fn capabilities(&self) -> Capabilities {
        let probe = self.probe();
        Capabilities {
            cheap_hash: false,
            trash: true,
            file_ids: probe.file_ids,
            set_mtime: probe.x_oc_mtime,
        }
    }

    async fn fingerprint(&self) -> Result<Option<String>, RemoteError> {
        if !self.probe().collection_etags_propagate {
            return Ok(None);
        }
        let items = self.propfind("", true, "0").await?;
        Ok(items
            .and_then(|i| i.into_iter().next())
            .and_then(|i| i.etag)
            .map(|t| t.trim_start_matches("W/").to_string()))
    }

    async fn list(&self, filter: &Filter) -> Result<Option<Listing>, RemoteError> {
        if let Ok(mut l) = self.leftovers.lock() {
            l.clear();
        }
        let mut listing = Listing::default();
        if !self.walk("", filter, &mut listing).await? {
            return Ok(None);
        }
        Ok(Some(listing))
    }

    async fn stat(&self, path: &str) -> Result<Option<Entry>, RemoteError> {
        WebDav::stat(self, path).await
    }

    fn listing_fell_short(&self) -> Option<String> {
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

    async fn create_root(&self) -> Result<(), RemoteError> {
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

    async fn clean_leftovers(&self) {
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

    async fn hash(&self, path: &str, expect: &Entry) -> Result<Hash, RemoteError> {
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

    async fn mkdir(&self, path: &str) -> Result<Entry, RemoteError> {
        self.mkdirs(path).await?;
        match self.stat(path).await? {
            Some(e) if e.kind == Kind::Dir => Ok(e),
            _ => Err(RemoteError::Changed {
                path: path.to_string(),
            }),
        }
    }

    async fn upload(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<(Entry, Hash), RemoteError> {
        let temp = Self::upload_temp(path, src_expect);
        let temp_url = self.url(&temp, false);
        let mtime_secs = (src_expect.mtime.div_euclid(1_000_000_000)).to_string();
        let hash_cell = std::sync::Arc::new(std::sync::Mutex::new(None::<Hash>));
        // The write probe (first upload of a run only) goes on while the
        // content is sent: it waits for Apache's tags to turn strong.
        let (sent, probe) = tokio::join!(
            self.put_temp(path, src, src_expect, &temp_url, &mtime_secs, &hash_cell),
            self.write_probe()
        );
        sent?;
        let hash = if src_expect.size == 0 {
            Sha256::digest(b"").into()
        } else {
            hash_cell
                .lock()
                .ok()
                .and_then(|h| *h)
                .ok_or_else(|| RemoteError::SourceChanged(src.display().to_string()))?
        };
        // The file must not have changed while it was sent.
        let now = std::fs::metadata(src)
            .map_err(|e| RemoteError::Local(format!("stat {}: {e}", src.display())))?;
        let now = crate::fsops::entry_of(&now, Kind::File);
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
                        }
                        self.expect(path, replace).await?;
                        self.move_item(&temp, path, false, true).await
                    }
                    other => other,
                }
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
        if !probe.x_oc_mtime && probe.proppatch_mtime {
            let secs = src_expect.mtime.div_euclid(1_000_000_000);
            if let Err(e) = self.proppatch_mtime(path, secs).await {
                tracing::debug!(%path, %e, "could not set the modification time");
            }
        }
        let entry = self.stat(path).await?.ok_or_else(|| RemoteError::Changed {
            path: path.to_string(),
        })?;
        Ok((entry, hash))
    }

    async fn download(&self, path: &str, expect: &Entry, temp: &Path) -> Result<Hash, RemoteError> {
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

    async fn rename(&self, from: &str, to: &str, expect: &Entry) -> Result<Entry, RemoteError> {
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

    async fn delete(
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

/// The body of an upload: a thread reads `file` in 1 MiB blocks and hashes
/// them while the previous blocks are sent (at most 4 in flight: flat
/// memory). The hash lands in `out` when exactly `size` bytes were read,
/// before the last block is handed over.
fn read_and_hash(
    mut file: std::fs::File,
    size: u64,
    out: std::sync::Arc<std::sync::Mutex<Option<Hash>>>,
) -> reqwest::Body {
    use std::io::Read;
    const BLOCK: usize = 1024 * 1024;
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    std::thread::spawn(move || {
        let mut hasher = Sha256::new();
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
                if size == 0 {
                    if let Ok(mut o) = out.lock() {
                        *o = Some(hasher.finalize().into());
                    }
                }
                return;
            }
            buf.truncate(filled);
            hasher.update(&buf);
            seen += filled as u64;
            // Before the last block goes out: the request may complete
            // (Content-Length reached) without reading to the end.
            if seen == size {
                if let Ok(mut o) = out.lock() {
                    *o = Some(hasher.clone().finalize().into());
                }
            }
            if tx.blocking_send(Ok(bytes::Bytes::from(buf))).is_err() {
                return; // the request was dropped
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    reqwest::Body::wrap_stream(stream)
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

    #[test]
    fn a_403_names_the_item_and_the_method_and_does_not_ask_for_credentials() {
        let e = status_error("PUT", "a/b.txt", StatusCode::FORBIDDEN);
        assert!(matches!(e, RemoteError::Forbidden(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "the server refused to store a/b.txt (PUT: 403 Forbidden)"
        );
        assert!(!e.stops_pass() && !e.is_changed());
        let root = status_error("PROPFIND", "", StatusCode::FORBIDDEN);
        assert!(
            root.to_string().starts_with(
                "the server refused to list the synchronized folder (PROPFIND: 403 Forbidden)"
            ),
            "{root}"
        );
        let e = status_error("PROPFIND", "", StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            e.to_string(),
            "PROPFIND of the synchronized folder failed: 500 Internal Server Error"
        );
        assert!(matches!(
            check_auth_status(StatusCode::UNAUTHORIZED),
            Some(RemoteError::Auth(_))
        ));
        assert!(check_auth_status(StatusCode::FORBIDDEN).is_none());
    }

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
