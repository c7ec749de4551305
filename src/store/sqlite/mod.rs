//! The embedded backend: counts in the `--store` file ([`SqliteCounts`]), accounts in a file of
//! their own beside it ([`SqliteAccounts`], see [`accounts_path`]), so that signing in never
//! waits for an import. Each file is one SQLite database in WAL mode (or a private temporary
//! private temporary file for tests) behind a [`Db`]: one writer connection behind a mutex serializes
//! writes; reads use a small pool of their own connections, so reads never wait for a write.

mod accounts;
mod counts;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use accounts::SqliteAccounts;
pub use counts::SqliteCounts;

use super::{StoreError, StoreResult};

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

/// Where the accounts of the store at `counts` live: `hubstats.db` → `hubstats.accounts.db`
/// (any other name gets `.accounts.db` appended).
pub fn accounts_path(counts: &Path) -> PathBuf {
    let name = counts
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".db").unwrap_or(&name);
    counts.with_file_name(format!("{stem}.accounts.db"))
}

/// Idle readers kept open per database: a reader beyond it is closed when its read ends.
/// Each kept reader holds its page cache (up to [`READER_CACHE_KIB`]) and nothing closes an
/// idle one later, so after a burst the server kept every one: `scripts/load` (mixed run /
/// with the sign-in flood, memory after the run against before) read +15–20% / +18–24% over
/// three runs with 8 idle readers, +17% / +17% with 2, and +7–9% / +16% in three with 1, at
/// the same latency and throughput within noise (opening a reader again is cheap next to the
/// work around it, and the read index answers most reads).
const MAX_IDLE_READERS: usize = 1;

/// How long a connection waits for another process's write before giving up. Imports of
/// large files hold the write lock for tens of seconds; waiting (and saying so) is better than
/// failing.
const BUSY_WAIT: Duration = Duration::from_secs(1800);
const BUSY_POLL: Duration = Duration::from_millis(20);

/// SQLite's `wal_autocheckpoint` (pages), which the store keeps.
const DEFAULT_AUTOCHECKPOINT: i64 = 1000;

/// SQLite's busy handler: logs once per wait that the store is locked, then polls.
fn wait_for_writer(attempt: i32) -> bool {
    if attempt == 0 {
        tracing::warn!(
            "the store is locked by another write (an import?); waiting for it to finish"
        );
    }
    std::thread::sleep(BUSY_POLL);
    (attempt as u128) * BUSY_POLL.as_millis() < BUSY_WAIT.as_millis()
}

/// One SQLite database: the writer connection and a pool of readers.
pub(crate) struct Db {
    /// Where reader connections are opened from.
    pub(super) uri: String,
    /// The directory of a private database ([`Db::memory`]), removed when the store is dropped.
    _private: Option<tempfile::TempDir>,
    /// The checkpoint running beside the writer ([`Db::commit_checkpointing_aside`]), joined
    /// before the next one starts and when the database is dropped.
    checkpoint: Mutex<Option<std::thread::JoinHandle<()>>>,
    // Fields drop in declaration order: readers close before the writer, so the writer is the
    // last connection and SQLite checkpoints the WAL into the main file when it closes.
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Connection>,
}

impl Drop for Db {
    fn drop(&mut self) {
        self.wait_for_checkpoint();
    }
}

impl Db {
    /// Opens (creating if needed) a database file in WAL mode.
    fn open(path: &Path) -> StoreResult<Self> {
        let mut writer = Connection::open(path)?;
        configure(&mut writer, WRITER_CACHE_KIB)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        Ok(Db {
            uri: path.to_string_lossy().into_owned(),
            _private: None,
            checkpoint: Mutex::new(None),
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(writer),
        })
    }

    /// A private database in a temporary directory that lives as long as the value: the same
    /// connections, WAL and snapshots as a store file (reading while a write is open works),
    /// for tests.
    fn memory() -> StoreResult<Self> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut db = Db::open(&dir.path().join("private.db"))?;
        db._private = Some(dir);
        Ok(db)
    }

    fn location(&self) -> &str {
        &self.uri
    }

    /// The writer connection.
    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (the transaction
        // rolls back), so a poisoned lock is safe to reuse.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits the transaction open on `writer` (the writer connection) without checkpointing
    /// on the way, then checkpoints on a thread of its own while the caller goes on. For large
    /// writes: SQLite's automatic checkpoint would copy the write's pages from the WAL into
    /// the main file and sync it before `COMMIT` returned (0.11–0.13 s of a 1M-row `hf-csv`
    /// ingest, whose recount then waited for it); beside it, the recount reads and writes
    /// meanwhile (a WAL checkpoint and a writer may run at once). The WAL keeps every
    /// committed page until the checkpoint has copied it, so nothing depends on it finishing:
    /// a process stopped during it leaves a store as consistent as one stopped before it.
    fn commit_checkpointing_aside(&self, writer: &Connection) -> StoreResult<()> {
        commit_without_checkpoint(writer)?;
        self.checkpoint_aside();
        Ok(())
    }

    /// Starts a checkpoint on a thread of its own (after the one running, if any, ended).
    fn checkpoint_aside(&self) {
        self.wait_for_checkpoint();
        let uri = self.uri.clone();
        let checkpoint = move || {
            let run = || -> rusqlite::Result<()> {
                let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&uri, flags)?;
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            };
            // The WAL is checkpointed later (by the next write, or when the writer closes).
            if let Err(e) = run() {
                tracing::debug!(error = %e, "checkpoint beside the writer");
            }
        };
        *self.checkpoint.lock().unwrap_or_else(|p| p.into_inner()) = std::thread::Builder::new()
            .name("hubstats-checkpoint".to_owned())
            .spawn(checkpoint)
            .ok();
    }

    /// Waits for the checkpoint started by [`Db::commit_checkpointing_aside`], if one runs.
    fn wait_for_checkpoint(&self) {
        let running = self
            .checkpoint
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(running) = running {
            let _ = running.join();
        }
    }

    /// Runs `f` on a read connection.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let mut c = Connection::open_with_flags(&self.uri, flags)?;
                configure(&mut c, READER_CACHE_KIB)?;
                c
            }
        };
        let result = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS && conn.is_autocommit() {
            idle.push(conn);
        }
        result
    }

    /// Brings the schema up to date: `migrations[i]` runs once, in order, in one transaction,
    /// and `PRAGMA user_version` counts those applied.
    fn migrate(&self, migrations: &[&str]) -> StoreResult<()> {
        let conn = self.writer();
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = migrations.len() as i64;
        if found > known {
            return Err(StoreError::NewerSchema {
                path: self.location().to_owned(),
                found,
                known,
            });
        }
        for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
                i + 1
            ))?;
        }
        Ok(())
    }
}

/// Page cache per connection. The writer's is large (an import rewrites chunks it just read);
/// readers build and patch indexes and stream exports, which read each page once (the
/// operating system's file cache serves a page read again), so theirs is small: a server that
/// kept a full 8 MiB cache in each of its idle readers grew by tens of MiB after a burst of
/// concurrent downloads and kept it.
const WRITER_CACHE_KIB: i64 = 64 * 1024;
const READER_CACHE_KIB: i64 = 2 * 1024;

/// Commits the transaction open on `conn` with its automatic checkpoint off for that commit.
fn commit_without_checkpoint(conn: &Connection) -> StoreResult<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    let committed = conn.execute_batch("COMMIT");
    conn.pragma_update(None, "wal_autocheckpoint", DEFAULT_AUTOCHECKPOINT)?;
    Ok(committed?)
}

fn configure(conn: &mut Connection, cache_kib: i64) -> StoreResult<()> {
    conn.busy_handler(Some(wait_for_writer))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    Ok(())
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A large write committed with its checkpoint aside: the commit leaves the pages in the
    /// WAL (the main file keeps its size) and the writer's automatic checkpoint back on; the
    /// checkpoint beside it then copies them into the main file while every connection stays
    /// open (closing the writer would have copied them too). `commit_checkpointing_aside` is
    /// these two steps.
    #[test]
    fn a_write_committed_aside_is_checkpointed_beside_the_writer() {
        let db = Db::memory().unwrap();
        let main_file = std::path::PathBuf::from(&db.uri);
        let size = || std::fs::metadata(&main_file).unwrap().len();
        {
            let writer = db.writer();
            writer
                .execute_batch("CREATE TABLE t (x BLOB); BEGIN IMMEDIATE")
                .unwrap();
            for _ in 0..2_000 {
                writer
                    .execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                    .unwrap();
            }
            let before = size();
            commit_without_checkpoint(&writer).unwrap();
            assert_eq!(size(), before, "the commit copied pages into the main file");
            let pages: i64 = writer
                .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
                .unwrap();
            assert_eq!(pages, DEFAULT_AUTOCHECKPOINT);
            assert!(writer.is_autocommit(), "committed");
        }
        let rows: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(rows, 2_000);
        db.checkpoint_aside();
        db.wait_for_checkpoint();
        let size = size();
        assert!(size > 8_000_000, "main file: {size} bytes");
    }
}
