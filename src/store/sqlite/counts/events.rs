//! [`LogEvents`] on SQLite: `log_event_blocks` holds each event once, in blocks of one
//! repository-day ([`event_block`]: the events' keys and the events, ordered by key), clustered
//! by repository-day, so a recount of a repository reads a few contiguous BLOBs; `log_files`
//! names the files fully ingested.
//!
//! A write buffers its events, sorts them by repository-day and key, and stores each
//! repository-day's new ones as one more block. An event is new when no block of its
//! repository-day holds its key; only the blocks whose time range (`first_ms`–`last_ms`)
//! contains one of the write's instants are looked into (a key covers the instant), so a log
//! written in time order never reads a stored block. Blocks are merged size-tiered — a new
//! block absorbs the repository-day's last block while that one holds at most twice as many
//! events, up to [`MAX_BLOCK_EVENTS`] — so small writes (HTTP batches) leave a logarithmic
//! number of blocks and each event is rewritten a logarithmic number of times.

use std::collections::{BTreeMap, HashMap};
use std::sync::MutexGuard;

use rusqlite::{params, Connection, OptionalExtension};

use super::super::{now_unix, Db};
use super::event_block::{self, Kept, KEY_LEN, MS_PER_DAY};
use super::{legacy, libraries, repo_type_code, repo_type_from_code, SqliteCounts};
use crate::domain::{Day, LibraryName, LogEvent, OrgName, RepoKey, RepoName};
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

/// Events buffered before they are stored in repository-day order (about 40 MB). Twice 65,536
/// took a 5M-row `hf-csv` ingest from 9.9–10.4 to 9.3–9.6 s (fewer flushes: fewer blocks of a
/// repository-day absorbed and written again) for +17 MB of peak RSS; four times, another
/// 3% for +40 MB more.
const FLUSH_AT: usize = 1 << 17;
/// The pruned horizon: the first day whose events are all kept (one row, once pruned).
pub(super) const MIGRATION_HORIZON: &str = r#"
    CREATE TABLE log_horizon (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        first_day INTEGER NOT NULL
    );
"#;

/// Migration 11: events in blocks. [`convert`] then moves the rows of `log_events` (one per
/// event) into blocks and drops that table.
pub(super) const MIGRATION_BLOCKS: &str = r#"
    CREATE TABLE log_event_blocks (
        repo_type INTEGER NOT NULL,
        repo      TEXT NOT NULL,
        day       INTEGER NOT NULL,
        block     INTEGER NOT NULL,
        events    INTEGER NOT NULL,
        first_ms  INTEGER NOT NULL,
        last_ms   INTEGER NOT NULL,
        keys      BLOB NOT NULL,
        data      BLOB NOT NULL,
        PRIMARY KEY (repo_type, repo, day, block)
    );
"#;

/// Migration 12: each file's head record (see [`LogEvents::may_know_log_file`]); files
/// recorded before have none, so a store that holds some keeps hashing every file in full.
pub(super) const MIGRATION_FILE_HEADS: &str = r#"
    ALTER TABLE log_files ADD COLUMN head TEXT;
    CREATE INDEX log_files_head ON log_files (head, name);
"#;

/// A merge of blocks stops short of this many events (a block's BLOBs stay under ~20 MB).
pub(super) const MAX_BLOCK_EVENTS: usize = 1 << 18;
// A flush's events of one repository-day always fit one block.
const _: () = assert!(FLUSH_AT <= MAX_BLOCK_EVENTS);

/// Moves the events of a store made before blocks (`log_events`, one row each) into blocks,
/// in one transaction; does nothing once done.
pub(super) fn convert(db: &Db) -> StoreResult<()> {
    let conn = db.writer();
    if !legacy::table_exists(&conn, "main", "log_events")? {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    // Another process opening the same store may have converted it meanwhile.
    let result = match legacy::table_exists(&conn, "main", "log_events") {
        Ok(true) => move_rows_told(&conn),
        other => other.map(drop),
    };
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end)?;
    result
}

/// [`move_rows`], telling the operator first when there is much to move: the command that
/// opened the store says nothing else meanwhile (about a second per million events).
fn move_rows_told(conn: &Connection) -> StoreResult<()> {
    let events: i64 = conn.query_row("SELECT count(*) FROM log_events", [], |r| r.get(0))?;
    let started = std::time::Instant::now();
    if events >= 100_000 {
        tracing::warn!(
            events,
            "upgrading the store: moving its kept request-log events into blocks, once \
             (about a second per million events)"
        );
    }
    move_rows(conn)?;
    tracing::info!(
        events,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "kept request-log events moved into blocks"
    );
    Ok(())
}

fn move_rows(conn: &Connection) -> StoreResult<()> {
    let mut stmt = conn.prepare(
        "SELECT repo_type, repo, day, key, at_ms, method, status, path, user_hash, ip_hash, \
         agent FROM log_events ORDER BY repo_type, repo, day, key",
    )?;
    let mut rows = stmt.query([])?;
    // The repository-day being read (as stored, and its repository), its events not stored
    // yet, and the number of its next block.
    let mut at: Option<((i64, String, i32), RepoKey)> = None;
    let mut group: Vec<Kept> = Vec::new();
    let mut block = 0;
    while let Some(r) = rows.next()? {
        let place: (i64, String, i32) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let day = place.2;
        if at.as_ref().is_none_or(|(read, _)| *read != place) {
            if let Some(((_, _, day), _)) = &at {
                store_moved(conn, *day, &mut group, &mut block)?;
            }
            let name = RepoName::parse(&place.1)
                .map_err(|e| StoreError::Backend(format!("stored event repository: {e}").into()))?;
            let repo = RepoKey {
                repo_type: repo_type_from_code(place.0)?,
                name,
            };
            (at, block) = (Some((place, repo)), 0);
        }
        let Some((_, repo)) = &at else {
            unreachable!("set above")
        };
        let key: Vec<u8> = r.get(3)?;
        group.push(Kept {
            key: key
                .try_into()
                .map_err(|_| StoreError::Backend("a stored event key is not 16 bytes".into()))?,
            event: LogEvent {
                repo: repo.clone(),
                at_ms: r.get(4)?,
                method: r.get(5)?,
                status: r.get(6)?,
                path: r.get(7)?,
                user: r.get(8)?,
                ip: r.get(9)?,
            },
            agent: r.get(10)?,
        });
        if group.len() == MAX_BLOCK_EVENTS {
            store_moved(conn, day, &mut group, &mut block)?;
        }
    }
    if let Some(((_, _, day), _)) = &at {
        store_moved(conn, *day, &mut group, &mut block)?;
    }
    drop(rows);
    drop(stmt);
    conn.execute_batch("DROP TABLE log_events")?;
    Ok(())
}

/// Stores the moved events of one repository-day read so far (if any) as block `block`, and
/// moves on to the next block.
fn store_moved(
    conn: &Connection,
    day: i32,
    group: &mut Vec<Kept>,
    block: &mut i64,
) -> StoreResult<()> {
    if !group.is_empty() {
        insert_block(conn, day, group, *block)?;
        group.clear();
        *block += 1;
    }
    Ok(())
}

/// Stores `events` (one repository-day, ascending by key, not empty) as block `block`.
fn insert_block(conn: &Connection, day: i32, events: &[Kept], block: i64) -> StoreResult<()> {
    let first = &events[0].event;
    let day_ms = i64::from(day) * MS_PER_DAY;
    let (mut keys, mut data) = (Vec::with_capacity(events.len() * KEY_LEN), Vec::new());
    event_block::encode(
        day_ms,
        events
            .iter()
            .map(|k| (&k.event, k.agent.as_deref(), &k.key)),
        &mut keys,
        &mut data,
    );
    let first_ms = events.iter().map(|k| k.event.at_ms).min().unwrap_or(day_ms);
    let last_ms = events.iter().map(|k| k.event.at_ms).max().unwrap_or(day_ms);
    let mut stmt = conn.prepare_cached(
        "INSERT INTO log_event_blocks \
         (repo_type, repo, day, block, events, first_ms, last_ms, keys, data) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    stmt.execute(params![
        repo_type_code(first.repo.repo_type),
        first.repo.name.as_str(),
        day,
        block,
        events.len() as i64,
        first_ms,
        last_ms,
        keys,
        data,
    ])?;
    Ok(())
}

/// A stored block: its repository, day and number.
type BlockPlace<'a> = (&'a RepoKey, i32, i64);

/// Reads one stored block's row with `sql`, whose parameters are a [`BlockPlace`].
fn block_row<T>(
    conn: &Connection,
    sql: &str,
    (repo, day, block): BlockPlace<'_>,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<T> {
    let place = params![
        repo_type_code(repo.repo_type),
        repo.name.as_str(),
        day,
        block
    ];
    Ok(conn.prepare_cached(sql)?.query_row(place, f)?)
}

fn delete_block(conn: &Connection, (repo, day, block): BlockPlace<'_>) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM log_event_blocks \
         WHERE repo_type = ?1 AND repo = ?2 AND day = ?3 AND block = ?4",
    )?
    .execute(params![
        repo_type_code(repo.repo_type),
        repo.name.as_str(),
        day,
        block
    ])?;
    Ok(())
}

/// A stored block's place and time range.
struct BlockMeta {
    block: i64,
    events: usize,
    first_ms: i64,
    last_ms: i64,
}

struct SqliteEventsWrite<'a> {
    db: &'a Db,
    conn: MutexGuard<'a, Connection>,
    /// Whether a full buffer was stored already: a large write, checkpointed aside.
    large: bool,
    /// Events not stored yet, and each one's place in the order they are stored in (sorting
    /// the places, then taking the events, moves 48 bytes an event instead of 200).
    pending: Vec<Option<Kept>>,
    order: Vec<Order>,
    /// A number for each repository of `pending`, so that ordering events compares integers.
    /// (The maps of an ingest's rows hash with aHash: keyed per process like the standard
    /// SipHash, so names sent to `POST /api/ingest` cannot be chosen to collide, and faster;
    /// SipHash was ~3% of an `hf-csv` ingest's CPU.)
    repos: HashMap<RepoKey, u32, ahash::RandomState>,
    /// Pushed events stored that the table did not hold.
    added: u64,
    committed: bool,
}

/// Repository (its number in the write) and day, key as a big-endian integer, and the event's
/// index in `pending`.
type Order = (u64, u128, u32);

impl SqliteEventsWrite<'_> {
    /// Stores the buffered events by repository-day; returns how many were new.
    fn flush(&mut self) -> StoreResult<u64> {
        self.order.sort_unstable();
        let mut added = 0;
        let mut group: Vec<Kept> = Vec::new();
        let mut at = None;
        for i in 0..self.order.len() {
            let (place, _, index) = self.order[i];
            if at != Some(place) && !group.is_empty() {
                added += self.store_day(std::mem::take(&mut group))?;
            }
            at = Some(place);
            group.extend(self.pending[index as usize].take());
        }
        if !group.is_empty() {
            added += self.store_day(group)?;
        }
        self.pending.clear();
        self.order.clear();
        self.repos.clear();
        Ok(added)
    }

    /// Stores the events of one repository-day (not empty, ascending by key, maybe repeated);
    /// returns how many the table did not hold.
    fn store_day(&mut self, mut new: Vec<Kept>) -> StoreResult<u64> {
        // The same event twice in the write: kept once, with the greater class.
        new.dedup_by(|later, kept| {
            let same = later.key == kept.key;
            if same && later.agent > kept.agent {
                kept.agent = later.agent.take();
            }
            same
        });
        let conn = &*self.conn;
        let first = &new[0].event;
        let (repo, day) = (first.repo.clone(), first.day());
        let day_code = day.epoch_days();
        let place = params![repo_type_code(repo.repo_type), repo.name.as_str(), day_code];
        let mut blocks: Vec<BlockMeta> = {
            let mut stmt = conn.prepare_cached(
                "SELECT block, events, first_ms, last_ms FROM log_event_blocks \
                 WHERE repo_type = ?1 AND repo = ?2 AND day = ?3 ORDER BY block",
            )?;
            let rows = stmt.query_map(place, |r| {
                Ok(BlockMeta {
                    block: r.get(0)?,
                    events: r.get::<_, i64>(1)? as usize,
                    first_ms: r.get(2)?,
                    last_ms: r.get(3)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        // Events a block may hold: those within its time range.
        let mut instants: Vec<i64> = new.iter().map(|k| k.event.at_ms).collect();
        instants.sort_unstable();
        for meta in &blocks {
            let from = instants.partition_point(|&t| t < meta.first_ms);
            if instants.get(from).is_none_or(|&t| t > meta.last_ms) {
                continue;
            }
            let keys: Vec<u8> = block_row(
                conn,
                "SELECT keys FROM log_event_blocks \
                 WHERE repo_type = ?1 AND repo = ?2 AND day = ?3 AND block = ?4",
                (&repo, day_code, meta.block),
                |r| r.get(0),
            )?;
            let held = event_block::keys(&keys)?;
            let mut reclassed: Vec<(usize, String)> = Vec::new();
            new.retain_mut(|k| match held.binary_search(&k.key) {
                Ok(at) => {
                    if let Some(agent) = k.agent.take() {
                        reclassed.push((at, agent));
                    }
                    false
                }
                Err(_) => true,
            });
            if !reclassed.is_empty() {
                self.reclass(&repo, day_code, meta.block, reclassed)?;
            }
            if new.is_empty() {
                return Ok(0);
            }
        }
        let added = new.len() as u64;
        // Size-tiered: absorb the last block while it is at most twice as large.
        while let Some(last) = blocks.last() {
            if last.events > 2 * new.len() || last.events + new.len() > MAX_BLOCK_EVENTS {
                break;
            }
            let mut stored = self.read_block(&repo, day_code, last.block)?;
            stored.append(&mut new);
            stored.sort_by_key(|k| k.key); // two ascending runs: merged in linear time
            new = stored;
            delete_block(&self.conn, (&repo, day_code, last.block))?;
            blocks.pop();
        }
        let block = blocks.last().map_or(0, |m| m.block + 1);
        insert_block(&self.conn, day_code, &new, block)?;
        Ok(added)
    }

    /// Every event of one stored block, with its key and class.
    fn read_block(&self, repo: &RepoKey, day: i32, block: i64) -> StoreResult<Vec<Kept>> {
        let (keys, data): (Vec<u8>, Vec<u8>) = block_row(
            &self.conn,
            "SELECT keys, data FROM log_event_blocks \
             WHERE repo_type = ?1 AND repo = ?2 AND day = ?3 AND block = ?4",
            (repo, day, block),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let keys = event_block::keys(&keys)?;
        let mut events = Vec::with_capacity(keys.len());
        let day_ms = i64::from(day) * MS_PER_DAY;
        event_block::decode(
            repo,
            day_ms,
            &data,
            EventFields::All,
            &mut |event, agent| {
                let key = *keys.get(events.len()).ok_or_else(corrupt_keys)?;
                events.push(Kept { key, event, agent });
                Ok(())
            },
        )?;
        if events.len() != keys.len() {
            return Err(corrupt_keys());
        }
        Ok(events)
    }

    /// Gives held events of a block the greater of their stored class and the one read again
    /// (`(index in the block, class)`).
    fn reclass(
        &self,
        repo: &RepoKey,
        day: i32,
        block: i64,
        classes: Vec<(usize, String)>,
    ) -> StoreResult<()> {
        let mut events = self.read_block(repo, day, block)?;
        let mut changed = false;
        for (at, agent) in classes {
            let stored = &mut events.get_mut(at).ok_or_else(corrupt_keys)?.agent;
            if stored.as_deref() < Some(agent.as_str()) {
                *stored = Some(agent);
                changed = true;
            }
        }
        if changed {
            delete_block(&self.conn, (repo, day, block))?;
            insert_block(&self.conn, day, &events, block)?;
        }
        Ok(())
    }
}

fn corrupt_keys() -> StoreError {
    StoreError::Backend("a stored block's keys do not match its events".into())
}

impl EventsWrite for SqliteEventsWrite<'_> {
    fn push(&mut self, event: LogEvent, agent: Option<&str>) -> StoreResult<()> {
        let next = self.repos.len() as u32;
        let repo = match self.repos.get(&event.repo) {
            Some(&id) => id,
            None => *self.repos.entry(event.repo.clone()).or_insert(next),
        };
        let key = event.key();
        // Days are within ±2^31 of 1970 (`Day`), so the day's bits fit the low half.
        let day = event.at_ms.div_euclid(MS_PER_DAY) as i32 as u32;
        let place = u64::from(repo) << 32 | u64::from(day);
        self.order
            .push((place, u128::from_be_bytes(key), self.pending.len() as u32));
        let agent = agent.map(str::to_owned);
        self.pending.push(Some(Kept { key, event, agent }));
        if self.pending.len() >= FLUSH_AT {
            self.large = true;
            self.added += self.flush()?;
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
        self.added += self.flush()?;
        if self.large {
            self.db.commit_checkpointing_aside(&self.conn)?;
        } else {
            self.conn.execute_batch("COMMIT")?;
        }
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

/// Calls `f` with the data of every block of a repository from `first` through `last` (day
/// codes), by day.
fn blocks_of(
    conn: &Connection,
    repo: &RepoKey,
    first: i32,
    last: i32,
    f: &mut dyn FnMut(i32, &[u8]) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, data FROM log_event_blocks \
         WHERE repo_type = ?1 AND repo = ?2 AND day BETWEEN ?3 AND ?4 ORDER BY day, block",
    )?;
    let mut rows = stmt.query(params![
        repo_type_code(repo.repo_type),
        repo.name.as_str(),
        first,
        last
    ])?;
    while let Some(r) = rows.next()? {
        let data = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        f(r.get(0)?, data)?;
    }
    Ok(())
}

impl LogEvents for SqliteCounts {
    fn add_events(&self) -> StoreResult<Box<dyn EventsWrite + '_>> {
        let conn = self.db.writer();
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(Box::new(SqliteEventsWrite {
            db: &self.db,
            conn,
            large: false,
            pending: Vec::new(),
            order: Vec::new(),
            repos: HashMap::default(),
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
        let day = day.epoch_days();
        self.db.read(|conn| {
            blocks_of(conn, repo, day, day, &mut |day, data| {
                let day_ms = i64::from(day) * MS_PER_DAY;
                event_block::decode(repo, day_ms, data, EventFields::All, f)
            })
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
        self.db.read(|conn| {
            let (first, last) = (first.epoch_days(), last.epoch_days());
            blocks_of(conn, repo, first, last, &mut |day, data| {
                let day_ms = i64::from(day) * MS_PER_DAY;
                let on = Day::from_epoch_days(day);
                event_block::decode(repo, day_ms, data, fields, &mut |event, _| f(on, event))
            })
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
                "SELECT DISTINCT repo_type, repo, day FROM log_event_blocks \
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
                "SELECT rows, events, ingested_unix, head FROM log_files WHERE name = ?1",
            )?;
            let info = stmt
                .query_row([name], |r| {
                    Ok(LogFileInfo {
                        rows: r.get::<_, i64>(0)? as u64,
                        events: r.get::<_, i64>(1)? as u64,
                        ingested_unix: r.get(2)?,
                        head: r.get(3)?,
                    })
                })
                .optional()?;
            Ok(info)
        })
    }

    fn record_log_file(
        &self,
        name: &str,
        rows: u64,
        events: u64,
        head: Option<&str>,
    ) -> StoreResult<()> {
        self.db.writer().execute(
            "INSERT OR IGNORE INTO log_files (name, rows, events, ingested_unix, head) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, rows as i64, events as i64, now_unix(), head],
        )?;
        Ok(())
    }

    fn may_know_log_file(&self, prefix: &str, head: &str) -> StoreResult<bool> {
        // The names under `prefix`: from it up to the same text with its last byte (`:`)
        // followed by the next one.
        let mut end = prefix.as_bytes().to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let end = String::from_utf8(end).map_err(|e| StoreError::Backend(e.into()))?;
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM log_files WHERE head = ?1) \
                     OR EXISTS (SELECT 1 FROM log_files WHERE head IS NULL \
                                AND name >= ?2 AND name < ?3)",
            )?;
            Ok(stmt.query_row(params![head, prefix, end], |r| r.get(0))?)
        })
    }

    fn downloader_secret(&self) -> StoreResult<Vec<u8>> {
        let mut fresh = [0u8; 32];
        rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut fresh)
            .expect("the operating system's random source");
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
        let mut classes: BTreeMap<Option<String>, u64> = BTreeMap::new();
        self.classified_events_of(repo, day, &mut |_, agent| {
            *classes.entry(agent).or_default() += 1;
            Ok(())
        })?;
        // `None` first, then by class: the order of SQL's `ORDER BY agent`.
        for (agent, n) in classes {
            f(agent, n)?;
        }
        Ok(())
    }

    fn days_of(
        &self,
        repo: &RepoKey,
        f: &mut dyn FnMut(Day) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT day FROM log_event_blocks WHERE repo_type = ?1 AND repo = ?2 \
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
            let mut stmt = conn.prepare(
                "SELECT name, rows, events, ingested_unix, head FROM log_files ORDER BY name",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(0)?;
                let info = LogFileInfo {
                    rows: r.get::<_, i64>(1)? as u64,
                    events: r.get::<_, i64>(2)? as u64,
                    ingested_unix: r.get(3)?,
                    head: r.get(4)?,
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
        let dropped: i64 = tx.query_row(
            "SELECT coalesce(sum(events), 0) FROM log_event_blocks WHERE day < ?1",
            [first_kept.epoch_days()],
            |r| r.get(0),
        )?;
        tx.execute(
            "DELETE FROM log_event_blocks WHERE day < ?1",
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
        "DELETE FROM log_event_blocks WHERE repo >= ?1 AND repo < ?2",
        params![format!("{org}/"), format!("{org}0")],
    )?;
    conn.execute("DELETE FROM log_files", [])?;
    Ok(())
}
