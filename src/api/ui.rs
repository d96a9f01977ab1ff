//! The preferences UI's side of the API server: this module owns the
//! static files (`assets/ui/`, embedded in the binary: the same bytes in
//! debug and release, nothing read from disk at run time), the login code
//! route and the `/login` exchange of a code for a session cookie
//! ([`super::session`]).
//!
//! * `GET /` → `index.html`; `GET /ui/<path>` → the file (public: code,
//!   no data; every `/api/*` route still needs the token or the cookie).
//! * `POST /api/login-code` (token only, not a browser session) → a
//!   [`LoginCode`].
//! * `GET /login?code=…[&page=…]` → `303` to `/#/<page>` with the session
//!   cookie, or `403` with a page saying how to get a new link.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use include_dir::{Dir, include_dir};
use serde::Deserialize;

use super::session::{CODE_LIFETIME, Sessions};
use crate::protocol::prefs::{LoginCode, LoginRequest, valid_page};

/// The UI's files.
static UI: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets/ui");

/// The public path prefix of the UI's files.
pub const STATIC_PREFIX: &str = "/ui/";

#[derive(Clone)]
struct Ui {
    sessions: Arc<Sessions>,
    port: u16,
}

/// The UI's routes (to be merged with the API's before the security layer).
pub fn router(sessions: Arc<Sessions>, port: u16) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*path}", get(file))
        .route("/login", get(login))
        .route("/api/login-code", post(login_code))
        .with_state(Ui { sessions, port })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str) -> Response {
    match UI.get_file(path) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, content_type(path)),
                // The files change with the binary: always revalidate.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            f.contents(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn index() -> Response {
    serve("index.html")
}

async fn file(Path(path): Path<String>) -> Response {
    serve(&path)
}

async fn login_code(State(ui): State<Ui>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    // A browser session may not mint codes (it has what a code gives).
    if !headers.contains_key(header::AUTHORIZATION) {
        return refuse(
            StatusCode::FORBIDDEN,
            "only Ferry's own programs (with the API token) can ask for a login code",
        );
    }
    let req: LoginRequest = if body.is_empty() {
        LoginRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return refuse(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
        }
    };
    if let Some(page) = &req.page {
        if !valid_page(page) {
            return refuse(StatusCode::BAD_REQUEST, "no such page");
        }
    }
    let code = ui.sessions.new_code();
    let mut url = format!("http://127.0.0.1:{}/login?code={code}", ui.port);
    if let Some(page) = &req.page {
        url.push_str("&page=");
        url.push_str(page);
    }
    axum::Json(LoginCode {
        code,
        url,
        expires_in_secs: CODE_LIFETIME.as_secs(),
    })
    .into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let code = if status == StatusCode::FORBIDDEN {
        "forbidden"
    } else {
        "bad_request"
    };
    (
        status,
        axum::Json(serde_json::json!({"error": message, "code": code})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    page: Option<String>,
}

async fn login(State(ui): State<Ui>, Query(q): Query<LoginQuery>) -> Response {
    let Some(token) = ui.sessions.redeem(&q.code) else {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            EXPIRED_PAGE,
        )
            .into_response();
    };
    let page = q
        .page
        .filter(|p| valid_page(p))
        .unwrap_or_else(|| "syncs".to_string());
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/#/{page}")) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&Sessions::cookie(&token)) {
        headers.insert(header::SET_COOKIE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The answer to a used, expired or unknown code (no script, no style).
const EXPIRED_PAGE: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ferry — link expired</title></head>
<body><h1>This link has expired</h1>
<p>A link to Ferry's preferences works once, for a minute. Open the preferences again from
Ferry's icon in the tray (<b>Preferences…</b>), or run <code>ferry prefs</code>.</p>
</body></html>
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_files_are_embedded_with_their_types() {
        let index = UI.get_file("index.html").expect("index.html");
        assert!(
            std::str::from_utf8(index.contents())
                .unwrap()
                .contains("/ui/js/app.js")
        );
        assert!(UI.get_file("js/app.js").is_some());
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }

    #[test]
    fn no_ui_file_has_inline_script_or_style() {
        // The CSP forbids them: a page that used one would silently break.
        fn walk(dir: &Dir<'_>, out: &mut Vec<String>) {
            for f in dir.files() {
                let text = String::from_utf8_lossy(f.contents());
                let path = f.path().display().to_string();
                if path.ends_with(".html") {
                    let inline_script = text.match_indices("<script").any(|(i, _)| {
                        let tag_end = text[i..].find('>').map_or(text.len(), |e| i + e);
                        !text[i..tag_end].contains("src=")
                    });
                    if inline_script || text.contains("<style") || text.contains(" style=") {
                        out.push(path.clone());
                    }
                    if text.contains(" on") && text.contains("=\"") {
                        for attr in [" onclick=", " onload=", " onchange=", " onsubmit="] {
                            if text.contains(attr) {
                                out.push(format!("{path}: {attr}"));
                            }
                        }
                    }
                }
                if path.ends_with(".js")
                    && (text.contains("eval(") || text.contains("new Function"))
                {
                    out.push(format!("{path}: eval"));
                }
                if path.ends_with(".js") && text.contains(".innerHTML") {
                    out.push(format!("{path}: innerHTML"));
                }
            }
            for d in dir.dirs() {
                walk(d, out);
            }
        }
        let mut wrong = Vec::new();
        walk(&UI, &mut wrong);
        assert!(wrong.is_empty(), "against the CSP or unsafe: {wrong:?}");
    }
}
