//! A tiny in-memory [`Counts`] for unit tests: a map of repositories to their adjustment and
//! days, answering every read by brute force (an independent oracle for the queries).

use std::collections::BTreeMap;

use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoName, RepoType};
use crate::store::{Counts, DailyFilter, DailyRow, RepoSummary, StoreError, StoreResult, WriteTx};

#[derive(Default)]
pub struct MemCounts {
    repos: BTreeMap<RepoKey, (i64, BTreeMap<Day, u64>)>,
}

pub fn key(t: &str, name: &str) -> RepoKey {
    RepoKey {
        repo_type: t.parse().unwrap(),
        name: RepoName::parse(name).unwrap(),
    }
}

pub fn day(s: &str) -> Day {
    s.parse().unwrap()
}

impl MemCounts {
    /// Adds a repository with an adjustment and `(day, downloads)` rows.
    pub fn with(mut self, t: &str, name: &str, adjustment: i64, days: &[(&str, u64)]) -> Self {
        let rows = days
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(d, n)| (day(d), *n))
            .collect();
        self.repos.insert(key(t, name), (adjustment, rows));
        self
    }

    fn org_repos<'s>(
        &'s self,
        org: &'s OrgName,
    ) -> impl Iterator<Item = (&'s RepoKey, &'s (i64, BTreeMap<Day, u64>))> {
        self.repos.iter().filter(move |(k, _)| &k.name.org() == org)
    }

    fn summary(k: &RepoKey, (adj, days): &(i64, BTreeMap<Day, u64>)) -> RepoSummary {
        let sum: u64 = days.values().sum();
        RepoSummary {
            key: k.clone(),
            total: (sum as i64 + adj) as u64,
            adjustment: *adj,
            first_day: days.keys().next().copied(),
            last_day: days.keys().next_back().copied(),
        }
    }
}

fn in_range(range: Option<DayRange>, d: Day) -> bool {
    range.is_none_or(|r| r.contains(d))
}

impl Counts for MemCounts {
    fn begin(&self) -> StoreResult<Box<dyn WriteTx + '_>> {
        Err(StoreError::Backend("read-only test store".into()))
    }
    fn is_ingested(&self, _source: &str) -> StoreResult<bool> {
        Ok(false)
    }
    fn repos(&self, org: &OrgName) -> StoreResult<Vec<RepoSummary>> {
        Ok(self
            .org_repos(org)
            .map(|(k, v)| Self::summary(k, v))
            .collect())
    }
    fn repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        Ok(self.repos.get(repo).map(|v| Self::summary(repo, v)))
    }
    fn period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<Vec<(RepoKey, u64)>> {
        let sums = self.org_repos(org).map(|(k, (_, days))| {
            (
                k.clone(),
                days.iter()
                    .filter(|(d, _)| range.contains(**d))
                    .map(|(_, n)| n)
                    .sum(),
            )
        });
        Ok(sums.filter(|(_, n)| *n > 0).collect())
    }
    fn org_daily(
        &self,
        org: &OrgName,
        range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        let mut by_day: BTreeMap<(Day, RepoType), u64> = BTreeMap::new();
        for (k, (_, days)) in self.org_repos(org) {
            for (d, n) in days.iter().filter(|(d, _)| in_range(range, **d)) {
                *by_day.entry((*d, k.repo_type)).or_default() += n;
            }
        }
        Ok(by_day.into_iter().map(|((d, t), n)| (d, t, n)).collect())
    }
    fn for_each_daily(
        &self,
        org: &OrgName,
        filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        for (k, v) in self.org_repos(org) {
            if filter.repos.is_some_and(|keys| !keys.contains(k)) {
                continue;
            }
            let total = Self::summary(k, v).total;
            for (d, n) in v.1.iter().filter(|(d, _)| in_range(filter.range, **d)) {
                let row = DailyRow {
                    repo_type: k.repo_type,
                    repo_name: k.name.as_str(),
                    total,
                    day: *d,
                    downloads: *n,
                };
                f(row).map_err(|e| StoreError::Backend(Box::new(e)))?;
            }
        }
        Ok(())
    }
}
