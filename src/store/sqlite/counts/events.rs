//! [`LogEvents`] on SQLite: `log_events` holds each event once, clustered by repository-day
//! (`WITHOUT ROWID`, primary key `(repo_type, repo, day, key)`), so a recount of one
//! repository-day reads one contiguous range; `log_files` names the files fully ingested.

use std::sync::MutexGuard;

use rusqlite::{params, Connection, OptionalExtension};

use super::super::now_unix;
use super::{repo_type_code, repo_type_from_code, SqliteCounts};
use crate::domain::{Day, LogEvent, OrgName, RepoKey, RepoName};
use crate::store::{EventsWrite, LogEvents, LogFileInfo, StoreError, StoreResult};

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE log_events (
        repo_type INTEGER NOT NULL,
        repo      TEXT NOT NULL,
        day       INTEGER NOT NULL,
        key       BLOB NOT NULL,
        at_ms     INTEGER NOT NULL,
        method    TEXT NOT NULL,
        status    INTEGER NOT NULL,
        path      TEXT,
        user_hash TEXT,
        ip_hash   TEXT,
        PRIMARY KEY (repo_type, repo, day, key)
    ) WITHOUT ROWID;
    CREATE TABLE log_files (
        name          TEXT PRIMARY KEY,
        rows          INTEGER NOT NULL,
        events        INTEGER NOT NULL,
        ingested_unix INTEGER NOT NULL
    );
"#;

pub(super) const MIGRATION_SECRET: &str = r#"
    CREATE TABLE log_secret (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        secret BLOB NOT NULL
    );
"#;

/// Events buffered before they are inserted in primary-key order (about 20 MB).
const FLUSH_AT: usize = 1 << 16;

struct SqliteEventsWrite<'a> {
    conn: MutexGuard<'a, Connection>,
    /// Events not inserted yet, with their key.
    pending: Vec<([u8; 16], LogEvent)>,
    /// Pushed events inserted that the table did not hold.
    added: u64,
    committed: bool,
}

impl SqliteEventsWrite<'_> {
    /// Inserts the buffered events sorted by the table's primary key, so that consecutive
    /// inserts land on the same B-tree pages instead of all over the table.
    fn flush(&mut self) -> StoreResult<()> {
        self.pending.sort_unstable_by(|(ka, a), (kb, b)| {
            (
                a.repo.repo_type,
                a.repo.name.as_str(),
                a.at_ms.div_euclid(MS_PER_DAY),
                ka,
            )
                .cmp(&(
                    b.repo.repo_type,
                    b.repo.name.as_str(),
                    b.at_ms.div_euclid(MS_PER_DAY),
                    kb,
                ))
        });
        let mut stmt = self.conn.prepare_cached(INSERT)?;
        for (key, e) in self.pending.drain(..) {
            self.added += stmt.execute(params![
                repo_type_code(e.repo.repo_type),
                e.repo.name.as_str(),
                e.day().epoch_days(),
                &key[..],
                e.at_ms,
                e.method,
                e.status,
                e.path,
                e.user,
                e.ip,
            ])? as u64;
        }
        Ok(())
    }
}

const MS_PER_DAY: i64 = 86_400_000;

const INSERT: &str = "INSERT OR IGNORE INTO log_events \
    (repo_type, repo, day, key, at_ms, method, status, path, user_hash, ip_hash) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

impl EventsWrite for SqliteEventsWrite<'_> {
    fn add(&mut self, e: &LogEvent) -> StoreResult<bool> {
        // Pushed events first, so that one of them counts as held.
        self.flush()?;
        let mut stmt = self.conn.prepare_cached(INSERT)?;
        let added = stmt.execute(params![
            repo_type_code(e.repo.repo_type),
            e.repo.name.as_str(),
            e.day().epoch_days(),
            &e.key()[..],
            e.at_ms,
            e.method,
            e.status,
            e.path,
            e.user,
            e.ip,
        ])?;
        Ok(added == 1)
    }

    fn push(&mut self, e: LogEvent) -> StoreResult<()> {
        self.pending.push((e.key(), e));
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> StoreResult<u64> {
        self.flush()?;
        self.conn.execute_batch("COMMIT")?;
        self.committed = true;
        Ok(self.added)
    }
}

impl Drop for SqliteEventsWrite<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // As for counts writes: a failed rollback is discarded with the connection.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl LogEvents for SqliteCounts {
    fn add_events(&self) -> StoreResult<Box<dyn EventsWrite + '_>> {
        let conn = self.db.writer();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteEventsWrite {
            conn,
            pending: Vec::new(),
            added: 0,
            committed: false,
        }))
    }

    fn events_of(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT repo_type, repo, at_ms, method, status, path, user_hash, ip_hash \
                 FROM log_events WHERE repo_type = ?1 AND repo = ?2 AND day = ?3",
            )?;
            let mut rows = stmt.query(params![
                repo_type_code(repo.repo_type),
                repo.name.as_str(),
                day.epoch_days()
            ])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(1)?;
                let name = RepoName::parse(&name).map_err(|e| {
                    StoreError::Backend(format!("stored event repository: {e}").into())
                })?;
                f(LogEvent {
                    repo: RepoKey {
                        repo_type: repo_type_from_code(r.get(0)?)?,
                        name,
                    },
                    at_ms: r.get(2)?,
                    method: r.get(3)?,
                    status: r.get(4)?,
                    path: r.get(5)?,
                    user: r.get(6)?,
                    ip: r.get(7)?,
                })?;
            }
            Ok(())
        })
    }

    fn events_of_days(
        &self,
        repo: &RepoKey,
        first: Day,
        last: Day,
        f: &mut dyn FnMut(Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT day, at_ms, method, status, path, user_hash, ip_hash FROM log_events \
                 WHERE repo_type = ?1 AND repo = ?2 AND day BETWEEN ?3 AND ?4 ORDER BY day",
            )?;
            let mut rows = stmt.query(params![
                repo_type_code(repo.repo_type),
                repo.name.as_str(),
                first.epoch_days(),
                last.epoch_days()
            ])?;
            while let Some(r) = rows.next()? {
                let event = LogEvent {
                    repo: repo.clone(),
                    at_ms: r.get(1)?,
                    method: r.get(2)?,
                    status: r.get(3)?,
                    path: r.get(4)?,
                    user: r.get(5)?,
                    ip: r.get(6)?,
                };
                f(Day::from_epoch_days(r.get(0)?), event)?;
            }
            Ok(())
        })
    }

    fn event_days(
        &self,
        org: Option<&OrgName>,
        from: Option<Day>,
        f: &mut dyn FnMut(RepoKey, Day) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let from = from.unwrap_or(Day::MIN).epoch_days();
        // Without an organization, every name is at or after "" and before "\u{10FFFF}".
        let (first, last) = match org {
            Some(org) => (format!("{org}/"), format!("{org}0")),
            None => (String::new(), "\u{10FFFF}".to_owned()),
        };
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT repo_type, repo, day FROM log_events \
                 WHERE repo >= ?1 AND repo < ?2 AND day >= ?3 ORDER BY repo_type, repo, day",
            )?;
            let mut rows = stmt.query(params![first, last, from])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(1)?;
                let name = RepoName::parse(&name).map_err(|e| {
                    StoreError::Backend(format!("stored event repository: {e}").into())
                })?;
                let repo = RepoKey {
                    repo_type: repo_type_from_code(r.get(0)?)?,
                    name,
                };
                f(repo, Day::from_epoch_days(r.get(2)?))?;
            }
            Ok(())
        })
    }

    fn log_file(&self, name: &str) -> StoreResult<Option<LogFileInfo>> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT rows, events, ingested_unix FROM log_files WHERE name = ?1",
            )?;
            let info = stmt
                .query_row([name], |r| {
                    Ok(LogFileInfo {
                        rows: r.get::<_, i64>(0)? as u64,
                        events: r.get::<_, i64>(1)? as u64,
                        ingested_unix: r.get(2)?,
                    })
                })
                .optional()?;
            Ok(info)
        })
    }

    fn record_log_file(&self, name: &str, rows: u64, events: u64) -> StoreResult<()> {
        self.db.writer().execute(
            "INSERT OR IGNORE INTO log_files (name, rows, events, ingested_unix) \
             VALUES (?1, ?2, ?3, ?4)",
            params![name, rows as i64, events as i64, now_unix()],
        )?;
        Ok(())
    }

    fn downloader_secret(&self) -> StoreResult<Vec<u8>> {
        let mut fresh = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut fresh);
        let conn = self.db.writer();
        conn.execute(
            "INSERT OR IGNORE INTO log_secret (id, secret) VALUES (1, ?1)",
            [&fresh[..]],
        )?;
        let secret = conn.query_row("SELECT secret FROM log_secret WHERE id = 1", [], |r| {
            r.get(0)
        })?;
        Ok(secret)
    }
}

/// Removes the organization's events (inside the caller's transaction): repositories named
/// `org/…`, i.e. from `org/` up to (excluding) `org0` (`'0'` follows `'/'`). The record of
/// ingested files is cleared too, since any of them may have held the organization's events:
/// ingesting a file again then restores them, and re-adds nothing else (events are a set and
/// a recount sets what it computes).
pub(super) fn remove_org(conn: &Connection, org: &OrgName) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM log_events WHERE repo >= ?1 AND repo < ?2",
        params![format!("{org}/"), format!("{org}0")],
    )?;
    conn.execute("DELETE FROM log_files", [])?;
    Ok(())
}
