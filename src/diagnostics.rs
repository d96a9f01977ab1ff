//! `ferry diagnostics`: a zip for a bug report, secrets removed. It holds
//! a README (version, OS, time), the configuration (re-serialised, user
//! names and URL passwords masked; a corrupt file is described, not
//! copied), the tail of each log file passed through
//! [`crate::logging::redact`], and statistics of each journal, opened
//! read-only (row counts, sizes, schema version; never file names or
//! contents).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

use crate::logging::redact;

/// What a bundle holds.
#[derive(Debug)]
pub struct BundleSummary {
    pub path: PathBuf,
    pub files: Vec<String>,
    pub bytes: u64,
}

/// The most of each log file included (its end).
const LOG_TAIL: u64 = 5 * 1024 * 1024;

/// Write the bundle to `out` (via a temp file, mode 0600).
pub fn write_bundle(
    config_dir: &Path,
    data_dir: &Path,
    out: &Path,
) -> anyhow::Result<BundleSummary> {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    entries.push((
        "README.txt".into(),
        format!(
            "Ferry diagnostics bundle\n\nFerry {}\nOS: {} {}\nWritten: {}\n\n\
             config.json: the configuration, user names masked (it never holds passwords)\n\
             logs/: the end of each log file, secrets masked\n\
             journals.json: statistics of each synchronization's journal (no file names)\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            jiff::Timestamp::now()
        )
        .into_bytes(),
    ));
    entries.push(("config.json".into(), config_entry(config_dir)));
    let logs = data_dir.join("logs");
    if let Ok(rd) = std::fs::read_dir(&logs) {
        let mut names: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for p in names {
            let text = tail(&p, LOG_TAIL).with_context(|| format!("reading {}", p.display()))?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            entries.push((format!("logs/{name}"), redact(&text).into_bytes()));
        }
    }
    entries.push((
        "journals.json".into(),
        serde_json::to_vec_pretty(&journals(&data_dir.join("syncs")))?,
    ));

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    for (name, bytes) in &entries {
        zip.start_file(name.as_str(), options)?;
        zip.write_all(bytes)?;
    }
    let bytes = zip.finish()?.into_inner();
    crate::fsops::private::write(out, &bytes)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(BundleSummary {
        path: out.to_path_buf(),
        files: entries.into_iter().map(|(n, _)| n).collect(),
        bytes: std::fs::metadata(out)?.len(),
    })
}

fn config_entry(config_dir: &Path) -> Vec<u8> {
    let path = crate::config::config_path(config_dir);
    let text = match std::fs::read(&path) {
        Err(e) => return format!("(no configuration: {e})\n").into_bytes(),
        Ok(b) => b,
    };
    match serde_json::from_slice::<Value>(&text) {
        Ok(mut v) => {
            if let Some(accounts) = v["accounts"].as_array_mut() {
                for a in accounts {
                    if a.get("user").is_some() {
                        a["user"] = json!("***");
                    }
                }
            }
            let s = serde_json::to_string_pretty(&v).unwrap_or_default();
            redact(&s).into_bytes()
        }
        Err(e) => format!("(the configuration file is not valid JSON: {e})\n").into_bytes(),
    }
}

fn tail(path: &Path, max: u64) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > max {
        f.seek(SeekFrom::Start(len - max))?;
    }
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn journals(dir: &Path) -> Value {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return json!([]);
    };
    let mut paths: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "db"))
        .collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        out.push(match journal_stats(&p) {
            Ok(mut v) => {
                v["file"] = json!(name);
                v["bytes"] = json!(size);
                if let Some(rows) = v["base"].as_u64().filter(|&n| n > 0) {
                    v["bytes_per_base_row"] = json!(size / rows);
                }
                v
            }
            // SQLite's words only: the error's path would name the folder.
            Err(e) => json!({"file": name, "bytes": size, "error": e.source.to_string()}),
        });
    }
    Value::Array(out)
}

/// A journal's statistics as JSON (read by [`crate::journal::Journal`]).
fn journal_stats(path: &Path) -> Result<Value, crate::journal::JournalError> {
    let stats = crate::journal::Journal::read_stats(path)?;
    let mut v = json!({"user_version": stats.user_version});
    for (table, n) in stats.rows {
        v[table] = json!(n);
    }
    v["meta"] = Value::Array(
        stats
            .meta
            .into_iter()
            .map(|(key, length)| json!({"key": key, "length": length}))
            .collect(),
    );
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_zip(path: &Path) -> Vec<(String, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        (0..z.len())
            .map(|i| {
                let mut f = z.by_index(i).unwrap();
                let mut b = Vec::new();
                f.read_to_end(&mut b).unwrap();
                (f.name().to_string(), b)
            })
            .collect()
    }

    #[test]
    fn a_bundle_holds_what_it_says_and_no_secret() {
        let tmp = tempfile::tempdir().unwrap();
        let (config, data) = (tmp.path().join("config"), tmp.path().join("data"));
        let mut c = crate::config::Config::default();
        c.add_account("https://dav.example/alice/", "alice-the-user")
            .unwrap();
        c.save(&config).unwrap();
        std::fs::create_dir_all(data.join("logs")).unwrap();
        let token = "cd".repeat(32);
        std::fs::write(
            data.join("logs/ferry.2026-11-23.log"),
            format!("INFO sent Authorization: Bearer {token}\nINFO https://alice:hunter2@dav.example/\nINFO pass done\n"),
        )
        .unwrap();
        std::fs::create_dir_all(data.join("syncs")).unwrap();
        let jpath = data.join("syncs/x.db");
        drop(crate::journal::Journal::open(&jpath).unwrap());
        let before = std::fs::read(&jpath).unwrap();
        let out = tmp.path().join("bundle.zip");
        let s = write_bundle(&config, &data, &out).unwrap();
        assert!(s.bytes > 0);
        let entries = read_zip(&out);
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "README.txt",
                "config.json",
                "logs/ferry.2026-11-23.log",
                "journals.json"
            ]
        );
        for (name, bytes) in &entries {
            let text = String::from_utf8_lossy(bytes);
            for secret in [token.as_str(), "hunter2", "alice-the-user"] {
                assert!(!text.contains(secret), "{name} holds {secret}");
            }
        }
        let log = String::from_utf8_lossy(&entries[2].1);
        assert!(log.contains("pass done"));
        let j: Value = serde_json::from_slice(&entries[3].1).unwrap();
        assert_eq!(j[0]["file"], "x.db");
        assert_eq!(j[0]["base"], 0);
        assert!(j[0]["user_version"].as_i64().unwrap() >= 1);
        assert_eq!(
            std::fs::read(&jpath).unwrap(),
            before,
            "the journal changed"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_corrupt_configuration_is_described_not_copied() {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config.json"),
            b"{\"accounts\": [password=hunter2",
        )
        .unwrap();
        let out = tmp.path().join("b.zip");
        write_bundle(&config, &tmp.path().join("data"), &out).unwrap();
        let entries = read_zip(&out);
        let text = String::from_utf8_lossy(&entries[1].1);
        assert!(
            text.contains("not valid JSON") && !text.contains("hunter2"),
            "{text}"
        );
    }
}
