//! Logging: tracing to stderr (level from `FERRY_LOG`, else a default) and,
//! for the daemon, to a daily-rotated file `ferry.log` in the data folder's
//! `logs/` (a week kept; the files 0600 in a 0700 folder). Secrets are never passed to tracing in the first
//! place; [`redact`] is the second line of defence, used on anything that
//! leaves the machine (the diagnostics bundle).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

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
            let (writer, g) = file_writer(dir)?;
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

/// The daily log files' names: `ferry.YYYY-MM-DD.log` (UTC), as
/// tracing-appender names them with this prefix and suffix.
const FILE_PREFIX: &str = "ferry";
const FILE_SUFFIX: &str = "log";

/// The log folder's writer: tracing-appender's daily files behind its
/// non-blocking queue, each day's file made beforehand, empty and readable
/// by the user only (0600), so that the appender (which would create it
/// readable by everyone) opens it as it is. The folder is made 0700.
pub struct PrivateDaily {
    inner: tracing_appender::non_blocking::NonBlocking,
    dir: PathBuf,
    /// The UTC day (days since the epoch) whose files exist.
    day: AtomicI64,
}

fn utc_day() -> i64 {
    jiff::Timestamp::now().as_second().div_euclid(86_400)
}

/// Make the files of `day` and the day after (an event queued just before
/// midnight is written after it), 0600.
fn precreate_days(dir: &std::path::Path, day: i64) {
    for d in [day, day + 1] {
        let Ok(t) = jiff::Timestamp::from_second(d * 86_400) else {
            continue;
        };
        let date = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        let file = dir.join(format!("{FILE_PREFIX}.{date}.{FILE_SUFFIX}"));
        if let Err(e) = crate::fsops::private::precreate_file(&file) {
            eprintln!("ferry: cannot create the log file {}: {e}", file.display());
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for PrivateDaily {
    type Writer = tracing_appender::non_blocking::NonBlocking;

    fn make_writer(&'a self) -> Self::Writer {
        let today = utc_day();
        if self.day.swap(today, Ordering::Relaxed) != today {
            precreate_days(&self.dir, today);
        }
        self.inner.clone()
    }
}

/// The writer of the daily log files in `dir` (created 0700 if missing;
/// log files already there made 0600) and the guard that flushes it.
pub fn file_writer(
    dir: &std::path::Path,
) -> anyhow::Result<(PrivateDaily, tracing_appender::non_blocking::WorkerGuard)> {
    crate::fsops::private::create_dir(dir)?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&format!("{FILE_PREFIX}."))
            && name.ends_with(&format!(".{FILE_SUFFIX}"))
        {
            crate::fsops::private::restrict_file(&entry.path())?;
        }
    }
    let today = utc_day();
    precreate_days(dir, today);
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .filename_suffix(FILE_SUFFIX)
        .max_log_files(KEEP_FILES)
        .build(dir)?;
    let (inner, guard) = tracing_appender::non_blocking(appender);
    Ok((
        PrivateDaily {
            inner,
            dir: dir.to_path_buf(),
            day: AtomicI64::new(today),
        },
        guard,
    ))
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
            // A Digest answer or challenge: its parameters (the response
            // hash, the nonces, the user name), whatever header holds it.
            (
                r#"(?i)\b(digest)\s+[a-z0-9_-]+\s*=\s*(?:"[^"]*"|[^\s,]+)(?:\s*,\s*[a-z0-9_-]+\s*=\s*(?:"[^"]*"|[^\s,]+))*"#,
                "${1} ***",
            ),
            (
                r#"(?i)\b((?:response|cnonce|nonce)\s*=\s*"?)[^",\s]+"#,
                "${1}***",
            ),
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
            (
                r#"authorization: Digest username="alice", realm="dav", nonce="bm9uY2U=", uri="/dav/a.txt", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b""#,
                "6629fae49393a05397450978507c4ef1",
            ),
            (
                r#"header Digest username="alice", response="6629fae49393a05397450978507c4ef1", nc=00000002"#,
                "6629fae49393a05397450978507c4ef1",
            ),
            (r#"nonce="bm9uY2U=" cnonce="0a4f113b""#, "0a4f113b"),
            (
                r#"{"url":"https://h/dav/","user":"a","token":"t0k3n-1"}"#,
                "t0k3n-1",
            ),
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

#[cfg(all(test, unix))]
mod private_tests {
    use super::*;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    use tracing_subscriber::fmt::MakeWriter as _;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_daily_log_files_are_readable_by_the_user_only_in_a_private_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data/logs");
        let (writer, guard) = file_writer(&dir).unwrap();
        writer
            .make_writer()
            .write_all(b"a line naming a private file\n")
            .unwrap();
        drop(guard);
        assert_eq!(mode(&dir), 0o700);
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert!(!files.is_empty());
        let mut written = String::new();
        for f in &files {
            assert_eq!(mode(&f.path()), 0o600, "{}", f.path().display());
            written.push_str(&std::fs::read_to_string(f.path()).unwrap());
        }
        assert!(
            written.contains("a line naming a private file"),
            "{written}"
        );
    }

    #[test]
    fn an_older_log_file_readable_by_others_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let old = tmp.path().join("ferry.2020-01-01.log");
        std::fs::write(&old, b"old\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_writer, _guard) = file_writer(tmp.path()).unwrap();
        assert_eq!(mode(&old), 0o600);
    }
}
