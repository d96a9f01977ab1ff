//! A fault-injecting HTTP proxy for tests, on 127.0.0.1 and a free port,
//! between Ferry and a real WebDAV server. Rules say which request to
//! disturb and how: an error status (optionally with `Retry-After`), a
//! dropped connection (before forwarding, or after: the server did it, the
//! client never hears), an upload cut half-way on its way to the server, a hang, a body cut short, or a hook that runs (for
//! example, changes a file on the server) before the answer goes back. A
//! rule matches a path containing a string, or exactly one path
//! ([`Proxy::add_exact`], e.g. `MKCOL /dav/` above the user's folder).
//!
//! [`Proxy::set_weak_tags`] makes any server look like one whose entity
//! tags are all weak but whose `If:` header still works with them: strong
//! tags in PROPFIND bodies and `ETag` headers go out as `W/"…"` (the
//! server's own weak tags as `W/"w:…"`), and tags in `If:` headers are
//! translated back before forwarding.
//!
//! Use from a test file: `#[path = "common/proxy.rs"] mod proxy;`.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// What to do to a matching request.
#[derive(Clone)]
pub enum Fault {
    /// Answer with this status without forwarding.
    Status(u16, Option<u64>),
    /// Close the connection without an answer.
    Reset,
    /// Wait this long before forwarding.
    Hang(Duration),
    /// Forward, then close the connection without an answer: the server
    /// did it, the client never hears.
    ResetAfterForward,
    /// Forward, then send only the first N bytes of the answer's body.
    CutBody(usize),
    /// Forward, send the status, headers and the first N bytes of the
    /// body, and break the connection 200 ms later: the client is then
    /// reading the body (a connection cut mid-body).
    CutMidBody(usize),
    /// Forward, then send the answer's body in chunks of this many bytes
    /// every 100 ms (a slow network).
    Throttle(usize),
    /// Take in the request's body at this many bytes per 100 ms (a slow
    /// uplink), then forward it.
    SlowRequest(usize),
    /// Take in the request's whole body, then wait this long before
    /// forwarding (a server that stalls once it has the upload).
    HangAfterBody(Duration),
    /// Forward the request's headers and only the first N bytes of its
    /// body, then break the connection to the server off (an upload cut
    /// half-way: the server is told a `Content-Length` it never gets), and
    /// close the client's connection without an answer.
    CutRequest(usize),
    /// Forward, then run the hook before answering.
    After(Arc<dyn Fn() + Send + Sync>),
    /// Run the hook, then forward.
    Before(Arc<dyn Fn() + Send + Sync>),
}

pub struct Rule {
    pub method: String,
    /// The request path must contain this (or, with `exact`, be it).
    pub path_contains: String,
    pub exact: bool,
    /// How many more times the rule fires.
    pub times: usize,
    pub fault: Fault,
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub status: u16,
    pub faulted: bool,
    /// The request's `If:` header, as sent by the client.
    pub if_header: Option<String>,
}

pub struct Proxy {
    pub port: u16,
    /// While set, the port is closed: connections are refused.
    down: Arc<std::sync::atomic::AtomicBool>,
    rules: Arc<Mutex<Vec<Rule>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    weak_tags: Arc<std::sync::atomic::AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Start a proxy in front of `upstream` (e.g. `http://127.0.0.1:8080`).
    pub fn start(upstream: &str) -> Proxy {
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let upstream = upstream.trim_end_matches('/').to_string();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (r2, s2) = (rules.clone(), seen.clone());
        let down: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let down2 = down.clone();
        let weak_tags: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let weak2 = weak_tags.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut listener = Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
                let port = listener.as_ref().unwrap().local_addr().unwrap().port();
                port_tx.send(port).unwrap();
                let _ = rustls::crypto::ring::default_provider().install_default();
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                loop {
                    // Down: close the port (connections refused) until up again.
                    let is_down = down2.load(std::sync::atomic::Ordering::SeqCst);
                    if is_down && listener.is_some() {
                        listener = None;
                    } else if !is_down && listener.is_none() {
                        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                            Ok(l) => listener = Some(l),
                            Err(_) => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        }
                    }
                    let Some(l) = listener.as_ref() else {
                        tokio::select! {
                            _ = &mut stop_rx => return,
                            _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                        }
                    };
                    tokio::select! {
                        _ = &mut stop_rx => return,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                        accepted = l.accept() => {
                            let Ok((stream, _)) = accepted else { return };
                            let (rules, seen, client, upstream) = (r2.clone(), s2.clone(), client.clone(), upstream.clone());
                            let down = down2.clone();
                            let weak = weak2.clone();
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                                    let is_down = down.load(std::sync::atomic::Ordering::SeqCst);
                                    let weak = weak.load(std::sync::atomic::Ordering::SeqCst);
                                    let answer = handle(req, rules.clone(), seen.clone(), client.clone(), upstream.clone(), weak);
                                    async move {
                                        if is_down {
                                            // Kept-alive connections die with the "network".
                                            return Err(std::io::Error::other("down"));
                                        }
                                        answer.await
                                    }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        let port = port_rx.recv().unwrap();
        Proxy {
            port,
            down,
            rules,
            seen,
            weak_tags,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The proxy's URL for an upstream URL's path.
    pub fn url_for(&self, upstream_url: &str) -> String {
        let u = reqwest::Url::parse(upstream_url).unwrap();
        format!("http://127.0.0.1:{}{}", self.port, u.path())
    }

    pub fn add(&self, method: &str, path_contains: &str, times: usize, fault: Fault) {
        self.rules.lock().unwrap().push(Rule {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            exact: false,
            times,
            fault,
        });
    }

    /// A rule for requests to exactly `path` (e.g. `/dav/`).
    pub fn add_exact(&self, method: &str, path: &str, times: usize, fault: Fault) {
        self.rules.lock().unwrap().push(Rule {
            method: method.to_string(),
            path_contains: path.to_string(),
            exact: true,
            times,
            fault,
        });
    }

    /// Make the server's entity tags all weak, with the `If:` header still
    /// honoured where the server honours it (see the module docs).
    pub fn set_weak_tags(&self, on: bool) {
        self.weak_tags
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Take the server "off the network" (connections refused) or back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
        // Let the accept loop notice.
        std::thread::sleep(Duration::from_millis(150));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.seen.lock().unwrap().clear();
        self.rules.lock().unwrap().clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    rules: Arc<Mutex<Vec<Rule>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    client: reqwest::Client,
    upstream: String,
    weak_tags: bool,
) -> Result<Response<BoxBody<Bytes, std::io::Error>>, std::io::Error> {
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let range = req
        .headers()
        .get("Range")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let if_header = req
        .headers()
        .get("If")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let fault = {
        let mut rules = rules.lock().unwrap();
        rules
            .iter_mut()
            .find(|r| {
                r.times > 0
                    && (r.method == method || r.method == "*")
                    && if r.exact {
                        path == r.path_contains
                    } else {
                        path.contains(&r.path_contains)
                    }
            })
            .map(|r| {
                r.times -= 1;
                r.fault.clone()
            })
    };
    let record = |status: u16, faulted: bool| {
        seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
            status,
            faulted,
            if_header: if_header.clone(),
        });
    };
    match &fault {
        Some(Fault::Status(code, retry_after)) => {
            record(*code, true);
            let mut b = Response::builder().status(*code);
            if let Some(s) = retry_after {
                b = b.header("Retry-After", s.to_string());
            }
            return Ok(b.body(full(Bytes::new())).unwrap());
        }
        Some(Fault::Reset) => {
            record(0, true);
            return Err(std::io::Error::other("injected reset"));
        }
        Some(Fault::Hang(d)) => tokio::time::sleep(*d).await,
        Some(Fault::Before(hook)) => hook(),
        _ => {}
    }
    // Forward.
    let (parts, mut incoming) = req.into_parts();
    let body = if let Some(Fault::SlowRequest(rate)) = &fault {
        let rate = (*rate).max(1) as u64;
        let mut body = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let Ok(frame) = frame else {
                record(0, true);
                return Err(std::io::Error::other("the client gave the upload up"));
            };
            if let Some(data) = frame.data_ref() {
                body.extend_from_slice(data);
                tokio::time::sleep(Duration::from_millis(100 * data.len() as u64 / rate)).await;
            }
        }
        Bytes::from(body)
    } else {
        incoming
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default()
    };
    if let Some(Fault::HangAfterBody(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let mut fwd = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{upstream}{path}"),
    );
    for (name, value) in parts.headers.iter() {
        if name == "host" {
            continue;
        }
        let v = if name == "destination" {
            // Point Destination at the upstream too.
            let d = value.to_str().unwrap_or_default();
            let u = reqwest::Url::parse(d).unwrap();
            reqwest::header::HeaderValue::from_str(&format!("{upstream}{}", u.path())).unwrap()
        } else if name == "if" {
            // Resource tags point at the upstream too; weak tags go back
            // to what the server gave.
            let mut v = retarget_if(value.to_str().unwrap_or_default(), &upstream);
            if weak_tags {
                v = unweaken_if(&v);
            }
            reqwest::header::HeaderValue::from_str(&v).unwrap()
        } else {
            value.clone()
        };
        fwd = fwd.header(name.as_str(), v);
    }
    if let Some(Fault::CutRequest(n)) = &fault {
        let head = body.slice(..(*n).min(body.len()));
        let frames = futures_util::stream::iter([Ok::<_, std::io::Error>(head)]).chain(
            futures_util::stream::once(async {
                // Time for the server to take in what was sent.
                tokio::time::sleep(Duration::from_millis(300)).await;
                Err(std::io::Error::other("injected cut of the request body"))
            }),
        );
        let sent = fwd
            .body(reqwest::Body::wrap_stream(frames))
            .send()
            .await
            .map(|r| r.status().as_u16());
        record(sent.unwrap_or(0), true);
        return Err(std::io::Error::other("injected cut of the request"));
    }
    let resp = fwd.body(body).send().await.map_err(std::io::Error::other)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut bytes = resp.bytes().await.map_err(std::io::Error::other)?;
    if let Some(Fault::ResetAfterForward) = &fault {
        record(status, true);
        return Err(std::io::Error::other("injected reset after forwarding"));
    }
    let rewritten = weak_tags && status == 207;
    if rewritten {
        bytes = Bytes::from(weaken_body(&String::from_utf8_lossy(&bytes)));
    }
    let mut cut = false;
    match &fault {
        Some(Fault::CutBody(n)) | Some(Fault::CutMidBody(n)) if *n < bytes.len() => {
            bytes = bytes.slice(..*n);
            cut = true;
        }
        Some(Fault::After(hook)) => hook(),
        _ => {}
    }
    record(status, fault.is_some());
    let mut b = Response::builder().status(status);
    for (name, value) in headers.iter() {
        if name == "transfer-encoding" || name == "connection" {
            continue;
        }
        if rewritten && name == "content-length" {
            continue;
        }
        if weak_tags && name == "etag" {
            b = b.header(name, weaken(value.to_str().unwrap_or_default()));
            continue;
        }
        b = b.header(name, value);
    }
    if let Some(Fault::Throttle(chunk)) = &fault {
        let chunk = (*chunk).max(1);
        let frames = futures_util::stream::unfold(bytes, move |mut rest| async move {
            if rest.is_empty() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let part = rest.split_to(chunk.min(rest.len()));
            Some((Ok::<_, std::io::Error>(Frame::data(part)), rest))
        });
        return Ok(b.body(BodyExt::boxed(StreamBody::new(frames))).unwrap());
    }
    if cut {
        // Send the first bytes, then break the connection.
        let pause = matches!(fault, Some(Fault::CutMidBody(_)));
        let frames = futures_util::stream::iter(vec![
            Ok(Frame::data(bytes)),
            Err(std::io::Error::other("injected cut")),
        ])
        .then(move |frame| async move {
            if pause && frame.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            frame
        });
        return Ok(b.body(BodyExt::boxed(StreamBody::new(frames))).unwrap());
    }
    Ok(b.body(full(bytes)).unwrap())
}

fn full(bytes: Bytes) -> BoxBody<Bytes, std::io::Error> {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A tag as a weak-tag-only server gives it: `"x"` → `W/"x"`, the server's
/// own weak `W/"x"` → `W/"w:x"` (so that the two stay apart). Quotes may
/// be XML-escaped (`&quot;`).
fn weaken(tag: &str) -> String {
    let tag = tag.trim();
    if tag.is_empty() {
        return String::new();
    }
    match tag.strip_prefix("W/") {
        Some(rest) => {
            for q in ["&quot;", "\""] {
                if let Some(inner) = rest.strip_prefix(q) {
                    return format!("W/{q}w:{inner}");
                }
            }
            tag.to_string()
        }
        None => format!("W/{tag}"),
    }
}

/// `weaken` undone, for the tags in an `If:` header.
fn unweaken_if(value: &str) -> String {
    let re = regex::Regex::new(r#"\[W/"(w:)?([^"]*)"\]"#).unwrap();
    re.replace_all(value, |c: &regex::Captures| {
        if c.get(1).is_some() {
            format!("[W/\"{}\"]", &c[2])
        } else {
            format!("[\"{}\"]", &c[2])
        }
    })
    .into_owned()
}

/// The `If:` header's resource tags (`<http://proxy/…>`) pointed at the
/// upstream.
fn retarget_if(value: &str, upstream: &str) -> String {
    let re = regex::Regex::new(r"<https?://[^/>]+").unwrap();
    re.replace_all(value, |_: &regex::Captures| format!("<{upstream}"))
        .into_owned()
}

/// A multistatus body with every `getetag` weakened.
fn weaken_body(body: &str) -> String {
    let re = regex::Regex::new(r"(<(?:[A-Za-z0-9_.-]+:)?getetag(?:\s[^>]*)?>)([^<]*)(</)").unwrap();
    re.replace_all(body, |c: &regex::Captures| {
        format!("{}{}{}", &c[1], weaken(&c[2]), &c[3])
    })
    .into_owned()
}
