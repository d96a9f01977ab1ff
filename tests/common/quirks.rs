//! A quirks layer for tests: an HTTP proxy on 127.0.0.1 (a free port) in
//! front of any of the suite's WebDAV servers that rewrites what the server
//! answers, so that it behaves like the odd servers seen in the field:
//!
//! * `infinity_one_level`: a `PROPFIND Depth: infinity` is answered with
//!   the server's `Depth: 1` answer and its 207 (one server does this).
//! * `infinity_max_depth`: a `PROPFIND Depth: infinity` answer leaves out
//!   every item more than this many levels below the folder asked for (a
//!   server that cuts such listings off by depth or result count).
//! * `raw_hrefs`: hrefs carry `#`, `%`, `&`, `+` and `?` without
//!   percent-encoding (two servers do this for `#`, one for `%` and `&`).
//! * `absolute_hrefs`: hrefs are full URLs (`http://host:port/path`), as
//!   those servers send them.
//! * `empty_href_for`: items whose name contains one of these strings get
//!   an empty `<D:href/>`.
//! * `dates`: `getlastmodified` as sent, in ISO 8601, or left out.
//! * `mtime_etags`: a file's entity tag is a hash of its modification time
//!   only (two files with the same mtime share one tag).
//!
//! Request faults (resets, statuses) are `proxy.rs`'s business; this file
//! only rewrites answers. Use from a test file:
//! `#[path = "common/quirks.rs"] mod quirks;`.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

/// How `getlastmodified` is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dates {
    /// As the server sends it (RFC 1123).
    #[default]
    AsIs,
    /// ISO 8601, `2026-11-28T17:41:33Z`.
    Iso,
    /// Not at all (the property is optional).
    Missing,
}

/// The quirks in force (change them at any time with [`QuirkProxy::set`]).
#[derive(Clone, Debug, Default)]
pub struct Quirks {
    pub infinity_one_level: bool,
    pub infinity_max_depth: Option<usize>,
    pub raw_hrefs: bool,
    pub absolute_hrefs: bool,
    pub empty_href_for: Vec<String>,
    pub dates: Dates,
    pub mtime_etags: bool,
}

impl Quirks {
    pub fn none() -> Quirks {
        Quirks::default()
    }
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub depth: Option<String>,
    pub status: u16,
}

pub struct QuirkProxy {
    pub port: u16,
    quirks: Arc<Mutex<Quirks>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl QuirkProxy {
    /// Start in front of `upstream` (e.g. `http://127.0.0.1:8080`).
    pub fn start(upstream: &str, quirks: Quirks) -> QuirkProxy {
        let quirks = Arc::new(Mutex::new(quirks));
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let upstream = upstream.trim_end_matches('/').to_string();
        assert!(
            upstream.starts_with("http://127.0.0.1:"),
            "the quirks proxy only fronts loopback servers"
        );
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (q2, s2) = (quirks.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(listener.local_addr().unwrap().port()).unwrap();
                let _ = rustls::crypto::ring::default_provider().install_default();
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => return,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { return };
                            let (quirks, seen, client, upstream) =
                                (q2.clone(), s2.clone(), client.clone(), upstream.clone());
                            tokio::spawn(async move {
                                let svc = hyper::service::service_fn(move |req| {
                                    handle(req, quirks.clone(), seen.clone(), client.clone(), upstream.clone())
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
        QuirkProxy {
            port,
            quirks,
            seen,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The proxy's URL for an upstream URL's path.
    pub fn url_for(&self, upstream_url: &str) -> String {
        let u = reqwest::Url::parse(upstream_url).unwrap();
        format!("http://127.0.0.1:{}{}", self.port, u.path())
    }

    pub fn set(&self, quirks: Quirks) {
        *self.quirks.lock().unwrap() = quirks;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn clear_seen(&self) {
        self.seen.lock().unwrap().clear();
    }
}

impl Drop for QuirkProxy {
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
    quirks: Arc<Mutex<Quirks>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    client: reqwest::Client,
    upstream: String,
) -> Result<Response<BoxBody<Bytes, std::io::Error>>, std::io::Error> {
    let q = quirks.lock().unwrap().clone();
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let depth = req
        .headers()
        .get("Depth")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let host = req
        .headers()
        .get("Host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut fwd = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{upstream}{path}"),
    );
    for (name, value) in parts.headers.iter() {
        if name == "host" {
            continue;
        }
        let v = if name == "destination" {
            let d = value.to_str().unwrap_or_default();
            let u = reqwest::Url::parse(d).unwrap();
            reqwest::header::HeaderValue::from_str(&format!("{upstream}{}", u.path())).unwrap()
        } else if name == "depth"
            && q.infinity_one_level
            && value
                .to_str()
                .is_ok_and(|d| d.eq_ignore_ascii_case("infinity"))
        {
            reqwest::header::HeaderValue::from_static("1")
        } else {
            value.clone()
        };
        fwd = fwd.header(name.as_str(), v);
    }
    let resp = fwd
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(std::io::Error::other)?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut bytes = resp.bytes().await.map_err(std::io::Error::other)?;
    if status == 207 && method == "PROPFIND" {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let mut text = rewrite(text, &q, &host);
            let infinity = depth
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case("infinity"));
            if let (true, Some(n)) = (infinity, q.infinity_max_depth) {
                text = cut_below(&text, &path, n);
            }
            bytes = Bytes::from(text);
        }
    }
    seen.lock().unwrap().push(Seen {
        method,
        path,
        depth,
        status,
    });
    let mut b = Response::builder().status(status);
    for (name, value) in headers.iter() {
        if name == "transfer-encoding" || name == "connection" || name == "content-length" {
            continue;
        }
        b = b.header(name, value);
    }
    Ok(
        b.body(Full::new(bytes).map_err(|never| match never {}).boxed())
            .unwrap(),
    )
}

/// Apply the quirks to a multistatus body, one `<response>` at a time.
pub fn rewrite(body: &str, q: &Quirks, host: &str) -> String {
    let response =
        regex::Regex::new(r"(?s)<([\w.-]+:)?response\b[^>]*>.*?</([\w.-]+:)?response>").unwrap();
    response
        .replace_all(body, |c: &regex::Captures| rewrite_response(&c[0], q, host))
        .into_owned()
}

fn rewrite_response(block: &str, q: &Quirks, host: &str) -> String {
    let href = regex::Regex::new(r"(?s)<([\w.-]+:)?href>(.*?)</([\w.-]+:)?href>").unwrap();
    let date = regex::Regex::new(
        r"(?s)<([\w.-]+:)?getlastmodified\b([^>]*)>(.*?)</([\w.-]+:)?getlastmodified>",
    )
    .unwrap();
    let etag =
        regex::Regex::new(r"(?s)<([\w.-]+:)?getetag\b([^>]*)>(.*?)</([\w.-]+:)?getetag>").unwrap();
    let mut out = href
        .replace(block, |c: &regex::Captures| {
            let p = c.get(1).map_or("", |m| m.as_str());
            let text = &c[2];
            let name = last_segment(text);
            if q.empty_href_for.iter().any(|m| name.contains(m.as_str())) {
                format!("<{p}href/>")
            } else {
                let mut text = text.to_string();
                if q.raw_hrefs {
                    text = unencode(&text);
                }
                if q.absolute_hrefs && text.starts_with('/') {
                    text = format!("http://{host}{text}");
                }
                format!("<{p}href>{text}</{p}href>")
            }
        })
        .into_owned();
    let is_collection = out.contains("collection");
    if q.mtime_etags && !is_collection {
        if let Some(c) = date.captures(&out) {
            let value = c[3].trim().to_string();
            let p = c.get(1).map_or("", |m| m.as_str()).to_string();
            let tag = format!("\"{:016x}\"", fnv(value.as_bytes()));
            if etag.is_match(&out) {
                out = etag
                    .replace(&out, |c: &regex::Captures| {
                        let p = c.get(1).map_or("", |m| m.as_str());
                        format!("<{p}getetag>{tag}</{p}getetag>")
                    })
                    .into_owned();
            } else {
                // nginx sends none: add one next to the date.
                let whole = c[0].to_string();
                out = out.replacen(&whole, &format!("{whole}<{p}getetag>{tag}</{p}getetag>"), 1);
            }
        }
    }
    match q.dates {
        Dates::AsIs => {}
        Dates::Missing => out = date.replace_all(&out, "").into_owned(),
        Dates::Iso => {
            out = date
                .replace_all(&out, |c: &regex::Captures| {
                    let p = c.get(1).map_or("", |m| m.as_str());
                    let iso = httpdate::parse_http_date(c[3].trim())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .and_then(|d| jiff::Timestamp::from_second(d.as_secs() as i64).ok())
                        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                        .unwrap_or_else(|| c[3].to_string());
                    format!("<{p}getlastmodified>{iso}</{p}getlastmodified>")
                })
                .into_owned()
        }
    }
    out
}

/// Leave out of a multistatus body the responses more than `levels` below
/// the folder at `asked` (a request path).
pub fn cut_below(body: &str, asked: &str, levels: usize) -> String {
    let response =
        regex::Regex::new(r"(?s)<([\w.-]+:)?response\b[^>]*>.*?</([\w.-]+:)?response>").unwrap();
    let href = regex::Regex::new(r"(?s)<([\w.-]+:)?href>(.*?)</([\w.-]+:)?href>").unwrap();
    let depth = |p: &str| p.split('/').filter(|s| !s.is_empty()).count();
    let base = depth(asked.split('?').next().unwrap_or(asked));
    response
        .replace_all(body, |c: &regex::Captures| {
            let text = href
                .captures(&c[0])
                .map(|h| h[2].to_string())
                .unwrap_or_default();
            let path = match text.find("://") {
                Some(i) => text[i + 3..].find('/').map_or("", |j| &text[i + 3 + j..]),
                None => &text,
            };
            if depth(path) > base + levels {
                String::new()
            } else {
                c[0].to_string()
            }
        })
        .into_owned()
}

/// The decoded last segment of an href's text.
fn last_segment(text: &str) -> String {
    let text = text.replace("&amp;", "&");
    let seg = text
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    percent_encoding::percent_decode_str(&seg)
        .decode_utf8_lossy()
        .into_owned()
}

/// `%23` `%25` `%26` `%2B` `%3F` (any case) back to the raw characters (`&`
/// as the XML entity it must be).
fn unencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).map(str::to_ascii_uppercase);
        let raw = match code.as_deref() {
            Some("23") => Some("#"),
            Some("25") => Some("%"),
            Some("26") => Some("&amp;"),
            Some("2B") => Some("+"),
            Some("3F") => Some("?"),
            _ => None,
        };
        match raw {
            Some(r) => {
                out.push_str(r);
                rest = &rest[i + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks_rewrite_a_multistatus() {
        let body = r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>/dav/sync/odd%20dir%20%23%25%26+/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype><D:getlastmodified>Sat, 28 Nov 2026 17:41:33 GMT</D:getlastmodified></D:prop></D:propstat></D:response><D:response><D:href>/dav/sync/nohref.txt</D:href><D:propstat><D:prop><D:getlastmodified>Sat, 28 Nov 2026 17:41:33 GMT</D:getlastmodified><D:getetag>"abc"</D:getetag></D:prop></D:propstat></D:response></D:multistatus>"#;
        let q = Quirks {
            raw_hrefs: true,
            empty_href_for: vec!["nohref".into()],
            dates: Dates::Iso,
            mtime_etags: true,
            ..Quirks::default()
        };
        let out = rewrite(body, &q, "127.0.0.1:1");
        assert!(
            out.contains("<D:href>/dav/sync/odd%20dir%20#%&amp;+/</D:href>"),
            "{out}"
        );
        assert!(out.contains("<D:href/>"), "{out}");
        assert!(out.contains(">2026-11-28T17:41:33Z<"), "{out}");
        assert!(!out.contains("\"abc\""), "{out}");
    }
}
