//! The checks every API request passes before a route sees it; this module
//! owns them and nothing else. [`protect`] puts them in front of a router
//! (call it last: routes added to the returned router afterwards are not
//! covered). In order:
//!
//! 1. `Host` must be one header naming a loopback host with our port
//!    (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`), else 403: a web
//!    page that rebinds its own domain to 127.0.0.1 still sends its own
//!    name (DNS-rebinding defence). A missing Host is refused too.
//! 2. An `Origin`, if present, must be ours (`http://127.0.0.1:PORT`,
//!    `http://localhost:PORT`, `http://[::1]:PORT`); any other, `null`
//!    included, gets 403.
//! 3. Except on the public paths (exact ones, and the prefixes of the
//!    preferences UI's static files), `Authorization: Bearer <token>`,
//!    compared in constant time, or the session cookie of a browser that
//!    logged in with a single-use code ([`super::session`]); else 401 with
//!    `WWW-Authenticate: Bearer`. A request authenticated by the cookie that
//!    is not a GET or HEAD must also carry our own `Origin` (browsers send
//!    it on every such request; a cross-site one is refused by check 2, and
//!    `SameSite=Strict` keeps the cookie off it in the first place).
//! 4. POST, PUT and PATCH, and any request that carries a body
//!    (`Content-Length` > 0 or chunked), must be `Content-Type:
//!    application/json` (parameters such as `; charset=utf-8` allowed), else
//!    415.
//! 5. Bodies over [`MAX_BODY`] get 413, whether announced by
//!    `Content-Length` or found while reading (the body is read here, up to
//!    the limit, before the route runs).
//!
//! Every answer carries a strict Content-Security-Policy ([`CSP`]: only our
//! own scripts, styles and connections; no inline script, no eval; never in
//! a frame), `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` and
//! `Referrer-Policy: no-referrer` (a login URL never leaks to another site).
//!
//! No CORS headers are ever sent: any `access-control-*` header a route
//! might set is removed, so browsers keep other sites' scripts from reading
//! answers, and an `OPTIONS` preflight is just another request (no token:
//! 401, or 403 for a foreign Origin). Error answers are `{"error": message,
//! "code": code}` with code `forbidden`, `unauthorized`,
//! `unsupported_media_type`, `payload_too_large` (or `bad_request` when the
//! body cannot be read); they never echo what the client sent.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use subtle::ConstantTimeEq;

use super::session::{self, Sessions};

/// The largest request body accepted, in bytes (1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                       base-uri 'none'; form-action 'self'";

/// What the checks need to know.
#[derive(Clone)]
pub struct Guard {
    /// The API token (64 hex characters). An empty token refuses everything
    /// but the public paths.
    pub token: String,
    /// The port we listen on.
    pub port: u16,
    /// Exact paths that need no token (e.g. `/api/health`).
    pub public: &'static [&'static str],
    /// Path prefixes that need no token (the UI's static files).
    pub public_prefixes: &'static [&'static str],
    /// The browser sessions whose cookie stands for the token.
    pub sessions: Arc<Sessions>,
}

impl Guard {
    fn is_public(&self, path: &str) -> bool {
        self.public.contains(&path) || self.public_prefixes.iter().any(|p| path.starts_with(p))
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("token", &"<redacted>")
            .field("port", &self.port)
            .field("public", &self.public)
            .field("public_prefixes", &self.public_prefixes)
            .finish_non_exhaustive()
    }
}

/// `router` with every check in front of it (an axum `from_fn` middleware
/// applied with [`Router::layer`], so unknown paths and wrong methods are
/// checked too). Call it on the finished router.
pub fn protect(router: Router, guard: Guard) -> Router {
    let guard = Arc::new(guard);
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let guard = guard.clone();
            async move {
                let mut resp = check(&guard, req, next).await;
                strip_cors(resp.headers_mut());
                protective_headers(resp.headers_mut());
                resp
            }
        },
    ))
}

/// Why a request was refused; each maps to one status and one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Host,
    Origin,
    Token,
    NoOrigin,
    MediaType,
    TooLarge,
    BadBody,
}

impl Refusal {
    fn response(self) -> Response {
        let (status, code, message) = match self {
            Refusal::Host => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "this API answers only to 127.0.0.1, localhost or [::1] on its own port",
            ),
            Refusal::Origin => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "requests from other origins are refused",
            ),
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid API token is required (Authorization: Bearer <token from api.port>)",
            ),
            Refusal::NoOrigin => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "a change made with a browser session must come from Ferry's own page",
            ),
            Refusal::MediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "request bodies must be JSON (Content-Type: application/json)",
            ),
            Refusal::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is larger than 1 MiB",
            ),
            Refusal::BadBody => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body could not be read",
            ),
        };
        let mut resp = (
            status,
            axum::Json(serde_json::json!({"error": message, "code": code})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Remove every `access-control-*` header: we never speak CORS.
fn strip_cors(headers: &mut HeaderMap) {
    let cors: Vec<header::HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in cors {
        headers.remove(name);
    }
}

/// The headers every answer carries (see the module's documentation).
fn protective_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The session token of the request's `Cookie` headers, if it has ours.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session::from_cookie_header)
}

/// `authority` is `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT`.
fn loopback_authority(authority: &[u8], port: u16) -> bool {
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| authority.eq_ignore_ascii_case(format!("{name}:{port}").as_bytes()))
}

/// The only value of header `name`; `None` when absent or repeated.
fn single(headers: &HeaderMap, name: header::HeaderName) -> Option<&HeaderValue> {
    let mut all = headers.get_all(name).iter();
    match (all.next(), all.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

/// The token from `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = single(headers, header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Checks 1–4, which need only the head of the request.
fn check_head(guard: &Guard, req: &Request) -> Result<(), Refusal> {
    let headers = req.headers();
    // 1. Host.
    match single(headers, header::HOST) {
        Some(h) if loopback_authority(h.as_bytes(), guard.port) => {}
        _ => return Err(Refusal::Host),
    }
    // 2. Origin.
    if headers.contains_key(header::ORIGIN) {
        let ours = single(headers, header::ORIGIN)
            .and_then(|o| o.as_bytes().strip_prefix(b"http://"))
            .is_some_and(|rest| loopback_authority(rest, guard.port));
        if !ours {
            return Err(Refusal::Origin);
        }
    }
    // 3. Token, or a browser session.
    if !guard.is_public(req.uri().path()) {
        let given = bearer(headers).unwrap_or_default();
        let same: bool = given.ct_eq(guard.token.as_bytes()).into();
        let by_token = same && !guard.token.is_empty();
        if !by_token {
            let by_cookie = session_cookie(headers).is_some_and(|t| guard.sessions.is_open(t));
            if !by_cookie {
                return Err(Refusal::Token);
            }
            let reads = matches!(*req.method(), Method::GET | Method::HEAD);
            if !reads && !headers.contains_key(header::ORIGIN) {
                return Err(Refusal::NoOrigin);
            }
        }
    }
    // 4. JSON bodies only.
    let length = match headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(Refusal::BadBody)?,
        ),
    };
    let has_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        || length.is_some_and(|n| n > 0)
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body {
        let json = single(headers, header::CONTENT_TYPE)
            .and_then(|ct| ct.to_str().ok())
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(Refusal::MediaType);
        }
    }
    // 5, when announced.
    if length.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(Refusal::TooLarge);
    }
    Ok(())
}

/// Read the whole body, refusing it as soon as it passes [`MAX_BODY`].
async fn read_body(body: Body) -> Result<Body, Refusal> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| Refusal::BadBody)?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(Refusal::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Body::from(buf))
}

async fn check(guard: &Guard, req: Request, next: Next) -> Response {
    if let Err(refusal) = check_head(guard, &req) {
        return refusal.response();
    }
    let (parts, body) = req.into_parts();
    match read_body(body).await {
        Ok(body) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => refusal.response(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower::ServiceExt;

    pub(crate) const TOKEN: &str =
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    pub(crate) const PUBLIC: &[&str] = &["/api/health"];

    /// Serve `router` (unprotected) on 127.0.0.1:0; its port.
    pub(crate) async fn serve(make: impl FnOnce(u16) -> Router) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = make(port);
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        port
    }

    fn routes() -> Router {
        Router::new()
            .route("/api/health", get(|| async { "ok" }))
            .route(
                "/api/x",
                get(|| async { "x" })
                    .post(|b: axum::body::Bytes| async move { b.len().to_string() }),
            )
            .route(
                "/api/cors",
                get(|| async { ([("access-control-allow-origin", "*")], "cors") }),
            )
    }

    fn guard(port: u16) -> Guard {
        Guard {
            token: TOKEN.into(),
            port,
            public: PUBLIC,
            public_prefixes: &["/ui/"],
            sessions: Arc::new(Sessions::default()),
        }
    }

    /// The dummy routes behind the checks, on a real socket.
    async fn server() -> u16 {
        serve(|port| protect(routes(), guard(port))).await
    }

    fn http() -> reqwest::Client {
        crate::remote::webdav::install_crypto();
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    struct Answer {
        status: u16,
        headers: reqwest::header::HeaderMap,
        body: String,
    }

    impl Answer {
        fn json(&self) -> serde_json::Value {
            serde_json::from_str(&self.body).unwrap()
        }
    }

    async fn send(rb: reqwest::RequestBuilder) -> Answer {
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap();
        assert!(
            !headers
                .keys()
                .any(|k| k.as_str().starts_with("access-control-")),
            "a CORS header: {headers:?}"
        );
        Answer {
            status,
            headers,
            body,
        }
    }

    /// One raw HTTP/1.0 exchange (for what reqwest will not send).
    async fn raw(port: u16, request: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    /// The dummy routes behind the checks with a session opened by a code;
    /// the port and the session's token.
    async fn server_with_session() -> (u16, String) {
        let sessions = Arc::new(Sessions::default());
        let code = sessions.new_code();
        let token = sessions.redeem(&code).unwrap();
        let port = serve(|port| {
            protect(
                routes().route("/ui/app.js", get(|| async { "js" })),
                Guard {
                    sessions,
                    ..guard(port)
                },
            )
        })
        .await;
        (port, token)
    }

    #[tokio::test]
    async fn a_session_cookie_stands_for_the_token_and_a_wrong_one_does_not() {
        let (port, token) = server_with_session().await;
        let c = http();
        let url = format!("http://127.0.0.1:{port}/api/x");
        let with = |cookie: String| c.get(&url).header("Cookie", cookie);
        let a = send(with(format!("other=1; ferry_session={token}"))).await;
        assert_eq!((a.status, a.body.as_str()), (200, "x"));
        for wrong in [
            format!("ferry_session={}", "0".repeat(64)),
            format!("ferry_session={}", &token[..63]),
            format!("ferry_session={token}0"),
            format!("session={token}"),
            "ferry_session=".to_string(),
        ] {
            assert_eq!(send(with(wrong.clone())).await.status, 401, "{wrong}");
        }
        // The UI's static files need neither.
        assert_eq!(
            send(c.get(format!("http://127.0.0.1:{port}/ui/app.js")))
                .await
                .status,
            200
        );
    }

    #[tokio::test]
    async fn a_change_made_with_the_cookie_must_come_from_our_own_page() {
        let (port, token) = server_with_session().await;
        let c = http();
        let url = format!("http://127.0.0.1:{port}/api/x");
        let post = || {
            c.post(&url)
                .header("Cookie", format!("ferry_session={token}"))
                .header("Content-Type", "application/json")
                .body("{}")
        };
        let a = send(post()).await;
        assert_eq!(a.status, 403, "no Origin");
        assert_eq!(a.json()["code"], "forbidden");
        let a = send(post().header("Origin", "http://evil.example")).await;
        assert_eq!(a.status, 403, "a foreign Origin");
        let a = send(post().header("Origin", format!("http://127.0.0.1:{port}"))).await;
        assert_eq!((a.status, a.body.as_str()), (200, "2"));
        // With the token, a client that is not a browser needs no Origin.
        let a = send(
            c.post(&url)
                .bearer_auth(TOKEN)
                .header("Content-Type", "application/json")
                .body("{}"),
        )
        .await;
        assert_eq!(a.status, 200);
    }

    #[tokio::test]
    async fn every_answer_carries_the_content_security_policy() {
        let port = server().await;
        let c = http();
        for (path, auth) in [("/api/health", false), ("/api/x", true), ("/api/x", false)] {
            let mut rb = c.get(format!("http://127.0.0.1:{port}{path}"));
            if auth {
                rb = rb.bearer_auth(TOKEN);
            }
            let a = send(rb).await;
            let csp = a.headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'self'"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(!csp.contains("unsafe"), "{csp}");
            assert_eq!(a.headers["x-content-type-options"], "nosniff");
            assert_eq!(a.headers["x-frame-options"], "DENY");
            assert_eq!(a.headers["referrer-policy"], "no-referrer");
        }
    }

    #[tokio::test]
    async fn the_token_is_required_except_on_public_paths() {
        let port = server().await;
        let c = http();
        let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
        // No token.
        let a = send(c.get(url("/api/x"))).await;
        assert_eq!(a.status, 401);
        assert_eq!(a.headers["www-authenticate"], "Bearer");
        assert_eq!(a.json()["code"], "unauthorized");
        assert!(a.json()["error"].is_string());
        // Wrong token, a shorter one, a longer one, another scheme.
        for auth in [
            format!("Bearer {}", "f".repeat(64)),
            format!("Bearer {}", &TOKEN[..63]),
            format!("Bearer {TOKEN}0"),
            format!("Basic {TOKEN}"),
            TOKEN.to_string(),
        ] {
            let a = send(c.get(url("/api/x")).header("Authorization", &auth)).await;
            assert_eq!(a.status, 401, "{auth}");
            assert!(!a.body.contains(TOKEN) && !a.body.contains(&TOKEN[..63]));
        }
        // The right one (the scheme is case-insensitive).
        let a = send(c.get(url("/api/x")).bearer_auth(TOKEN)).await;
        assert_eq!((a.status, a.body.as_str()), (200, "x"));
        let a = send(
            c.get(url("/api/x"))
                .header("Authorization", format!("bearer {TOKEN}")),
        )
        .await;
        assert_eq!(a.status, 200);
        // Public: exactly that path, no token needed.
        assert_eq!(send(c.get(url("/api/health"))).await.status, 200);
        assert_eq!(send(c.get(url("/api/health/"))).await.status, 401);
        // Unknown paths are not found only with the token.
        assert_eq!(send(c.get(url("/api/nope"))).await.status, 401);
        assert_eq!(
            send(c.get(url("/api/nope")).bearer_auth(TOKEN))
                .await
                .status,
            404
        );
        // A preflight is a request like any other: no token, no CORS.
        let a = send(
            c.request(reqwest::Method::OPTIONS, url("/api/x"))
                .header("Origin", format!("http://127.0.0.1:{port}"))
                .header("Access-Control-Request-Method", "POST"),
        )
        .await;
        assert_eq!(a.status, 401);
        let a = send(
            c.request(reqwest::Method::OPTIONS, url("/api/x"))
                .header("Origin", "https://evil.example")
                .header("Access-Control-Request-Method", "POST"),
        )
        .await;
        assert_eq!(a.status, 403);
        // A CORS header set by a route does not get out.
        let a = send(c.get(url("/api/cors")).bearer_auth(TOKEN)).await;
        assert_eq!((a.status, a.body.as_str()), (200, "cors"));
    }

    #[tokio::test]
    async fn only_loopback_hosts_with_our_port() {
        let port = server().await;
        let c = http();
        let url = format!("http://127.0.0.1:{port}/api/x");
        for host in [
            "evil.example".to_string(),
            format!("evil.example:{port}"),
            format!("127.0.0.1:{}", port.wrapping_add(1)),
            "127.0.0.1".into(),
            "localhost".into(),
            format!("127.0.0.1.evil.example:{port}"),
            format!("127.0.0.2:{port}"),
        ] {
            // Also on the public path: rebinding must not reach anything.
            for path in ["/api/x", "/api/health"] {
                let url = format!("http://127.0.0.1:{port}{path}");
                let a = send(c.get(url).bearer_auth(TOKEN).header("Host", &host)).await;
                assert_eq!(a.status, 403, "{host}{path}");
                assert_eq!(a.json()["code"], "forbidden");
            }
        }
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("LocalHost:{port}"),
            format!("[::1]:{port}"),
        ] {
            let a = send(c.get(&url).bearer_auth(TOKEN).header("Host", &host)).await;
            assert_eq!(a.status, 200, "{host}");
        }
        // No Host at all, and two of them.
        let auth = format!("Authorization: Bearer {TOKEN}\r\n");
        let out = raw(port, &format!("GET /api/x HTTP/1.0\r\n{auth}\r\n")).await;
        assert!(out.starts_with("HTTP/1.0 403"), "{out}");
        let out = raw(
            port,
            &format!(
                "GET /api/x HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n{auth}\r\n"
            ),
        )
        .await;
        assert!(out.starts_with("HTTP/1.0 403"), "{out}");
        let out = raw(
            port,
            &format!("GET /api/x HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n"),
        )
        .await;
        assert!(out.starts_with("HTTP/1.0 200"), "{out}");
    }

    #[tokio::test]
    async fn only_our_own_origin() {
        let port = server().await;
        let c = http();
        let url = format!("http://127.0.0.1:{port}/api/x");
        for origin in [
            "https://evil.example".to_string(),
            "null".into(),
            format!("http://127.0.0.1:{}", port.wrapping_add(1)),
            format!("https://127.0.0.1:{port}"),
            format!("http://127.0.0.1:{port}.evil.example"),
            "http://127.0.0.1".into(),
            "".into(),
        ] {
            let a = send(c.get(&url).bearer_auth(TOKEN).header("Origin", &origin)).await;
            assert_eq!(a.status, 403, "{origin:?}");
            assert_eq!(a.json()["code"], "forbidden");
            // Checked before the token: a public path is no way around it.
            let health = format!("http://127.0.0.1:{port}/api/health");
            let a = send(c.get(health).header("Origin", &origin)).await;
            assert_eq!(a.status, 403, "{origin:?}");
        }
        for origin in [
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
        ] {
            let a = send(c.get(&url).bearer_auth(TOKEN).header("Origin", &origin)).await;
            assert_eq!(a.status, 200, "{origin}");
        }
    }

    #[tokio::test]
    async fn bodies_are_json_and_small() {
        let port = server().await;
        let c = http();
        let url = format!("http://127.0.0.1:{port}/api/x");
        let post = |ct: Option<&str>, body: Vec<u8>| {
            let rb = c.post(&url).bearer_auth(TOKEN).body(body);
            match ct {
                Some(ct) => rb.header("Content-Type", ct),
                None => rb,
            }
        };
        for ct in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            None,
        ] {
            let a = send(post(ct, b"{}".to_vec())).await;
            assert_eq!(a.status, 415, "{ct:?}");
            assert_eq!(a.json()["code"], "unsupported_media_type");
        }
        // A POST needs JSON even when empty; a GET with a body too.
        assert_eq!(send(post(Some("text/plain"), Vec::new())).await.status, 415);
        let a = send(c.get(&url).bearer_auth(TOKEN).body("{}")).await;
        assert_eq!(a.status, 415);
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            let a = send(post(Some(ct), b"{}".to_vec())).await;
            assert_eq!((a.status, a.body.as_str()), (200, "2"), "{ct}");
        }
        // Exactly 1 MiB passes; one byte more does not.
        let a = send(post(Some("application/json"), vec![b' '; MAX_BODY])).await;
        assert_eq!((a.status, a.body), (200, MAX_BODY.to_string()));
        let a = send(post(Some("application/json"), vec![b' '; MAX_BODY + 1])).await;
        assert_eq!(a.status, 413);
        assert_eq!(a.json()["code"], "payload_too_large");
        // The order: Host, then Origin, then token, then type, then size.
        let a = send(
            post(Some("text/plain"), vec![b' '; MAX_BODY + 1])
                .header("Host", "evil.example")
                .header("Origin", "null"),
        )
        .await;
        assert_eq!(a.status, 403);
        let a = send(
            c.post(&url)
                .header("Content-Type", "text/plain")
                .body(vec![b' '; MAX_BODY + 1]),
        )
        .await;
        assert_eq!(a.status, 401);
        let a = send(post(Some("text/plain"), vec![b' '; MAX_BODY + 1])).await;
        assert_eq!(a.status, 415);
    }

    /// A body with no `Content-Length` is cut off at the limit while read.
    #[tokio::test]
    async fn a_streamed_body_is_limited_while_read() {
        let app = protect(routes(), guard(4000));
        let req = |chunks: usize| {
            let stream = futures_util::stream::iter(
                (0..chunks).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])),
            );
            axum::http::Request::builder()
                .method("POST")
                .uri("/api/x")
                .header("Host", "localhost:4000")
                .header("Authorization", format!("Bearer {TOKEN}"))
                .header("Content-Type", "application/json")
                .body(Body::from_stream(stream))
                .unwrap()
        };
        let resp = app.clone().oneshot(req(16)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = app.clone().oneshot(req(17)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // A body that fails while read is a 400, not a route call.
        let failing = futures_util::stream::iter([Err::<Vec<u8>, _>(std::io::Error::other("cut"))]);
        let r = axum::http::Request::builder()
            .method("POST")
            .uri("/api/x")
            .header("Host", "localhost:4000")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .body(Body::from_stream(failing))
            .unwrap();
        let resp = app.oneshot(r).await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn the_guard_does_not_print_its_token() {
        let g = guard(1);
        assert!(!format!("{g:?}").contains(TOKEN));
    }
}
