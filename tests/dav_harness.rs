//! Checks the WebDAV test harness (`tests/common/dav.rs`) against every
//! server kind: start it, PUT, PROPFIND, GET, MOVE, DELETE over HTTP, change
//! files on the server's disk, and see the requests in `requests()`.

// Unix only: real servers, inodes, permissions and symlinks (the Windows
// lint in scripts/test.sh skips this file).
#![cfg(unix)]

#[path = "common/dav.rs"]
mod dav;

use std::time::Instant;

use dav::{DavKind, DavServer};
use reqwest::{Method, StatusCode};

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).unwrap()
}

async fn propfind(client: &reqwest::Client, url: &str) -> String {
    let resp = client
        .request(method("PROPFIND"), url)
        .header("Depth", "1")
        .header("Content-Type", "application/xml")
        .body(
            r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 207, "PROPFIND {url}");
    resp.text().await.unwrap()
}

async fn roundtrip(kind: DavKind) {
    if !dav::all_kinds().contains(&kind) {
        eprintln!("{kind}: left out by FERRY_DAV_KINDS");
        return;
    }
    let t0 = Instant::now();
    let server = DavServer::start(kind);
    let started = t0.elapsed();
    assert_eq!(server.kind(), kind);
    let client = dav::http_client();
    let url = server.url();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/dav/sync/"));
    assert!(server.root().is_dir());

    // The collection exists and is empty.
    let listing = propfind(&client, &url).await;
    assert!(!listing.contains("a.txt"), "{kind}: {listing}");

    // PUT lands in root().
    let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let resp = client
        .put(format!("{url}a.txt"))
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert!(
        matches!(resp.status().as_u16(), 200 | 201 | 204),
        "{kind}: PUT {}",
        resp.status()
    );
    assert_eq!(server.read("a.txt").as_deref(), Some(&content[..]));

    // PROPFIND lists it, GET returns it.
    let listing = propfind(&client, &url).await;
    assert!(listing.contains("a.txt"), "{kind}: {listing}");
    let resp = client.get(format!("{url}a.txt")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), content);

    // A change made on the server's disk is visible, and the server can
    // still write into a folder the harness created.
    server.write("sub/b.txt", b"written on the server");
    let listing = propfind(&client, &format!("{url}sub/")).await;
    assert!(listing.contains("b.txt"), "{kind}: {listing}");
    let resp = client.get(format!("{url}sub/b.txt")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(&resp.bytes().await.unwrap()[..], b"written on the server");
    let resp = client
        .put(format!("{url}sub/c.txt"))
        .body("from the client")
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "{kind}: PUT into sub/ {}",
        resp.status()
    );
    let resp = client
        .put(format!("{url}sub/b.txt"))
        .body("replaced by the client")
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "{kind}: PUT over b.txt {}",
        resp.status()
    );
    assert_eq!(
        server.read("sub/b.txt").as_deref(),
        Some(&b"replaced by the client"[..])
    );
    server.remove("sub");
    let resp = client.get(format!("{url}sub/b.txt")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{kind}");

    // A streamed upload (chunked, no Content-Length).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(vec![b'x'; 70_000]), Ok(vec![b'y'; 30_000])];
    let resp = client
        .put(format!("{url}chunked.bin"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "{kind}: chunked PUT {}",
        resp.status()
    );
    assert_eq!(server.read("chunked.bin").map(|b| b.len()), Some(100_000));

    // MOVE, then DELETE.
    let resp = client
        .request(method("MOVE"), format!("{url}a.txt"))
        .header("Destination", format!("{url}moved%20file.txt"))
        .header("Overwrite", "F")
        .send()
        .await
        .unwrap();
    assert!(
        matches!(resp.status().as_u16(), 201 | 204),
        "{kind}: MOVE {}",
        resp.status()
    );
    assert_eq!(server.read("a.txt"), None);
    assert_eq!(server.read("moved file.txt").as_deref(), Some(&content[..]));
    let resp = client
        .delete(format!("{url}moved%20file.txt"))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(resp.status().as_u16(), 200 | 204),
        "{kind}: DELETE {}",
        resp.status()
    );
    assert_eq!(server.read("moved file.txt"), None);

    // The requests were seen, with sizes.
    let t1 = Instant::now();
    let requests = server.requests();
    let listed = t1.elapsed();
    let find = |m: &str, p: &str| {
        requests
            .iter()
            .find(|r| r.0 == m && r.1 == p)
            .unwrap_or_else(|| panic!("{kind}: no {m} {p} in {requests:#?}"))
            .clone()
    };
    let put = find("PUT", "/dav/sync/a.txt");
    assert!((200..300).contains(&put.2), "{kind}: {put:?}");
    assert!(
        put.4 >= content.len() as u64,
        "{kind}: PUT bytes in {put:?}"
    );
    let get = find("GET", "/dav/sync/a.txt");
    assert_eq!(get.2, 200);
    assert!(
        get.3 >= content.len() as u64,
        "{kind}: GET bytes out {get:?}"
    );
    let chunked = find("PUT", "/dav/sync/chunked.bin");
    assert!(chunked.4 >= 100_000, "{kind}: {chunked:?}");
    let mv = find("MOVE", "/dav/sync/a.txt");
    assert!(matches!(mv.2, 201 | 204), "{kind}: {mv:?}");
    let del = find("DELETE", "/dav/sync/moved file.txt");
    assert!((200..300).contains(&del.2), "{kind}: {del:?}");
    assert_eq!(
        requests.iter().filter(|r| r.0 == "MOVE").count(),
        1,
        "{kind}: {requests:#?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.1.starts_with("/ferry-log-marker")),
        "{kind}: markers leaked into {requests:#?}"
    );

    let t2 = Instant::now();
    drop(server);
    eprintln!(
        "{kind}: started in {started:?}, requests() in {listed:?}, stopped in {:?}, {} requests",
        t2.elapsed(),
        requests.len()
    );
}

#[tokio::test]
async fn apache() {
    roundtrip(DavKind::Apache).await;
}

#[tokio::test]
async fn nginx() {
    roundtrip(DavKind::Nginx).await;
}

#[tokio::test]
async fn rclone() {
    roundtrip(DavKind::Rclone).await;
}

#[tokio::test]
async fn wsgidav() {
    roundtrip(DavKind::WsgiDav).await;
}

#[tokio::test]
async fn dav_server() {
    roundtrip(DavKind::DavServer).await;
}

/// Two servers of one kind side by side get their own ports and folders.
#[test]
fn servers_are_independent() {
    let kind = dav::all_kinds()[0];
    let a = DavServer::start(kind);
    let b = DavServer::start(kind);
    assert_ne!(a.url(), b.url());
    assert_ne!(a.root(), b.root());
    a.write("only-a.txt", b"a");
    assert_eq!(b.read("only-a.txt"), None);
    let tmp = a.temp_dir().to_path_buf();
    drop(a);
    assert!(!tmp.exists(), "the temp dir is removed on drop");
}

/// `requests()` has every request the test saw answered, even right after a
/// burst of parallel ones (Apache and wsgidav log on worker threads after the
/// response went out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_complete_after_a_burst() {
    for kind in dav::all_kinds() {
        let t0 = Instant::now();
        let server = DavServer::start(kind);
        let client = dav::http_client();
        let url = server.url();
        for round in 0..3 {
            let puts = (0..24).map(|i| {
                let client = client.clone();
                let url = format!("{url}r{round}-{i}.txt");
                async move { client.put(url).body(vec![b'z'; 1000 + i]).send().await }
            });
            for resp in futures_util::future::join_all(puts).await {
                let resp = resp.unwrap_or_else(|e| panic!("{kind}: {e:?}"));
                assert!(resp.status().is_success(), "{kind}");
            }
            let seen = server.requests();
            let puts = seen.iter().filter(|r| r.0 == "PUT").count();
            assert_eq!(puts, 24 * (round + 1), "{kind}: {seen:#?}");
        }
        eprintln!("{kind}: burst test in {:?}", t0.elapsed());
    }
}
