//! [`LogEvents`] on SQLite: `log_events` holds each event once, clustered by repository-day
//! (`WITHOUT ROWID`, primary key `(repo_type, repo, day, key)`), so a recount of one
//! repository-day reads one contiguous range; `log_files` names the files fully ingested.

use std::sync::MutexGuard;

use rusqlite::{params, Connection, OptionalExtension};

use super::super::now_unix;
use super::{libraries, repo_type_code, repo_type_from_code, SqliteCounts};
use crate::domain::{Day, LibraryName, LogEvent, OrgName, RepoKey, RepoName, RepoType};
use crate::store::{
    EventFields, EventsWrite, LibraryRecord, LogEvents, LogFileInfo, RepoLibrary, StoreError,
    StoreResult,
};

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
/// The pruned horizon: the first day whose events are all kept (one row, once pruned).
pub(super) const MIGRATION_HORIZON: &str = r#"
    CREATE TABLE log_horizon (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        first_day INTEGER NOT NULL
    );
"#;

struct SqliteEventsWrite<'a> {
    conn: MutexGuard<'a, Connection>,
    /// Events not inserted yet, with their key and user-agent class.
    pending: Vec<Pending>,
    /// Pushed events inserted that the table did not hold.
    added: u64,
    committed: bool,
}

struct Pending {
    key: [u8; 16],
    event: LogEvent,
    agent: Option<Box<str>>,
}

impl SqliteEventsWrite<'_> {
    /// Inserts one event; `false` when the table held it (its class then becomes the
    /// greater of the two).
    fn insert(&mut self, key: &[u8; 16], e: &LogEvent, agent: Option<&str>) -> StoreResult<bool> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO log_events \
             (repo_type, repo, day, key, at_ms, method, status, path, user_hash, ip_hash, agent) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let added = stmt.execute(params![
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
            agent,
        ])?;
        if added == 0 && agent.is_some() {
            let mut keep_greatest = self.conn.prepare_cached(
                "UPDATE log_events SET agent = ?5 \
                 WHERE repo_type = ?1 AND repo = ?2 AND day = ?3 AND key = ?4 \
                   AND (agent IS NULL OR agent < ?5)",
            )?;
            keep_greatest.execute(params![
                repo_type_code(e.repo.repo_type),
                e.repo.name.as_str(),
                e.day().epoch_days(),
                &key[..],
                agent,
            ])?;
        }
        Ok(added == 1)
    }

    /// Inserts the buffered events sorted by the table's primary key, so that consecutive
    /// inserts land on the same B-tree pages instead of all over the table.
    fn flush(&mut self) -> StoreResult<()> {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable_by(|a, b| {
            fn order(p: &Pending) -> (RepoType, &str, i64) {
                let e = &p.event;
                let day = e.at_ms.div_euclid(MS_PER_DAY);
                (e.repo.repo_type, e.repo.name.as_str(), day)
            }
            order(a).cmp(&order(b)).then_with(|| a.key.cmp(&b.key))
        });
        for p in pending.drain(..) {
            if self.insert(&p.key, &p.event, p.agent.as_deref())? {
                self.added += 1;
            }
        }
        self.pending = pending; // keeps its capacity for the next batch
        Ok(())
    }
}

const MS_PER_DAY: i64 = 86_400_000;

impl EventsWrite for SqliteEventsWrite<'_> {
    fn add(&mut self, e: &LogEvent) -> StoreResult<bool> {
        // Pushed events first, so that one of them counts as held.
        self.flush()?;
        self.insert(&e.key(), e, None)
    }

    fn add_classified(&mut self, e: &LogEvent, agent: &str) -> StoreResult<bool> {
        self.flush()?;
        self.insert(&e.key(), e, Some(agent))
    }

    fn push(&mut self, event: LogEvent, agent: Option<&str>) -> StoreResult<()> {
        self.pending.push(Pending {
            key: event.key(),
            event,
            agent: agent.map(Box::from),
        });
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn name_library(
        &mut self,
        repo: &RepoKey,
        at_ms: i64,
        library: &LibraryName,
    ) -> StoreResult<()> {
        libraries::name_library(&self.conn, repo, at_ms, library)
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

    fn classified_events_of(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(LogEvent, Option<String>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at_ms, method, status, path, user_hash, ip_hash, agent \
                 FROM log_events WHERE repo_type = ?1 AND repo = ?2 AND day = ?3",
            )?;
            let mut rows = stmt.query(params![
                repo_type_code(repo.repo_type),
                repo.name.as_str(),
                day.epoch_days()
            ])?;
            while let Some(r) = rows.next()? {
                // The repository is the one asked for: no stored name to parse again.
                let event = LogEvent {
                    repo: repo.clone(),
                    at_ms: r.get(0)?,
                    method: r.get(1)?,
                    status: r.get(2)?,
                    path: r.get(3)?,
                    user: r.get(4)?,
                    ip: r.get(5)?,
                };
                f(event, r.get(6)?)?;
            }
            Ok(())
        })
    }

    fn events_of_days(
        &self,
        repo: &RepoKey,
        first: Day,
        last: Day,
        fields: EventFields,
        f: &mut dyn FnMut(Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let sql = match fields {
            EventFields::All => {
                "SELECT day, at_ms, method, status, path, user_hash, ip_hash FROM log_events \
                 WHERE repo_type = ?1 AND repo = ?2 AND day BETWEEN ?3 AND ?4 ORDER BY day"
            }
            EventFields::Request => {
                "SELECT day, 0, method, status, path, NULL, NULL FROM log_events \
                 WHERE repo_type = ?1 AND repo = ?2 AND day BETWEEN ?3 AND ?4 ORDER BY day"
            }
        };
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
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

    fn agent_classes(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(Option<String>, u64) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT agent, count(*) FROM log_events \
                 WHERE repo_type = ?1 AND repo = ?2 AND day = ?3 GROUP BY agent ORDER BY agent",
            )?;
            let mut rows = stmt.query(params![
                repo_type_code(repo.repo_type),
                repo.name.as_str(),
                day.epoch_days()
            ])?;
            while let Some(r) = rows.next()? {
                f(r.get(0)?, r.get::<_, i64>(1)? as u64)?;
            }
            Ok(())
        })
    }

    fn days_of(
        &self,
        repo: &RepoKey,
        f: &mut dyn FnMut(Day) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT day FROM log_events WHERE repo_type = ?1 AND repo = ?2 \
                 ORDER BY day",
            )?;
            let mut rows =
                stmt.query(params![repo_type_code(repo.repo_type), repo.name.as_str()])?;
            while let Some(r) = rows.next()? {
                f(Day::from_epoch_days(r.get(0)?))?;
            }
            Ok(())
        })
    }

    fn library(&self, repo: &RepoKey) -> StoreResult<RepoLibrary> {
        self.db.read(|conn| libraries::read(conn, repo))
    }

    fn set_library(
        &self,
        repo: &RepoKey,
        library: Option<&LibraryName>,
    ) -> StoreResult<RepoLibrary> {
        self.set_library_by_hand(repo, library)
    }

    fn library_changes(
        &self,
        org: Option<&OrgName>,
        f: &mut dyn FnMut(RepoKey) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.changed_libraries(org, f)
    }

    fn library_counted(&self, repo: &RepoKey, library: Option<&LibraryName>) -> StoreResult<()> {
        self.clear_library_change(repo, library)
    }

    fn horizon(&self) -> StoreResult<Option<Day>> {
        self.db.read(|conn| {
            let day: Option<i32> = conn
                .query_row("SELECT first_day FROM log_horizon WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()?;
            Ok(day.map(Day::from_epoch_days))
        })
    }

    fn log_files(
        &self,
        f: &mut dyn FnMut(&str, LogFileInfo) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| {
            let mut stmt = conn
                .prepare("SELECT name, rows, events, ingested_unix FROM log_files ORDER BY name")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(0)?;
                let info = LogFileInfo {
                    rows: r.get::<_, i64>(1)? as u64,
                    events: r.get::<_, i64>(2)? as u64,
                    ingested_unix: r.get(3)?,
                };
                f(&name, info)?;
            }
            Ok(())
        })
    }

    fn set_downloader_secret(&self, secret: &[u8]) -> StoreResult<()> {
        self.db.writer().execute(
            "INSERT OR REPLACE INTO log_secret (id, secret) VALUES (1, ?1)",
            [secret],
        )?;
        Ok(())
    }

    fn libraries(
        &self,
        f: &mut dyn FnMut(RepoKey, LibraryRecord) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| libraries::records(conn, f))
    }

    fn prune_before(&self, first_kept: Day) -> StoreResult<u64> {
        let mut conn = self.db.writer();
        let tx = conn.transaction()?;
        let dropped = tx.execute(
            "DELETE FROM log_events WHERE day < ?1",
            [first_kept.epoch_days()],
        )?;
        tx.execute(
            "INSERT INTO log_horizon (id, first_day) VALUES (1, ?1) \
             ON CONFLICT (id) DO UPDATE SET first_day = max(first_day, excluded.first_day)",
            [first_kept.epoch_days()],
        )?;
        tx.commit()?;
        Ok(dropped as u64)
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
