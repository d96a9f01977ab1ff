//! The connection test of an account: one `PROPFIND Depth: 0` on its URL
//! with its credentials (signed in as the remote does, `auth`: a Digest
//! challenge answered, a token sent as Bearer), each failure told in words
//! a user can act on.

use std::io;
use std::path::Path;
use std::time::Duration;

use super::auth::{Auth, Challenged};
use super::{Credentials, SecretKind};

/// Why a connection test failed. Messages never hold the password.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "the server rejected the user name or password for {user} (401 Unauthorized): check them \
         (servers with two-factor login need an app password)"
    )]
    WrongPassword { user: String },
    /// A token refused, or a server that wants a password instead: what
    /// to do.
    #[error("{0}")]
    TokenRefused(String),
    /// The server asks for a sign-in scheme Ferry does not speak (NTLM,
    /// Negotiate, …): which.
    #[error("{0}")]
    UnsupportedScheme(String),
    #[error("the server refused access to {url} for {user} (403 Forbidden)")]
    Forbidden { url: String, user: String },
    #[error("there is no folder at {url} (404 Not Found): check the URL")]
    NotFound { url: String },
    #[error("the server redirects {url} to {location}: use that URL")]
    Redirect { url: String, location: String },
    #[error("{url} is a file, not a folder: give the URL of a folder")]
    NotAFolder { url: String },
    #[error(
        "the server does not answer WebDAV requests at {url} ({status}): is this its WebDAV URL? \
         (Nextcloud/ownCloud: https://HOST/remote.php/dav/files/USER/)"
    )]
    NotWebDav { url: String, status: String },
    #[error(
        "the server is not reachable at {address}: connection refused (is it running? is the port right?)"
    )]
    Refused { address: String },
    #[error("the server is not reachable: {0}")]
    Unreachable(String),
    #[error(
        "TLS failed with {host}: {reason} (for a self-signed certificate, pass --ca-file; \
         for a plain-HTTP server, use an http:// URL)"
    )]
    Tls { host: String, reason: String },
    #[error("the server did not answer within {0} s")]
    Timeout(u64),
    #[error("{0}")]
    Other(String),
}

const CHECK_TIMEOUT_SECS: u64 = 30;

/// Test an account: `PROPFIND Depth: 0` on `url` with these credentials
/// (the remote's client set-up, sign-in and PROPFIND, no retries but the
/// ones a Digest challenge asks for, 30 s in all); `Ok` when the server
/// answers with a WebDAV folder. It runs its own short-lived tokio runtime
/// on a separate thread, so it may be called from anywhere.
pub fn check_connection(
    url: &str,
    credentials: &Credentials,
    ca_file: Option<&Path>,
) -> Result<(), CheckError> {
    let user = credentials.user.as_str();
    let parsed = reqwest::Url::parse(url).map_err(|e| CheckError::Other(format!("{url}: {e}")))?;
    let client = super::transport::client_builder(ca_file)
        .map_err(CheckError::Other)?
        .timeout(Duration::from_secs(CHECK_TIMEOUT_SECS))
        .build()
        .map_err(|e| CheckError::Other(format!("HTTP client: {e}")))?;
    let auth = Auth::new(Some(credentials.clone()));
    let method = super::transport::propfind_method();
    let request = || {
        auth.sign(
            client.request(method.clone(), parsed.clone()),
            &method,
            &parsed,
        )
        .header("Depth", "0")
        .header("Content-Type", "application/xml; charset=utf-8")
        .body(super::transport::PROPFIND_BODY)
    };

    // Our own runtime on our own thread: callable inside or outside tokio.
    let outcome = std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CheckError::Other(format!("cannot start the HTTP runtime: {e}")))?;
            rt.block_on(async {
                let mut challenged = 0;
                let resp = loop {
                    let resp = request()
                        .send()
                        .await
                        .map_err(|e| send_error(&parsed, &e))?;
                    if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
                        break resp;
                    }
                    match auth.challenged(resp.headers(), challenged) {
                        Challenged::Retry => challenged += 1,
                        Challenged::Refused(reason) if credentials.kind == SecretKind::Token => {
                            return Err(CheckError::TokenRefused(reason));
                        }
                        Challenged::Refused(_) => break resp,
                        Challenged::Unsupported(m) => {
                            return Err(CheckError::UnsupportedScheme(m));
                        }
                    }
                };
                let status = resp.status();
                let location = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let body = if status.as_u16() == 207 {
                    resp.bytes()
                        .await
                        .map_err(|e| send_error(&parsed, &e))?
                        .to_vec()
                } else {
                    Vec::new()
                };
                Ok::<_, CheckError>((status, location, body))
            })
        })
        .join()
        .map_err(|_| CheckError::Other("the connection test crashed".into()))?
    });
    let (status, location, body) = outcome?;
    let url = url.to_string();
    match status.as_u16() {
        207 => {
            let items = crate::remote::webdav::xml::parse_multistatus(&body).map_err(|_| {
                CheckError::NotWebDav {
                    url: url.clone(),
                    status: "207 with a body that is not a WebDAV multistatus".into(),
                }
            })?;
            match items.first() {
                Some(item) if !item.is_collection => Err(CheckError::NotAFolder { url }),
                _ => Ok(()),
            }
        }
        401 => Err(CheckError::WrongPassword {
            user: user.to_string(),
        }),
        403 => Err(CheckError::Forbidden {
            url,
            user: user.to_string(),
        }),
        404 => Err(CheckError::NotFound { url }),
        301 | 302 | 303 | 307 | 308 => Err(CheckError::Redirect {
            url,
            location: location.unwrap_or_else(|| "another address".into()),
        }),
        200 | 400 | 405 | 501 => Err(CheckError::NotWebDav {
            url,
            status: status.to_string(),
        }),
        _ => Err(CheckError::Other(format!(
            "the server answered {status} to a WebDAV PROPFIND on {url}"
        ))),
    }
}

fn send_error(url: &reqwest::Url, e: &reqwest::Error) -> CheckError {
    let host = url.host_str().unwrap_or("").to_string();
    let address = format!("{host}:{}", url.port_or_known_default().unwrap_or(0));
    if e.is_timeout() {
        return CheckError::Timeout(CHECK_TIMEOUT_SECS);
    }
    let mut chain: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::ConnectionRefused {
                return CheckError::Refused { address };
            }
            // An io::Error's source() skips the error it wraps: look inside.
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return CheckError::Tls {
                    host,
                    reason: tls.to_string(),
                };
            }
        }
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return CheckError::Tls {
                host,
                reason: tls.to_string(),
            };
        }
        chain.push(s.to_string());
        source = s.source();
    }
    let text = chain.join(": ");
    if text.contains("Connection refused") {
        return CheckError::Refused { address };
    }
    let lower = text.to_ascii_lowercase();
    if url.scheme() == "https" && (lower.contains("tls") || lower.contains("certificate")) {
        return CheckError::Tls { host, reason: text };
    }
    if e.is_connect() {
        return CheckError::Unreachable(format!("{address}: {text}"));
    }
    CheckError::Other(format!("{address}: {text}"))
}
