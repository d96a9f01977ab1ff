//! The client side of the loopback API, for the `ferry` CLI, the tray and
//! the tests: one typed method per route ([`Client::status`],
//! [`Client::add_sync`], [`Client::events`], …). This module owns how a
//! client finds and talks to the daemon: it reads `api.port`
//! ([`super::portfile`]), sends the token, sends and reads JSON, turns the
//! daemon's JSON errors into [`ClientError::Api`], and reads the
//! Server-Sent Events stream. When no daemon answers (no port file, or a
//! stale one whose port refuses connections), the error says so and how to
//! start one ([`ClientError::NotRunning`]).
//!
//! Timeouts: connecting gives up after [`CONNECT_TIMEOUT`]; there is no
//! overall timeout, because some calls wait for a whole pass (`"wait":
//! true`) and the event stream lasts as long as the daemon.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt, TryFutureExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::accounts::{Account, Folders, NewAccount, NewPassword, RemovedAccount};
use super::history::{Conflict, LogEntry, LogQuery, OpenItem, Resolve};
use super::manage::{
    BuiltinRules, FilterCheck, FilterList, FilterPreview, PreviewRequest, SyncFolders,
};
use super::portfile;
use super::report::PassReport;
use super::settings::{CheckLocal, CheckLocalRequest, Diagnostics, Settings, SettingsPatch};
use super::status::{Event, RecentFile, Status};
use super::syncs::{NewSync, RemovedSync, RunRequest, RunResult, Started, SyncEntry, SyncPatch};
use super::why::{Why, WhyRequest};
use super::{Done, Health};
use crate::config::{SyncConfig, UserFilter};

/// How long connecting to the daemon may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The largest Server-Sent Event (or line) accepted from the daemon.
const MAX_EVENT: usize = 16 * 1024 * 1024;

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon: the port file is missing, or its port refuses connections.
    #[error(
        "Ferry is not running (no API endpoint in {}). Start it with `ferry daemon` (or `ferry`).",
        port_file.display()
    )]
    NotRunning { port_file: PathBuf },
    /// The port file is there but cannot be read or parsed.
    #[error("cannot use the Ferry daemon's endpoint file: {0}")]
    PortFile(portfile::ReadError),
    /// The daemon answered with an error (`{"error", "code"}`).
    #[error("{message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error's code (`unauthorized`, `conflict`, …); empty when the
        /// answer had none.
        code: String,
        /// The error's message, for people.
        message: String,
    },
    /// The daemon's answer is not what the API promises.
    #[error("the Ferry daemon's answer could not be read: {0}")]
    Protocol(String),
    /// The connection failed other than by being refused.
    #[error("cannot talk to the Ferry daemon: {0}")]
    Http(String),
}

/// A connection to the running daemon (cheap to clone).
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    port_file: PathBuf,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .field("port_file", &self.port_file)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the daemon whose endpoint file is in `data_dir`. Only
    /// reads the file: a stale one shows as [`ClientError::NotRunning`] on
    /// the first request.
    pub fn connect(data_dir: &Path) -> Result<Client, ClientError> {
        let port_file = portfile::path(data_dir);
        let endpoint = match portfile::read(data_dir) {
            Ok(e) => e,
            Err(portfile::ReadError::Missing(_)) => {
                return Err(ClientError::NotRunning { port_file });
            }
            Err(e) => return Err(ClientError::PortFile(e)),
        };
        // reqwest is built with rustls but no default provider; plain http
        // needs none, but the builder wants one installed (an error only
        // says one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Http(chain(&e)))?;
        Ok(Client {
            base: format!("http://127.0.0.1:{}", endpoint.port),
            token: endpoint.token,
            port_file,
            http,
        })
    }

    /// `GET path` (e.g. `/api/status`).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// `POST path` with `body` as JSON.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(json(self.request(reqwest::Method::POST, path), body)?)
            .await
    }

    /// `PUT path` with `body` as JSON.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(json(self.request(reqwest::Method::PUT, path), body)?)
            .await
    }

    /// `PATCH path` with `body` as JSON.
    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(json(self.request(reqwest::Method::PATCH, path), body)?)
            .await
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// The Server-Sent Events at `path`: each event's `data` parsed as JSON
    /// into `T` (boxed, so `Unpin`: no pinning needed to call `next`).
    /// The stream ends when the daemon closes it; a connection or HTTP error
    /// is its only item, a transport error mid-stream its last, and an event
    /// that is not JSON an `Err` item after which the stream goes on.
    pub fn sse<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
    ) -> impl Stream<Item = Result<T, ClientError>> + Send + Unpin + use<T> {
        let client = self.clone();
        let path = path.to_string();
        async move { client.open_events(&path).await }
            .map_ok(sse_events::<T>)
            .try_flatten_stream()
            .boxed()
    }

    // ------------------------------------------------ one method per route --

    /// `GET /api/health` (needs no token).
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get("/api/health").await
    }

    /// `POST /api/login-code`: a single-use code, and the URL that logs a
    /// browser in with it and opens `page` of the preferences.
    pub async fn login_code(
        &self,
        page: Option<&str>,
    ) -> Result<super::prefs::LoginCode, ClientError> {
        let body = super::prefs::LoginRequest {
            page: page.map(str::to_string),
        };
        self.post("/api/login-code", &body).await
    }

    /// `GET /api/status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.get("/api/status").await
    }

    /// `GET /api/events`: first the state of every synchronization, then
    /// each change and transfer as it happens (see [`Client::sse`] for how
    /// the stream ends).
    pub fn events(&self) -> impl Stream<Item = Result<Event, ClientError>> + Send + Unpin + use<> {
        self.sse("/api/events")
    }

    /// `GET /api/recent`: the latest transfers, newest first.
    pub async fn recent(&self) -> Result<Vec<RecentFile>, ClientError> {
        self.get("/api/recent").await
    }

    /// `GET /api/accounts`.
    pub async fn accounts(&self) -> Result<Vec<Account>, ClientError> {
        self.get("/api/accounts").await
    }

    /// `POST /api/accounts`: add an account (or change its password).
    pub async fn add_account(&self, new: &NewAccount) -> Result<Account, ClientError> {
        self.post("/api/accounts", new).await
    }

    /// `DELETE /api/accounts/{id}`: the account and its synchronizations.
    pub async fn remove_account(&self, id_or_url: &str) -> Result<RemovedAccount, ClientError> {
        self.delete(&format!("/api/accounts/{}", segment(id_or_url)))
            .await
    }

    /// `POST /api/accounts/{id}/test`: test its stored credentials.
    pub async fn test_account(&self, id_or_url: &str) -> Result<Done, ClientError> {
        let path = format!("/api/accounts/{}/test", segment(id_or_url));
        self.post(&path, &serde_json::Map::new()).await
    }

    /// `PUT /api/accounts/{id}/password`: "update credentials" (tested
    /// first; the account's synchronizations restart with it).
    pub async fn update_password(
        &self,
        id_or_url: &str,
        password: &str,
    ) -> Result<Account, ClientError> {
        let body = NewPassword {
            password: password.to_string(),
            token: None,
        };
        self.put(
            &format!("/api/accounts/{}/password", segment(id_or_url)),
            &body,
        )
        .await
    }

    /// `GET /api/settings`.
    pub async fn settings(&self) -> Result<Settings, ClientError> {
        self.get("/api/settings").await
    }

    /// `PATCH /api/settings`.
    pub async fn change_settings(&self, patch: &SettingsPatch) -> Result<Settings, ClientError> {
        self.patch("/api/settings", patch).await
    }

    /// `POST /api/diagnostics`: write the redacted bundle; where it is.
    pub async fn diagnostics(&self) -> Result<Diagnostics, ClientError> {
        self.post("/api/diagnostics", &serde_json::Map::new()).await
    }

    /// `POST /api/check-local`: what a local folder would be for a new
    /// synchronization.
    pub async fn check_local(&self, path: &str) -> Result<CheckLocal, ClientError> {
        let body = CheckLocalRequest {
            path: path.to_string(),
        };
        self.post("/api/check-local", &body).await
    }

    /// `POST /api/simulate`: the first pass of a synchronization not added
    /// yet, simulated.
    pub async fn simulate_new(&self, new: &NewSync) -> Result<PassReport, ClientError> {
        self.post("/api/simulate", new).await
    }

    /// `GET /api/accounts/{id}/folders?path=…`: the sub-folders of `path`.
    pub async fn folders(&self, account: &str, path: &str) -> Result<Folders, ClientError> {
        self.get(&format!(
            "/api/accounts/{}/folders?path={}",
            segment(account),
            segment(path)
        ))
        .await
    }

    /// `GET /api/syncs`.
    pub async fn syncs(&self) -> Result<Vec<SyncEntry>, ClientError> {
        self.get("/api/syncs").await
    }

    /// `GET /api/syncs/{id}`.
    pub async fn sync(&self, id_or_name: &str) -> Result<SyncEntry, ClientError> {
        self.get(&format!("/api/syncs/{}", segment(id_or_name)))
            .await
    }

    /// `POST /api/syncs`: create (and start) a synchronization.
    pub async fn add_sync(&self, new: &NewSync) -> Result<SyncConfig, ClientError> {
        self.post("/api/syncs", new).await
    }

    /// `PATCH /api/syncs/{id}`: change its settings.
    pub async fn update_sync(
        &self,
        id_or_name: &str,
        patch: &SyncPatch,
    ) -> Result<SyncConfig, ClientError> {
        self.patch(&format!("/api/syncs/{}", segment(id_or_name)), patch)
            .await
    }

    /// `DELETE /api/syncs/{id}`: both folders are left as they are.
    pub async fn remove_sync(&self, id_or_name: &str) -> Result<RemovedSync, ClientError> {
        self.delete(&format!("/api/syncs/{}", segment(id_or_name)))
            .await
    }

    /// `POST /api/syncs/{id}/enable` (`on`) or `…/disable`.
    pub async fn set_enabled(&self, id_or_name: &str, on: bool) -> Result<SyncConfig, ClientError> {
        let what = if on { "enable" } else { "disable" };
        self.action(id_or_name, what).await
    }

    /// `POST /api/syncs/{id}/run` with `wait`: run a pass now and answer
    /// with its summary.
    pub async fn run(&self, id_or_name: &str) -> Result<super::status::PassSummary, ClientError> {
        let path = format!("/api/syncs/{}/run", segment(id_or_name));
        let wait = RunRequest {
            wait: true,
            parallel: None,
        };
        self.post(&path, &wait).await
    }

    /// `POST /api/syncs/{id}/run`: start a pass, do not wait for it.
    pub async fn start(&self, id_or_name: &str) -> Result<Started, ClientError> {
        let path = format!("/api/syncs/{}/run", segment(id_or_name));
        self.post(&path, &RunRequest::default()).await
    }

    /// `POST /api/run` with `wait`: run every synchronization (all at once,
    /// one after the other, or as the settings say) and answer with each
    /// one's outcome.
    pub async fn run_all(&self, parallel: Option<bool>) -> Result<Vec<RunResult>, ClientError> {
        let wait = RunRequest {
            wait: true,
            parallel,
        };
        self.post("/api/run", &wait).await
    }

    /// `POST /api/run`: start every synchronization, do not wait.
    pub async fn start_all(&self, parallel: Option<bool>) -> Result<Started, ClientError> {
        let go = RunRequest {
            wait: false,
            parallel,
        };
        self.post("/api/run", &go).await
    }

    /// `POST /api/syncs/{id}/pause`, or `/api/pause` (all) for `None`.
    pub async fn pause(&self, id_or_name: Option<&str>) -> Result<Done, ClientError> {
        match id_or_name {
            Some(id) => self.action(id, "pause").await,
            None => self.post("/api/pause", &serde_json::Map::new()).await,
        }
    }

    /// `POST /api/syncs/{id}/resume`, or `/api/resume` (all) for `None`.
    pub async fn resume(&self, id_or_name: Option<&str>) -> Result<Done, ClientError> {
        match id_or_name {
            Some(id) => self.action(id, "resume").await,
            None => self.post("/api/resume", &serde_json::Map::new()).await,
        }
    }

    /// `POST /api/syncs/{id}/confirm`: proceed with a pass a guard stopped.
    pub async fn confirm(&self, id_or_name: &str) -> Result<Done, ClientError> {
        self.action(id_or_name, "confirm").await
    }

    /// `POST /api/syncs/{id}/cancel`: do not proceed; pause it.
    pub async fn cancel(&self, id_or_name: &str) -> Result<Done, ClientError> {
        self.action(id_or_name, "cancel").await
    }

    /// `POST /api/syncs/{id}/simulate`: what a pass would do now.
    pub async fn simulate(&self, id_or_name: &str) -> Result<PassReport, ClientError> {
        self.action(id_or_name, "simulate").await
    }

    /// `GET /api/log`.
    pub async fn log(&self, query: &LogQuery) -> Result<Vec<LogEntry>, ClientError> {
        self.get(&format!("/api/log?{}", log_query(query))).await
    }

    /// `GET /api/conflicts`: the open ones.
    pub async fn conflicts(&self) -> Result<Vec<Conflict>, ClientError> {
        self.get("/api/conflicts").await
    }

    /// `POST /api/conflicts/resolve`.
    pub async fn resolve(&self, resolve: &Resolve) -> Result<Done, ClientError> {
        self.post("/api/conflicts/resolve", resolve).await
    }

    /// `POST /api/open`: open an item of a synchronization with the
    /// desktop's default application (on the daemon's desktop).
    pub async fn open_item(&self, item: &OpenItem) -> Result<Done, ClientError> {
        self.post("/api/open", item).await
    }

    /// `POST /api/why`: why the item at `path` (absolute, inside a
    /// synchronized folder) is as it is.
    pub async fn why(&self, path: &Path) -> Result<Why, ClientError> {
        let request = WhyRequest {
            path: path.to_path_buf(),
        };
        self.post("/api/why", &request).await
    }

    /// `GET /api/syncs/{id}/folders?path=…`: the sub-folders of `path`
    /// in a synchronization's remote folder.
    pub async fn sync_folders(
        &self,
        id_or_name: &str,
        path: &str,
    ) -> Result<SyncFolders, ClientError> {
        self.get(&format!(
            "/api/syncs/{}/folders?path={}",
            segment(id_or_name),
            segment(path)
        ))
        .await
    }

    /// `POST /api/filters/check`: each filter's verdict.
    pub async fn check_filters(&self, filters: &[UserFilter]) -> Result<FilterCheck, ClientError> {
        let list = FilterList {
            filters: filters.to_vec(),
        };
        self.post("/api/filters/check", &list).await
    }

    /// `GET /api/filters/builtin`: the rules that always apply.
    pub async fn builtin_rules(&self) -> Result<BuiltinRules, ClientError> {
        self.get("/api/filters/builtin").await
    }

    /// `POST /api/syncs/{id}/filters/preview`: which existing items
    /// `filters` would leave out.
    pub async fn preview_filters(
        &self,
        id_or_name: &str,
        request: &PreviewRequest,
    ) -> Result<FilterPreview, ClientError> {
        let path = format!("/api/syncs/{}/filters/preview", segment(id_or_name));
        self.post(&path, request).await
    }

    /// `POST /api/syncs/{id}/open`: open its local folder in the desktop's
    /// file manager.
    pub async fn open_local(&self, id_or_name: &str) -> Result<Done, ClientError> {
        self.action(id_or_name, "open").await
    }

    /// `POST /api/syncs/{id}/{what}` with an empty body.
    async fn action<T: DeserializeOwned>(
        &self,
        id_or_name: &str,
        what: &str,
    ) -> Result<T, ClientError> {
        let path = format!("/api/syncs/{}/{what}", segment(id_or_name));
        self.post(&path, &serde_json::Map::new()).await
    }

    async fn open_events(&self, path: &str) -> Result<ByteStream, ClientError> {
        let resp = self
            .request(reqwest::Method::GET, path)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
            return Err(api_error(status, &bytes));
        }
        let sse = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("text/event-stream"));
        if !sse {
            return Err(ClientError::Protocol(format!(
                "{path} is not an event stream"
            )));
        }
        Ok(Box::pin(resp.bytes_stream()))
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    fn transport(&self, e: reqwest::Error) -> ClientError {
        if e.is_connect() && !e.is_timeout() {
            // Refused: a port file left by a daemon that died.
            ClientError::NotRunning {
                port_file: self.port_file.clone(),
            }
        } else {
            ClientError::Http(chain(&e))
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = rb.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        // An empty answer (204) reads as `null`: fine for `()` or `Option`.
        let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}

fn json<B: Serialize + ?Sized>(
    rb: reqwest::RequestBuilder,
    body: &B,
) -> Result<reqwest::RequestBuilder, ClientError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok(rb
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes))
}

/// [`ClientError::Api`] from an error answer, `{"error", "code"}` when the
/// body is that.
fn api_error(status: reqwest::StatusCode, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<super::ErrorBody>(body) {
        Ok(e) => ClientError::Api {
            status: status.as_u16(),
            code: e.code,
            message: e.error,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: String::new(),
            message: format!("the Ferry daemon answered {status}"),
        },
    }
}

/// A path segment or query value percent-encoded (names may hold spaces,
/// `/`, `?`…).
pub fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A log query as a query string (`sync=…&limit=…`), each value
/// percent-encoded.
fn log_query(query: &LogQuery) -> String {
    let mut q = Vec::new();
    if let Some(l) = query.limit {
        q.push(format!("limit={l}"));
    }
    q.push(format!("offset={}", query.offset));
    for (k, v) in [
        ("sync", &query.sync),
        ("action", &query.action),
        ("search", &query.search),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", segment(v)));
        }
    }
    q.join("&")
}

/// An error and its causes, `a: b: c` (reqwest's own message is terse).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The state of [`sse_events`].
struct SseState {
    bytes: ByteStream,
    /// Bytes not yet split into lines.
    buf: Vec<u8>,
    /// The current event's `data` lines, each followed by `\n`.
    data: String,
    done: bool,
}

/// Split a byte stream into Server-Sent Events and parse each one's data as
/// JSON. As the SSE specification says: lines end with `\n` or `\r\n`;
/// `data:` lines (one optional space after the colon) accumulate, joined
/// with `\n`; a blank line dispatches the event; comments (`:`) and other
/// fields (`event`, `id`, `retry`) are ignored; an unfinished event at the
/// end is dropped. Events with no data are skipped.
fn sse_events<T: DeserializeOwned>(
    bytes: ByteStream,
) -> impl Stream<Item = Result<T, ClientError>> + Send {
    let state = SseState {
        bytes,
        buf: Vec::new(),
        data: String::new(),
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            if let Some(pos) = st.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = st.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches('\n').trim_end_matches('\r');
                if line.is_empty() {
                    let data = std::mem::take(&mut st.data);
                    let data = data.strip_suffix('\n').unwrap_or(&data);
                    if data.is_empty() {
                        continue;
                    }
                    let item = serde_json::from_str(data)
                        .map_err(|e| ClientError::Protocol(format!("an event is not JSON: {e}")));
                    return Some((item, st));
                }
                let (field, value) = match line.split_once(':') {
                    Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                    None => (line, ""),
                };
                if field == "data" {
                    st.data.push_str(value);
                    st.data.push('\n');
                }
                if st.data.len() > MAX_EVENT {
                    st.done = true;
                    let e = ClientError::Protocol("an event is too large".into());
                    return Some((Err(e), st));
                }
                continue;
            }
            if st.buf.len() > MAX_EVENT {
                st.done = true;
                let e = ClientError::Protocol("an event line is too long".into());
                return Some((Err(e), st));
            }
            match st.bytes.next().await {
                Some(Ok(chunk)) => st.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(ClientError::Http(chain(&e))), st));
                }
                None => return None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::security::tests::{PUBLIC, TOKEN, serve};
    use crate::api::security::{Guard, protect};
    use axum::Router;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, Sse};
    use axum::routing::get;
    use serde_json::{Value, json};

    /// Dummy routes like the daemon's, behind the real checks.
    fn routes() -> Router {
        let echo = |axum::Json(v): axum::Json<Value>| async move { axum::Json(v) };
        Router::new()
            .route(
                "/api/health",
                get(|| async { axum::Json(json!({"ok": true})) }),
            )
            .route(
                "/api/item",
                get(|| async { axum::Json(json!({"n": 1})) })
                    .delete(|| async { axum::Json(json!({"deleted": true})) }),
            )
            .route("/api/echo", axum::routing::post(echo).put(echo).patch(echo))
            .route(
                "/api/conflict",
                get(|| async {
                    (
                        StatusCode::CONFLICT,
                        axum::Json(
                            json!({"error": "not waiting for a confirmation", "code": "conflict"}),
                        ),
                    )
                }),
            )
            .route("/api/empty", get(|| async { StatusCode::NO_CONTENT }))
            .route("/api/text", get(|| async { "not json" }))
            .route(
                "/api/events",
                get(|| async {
                    let events = futures_util::stream::iter([
                        Event::default().json_data(json!({"type": "state", "n": 1})),
                        Event::default().json_data(json!({"type": "transfer", "n": 2})),
                    ])
                    // Then stay open, as the daemon's stream does.
                    .chain(futures_util::stream::pending());
                    Sse::new(events).into_response()
                }),
            )
    }

    /// A daemon stand-in on a real socket and a data folder naming it
    /// with `token`.
    async fn daemon(token: &str) -> (tempfile::TempDir, u16) {
        let port = serve(|port| {
            protect(
                routes(),
                Guard {
                    token: TOKEN.into(),
                    port,
                    public: PUBLIC,
                    public_prefixes: &[],
                    sessions: Default::default(),
                },
            )
        })
        .await;
        let tmp = tempfile::tempdir().unwrap();
        portfile::write(
            tmp.path(),
            &portfile::Endpoint {
                port,
                token: token.into(),
                pid: std::process::id(),
            },
        )
        .unwrap();
        (tmp, port)
    }

    fn not_running_message(dir: &Path) -> String {
        format!(
            "Ferry is not running (no API endpoint in {}). Start it with `ferry daemon` (or `ferry`).",
            dir.join("api.port").display()
        )
    }

    #[tokio::test]
    async fn no_port_file_is_not_running_with_how_to_start() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Client::connect(tmp.path()).unwrap_err();
        assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
        assert_eq!(e.to_string(), not_running_message(tmp.path()));
    }

    #[tokio::test]
    async fn a_stale_port_file_is_not_running_too() {
        let tmp = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        portfile::write(
            tmp.path(),
            &portfile::Endpoint {
                port,
                token: portfile::new_token(),
                pid: 1,
            },
        )
        .unwrap();
        let c = Client::connect(tmp.path()).unwrap();
        let e = c.get::<Value>("/api/status").await.unwrap_err();
        assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
        assert_eq!(e.to_string(), not_running_message(tmp.path()));
        let e = c
            .post::<_, Value>("/api/run", &json!({}))
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
        let first = c
            .sse::<Value>("/api/events")
            .next()
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(first, ClientError::NotRunning { .. }), "{first:?}");
    }

    #[tokio::test]
    async fn a_broken_port_file_is_not_mistaken_for_no_daemon() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("api.port"), b"{\"port\":").unwrap();
        let e = Client::connect(tmp.path()).unwrap_err();
        assert!(matches!(e, ClientError::PortFile(_)), "{e:?}");
        assert!(e.to_string().contains("api.port"), "{e}");
    }

    #[tokio::test]
    async fn json_round_trips_and_api_errors_are_parsed() {
        let (tmp, _) = daemon(TOKEN).await;
        let c = Client::connect(tmp.path()).unwrap();
        assert!(!format!("{c:?}").contains(TOKEN));
        let v: Value = c.get("/api/item").await.unwrap();
        assert_eq!(v, json!({"n": 1}));
        let body = json!({"name": "docs", "list": [1, 2], "text": "é\n\"q\""});
        let v: Value = c.post("/api/echo", &body).await.unwrap();
        assert_eq!(v, body);
        let v: Value = c.put("/api/echo", &body).await.unwrap();
        assert_eq!(v, body);
        let v: Value = c.patch("/api/echo", &body).await.unwrap();
        assert_eq!(v, body);
        #[derive(serde::Deserialize)]
        struct Deleted {
            deleted: bool,
        }
        let d: Deleted = c.delete("/api/item").await.unwrap();
        assert!(d.deleted);
        c.get::<()>("/api/empty").await.unwrap();
        // The daemon's JSON error.
        match c.get::<Value>("/api/conflict").await.unwrap_err() {
            ClientError::Api {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 409);
                assert_eq!(code, "conflict");
                assert_eq!(message, "not waiting for a confirmation");
            }
            e => panic!("{e:?}"),
        }
        // An error without a JSON body, and a success that is not JSON.
        match c.get::<Value>("/api/nope").await.unwrap_err() {
            ClientError::Api { status, code, .. } => assert_eq!((status, code.as_str()), (404, "")),
            e => panic!("{e:?}"),
        }
        let e = c.get::<Value>("/api/text").await.unwrap_err();
        assert!(matches!(e, ClientError::Protocol(_)), "{e:?}");
    }

    #[tokio::test]
    async fn a_wrong_token_is_the_security_layers_401() {
        let (tmp, _) = daemon(&"0".repeat(64)).await;
        let c = Client::connect(tmp.path()).unwrap();
        match c.get::<Value>("/api/item").await.unwrap_err() {
            ClientError::Api {
                status,
                code,
                message,
            } => {
                assert_eq!((status, code.as_str()), (401, "unauthorized"));
                assert!(!message.contains(TOKEN));
            }
            e => panic!("{e:?}"),
        }
        // The public path needs none.
        let v: Value = c.get("/api/health").await.unwrap();
        assert_eq!(v["ok"], true);
        // The event stream reports the refusal as its only item.
        let items: Vec<_> = c.sse::<Value>("/api/events").collect().await;
        assert_eq!(items.len(), 1);
        assert!(
            matches!(&items[0], Err(ClientError::Api { status: 401, code, .. }) if code == "unauthorized"),
            "{items:?}"
        );
    }

    #[tokio::test]
    async fn events_reads_the_daemons_sse_stream() {
        let (tmp, _) = daemon(TOKEN).await;
        let c = Client::connect(tmp.path()).unwrap();
        let stream = c.sse::<Value>("/api/events");
        let got: Vec<Value> = tokio::time::timeout(
            Duration::from_secs(10),
            stream.take(2).map(Result::unwrap).collect::<Vec<_>>(),
        )
        .await
        .unwrap();
        assert_eq!(
            got,
            [
                json!({"type": "state", "n": 1}),
                json!({"type": "transfer", "n": 2})
            ]
        );
        // Not an event stream.
        let items: Vec<_> = c.sse::<Value>("/api/item").collect().await;
        assert!(
            matches!(items.as_slice(), [Err(ClientError::Protocol(_))]),
            "{items:?}"
        );
    }

    async fn parse(chunks: &[&'static [u8]]) -> Vec<Result<Value, ClientError>> {
        let chunks: Vec<reqwest::Result<bytes::Bytes>> = chunks
            .iter()
            .map(|c| Ok(bytes::Bytes::from_static(c)))
            .collect();
        sse_events::<Value>(Box::pin(futures_util::stream::iter(chunks)))
            .collect()
            .await
    }

    #[tokio::test]
    async fn sse_framing_follows_the_specification() {
        let items = parse(&[
            b": keep-alive\n\ndata: {\"a\"",
            b": 1}\n\nevent: x\nid: 3\ndata:{\"b\":2}\r\n\r\n",
            b"data: [1,\ndata: 2]\n\n",
            b"data\n\ndata:\n\n",
            b"data: nope\n\n",
            b"data: {\"c\": \"\xc3",
            b"\xa9\"}\n\n",
            b"data: {\"unfinished\": true}\n",
        ])
        .await;
        let values: Vec<_> = items
            .iter()
            .map(|r| r.as_ref().map_err(|e| e.to_string()).cloned())
            .collect();
        assert_eq!(values.len(), 5, "{values:?}");
        assert_eq!(values[0], Ok(json!({"a": 1})));
        assert_eq!(values[1], Ok(json!({"b": 2})));
        assert_eq!(values[2], Ok(json!([1, 2])));
        assert!(values[3].as_ref().is_err_and(|e| e.contains("not JSON")));
        assert_eq!(values[4], Ok(json!({"c": "é"})));
    }
}
