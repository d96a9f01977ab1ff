//! Listing a server whose collection ETags change when anything inside
//! changes (Nextcloud, ownCloud): after a first full listing, an unchanged
//! server costs one request, and a change deep inside costs one request per
//! collection on its path — never a walk of the whole tree.
//!
//! The server here is a small in-process WebDAV stand-in that computes each
//! collection's ETag from everything below it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferry::engine::Filter;
use ferry::remote::Remote;
use ferry::remote::webdav::{Options, WebDav};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use sha2::{Digest, Sha256};

/// path ("a/b/f.txt"; folders end with '/') → content.
type Files = Arc<Mutex<BTreeMap<String, String>>>;
type Log = Arc<Mutex<Vec<(String, String)>>>;

/// A file that makes the server answer `Depth: 0` on a folder as
/// `Depth: 1` (the folder and what is in it).
const ODD_DEPTH_0: &str = "odd-depth-0";

fn tag(files: &BTreeMap<String, String>, prefix: &str) -> String {
    let mut h = Sha256::new();
    for (k, v) in files.range(prefix.to_string()..) {
        if !k.starts_with(prefix) {
            break;
        }
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    let d: [u8; 32] = h.finalize().into();
    format!("\"{}\"", hex::encode(&d[..6]))
}

fn entry(path: &str, files: &BTreeMap<String, String>) -> String {
    let href = format!("/dav/{path}");
    if path.is_empty() || path.ends_with('/') {
        format!(
            "<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>\
             <d:getetag>{}</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>",
            tag(files, path)
        )
    } else {
        let content = &files[path];
        format!(
            "<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:resourcetype/>\
             <d:getcontentlength>{}</d:getcontentlength><d:getetag>{}</d:getetag>\
             <d:getlastmodified>Sun, 22 Nov 2026 10:00:00 GMT</d:getlastmodified></d:prop>\
             <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>",
            content.len(),
            tag(files, path)
        )
    }
}

async fn serve(files: Files, log: Log) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (files, log) = (files.clone(), log.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (files, log) = (files.clone(), log.clone());
                    async move {
                        let depth = req
                            .headers()
                            .get("Depth")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let path = req.uri().path().trim_start_matches("/dav/").to_string();
                        log.lock().unwrap().push((depth.clone(), path.clone()));
                        let files = files.lock().unwrap();
                        let exists = path.is_empty() || files.contains_key(&path);
                        let odd = depth == "0" && files.contains_key(ODD_DEPTH_0);
                        let (status, body) = if req.method() != "PROPFIND" || depth == "infinity" {
                            (403, String::new())
                        } else if !exists {
                            (404, String::new())
                        } else {
                            let mut body = entry(&path, &files);
                            if (depth == "1" || odd) && (path.is_empty() || path.ends_with('/')) {
                                for k in files.keys() {
                                    if let Some(rest) = k.strip_prefix(path.as_str()) {
                                        let rest = rest.trim_end_matches('/');
                                        if !rest.is_empty() && !rest.contains('/') {
                                            body.push_str(&entry(k, &files));
                                        }
                                    }
                                }
                            }
                            (
                                207,
                                format!(
                                    "<?xml version=\"1.0\"?><d:multistatus xmlns:d=\"DAV:\">{body}</d:multistatus>"
                                ),
                            )
                        };
                        Ok::<_, Infallible>(
                            Response::builder()
                                .status(status)
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
    format!("http://{addr}/dav/")
}

#[tokio::test]
async fn unchanged_subtrees_are_not_listed_again() {
    let files: Files = Arc::default();
    {
        let mut f = files.lock().unwrap();
        for top in 0..5 {
            f.insert(format!("t{top}/"), String::new());
            for mid in 0..4 {
                f.insert(format!("t{top}/m{mid}/"), String::new());
                for n in 0..3 {
                    f.insert(format!("t{top}/m{mid}/f{n}.txt"), format!("{top}{mid}{n}"));
                }
            }
        }
    }
    let log: Log = Arc::default();
    let url = serve(files.clone(), log.clone()).await;
    let dav = WebDav::new(&url, Options::default()).unwrap();
    // What the probe found earlier, as kept in the journal.
    dav.import_state(r#"{"depth_infinity":false,"file_ids":false,"collection_etags_propagate":true,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":false,"if_header":false,"probed_at":1}"#);
    let filter = Filter::default();

    let first = dav.list(&filter).await.unwrap().unwrap();
    assert_eq!(first.tree.len(), 5 + 20 + 60);
    let full_walk = log.lock().unwrap().len();
    assert!(full_walk >= 26, "{full_walk}");

    log.lock().unwrap().clear();
    let again = dav.list(&filter).await.unwrap().unwrap();
    assert_eq!(again.tree, first.tree);
    assert_eq!(log.lock().unwrap().len(), 1, "{:?}", log.lock().unwrap());

    // A change deep inside: only the collections on its path are listed.
    log.lock().unwrap().clear();
    files
        .lock()
        .unwrap()
        .insert("t2/m3/f1.txt".into(), "changed, longer".into());
    let changed = dav.list(&filter).await.unwrap().unwrap();
    let requests = log.lock().unwrap().clone();
    let depth1: Vec<_> = requests
        .iter()
        .filter(|(d, _)| d == "1")
        .map(|(_, p)| p.as_str())
        .collect();
    assert_eq!(depth1, vec!["", "t2/", "t2/m3/"], "{requests:?}");
    assert_eq!(
        changed.tree["t2/m3/f1.txt"].size,
        "changed, longer".len() as u64
    );
    assert_ne!(
        changed.tree["t2/m3/f1.txt"].etag,
        first.tree["t2/m3/f1.txt"].etag
    );
    let mut expected = first.tree.clone();
    expected.insert("t2/m3/f1.txt".into(), changed.tree["t2/m3/f1.txt"].clone());
    assert_eq!(changed.tree, expected);

    // Additions and removals are seen too.
    {
        let mut f = files.lock().unwrap();
        f.remove("t0/m0/f0.txt");
        f.insert("t4/new/".into(), String::new());
        f.insert("t4/new/n.txt".into(), "n".into());
    }
    let after = dav.list(&filter).await.unwrap().unwrap();
    assert!(!after.tree.contains_key("t0/m0/f0.txt"));
    assert!(after.tree.contains_key("t4/new/n.txt"));
    assert_eq!(after.tree.len(), first.tree.len() + 1);
}

#[tokio::test]
async fn without_propagating_tags_every_listing_walks_the_tree() {
    let files: Files = Arc::default();
    files.lock().unwrap().insert("a/".into(), String::new());
    files.lock().unwrap().insert("a/b/".into(), String::new());
    files.lock().unwrap().insert("a/b/f".into(), "x".into());
    let log: Log = Arc::default();
    let url = serve(files.clone(), log.clone()).await;
    let dav = WebDav::new(&url, Options::default()).unwrap();
    let filter = Filter::default();
    dav.list(&filter).await.unwrap().unwrap();
    log.lock().unwrap().clear();
    dav.list(&filter).await.unwrap().unwrap();
    let depth1 = log.lock().unwrap().iter().filter(|(d, _)| d == "1").count();
    assert_eq!(depth1, 3, "Apache-like servers must be walked in full");
}

#[tokio::test]
async fn a_reused_listing_still_names_the_excluded_items_its_folders_hold() {
    let files: Files = Arc::default();
    {
        let mut f = files.lock().unwrap();
        for p in ["a/", "a/b/", "c/"] {
            f.insert(p.into(), String::new());
        }
        f.insert("a/b/.env".into(), "SECRET=1".into());
        f.insert("a/b/f.txt".into(), "f".into());
        f.insert("c/g.txt".into(), "g".into());
    }
    let log: Log = Arc::default();
    let url = serve(files.clone(), log.clone()).await;
    let dav = WebDav::new(&url, Options::default()).unwrap();
    dav.import_state(r#"{"depth_infinity":false,"file_ids":false,"collection_etags_propagate":true,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":false,"if_header":false,"probed_at":1}"#);
    let filter = Filter::default();
    let first = dav.list(&filter).await.unwrap().unwrap();
    assert_eq!(first.excluded, ["a/b/.env"]);
    // Nothing changed: the whole listing is reused.
    let again = dav.list(&filter).await.unwrap().unwrap();
    assert_eq!(again.excluded, first.excluded);
    // Only `c` changed: `a` is reused, with what it excludes.
    files.lock().unwrap().insert("c/h.txt".into(), "h".into());
    let changed = dav.list(&filter).await.unwrap().unwrap();
    assert!(changed.tree.contains_key("c/h.txt"));
    assert_eq!(changed.excluded, first.excluded);
}

#[tokio::test]
async fn a_scoped_listing_asks_for_its_paths_alone_and_leaves_the_kept_listing_as_it_was() {
    let files: Files = Arc::default();
    {
        let mut f = files.lock().unwrap();
        for top in 0..3 {
            f.insert(format!("t{top}/"), String::new());
            for n in 0..3 {
                f.insert(format!("t{top}/f{n}.txt"), format!("{top}{n}"));
            }
        }
    }
    let log: Log = Arc::default();
    let url = serve(files.clone(), log.clone()).await;
    let dav = WebDav::new(&url, Options::default()).unwrap();
    dav.import_state(r#"{"depth_infinity":false,"file_ids":false,"collection_etags_propagate":true,"depth0_exact":true,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":false,"if_header":false,"probed_at":1}"#);
    assert!(dav.can_list_paths());
    let filter = Filter::default();
    let first = dav.list(&filter).await.unwrap().unwrap();

    // Meanwhile on the server: a file in `t2` changes, one in `t0` too.
    {
        let mut f = files.lock().unwrap();
        f.insert("t2/f1.txt".into(), "changed on the server".into());
        f.insert("t0/f0.txt".into(), "changed too, and seen".into());
    }
    log.lock().unwrap().clear();
    let scoped = dav
        .list_paths(&["t0/f0.txt".into()], &filter)
        .await
        .unwrap()
        .unwrap();
    let requests = log.lock().unwrap().clone();
    assert_eq!(
        requests,
        [
            ("0".to_string(), String::new()),
            ("0".into(), "t0/".into()),
            ("0".into(), "t0/f0.txt".into())
        ],
        "the root, the parent and the path, Depth 0 each"
    );
    let keys: Vec<&str> = scoped.tree.keys().map(String::as_str).collect();
    assert_eq!(keys, ["t0", "t0/f0.txt"]);
    assert_eq!(
        scoped.tree["t0/f0.txt"].size,
        "changed too, and seen".len() as u64
    );

    // The next full listing sees both changes: the kept listing is still
    // the first one, whose tags for the root, `t0` and `t2` all differ now.
    log.lock().unwrap().clear();
    let full = dav.list(&filter).await.unwrap().unwrap();
    assert_eq!(
        full.tree["t2/f1.txt"].size,
        "changed on the server".len() as u64
    );
    assert_eq!(
        full.tree["t0/f0.txt"].size,
        "changed too, and seen".len() as u64
    );
    assert_eq!(full.tree.len(), first.tree.len());
    let depth1: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(d, _)| d == "1")
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(depth1, ["", "t0/", "t2/"]);

    // A missing path is left out of the listing, not an error.
    let gone = dav
        .list_paths(&["t1/nothing-here.txt".into()], &filter)
        .await
        .unwrap()
        .unwrap();
    let keys: Vec<&str> = gone.tree.keys().map(String::as_str).collect();
    assert_eq!(keys, ["t1"]);
}

#[tokio::test]
async fn a_depth_0_answer_with_more_than_the_item_asked_for_means_the_full_listing_from_then_on() {
    let files: Files = Arc::default();
    {
        let mut f = files.lock().unwrap();
        f.insert("a/".into(), String::new());
        f.insert("a/f".into(), "x".into());
        f.insert("b/".into(), String::new());
        f.insert("b/g".into(), "y".into());
        // This server answers Depth 0 on a folder as Depth 1.
        f.insert(ODD_DEPTH_0.into(), String::new());
    }
    let log: Log = Arc::default();
    let url = serve(files.clone(), log.clone()).await;
    let dav = WebDav::new(&url, Options::default()).unwrap();
    dav.import_state(r#"{"depth_infinity":false,"file_ids":false,"collection_etags_propagate":false,"depth0_exact":true,"x_oc_mtime":false,"proppatch_mtime":false,"if_match":false,"if_header":false,"probed_at":1}"#);
    assert!(dav.can_list_paths());
    let filter = Filter::default();
    let listing = dav
        .list_paths(&["a/f".into()], &filter)
        .await
        .unwrap()
        .unwrap();
    // The whole tree, as a full listing has it.
    for k in ["a", "a/f", "b", "b/g"] {
        assert!(listing.tree.contains_key(k), "{k}: {:?}", listing.tree);
    }
    assert!(!dav.can_list_paths());
}
