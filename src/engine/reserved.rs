//! Ferry's reserved names: every `.ferry-*` name Ferry makes, in a
//! synchronized folder or on a server, is made and recognised here and
//! nowhere else.
//!
//! | name | what | made by |
//! |---|---|---|
//! | `.ferry-trash` | the trash at a folder's or a server folder's root | `fsops`, `remote::webdav` |
//! | `.ferry-<pid>-<n>.part` | a local temp of process `pid` | `fsops::Folder::temp_for` |
//! | `.ferry-dl-<16 hex>.part` | a resumable download temp, named after the version | `fsops::Folder::resumable_temp` |
//! | `.ferry-up-<16 hex>.part` | an upload temp on the server, named after the version | `remote::webdav` |
//! | `.ferry-probe-<16 hex>` | the write probe's folder on the server | `remote::webdav` |
//!
//! All of them are dot-names, so the built-in filter excludes them too; the
//! scanner, the listings and the watcher skip them by [`is_reserved`]
//! before any filter is asked. Pure: no I/O.

/// What every reserved name starts with.
pub const PREFIX: &str = ".ferry-";
/// The trash folder at the root of a local folder (where the OS has no
/// trash), of a folder remote, and of a WebDAV sync folder.
pub const TRASH: &str = ".ferry-trash";
/// The last part of every temp file's name.
const PART: &str = ".part";
const DOWNLOAD: &str = ".ferry-dl-";
const UPLOAD: &str = ".ferry-up-";
const PROBE: &str = ".ferry-probe-";

/// Whether `name` (one segment) is one of Ferry's: never synchronized.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// Whether any segment of the relative path `rel` is one of Ferry's.
pub fn within_reserved(rel: &str) -> bool {
    rel.split('/').any(is_reserved)
}

/// The temp file name of write `n` of process `pid`: `.ferry-<pid>-<n>.part`.
pub fn local_temp(pid: u32, n: u64) -> String {
    format!("{PREFIX}{pid}-{n}{PART}")
}

/// The process whose [`local_temp`] `name` is, if it is one.
pub fn local_temp_pid(name: &str) -> Option<u32> {
    if !name.ends_with(PART) {
        return None;
    }
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.split('-').next())
        .and_then(|pid| pid.parse::<u32>().ok())
}

/// The resumable download temp of a version with digest `id`:
/// `.ferry-dl-<16 hex>.part`.
pub fn download_temp(id: u64) -> String {
    format!("{DOWNLOAD}{id:016x}{PART}")
}

/// Whether `name` is a [`download_temp`].
pub fn is_download_temp(name: &str) -> bool {
    name.strip_prefix(DOWNLOAD)
        .and_then(|rest| rest.strip_suffix(PART))
        .is_some_and(is_hex16)
}

/// Whether `name` starts like a [`download_temp`] (its lock is checked
/// before it is removed, whatever follows).
pub fn looks_like_download_temp(name: &str) -> bool {
    name.starts_with(DOWNLOAD)
}

/// The upload temp on the server of a version with digest `id`:
/// `.ferry-up-<16 hex>.part`.
pub fn upload_temp(id: u64) -> String {
    format!("{UPLOAD}{id:016x}{PART}")
}

/// Whether `name` is an [`upload_temp`].
pub fn is_upload_temp(name: &str) -> bool {
    name.strip_prefix(UPLOAD)
        .and_then(|rest| rest.strip_suffix(PART))
        .is_some_and(is_hex16)
}

/// The write probe's folder with random `id`: `.ferry-probe-<16 hex>`.
pub fn probe_dir(id: u64) -> String {
    format!("{PROBE}{id:016x}")
}

/// Whether `name` is a [`probe_dir`].
pub fn is_probe_dir(name: &str) -> bool {
    name.strip_prefix(PROBE).is_some_and(is_hex16)
}

/// The first 8 bytes of a digest as the id of a temp name (the same 16 hex
/// digits as the bytes in order).
pub fn id_of(digest: &[u8; 32]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

fn is_hex16(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_ferry_makes_is_recognised_as_its_kind_and_nothing_else() {
        let temp = local_temp(4242, 7);
        let dl = download_temp(0x0123_4567_89ab_cdef);
        let up = upload_temp(0x0123_4567_89ab_cdef);
        let probe = probe_dir(0xfedc_ba98_7654_3210);
        assert_eq!(temp, ".ferry-4242-7.part");
        assert_eq!(dl, ".ferry-dl-0123456789abcdef.part");
        assert_eq!(up, ".ferry-up-0123456789abcdef.part");
        assert_eq!(probe, ".ferry-probe-fedcba9876543210");
        for name in [&temp, &dl, &up, &probe, &TRASH.to_string()] {
            assert!(is_reserved(name), "{name}");
        }
        assert_eq!(local_temp_pid(&temp), Some(4242));
        assert!(is_download_temp(&dl) && !is_upload_temp(&dl) && !is_probe_dir(&dl));
        assert!(is_upload_temp(&up) && !is_download_temp(&up) && !is_probe_dir(&up));
        assert!(is_probe_dir(&probe) && !is_upload_temp(&probe));
        assert_eq!(local_temp_pid(&dl), None);
        assert_eq!(local_temp_pid(&up), None);
    }

    #[test]
    fn names_that_only_look_like_ferrys_are_not_its_temps() {
        for name in [
            ".ferry-up-0123456789abcde.part",
            ".ferry-up-0123456789abcdeg.part",
            ".ferry-up-0123456789abcdef.part.txt",
            ".ferry-dl-.part",
            "ferry-dl-0123456789abcdef.part",
        ] {
            assert!(!is_upload_temp(name) && !is_download_temp(name), "{name}");
        }
        assert!(!is_probe_dir(".ferry-probe-notes"));
        assert_eq!(local_temp_pid(".ferry-12-3.tmp"), None);
        assert!(!is_reserved("ferry.txt"));
        assert!(within_reserved("a/.ferry-trash/x"));
        assert!(!within_reserved("a/ferry/x"));
    }

    #[test]
    fn a_temp_id_is_the_digests_first_eight_bytes_in_hex() {
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        d[8] = 0xff;
        assert_eq!(format!("{:016x}", id_of(&d)), "0123456789abcdef");
    }
}
