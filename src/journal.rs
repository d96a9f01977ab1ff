//! The journal of one synchronization: a SQLite file holding the base tree
//! (both sides as they were when last in sync), in-flight transfers, the
//! transfer log and the conflicts.
//!
//! Invariants:
//! * WAL with `synchronous=FULL`: a committed transaction survives a crash
//!   or power loss.
//! * An op's outcome is written only after it is durable on disk (the
//!   executor's job); so after `kill -9` the journal may lag reality, never
//!   lead it, and re-planning from the three trees is safe.
//! * The schema is versioned with `PRAGMA user_version`; migrations run in
//!   order inside a transaction.
//! * A damaged journal (SQLite says malformed or not a database, or
//!   `PRAGMA quick_check` fails) is never a dead end: [`Journal::open`] moves
//!   it aside (`<name>.corrupt-<time>`, with its `-wal` and `-shm`), starts a
//!   fresh one and leaves a note ([`REBUILT_NOTE`]) for the next pass, which
//!   then runs as a first pass: nothing deleted, equal files adopted,
//!   differing ones kept both.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::engine::{BaseEntry, BaseTree, Kind, Sig};

/// A journal error, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("journal {path}: {source}")]
pub struct JournalError {
    pub path: PathBuf,
    #[source]
    pub source: rusqlite::Error,
}

/// A journal operation's result.
pub type Result<T> = std::result::Result<T, JournalError>;

/// A journal's size, for `ferry diagnostics` ([`Journal::read_stats`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalStats {
    /// The schema version (`PRAGMA user_version`).
    pub user_version: i64,
    /// Rows of each table: `base`, `transfers`, `log`, `conflicts`.
    pub rows: Vec<(&'static str, i64)>,
    /// Each `meta` key with its value's length, by key.
    pub meta: Vec<(String, i64)>,
}

/// One change to the base tree (what an op's success changes: the
/// engine's rules, [`crate::engine::base`]).
pub use crate::engine::BaseChange;

/// One line of the transfer log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogRow {
    /// Milliseconds since the Unix epoch.
    pub time: i64,
    pub sync: String,
    pub action: String,
    pub path: String,
    pub bytes: u64,
    /// `ok`, `skipped: …` or `error: …`.
    pub result: String,
}

/// A conflict that was resolved by keeping a copy or by a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConflictRow {
    pub time: i64,
    pub path: String,
    pub copy: Option<String>,
    pub policy: String,
}

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE base (
        path TEXT PRIMARY KEY NOT NULL,
        kind INTEGER NOT NULL,
        l_size INTEGER NOT NULL, l_mtime INTEGER NOT NULL, l_id TEXT, l_etag TEXT,
        r_size INTEGER NOT NULL, r_mtime INTEGER NOT NULL, r_id TEXT, r_etag TEXT,
        hash BLOB
     ) WITHOUT ROWID;
     CREATE TABLE transfers (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        direction TEXT NOT NULL,
        temp TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT,
        started INTEGER NOT NULL
     );
     CREATE TABLE log (
        id INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,
        sync TEXT NOT NULL,
        action TEXT NOT NULL,
        path TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        result TEXT NOT NULL
     );
     CREATE INDEX log_time ON log(time);
     CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,
        path TEXT NOT NULL,
        copy TEXT,
        policy TEXT NOT NULL,
        resolved INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;",
];

/// The `meta` key of the note a rebuilt journal carries until a pass has
/// rebuilt the base from both sides: the message for the user.
pub const REBUILT_NOTE: &str = "rebuilt_note";

/// An open journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

impl Journal {
    /// Open (or create) the journal at `path` and bring its schema up to
    /// date. A damaged journal is set aside and replaced by a fresh one that
    /// carries a [`REBUILT_NOTE`] (see the module's invariants).
    pub fn open(path: &Path) -> Result<Journal> {
        // An existing empty file is no journal Ferry wrote (a new one has
        // its schema before `open` returns): truncated.
        let emptied = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0);
        let damage = if emptied {
            Some("the file is empty".to_string())
        } else {
            match Self::open_checked(path) {
                Ok(j) => return Ok(j),
                Err(e) => match damaged(&e.source) {
                    Some(why) => Some(why),
                    None => return Err(e),
                },
            }
        };
        let why = damage.unwrap_or_default();
        let aside = set_aside(path).map_err(|e| JournalError {
            path: path.to_path_buf(),
            source: rusqlite::Error::InvalidParameterName(format!(
                "the journal is damaged ({why}) and could not be set aside: {e}; move it away by hand"
            )),
        })?;
        let note = format!(
            "the journal {} was damaged ({why}) and set aside as {}; this pass rebuilds it from both sides: nothing is deleted, files equal on both sides are adopted, differing ones are kept both",
            path.display(),
            aside.display()
        );
        tracing::warn!("{note}");
        let j = Self::open_checked(path)?;
        j.set_meta(REBUILT_NOTE, &note)?;
        Ok(j)
    }

    /// Open, check (`quick_check`) and migrate.
    fn open_checked(path: &Path) -> Result<Journal> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        let mut conn = Connection::open(path).map_err(err)?;
        // The user's only (0600): the file names every synchronized item.
        // SQLite creates the `-wal` and `-shm` files with the main file's
        // permissions; older ones are corrected too.
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            crate::fsops::private::restrict_file(Path::new(&p)).map_err(|e| {
                err(rusqlite::Error::InvalidParameterName(format!(
                    "cannot make the journal private: {e}"
                )))
            })?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        let check: String = conn
            .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
            .map_err(err)?;
        if check != "ok" {
            return Err(err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(format!("quick_check: {check}")),
            )));
        }
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(err(rusqlite::Error::InvalidParameterName(format!(
                "schema version {version} is newer than this Ferry knows ({}); upgrade Ferry",
                MIGRATIONS.len()
            ))));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The statistics of the journal at `path`, read as it is: opened
    /// read-only, no migration, no check, nothing moved aside (a damaged
    /// file is an error here, left for [`Journal::open`] to deal with).
    pub fn read_stats(path: &Path) -> Result<JournalStats> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        let user_version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        let mut rows = Vec::new();
        for table in ["base", "transfers", "log", "conflicts"] {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(err)?;
            rows.push((table, n));
        }
        let mut stmt = conn
            .prepare("SELECT key, length(value) FROM meta ORDER BY key")
            .map_err(err)?;
        let meta = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(err)?
            .collect::<rusqlite::Result<_>>()
            .map_err(err)?;
        Ok(JournalStats {
            user_version,
            rows,
            meta,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        |source| JournalError {
            path: self.path.clone(),
            source,
        }
    }

    /// The base of `paths` only: each path, its parent folders and, for a
    /// folder, everything under it (what a scoped pass plans with).
    pub fn load_base_paths(&self, paths: &[String]) -> Result<BaseTree> {
        let mut exact: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for p in paths {
            let p = p.trim_matches('/');
            let mut cut = 0;
            while let Some(i) = p[cut..].find('/') {
                exact.insert(&p[..cut + i]);
                cut += i + 1;
            }
            exact.insert(p);
        }
        let mut tree = BaseTree::new();
        let mut one = self
            .conn
            .prepare_cached(
                "SELECT path, kind, l_size, l_mtime, l_id, l_etag, r_size, r_mtime, r_id, r_etag, hash FROM base WHERE path = ?1",
            )
            .map_err(self.err())?;
        let mut under = self
            .conn
            .prepare_cached(
                "SELECT path, kind, l_size, l_mtime, l_id, l_etag, r_size, r_mtime, r_id, r_etag, hash FROM base WHERE path > ?1 AND path < ?2",
            )
            .map_err(self.err())?;
        for p in &exact {
            let rows = one.query_map([p], base_row).map_err(self.err())?;
            for row in rows {
                let (path, entry) = row.map_err(self.err())?;
                tree.insert(path, entry);
            }
        }
        for p in paths {
            let p = p.trim_matches('/');
            // Everything under `p/`: from "p/" up to "p0" ('0' follows '/').
            let rows = under
                .query_map([format!("{p}/"), format!("{p}0")], base_row)
                .map_err(self.err())?;
            for row in rows {
                let (path, entry) = row.map_err(self.err())?;
                tree.insert(path, entry);
            }
        }
        Ok(tree)
    }

    /// The whole base tree.
    pub fn load_base(&self) -> Result<BaseTree> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, kind, l_size, l_mtime, l_id, l_etag, r_size, r_mtime, r_id, r_etag, hash FROM base",
            )
            .map_err(self.err())?;
        let rows = stmt.query_map([], base_row).map_err(self.err())?;
        let mut failed = None;
        let tree = crate::engine::tree::collect_packed(
            rows.map_while(|row| row.map_err(|e| failed = Some(e)).ok()),
        );
        match failed {
            Some(e) => Err(self.err()(e)),
            None => Ok(tree),
        }
    }

    /// Number of items in the base.
    pub fn base_len(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT count(*) FROM base", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(self.err())
    }

    /// Apply base changes and append log and conflict rows, in one
    /// transaction.
    pub fn record(
        &mut self,
        changes: &[BaseChange],
        log: &[LogRow],
        conflicts: &[ConflictRow],
    ) -> Result<()> {
        let path = self.path.clone();
        let err = |source| JournalError {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO base (path, kind, l_size, l_mtime, l_id, l_etag, r_size, r_mtime, r_id, r_etag, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(err)?;
            let mut forget = tx
                .prepare_cached(
                    "DELETE FROM base WHERE path = ?1 OR (path >= ?1 || '/' AND path < ?1 || '0')",
                )
                .map_err(err)?;
            let mut rekey = tx
                .prepare_cached(
                    "UPDATE base SET path = ?2 || substr(path, length(?1) + 1)
                     WHERE path = ?1 OR (path >= ?1 || '/' AND path < ?1 || '0')",
                )
                .map_err(err)?;
            for c in changes {
                match c {
                    BaseChange::Put(p, b) => {
                        put.execute(params![
                            p,
                            if b.kind == Kind::Dir { 1 } else { 0 },
                            b.local.size as i64,
                            b.local.mtime,
                            b.local.id.as_deref(),
                            b.local.etag.as_deref(),
                            b.remote.size as i64,
                            b.remote.mtime,
                            b.remote.id.as_deref(),
                            b.remote.etag.as_deref(),
                            b.hash.as_ref().map(|h| h.as_slice()),
                        ])
                        .map_err(err)?;
                    }
                    BaseChange::Forget(p) => {
                        forget.execute(params![p]).map_err(err)?;
                    }
                    BaseChange::Rekey { from, to } => {
                        forget.execute(params![to]).map_err(err)?;
                        rekey.execute(params![from, to]).map_err(err)?;
                    }
                }
            }
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO log (time, sync, action, path, bytes, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for l in log {
                ins.execute(params![
                    l.time,
                    l.sync,
                    l.action,
                    l.path,
                    l.bytes as i64,
                    l.result
                ])
                .map_err(err)?;
            }
            let mut ins = tx
                .prepare_cached(
                    "INSERT INTO conflicts (time, path, copy, policy) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(err)?;
            for c in conflicts {
                ins.execute(params![c.time, c.path, c.copy, c.policy])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// The transfer log, newest first, optionally filtered.
    pub fn log(
        &self,
        action: Option<&str>,
        search: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LogRow>> {
        self.log_page(action, search, limit, 0)
    }

    /// A page of the transfer log, newest first: `action` exactly, `search`
    /// anywhere in the path or the result (case-insensitive for ASCII).
    pub fn log_page(
        &self,
        action: Option<&str>,
        search: Option<&str>,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<LogRow>> {
        let search = search.map(|s| s.to_lowercase());
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT time, sync, action, path, bytes, result FROM log
                 WHERE (?1 IS NULL OR action = ?1)
                   AND (?2 IS NULL OR instr(lower(path), ?2) > 0 OR instr(lower(result), ?2) > 0)
                 ORDER BY id DESC LIMIT ?3 OFFSET ?4",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![action, search, limit as i64, offset as i64], |r| {
                Ok(LogRow {
                    time: r.get(0)?,
                    sync: r.get(1)?,
                    action: r.get(2)?,
                    path: r.get(3)?,
                    bytes: r.get::<_, i64>(4)? as u64,
                    result: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(self.err())
    }

    /// Conflicts recorded, newest first.
    pub fn conflicts(&self) -> Result<Vec<ConflictRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT time, path, copy, policy FROM conflicts WHERE resolved = 0 ORDER BY id DESC",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ConflictRow {
                    time: r.get(0)?,
                    path: r.get(1)?,
                    copy: r.get(2)?,
                    policy: r.get(3)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(self.err())
    }

    /// Conflicts not yet resolved by the user, newest first, with their ids.
    pub fn open_conflicts(&self) -> Result<Vec<(i64, ConflictRow)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, time, path, copy, policy FROM conflicts WHERE resolved = 0 ORDER BY id DESC",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    ConflictRow {
                        time: r.get(1)?,
                        path: r.get(2)?,
                        copy: r.get(3)?,
                        policy: r.get(4)?,
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(self.err())
    }

    /// Mark a conflict resolved (it leaves the list).
    pub fn resolve_conflict(&self, id: i64) -> Result<bool> {
        let n = self
            .conn
            .execute("UPDATE conflicts SET resolved = 1 WHERE id = ?1", [id])
            .map_err(self.err())?;
        Ok(n > 0)
    }

    /// One base entry (what Ferry last saw in sync at `path`).
    pub fn base_entry(&self, path: &str) -> Result<Option<BaseEntry>> {
        self.conn
            .query_row(
                "SELECT path, kind, l_size, l_mtime, l_id, l_etag, r_size, r_mtime, r_id, r_etag, hash FROM base WHERE path = ?1",
                [path],
                base_row,
            )
            .optional()
            .map(|r| r.map(|(_, e)| e))
            .map_err(self.err())
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    pub fn remove_meta(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", [key])
            .map(|_| ())
            .map_err(self.err())
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                [key, value],
            )
            .map(|_| ())
            .map_err(self.err())
    }
}

/// Why an error means the file is damaged (not merely busy or unreadable):
/// malformed, not a database, or a failed check.
fn damaged(e: &rusqlite::Error) -> Option<String> {
    match e {
        rusqlite::Error::SqliteFailure(f, msg)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            Some(msg.clone().unwrap_or_else(|| f.to_string()))
        }
        _ => None,
    }
}

/// Move a damaged journal and its `-wal` and `-shm` to
/// `<name>.corrupt-<time>[-wal|-shm]`; the new path of the journal.
fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut aside = PathBuf::from(format!("{}.corrupt-{stamp}", path.display()));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = PathBuf::from(format!("{}.corrupt-{stamp}-{n}", path.display()));
    }
    for suffix in ["-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        let to = PathBuf::from(format!("{}{suffix}", aside.display()));
        match std::fs::rename(&from, &to) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::rename(path, &aside)?;
    if let Some(dir) = path.parent() {
        let _ = crate::fsops::sync_dir(dir);
    }
    Ok(aside)
}

/// A `base` row as (path, entry); the columns as `load_base` selects them.
fn base_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, BaseEntry)> {
    let kind: i64 = r.get(1)?;
    let hash: Option<Vec<u8>> = r.get(10)?;
    Ok((
        r.get::<_, String>(0)?,
        BaseEntry {
            kind: if kind == 1 { Kind::Dir } else { Kind::File },
            local: Sig {
                size: r.get::<_, i64>(2)? as u64,
                mtime: r.get(3)?,
                id: r.get::<_, Option<String>>(4)?.map(Into::into),
                etag: r.get::<_, Option<String>>(5)?.map(Into::into),
            },
            remote: Sig {
                size: r.get::<_, i64>(6)? as u64,
                mtime: r.get(7)?,
                id: r.get::<_, Option<String>>(8)?.map(Into::into),
                etag: r.get::<_, Option<String>>(9)?.map(Into::into),
            },
            hash: hash.and_then(|h| h.try_into().ok()),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(size: u64) -> BaseEntry {
        BaseEntry {
            kind: Kind::File,
            local: Sig {
                size,
                mtime: 7,
                id: Some("1:2".into()),
                etag: None,
            },
            remote: Sig {
                size,
                mtime: 9,
                id: None,
                etag: Some("\"e\"".into()),
            },
            hash: Some([3; 32]),
        }
    }

    #[test]
    fn stats_are_read_without_changing_the_journal_and_a_damaged_one_is_left_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        {
            let j = Journal::open(&path).unwrap();
            j.set_meta("remote_state", "abc").unwrap();
        }
        let stats = Journal::read_stats(&path).unwrap();
        assert!(stats.user_version > 0);
        assert_eq!(
            stats.rows,
            vec![("base", 0), ("transfers", 0), ("log", 0), ("conflicts", 0)]
        );
        assert!(stats.meta.contains(&("remote_state".to_string(), 3)));
        let garbage = dir.path().join("g.db");
        std::fs::write(&garbage, b"not a database at all, not even close").unwrap();
        assert!(Journal::read_stats(&garbage).is_err());
        assert_eq!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
                .count(),
            0
        );
        assert!(garbage.exists());
    }

    #[test]
    fn base_round_trips_and_subtree_ops_respect_segments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut j = Journal::open(&path).unwrap();
        let puts: Vec<_> = ["a", "a/x", "a/y/z", "a b", "a-", "b"]
            .iter()
            .map(|p| BaseChange::Put(p.to_string(), entry(1)))
            .collect();
        j.record(&puts, &[], &[]).unwrap();
        j.record(
            &[BaseChange::Rekey {
                from: "a".into(),
                to: "c".into(),
            }],
            &[],
            &[],
        )
        .unwrap();
        let base = j.load_base().unwrap();
        let keys: Vec<_> = base.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a b", "a-", "b", "c", "c/x", "c/y/z"]);
        assert_eq!(base["c/x"], entry(1));
        j.record(&[BaseChange::Forget("c".into())], &[], &[])
            .unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.base_len().unwrap(), 3);
    }

    #[test]
    fn a_damaged_journal_is_set_aside_and_a_fresh_one_carries_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        let mut j = Journal::open(&path).unwrap();
        let puts: Vec<_> = (0..500)
            .map(|i| BaseChange::Put(format!("f{i:04}"), entry(i)))
            .collect();
        j.record(&puts, &[], &[]).unwrap();
        assert_eq!(j.meta(REBUILT_NOTE).unwrap(), None);
        drop(j);
        let len = std::fs::metadata(&path).unwrap().len();
        for damage in ["truncated", "garbage", "empty"] {
            match damage {
                "truncated" => {
                    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                    f.set_len(len / 2).unwrap();
                }
                "garbage" => std::fs::write(&path, vec![0x5a; 8192]).unwrap(),
                _ => std::fs::write(&path, b"").unwrap(),
            }
            let j = Journal::open(&path).unwrap();
            let note = j.meta(REBUILT_NOTE).unwrap().expect(damage);
            assert!(note.contains("was damaged"), "{note}");
            assert_eq!(j.base_len().unwrap(), 0, "{damage}");
            drop(j);
            // The damaged file is kept aside, not deleted.
            let aside = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
                .count();
            assert!(aside >= 1, "{damage}");
            // Re-created with a full base for the next round.
            std::fs::remove_file(&path).unwrap();
            let mut j = Journal::open(&path).unwrap();
            j.record(&puts, &[], &[]).unwrap();
        }
    }

    #[test]
    fn log_filters_by_action_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.db")).unwrap();
        let row = |action: &str, path: &str| LogRow {
            time: 1,
            sync: "s".into(),
            action: action.into(),
            path: path.into(),
            bytes: 3,
            result: "ok".into(),
        };
        j.record(
            &[],
            &[row("upload", "docs/a.txt"), row("download", "docs/b.txt")],
            &[],
        )
        .unwrap();
        assert_eq!(j.log(Some("upload"), None, 10).unwrap().len(), 1);
        assert_eq!(
            j.log(None, Some("b.txt"), 10).unwrap()[0].action,
            "download"
        );
        assert_eq!(j.log(None, None, 10).unwrap().len(), 2);
    }

    #[test]
    fn the_base_of_some_paths_holds_them_their_parents_and_contents() {
        let tmp = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&tmp.path().join("j.db")).unwrap();
        let e = |kind| crate::engine::BaseEntry {
            kind,
            local: Default::default(),
            remote: Default::default(),
            hash: None,
        };
        let changes: Vec<BaseChange> = [
            ("a", Kind::Dir),
            ("a/b", Kind::Dir),
            ("a/b/c", Kind::File),
            ("a/b c", Kind::File),
            ("a/b0", Kind::File),
            ("z", Kind::File),
        ]
        .into_iter()
        .map(|(p, k)| BaseChange::Put(p.into(), e(k)))
        .collect();
        j.record(&changes, &[], &[]).unwrap();
        let base = j.load_base_paths(&["a/b".into()]).unwrap();
        let keys: Vec<&str> = base.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a", "a/b", "a/b/c"]);
    }
}

#[cfg(all(test, unix))]
mod private_tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_journal_and_its_wal_and_shm_files_are_readable_by_the_user_only() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.db");
        let mut j = Journal::open(&path).unwrap();
        j.record(
            &[],
            &[LogRow {
                time: 1,
                sync: "s".into(),
                action: "upload".into(),
                path: "secret name.txt".into(),
                bytes: 1,
                result: "ok".into(),
            }],
            &[],
        )
        .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let p = tmp.path().join(format!("s.db{suffix}"));
            assert!(
                p.exists(),
                "{} exists while the journal is open",
                p.display()
            );
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }

    #[test]
    fn an_older_journal_readable_by_others_is_made_private_when_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.db");
        drop(Journal::open(&path).unwrap());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _j = Journal::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }
}
