//! The API endpoint file, `api.port` in the data folder (as the WorkDocs
//! client keeps its port in `sync-service.port`): the port and a fresh
//! 256-bit token, readable by the user only (created 0600, never wider,
//! in a 0700 folder), replaced atomically, removed at shutdown.

use std::io::{self, Write};
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

/// A new token: 256 bits from the OS-seeded CSPRNG, as 64 hex characters.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// The path of the endpoint file.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(PORT_FILE)
}

/// Write the endpoint file atomically: a 0600 temp file, fsync, rename.
pub fn write(data_dir: &Path, e: &Endpoint) -> io::Result<PathBuf> {
    create_private_dir(data_dir)?;
    let target = path(data_dir);
    let temp = data_dir.join(format!(".{PORT_FILE}.{}.tmp", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&temp)?;
        f.write_all(&serde_json::to_vec(e).map_err(io::Error::other)?)?;
        f.sync_all()?;
        std::fs::rename(&temp, &target)?;
        if let Ok(dir) = std::fs::File::open(data_dir) {
            let _ = dir.sync_all();
        }
        Ok(target.clone())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
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

/// Remove the endpoint file if it still names process `pid`.
pub fn remove(data_dir: &Path, pid: u32) {
    if read(data_dir).is_ok_and(|e| e.pid == pid) {
        let _ = std::fs::remove_file(path(data_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_hex_and_differ() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_file_is_private_round_trips_and_is_removed_only_by_its_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let e = Endpoint {
            port: 4242,
            token: new_token(),
            pid: 7,
        };
        let p = write(&dir, &e).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert_eq!(read(&dir).unwrap(), e);
        assert!(!format!("{e:?}").contains(&e.token));
        remove(&dir, 8);
        assert!(p.exists(), "another pid must not remove it");
        remove(&dir, 7);
        assert!(matches!(read(&dir), Err(ReadError::Missing(_))));
        std::fs::write(path(&dir), b"{nope").unwrap();
        assert!(matches!(read(&dir), Err(ReadError::Invalid { .. })));
    }
}
