//! Logging: tracing to stderr (level from `FERRY_LOG`, else a default) and,
//! for the daemon, to a daily-rotated file `ferry.log` in the data folder's
//! `logs/` (a week kept). Secrets are never passed to tracing in the first
//! place; [`redact`] is the second line of defence, used on anything that
//! leaves the machine (the diagnostics bundle).

use std::path::PathBuf;
use std::sync::OnceLock;

use regex::Regex;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How to log.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// Where the rotating log files go (none: no files).
    pub file_dir: Option<PathBuf>,
    /// Also to stderr.
    pub stderr: bool,
    /// The filter when `FERRY_LOG` is not set (`warn`, `info`, `ferry=debug`…).
    pub default_filter: &'static str,
}

/// Keeps the file writer flushing; drop it last.
#[derive(Debug)]
pub struct LogGuard {
    _file: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Log files kept (one a day).
pub const KEEP_FILES: usize = 7;

/// Start logging. A second call (a subscriber is already set) changes
/// nothing and returns a guard that holds nothing.
pub fn init(opts: &LogOptions) -> anyhow::Result<LogGuard> {
    let filter = || {
        EnvFilter::try_from_env("FERRY_LOG").unwrap_or_else(|_| EnvFilter::new(opts.default_filter))
    };
    let stderr = opts.stderr.then(|| {
        use std::io::IsTerminal as _;
        // Colours only for a person at a terminal, not in a file or pipe.
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .with_filter_compat(filter())
    });
    let mut guard = None;
    let file = match &opts.file_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("ferry")
                .filename_suffix("log")
                .max_log_files(KEEP_FILES)
                .build(dir)?;
            let (writer, g) = tracing_appender::non_blocking(appender);
            guard = Some(g);
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(writer)
                    .with_filter_compat(filter()),
            )
        }
        None => None,
    };
    match tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init()
    {
        Ok(()) => Ok(LogGuard { _file: guard }),
        Err(_) => Ok(LogGuard { _file: None }),
    }
}

/// `Layer::with_filter` under a name that reads well above.
trait WithFilterCompat<S>: tracing_subscriber::Layer<S> + Sized
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn with_filter_compat(
        self,
        f: EnvFilter,
    ) -> tracing_subscriber::filter::Filtered<Self, EnvFilter, S> {
        tracing_subscriber::Layer::with_filter(self, f)
    }
}

impl<S, L> WithFilterCompat<S> for L
where
    L: tracing_subscriber::Layer<S>,
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
}

fn patterns() -> &'static [(Regex, &'static str)] {
    static P: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    P.get_or_init(|| {
        [
            // Authorization headers, whatever the scheme.
            (r"(?i)(authorization\s*[:=]\s*)[^\r\n]+", "${1}***"),
            (r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+", "${1} ***"),
            // password=… token=… secret=… in queries, forms, JSON.
            (
                r#"(?i)("?(?:password|passwd|token|secret)"?\s*[:=]\s*"?)[^"&\s,}]+"#,
                "${1}***",
            ),
            // Passwords in URLs.
            (
                r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@/\s]+@",
                "${1}***@",
            ),
            // 64-hex-character tokens (Ferry's API token).
            (r"\b[0-9a-fA-F]{64}\b", "***"),
        ]
        .into_iter()
        .filter_map(|(re, with)| Regex::new(re).ok().map(|r| (r, with)))
        .collect()
    })
}

/// Mask what looks like a secret in `text`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    for (re, with) in patterns() {
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        let token = "ab".repeat(32);
        let cases = [
            ("Authorization: Basic YWxpY2U6cHc=", "YWxpY2U6cHc="),
            ("sent Bearer abc.def-123 to it", "abc.def-123"),
            ("GET /x?password=hunter2&x=1", "hunter2"),
            (r#"{"user":"a","password":"hunter2"}"#, "hunter2"),
            ("token=s3cr3t", "s3cr3t"),
            ("https://alice:hunter2@dav.example/x", "hunter2"),
            (token.as_str(), token.as_str()),
        ];
        for (text, secret) in cases {
            let r = redact(text);
            assert!(!r.contains(secret), "{text} -> {r}");
        }
        assert!(redact("https://alice:hunter2@dav.example/x").contains("alice"));
        let plain = "uploaded docs/report 2026.pdf (12 KiB) to https://dav.example/alice/";
        assert_eq!(redact(plain), plain);
    }

    #[test]
    fn init_twice_does_not_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = LogOptions {
            file_dir: Some(tmp.path().join("logs")),
            stderr: false,
            default_filter: "info",
        };
        let _a = init(&opts).unwrap();
        let _b = init(&opts).unwrap();
    }
}
