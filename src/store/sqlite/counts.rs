//! `Counts` on SQLite. (Being written: see the store module docs for the contract.)

use super::SqliteStore;
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoType};
use crate::store::{Counts, DailyFilter, DailyRow, RepoSummary, StoreError, StoreResult, WriteTx};

fn pending() -> StoreError {
    StoreError::Backend("the SQLite counts backend is not written yet".into())
}

impl Counts for SqliteStore {
    fn begin(&self) -> StoreResult<Box<dyn WriteTx + '_>> {
        Err(pending())
    }
    fn is_ingested(&self, _source: &str) -> StoreResult<bool> {
        Err(pending())
    }
    fn repos(&self, _org: &OrgName) -> StoreResult<Vec<RepoSummary>> {
        Err(pending())
    }
    fn repo(&self, _repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        Err(pending())
    }
    fn period_sums(&self, _org: &OrgName, _range: DayRange) -> StoreResult<Vec<(RepoKey, u64)>> {
        Err(pending())
    }
    fn org_daily(
        &self,
        _org: &OrgName,
        _range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        Err(pending())
    }
    fn for_each_daily(
        &self,
        _org: &OrgName,
        _filter: DailyFilter<'_>,
        _f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        Err(pending())
    }
}
