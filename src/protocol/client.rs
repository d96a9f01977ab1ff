//! The client side of the loopback API, for the `ferry` CLI; this module
//! owns how a command finds and talks to the daemon: it reads `api.port`
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

use super::portfile;

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
        // needs none, but the builder wants one installed.
        crate::remote::webdav::install_crypto();
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
    /// (boxed, so `Unpin`: no pinning needed to call `next`).
    /// The stream ends when the daemon closes it; a connection or HTTP error
    /// is its only item, a transport error mid-stream its last, and an event
    /// that is not JSON an `Err` item after which the stream goes on.
    pub fn events(
        &self,
        path: &str,
    ) -> impl Stream<Item = Result<serde_json::Value, ClientError>> + Send + Unpin + use<> {
        let client = self.clone();
        let path = path.to_string();
        async move { client.open_events(&path).await }
            .map_ok(sse_events)
            .try_flatten_stream()
            .boxed()
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
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    ClientError::Api {
        status: status.as_u16(),
        code: v["code"].as_str().unwrap_or_default().to_string(),
        message: v["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("the Ferry daemon answered {status}")),
    }
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
fn sse_events(
    bytes: ByteStream,
) -> impl Stream<Item = Result<serde_json::Value, ClientError>> + Send {
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
        let first = c.events("/api/events").next().await.unwrap().unwrap_err();
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
        let items: Vec<_> = c.events("/api/events").collect().await;
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
        let stream = c.events("/api/events");
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
        let items: Vec<_> = c.events("/api/item").collect().await;
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
        sse_events(Box::pin(futures_util::stream::iter(chunks)))
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
