//! Talking to the server: the one HTTP client (rustls + ring), requests
//! with credentials, sending with retries (jittered exponential backoff
//! honouring `Retry-After`, a body cut mid-read included), a MOVE whose
//! answer was lost handed back instead of resent, uploads given up only
//! when their body stands still, capped answer bodies, PROPFIND, and what
//! statuses mean (401 alone is credentials; 403 is one
//! item's error; 5xx and 429 are transient).

use super::*;

/// A multistatus body larger than this is refused.
pub const MAX_LISTING_BYTES: usize = 512 * 1024 * 1024;

/// At most this many attempts per request.
pub const MAX_ATTEMPTS: u32 = 5;

pub(super) const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>
<d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/><d:displayname/><oc:fileid/>
</d:prop></d:propfind>"#;

/// The one HTTP client set-up of Ferry (listings, transfers and the
/// connection test): rustls with the crypto provider installed, a 15 s
/// connect timeout, no redirects followed, Ferry's user agent, and the
/// extra CA certificate (PEM) when one is given. The caller adds its
/// timeout. `Err`: the CA file cannot be read or used (what to fix).
pub(super) fn client_builder(ca_file: Option<&Path>) -> Result<reqwest::ClientBuilder, String> {
    install_crypto();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Ferry/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = ca_file {
        let pem = std::fs::read(ca).map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("CA file {}: {e}", ca.display()))?;
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// How an upload's body moves: when the attempt began, when the connection
/// last took a block of it, and how much of it it took. An attempt is
/// given up only when the body stands still for the connection's timeout;
/// once all of it is handed over, the answer may take the timeout plus as
/// long as the handing over took (what the socket buffers still held
/// drains at the rate they were filled: a slow link's answer is not cut).
#[derive(Clone, Debug)]
pub(super) struct Progress {
    size: u64,
    state: std::sync::Arc<std::sync::Mutex<Moves>>,
}

#[derive(Debug)]
struct Moves {
    began: tokio::time::Instant,
    last: tokio::time::Instant,
    taken: u64,
}

/// What stood still.
pub(super) enum Stall {
    /// The body, before all of it was taken.
    Body,
    /// The answer to a body taken whole, for this long after it.
    Answer(Duration),
}

impl Progress {
    /// For a body of `size` bytes.
    pub(super) fn new(size: u64) -> Progress {
        let now = tokio::time::Instant::now();
        Progress {
            size,
            state: std::sync::Arc::new(std::sync::Mutex::new(Moves {
                began: now,
                last: now,
                taken: 0,
            })),
        }
    }

    /// An attempt begins.
    pub(super) fn begin(&self) {
        if let Ok(mut m) = self.state.lock() {
            let now = tokio::time::Instant::now();
            *m = Moves {
                began: now,
                last: now,
                taken: 0,
            };
        }
    }

    /// The connection took `n` more bytes.
    pub(super) fn moved(&self, n: usize) {
        if let Ok(mut m) = self.state.lock() {
            m.last = tokio::time::Instant::now();
            m.taken += n as u64;
        }
    }

    /// Completes once the body (or, taken whole, its answer) stood still
    /// too long.
    pub(super) async fn stalled(&self, timeout: Duration) -> Stall {
        loop {
            let (deadline, stall) = match self.state.lock() {
                Ok(m) if m.taken >= self.size => {
                    let allowed = timeout + (m.last - m.began);
                    (m.last + allowed, Stall::Answer(allowed))
                }
                Ok(m) => (m.last + timeout, Stall::Body),
                Err(_) => return Stall::Body,
            };
            if tokio::time::Instant::now() >= deadline {
                return stall;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// Install the TLS crypto provider once per process.
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub(super) fn http_error(what: &str, e: reqwest::Error) -> RemoteError {
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
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
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

pub(super) fn transient(s: StatusCode) -> bool {
    matches!(s.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

pub(super) fn propfind_method() -> Method {
    dav_method("PROPFIND")
}

/// A WebDAV method (an extension method: always a valid token).
pub(super) fn dav_method(name: &'static str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap_or(Method::OPTIONS)
}

pub(super) fn check_auth(resp: reqwest::Response) -> Result<reqwest::Response, RemoteError> {
    match check_auth_status(resp.status()) {
        Some(e) => Err(e),
        None => Ok(resp),
    }
}

/// What stops a pass whatever the request: 401 (credentials; a 403 is
/// only that request's refusal) and 507 (the server is full).
pub(super) fn check_auth_status(s: StatusCode) -> Option<RemoteError> {
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
pub(super) fn item_name(rel: &str) -> String {
    if rel.trim_matches('/').is_empty() {
        "the synchronized folder".to_string()
    } else {
        rel.to_string()
    }
}

/// The error for an unexpected status of `method` on `rel`. Only 401 means
/// credentials (see [`check_auth`]); a 403 refuses this one request: an
/// error for this item, the pass goes on.
pub(super) fn status_error(method: &str, rel: &str, s: StatusCode) -> RemoteError {
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

pub(super) fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
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
pub(super) fn backoff(attempt: u32) -> Duration {
    let cap = (200u64 << attempt.min(6)).min(10_000);
    Duration::from_millis(rand::random_range(cap / 4..=cap))
}

/// Why an answer's body could not be read whole.
pub(super) enum ReadError {
    /// Larger than allowed: not retried.
    TooLarge,
    /// The connection broke off (or timed out) mid-body: worth retrying.
    Cut(reqwest::Error),
}

pub(super) async fn read_capped(resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, ReadError> {
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

impl WebDav {
    /// A request signed in as this connection does (`auth`: Basic up
    /// front, Digest once the server asked for it, Bearer).
    pub(super) fn request(&self, method: Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        let rb = self.client.request(method.clone(), url.clone());
        self.auth.sign(rb, &method, &url)
    }

    /// A transfer's request (an upload's body, a download's answer: of any
    /// length, paced by the limits), on the client without a read timeout:
    /// send it with [`send_watched`](Self::send_watched), and read a
    /// download's answer with [`next_chunk`](Self::next_chunk).
    pub(super) fn transfer_request(
        &self,
        method: Method,
        url: reqwest::Url,
    ) -> reqwest::RequestBuilder {
        let rb = self.transfer_client.request(method.clone(), url.clone());
        self.auth.sign(rb, &method, &url)
    }

    /// Send a request built by `build`, retrying transient failures.
    pub(super) async fn send(
        &self,
        what: &str,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
    ) -> Result<reqwest::Response, RemoteError> {
        match self.send_inner(what, build, true, None).await? {
            Ok(resp) => Ok(resp),
            Err(e) => Err(http_error(what, e)),
        }
    }

    /// Send a transfer built by `build` (from
    /// [`transfer_request`](Self::transfer_request), an upload's body
    /// marking `progress`; a download's `progress` is for a body of 0
    /// bytes) as [`send`](Self::send) does, an attempt given up when its
    /// body, or the answer once the body is sent, stands still for the
    /// connection's timeout.
    pub(super) async fn send_watched(
        &self,
        what: &str,
        progress: &Progress,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
    ) -> Result<reqwest::Response, RemoteError> {
        match self.send_inner(what, build, true, Some(progress)).await? {
            Ok(resp) => Ok(resp),
            Err(e) => Err(http_error(what, e)),
        }
    }

    /// Send a request that must not be repeated blindly once the server
    /// may have carried it out (a MOVE): transient statuses and failures to
    /// connect are retried as by [`send`](Self::send), but an answer lost
    /// after the request went out (connection reset, timeout) comes back
    /// as `Ok(Err(..))`, for the caller to find out what the server did.
    pub(super) async fn send_unrepeated(
        &self,
        what: &str,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, RemoteError> {
        self.send_inner(what, build, false, None).await
    }

    pub(super) async fn send_inner(
        &self,
        what: &str,
        build: impl Fn() -> Result<reqwest::RequestBuilder, RemoteError>,
        resend_unanswered: bool,
        watch: Option<&Progress>,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, RemoteError> {
        let mut attempt = 0;
        let mut challenged = 0;
        loop {
            attempt += 1;
            let request = build()?.send();
            let result = match watch {
                None => request.await,
                Some(progress) => {
                    progress.begin();
                    tokio::select! {
                        result = request => result,
                        stall = progress.stalled(self.timeout) => {
                            let why = match stall {
                                Stall::Body => format!(
                                    "the upload stood still for {} s",
                                    self.timeout.as_secs_f64()
                                ),
                                Stall::Answer(d) => format!(
                                    "no answer came within {:.0} s of the request's end",
                                    d.as_secs_f64()
                                ),
                            };
                            if attempt < MAX_ATTEMPTS {
                                tracing::debug!(what, attempt, why, "retrying");
                                tokio::time::sleep(backoff(attempt)).await;
                                continue;
                            }
                            return Err(RemoteError::Unreachable(format!(
                                "{what}: {why} ({attempt} attempts)"
                            )));
                        }
                    }
                }
            };
            // A 401: a Digest challenge learnt (or its nonce renewed) sends
            // the request again, built anew (a streamed body included: the
            // server refused it, nothing of it was carried out); refused
            // credentials or a scheme Ferry does not speak stop here.
            let unauthorized = match &result {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => Some(resp.headers()),
                _ => None,
            };
            if let Some(headers) = unauthorized {
                match self.auth.challenged(headers, challenged) {
                    auth::Challenged::Retry => {
                        challenged += 1;
                        attempt -= 1;
                        tracing::debug!(
                            what,
                            scheme = self.auth.scheme(),
                            "answering the server's challenge"
                        );
                        continue;
                    }
                    auth::Challenged::Refused(m) => return Err(RemoteError::Auth(m)),
                    auth::Challenged::Unsupported(m) => {
                        return Err(RemoteError::AuthUnsupported(m));
                    }
                }
            }
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

    /// The next chunk of a transfer's answer (from
    /// [`transfer_request`](Self::transfer_request)): `Ok(None)` at its end,
    /// an error when the connection broke or nothing came for the
    /// connection's timeout (time spent pacing between two calls does not
    /// count).
    pub(super) async fn next_chunk(
        &self,
        what: &str,
        stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    ) -> Result<Option<bytes::Bytes>, RemoteError> {
        match tokio::time::timeout(self.timeout, stream.next()).await {
            Ok(None) => Ok(None),
            Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
            Ok(Some(Err(e))) => Err(http_error(what, e)),
            Err(_) => Err(RemoteError::Unreachable(format!(
                "{what}: nothing came for {} s",
                self.timeout.as_secs_f64()
            ))),
        }
    }

    /// Send a request built by `build` and read its whole answer (at most
    /// `cap` bytes), retrying transient failures, a connection cut while
    /// the answer's body was read included. Only for requests that may be
    /// sent again (PROPFIND, PROPPATCH) and small or listing answers.
    pub(super) async fn send_read(
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
    pub(super) async fn propfind(
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
    pub(super) async fn propfind_raw(
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
