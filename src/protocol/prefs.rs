//! The way into the preferences UI: `POST /api/login-code` and what it
//! answers. A client holding the API token asks for a single-use code; the
//! browser opens [`LoginCode::url`] and is given a session cookie.

use serde::{Deserialize, Serialize};

/// `POST /api/login-code`'s body: which page to open after logging in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// A page of the UI (`syncs`, `conflicts`, `accounts`, `settings`,
    /// `assistant`, …; `syncs` when absent). Letters, digits, `-` and `/`
    /// only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// `POST /api/login-code`'s answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCode {
    /// The single-use code.
    pub code: String,
    /// The URL that logs a browser in with it and opens the page asked
    /// for: `http://127.0.0.1:PORT/login?code=…[&page=…]`.
    pub url: String,
    /// How long the code can be used.
    pub expires_in_secs: u64,
}

/// Whether `page` may name a page of the UI (it ends up in a redirect:
/// nothing but letters, digits, `-` and `/`, never `//`).
pub fn valid_page(page: &str) -> bool {
    !page.is_empty()
        && page.len() <= 64
        && !page.contains("//")
        && page
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_page_names_are_valid() {
        for ok in ["syncs", "conflicts", "selective/s1", "filters/a-b"] {
            assert!(valid_page(ok), "{ok}");
        }
        for bad in [
            "",
            "//evil.example",
            "a//b",
            "x?y",
            "a b",
            "http:x",
            "%2f",
            "é",
        ] {
            assert!(!valid_page(bad), "{bad}");
        }
    }
}
