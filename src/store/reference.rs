//! The reference [`Counts`]: the contract written as plainly as possible, every read answered
//! by brute force over maps. The [`conformance`](super::conformance) suite compares every
//! backend with it, and analytics unit tests read it as an independent oracle.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::{
    Committed, Counts, CountsStats, CountsWrite, DailyFilter, DailyRow, PeriodSums, RepoSummaries,
    RepoSummary, SourceId, SourceInfo, StoreError, StoreResult, WriteMode, MAX_COUNT,
};
use crate::domain::{Day, DayRange, LogEvent, OrgName, RepoKey, RepoName, RepoType};

#[derive(Default)]
pub struct MemCounts {
    state: Mutex<State>,
}

#[derive(Debug, Clone, Default)]
struct State {
    /// Every repository a write ever named.
    repos: BTreeSet<RepoKey>,
    /// Each source's values.
    sources: BTreeMap<SourceId, BTreeMap<(RepoKey, Day), u64>>,
    adjustments: BTreeMap<RepoKey, i64>,
    versions: BTreeMap<OrgName, u64>,
}

impl State {
    fn days(&self, repo: &RepoKey) -> BTreeMap<Day, u64> {
        let mut days = BTreeMap::new();
        for values in self.sources.values() {
            for ((r, d), n) in values {
                if r == repo {
                    *days.entry(*d).or_insert(0) += n;
                }
            }
        }
        days
    }

    fn summary(&self, repo: &RepoKey) -> RepoSummary {
        let days = self.days(repo);
        let sum: u64 = days.values().sum();
        let adjustment = self.adjustments.get(repo).copied().unwrap_or(0);
        RepoSummary {
            key: repo.clone(),
            total: (sum as i64 + adjustment).max(0) as u64,
            adjustment,
            first_day: days.keys().next().copied(),
            last_day: days.keys().next_back().copied(),
        }
    }

    fn org_repos<'s>(&'s self, org: &'s OrgName) -> impl Iterator<Item = &'s RepoKey> {
        self.repos.iter().filter(move |k| &k.name.org() == org)
    }
}

pub fn key(t: &str, name: &str) -> RepoKey {
    RepoKey {
        repo_type: t.parse().expect("a repository type"),
        name: RepoName::parse(name).expect("a repository name"),
    }
}

pub fn day(s: &str) -> Day {
    s.parse().expect("a YYYY-MM-DD day")
}

/// A `GET` answered 200 of `repo` (no file path) at `at_ms`, by `user`.
pub fn get_by(repo: RepoKey, at_ms: i64, user: &str) -> LogEvent {
    LogEvent {
        repo,
        at_ms,
        method: "GET".to_owned(),
        status: 200,
        path: None,
        user: Some(user.to_owned()),
        ip: None,
    }
}

impl MemCounts {
    /// Adds a repository with an adjustment and `(day, downloads)` rows (source `test`).
    pub fn with(self, t: &str, name: &str, adjustment: i64, days: &[(&str, u64)]) -> Self {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let k = key(t, name);
            state.repos.insert(k.clone());
            state.adjustments.insert(k.clone(), adjustment);
            let values = state
                .sources
                .entry(SourceId("test".to_owned()))
                .or_default();
            for (d, n) in days.iter().filter(|(_, n)| *n > 0) {
                values.insert((k.clone(), day(d)), *n);
            }
        }
        self
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn in_range(range: Option<DayRange>, d: Day) -> bool {
    range.is_none_or(|r| r.contains(d))
}

impl Counts for MemCounts {
    fn write(&self, source: &SourceId, mode: WriteMode) -> StoreResult<Box<dyn CountsWrite + '_>> {
        let mut next = self.read(State::clone);
        let mut touched = BTreeSet::new();
        let values = next.sources.entry(source.clone()).or_default();
        if mode == WriteMode::Replace {
            touched.extend(values.keys().map(|(r, _)| r.clone()));
            values.clear();
        }
        Ok(Box::new(MemWrite {
            counts: self,
            source: source.clone(),
            next,
            touched,
            totals: BTreeMap::new(),
        }))
    }

    fn source(&self, source: &SourceId) -> StoreResult<Option<SourceInfo>> {
        Ok(self.read(|s| {
            s.sources.get(source).map(|values| SourceInfo {
                source: source.clone(),
                rows: values.len() as u64,
                applied_unix: 0,
            })
        }))
    }

    fn stats(&self) -> StoreResult<CountsStats> {
        Ok(self.read(|s| CountsStats {
            repositories: s.repos.len() as u64,
            sources: (s.sources.iter())
                .filter(|(_, values)| !values.is_empty())
                .map(|(source, values)| SourceInfo {
                    source: source.clone(),
                    rows: values.len() as u64,
                    applied_unix: 0,
                })
                .collect(),
        }))
    }

    fn org_sources(&self, org: &OrgName) -> StoreResult<Vec<SourceInfo>> {
        Ok(self.read(|s| {
            (s.sources.iter())
                .map(|(source, values)| SourceInfo {
                    source: source.clone(),
                    rows: values.keys().filter(|(r, _)| &r.name.org() == org).count() as u64,
                    applied_unix: 0,
                })
                .filter(|info| info.rows > 0)
                .collect()
        }))
    }

    fn version(&self, org: &OrgName) -> StoreResult<u64> {
        Ok(self.read(|s| s.versions.get(org).copied().unwrap_or(0)))
    }

    fn repo_count(&self, org: &OrgName) -> StoreResult<u64> {
        Ok(self.read(|s| s.org_repos(org).count() as u64))
    }

    fn repos(&self, org: &OrgName) -> StoreResult<RepoSummaries> {
        Ok(self.read(|s| s.org_repos(org).map(|k| s.summary(k)).collect()))
    }

    fn repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        Ok(self.read(|s| s.repos.contains(repo).then(|| s.summary(repo))))
    }

    fn period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<PeriodSums> {
        let repos = self.repos(org)?;
        let sums = self.read(|s| {
            (repos.iter())
                .map(|r| {
                    let days = s.days(&r.key);
                    let sum = days
                        .iter()
                        .filter(|(d, _)| range.contains(**d))
                        .map(|(_, n)| n);
                    sum.sum::<u64>()
                })
                .collect()
        });
        Ok(PeriodSums::new(repos, sums))
    }

    fn org_daily(
        &self,
        org: &OrgName,
        range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        Ok(self.read(|s| {
            let mut by_day: BTreeMap<(Day, RepoType), u64> = BTreeMap::new();
            for k in s.org_repos(org) {
                for (d, n) in s.days(k).into_iter().filter(|(d, _)| in_range(range, *d)) {
                    *by_day.entry((d, k.repo_type)).or_default() += n;
                }
            }
            by_day.into_iter().map(|((d, t), n)| (d, t, n)).collect()
        }))
    }

    fn for_each_daily(
        &self,
        org: &OrgName,
        filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        let state = self.read(State::clone);
        for k in state.org_repos(org) {
            if filter.repos.is_some_and(|keys| !keys.contains(k)) {
                continue;
            }
            let total = state.summary(k).total;
            for (d, n) in state
                .days(k)
                .into_iter()
                .filter(|(d, _)| in_range(filter.range, *d))
            {
                let row = DailyRow {
                    repo_type: k.repo_type,
                    repo_name: k.name.as_str(),
                    total,
                    day: d,
                    downloads: n,
                };
                f(row).map_err(|e| StoreError::Backend(Box::new(e)))?;
            }
        }
        Ok(())
    }

    fn remove_org(&self, org: &OrgName) -> StoreResult<()> {
        self.remove(org);
        Ok(())
    }
}

impl MemCounts {
    fn remove(&self, org: &OrgName) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.repos.retain(|k| &k.name.org() != org);
        for values in state.sources.values_mut() {
            values.retain(|(k, _), _| &k.name.org() != org);
        }
        state.adjustments.retain(|k, _| &k.name.org() != org);
        state.versions.remove(org);
    }
}

struct MemWrite<'a> {
    counts: &'a MemCounts,
    source: SourceId,
    next: State,
    touched: BTreeSet<RepoKey>,
    totals: BTreeMap<RepoKey, u64>,
}

fn check(what: &str, n: u64) -> StoreResult<()> {
    if n > MAX_COUNT {
        return Err(StoreError::Invalid(format!(
            "{what} {n} is more than {MAX_COUNT}"
        )));
    }
    Ok(())
}

impl CountsWrite for MemWrite<'_> {
    fn set(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()> {
        check("downloads", downloads)?;
        self.next.repos.insert(repo.clone());
        self.touched.insert(repo.clone());
        let values = self.next.sources.entry(self.source.clone()).or_default();
        if downloads == 0 {
            values.remove(&(repo.clone(), day));
        } else {
            values.insert((repo.clone(), day), downloads);
        }
        Ok(())
    }

    fn set_total(&mut self, repo: &RepoKey, total: u64) -> StoreResult<()> {
        check("total", total)?;
        self.next.repos.insert(repo.clone());
        self.touched.insert(repo.clone());
        self.totals.insert(repo.clone(), total);
        Ok(())
    }

    fn commit(self: Box<Self>) -> StoreResult<Committed> {
        let mut next = self.next;
        for repo in &self.touched {
            let sum: u128 = next.days(repo).values().map(|n| u128::from(*n)).sum();
            if sum > u128::from(MAX_COUNT) {
                return Err(StoreError::Invalid(format!(
                    "the downloads of {} overflow",
                    repo.name
                )));
            }
            if let Some(total) = self.totals.get(repo) {
                next.adjustments
                    .insert(repo.clone(), *total as i64 - sum as i64);
            }
        }
        let orgs: BTreeSet<OrgName> = self.touched.iter().map(|k| k.name.org()).collect();
        let mut committed = Committed::default();
        for org in orgs {
            let v = next.versions.entry(org.clone()).or_insert(0);
            *v += 1;
            committed.versions.push((org, *v));
        }
        *self.counts.state.lock().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(committed)
    }
}
