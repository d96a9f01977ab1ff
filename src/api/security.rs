//! The checks every API request passes before a route sees it, in order:
//!
//! 1. `Host` must be a loopback name with our port (`127.0.0.1:PORT`,
//!    `localhost:PORT`, `[::1]:PORT`): a web page that rebinds its own
//!    domain to 127.0.0.1 sends its own name and gets 403.
//! 2. An `Origin`, if present, must be ours (`http://127.0.0.1:PORT`, …);
//!    any other, `null` included, gets 403. No CORS headers are ever sent,
//!    so browsers keep other sites' scripts from reading answers.
//! 3. `Authorization: Bearer <token>`, compared in constant time, except on
//!    the public paths → else 401 with `WWW-Authenticate: Bearer`.
//! 4. A request with a body must be `Content-Type: application/json` → 415.
//! 5. Bodies over [`MAX_BODY`] → 413.
//!
//! Error answers are `{"error": message, "code": code}`; they never echo
//! the token.

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

/// What the checks need to know.
#[derive(Clone)]
pub struct Guard {
    /// 64 hex characters.
    pub token: String,
    /// The port we listen on.
    pub port: u16,
    /// Exact paths that need no token (e.g. `/api/health`).
    pub public: &'static [&'static str],
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("port", &self.port)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// `router` with every check in front of it.
pub fn protect(router: Router, guard: Guard) -> Router {
    let guard = std::sync::Arc::new(guard);
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let guard = guard.clone();
            async move { check(&guard, req, next).await }
        },
    ))
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = (
        status,
        axum::Json(serde_json::json!({"error": message, "code": code})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    resp
}

fn loopback_host(host: &str, port: u16) -> bool {
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|name| host.eq_ignore_ascii_case(&format!("{name}:{port}")))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn check(guard: &Guard, req: Request, next: Next) -> Response {
    let headers = req.headers();
    // 1. Host.
    match header_str(headers, header::HOST) {
        Some(h) if loopback_host(h, guard.port) => {}
        _ => {
            return refuse(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this API answers only to 127.0.0.1 / localhost on its own port",
            );
        }
    }
    // 2. Origin.
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .and_then(|o| o.strip_prefix("http://"))
            .is_some_and(|rest| loopback_host(rest, guard.port));
        if !ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "forbidden",
                "requests from other origins are refused",
            );
        }
    }
    // 3. Token.
    if !guard.public.contains(&req.uri().path()) {
        let given = header_str(headers, header::AUTHORIZATION)
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        let same: bool = given.as_bytes().ct_eq(guard.token.as_bytes()).into();
        if !same || guard.token.is_empty() {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid API token is required (Authorization: Bearer …; see api.port)",
            );
        }
    }
    // 4. JSON bodies only.
    let length = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    let has_body = length.is_some_and(|n| n > 0)
        || chunked
        || (matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
            && length.is_none_or(|n| n > 0)
            && headers.contains_key(header::CONTENT_TYPE));
    if has_body {
        let json = header_str(headers, header::CONTENT_TYPE)
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "request bodies must be JSON (Content-Type: application/json)",
            );
        }
    }
    // 5. Size.
    if length.is_some_and(|n| n > MAX_BODY as u64) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        );
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            );
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn app() -> Router {
        let r = Router::new()
            .route("/api/health", get(|| async { "ok" }))
            .route(
                "/api/x",
                get(|| async { "x" })
                    .post(|b: axum::body::Bytes| async move { b.len().to_string() }),
            );
        protect(
            r,
            Guard {
                token: TOKEN.into(),
                port: 4000,
                public: &["/api/health"],
            },
        )
    }

    async fn send(req: axum::http::Request<Body>) -> (StatusCode, HeaderMap, String) {
        let resp = app().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn req(method: &str, path: &str) -> axum::http::request::Builder {
        axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", "127.0.0.1:4000")
    }

    #[tokio::test]
    async fn every_rule_holds() {
        let bearer = format!("Bearer {TOKEN}");
        // Public path, no token.
        assert_eq!(
            send(req("GET", "/api/health").body(Body::empty()).unwrap())
                .await
                .0,
            StatusCode::OK
        );
        // No token, wrong token, right token.
        let (s, h, body) = send(req("GET", "/api/x").body(Body::empty()).unwrap()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(h.contains_key("www-authenticate") && body.contains("unauthorized"));
        let wrong = format!("Bearer {}", "f".repeat(64));
        let r = req("GET", "/api/x")
            .header("Authorization", wrong)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(r).await.0, StatusCode::UNAUTHORIZED);
        let r = req("GET", "/api/x")
            .header("Authorization", &bearer)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(r).await.0, StatusCode::OK);
        // Hosts.
        for host in [
            "evil.example",
            "127.0.0.1:4001",
            "localhost",
            "127.0.0.1.evil:4000",
        ] {
            let r = axum::http::Request::builder()
                .uri("/api/x")
                .header("Host", host)
                .header("Authorization", &bearer)
                .body(Body::empty())
                .unwrap();
            assert_eq!(send(r).await.0, StatusCode::FORBIDDEN, "{host}");
        }
        for host in ["localhost:4000", "[::1]:4000"] {
            let r = axum::http::Request::builder()
                .uri("/api/x")
                .header("Host", host)
                .header("Authorization", &bearer)
                .body(Body::empty())
                .unwrap();
            assert_eq!(send(r).await.0, StatusCode::OK, "{host}");
        }
        // Origins.
        for (origin, want) in [
            ("https://evil.example", StatusCode::FORBIDDEN),
            ("null", StatusCode::FORBIDDEN),
            ("http://127.0.0.1:4001", StatusCode::FORBIDDEN),
            ("http://127.0.0.1:4000", StatusCode::OK),
            ("http://localhost:4000", StatusCode::OK),
        ] {
            let r = req("GET", "/api/x")
                .header("Authorization", &bearer)
                .header("Origin", origin)
                .body(Body::empty())
                .unwrap();
            assert_eq!(send(r).await.0, want, "{origin}");
        }
        // Bodies: JSON only, size limit.
        let r = req("POST", "/api/x")
            .header("Authorization", &bearer)
            .header("Content-Type", "text/plain")
            .header("Content-Length", "2")
            .body(Body::from("{}"))
            .unwrap();
        assert_eq!(send(r).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let r = req("POST", "/api/x")
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Content-Length", "2")
            .body(Body::from("{}"))
            .unwrap();
        let (s, h, body) = send(r).await;
        assert_eq!((s, body.as_str()), (StatusCode::OK, "2"));
        assert!(!h.keys().any(|k| k.as_str().starts_with("access-control-")));
        let big = vec![b' '; MAX_BODY + 1];
        let r = req("POST", "/api/x")
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .header("Content-Length", big.len().to_string())
            .body(Body::from(big))
            .unwrap();
        assert_eq!(send(r).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        // No error message echoes the token.
        let r = req("GET", "/api/x")
            .header("Authorization", format!("Bearer {TOKEN}x"))
            .body(Body::empty())
            .unwrap();
        let (_, _, body) = send(r).await;
        assert!(!body.contains(TOKEN));
    }
}
