//! The client side of the loopback API, for the `ferry` CLI: finds the
//! daemon through `api.port`, sends the token, turns JSON errors into
//! [`ClientError::Api`], and reads the Server-Sent Events stream. When no
//! daemon answers, the error says so and how to start one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::portfile;

/// What went wrong talking to the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "Ferry is not running (no API endpoint in {}). Start it with `ferry daemon` (or `ferry`).",
        port_file.display()
    )]
    NotRunning { port_file: PathBuf },
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the Ferry daemon's answer could not be read: {0}")]
    Protocol(String),
    #[error("cannot reach the Ferry daemon: {0}")]
    Http(String),
}

/// A connection to the running daemon.
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
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Read the endpoint file of the daemon using `data_dir`.
    pub fn connect(data_dir: &Path) -> Result<Client, ClientError> {
        let port_file = portfile::path(data_dir);
        let endpoint = portfile::read(data_dir).map_err(|_| ClientError::NotRunning {
            port_file: port_file.clone(),
        })?;
        crate::remote::webdav::install_crypto();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Ok(Client {
            base: format!("http://127.0.0.1:{}", endpoint.port),
            token: endpoint.token,
            port_file,
            http,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    fn transport(&self, e: reqwest::Error) -> ClientError {
        if e.is_connect() {
            // A port file left by a daemon that died.
            ClientError::NotRunning {
                port_file: self.port_file.clone(),
            }
        } else {
            ClientError::Http(e.to_string())
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
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(ClientError::Api {
                status: status.as_u16(),
                code: v["code"].as_str().unwrap_or_default().to_string(),
                message: v["error"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("the daemon answered {status}")),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(json(self.request(reqwest::Method::POST, path), body)?)
            .await
    }

    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(json(self.request(reqwest::Method::PATCH, path), body)?)
            .await
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    /// The Server-Sent Events at `path`: each `data:` line's JSON.
    pub fn events(
        &self,
        path: &str,
    ) -> impl Stream<Item = Result<serde_json::Value, ClientError>> + use<> {
        let client = self.clone();
        let path = path.to_string();
        futures_util::stream::once(async move {
            let resp = client
                .request(reqwest::Method::GET, &path)
                .send()
                .await
                .map_err(|e| client.transport(e))?;
            if !resp.status().is_success() {
                return Err(ClientError::Api {
                    status: resp.status().as_u16(),
                    code: String::new(),
                    message: format!("the daemon answered {}", resp.status()),
                });
            }
            Ok(resp.bytes_stream())
        })
        .map(|r| match r {
            Ok(bytes) => sse_lines(bytes).boxed(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
    }
}

fn json<B: Serialize + ?Sized>(
    rb: reqwest::RequestBuilder,
    body: &B,
) -> Result<reqwest::RequestBuilder, ClientError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
    Ok(rb.header("Content-Type", "application/json").body(bytes))
}

/// Split a byte stream into SSE `data:` payloads and parse them.
fn sse_lines(
    bytes: impl Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static,
) -> impl Stream<Item = Result<serde_json::Value, ClientError>> + Send {
    futures_util::stream::unfold(
        (Box::pin(bytes), Vec::<u8>::new()),
        |(mut bytes, mut buf)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let line = String::from_utf8_lossy(&line);
                    let line = line.trim_end_matches(['\r', '\n']);
                    if let Some(data) = line.strip_prefix("data:") {
                        let item = serde_json::from_str(data.trim_start())
                            .map_err(|e| ClientError::Protocol(e.to_string()));
                        return Some((item, (bytes, buf)));
                    }
                    continue;
                }
                match bytes.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        return Some((Err(ClientError::Http(e.to_string())), (bytes, buf)));
                    }
                    None => return None,
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_daemon_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Client::connect(tmp.path()).unwrap_err();
        assert!(matches!(e, ClientError::NotRunning { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("Ferry is not running") && msg.contains("ferry daemon"),
            "{msg}"
        );
        // A stale file: the port is closed.
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
        let e = c.get::<serde_json::Value>("/api/status").await.unwrap_err();
        assert!(matches!(e, ClientError::NotRunning { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn sse_data_lines_are_parsed() {
        let chunks: Vec<reqwest::Result<bytes::Bytes>> = vec![
            Ok(bytes::Bytes::from_static(b": keep-alive\n\ndata: {\"a\"")),
            Ok(bytes::Bytes::from_static(b": 1}\n\ndata:{\"b\":2}\r\n\n")),
        ];
        let items: Vec<_> = sse_lines(futures_util::stream::iter(chunks))
            .collect()
            .await;
        let values: Vec<serde_json::Value> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            values,
            vec![serde_json::json!({"a": 1}), serde_json::json!({"b": 2})]
        );
    }
}
