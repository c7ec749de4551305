//! `Counts` on ClickHouse: one `ReplacingMergeTree(version)` table, `counts`, holding four
//! kinds of rows, so that a whole write is one insert of one block — one part, which
//! ClickHouse makes visible at once or not at all (18.16 has no transactions):
//! - kind 0: a source's downloads of a repository-day (0: a tombstone that supersedes an
//!   earlier value);
//! - kind 1: a repository, with its adjustment;
//! - kind 2: an organization, with its data version (`version`) and identity (`generation`);
//! - kind 3: a source, with the time it was last applied (`adjustment`).
//!
//! Rows of kinds 0–2 carry the organization's data version of the write that wrote them.
//! Reads take the latest row of each key with `argMax(…, version)`, so a value written twice
//! counts once before any merge, and read only rows up to the version they read first.
//! Reads build the same in-memory [`OrgIndex`] as the SQLite backend, cached by
//! (organization, version) and patched with the repositories whose rows are newer.

mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::client::{backend, quote, Client};
use super::events::ClickHouseEvents;
use super::mutations;
use super::snapshots::ClickHouseSnapshots;
use super::Table;
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoName, RepoType};
use crate::store::index::{IndexCache, IndexedCounts, OrgIndex, RepoSeries, DEFAULT_INDEX_BUDGET};
use crate::store::{
    Counts, CountsStats, CountsWrite, DailyFilter, DailyRow, LogEvents, PeriodSums, RepoDays,
    RepoNames, RepoSummaries, RepoSummary, SourceId, SourceInfo, StoreResult, WriteMode,
};

/// Counts migration (see `super::MIGRATIONS`). Days are `UInt32` days since 1970-01-01:
/// ClickHouse's `Date` ends in 2149, the product's days in 2999. In cluster mode sharded by
/// organization: all rows of one organization, its version row included, live on one shard.
pub(super) const TABLE: Table = Table {
    name: "counts",
    columns: "org String, kind UInt8, repo_type UInt8, repo String, day UInt32, source String, \
              downloads UInt64, adjustment Int64, generation UInt64, version UInt64",
    engine: "ReplacingMergeTree(version) PARTITION BY tuple() \
             ORDER BY (org, kind, repo_type, repo, day, source)",
    shard_by: "sipHash64(org)",
};

const DAY: u8 = 0;
const REPO: u8 = 1;
const ORG: u8 = 2;
const SOURCE: u8 = 3;

pub struct ClickHouseCounts {
    client: Arc<Client>,
    indexes: IndexCache,
    /// Per organization, held while its index is read (see [`ClickHouseCounts::index`]).
    reads: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Writes of this process, one at a time (see `docs/ARCHITECTURE.md` on writers).
    writer: Mutex<()>,
    /// The kept request-log events, in tables of their own on the same database.
    events: ClickHouseEvents,
    /// Snapshots of a hub's counters, in a table of their own.
    snapshots: ClickHouseSnapshots,
}

/// Repository types as stored: 0 = model, 1 = dataset, so `(repo_type, repo)` is export order.
pub(super) fn type_code(t: RepoType) -> u8 {
    match t {
        RepoType::Model => 0,
        RepoType::Dataset => 1,
    }
}

fn repo_type(code: u64) -> StoreResult<RepoType> {
    match code {
        0 => Ok(RepoType::Model),
        1 => Ok(RepoType::Dataset),
        other => Err(backend(format!(
            "stored repository type {other} is unknown"
        ))),
    }
}

pub(super) fn repo_key(code: u64, name: &str) -> StoreResult<RepoKey> {
    let repo_type = repo_type(code)?;
    let name =
        RepoName::parse(name).map_err(|e| backend(format!("stored repository name: {e}")))?;
    Ok(RepoKey { repo_type, name })
}

/// A repository read back: key, adjustment, and its days (every source summed).
type ReadRepo = (RepoKey, i64, Vec<(i32, u64)>);

/// An organization as its latest kind-2 row says: data version and identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OrgRow {
    version: u64,
    generation: u64,
}

impl ClickHouseCounts {
    pub fn new(client: Arc<Client>) -> Self {
        ClickHouseCounts {
            events: ClickHouseEvents::new(Arc::clone(&client)),
            snapshots: ClickHouseSnapshots::new(Arc::clone(&client)),
            client,
            indexes: IndexCache::new(DEFAULT_INDEX_BUDGET),
            reads: Mutex::default(),
            writer: Mutex::new(()),
        }
    }

    /// Bounds the memory of the cached organization indexes (approximately, in bytes).
    pub fn with_index_budget(mut self, bytes: usize) -> Self {
        self.indexes = IndexCache::new(bytes);
        self
    }

    fn org_row(&self, org: &OrgName) -> StoreResult<Option<OrgRow>> {
        let rows = self.client.query(
            &format!(
                "SELECT count(), argMax(version, version), argMax(generation, version) \
                 FROM counts WHERE org = {} AND kind = {ORG}",
                quote(org.as_str())
            ),
            |r| {
                Ok((r.u64(0)? > 0).then_some(OrgRow {
                    version: r.u64(1)?,
                    generation: r.u64(2)?,
                }))
            },
        )?;
        Ok(rows.into_iter().next().flatten())
    }

    /// The repositories of `org` at `version` (only those changed after `since`, when given),
    /// with their merged days.
    fn read_repos(
        &self,
        org: &OrgName,
        version: u64,
        since: Option<u64>,
    ) -> StoreResult<Vec<(i64, RepoSeries)>> {
        let org_q = quote(org.as_str());
        let changed = match since {
            Some(v) => format!(" AND version > {v}"),
            None => String::new(),
        };
        let repos_sql = format!(
            "SELECT repo_type, repo, argMax(adjustment, version), cityHash64(repo) FROM counts \
             WHERE org = {org_q} AND kind = {REPO} AND version <= {version}{changed} \
             GROUP BY repo_type, repo ORDER BY repo_type, repo"
        );
        let (mut repos, hashes): (Vec<ReadRepo>, Vec<u64>) =
            (self.client.query(&repos_sql, |r| {
                let repo = (repo_key(r.u64(0)?, &r.str(1)?)?, r.i64(2)?, Vec::new());
                Ok((repo, r.u64(3)?))
            })?)
            .into_iter()
            .unzip();
        if repos.is_empty() {
            return Ok(Vec::new());
        }
        let only = match since {
            Some(v) => format!(
                " AND (repo_type, repo) IN (SELECT repo_type, repo FROM counts \
                 WHERE org = {org_q} AND kind = {REPO} AND version > {v} AND version <= {version})"
            ),
            None => String::new(),
        };
        // Each source's latest value of each day, grouped by the repository's type and name
        // hash rather than its name: 18.16 groups fixed-width keys several times faster than
        // strings. The sum over sources and the order of days are made here: summing in a
        // second GROUP BY and sorting by name took 18.16 longer than the grouping itself (for
        // 8 million days, 67 s in all against 6.5 s for this query). Should two names of the
        // organization share a hash, the names themselves are the key.
        let mut by_hash = HashMap::with_capacity(repos.len());
        let hashed = (repos.iter().zip(&hashes))
            .enumerate()
            .all(|(i, (repo, h))| by_hash.insert((repo.0.repo_type, *h), i).is_none());
        let name = if hashed { "cityHash64(repo)" } else { "repo" };
        let days_sql = format!(
            "SELECT repo_type, {name} AS name, day, argMax(downloads, version) AS n FROM counts \
             WHERE org = {org_q} AND kind = {DAY} AND version <= {version}{only} \
             GROUP BY repo_type, name, day, source HAVING n > 0"
        );
        let by_name: HashMap<RepoKey, usize> = if hashed {
            HashMap::new()
        } else {
            (repos.iter().enumerate())
                .map(|(i, repo)| (repo.0.clone(), i))
                .collect()
        };
        self.client.query_each(&days_sql, &mut |r| {
            let at = if hashed {
                by_hash.get(&(repo_type(r.u64(0)?)?, r.u64(1)?)).copied()
            } else {
                by_name.get(&repo_key(r.u64(0)?, &r.str(1)?)?).copied()
            };
            let Some(repo) = at.map(|i| &mut repos[i]) else {
                return Err(backend(format!(
                    "days of repository {} (type {}) without its repository row",
                    r.str(1)?,
                    r.u64(0)?
                )));
            };
            let day = i32::try_from(r.u64(2)?).map_err(|_| backend("stored day out of range"))?;
            repo.2.push((day, r.u64(3)?));
            Ok(())
        })?;
        for repo in &mut repos {
            // Days in order, each day's sources summed (RepoSeries checks the sums' bound).
            repo.2.sort_unstable_by_key(|&(day, _)| day);
            repo.2.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    kept.1 = kept.1.saturating_add(later.1);
                }
                same
            });
        }
        repos
            .into_iter()
            .enumerate()
            .map(|(i, (key, adjustment, days))| {
                Ok((i as i64, RepoSeries::new(key, adjustment, &days)?))
            })
            .collect()
    }

    /// The organization's index at its current version: the cached one when current, else the
    /// cached one patched with the repositories written since, else built. `None` for an
    /// organization without counts.
    pub fn index(&self, org: &OrgName) -> StoreResult<Option<Arc<OrgIndex>>> {
        let Some(row) = self.org_row(org)? else {
            self.indexes.remove(org.as_str());
            return Ok(None);
        };
        let org_id = row.generation as i64;
        let current = |c: &OrgIndex| c.org_id == org_id && c.version >= row.version;
        if let Some(c) = self.indexes.get(org.as_str()).filter(|c| current(c)) {
            return Ok(Some(c));
        }
        // One read of an organization at a time: a request arriving during another's read
        // waits for it and takes its index, rather than sending the same query again (a whole
        // organization of 8 million days takes 18.16 a minute and gigabytes, and a query keeps
        // running after its client gave up, so repeated reads pile up on the server).
        let reading = {
            let mut reads = self.reads.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(reads.entry(org.as_str().to_owned()).or_default())
        };
        let _reading = reading.lock().unwrap_or_else(|p| p.into_inner());
        let cached = self.indexes.get(org.as_str());
        let index = match cached {
            Some(c) if current(&c) => return Ok(Some(c)),
            Some(c) if c.org_id == org_id && c.version < row.version => {
                let changed = self.read_repos(org, row.version, Some(c.version))?;
                c.updated(row.version, changed)?
            }
            _ => OrgIndex::build(
                org_id,
                row.version,
                self.read_repos(org, row.version, None)?,
            )?,
        };
        let index = Arc::new(index);
        self.indexes.put(org.as_str(), index.clone());
        Ok(Some(index))
    }
}

impl Counts for ClickHouseCounts {
    fn write(&self, source: &SourceId, mode: WriteMode) -> StoreResult<Box<dyn CountsWrite + '_>> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Box::new(write::ClickHouseWrite::new(
            &self.client,
            guard,
            source.clone(),
            mode,
        )))
    }

    fn source(&self, source: &SourceId) -> StoreResult<Option<SourceInfo>> {
        let s = quote(source.as_str());
        let applied = self.client.query(
            &format!(
                "SELECT count(), argMax(adjustment, version) FROM counts \
                 WHERE org = '' AND kind = {SOURCE} AND source = {s}"
            ),
            |r| Ok((r.u64(0)? > 0).then_some(r.i64(1)?)),
        )?;
        let Some(applied_unix) = applied.into_iter().next().flatten() else {
            return Ok(None);
        };
        let rows = self.client.query(
            &format!(
                "SELECT count() FROM (SELECT argMax(downloads, version) AS n FROM counts \
                 WHERE kind = {DAY} AND source = {s} GROUP BY org, repo_type, repo, day) \
                 WHERE n > 0"
            ),
            |r| r.u64(0),
        )?;
        Ok(Some(SourceInfo {
            source: source.clone(),
            rows: rows.first().copied().unwrap_or(0),
            applied_unix,
        }))
    }

    fn index_memory(&self) -> Option<crate::store::IndexMemory> {
        Some(self.indexes.memory())
    }

    fn org_sources(&self, org: &OrgName) -> StoreResult<Vec<SourceInfo>> {
        let applied = self.client.query(
            &format!(
                "SELECT source, argMax(adjustment, version) FROM counts \
                 WHERE org = '' AND kind = {SOURCE} GROUP BY source"
            ),
            |r| Ok((r.str(0)?, r.i64(1)?)),
        )?;
        let applied: std::collections::HashMap<String, i64> = applied.into_iter().collect();
        let o = quote(org.as_str());
        self.client.query(
            &format!(
                "SELECT source, count() FROM ( \
                   SELECT source, argMax(downloads, version) AS n FROM counts \
                   WHERE org = {o} AND kind = {DAY} GROUP BY repo_type, repo, day, source) \
                 WHERE n > 0 GROUP BY source ORDER BY source"
            ),
            |r| {
                let name = r.str(0)?;
                Ok(SourceInfo {
                    source: SourceId::parse(&name)?,
                    rows: r.u64(1)?,
                    applied_unix: applied.get(&name).copied().unwrap_or(0),
                })
            },
        )
    }

    fn stats(&self) -> StoreResult<CountsStats> {
        let repositories = self.client.query(
            &format!(
                "SELECT count() FROM (SELECT 1 FROM counts WHERE kind = {REPO} \
                 GROUP BY org, repo_type, repo)"
            ),
            |r| r.u64(0),
        )?;
        let applied = self.client.query(
            &format!(
                "SELECT source, argMax(adjustment, version) FROM counts \
                 WHERE org = '' AND kind = {SOURCE} GROUP BY source"
            ),
            |r| Ok((r.str(0)?, r.i64(1)?)),
        )?;
        let applied: std::collections::HashMap<String, i64> = applied.into_iter().collect();
        let sources = self.client.query(
            &format!(
                "SELECT source, count() FROM ( \
                   SELECT source, argMax(downloads, version) AS n FROM counts \
                   WHERE kind = {DAY} GROUP BY org, repo_type, repo, day, source) \
                 WHERE n > 0 GROUP BY source ORDER BY source"
            ),
            |r| {
                let name = r.str(0)?;
                Ok(SourceInfo {
                    source: SourceId::parse(&name)?,
                    rows: r.u64(1)?,
                    applied_unix: applied.get(&name).copied().unwrap_or(0),
                })
            },
        )?;
        Ok(CountsStats {
            repositories: repositories.first().copied().unwrap_or(0),
            sources,
        })
    }

    fn version(&self, org: &OrgName) -> StoreResult<u64> {
        Ok(self.org_row(org)?.map_or(0, |r| r.version))
    }

    fn repo_count(&self, org: &OrgName) -> StoreResult<u64> {
        let n = self.client.query(
            &format!(
                "SELECT count() FROM (SELECT 1 FROM counts WHERE org = {} AND kind = {REPO} \
                 GROUP BY repo_type, repo)",
                quote(org.as_str())
            ),
            |r| r.u64(0),
        )?;
        Ok(n.first().copied().unwrap_or(0))
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
        match self.index(org)? {
            Some(index) => index.for_each_daily(filter, f),
            None => Ok(()),
        }
    }

    fn remove_org(&self, org: &OrgName) -> StoreResult<()> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        mutations::delete(
            &self.client,
            "counts",
            &format!("org = {}", quote(org.as_str())),
        )?;
        self.indexes.remove(org.as_str());
        self.snapshots.remove_org(org)?;
        self.events.remove_org(org)
    }

    fn log_events(&self) -> Option<&dyn LogEvents> {
        Some(&self.events)
    }

    fn hub_snapshots(&self) -> Option<&dyn crate::store::HubSnapshots> {
        Some(&self.snapshots)
    }

    fn source_days(
        &self,
        source: &SourceId,
        f: &mut dyn FnMut(&RepoKey, Day, u64) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let sql = format!(
            "SELECT repo_type, repo, day, argMax(downloads, version) AS n FROM counts \
             WHERE kind = {DAY} AND source = {} GROUP BY org, repo_type, repo, day \
             HAVING n > 0 ORDER BY repo_type, repo, day",
            quote(source.as_str())
        );
        self.client.query_each(&sql, &mut |r| {
            let day = i32::try_from(r.u64(2)?).map_err(|_| backend("stored day out of range"))?;
            f(
                &repo_key(r.u64(0)?, &r.str(1)?)?,
                Day::from_epoch_days(day),
                r.u64(3)?,
            )
        })
    }
}

#[cfg(test)]
mod tests;

impl IndexedCounts for ClickHouseCounts {
    fn org_index(&self, org: &OrgName) -> StoreResult<Option<Arc<OrgIndex>>> {
        self.index(org)
    }
}
