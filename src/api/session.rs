//! Browser sessions of the preferences UI: this module owns the single-use
//! login codes and the session tokens they are exchanged for.
//!
//! A client that holds the API token (the tray, `ferry prefs`, the desktop
//! launcher through `ferry prefs`) asks for a code ([`Sessions::new_code`]);
//! the browser opens `/login?code=…` once, within [`CODE_LIFETIME`], and gets
//! a session cookie ([`COOKIE`]) in exchange ([`Sessions::redeem`]). A code
//! works once; an unknown, used or expired code is refused. Sessions live
//! in memory for [`SESSION_LIFETIME`] at most: a restarted daemon forgets
//! them (the user opens the preferences again from the tray). Tokens are
//! compared in constant time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "ferry_session";
/// How long a login code can be used.
pub const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// At most this many codes wait at once (older ones are dropped).
const MAX_CODES: usize = 16;
/// At most this many sessions at once (the oldest is dropped).
const MAX_SESSIONS: usize = 64;

/// Login codes waiting to be used, and open sessions.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    codes: Vec<(String, Instant)>,
    sessions: Vec<(String, Instant)>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(<redacted>)")
    }
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves nothing half-done (each
        // change is one Vec operation): the data is still good.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new single-use login code.
    pub fn new_code(&self) -> String {
        self.new_code_at(Instant::now())
    }

    fn new_code_at(&self, now: Instant) -> String {
        let code = random_token();
        let mut inner = self.lock();
        inner
            .codes
            .retain(|(_, made)| now.saturating_duration_since(*made) < CODE_LIFETIME);
        if inner.codes.len() >= MAX_CODES {
            inner.codes.remove(0);
        }
        inner.codes.push((code.clone(), now));
        code
    }

    /// Exchange a code for a new session token: `None` when the code is
    /// unknown, used already or expired. The code is spent either way.
    pub fn redeem(&self, code: &str) -> Option<String> {
        self.redeem_at(code, Instant::now())
    }

    fn redeem_at(&self, code: &str, now: Instant) -> Option<String> {
        let mut inner = self.lock();
        let at = inner.codes.iter().position(|(c, _)| same(c, code))?;
        let (_, made) = inner.codes.remove(at);
        if now.saturating_duration_since(made) >= CODE_LIFETIME {
            return None;
        }
        inner
            .sessions
            .retain(|(_, made)| now.saturating_duration_since(*made) < SESSION_LIFETIME);
        if inner.sessions.len() >= MAX_SESSIONS {
            inner.sessions.remove(0);
        }
        let token = random_token();
        inner.sessions.push((token.clone(), now));
        Some(token)
    }

    /// Whether `token` is an open session.
    pub fn is_open(&self, token: &str) -> bool {
        self.is_open_at(token, Instant::now())
    }

    fn is_open_at(&self, token: &str, now: Instant) -> bool {
        // Check every entry so the time taken does not say which matched.
        self.lock()
            .sessions
            .iter()
            .map(|(t, made)| {
                same(t, token) && now.saturating_duration_since(*made) < SESSION_LIFETIME
            })
            .fold(false, |any, this| any | this)
    }

    /// The `Set-Cookie` value for a session token.
    pub fn cookie(token: &str) -> String {
        format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
    }
}

/// The session token of a `Cookie` header's value, if it has ours.
pub fn from_cookie_header(value: &str) -> Option<&str> {
    value.split(';').find_map(|pair| {
        let (name, token) = pair.trim().split_once('=')?;
        (name == COOKIE).then_some(token.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_opens_one_session_and_only_once() {
        let s = Sessions::default();
        let code = s.new_code();
        let token = s.redeem(&code).unwrap();
        assert!(s.is_open(&token));
        assert_eq!(s.redeem(&code), None, "a used code is refused");
        assert!(!s.is_open(&code), "a code is not a session");
    }

    #[test]
    fn an_expired_code_is_refused_and_spent() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let code = s.new_code_at(t0);
        assert_eq!(s.redeem_at(&code, t0 + CODE_LIFETIME), None);
        assert_eq!(s.redeem_at(&code, t0), None, "spent by the failed attempt");
    }

    #[test]
    fn unknown_codes_and_tokens_are_refused() {
        let s = Sessions::default();
        let _ = s.new_code();
        assert_eq!(s.redeem("0000"), None);
        assert_eq!(s.redeem(""), None);
        assert!(!s.is_open(""));
        assert!(!s.is_open("abc"));
    }

    #[test]
    fn a_session_ends_after_its_lifetime() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let code = s.new_code_at(t0);
        let token = s.redeem_at(&code, t0).unwrap();
        assert!(s.is_open_at(&token, t0 + SESSION_LIFETIME - Duration::from_secs(1)));
        assert!(!s.is_open_at(&token, t0 + SESSION_LIFETIME));
    }

    #[test]
    fn codes_and_sessions_are_bounded() {
        let s = Sessions::default();
        let first = s.new_code();
        for _ in 0..MAX_CODES {
            s.new_code();
        }
        assert_eq!(s.redeem(&first), None, "the oldest code was dropped");
        let mut tokens = Vec::new();
        for _ in 0..=MAX_SESSIONS {
            let code = s.new_code();
            tokens.push(s.redeem(&code).unwrap());
        }
        assert!(!s.is_open(&tokens[0]), "the oldest session was dropped");
        assert!(s.is_open(&tokens[MAX_SESSIONS]));
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let c = Sessions::cookie("abc");
        assert_eq!(c, "ferry_session=abc; HttpOnly; SameSite=Strict; Path=/");
        assert_eq!(
            from_cookie_header("a=1; ferry_session=abc; b=2"),
            Some("abc")
        );
        assert_eq!(from_cookie_header("ferry_sessionx=abc"), None);
        assert_eq!(from_cookie_header(""), None);
    }
}
