//! Files only the user may read (the configuration, the API port file and
//! its token, the diagnostics bundle): the one way Ferry makes a private
//! folder and writes a private file.
//!
//! * [`create_dir`]: a missing folder (and its missing parents) is created
//!   with mode 0700; an existing folder keeps its permissions.
//! * [`restrict_file`], [`precreate_file`]: files another library writes
//!   (SQLite's journal files, the daily log files) made or kept 0600.
//! * [`write`]: a new temp file in the target's folder, created with mode
//!   0600 and `create_new` (never an existing file with other
//!   permissions), written, fsynced, closed, renamed over the target, then
//!   the folder fsynced. On failure the temp is removed and the target is
//!   as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Create `dir` and its missing parents, readable by the user only (0700
/// on unix). An existing folder is left as it is.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Replace `path` with `bytes` atomically, the new file readable by the
/// user only (0600 on unix): see the module documentation.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let (tmp, mut file) = create_temp(dir, path)?;
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        // Closed before the rename (Windows cannot rename an open file).
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Make an existing file readable by the user only (0600 on unix); a
/// missing file is not an error. For files another library creates (the
/// journal's SQLite files).
pub fn restrict_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        match fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o777 != 0o600 => {
                fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Create `path` if it is missing, empty and readable by the user only
/// (0600 on unix), so that a library appending to it keeps those
/// permissions; an existing file is left as it is.
pub fn precreate_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Make a rename or removal in `dir` durable. A folder that cannot be
/// opened for this (some platforms) is not an error.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(_) => Ok(()),
    }
}

/// A new temp file (0600) in `dir` for writing `target`:
/// `.<name>.<pid>-<random>.tmp`.
fn create_temp(dir: &Path, target: &Path) -> io::Result<(PathBuf, File)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut attempt = 0;
    loop {
        let tmp = dir.join(format!(
            ".{name}.{}-{:016x}.tmp",
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_private_file_is_0600_in_a_0700_folder_and_replaces_the_old_one_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        let f = dir.join("secret.json");
        fs::write(&f, b"old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        write(&f, b"new").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"new");
        assert_eq!(mode(&f), 0o600);
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("secret.json")],
            "no temp left"
        );
    }

    #[test]
    fn an_existing_folder_keeps_its_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o750)).unwrap();
        create_dir(tmp.path()).unwrap();
        assert_eq!(mode(tmp.path()), 0o750);
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_no_temp() {
        let tmp = tempfile::tempdir().unwrap();
        // The target is a folder: the rename fails.
        let target = tmp.path().join("t");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"x").unwrap();
        assert!(write(&target, b"new").is_err());
        assert!(target.join("x").exists());
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1, "no temp left");
    }
}
