//! `Counts` on SQLite: writes through [`write::SqliteWriteTx`], reads in [`read`]. Every read
//! returns rows in export order straight from the clustered keys (`repos` by
//! `(org_id, repo_type, name)`, `daily` by `(repo_id, day)`), so none needs a sort.
//!
//! A write transaction holds the writer connection until it ends. Readers of a file store use
//! their own connections and see the last committed state; an in-memory store reads through
//! the writer, so reading while holding a [`WriteTx`] on the same thread would wait forever.
//!
//! Measured on 20,000 repositories × 400 days (8M rows, release build, 2 busy shared cores):
//! import 12 s, export 2.3 s, all-time totals 8 ms, period sums 20–80 ms for any period
//! (0.5 s for 365 days by summing daily rows), organization chart 0.1 ms (4.8 s from `daily`).
//! `scripts/roundtrip-large 8000000 20000` reproduces these figures.

mod cache;
mod read;
mod rollup;
mod write;

pub(super) use cache::CountCaches;

use super::SqliteStore;
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoType};
use crate::store::{Counts, DailyFilter, DailyRow, RepoSummary, StoreError, StoreResult, WriteTx};

impl Counts for SqliteStore {
    fn begin(&self) -> StoreResult<Box<dyn WriteTx + '_>> {
        Ok(Box::new(write::SqliteWriteTx::begin(self.writer())?))
    }

    fn is_ingested(&self, source: &str) -> StoreResult<bool> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT 1 FROM ingested_sources WHERE source = ?1")?;
            Ok(stmt.exists([source])?)
        })
    }

    fn repos(&self, org: &OrgName) -> StoreResult<Vec<RepoSummary>> {
        self.read(|conn| {
            let cached = self
                .caches
                .repos
                .get_or_compute(conn, org.clone(), |c| read::repos(c, org))?;
            Ok(cached.as_ref().clone())
        })
    }

    fn repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        self.read(|conn| read::repo(conn, repo))
    }

    fn period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<Vec<(RepoKey, u64)>> {
        self.read(|conn| {
            let key = (org.clone(), range);
            let cached = self
                .caches
                .period_sums
                .get_or_compute(conn, key, |c| read::period_sums(c, org, range))?;
            Ok(cached.as_ref().clone())
        })
    }

    fn org_daily(
        &self,
        org: &OrgName,
        range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        self.read(|conn| read::org_daily(conn, org, range))
    }

    fn for_each_daily(
        &self,
        org: &OrgName,
        filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        self.read(|conn| read::for_each_daily(conn, org, filter, f))
    }
}

fn backend(message: impl Into<String>) -> StoreError {
    StoreError::Backend(message.into().into())
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
        other => Err(backend(format!(
            "stored repository type {other} is unknown"
        ))),
    }
}

#[cfg(test)]
mod tests;
