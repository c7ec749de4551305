//! `Counts` on SQLite.
//!
//! Durable layout (see `docs/ARCHITECTURE.md`, "Storage"): `count_orgs` (name, data version),
//! `count_repos` (name, adjustment, the version that last changed it), `sources`, and `chunks`:
//! one row per (repository, span of 256 days, source) holding that source's days as one small
//! BLOB ([`chunk`]). A repository-day is the sum over sources. No running totals or rollups
//! are stored: correcting one day rewrites one chunk.
//!
//! Reads go through the organization's in-memory [`OrgIndex`], kept in an [`IndexCache`] and
//! tagged with the organization's id and version. Each read opens a snapshot, reads the
//! version and, when the cached index is older, only the repositories whose version is newer
//! (`count_repos.version`), and patches the index with them: a write costs the next read what
//! it touched, a write to another organization costs nothing, and writes by another process
//! (a `hubstats import` beside the server) are seen the same way. The full export streams
//! from the chunks instead, so its memory does not depend on the organization's size.

mod chunk;
mod event_block;
mod events;
mod legacy;
mod libraries;
mod read;
mod snapshots;
mod write;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{Db, SqliteAccounts};
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoType};
use crate::store::index::{IndexCache, IndexedCounts, OrgIndex, DEFAULT_INDEX_BUDGET};
use crate::store::{
    Counts, CountsStats, CountsWrite, DailyFilter, DailyRow, PeriodSums, RepoDays, RepoNames,
    RepoSummaries, RepoSummary, SourceId, SourceInfo, StoreResult, WriteMode,
};

/// Schema migrations of the counts file. 1–4 are the single-file layout of earlier versions
/// (kept so an old store upgrades step by step); 5 adds the chunked layout, into which
/// [`legacy::convert`] then moves an old store's data; 6 adds the kept log events
/// ([`events`]), 7 the secret that hashes downloader ids of nginx logs, 8 the repositories'
/// libraries ([`libraries`]) and the user-agent class of each kept event; 9 changes nothing;
/// 10 the horizon of pruned events ([`events`]); 11 the events in blocks, into which
/// [`events::convert`] then moves the events of an older store; 12 the log files' head
/// records; 13 hub snapshots ([`snapshots`]).
const MIGRATIONS: &[&str] = &[
    legacy::MIGRATION_1,
    legacy::MIGRATION_2,
    legacy::MIGRATION_3,
    legacy::MIGRATION_4,
    r#"
    CREATE TABLE count_orgs (
        id      INTEGER PRIMARY KEY,
        name    TEXT NOT NULL UNIQUE,
        version INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE count_repos (
        id         INTEGER PRIMARY KEY,
        org_id     INTEGER NOT NULL REFERENCES count_orgs(id),
        repo_type  INTEGER NOT NULL CHECK (repo_type IN (0, 1)),
        name       TEXT NOT NULL,
        adjustment INTEGER NOT NULL DEFAULT 0,
        version    INTEGER NOT NULL DEFAULT 0,
        UNIQUE (org_id, repo_type, name)
    );
    CREATE INDEX count_repos_version ON count_repos (org_id, version);
    CREATE TABLE sources (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        applied_unix INTEGER NOT NULL
    );
    CREATE TABLE chunks (
        repo_id   INTEGER NOT NULL,
        span      INTEGER NOT NULL,
        source_id INTEGER NOT NULL,
        rows      INTEGER NOT NULL,
        sum       INTEGER NOT NULL,
        data      BLOB NOT NULL,
        PRIMARY KEY (repo_id, span, source_id)
    );
    CREATE INDEX chunks_source ON chunks (source_id, repo_id);
    "#,
    events::MIGRATION,
    events::MIGRATION_SECRET,
    libraries::MIGRATION,
    events::MIGRATION_HORIZON,
    events::MIGRATION_BLOCKS,
    events::MIGRATION_FILE_HEADS,
    snapshots::MIGRATION,
];

pub struct SqliteCounts {
    db: Db,
    indexes: IndexCache,
    /// Each organization's rows per source id, at the organization's version: reading them
    /// takes ~30 ms for 20,000 repositories, and the dashboard asks per page.
    org_sources: std::sync::Mutex<HashMap<i64, (u64, SourceRows)>>,
}

/// An organization's repository-days per source id.
type SourceRows = Vec<(i64, u64)>;

/// Organizations whose rows per source are kept; past it the kept ones are dropped.
const ORG_SOURCES_KEPT: usize = 4096;

impl SqliteCounts {
    /// Opens (creating if needed) the counts file and brings its schema up to date. A store of
    /// an earlier version is converted; its accounts move to `accounts` (see [`legacy`]).
    pub fn open(path: &Path, accounts: Option<&SqliteAccounts>) -> StoreResult<Self> {
        let db = Db::open(path)?;
        db.migrate(MIGRATIONS)?;
        legacy::convert(&db, accounts)?;
        events::convert(&db)?;
        Ok(Self::with_db(db))
    }

    /// A private counts store in a temporary file; for tests.
    pub fn memory() -> StoreResult<Self> {
        let db = Db::memory()?;
        db.migrate(MIGRATIONS)?;
        legacy::convert(&db, None)?;
        events::convert(&db)?;
        Ok(Self::with_db(db))
    }

    fn with_db(db: Db) -> Self {
        SqliteCounts {
            db,
            indexes: IndexCache::new(DEFAULT_INDEX_BUDGET),
            org_sources: Default::default(),
        }
    }

    /// Bounds the memory of the cached organization indexes (approximately, in bytes).
    pub fn with_index_budget(mut self, bytes: usize) -> Self {
        self.indexes = IndexCache::new(bytes);
        self
    }

    /// The organization's index at its current version: the cached one when current, else the
    /// cached one patched with what changed since, else built. `None` for an organization
    /// without counts.
    pub fn index(&self, org: &OrgName) -> StoreResult<Option<Arc<OrgIndex>>> {
        self.db.read(|conn| {
            // The version alone, in a statement of its own (its own snapshot): most reads find
            // their index current and need no more. Otherwise the version and the
            // repositories that changed are read again in one snapshot.
            if let (Some((org_id, version)), Some(cached)) =
                (read::org(conn, org)?, self.indexes.get(org.as_str()))
            {
                if cached.org_id == org_id && cached.version == version {
                    return Ok(Some(cached));
                }
            }
            let snapshot = conn.unchecked_transaction()?;
            let Some((org_id, version)) = read::org(&snapshot, org)? else {
                self.indexes.remove(org.as_str());
                return Ok(None);
            };
            let cached = self.indexes.get(org.as_str());
            let index = match cached {
                Some(c) if c.org_id == org_id && c.version == version => return Ok(Some(c)),
                Some(c) if c.org_id == org_id && c.version < version => {
                    let changed = read::repos_since(&snapshot, org_id, c.version as i64)?;
                    c.updated(version, changed)?
                }
                _ => OrgIndex::build(org_id, version, read::repos_since(&snapshot, org_id, -1)?)?,
            };
            let index = Arc::new(index);
            self.indexes.put(org.as_str(), index.clone());
            Ok(Some(index))
        })
    }
}

impl Counts for SqliteCounts {
    fn reads_are_local(&self) -> bool {
        true
    }

    fn index_is_current(&self, org: &OrgName) -> bool {
        let Some(cached) = self.indexes.get(org.as_str()) else {
            return false;
        };
        let current = self.db.read(|conn| read::org(conn, org));
        matches!(current, Ok(Some((id, version))) if id == cached.org_id && version == cached.version)
    }

    fn write(&self, source: &SourceId, mode: WriteMode) -> StoreResult<Box<dyn CountsWrite + '_>> {
        Ok(Box::new(write::SqliteCountsWrite::begin(
            self.db.writer(),
            source,
            mode,
        )?))
    }

    fn source(&self, source: &SourceId) -> StoreResult<Option<SourceInfo>> {
        self.db.read(|conn| read::source(conn, source))
    }

    fn index_memory(&self) -> Option<crate::store::IndexMemory> {
        Some(self.indexes.memory())
    }

    fn stats(&self) -> StoreResult<CountsStats> {
        self.db.read(read::stats)
    }

    fn org_sources(&self, org: &OrgName) -> StoreResult<Vec<SourceInfo>> {
        self.db.read(|conn| {
            // One snapshot: the rows kept are those of the version they are kept under.
            let snapshot = conn.unchecked_transaction()?;
            let Some((org_id, version)) = read::org(&snapshot, org)? else {
                return Ok(Vec::new());
            };
            let lock = || self.org_sources.lock().unwrap_or_else(|p| p.into_inner());
            let kept = lock().get(&org_id).filter(|(v, _)| *v == version).cloned();
            let rows = match kept {
                Some((_, rows)) => rows,
                None => {
                    let rows = read::org_source_rows(&snapshot, org_id)?;
                    let mut kept = lock();
                    if kept.len() >= ORG_SOURCES_KEPT {
                        kept.clear();
                    }
                    kept.insert(org_id, (version, rows.clone()));
                    rows
                }
            };
            let mut sources: Vec<SourceInfo> = read::sources_by_id(&snapshot)?
                .into_iter()
                .filter_map(|(id, source, applied_unix)| {
                    let (_, n) = rows.iter().find(|(s, _)| *s == id)?;
                    Some(SourceInfo {
                        source,
                        rows: *n,
                        applied_unix,
                    })
                })
                .collect();
            sources.sort_by(|a, b| a.source.cmp(&b.source));
            Ok(sources)
        })
    }

    fn version(&self, org: &OrgName) -> StoreResult<u64> {
        let org = self.db.read(|conn| read::org(conn, org))?;
        Ok(org.map_or(0, |(_, v)| v))
    }

    fn repo_count(&self, org: &OrgName) -> StoreResult<u64> {
        self.db.read(|conn| read::repo_count(conn, org))
    }

    fn repos(&self, org: &OrgName) -> StoreResult<RepoSummaries> {
        self.indexed_repos(org)
    }

    fn repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        self.indexed_repo(repo)
    }

    fn repo_days(&self, repo: &RepoKey, range: Option<DayRange>) -> StoreResult<Option<RepoDays>> {
        self.indexed_repo_days(repo, range)
    }

    fn period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<PeriodSums> {
        self.indexed_period_sums(org, range)
    }

    fn repo_names(&self, org: &OrgName) -> StoreResult<RepoNames> {
        self.indexed_repo_names(org)
    }

    fn org_daily(
        &self,
        org: &OrgName,
        range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        self.indexed_org_daily(org, range)
    }

    fn for_each_daily(
        &self,
        org: &OrgName,
        filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        if filter.repos.is_none() {
            return self
                .db
                .read(|conn| read::stream_org(conn, org, filter.range, f));
        }
        match self.index(org)? {
            Some(index) => index.for_each_daily(filter, f),
            None => Ok(()),
        }
    }

    fn remove_org(&self, org: &OrgName) -> StoreResult<()> {
        let mut conn = self.db.writer();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM chunks WHERE repo_id IN \
             (SELECT r.id FROM count_repos r JOIN count_orgs o ON o.id = r.org_id WHERE o.name = ?1)",
            [org.as_str()],
        )?;
        tx.execute(
            "DELETE FROM count_repos WHERE org_id IN (SELECT id FROM count_orgs WHERE name = ?1)",
            [org.as_str()],
        )?;
        tx.execute("DELETE FROM count_orgs WHERE name = ?1", [org.as_str()])?;
        events::remove_org(&tx, org)?;
        libraries::remove_org(&tx, org)?;
        snapshots::remove_org(&tx, org)?;
        tx.commit()?;
        self.indexes.remove(org.as_str());
        Ok(())
    }

    fn log_events(&self) -> Option<&dyn crate::store::LogEvents> {
        Some(self)
    }

    fn hub_snapshots(&self) -> Option<&dyn crate::store::HubSnapshots> {
        Some(self)
    }

    fn source_days(
        &self,
        source: &SourceId,
        f: &mut dyn FnMut(&RepoKey, Day, u64) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.db.read(|conn| read::source_days(conn, source, f))
    }
}

/// Repository types as stored: 0 = model, 1 = dataset, so `(repo_type, name)` is export order.
fn repo_type_code(t: RepoType) -> u8 {
    match t {
        RepoType::Model => 0,
        RepoType::Dataset => 1,
    }
}

fn repo_type_from_code(code: i64) -> StoreResult<RepoType> {
    match code {
        0 => Ok(RepoType::Model),
        1 => Ok(RepoType::Dataset),
        other => Err(crate::store::StoreError::Backend(
            format!("stored repository type {other} is unknown").into(),
        )),
    }
}

#[cfg(test)]
mod tests;

impl IndexedCounts for SqliteCounts {
    fn org_index(&self, org: &OrgName) -> StoreResult<Option<Arc<OrgIndex>>> {
        self.index(org)
    }
}
