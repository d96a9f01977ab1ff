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
//!   target is still the planned version, then `MOVE` it over the target;
//!   a new file straight to its name with `If-None-Match: *` only where
//!   the probe saw a broken-off PUT leave nothing and the condition
//!   honoured.
//! * A scoped pass's listing asks for its paths alone (`Depth: 0`, and
//!   the listing walk inside a named folder) where the probe saw
//!   `Depth: 0` answered exactly; it never touches the kept listing.
//! * Deletions and replaced conflict losers are moved into `.ferry-trash/`
//!   at the sync root on the server, so they can be restored with any
//!   WebDAV client. An ordinary update replaces the file (MOVE over it):
//!   the previous version is not kept.
//! * File contents go no faster than the bandwidth limits set
//!   (`Options::bandwidth`, `remote::bandwidth`): an upload's body and a
//!   download's (or a hash's) received bytes are paced; listings and other
//!   small requests are not.
//! * Transient failures (5xx, 429, timeouts, resets) are retried a bounded
//!   number of times with jittered exponential backoff that honours
//!   `Retry-After`; a download resumes with `Range` + `If-Range`. A MOVE
//!   whose answer was lost (the server may have done it) is sent again
//!   only while its source is still there.
//!
//! Invariant: every href is checked to lie inside the listed collection
//! (else the whole listing is rejected) and every name to be one safe
//! segment (else that item is skipped and reported).
//!
//! Architecture Invariant: only this module speaks WebDAV (no other HTTP
//! client for a WebDAV server, no PROPFIND elsewhere). Its parts:
//! `transport` (the client, sending, retries, statuses), `auth` (signing
//! requests in, a 401's challenges), `hrefs`,
//! `listing` (the one walk, `stat`, preconditions), `scoped` (a scoped
//! pass's listing), `probe` (capabilities
//! and leftovers), `upload`, `trash`, `download`, `connect` (an account's
//! connection test) and `xml`; this file holds the `WebDav` struct, its
//! `Options` and the `Remote` impl, which only calls them.

mod auth;
mod connect;
mod download;
mod hrefs;
mod listing;
mod probe;
mod scoped;
mod transport;
mod trash;
mod upload;
pub mod xml;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncSeekExt;

use super::{Capabilities, Listing, Remote, RemoteError};
pub use crate::config::SecretKind;
use crate::engine::path::check_segment;
use crate::engine::reserved;
use crate::engine::tree::{UNKNOWN_MTIME, join, parent, same_tag};
use crate::engine::{Entry, Filter, Hash, Kind, Problem, Side};
pub use connect::{CheckError, check_connection};
use hrefs::*;
use listing::*;
pub use probe::Probe;
use probe::*;
use transport::*;
pub use transport::{MAX_ATTEMPTS, MAX_LISTING_BYTES, install_crypto};
pub use trash::REMOTE_TRASH;

/// User name and password (an app password is one) or token. `Debug`
/// never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    /// The password, or the token when `kind` says so.
    pub password: String,
    /// What `password` is: sent as Basic or Digest, or as
    /// `Authorization: Bearer`.
    pub kind: SecretKind,
}

impl Credentials {
    pub fn password(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.to_string(),
            password: password.to_string(),
            kind: SecretKind::Password,
        }
    }

    pub fn token(user: &str, token: &str) -> Credentials {
        Credentials {
            user: user.to_string(),
            password: token.to_string(),
            kind: SecretKind::Token,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("kind", &self.kind)
            .finish()
    }
}

/// Options of a WebDAV connection.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub credentials: Option<Credentials>,
    /// An extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Refuse listings larger than this (default [`MAX_LISTING_BYTES`]).
    pub max_listing_bytes: Option<usize>,
    /// Give up on a request whose answer does not come, or stands still,
    /// for this long, and on an upload whose body stands still for this
    /// long (default 120 s). An upload that moves is never cut for taking
    /// long.
    pub timeout: Option<Duration>,
    /// The rate limits file contents are sent and received at (none by
    /// default).
    pub bandwidth: super::bandwidth::Throttles,
}

impl Options {
    /// The options every caller uses (`ferry sync`, the daemon's workers,
    /// its folder browser): these credentials (`None`: anonymous), an extra
    /// CA file, a request or upload standing still for `timeout` given up, the
    /// default listing cap.
    pub fn for_account(
        credentials: Option<Credentials>,
        ca_file: Option<PathBuf>,
        timeout: Duration,
    ) -> Options {
        Options {
            credentials,
            ca_file,
            max_listing_bytes: None,
            timeout: Some(timeout),
            bandwidth: Default::default(),
        }
    }
}

/// A WebDAV collection used as a remote.
pub struct WebDav {
    /// Listings, downloads and every request without a large body: a
    /// request is given up when its answer stands still for `timeout`.
    client: reqwest::Client,
    /// Uploads and downloads (bodies of any length, paced by the bandwidth
    /// limits): the same set-up without that read timeout, whose clock
    /// runs from a request's start to its answer, and then between two
    /// reads of the answer's body, pacing included: it would cut every
    /// upload longer than `timeout`, and a download held back by a low
    /// limit. An upload is watched by its body's [`Progress`] instead (see
    /// [`WebDav::send_watched`]), a download by a timeout on each wait for
    /// the network.
    transfer_client: reqwest::Client,
    /// How long a request may stand still.
    timeout: Duration,
    /// The collection URL, ending in `/`.
    base: reqwest::Url,
    /// Its path, one percent-decoded segment each (hrefs are compared by
    /// segment; a `%2F` in a segment is part of a name).
    base_segments: Vec<String>,
    /// How requests are signed in (Basic, Digest as the server asked,
    /// Bearer).
    auth: auth::Auth,
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
    /// A scoped listing's `Depth: 0` PROPFIND was answered with something
    /// other than exactly the item asked for: no scoped listings here
    /// (see [`scoped`]).
    depth0_odd: AtomicBool,
    /// The write probe's findings (`probed_at == 0`: not probed yet),
    /// held while the probe runs.
    written: tokio::sync::Mutex<Probe>,
    /// A copy of `written` as last settled, for reading without waiting
    /// (`probe()`): a `try_lock` of `written` failed whenever another
    /// upload was reading it at that instant, and the findings then read
    /// as "not seen".
    known: std::sync::Mutex<Probe>,
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
    /// The limits uploads and downloads obey.
    bandwidth: super::bandwidth::Throttles,
}

impl std::fmt::Debug for WebDav {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDav")
            .field("base", &self.base.as_str())
            .finish()
    }
}

impl WebDav {
    pub fn new(url: &str, options: Options) -> Result<WebDav, RemoteError> {
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
        let timeout = options.timeout.unwrap_or(Duration::from_secs(120));
        let build = |read_timeout: Option<Duration>| {
            let mut builder =
                client_builder(options.ca_file.as_deref()).map_err(RemoteError::Config)?;
            if let Some(t) = read_timeout {
                builder = builder.read_timeout(t);
            }
            builder
                .build()
                .map_err(|e| RemoteError::Config(format!("HTTP client: {e}")))
        };
        Ok(WebDav {
            client: build(Some(timeout))?,
            transfer_client: build(None)?,
            timeout,
            base: url,
            base_segments,
            auth: auth::Auth::new(options.credentials),
            depth_infinity: AtomicU8::new(UNKNOWN),
            infinity_checked_at: AtomicI64::new(0),
            file_ids: AtomicBool::new(false),
            raw_hrefs: AtomicBool::new(false),
            depth0_odd: AtomicBool::new(false),
            written: tokio::sync::Mutex::new(Probe::default()),
            known: std::sync::Mutex::new(Probe::default()),
            cache: std::sync::Mutex::new(None),
            trash_dirs: tokio::sync::Mutex::new(std::collections::HashSet::new()),
            leftovers: std::sync::Mutex::new(Vec::new()),
            sightings: std::sync::Mutex::new(std::collections::BTreeMap::new()),
            max_listing_bytes: options.max_listing_bytes.unwrap_or(MAX_LISTING_BYTES),
            bandwidth: options.bandwidth,
        })
    }
}

#[async_trait]
impl Remote for WebDav {
    fn describe(&self) -> String {
        format!("WebDAV {}", self.base)
    }

    fn export_state(&self) -> Option<String> {
        WebDav::export_state(self)
    }

    fn import_state(&self, state: &str) {
        WebDav::import_state(self, state)
    }

    fn capabilities(&self) -> Capabilities {
        let probe = self.probe();
        Capabilities {
            cheap_hash: false,
            trash: true,
            file_ids: probe.file_ids,
            set_mtime: probe.x_oc_mtime || probe.proppatch_mtime,
        }
    }

    async fn keeps_times(&self, may_write: bool) -> bool {
        let probe = if may_write {
            self.write_probe().await
        } else {
            self.probe()
        };
        probe.x_oc_mtime || probe.proppatch_mtime
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

    fn can_list_paths(&self) -> bool {
        WebDav::can_list_paths(self)
    }

    async fn list_paths(
        &self,
        paths: &[String],
        filter: &Filter,
    ) -> Result<Option<Listing>, RemoteError> {
        WebDav::list_paths(self, paths, filter).await
    }

    async fn stat(&self, path: &str) -> Result<Option<Entry>, RemoteError> {
        WebDav::stat(self, path).await
    }

    fn listing_fell_short(&self) -> Option<String> {
        WebDav::listing_fell_short(self)
    }

    async fn create_root(&self) -> Result<(), RemoteError> {
        WebDav::create_root(self).await
    }

    async fn clean_leftovers(&self) {
        WebDav::clean_leftovers(self).await
    }

    async fn hash(&self, path: &str, expect: &Entry) -> Result<Hash, RemoteError> {
        WebDav::hash(self, path, expect).await
    }

    async fn mkdir(&self, path: &str) -> Result<Entry, RemoteError> {
        WebDav::mkdir(self, path).await
    }

    async fn upload(
        &self,
        path: &str,
        src: &Path,
        src_expect: &Entry,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<(Entry, Hash), RemoteError> {
        WebDav::upload(self, path, src, src_expect, replace, backup).await
    }

    async fn download(&self, path: &str, expect: &Entry, temp: &Path) -> Result<Hash, RemoteError> {
        WebDav::download(self, path, expect, temp).await
    }

    async fn rename(&self, from: &str, to: &str, expect: &Entry) -> Result<Entry, RemoteError> {
        WebDav::rename(self, from, to, expect).await
    }

    async fn delete(
        &self,
        path: &str,
        expect: &Entry,
        contents: &[(String, Entry)],
        filter: &Filter,
    ) -> Result<(), RemoteError> {
        WebDav::delete(self, path, expect, contents, filter).await
    }
}
