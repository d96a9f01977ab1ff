//! The API endpoint file, `api.port` in the data folder (as the WorkDocs
//! client keeps its port in `sync-service.port`); this module owns its
//! format, its permissions and its life: the port, a fresh 256-bit token and
//! the daemon's pid as JSON, readable by the user only (created 0600, never
//! wider even for a moment; the data folder is created 0700 when missing),
//! replaced atomically (temp file, fsync, rename, fsync of the folder), and
//! removed at shutdown only by the daemon that wrote it.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's name in the data folder.
pub const PORT_FILE: &str = "api.port";

/// Where the daemon listens and the token it wants.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub port: u16,
    pub token: String,
    pub pid: u32,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("port", &self.port)
            .field("token", &"<redacted>")
            .field("pid", &self.pid)
            .finish()
    }
}

/// A new token: 256 bits from rand's thread-local CSPRNG (ChaCha, seeded
/// and periodically reseeded from the OS), as 64 lowercase hex characters.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The path of the endpoint file.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(PORT_FILE)
}

/// Write the endpoint file atomically and return its path: a new temp file
/// created with mode 0600 (on unix; `create_new`, so never an existing file
/// with other permissions), written, fsynced, renamed over `api.port`, then
/// the folder fsynced. `data_dir` is created (0700) when missing; an
/// existing folder keeps its permissions.
pub fn write(data_dir: &Path, e: &Endpoint) -> io::Result<PathBuf> {
    crate::fsops::private::create_dir(data_dir)?;
    let target = path(data_dir);
    crate::fsops::private::write(&target, &serde_json::to_vec(e).map_err(io::Error::other)?)?;
    Ok(target)
}

/// Why the endpoint file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no API endpoint in {0}")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not a valid endpoint file: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// Read the endpoint file.
pub fn read(data_dir: &Path) -> Result<Endpoint, ReadError> {
    let p = path(data_dir);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadError::Missing(p)),
        Err(source) => return Err(ReadError::Io { path: p, source }),
    };
    serde_json::from_slice(&bytes).map_err(|e| ReadError::Invalid {
        path: p,
        reason: e.to_string(),
    })
}

/// Remove the endpoint file if it still names process `pid` (a newer
/// daemon's file is left alone). Errors are ignored: this runs at shutdown.
pub fn remove(data_dir: &Path, pid: u32) {
    if read(data_dir).is_ok_and(|e| e.pid == pid) {
        let _ = std::fs::remove_file(path(data_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(pid: u32) -> Endpoint {
        Endpoint {
            port: 4242,
            token: new_token(),
            pid,
        }
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn tokens_are_256_bit_hex_and_differ() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_ne!(a, b);
    }

    #[test]
    fn the_file_is_private_round_trips_and_is_removed_only_by_its_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data").join("ferry");
        let e = endpoint(7);
        let p = write(&dir, &e).unwrap();
        assert_eq!(p, dir.join("api.port"));
        #[cfg(unix)]
        {
            assert_eq!(mode(&p), 0o600, "the port file");
            assert_eq!(mode(&dir), 0o700, "the data folder");
        }
        assert_eq!(read(&dir).unwrap(), e);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["port"], 4242);
        assert_eq!(v["pid"], 7);
        assert_eq!(v["token"], e.token.as_str());
        assert!(!format!("{e:?}").contains(&e.token));
        // Replaced in place of the old one, still 0600, no temp left.
        let e2 = endpoint(7);
        write(&dir, &e2).unwrap();
        assert_eq!(read(&dir).unwrap(), e2);
        #[cfg(unix)]
        assert_eq!(mode(&p), 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|d| d.unwrap().file_name())
            .collect();
        assert_eq!(names, ["api.port"]);
        // Only the daemon that wrote it removes it.
        remove(&dir, 8);
        assert!(p.exists(), "another pid must not remove it");
        remove(&dir, 7);
        assert!(matches!(read(&dir), Err(ReadError::Missing(_))));
        remove(&dir, 7);
        std::fs::write(path(&dir), b"{nope").unwrap();
        assert!(matches!(read(&dir), Err(ReadError::Invalid { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_folder_and_an_old_file_do_not_widen_anything() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        // A world-readable file where the new one goes.
        std::fs::write(path(dir), b"old").unwrap();
        std::fs::set_permissions(path(dir), std::fs::Permissions::from_mode(0o644)).unwrap();
        write(dir, &endpoint(1)).unwrap();
        assert_eq!(mode(&path(dir)), 0o600);
        assert_eq!(mode(dir), 0o750, "an existing folder is left as it is");
    }
}
