//! Servers that ask for more than Basic, against the real `ferry daemon
//! --headless` (temp folders, the kernel keyring): wsgidav and Apache
//! accepting only HTTP Digest, nginx asking for a bearer token, and a
//! server asking for NTLM / Negotiate, which Ferry does not speak. Each
//! synchronizes both ways (upload, download, deletions) with the right
//! secret, and ends in "credentials required" with a wrong one.

#![cfg(unix)]

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/dav.rs"]
mod dav;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use daemon::{TestDaemon, write};
use dav::{DavKind, DavOptions, DavServer};
use serde_json::{Value, json};

/// An account on `url` with these credentials (`{"password": …}` or
/// `{"token": …}`), tested or not; its id.
fn account(d: &TestDaemon, url: &str, secret: Value, test: bool) -> String {
    let mut body = json!({"url": url, "user": "alice", "test": test});
    for (k, v) in secret.as_object().unwrap() {
        body[k] = v.clone();
    }
    let a = d.api_ok("POST", "/api/accounts", Some(&body));
    a["id"].as_str().unwrap().to_string()
}

/// A synchronization `docs` of the folder `local` with the account's root.
fn sync(d: &TestDaemon, id: &str) {
    fs::create_dir_all(d.path("local")).unwrap();
    d.api_ok(
        "POST",
        "/api/syncs",
        Some(&json!({"name": "docs", "local": d.path("local"),
                     "remote": {"type": "webdav", "account": id, "path": ""},
                     "poll_interval_secs": 1})),
    );
}

fn run(d: &TestDaemon) -> Value {
    d.api_ok("POST", "/api/syncs/docs/run", Some(&json!({"wait": true})))
}

/// Upload, download, and a deletion each way, with `secret`; the
/// server's 401s are counted: a challenge is answered once per connection,
/// not once per request.
fn synchronizes_both_ways(server: &DavServer, secret: Value) {
    let d = TestDaemon::started();
    server.write("from-server.txt", b"written on the server");
    // Stays on both sides: an emptied folder would stop at the guard.
    server.write("keep.txt", b"kept");
    write(&d.path("local/mine.txt"), b"written here");
    let id = account(&d, &server.url(), secret, true);
    sync(&d, &id);
    d.wait_state("docs", "synced");
    assert_eq!(
        server.read("mine.txt").as_deref(),
        Some(&b"written here"[..])
    );
    assert_eq!(
        fs::read(d.path("local/from-server.txt")).unwrap(),
        b"written on the server"
    );

    // Deleted here: deleted (to the trash) on the server; and the other way.
    fs::remove_file(d.path("local/mine.txt")).unwrap();
    run(&d);
    d.wait_until("the deletion on the server", || {
        server.read("mine.txt").is_none()
    });
    server.remove("from-server.txt");
    run(&d);
    d.wait_until("the deletion here", || {
        !d.path("local/from-server.txt").exists()
    });
    d.wait_state("docs", "synced");

    let requests = server.requests();
    let unauthorized = requests.iter().filter(|r| r.2 == 401).count();
    let authorized = requests.iter().filter(|r| r.2 != 401).count();
    assert!(authorized >= 8, "{requests:?}");
    assert!(
        unauthorized * 3 <= authorized,
        "a 401 per request: {unauthorized} of {}: {requests:?}",
        requests.len()
    );
    assert!(!d.all_logs().contains("s3cret") && !d.all_logs().contains("t0k3n-1"));
}

/// A wrong secret: the connection test says so, and a synchronization
/// with it (saved untested) waits in "credentials required".
fn a_wrong_secret_is_credentials_required(server: &DavServer, wrong: Value, says: &str) {
    let d = TestDaemon::started();
    let mut body = json!({"url": server.url(), "user": "alice"});
    for (k, v) in wrong.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, err) = d.api("POST", "/api/accounts", Some(&body));
    assert_eq!(status, 400, "{err:#}");
    assert!(err.to_string().contains(says), "{err:#}");
    let id = account(&d, &server.url(), wrong, false);
    sync(&d, &id);
    let state = d.wait_state("docs", "credentials_required");
    assert!(state["reason"].to_string().contains("401"), "{state:#}");
}

fn digest_server(kind: DavKind) -> DavServer {
    DavServer::start_with(
        kind,
        DavOptions {
            digest_auth: Some(("alice".into(), "s3cret".into())),
            ..DavOptions::default()
        },
    )
}

fn bearer_server() -> DavServer {
    DavServer::start_with(
        DavKind::Nginx,
        DavOptions {
            bearer_token: Some("t0k3n-1".into()),
            ..DavOptions::default()
        },
    )
}

#[test]
fn a_server_that_accepts_only_digest_synchronizes_both_ways_with_a_password() {
    synchronizes_both_ways(
        &digest_server(DavKind::WsgiDav),
        json!({"password": "s3cret"}),
    );
}

#[test]
fn apache_with_mod_auth_digest_synchronizes_both_ways_with_a_password() {
    synchronizes_both_ways(
        &digest_server(DavKind::Apache),
        json!({"password": "s3cret"}),
    );
}

#[test]
fn a_wrong_password_on_a_digest_only_server_is_credentials_required() {
    a_wrong_secret_is_credentials_required(
        &digest_server(DavKind::WsgiDav),
        json!({"password": "wrong"}),
        "rejected the user name or password",
    );
}

#[test]
fn a_server_that_wants_a_bearer_token_synchronizes_both_ways_with_it() {
    synchronizes_both_ways(&bearer_server(), json!({"token": "t0k3n-1"}));
}

#[test]
fn a_wrong_token_is_credentials_required() {
    a_wrong_secret_is_credentials_required(
        &bearer_server(),
        json!({"token": "t0k3n-2"}),
        "refused the token",
    );
}

#[test]
fn a_token_account_is_added_with_the_cli_from_standard_input_and_kept_in_the_keyring() {
    let server = bearer_server();
    let d = TestDaemon::started();
    let out = d.ferry_ok_with_stdin(
        &[
            "account",
            "add",
            &server.url(),
            "--user",
            "alice",
            "--token",
            "--password-stdin",
        ],
        b"t0k3n-1\n",
    );
    assert!(out.contains("token in the keyring"), "{out}");
    let accounts = d.api_ok("GET", "/api/accounts", None);
    assert_eq!(accounts[0]["secret"], "token", "{accounts:#}");
    let config = fs::read_to_string(d.config_dir().join("config.json")).unwrap();
    assert!(!config.contains("t0k3n-1"), "{config}");
    let id = accounts[0]["id"].as_str().unwrap().to_string();
    d.api_ok(
        "POST",
        &format!("/api/accounts/{id}/test"),
        Some(&json!({})),
    );
}

/// A server answering every request with 401 and only `schemes` as
/// challenges; its URL. It answers until the test process ends.
fn server_asking_for(schemes: &'static [&'static str]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut answer = String::from("HTTP/1.1 401 Unauthorized\r\n");
            for s in schemes {
                answer.push_str(&format!("WWW-Authenticate: {s}\r\n"));
            }
            answer.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    format!("http://127.0.0.1:{port}/dav/")
}

#[test]
fn a_server_that_asks_for_ntlm_or_negotiate_is_told_in_words() {
    let url = server_asking_for(&["Negotiate", "NTLM"]);
    let says = "the server asks for Negotiate or NTLM sign-in, which Ferry does not speak \
                (it speaks Basic, Digest and bearer tokens)";
    let d = TestDaemon::started();
    // The connection test, through the API and the CLI.
    let (status, err) = d.api(
        "POST",
        "/api/accounts",
        Some(&json!({"url": url, "user": "alice", "password": "pw"})),
    );
    assert_eq!(status, 400, "{err:#}");
    assert!(err.to_string().contains(says), "{err:#}");
    let out = d.ferry_with_stdin(
        &[
            "account",
            "add",
            &url,
            "--user",
            "alice",
            "--password-stdin",
        ],
        b"pw\n",
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains(says), "{text}");

    // A synchronization on it: that is its error, not a password to fix.
    let id = account(&d, &url, json!({"password": "pw"}), false);
    sync(&d, &id);
    let state = d.wait_state("docs", "error");
    assert!(state["reason"].to_string().contains(says), "{state:#}");
}
