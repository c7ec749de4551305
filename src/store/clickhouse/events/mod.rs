//! [`LogEvents`] on ClickHouse. Kept events live in `log_events`, a `ReplacingMergeTree`
//! partitioned by month and ordered by (organization, repository, day, event key, class), so
//! an event ingested twice is one row once merged, and every read takes one row per key
//! (`DISTINCT` / `GROUP BY key`, the greatest class) so it is one before any merge too.
//!
//! A write is all or nothing without transactions: its events go first to a staging table of
//! its own, `log_event_staging_{id}`, made like `log_events` and read (with every other
//! write's) through the `Merge` table `log_event_staged` only once the write is committed.
//! The commit inserts one row into `log_writes` (write id, `moved = 0`): from then on readers
//! see the write's staged events beside `log_events`. The commit then attaches the staging
//! table's partitions to `log_events` (`ATTACH PARTITION … FROM`: hard links, no copy), marks
//! the write `moved = 1` and drops its staging table. A process killed before the marker
//! leaves staged rows nobody reads (dropped by a later write once a day old); one killed after
//! it leaves a committed write that readers see through staging and the next write finishes
//! attaching. Library namings carry the write id too and count once its marker is in.
//! Details in `docs/ARCHITECTURE.md`.

mod libraries;
mod staging;
mod write;

pub(super) use staging::migrate_to_write_tables;
#[cfg(test)]
pub(super) use staging::staged_writes;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::client::{backend, quote, tsv_field, Client, Row};
use super::counts::{repo_key, type_code};
use super::{mutations, next_version, now_unix, Table};
use crate::domain::{Day, LibraryName, LogEvent, OrgName, RepoKey};
use crate::store::{
    EventFields, EventsWrite, LibraryRecord, LogEvents, LogFileInfo, RepoLibrary, StoreResult,
};

/// The columns of an event, in both event tables. `agent` is `''` for an event kept without
/// a class (a sorting-key column cannot be `Nullable` on 18.16).
const EVENT_COLUMNS: &str =
    "org, repo_type, repo, day, key, agent, at_ms, method, status, path, user_hash, ip_hash";

/// The column definitions of an event (a macro, so `concat!` can build the DDL with them).
macro_rules! event_fields {
    () => {
        "org String,
    repo_type UInt8,
    repo String,
    day UInt32,
    key String,
    agent String,
    at_ms Int64,
    method String,
    status UInt16,
    path Nullable(String),
    user_hash Nullable(String),
    ip_hash Nullable(String)"
    };
}

/// Events migration (see `super::MIGRATIONS`). Days are days since 1970-01-01 as in
/// `counts`; the month partition of days past `Date`'s end (2149) is its last month. In
/// cluster mode an organization's events, staged or kept, and its libraries live on its
/// shard (`sipHash64(org)`, as its counts), so their reads and moves stay on one server; the
/// small tables of writes, files, the secret and the horizon are read whole through their
/// `Distributed` table (`argMax`, `GROUP BY`, `GLOBAL IN`), wherever their rows are.
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "log_events",
        columns: event_fields!(),
        engine: "ReplacingMergeTree \
                 PARTITION BY toYYYYMM(toDate(toUInt16(least(day, 65535)))) \
                 ORDER BY (org, repo_type, repo, day, key, agent) \
                 SETTINGS index_granularity = 1024",
        shard_by: "sipHash64(org)",
    },
    // Every write's staging partition until migration 5 gave each write a table of its own.
    Table {
        name: "log_event_staging",
        columns: concat!("write_id UInt64, pushed UInt8, ", event_fields!()),
        engine: "MergeTree PARTITION BY write_id ORDER BY (org, repo_type, repo, day, key)",
        shard_by: "sipHash64(org)",
    },
    Table {
        name: "log_writes",
        columns: "write_id UInt64, moved UInt8",
        engine: "ReplacingMergeTree(moved) ORDER BY write_id",
        shard_by: "write_id",
    },
    Table {
        name: "log_files",
        columns: "name String, rows UInt64, events UInt64, ingested_unix Int64, rank UInt64",
        engine: "ReplacingMergeTree(rank) ORDER BY name",
        shard_by: "sipHash64(name)",
    },
    Table {
        name: "log_secret",
        columns: "secret String, rank UInt64",
        engine: "ReplacingMergeTree(rank) ORDER BY tuple()",
        shard_by: "rank",
    },
    Table {
        name: "log_horizon",
        columns: "first_day UInt32",
        engine: "MergeTree ORDER BY first_day",
        shard_by: "first_day",
    },
    libraries::SET,
    libraries::NAMINGS,
    libraries::COUNTED,
];

pub struct ClickHouseEvents {
    client: Arc<Client>,
    /// Event writes of this process, one at a time.
    writer: Mutex<()>,
}

/// The condition that selects a repository's rows.
fn of_repo(repo: &RepoKey) -> String {
    format!(
        "org = {} AND repo_type = {} AND repo = {}",
        quote(repo.name.org().as_str()),
        type_code(repo.repo_type),
        quote(repo.name.as_str())
    )
}

fn of_org(org: Option<&OrgName>) -> String {
    org.map_or_else(
        || "1".to_owned(),
        |o| format!("org = {}", quote(o.as_str())),
    )
}

/// An event's key as stored: lower-case hex.
fn hex_key(e: &LogEvent) -> String {
    hex::encode(e.key())
}

/// Appends an optional value as a `TabSeparated` field (`\N` for none).
fn opt_field(body: &mut String, value: Option<&str>) {
    match value {
        Some(v) => tsv_field(body, v),
        None => body.push_str("\\N"),
    }
}

/// A day as stored: days since 1970-01-01, none before (the column is unsigned).
fn stored(day: Day) -> i32 {
    day.epoch_days().max(0)
}

fn day_of(stored: u64) -> StoreResult<Day> {
    let days = i32::try_from(stored).map_err(|_| backend("stored event day out of range"))?;
    Ok(Day::from_epoch_days(days))
}

/// The event of `repo` in a row whose columns from `at` on are `at_ms, method, status, path,
/// user_hash, ip_hash`.
fn event_at(repo: &RepoKey, r: &Row<'_>, at: usize) -> StoreResult<LogEvent> {
    let status =
        u16::try_from(r.u64(at + 2)?).map_err(|_| backend("stored status out of range"))?;
    Ok(LogEvent {
        repo: repo.clone(),
        at_ms: r.i64(at)?,
        method: r.str(at + 1)?,
        status,
        path: r.opt_str(at + 3)?,
        user: r.opt_str(at + 4)?,
        ip: r.opt_str(at + 5)?,
    })
}

impl ClickHouseEvents {
    pub fn new(client: Arc<Client>) -> Self {
        ClickHouseEvents {
            client,
            writer: Mutex::new(()),
        }
    }

    /// Removes the organization's events and libraries, and the record of ingested files
    /// (any of them may have held its events: ingesting one again restores them).
    pub fn remove_org(&self, org: &OrgName) -> StoreResult<()> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        staging::settle(&self.client)?;
        let condition = format!("org = {}", quote(org.as_str()));
        mutations::delete(&self.client, "log_events", &condition)?;
        libraries::remove_org(&self.client, &condition)?;
        mutations::truncate(&self.client, "log_files")
    }
}

/// Bytes of repository names one read of several repositories names at most (the query
/// stays well under the server's `max_query_size`, 256 KiB by default).
const NAMES_AT_ONCE: usize = 64 << 10;

/// Calls `f` with each run of `repos` whose repositories are of one type and whose names take
/// at most [`NAMES_AT_ONCE`] bytes (one query each, instead of one per repository), with the
/// index of the run's first repository.
fn in_runs<T>(
    repos: &[T],
    repo_of: impl Fn(&T) -> &RepoKey,
    mut f: impl FnMut(usize, &[T]) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut start = 0;
    while start < repos.len() {
        let repo_type = repo_of(&repos[start]).repo_type;
        let (mut end, mut names) = (start, 0);
        while end < repos.len() {
            let repo = repo_of(&repos[end]);
            let len = repo.name.as_str().len();
            if repo.repo_type != repo_type || (end > start && names + len > NAMES_AT_ONCE) {
                break;
            }
            names += len;
            end += 1;
        }
        f(start, &repos[start..end])?;
        start = end;
    }
    Ok(())
}

/// The condition that selects the rows of `repos`, all of one type.
fn of_repos<'a>(repos: impl Iterator<Item = &'a RepoKey> + Clone) -> String {
    let orgs: BTreeSet<String> = repos.clone().map(|r| quote(r.name.org_str())).collect();
    let names: BTreeSet<String> = repos.clone().map(|r| quote(r.name.as_str())).collect();
    let repo_type = repos.clone().next().map_or(0, |r| type_code(r.repo_type));
    format!(
        "org IN ({}) AND repo_type = {repo_type} AND repo IN ({})",
        orgs.into_iter().collect::<Vec<_>>().join(", "),
        names.into_iter().collect::<Vec<_>>().join(", "),
    )
}

impl ClickHouseEvents {
    /// `events_of_repos` of repositories of one type, in one query; `f` gets each one's
    /// index in the caller's list (`offset` + its index in `repos`).
    fn events_of_same_type(
        &self,
        repos: &[(&RepoKey, Day, Day)],
        offset: usize,
        fields: EventFields,
        f: &mut dyn FnMut(usize, Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()> {
        if repos.is_empty() {
            return Ok(());
        }
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(repos.len());
        let (mut first, mut last) = (i32::MAX, i32::MIN);
        for (i, (repo, from, to)) in repos.iter().enumerate() {
            index.insert(repo.name.as_str(), i);
            (first, last) = (first.min(stored(*from)), last.max(stored(*to)));
        }
        let condition = format!(
            "{} AND day BETWEEN {first} AND {last}",
            of_repos(repos.iter().map(|r| r.0))
        );
        let columns = match fields {
            EventFields::All => "at_ms, method, status, path, user_hash, ip_hash",
            EventFields::Request => "0, method, status, path, NULL, NULL",
        };
        let sql = format!(
            "SELECT repo, day, key, {columns} FROM {} ORDER BY repo, day, key",
            staging::visible(&condition)
        );
        // Rows of one key are the same event (a key is the event's digest) and come one after
        // the other: the first is kept. Cheaper than `DISTINCT` over every column.
        let mut last_row: Option<(usize, u64, String)> = None;
        self.client.query_each(&sql, &mut |r| {
            let name = r.str(0)?;
            let i = *index
                .get(name.as_str())
                .ok_or_else(|| backend("an event of a repository not asked for"))?;
            let (repo, from, to) = repos[i];
            let (day, key) = (r.u64(1)?, r.str(2)?);
            let stored_day = i32::try_from(day).unwrap_or(i32::MAX);
            if stored_day < stored(from) || stored_day > stored(to) {
                return Ok(());
            }
            if last_row
                .as_ref()
                .is_some_and(|l| l.0 == i && l.1 == day && l.2 == key)
            {
                return Ok(());
            }
            f(offset + i, day_of(day)?, event_at(repo, r, 3)?)?;
            last_row = Some((i, day, key));
            Ok(())
        })
    }
}

impl LogEvents for ClickHouseEvents {
    fn add_events(&self) -> StoreResult<Box<dyn EventsWrite + '_>> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        staging::settle(&self.client)?;
        staging::clean_up(&self.client)?;
        Ok(Box::new(write::ClickHouseEventsWrite::new(
            &self.client,
            guard,
        )))
    }

    fn events_of_days(
        &self,
        repo: &RepoKey,
        first: Day,
        last: Day,
        fields: EventFields,
        f: &mut dyn FnMut(Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.events_of_same_type(&[(repo, first, last)], 0, fields, &mut |_, day, e| {
            f(day, e)
        })
    }

    fn events_of_repos(
        &self,
        repos: &[(&RepoKey, Day, Day)],
        fields: EventFields,
        f: &mut dyn FnMut(usize, Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()> {
        in_runs(
            repos,
            |r| r.0,
            |start, run| self.events_of_same_type(run, start, fields, f),
        )
    }

    fn classified_events_of(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(LogEvent, Option<String>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let condition = format!("{} AND day = {}", of_repo(repo), stored(day));
        let sql = format!(
            "SELECT key, max(agent), any(at_ms), any(method), any(status), any(path), \
             any(user_hash), any(ip_hash) FROM {} GROUP BY key ORDER BY key",
            staging::visible(&condition)
        );
        self.client.query_each(&sql, &mut |r| {
            let class = Some(r.str(1)?).filter(|c| !c.is_empty());
            f(event_at(repo, r, 2)?, class)
        })
    }

    fn event_days(
        &self,
        org: Option<&OrgName>,
        from: Option<Day>,
        f: &mut dyn FnMut(RepoKey, Day) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let from = from.map_or(0, stored);
        let condition = format!("{} AND day >= {from}", of_org(org));
        let sql = format!(
            "SELECT DISTINCT repo_type, repo, day FROM {} ORDER BY repo_type, repo, day",
            staging::visible(&condition)
        );
        self.client.query_each(&sql, &mut |r| {
            f(repo_key(r.u64(0)?, &r.str(1)?)?, day_of(r.u64(2)?)?)
        })
    }

    fn log_file(&self, name: &str) -> StoreResult<Option<LogFileInfo>> {
        let rows = self.client.query(
            &format!(
                "SELECT count(), argMax(rows, rank), argMax(events, rank), \
                 argMax(ingested_unix, rank) FROM log_files WHERE name = {}",
                quote(name)
            ),
            |r| {
                Ok((r.u64(0)? > 0).then_some(LogFileInfo {
                    rows: r.u64(1)?,
                    events: r.u64(2)?,
                    ingested_unix: r.i64(3)?,
                    head: None,
                }))
            },
        )?;
        Ok(rows.into_iter().next().flatten())
    }

    /// Heads are not kept here (see [`LogEvents::may_know_log_file`]: every file is hashed).
    fn record_log_file(
        &self,
        name: &str,
        rows: u64,
        events: u64,
        _head: Option<&str>,
    ) -> StoreResult<()> {
        if self.log_file(name)?.is_some() {
            return Ok(());
        }
        // The earliest record has the greatest rank: it stays, whatever merges keep.
        let mut body = String::new();
        tsv_field(&mut body, name);
        body.push_str(&format!(
            "\t{rows}\t{events}\t{}\t{}\n",
            now_unix(),
            u64::MAX - next_version()
        ));
        self.client.insert(
            "log_files",
            "name, rows, events, ingested_unix, rank",
            &body,
        )
    }

    fn downloader_secret(&self) -> StoreResult<Vec<u8>> {
        let read = || {
            self.client.query(
                "SELECT argMax(secret, rank) FROM log_secret HAVING count() > 0",
                |r| r.str(0),
            )
        };
        let stored = match read()?.into_iter().next() {
            Some(secret) => secret,
            None => {
                let mut fresh = [0u8; 32];
                rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut fresh)
                    .expect("the operating system's random source");
                // Two processes making one at once: the earlier (greater rank) stays for both.
                let body = format!("{}\t{}\n", hex::encode(fresh), u64::MAX - next_version());
                self.client.insert("log_secret", "secret, rank", &body)?;
                read()?
                    .into_iter()
                    .next()
                    .ok_or_else(|| backend("the stored secret vanished"))?
            }
        };
        hex::decode(stored).map_err(|e| backend(format!("stored secret: {e}")))
    }

    fn agent_classes(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(Option<String>, u64) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let condition = format!("{} AND day = {}", of_repo(repo), stored(day));
        let sql = format!(
            "SELECT class, count() FROM (SELECT key, max(agent) AS class FROM {} GROUP BY key) \
             GROUP BY class ORDER BY class",
            staging::visible(&condition)
        );
        self.client.query_each(&sql, &mut |r| {
            f(Some(r.str(0)?).filter(|c| !c.is_empty()), r.u64(1)?)
        })
    }

    fn days_of(
        &self,
        repo: &RepoKey,
        f: &mut dyn FnMut(Day) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let sql = format!(
            "SELECT DISTINCT day FROM {} ORDER BY day",
            staging::visible(&of_repo(repo))
        );
        self.client.query_each(&sql, &mut |r| f(day_of(r.u64(0)?)?))
    }

    fn library(&self, repo: &RepoKey) -> StoreResult<RepoLibrary> {
        libraries::library(&self.client, repo)
    }

    fn libraries_of(&self, repos: &[&RepoKey]) -> StoreResult<Vec<RepoLibrary>> {
        let mut out = Vec::with_capacity(repos.len());
        in_runs(
            repos,
            |r| r,
            |_, run| {
                let condition = of_repos(run.iter().copied());
                out.extend(libraries::libraries_of(&self.client, &condition, run)?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    fn set_library(
        &self,
        repo: &RepoKey,
        library: Option<&LibraryName>,
    ) -> StoreResult<RepoLibrary> {
        libraries::set(&self.client, repo, library)
    }

    fn library_changes(
        &self,
        org: Option<&OrgName>,
        f: &mut dyn FnMut(RepoKey) -> StoreResult<()>,
    ) -> StoreResult<()> {
        libraries::changes(&self.client, &of_org(org), f)
    }

    fn library_counted(&self, repo: &RepoKey, library: Option<&LibraryName>) -> StoreResult<()> {
        libraries::counted(&self.client, repo, library)
    }

    fn horizon(&self) -> StoreResult<Option<Day>> {
        let rows = self.client.query(
            "SELECT max(first_day) FROM log_horizon HAVING count() > 0",
            |r| day_of(r.u64(0)?),
        )?;
        Ok(rows.into_iter().next())
    }

    fn log_files(
        &self,
        f: &mut dyn FnMut(&str, LogFileInfo) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let sql = "SELECT name, argMax(rows, rank), argMax(events, rank), \
                   argMax(ingested_unix, rank) FROM log_files GROUP BY name ORDER BY name";
        self.client.query_each(sql, &mut |r| {
            let info = LogFileInfo {
                rows: r.u64(1)?,
                events: r.u64(2)?,
                ingested_unix: r.i64(3)?,
                head: None,
            };
            f(&r.str(0)?, info)
        })
    }

    fn set_downloader_secret(&self, secret: &[u8]) -> StoreResult<()> {
        // The greatest rank: it wins over every secret made before or after.
        let body = format!("{}\t{}\n", hex::encode(secret), u64::MAX);
        self.client.insert("log_secret", "secret, rank", &body)
    }

    fn libraries(
        &self,
        f: &mut dyn FnMut(RepoKey, LibraryRecord) -> StoreResult<()>,
    ) -> StoreResult<()> {
        libraries::records(&self.client, f)
    }

    fn prune_before(&self, first_kept: Day) -> StoreResult<u64> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        staging::settle(&self.client)?;
        let first = stored(first_kept);
        let dropped = self.client.query(
            &format!("SELECT uniqExact(key) FROM log_events WHERE day < {first}"),
            |r| r.u64(0),
        )?;
        // The horizon first: a process stopped before the deletion leaves days that are
        // whole but said not to be, never the other way round.
        self.client
            .execute(&format!("INSERT INTO log_horizon VALUES ({first})"))?;
        mutations::delete(&self.client, "log_events", &format!("day < {first}"))?;
        Ok(dropped.first().copied().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests;
