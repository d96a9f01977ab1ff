//! A hostile or broken WebDAV server: crafted multistatus bodies (traversal
//! hrefs, another host, unsafe names, DOCTYPE, deep nesting, huge,
//! truncated) and an HTML page where a file was expected. Ferry must give a
//! clear error and write nothing outside its root.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use ferry::engine::{Entry, Filter};
use ferry::remote::webdav::{Options, WebDav};
use ferry::remote::{Remote, RemoteError};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// Canned answers by (method, depth or "-", path).
type Routes = HashMap<(String, String, String), (u16, String)>;

async fn serve(routes: Routes) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = Arc::new(routes);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let routes = routes.clone();
                    async move {
                        let depth = req
                            .headers()
                            .get("Depth")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_string();
                        let key = (
                            req.method().to_string(),
                            depth,
                            req.uri().path().to_string(),
                        );
                        let (status, body) =
                            routes.get(&key).cloned().unwrap_or((404, String::new()));
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
                                .header("Content-Type", "application/xml")
                                .body(Full::new(Bytes::from(body)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn response(href: &str, collection: bool) -> String {
    let rt = if collection {
        "<d:resourcetype><d:collection/></d:resourcetype>"
    } else {
        "<d:resourcetype/><d:getcontentlength>5</d:getcontentlength><d:getetag>\"e\"</d:getetag>"
    };
    format!(
        "<d:response><d:href>{href}</d:href><d:propstat><d:prop>{rt}\
         <d:getlastmodified>Sun, 22 Nov 2026 10:00:00 GMT</d:getlastmodified></d:prop>\
         <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )
}

fn multistatus(inner: &str) -> String {
    format!("<?xml version=\"1.0\"?><d:multistatus xmlns:d=\"DAV:\">{inner}</d:multistatus>")
}

/// A server whose root `/dav/` lists `listing` at Depth 1 (Depth infinity
/// is refused, as on Apache by default).
fn routes_with(listing: String) -> Routes {
    let root = multistatus(&response("/dav/", true));
    let mut r = Routes::new();
    r.insert(("PROPFIND".into(), "0".into(), "/dav/".into()), (207, root));
    r.insert(
        ("PROPFIND".into(), "infinity".into(), "/dav/".into()),
        (403, String::new()),
    );
    r.insert(
        ("PROPFIND".into(), "1".into(), "/dav/".into()),
        (207, listing),
    );
    r
}

async fn list(routes: Routes, options: Options) -> Result<ferry::remote::Listing, RemoteError> {
    let addr = serve(routes).await;
    let dav = WebDav::new(&format!("http://{addr}/dav/"), options).unwrap();
    dav.list(&Filter::default())
        .await
        .map(|l| l.expect("root exists"))
}

#[tokio::test]
async fn an_href_outside_the_collection_rejects_the_whole_listing() {
    for bad in [
        "/etc/passwd",
        "/dav/../etc/passwd",
        "/davx/a.txt",
        "http://evil.example/dav/a.txt",
    ] {
        let listing = multistatus(&format!(
            "{}{}{}",
            response("/dav/", true),
            response("/dav/ok.txt", false),
            response(bad, false)
        ));
        let err = list(routes_with(listing), Options::default())
            .await
            .unwrap_err();
        assert!(matches!(err, RemoteError::Protocol(_)), "{bad}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains("outside") || msg.contains("another server") || msg.contains("unsafe"),
            "{bad}: {msg}"
        );
    }
}

#[tokio::test]
async fn traversal_is_rejected_in_a_depth_infinity_listing_too() {
    for bad in [
        "/dav/../etc/passwd",
        "/dav/a/%2e%2e/%2e%2e/x",
        "/dav/%2e%2e/x",
    ] {
        let listing = multistatus(&format!(
            "{}{}{}",
            response("/dav/", true),
            response("/dav/a/", true),
            response(bad, false)
        ));
        let mut routes = routes_with(String::new());
        routes.insert(
            ("PROPFIND".into(), "infinity".into(), "/dav/".into()),
            (207, listing),
        );
        // Infinity is used only where it was seen to work: say it was.
        let addr = serve(routes).await;
        let dav = WebDav::new(&format!("http://{addr}/dav/"), Options::default()).unwrap();
        let now = jiff::Timestamp::now().as_second();
        dav.import_state(&format!(
            r#"{{"depth_infinity":true,"depth_infinity_checked_at":{now},"file_ids":false,"collection_etags_propagate":false,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":false,"if_header":false,"probed_at":0}}"#
        ));
        let err = dav.list(&Filter::default()).await.unwrap_err();
        assert!(err.to_string().contains("unsafe"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn unsafe_names_are_skipped_and_reported_one_by_one() {
    let listing = multistatus(&format!(
        "{}{}{}{}",
        response("/dav/", true),
        response("/dav/ok.txt", false),
        response("/dav/%2e%2e", false),
        response("/dav/a%0Ab.txt", false),
    ));
    let l = list(routes_with(listing), Options::default())
        .await
        .unwrap();
    assert_eq!(l.tree.keys().collect::<Vec<_>>(), vec!["ok.txt"]);
    assert_eq!(l.problems.len(), 2, "{:?}", l.problems);
    assert!(l.problems.iter().all(|p| p.message.contains("unsafe name")));
}

#[tokio::test]
async fn doctype_deep_nesting_truncation_and_size_are_refused() {
    let doctype = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x \"y\">]>{}",
        multistatus(&response("/dav/", true))
    );
    let deep = multistatus(&format!(
        "{}{}{}",
        response("/dav/", true),
        "<d:x>".repeat(200),
        "</d:x>".repeat(200)
    ));
    let full = multistatus(&format!(
        "{}{}",
        response("/dav/", true),
        response("/dav/a.txt", false)
    ));
    let truncated = full[..full.len() - 40].to_string();
    let huge = multistatus(
        &(0..2000)
            .map(|i| response(&format!("/dav/f{i}"), false))
            .collect::<String>(),
    );
    let cases = [
        ("doctype", doctype, Options::default(), "DOCTYPE"),
        ("deep", deep, Options::default(), "nests deeper"),
        ("truncated", truncated, Options::default(), "malformed"),
        (
            "huge",
            huge,
            Options {
                max_listing_bytes: Some(64 * 1024),
                ..Options::default()
            },
            "larger than",
        ),
    ];
    for (name, body, options, expect) in cases {
        let err = list(routes_with(body), options).await.unwrap_err();
        assert!(err.to_string().contains(expect), "{name}: {err}");
    }
}

#[tokio::test]
async fn an_html_page_where_a_file_was_expected_is_not_accepted() {
    let mut routes = routes_with(multistatus(&response("/dav/", true)));
    routes.insert(
        ("GET".into(), "-".into(), "/dav/report.pdf".into()),
        (200, "<html><body>Please log in</body></html>".into()),
    );
    let addr = serve(routes).await;
    let dav = WebDav::new(&format!("http://{addr}/dav/"), Options::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().join(".part");
    let expect = Entry::file(5, 0);
    let err = dav
        .download("report.pdf", &expect, &temp)
        .await
        .unwrap_err();
    assert!(err.is_changed(), "{err}");
}

#[test]
fn ferry_sync_against_a_hostile_server_fails_clearly_and_writes_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listing = multistatus(&format!(
        "{}{}",
        response("/dav/", true),
        response("/dav/%2e%2e/%2e%2e/escaped.txt", false)
    ));
    let addr = rt.block_on(serve(routes_with(listing)));
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("sandbox/local");
    std::fs::create_dir_all(&local).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("sync")
        .arg(&local)
        .arg(format!("http://{addr}/dav/"))
        .arg("--state")
        .arg(dir.path().join("state"))
        .env("HOME", dir.path().join("home"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rejected"), "{stderr}");
    let mut found = Vec::new();
    for e in walk(dir.path()) {
        if e.file_name().is_some_and(|n| n == "escaped.txt") {
            found.push(e);
        }
    }
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(std::fs::read_dir(&local).unwrap().count(), 0);
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn a_401_means_credentials_required_without_a_retry_storm() {
    let mut routes = Routes::new();
    for depth in ["0", "1", "infinity"] {
        routes.insert(
            ("PROPFIND".into(), depth.into(), "/dav/".into()),
            (401, String::new()),
        );
    }
    let addr = serve(routes).await;
    let dav = WebDav::new(&format!("http://{addr}/dav/"), Options::default()).unwrap();
    let start = std::time::Instant::now();
    let err = dav.list(&Filter::default()).await.unwrap_err();
    assert!(matches!(err, RemoteError::Auth(_)), "{err}");
    assert!(err.stops_pass());
    assert!(err.to_string().contains("credentials"), "{err}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "retried a 401"
    );
}
