//! A folder on a local file system, as one side of a synchronization:
//! scanning, hashing, atomic writes, renames and deletion to a trash.
//!
//! Used for the local side and for the local-folder remote.
//!
//! Invariants:
//! * Nothing is written in place: a new version is written to a dot-named
//!   temp file in the same folder (excluded by the rules, so never
//!   synchronized), checked, `fsync`ed and renamed over the target, and the
//!   folder is `fsync`ed.
//! * Nothing is replaced, renamed or deleted unless it is still as observed
//!   (`Changed` otherwise: the caller re-plans next pass).
//! * Symlinks are never followed: the scanner reports and skips them, and
//!   every path is built from checked, single-segment names under the root.
//! * Interrupted work does not pile up: temps of dead processes go at the
//!   next scan, resumable downloads nobody came back for after a day, and
//!   every temp not being written when the disk is full ([`Folder::clean_temps`]).

pub mod private;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
#[cfg(unix)]
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::engine::Problem;
use crate::engine::Side;
use crate::engine::filter::{Filter, disposable};
use crate::engine::path::{check_segment, nfc};
use crate::engine::reserved;
use crate::engine::tree::{Entry, Hash, Kind, Tree, file_name, join};

/// An error of a file-system operation, with the operation and the path.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{path} changed since it was observed; it will be looked at again next pass")]
    Changed { path: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
}

impl FsError {
    fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> FsError + 'a {
        move |source| FsError::Io {
            op,
            path: path.display().to_string(),
            source,
        }
    }

    /// Whether trying again later can help (a full disk can, a changed file
    /// is simply re-planned).
    pub fn is_changed(&self) -> bool {
        matches!(self, FsError::Changed { .. })
    }
}

/// Where deletions go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrashPolicy {
    /// The operating system's trash, or `<root>/.ferry-trash` where there is
    /// none.
    Os,
    /// `<root>/.ferry-trash/<time>/<path>`.
    Folder,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct Scan {
    pub tree: Tree,
    pub problems: Vec<Problem>,
    /// Items left out because the filter excludes them (a folder stands
    /// for everything in it): never deleted because of the other side.
    pub excluded: Vec<String>,
}

/// A synchronized folder on a local file system.
#[derive(Debug)]
pub struct Folder {
    root: PathBuf,
    side: Side,
    trash: TrashPolicy,
    /// NFC key → name on disk, for the few items whose name on disk is not
    /// NFC (filled by `scan`).
    disk_names: Mutex<HashMap<String, String>>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A scanned item: NFC key, entry, and its path on disk relative to the
/// root where that is not spelled as the key (rare: no allocation else).
type Item = (String, Entry, Option<Box<str>>);

/// The disk path of an item, when it is spelled differently from its key.
fn spelled(key: &str, disk: String) -> Option<Box<str>> {
    (disk != key).then(|| disk.into_boxed_str())
}

impl Folder {
    pub fn new(root: impl Into<PathBuf>, side: Side, trash: TrashPolicy) -> Folder {
        Folder {
            root: root.into(),
            side,
            trash,
            disk_names: Mutex::new(HashMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a relative key.
    pub fn abs(&self, rel: &str) -> PathBuf {
        let names = self.disk_names.lock().unwrap_or_else(|e| e.into_inner());
        if !names.is_empty() {
            let mut cut = rel.len();
            loop {
                let prefix = &rel[..cut];
                if let Some(disk) = names.get(prefix) {
                    return self.root.join(format!("{disk}{}", &rel[cut..]));
                }
                match prefix.rfind('/') {
                    Some(i) => cut = i,
                    None => break,
                }
            }
        }
        self.root.join(rel)
    }

    /// Whether the root exists and is a folder.
    pub fn root_exists(&self) -> bool {
        fs::metadata(&self.root).is_ok_and(|m| m.is_dir())
    }

    pub fn create_root(&self) -> Result<(), FsError> {
        fs::create_dir_all(&self.root).map_err(FsError::io("create folder", &self.root))
    }

    /// Walk the folder. `None` when the root does not exist.
    pub fn scan(&self, filter: &Filter) -> Result<Option<Scan>, FsError> {
        if !self.root_exists() {
            return Ok(None);
        }
        let mut scan = Scan::default();
        // Collected unsorted, then sorted once and bulk-loaded into the map.
        let mut items: Vec<Item> = Vec::new();
        let root_dev = device_of(&self.root);
        // (key, disk path relative to root) of folders still to read.
        let stack: Vec<(String, String)> = vec![(String::new(), String::new())];
        self.walk(stack, filter, root_dev, &mut scan, &mut items)?;
        self.finish(scan, items, true)
    }

    /// Scan only `paths` (relative, NFC): each one with its parent folders
    /// and, for a folder, everything inside — what a pass needs to plan
    /// those paths alone. The same rules as [`Folder::scan`] apply.
    pub fn scan_paths(&self, paths: &[String], filter: &Filter) -> Result<Option<Scan>, FsError> {
        if !self.root_exists() {
            return Ok(None);
        }
        let mut scan = Scan::default();
        let mut items: Vec<Item> = Vec::new();
        let root_dev = device_of(&self.root);
        let mut wanted: std::collections::BTreeMap<String, bool> =
            std::collections::BTreeMap::new();
        for p in paths {
            let p = p.trim_matches('/');
            if p.is_empty() {
                return self.scan(filter);
            }
            let mut cut = 0;
            while let Some(i) = p[cut..].find('/') {
                wanted.entry(p[..cut + i].to_string()).or_insert(false);
                cut += i + 1;
            }
            wanted.insert(p.to_string(), true);
        }
        let mut stack = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        let mut walked: Vec<String> = Vec::new();
        for (key, subtree) in wanted {
            // Under a missing, excluded or already walked folder.
            if skipped
                .iter()
                .chain(&walked)
                .any(|s| crate::engine::tree::is_within(&key, s))
            {
                continue;
            }
            let segment = key.rsplit('/').next().unwrap_or(&key);
            if reserved::is_reserved(segment) || (!key.contains('/') && key == reserved::TRASH) {
                skipped.push(key);
                continue;
            }
            if let Err(e) = check_segment(segment) {
                scan.problems
                    .push(self.problem(&key, format!("not synchronized: {e}")));
                skipped.push(key);
                continue;
            }
            let abs = self.abs(&key);
            let meta = match fs::symlink_metadata(&abs) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    skipped.push(key);
                    continue;
                }
                Err(e) => {
                    scan.problems
                        .push(self.problem(&key, format!("cannot read: {e}")));
                    skipped.push(key);
                    continue;
                }
            };
            let ft = meta.file_type();
            let kind = if ft.is_dir() {
                Kind::Dir
            } else if ft.is_file() {
                Kind::File
            } else {
                scan.problems.push(self.problem(
                    &key,
                    "symbolic link or special file: not synchronized".into(),
                ));
                skipped.push(key);
                continue;
            };
            if let Some(rule) = filter.excluded(&key, kind, meta.len()) {
                scan.problems
                    .push(self.problem(&key, format!("excluded: {rule}")));
                scan.excluded.push(key.clone());
                skipped.push(key);
                continue;
            }
            let disk = abs
                .strip_prefix(&self.root)
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_else(|_| key.clone());
            let entry = match (kind, root_dev) {
                // As the full scan records folders: identity only.
                #[cfg(unix)]
                (Kind::Dir, Some(dev)) => Entry {
                    kind: Kind::Dir,
                    id: Some(format!("{dev}:{}", meta.ino()).into()),
                    ..Entry::default()
                },
                _ => entry_of(&abs, &meta, kind),
            };
            if kind == Kind::Dir && subtree {
                stack.push((key.clone(), disk.clone()));
                walked.push(key.clone());
            }
            let disk = spelled(&key, disk);
            items.push((key, entry, disk));
        }
        self.walk(stack, filter, root_dev, &mut scan, &mut items)?;
        self.finish(scan, items, false)
    }

    /// Read the folders on `stack` and everything below them into `items`.
    fn walk(
        &self,
        mut stack: Vec<(String, String)>,
        filter: &Filter,
        root_dev: Option<u64>,
        scan: &mut Scan,
        items: &mut Vec<Item>,
    ) -> Result<(), FsError> {
        #[cfg(not(unix))]
        let _ = root_dev;
        while let Some((key, disk)) = stack.pop() {
            let dir = self.root.join(&disk);
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if key.is_empty() => return Err(FsError::io("read folder", &dir)(e)),
                Err(e) => {
                    scan.problems
                        .push(self.problem(&key, format!("cannot read folder: {e}")));
                    continue;
                }
            };
            for dent in rd {
                let dent = match dent {
                    Ok(d) => d,
                    Err(e) => {
                        scan.problems
                            .push(self.problem(&key, format!("cannot read folder: {e}")));
                        continue;
                    }
                };
                let os_name = dent.file_name();
                let Some(name) = os_name.to_str() else {
                    scan.problems.push(self.problem(
                        &join(&key, &os_name.to_string_lossy()),
                        "name is not valid UTF-8: not synchronized".into(),
                    ));
                    continue;
                };
                let norm = nfc(name);
                let child = join(&key, &norm);
                if reserved::is_reserved(name) {
                    let _ = remove_if_stale(&self.root.join(join(&disk, name)), name);
                    continue;
                }
                if key.is_empty() && name == reserved::TRASH {
                    continue;
                }
                if let Err(e) = check_segment(&norm) {
                    scan.problems
                        .push(self.problem(&child, format!("not synchronized: {e}")));
                    continue;
                }
                // A folder needs no stat: its identity is the directory
                // entry's inode (on the root's device), and its mtime is of
                // no use to the planner. (Elsewhere `root_dev` is `None`.)
                #[cfg(unix)]
                if let (Some(dev), Ok(ft)) = (root_dev, dent.file_type()) {
                    if ft.is_dir() {
                        if let Some(rule) = filter.excluded(&child, Kind::Dir, 0) {
                            scan.problems
                                .push(self.problem(&child, format!("excluded: {rule}")));
                            scan.excluded.push(child);
                            continue;
                        }
                        stack.push((child.clone(), join(&disk, name)));
                        let entry = Entry {
                            kind: Kind::Dir,
                            id: Some(format!("{dev}:{}", dent.ino()).into()),
                            ..Entry::default()
                        };
                        let spelling = (disk != key || norm != name)
                            .then(|| join(&disk, name).into_boxed_str());
                        items.push((child, entry, spelling));
                        continue;
                    }
                }
                let meta = match dent.metadata() {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        scan.problems
                            .push(self.problem(&child, format!("cannot read: {e}")));
                        continue;
                    }
                };
                let ft = meta.file_type();
                let kind = if ft.is_dir() {
                    Kind::Dir
                } else if ft.is_file() {
                    Kind::File
                } else {
                    let what = if ft.is_symlink() {
                        "symbolic link"
                    } else {
                        "special file"
                    };
                    scan.problems
                        .push(self.problem(&child, format!("{what}: not synchronized")));
                    continue;
                };
                if let Some(rule) = filter.excluded(&child, kind, meta.len()) {
                    scan.problems
                        .push(self.problem(&child, format!("excluded: {rule}")));
                    scan.excluded.push(child);
                    continue;
                }
                let entry = entry_of(&dent.path(), &meta, kind);
                if kind == Kind::Dir {
                    stack.push((child.clone(), join(&disk, name)));
                }
                let spelling =
                    (disk != key || norm != name).then(|| join(&disk, name).into_boxed_str());
                items.push((child, entry, spelling));
            }
        }
        Ok(())
    }

    /// Sort, settle names that clash after NFC, and remember names on disk
    /// that are not NFC (all of them after a full scan; added to the known
    /// ones after a partial scan).
    ///
    /// Two names on disk with one NFC key (`café` typed on two systems):
    /// exactly one is synchronized, always the same one — the one spelled
    /// in NFC, else the first by bytes — and the other is reported (with
    /// everything in it, for a folder), so passes converge.
    fn finish(
        &self,
        mut scan: Scan,
        mut items: Vec<Item>,
        full: bool,
    ) -> Result<Option<Scan>, FsError> {
        // By key; within a key the synchronized spelling first: the one
        // spelled as its key (`None` sorts first), else the first by bytes.
        items.shrink_to_fit();
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
        // Seen twice by a partial scan (a parent and a subtree).
        items.dedup_by(|b, a| a.0 == b.0 && a.2 == b.2);
        // Parents sort before their contents: a spelling left out takes
        // what is inside it along before its contents are looked at.
        // (A spelling left out always differs from its key, and so do the
        // disk paths of everything inside it.)
        // Compacted in place (`kept` items move to the front): a second
        // vector of every item would double this step's memory.
        let mut losers: Vec<Box<str>> = Vec::new();
        let mut kept: usize = 0;
        for i in 0..items.len() {
            let inside_loser = items[i].2.as_deref().is_some_and(|disk| {
                losers
                    .iter()
                    .any(|l| disk.strip_prefix(&**l).is_some_and(|r| r.starts_with('/')))
            });
            if inside_loser {
                continue;
            }
            if let Some(prev) = kept
                .checked_sub(1)
                .map(|p| &items[p])
                .filter(|prev| prev.0 == items[i].0)
            {
                let item = &items[i];
                scan.problems.push(self.problem(
                    &item.0,
                    format!(
                        "two names on disk normalise to the same name: {:?} is synchronized, {:?} is not (rename or remove one of them)",
                        self.root.join(prev.2.as_deref().unwrap_or(&prev.0)).display(),
                        self.root.join(item.2.as_deref().unwrap_or(&item.0)).display(),
                    ),
                ));
                losers.extend(items[i].2.take());
                continue;
            }
            items.swap(kept, i);
            kept += 1;
        }
        items.truncate(kept);
        items.shrink_to_fit();
        let mut disk_names = HashMap::new();
        for (key, _, disk) in &items {
            if let Some(disk) = disk.as_deref().filter(|d| file_name(d) != file_name(key)) {
                disk_names.insert(key.clone(), disk.to_string());
            }
        }
        let items: Vec<(String, Entry)> = items.into_iter().map(|(k, e, _)| (k, e)).collect();
        scan.tree = crate::engine::tree::packed_from_vec(items);
        let mut known = self.disk_names.lock().unwrap_or_else(|e| e.into_inner());
        if full {
            *known = disk_names;
        } else {
            known.extend(disk_names);
        }
        Ok(Some(scan))
    }

    fn problem(&self, path: &str, message: String) -> Problem {
        Problem {
            path: path.to_string(),
            side: Some(self.side),
            message,
        }
    }

    /// The item at `rel` now, without following a symlink.
    pub fn stat(&self, rel: &str) -> Result<Option<Entry>, FsError> {
        let path = self.abs(rel);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => Ok(Some(entry_of(&path, &m, Kind::Dir))),
            Ok(m) if m.is_file() => Ok(Some(entry_of(&path, &m, Kind::File))),
            Ok(_) => Err(FsError::Changed {
                path: rel.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FsError::io("stat", &path)(e)),
        }
    }

    /// Check that `rel` is still as observed.
    pub fn expect(&self, rel: &str, expect: Option<&Entry>) -> Result<(), FsError> {
        let now = self.stat(rel)?;
        let same = match (&now, expect) {
            (None, None) => true,
            (Some(n), Some(e)) => same_item(n, e),
            _ => false,
        };
        if same {
            Ok(())
        } else {
            Err(FsError::Changed {
                path: rel.to_string(),
            })
        }
    }

    /// SHA-256 of a file, checking that it did not change while read.
    pub fn hash(&self, rel: &str, expect: &Entry) -> Result<Hash, FsError> {
        let path = self.abs(rel);
        let mut f = File::open(&path).map_err(FsError::io("open", &path))?;
        let before = entry_of(
            &path,
            &f.metadata().map_err(FsError::io("stat", &path))?,
            Kind::File,
        );
        if !same_item(&before, expect) {
            return Err(FsError::Changed {
                path: rel.to_string(),
            });
        }
        let hash = hash_reader(&mut f).map_err(FsError::io("read", &path))?;
        let after = entry_of(
            &path,
            &f.metadata().map_err(FsError::io("stat", &path))?,
            Kind::File,
        );
        if !same_item(&after, expect) {
            return Err(FsError::Changed {
                path: rel.to_string(),
            });
        }
        Ok(hash)
    }

    /// A fresh temp path next to `rel` (dot-named, so never synchronized).
    pub fn temp_for(&self, rel: &str) -> PathBuf {
        let target = self.abs(rel);
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = reserved::local_temp(std::process::id(), n);
        match target.parent() {
            Some(dir) => dir.join(name),
            None => self.root.join(name),
        }
    }

    /// The temp path a download of this version of `rel` uses. The name
    /// encodes the version (size, mtime and entity tag), so a download
    /// interrupted by a crash or a lost connection finds its partial file
    /// again and continues. The tag is taken without its weak marker (a
    /// weak/strong flip keeps the name). A version with neither a strong
    /// tag nor a known mtime is not told apart by its name: the download
    /// never reuses such a temp (see `Remote::download`).
    pub fn resumable_temp(&self, rel: &str, version: &Entry) -> PathBuf {
        let mut h = Sha256::new();
        h.update(rel.as_bytes());
        h.update(version.size.to_le_bytes());
        h.update(version.mtime.to_le_bytes());
        if let Some(tag) = &version.etag {
            h.update(b"\0etag\0");
            h.update(crate::engine::tree::tag_core(tag).as_bytes());
        }
        let d: [u8; 32] = h.finalize().into();
        let name = reserved::download_temp(reserved::id_of(&d));
        match self.abs(rel).parent() {
            Some(dir) => dir.join(name),
            None => self.root.join(name),
        }
    }

    /// Remove every temp file under the root that no transfer of this
    /// process is writing: partial downloads of earlier passes (even
    /// resumable ones) and temps of dead processes. Called when the disk is
    /// full, so that leftovers cannot keep it full. Returns the bytes freed.
    pub fn clean_temps(&self) -> u64 {
        let mut freed = 0;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for dent in rd.flatten() {
                let name = dent.file_name();
                let Some(name) = name.to_str() else { continue };
                let path = dent.path();
                let Ok(ft) = dent.file_type() else { continue };
                if reserved::is_reserved(name) {
                    if ft.is_file() {
                        freed += remove_stale(&path, name, true);
                    }
                } else if ft.is_dir() {
                    stack.push(path);
                }
            }
        }
        freed
    }

    /// Why `size` bytes for `rel` do not fit on this folder's disk, with
    /// how much more space is needed and where.
    pub fn no_space_message(&self, rel: &str, size: u64) -> String {
        let at = self.abs(rel);
        let mount = mount_point(&at);
        let free = free_space(&mount).unwrap_or(0);
        let need = size.saturating_sub(free).max(1);
        format!(
            "needs {} more free space on {} ({} is {}, {} is free): the disk is full; free some space and it is synchronized next pass",
            human_bytes(need),
            mount.display(),
            at.display(),
            human_bytes(size),
            human_bytes(free),
        )
    }

    /// Create folder `rel` (and missing parents). An existing folder is fine.
    pub fn mkdir(&self, rel: &str) -> Result<Entry, FsError> {
        let path = self.abs(rel);
        fs::create_dir_all(&path).map_err(FsError::io("create folder", &path))?;
        match self.stat(rel)? {
            Some(e) if e.kind == Kind::Dir => Ok(e),
            _ => Err(FsError::Changed {
                path: rel.to_string(),
            }),
        }
    }

    /// Ensure the parent folders of `rel` exist.
    pub fn ensure_parent(&self, rel: &str) -> Result<(), FsError> {
        let path = self.abs(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(FsError::io("create folder", dir))?;
        }
        Ok(())
    }

    /// Copy `src` (a file elsewhere, expected as `src_expect`) to `rel`
    /// atomically. `replace` is what `rel` must still be (None: nothing);
    /// with `backup` the replaced file goes to the trash first. Returns the
    /// new entry and the content hash.
    pub fn copy_in(
        &self,
        rel: &str,
        src: &Path,
        src_expect: &Entry,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<(Entry, Hash), FsError> {
        let temp = self.temp_for(rel);
        self.ensure_parent(rel)?;
        let result = (|| {
            let mut input = File::open(src).map_err(FsError::io("open", src))?;
            let before = entry_of(
                src,
                &input.metadata().map_err(FsError::io("stat", src))?,
                Kind::File,
            );
            if !same_item(&before, src_expect) {
                return Err(FsError::Changed {
                    path: src.display().to_string(),
                });
            }
            let hash = write_temp(&mut input, &temp, src_expect.size, src_expect.mtime, false)?;
            let after = entry_of(
                src,
                &input.metadata().map_err(FsError::io("stat", src))?,
                Kind::File,
            );
            if !same_item(&after, src_expect) {
                return Err(FsError::Changed {
                    path: src.display().to_string(),
                });
            }
            let entry = self.commit(rel, &temp, replace, backup)?;
            Ok((entry, hash))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    /// Stream file `rel` (expected as `expect`) into `out`, returning its
    /// hash; fails with `Changed` if it changes while read.
    pub fn copy_out(&self, rel: &str, expect: &Entry, temp: &Path) -> Result<Hash, FsError> {
        // A local copy is cheap to redo: never resume, start over (in the
        // same file: its lock, see [`ActiveTemp`], stays on it).
        match OpenOptions::new().write(true).open(temp) {
            Ok(f) => f.set_len(0).map_err(FsError::io("truncate", temp))?,
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(FsError::io("open", temp)(e));
            }
            Err(_) => {}
        }
        let path = self.abs(rel);
        let mut input = File::open(&path).map_err(FsError::io("open", &path))?;
        let before = entry_of(
            &path,
            &input.metadata().map_err(FsError::io("stat", &path))?,
            Kind::File,
        );
        if !same_item(&before, expect) {
            return Err(FsError::Changed {
                path: rel.to_string(),
            });
        }
        let hash = write_temp(&mut input, temp, expect.size, expect.mtime, true)?;
        let after = entry_of(
            &path,
            &input.metadata().map_err(FsError::io("stat", &path))?,
            Kind::File,
        );
        if !same_item(&after, expect) {
            return Err(FsError::Changed {
                path: rel.to_string(),
            });
        }
        Ok(hash)
    }

    /// Put a finished temp file in place of `rel`: check `replace` is still
    /// what is there, trash it first with `backup`, rename, fsync the folder.
    pub fn commit(
        &self,
        rel: &str,
        temp: &Path,
        replace: Option<&Entry>,
        backup: bool,
    ) -> Result<Entry, FsError> {
        self.ensure_parent(rel)?;
        self.expect(rel, replace)?;
        let target = self.abs(rel);
        if backup && replace.is_some() {
            self.trash_item(rel)?;
        }
        fs::rename(temp, &target).map_err(FsError::io("rename", &target))?;
        if let Some(dir) = target.parent() {
            sync_dir(dir)?;
        }
        self.stat(rel)?.ok_or(FsError::Changed {
            path: rel.to_string(),
        })
    }

    /// Rename `from` (still as observed) to `to` (which must not exist).
    pub fn rename(&self, from: &str, to: &str, expect: &Entry) -> Result<Entry, FsError> {
        self.expect(from, Some(expect))?;
        self.expect(to, None)?;
        self.ensure_parent(to)?;
        let src = self.abs(from);
        let dst = self.abs(to);
        // Never replace: a hard link fails if `to` appeared meanwhile; a
        // folder cannot be hard-linked, so it is renamed after a last check.
        let linked = expect.kind == Kind::File
            && match fs::hard_link(&src, &dst) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(FsError::Changed {
                        path: to.to_string(),
                    });
                }
                // No hard links here (FAT, some shares): plain rename.
                Err(_) => false,
            };
        if linked {
            fs::remove_file(&src).map_err(FsError::io("rename", &src))?;
        } else {
            fs::rename(&src, &dst).map_err(FsError::io("rename", &dst))?;
        }
        for dir in [src.parent(), dst.parent()].into_iter().flatten() {
            sync_dir(dir)?;
        }
        self.stat(to)?.ok_or(FsError::Changed {
            path: to.to_string(),
        })
    }

    /// Send `rel` to the trash if it (and, for a folder, everything in it)
    /// is still as observed. A folder that holds an excluded item (other
    /// than the system's clutter, see [`disposable`]) is not deleted
    /// (`Changed`): excluded items are never deleted because of the other
    /// side, and the next pass plans around it.
    pub fn delete(
        &self,
        rel: &str,
        expect: &Entry,
        contents: &[(String, Entry)],
        filter: &Filter,
    ) -> Result<(), FsError> {
        self.expect(rel, Some(expect))?;
        if expect.kind == Kind::Dir {
            let sub = Folder::new(self.abs(rel), self.side, TrashPolicy::Folder);
            let scan = sub.scan(filter)?.unwrap_or_default();
            if scan.excluded.iter().any(|p| !disposable(file_name(p))) {
                return Err(FsError::Changed {
                    path: rel.to_string(),
                });
            }
            let now = scan.tree;
            let prefix = format!("{rel}/");
            let mut expected = contents.iter().map(|(k, e)| (k.strip_prefix(&prefix), e));
            let mut actual = now.iter();
            loop {
                match (expected.next(), actual.next()) {
                    (None, None) => break,
                    (Some((Some(k), e)), Some((ak, ae))) if k == ak && same_item(ae, e) => {}
                    _ => {
                        return Err(FsError::Changed {
                            path: rel.to_string(),
                        });
                    }
                }
            }
        }
        self.trash_item(rel)
    }

    /// Move `rel` to the trash (no checks).
    fn trash_item(&self, rel: &str) -> Result<(), FsError> {
        let path = self.abs(rel);
        if self.trash == TrashPolicy::Os && trash::delete(&path).is_ok() {
            return Ok(());
        }
        let stamp = jiff::Zoned::now().strftime("%Y-%m-%d %H%M%S").to_string();
        let dest = self.root.join(reserved::TRASH).join(stamp).join(rel);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(FsError::io("create folder", dir))?;
        }
        let mut dest_final = dest.clone();
        let mut n = 1;
        while dest_final.exists() {
            n += 1;
            let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
            let numbered =
                crate::engine::path::fit_name(&name.unwrap_or_default(), &format!(" ({n})"), "");
            dest_final = dest.with_file_name(numbered);
        }
        fs::rename(&path, &dest_final).map_err(FsError::io("move to trash", &path))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

/// How long a partial download is kept for resuming when nobody comes
/// back for it (its version was deleted or replaced on the other side).
pub const RESUMABLE_TEMP_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Resumable temps being written by this process right now: never cleaned.
static ACTIVE_TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Marks a resumable temp as in use while it lives (see
/// [`Folder::clean_temps`]): listed for this process, and locked (an
/// advisory lock on the file, created empty if need be) for every other
/// Ferry process, such as the CLI while the daemon runs. Writers open the
/// same file and write into it (never replace it), so the lock covers it.
#[derive(Debug)]
pub struct ActiveTemp(PathBuf, #[allow(dead_code)] Option<File>);

impl ActiveTemp {
    pub fn new(path: &Path) -> ActiveTemp {
        use fs4::fs_std::FileExt;
        ACTIVE_TEMPS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.to_path_buf());
        // Without a lock (a file system without locks) the temp is still
        // safe from this process; another one may clean it when its disk
        // is full, as before.
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ok()
            .filter(|f| matches!(f.try_lock_exclusive(), Ok(true)));
        if lock.is_none() {
            tracing::debug!(path = %path.display(), "could not lock a download temp");
        }
        ActiveTemp(path.to_path_buf(), lock)
    }
}

/// Whether another open file (of any Ferry process) holds the temp's lock:
/// a download is being written into it. `Some(file)` holds the lock for
/// the caller while it removes the temp.
fn lock_unused(path: &Path) -> Option<File> {
    use fs4::fs_std::FileExt;
    let f = OpenOptions::new().write(true).open(path).ok()?;
    matches!(f.try_lock_exclusive(), Ok(true)).then_some(f)
}

impl Drop for ActiveTemp {
    fn drop(&mut self) {
        let mut active = ACTIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = active.iter().position(|p| *p == self.0) {
            active.swap_remove(i);
        }
    }
}

fn is_active(path: &Path) -> bool {
    ACTIVE_TEMPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|p| p == path)
}

/// Whether a temp file is left over: a `.ferry-<pid>-<n>.part` of a
/// process that is gone (killed mid-transfer), or — with `all_downloads`
/// (the disk is full), or when older than [`RESUMABLE_TEMP_MAX_AGE`] — a
/// resumable `.ferry-dl-*.part` that no transfer of this process is writing.
fn is_stale(path: &Path, name: &str, all_downloads: bool) -> bool {
    if reserved::is_download_temp(name) {
        if is_active(path) {
            return false;
        }
        return all_downloads
            || fs::symlink_metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > RESUMABLE_TEMP_MAX_AGE);
    }
    let Some(pid) = reserved::local_temp_pid(name) else {
        return false;
    };
    pid != std::process::id() && !process_alive(pid)
}

/// Remove a temp file left behind (see [`is_stale`]); the bytes freed.
fn remove_if_stale(path: &Path, name: &str) -> u64 {
    remove_stale(path, name, false)
}

fn remove_stale(path: &Path, name: &str, all_downloads: bool) -> u64 {
    if !is_stale(path, name, all_downloads) {
        return 0;
    }
    let size = fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let Some(size) = size else { return 0 };
    // A download temp another Ferry process is writing is locked: left.
    let _lock = if reserved::looks_like_download_temp(name) {
        match lock_unused(path) {
            Some(f) => Some(f),
            None => {
                tracing::debug!(path = %path.display(), "a download temp in use: kept");
                return 0;
            }
        }
    } else {
        None
    };
    match fs::remove_file(path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), size, "removed a temp file left by an interrupted transfer");
            size
        }
        Err(e) => {
            tracing::debug!(path = %path.display(), %e, "could not remove a stale temp file");
            0
        }
    }
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || is_disk_full_code(e.raw_os_error())
}

#[cfg(unix)]
fn is_disk_full_code(code: Option<i32>) -> bool {
    matches!(code, Some(libc::ENOSPC | libc::EDQUOT))
}

/// Windows' "disk full" codes are `StorageFull`/`QuotaExceeded` already.
#[cfg(not(unix))]
fn is_disk_full_code(_code: Option<i32>) -> bool {
    false
}

/// Free bytes for an unprivileged writer on the file system holding `path`.
#[cfg(unix)]
pub fn free_space(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string; `st` is written by
    // statvfs before it is read, and only on success.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return None;
        }
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
}

/// Free bytes for the user on the volume holding `path`.
#[cfg(not(unix))]
pub fn free_space(path: &Path) -> Option<u64> {
    fs4::available_space(path).ok()
}

/// The mount point of the file system holding `path` (the highest folder
/// above it on the same device).
#[cfg(unix)]
pub fn mount_point(path: &Path) -> PathBuf {
    let mut here = path.to_path_buf();
    while fs::symlink_metadata(&here).is_err() {
        match here.parent() {
            Some(p) => here = p.to_path_buf(),
            None => return path.to_path_buf(),
        }
    }
    let Ok(dev) = fs::metadata(&here).map(|m| m.dev()) else {
        return here;
    };
    while let Some(up) = here.parent() {
        match fs::metadata(up) {
            Ok(m) if m.dev() == dev => here = up.to_path_buf(),
            _ => break,
        }
    }
    here
}

/// The volume holding `path`: its root (`C:\`, `\\server\share\`).
#[cfg(not(unix))]
pub fn mount_point(path: &Path) -> PathBuf {
    path.ancestors()
        .last()
        .map_or_else(|| path.to_path_buf(), Path::to_path_buf)
}

/// The device of the folder at `root`, when folders' identities can be read
/// from their directory entries without a stat (Unix).
#[cfg(unix)]
fn device_of(root: &Path) -> Option<u64> {
    fs::metadata(root).ok().map(|m| m.dev())
}

#[cfg(not(unix))]
fn device_of(_root: &Path) -> Option<u64> {
    None
}

/// `n` bytes for people: `48.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    // Without a cheap check, keep the file; it is excluded from sync anyway.
    true
}

/// Write everything from `input` to a new file `temp`, with `mtime`;
/// check the size, fsync. Returns the content hash.
/// `reuse`: the temp may exist already (a resumable download temp, emptied
/// by the caller and locked by its [`ActiveTemp`]); else it must be new.
fn write_temp(
    input: &mut File,
    temp: &Path,
    size: u64,
    mtime: i64,
    reuse: bool,
) -> Result<Hash, FsError> {
    let mut out = OpenOptions::new()
        .write(true)
        .create(reuse)
        .truncate(reuse)
        .create_new(!reuse)
        .open(temp)
        .map_err(FsError::io("create", temp))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut written = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FsError::io("read", temp)(e)),
        };
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(FsError::io("write", temp))?;
        written += n as u64;
    }
    if written != size {
        return Err(FsError::Changed {
            path: temp.display().to_string(),
        });
    }
    out.set_modified(to_system_time(mtime))
        .map_err(FsError::io("set time", temp))?;
    out.sync_all().map_err(FsError::io("fsync", temp))?;
    Ok(hasher.finalize().into())
}

/// SHA-256 of everything a reader yields.
pub fn hash_reader(r: &mut impl Read) -> io::Result<Hash> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hasher.finalize().into())
}

/// fsync a folder, so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(FsError::io("fsync folder", dir))
}

fn to_system_time(ns: i64) -> std::time::SystemTime {
    let d = std::time::Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        std::time::UNIX_EPOCH + d
    } else {
        std::time::UNIX_EPOCH - d
    }
}

/// An entry from the metadata of the item at `path`; the identity is
/// `dev:inode` on Unix, the volume and file index on Windows.
pub fn entry_of(path: &Path, meta: &fs::Metadata, kind: Kind) -> Entry {
    Entry {
        kind,
        size: if kind == Kind::File { meta.len() } else { 0 },
        mtime: mtime_ns(meta),
        id: identity(path, meta),
        etag: None,
        hash: None,
    }
}

#[cfg(unix)]
fn mtime_ns(meta: &fs::Metadata) -> i64 {
    meta.mtime() * 1_000_000_000 + meta.mtime_nsec()
}

/// Nanoseconds since the Unix epoch (before it: negative); 0 when the
/// platform has no modification time.
#[cfg(not(unix))]
fn mtime_ns(meta: &fs::Metadata) -> i64 {
    let Ok(t) = meta.modified() else { return 0 };
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

#[cfg(unix)]
fn identity(_path: &Path, meta: &fs::Metadata) -> Option<Box<str>> {
    Some(format!("{}:{}", meta.dev(), meta.ino()).into())
}

/// Windows: the volume serial number and file index (Rust's own are not
/// stable yet), read by opening the path; `None` when it cannot be opened
/// (an identity is only a hint for moves: the item then reads as new).
#[cfg(windows)]
fn identity(path: &Path, _meta: &fs::Metadata) -> Option<Box<str>> {
    use file_id::FileId;
    let id = match file_id::get_file_id(path).ok()? {
        FileId::Inode {
            device_id,
            inode_number,
        } => format!("{device_id}:{inode_number}"),
        FileId::LowRes {
            volume_serial_number,
            file_index,
        } => format!("{volume_serial_number}:{file_index}"),
        FileId::HighRes {
            volume_serial_number,
            file_id,
        } => format!("{volume_serial_number}:{file_id:x}"),
    };
    Some(id.into())
}

#[cfg(not(any(unix, windows)))]
fn identity(_path: &Path, _meta: &fs::Metadata) -> Option<Box<str>> {
    None
}

/// Same item, unchanged: kind, identity, and for files size and mtime.
pub fn same_item(a: &Entry, b: &Entry) -> bool {
    a.kind == b.kind
        && a.id == b.id
        && (a.kind == Kind::Dir || (a.size == b.size && a.mtime == b.mtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_download_nobody_came_back_for_is_removed_after_a_day() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("a")).unwrap();
        let old = root.join("a/.ferry-dl-0000000000000000.part");
        let fresh = root.join("a/.ferry-dl-1111111111111111.part");
        // A pid above any pid_max: a dead writer.
        let dead = root.join(".ferry-4294967295-1.part");
        for p in [&old, &fresh, &dead] {
            fs::write(p, b"partial").unwrap();
        }
        let day_ago = std::time::SystemTime::now() - RESUMABLE_TEMP_MAX_AGE;
        let f = File::options().write(true).open(&old).unwrap();
        f.set_modified(day_ago - std::time::Duration::from_secs(60))
            .unwrap();
        drop(f);
        let folder = Folder::new(root, Side::Local, TrashPolicy::Folder);
        folder.scan(&Filter::default()).unwrap().unwrap();
        assert!(!old.exists() && !dead.exists());
        assert!(fresh.exists(), "kept for resuming");
        // A full disk: every temp not being written goes.
        let active = ActiveTemp::new(&fresh);
        assert_eq!(folder.clean_temps(), 0);
        assert!(fresh.exists(), "in use");
        drop(active);
        assert_eq!(folder.clean_temps(), 7);
        assert!(!fresh.exists());
    }

    /// Finding 9: on a full disk, a download temp another Ferry process is
    /// writing (the CLI while the daemon runs) is not removed: the writer
    /// locks it (here `flock(1)`, another process holding the same kind of
    /// lock), and the cleaner skips locked temps. Once the lock is gone the
    /// temp is cleaned as before; and an [`ActiveTemp`] does lock its file.
    #[test]
    fn a_download_temp_another_process_is_writing_survives_a_full_disk_cleanup() {
        use fs4::fs_std::FileExt;
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let temp = root.join(".ferry-dl-2222222222222222.part");
        fs::write(&temp, b"partial").unwrap();
        let ready = root.join("locked");
        let mut writer = std::process::Command::new("flock")
            .arg("-x")
            .arg(&temp)
            .args(["sh", "-c"])
            .arg(format!("touch '{}'; read _", ready.display()))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("flock(1) (util-linux) is needed for this test");
        let start = std::time::Instant::now();
        while !ready.exists() {
            assert!(start.elapsed().as_secs() < 20, "flock did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let folder = Folder::new(root, Side::Local, TrashPolicy::Folder);
        let freed = folder.clean_temps();
        // Its input closed, the writer (and its lock) ends.
        drop(writer.stdin.take());
        writer.wait().unwrap();
        assert_eq!(freed, 0);
        assert!(temp.exists(), "removed while another process wrote it");
        // Its writer gone, the lock is gone too: cleaned.
        assert_eq!(folder.clean_temps(), 7);
        assert!(!temp.exists());
        // This process's writers lock their temps for the others.
        let active = ActiveTemp::new(&temp);
        let other = File::options().write(true).open(&temp).unwrap();
        assert!(!other.try_lock_exclusive().unwrap(), "not locked");
        drop(active);
        assert!(other.try_lock_exclusive().unwrap());
    }

    #[test]
    fn a_scoped_scan_sees_its_paths_their_parents_and_folder_contents() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for f in [
            "a/b/c.txt",
            "a/b/d/e.txt",
            "a/other.txt",
            "x/y.txt",
            "a/b/f.tmp",
        ] {
            fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs::write(root.join(f), b"1").unwrap();
        }
        let folder = Folder::new(root, Side::Local, TrashPolicy::Folder);
        let filter = Filter::new(&[], &[]).unwrap();
        let full = folder.scan(&filter).unwrap().unwrap();
        let scoped = folder
            .scan_paths(
                &["a/b".into(), "a/b/c.txt".into(), "gone/z".into()],
                &filter,
            )
            .unwrap()
            .unwrap();
        let keys: Vec<&str> = scoped.tree.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a", "a/b", "a/b/c.txt", "a/b/d", "a/b/d/e.txt"]);
        // The same entries as a full scan, excluded names reported.
        for (k, e) in scoped.tree.iter() {
            assert_eq!(full.tree.get(k), Some(e), "{k}");
        }
        assert!(scoped.problems.iter().any(|p| p.path == "a/b/f.tmp"));
        // The root itself: a full scan.
        let all = folder.scan_paths(&["".into()], &filter).unwrap().unwrap();
        assert_eq!(all.tree.len(), full.tree.len());
    }
}
