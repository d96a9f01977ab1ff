//! Signing requests in, and what a server's `401` asks for: the one place
//! that knows HTTP authentication schemes (the remote and the connection
//! test both use it).
//!
//! * A password is sent up front as Basic (no extra round trip on the
//!   servers that take it). A `401` whose challenges offer Digest (RFC
//!   7616 / 2617: MD5, SHA-256 and their `-sess` forms, `qop=auth`,
//!   through the `http-auth` crate) switches the connection to Digest —
//!   preferred where Basic is offered too — and the request is sent again;
//!   from then on every request is signed up front with the remembered
//!   challenge and the next nonce count. A `401` with `stale=true` renews
//!   the nonce and the request goes again.
//! * A token is sent as `Authorization: Bearer <token>`.
//! * A `401` whose challenges name only schemes Ferry does not speak
//!   (NTLM, Negotiate, …) says so in words ([`Challenged::Unsupported`]),
//!   rather than asking for a password that would not help.
//!
//! A request is signed again each time its build closure runs, so a
//! request sent again after a `401` — a streamed upload included — is
//! built anew: its body is never half-consumed nor sent twice.

use http_auth::digest::{DigestClient, Qop};
use http_auth::{ChallengeRef, PasswordParams};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, WWW_AUTHENTICATE};

use super::{Credentials, SecretKind};

/// At most this many times is one request sent again because of a `401`
/// (a challenge learnt, then nonces found stale).
pub(super) const MAX_CHALLENGES: u32 = 3;

/// The schemes named when the server asks for another one.
const SPOKEN: &str = "it speaks Basic, Digest and bearer tokens";

/// How one connection signs its requests in.
pub(super) struct Auth {
    credentials: Option<Credentials>,
    /// The server's Digest challenge once one was answered, with its nonce
    /// count; `None`: Basic (a password) up front.
    digest: std::sync::Mutex<Option<DigestClient>>,
}

/// What a `401` means for the request that got it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Challenged {
    /// Send it again, built anew: the server's Digest challenge was learnt
    /// (or its nonce renewed).
    Retry,
    /// The credentials were refused (or there are none): what to tell.
    Refused(String),
    /// The server asks for a sign-in Ferry does not speak: what to tell.
    Unsupported(String),
}

impl Auth {
    pub(super) fn new(credentials: Option<Credentials>) -> Auth {
        Auth {
            credentials,
            digest: std::sync::Mutex::new(None),
        }
    }

    /// `rb` (a request of `method` to `url`) with its `Authorization`:
    /// Basic, Digest (signed with the next nonce count) or Bearer; none
    /// without credentials.
    pub(super) fn sign(
        &self,
        rb: reqwest::RequestBuilder,
        method: &reqwest::Method,
        url: &reqwest::Url,
    ) -> reqwest::RequestBuilder {
        let Some(c) = &self.credentials else {
            return rb;
        };
        if c.kind == SecretKind::Token {
            return rb.bearer_auth(&c.password);
        }
        let mut digest = self.digest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = digest.as_mut() {
            let uri = request_target(url);
            let signed = d.respond(&PasswordParams {
                username: &c.user,
                password: &c.password,
                uri: &uri,
                method: method.as_str(),
                body: None,
            });
            match signed.map(|v| HeaderValue::from_str(&v).map_err(|e| e.to_string())) {
                Ok(Ok(mut value)) => {
                    value.set_sensitive(true);
                    return rb.header(AUTHORIZATION, value);
                }
                // A nonce count used up or a user name a header cannot
                // hold: Basic, whose 401 then says what is wrong.
                Ok(Err(e)) | Err(e) => {
                    tracing::debug!(%e, "cannot sign with Digest");
                    *digest = None;
                }
            }
        }
        rb.basic_auth(&c.user, Some(&c.password))
    }

    /// What the `401` with these headers means, for a request already sent
    /// again `retried` times because of one.
    pub(super) fn challenged(&self, headers: &HeaderMap, retried: u32) -> Challenged {
        let values: Vec<&str> = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let schemes = schemes(&values);
        let has = |name: &str| schemes.iter().any(|s| s.eq_ignore_ascii_case(name));
        let spoken = has("Basic") || has("Digest") || has("Bearer");
        if !spoken && !schemes.is_empty() {
            return Challenged::Unsupported(unsupported(&schemes));
        }
        let Some(c) = &self.credentials else {
            return Challenged::Refused(
                "the server asks for credentials (401): add an account for it".into(),
            );
        };
        if c.kind == SecretKind::Token {
            return Challenged::Refused(if !has("Bearer") && (has("Basic") || has("Digest")) {
                "the server asks for a user name and password (401), not a token: add the \
                 account with its password"
                    .into()
            } else {
                "the server refused the token (401): check the account's token".into()
            });
        }
        let refused = || {
            Challenged::Refused(
                "the server asks for credentials (401): check the account's user and password"
                    .into(),
            )
        };
        if has("Digest") {
            let client = match digest_client(&values) {
                Ok(client) => client,
                Err(why) => return Challenged::Unsupported(why),
            };
            if retried >= MAX_CHALLENGES || (retried > 0 && !client.stale()) {
                return refused();
            }
            *self.digest.lock().unwrap_or_else(|e| e.into_inner()) = Some(client);
            return Challenged::Retry;
        }
        // Basic only: what was sent up front was refused — unless this
        // connection had moved to Digest, which the server no longer asks.
        let mut digest = self.digest.lock().unwrap_or_else(|e| e.into_inner());
        if has("Basic") && retried == 0 && digest.is_some() {
            *digest = None;
            return Challenged::Retry;
        }
        refused()
    }

    /// The scheme this connection signs with now (for the logs).
    pub(super) fn scheme(&self) -> &'static str {
        match &self.credentials {
            None => "none",
            Some(c) if c.kind == SecretKind::Token => "Bearer",
            Some(_) => {
                if self.digest.lock().is_ok_and(|d| d.is_some()) {
                    "Digest"
                } else {
                    "Basic"
                }
            }
        }
    }
}

/// The request target as sent on the request line (path and query): what
/// Digest signs as `uri`.
fn request_target(url: &reqwest::Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// The scheme of every challenge in these `WWW-Authenticate` values; a
/// value that does not parse still gives its first word.
fn schemes(values: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        match http_auth::parse_challenges(v) {
            Ok(challenges) => out.extend(challenges.iter().map(|c| c.scheme.to_string())),
            Err(_) => out.extend(
                v.split_whitespace()
                    .next()
                    .map(|w| w.trim_end_matches(',').to_string()),
            ),
        }
    }
    out.retain(|s| !s.is_empty());
    out.dedup();
    out
}

/// The Digest challenge among these values, as a client that can answer
/// it (`qop=auth`, or none: RFC 2069); `Err`: why it cannot.
fn digest_client(values: &[&str]) -> Result<DigestClient, String> {
    let mut why = String::from("an unreadable Digest challenge");
    for v in values {
        let Ok(challenges) = http_auth::parse_challenges(v) else {
            continue;
        };
        for c in challenges
            .iter()
            .filter(|c| c.scheme.eq_ignore_ascii_case("Digest"))
        {
            match DigestClient::try_from(c as &ChallengeRef<'_>) {
                Ok(d) if d.rfc2069_compat() || d.qop() & Qop::Auth => return Ok(d),
                Ok(_) => why = "Digest with integrity protection only (qop=auth-int)".into(),
                Err(e) => why = format!("Digest with {e}"),
            }
        }
    }
    Err(format!(
        "the server asks for {why}, which Ferry does not speak ({SPOKEN})"
    ))
}

/// "the server asks for NTLM sign-in, which Ferry does not speak (…)".
fn unsupported(schemes: &[String]) -> String {
    let names = match schemes {
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        [] => "another".into(),
    };
    format!("the server asks for {names} sign-in, which Ferry does not speak ({SPOKEN})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn password() -> Auth {
        Auth::new(Some(Credentials::password("alice", "pw")))
    }

    fn authorization(auth: &Auth) -> String {
        let client = reqwest::Client::new();
        let url = reqwest::Url::parse("http://h.example/dav/a%20b.txt?x=1").unwrap();
        let rb = auth.sign(
            client.request(reqwest::Method::PUT, url.clone()),
            &reqwest::Method::PUT,
            &url,
        );
        let req = rb.build().unwrap();
        req.headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    const DIGEST: &str = r#"Digest realm="dav", nonce="n1", algorithm=MD5, qop="auth""#;

    #[test]
    fn a_digest_challenge_is_answered_and_later_requests_are_signed_up_front_with_a_growing_nonce_count()
     {
        let auth = password();
        assert!(authorization(&auth).starts_with("Basic "));
        // Offered both, Digest is preferred.
        let h = headers(&[r#"Basic realm="dav""#, DIGEST]);
        assert_eq!(auth.challenged(&h, 0), Challenged::Retry);
        let first = authorization(&auth);
        assert!(first.starts_with("Digest "), "{first}");
        assert!(first.contains(r#"uri="/dav/a%20b.txt?x=1""#), "{first}");
        assert!(first.contains("nc=00000001"), "{first}");
        assert!(authorization(&auth).contains("nc=00000002"));
        assert_eq!(auth.scheme(), "Digest");
        // Refused again with the same (not stale) nonce: the password.
        assert!(matches!(auth.challenged(&h, 1), Challenged::Refused(_)));
    }

    #[test]
    fn a_stale_nonce_is_renewed_and_the_request_sent_again() {
        let auth = password();
        assert_eq!(auth.challenged(&headers(&[DIGEST]), 0), Challenged::Retry);
        authorization(&auth);
        let stale = r#"Digest realm="dav", nonce="n2", algorithm=SHA-256, qop="auth", stale=true"#;
        assert_eq!(auth.challenged(&headers(&[stale]), 1), Challenged::Retry);
        let signed = authorization(&auth);
        assert!(
            signed.contains(r#"nonce="n2""#) && signed.contains("nc=00000001"),
            "{signed}"
        );
        assert!(signed.contains("algorithm=SHA-256"), "{signed}");
        assert!(matches!(
            auth.challenged(&headers(&[stale]), MAX_CHALLENGES),
            Challenged::Refused(_)
        ));
    }

    #[test]
    fn schemes_ferry_does_not_speak_are_named() {
        let auth = password();
        assert_eq!(
            auth.challenged(&headers(&["NTLM"]), 0),
            Challenged::Unsupported(
                "the server asks for NTLM sign-in, which Ferry does not speak (it speaks Basic, \
                 Digest and bearer tokens)"
                    .into()
            )
        );
        let Challenged::Unsupported(m) = auth.challenged(&headers(&["Negotiate", "NTLM"]), 0)
        else {
            panic!("not unsupported")
        };
        assert!(
            m.starts_with("the server asks for Negotiate or NTLM sign-in"),
            "{m}"
        );
        let Challenged::Unsupported(m) = auth.challenged(
            &headers(&[r#"Digest realm="r", nonce="n", qop="auth-int""#]),
            0,
        ) else {
            panic!("not unsupported")
        };
        assert!(m.contains("auth-int"), "{m}");
        // A scheme Ferry speaks among them: the credentials are at fault.
        assert!(matches!(
            auth.challenged(&headers(&[r#"Negotiate, Basic realm="r""#]), 0),
            Challenged::Refused(_)
        ));
        assert!(matches!(
            auth.challenged(&HeaderMap::new(), 0),
            Challenged::Refused(_)
        ));
    }

    #[test]
    fn a_token_is_sent_as_bearer_and_a_401_asks_for_another() {
        let auth = Auth::new(Some(Credentials::token("alice", "t0k3n")));
        assert_eq!(authorization(&auth), "Bearer t0k3n");
        let Challenged::Refused(m) = auth.challenged(&headers(&[r#"Bearer realm="r""#]), 0) else {
            panic!("not refused")
        };
        assert!(m.contains("token"), "{m}");
        let Challenged::Refused(m) = auth.challenged(&headers(&[DIGEST]), 0) else {
            panic!("not refused")
        };
        assert!(m.contains("password"), "{m}");
    }
}
