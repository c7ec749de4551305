//! The in-memory read index of one organization: what every dashboard read is answered from.
//!
//! Per repository (in export order) the running total through every day from its first to its
//! last day with downloads, in one array; per organization the daily totals by repository
//! type. A period sum is two array reads per repository, a series is a slice, the chart is a
//! range of the rollup. An index is immutable and shared (`Arc`); a write produces a new
//! index that shares every repository it did not touch ([`OrgIndex::updated`]), so applying a
//! batch costs what the batch touched, not the organization's size.
//!
//! [`IndexCache`] keeps the indexes of recently read organizations under a memory budget,
//! evicting the least recently used; each entry is tagged with the organization's identity and
//! data version, so a backend serves an entry only at the version it read in the same snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use super::{
    DailyFilter, DailyRow, PeriodSums, RepoSummaries, RepoSummary, StoreError, StoreResult,
    MAX_COUNT,
};
use crate::domain::{Day, DayRange, RepoKey, RepoType};

/// One repository's merged daily series (every source summed), as running totals over every
/// day from its first to its last day with downloads: any period's downloads are two array
/// reads (`cum[to] - cum[from - 1]`), with no search — what makes sums over 20,000
/// repositories take well under a millisecond's worth of memory accesses each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSeries {
    pub key: RepoKey,
    pub adjustment: i64,
    /// The first day with downloads (days since 1970-01-01); meaningless when `cum` is empty.
    first: i32,
    /// `cum[i]`: downloads from `first` through `first + i`. The last day has downloads.
    cum: Vec<u64>,
}

impl RepoSeries {
    /// From `(day, downloads)` pairs in ascending day order; zero days are skipped.
    pub fn new(key: RepoKey, adjustment: i64, days: &[(i32, u64)]) -> StoreResult<Self> {
        let days: Vec<(i32, u64)> = days.iter().copied().filter(|(_, n)| *n > 0).collect();
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return Ok(RepoSeries {
                key,
                adjustment,
                first: 0,
                cum: Vec::new(),
            });
        };
        let (first, len) = (first.0, (last.0 - first.0 + 1) as usize);
        let mut cum = vec![0u64; len];
        let mut sum = 0u64;
        let mut next = 0;
        for (i, slot) in cum.iter_mut().enumerate() {
            if next < days.len() && days[next].0 == first + i as i32 {
                sum = sum
                    .checked_add(days[next].1)
                    .filter(|s| *s <= MAX_COUNT)
                    .ok_or_else(|| overflow(&key))?;
                next += 1;
            }
            *slot = sum;
        }
        Ok(RepoSeries {
            key,
            adjustment,
            first,
            cum,
        })
    }

    pub fn daily_sum(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    pub fn summary(&self) -> RepoSummary {
        let total = i128::from(self.adjustment) + i128::from(self.daily_sum());
        let day = |offset: usize| Day::from_epoch_days(self.first + offset as i32);
        RepoSummary {
            key: self.key.clone(),
            total: u64::try_from(total.max(0)).unwrap_or(u64::MAX),
            adjustment: self.adjustment,
            first_day: (!self.cum.is_empty()).then(|| day(0)),
            last_day: self.cum.len().checked_sub(1).map(day),
        }
    }

    /// Downloads through `day` (inclusive).
    fn cum_through(&self, day: i32) -> u64 {
        if self.cum.is_empty() || day < self.first {
            return 0;
        }
        let i = ((day - self.first) as usize).min(self.cum.len() - 1);
        self.cum[i]
    }

    /// Downloads within `range`: two array reads.
    pub fn sum(&self, range: DayRange) -> u64 {
        self.cum_through(range.to.epoch_days()) - self.cum_through(range.from.epoch_days() - 1)
    }

    /// The days with downloads within `range` (all when `None`) as (day, downloads).
    pub fn rows(&self, range: Option<DayRange>) -> impl Iterator<Item = (i32, u64)> + '_ {
        let (from, to) = bounds(range);
        let len = self.cum.len() as i64;
        let start = (i64::from(from) - i64::from(self.first)).clamp(0, len) as usize;
        let end = (i64::from(to) - i64::from(self.first) + 1).clamp(0, len) as usize;
        (start..end.max(start)).filter_map(move |i| {
            let before = if i == 0 { 0 } else { self.cum[i - 1] };
            let n = self.cum[i] - before;
            (n > 0).then_some((self.first + i as i32, n))
        })
    }

    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.key.name.as_str().len() + self.cum.len() * 8
    }
}

fn overflow(key: &RepoKey) -> StoreError {
    StoreError::Invalid(format!(
        "the downloads of {} {} add up to more than {MAX_COUNT}",
        key.repo_type, key.name
    ))
}

fn bounds(range: Option<DayRange>) -> (i32, i32) {
    range.map_or((i32::MIN, i32::MAX), |r| {
        (r.from.epoch_days(), r.to.epoch_days())
    })
}

fn type_slot(t: RepoType) -> usize {
    match t {
        RepoType::Model => 0,
        RepoType::Dataset => 1,
    }
}

/// An organization's index at one data version.
#[derive(Debug, Clone)]
pub struct OrgIndex {
    /// The backend's identity of the organization (a recreated organization is another one).
    pub org_id: i64,
    pub version: u64,
    /// Repositories in export order, with the backend's ids.
    repos: Vec<(i64, Arc<RepoSeries>)>,
    /// Organization-wide downloads per day, by repository type.
    daily: BTreeMap<i32, [u64; 2]>,
    /// The period sums of the ranges read last at this version.
    sums: SumsMemo,
    /// The repositories' summaries at this version, made on first use.
    summaries: Summaries,
}

/// [`OrgIndex::summaries`], kept once made; a copy (the next version) starts empty.
#[derive(Debug, Default)]
struct Summaries(OnceLock<RepoSummaries>);

impl Clone for Summaries {
    fn clone(&self) -> Self {
        Summaries::default()
    }
}

/// The answers of the last [`SumsMemo::KEPT`] ranges asked of an index: paging, sorting and
/// typing in the search box ask for the same one or two ranges request after request, and an
/// answer is 20,000 scattered memory reads at that size. Belongs to one version of an index:
/// a copy (the next version) starts empty.
#[derive(Debug, Default)]
struct SumsMemo(Mutex<Vec<(DayRange, PeriodSums)>>);

impl SumsMemo {
    const KEPT: usize = 4;

    fn get_or(&self, range: DayRange, compute: impl FnOnce() -> PeriodSums) -> PeriodSums {
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = kept.iter().position(|(r, _)| *r == range) {
            let hit = kept.remove(i);
            kept.insert(0, hit.clone());
            return hit.1;
        }
        let sums = compute();
        kept.insert(0, (range, sums.clone()));
        kept.truncate(Self::KEPT);
        sums
    }
}

impl Clone for SumsMemo {
    fn clone(&self) -> Self {
        SumsMemo::default()
    }
}

impl OrgIndex {
    /// From every repository of the organization, in any order.
    pub fn build(org_id: i64, version: u64, repos: Vec<(i64, RepoSeries)>) -> StoreResult<Self> {
        let mut index = OrgIndex {
            org_id,
            version,
            repos: repos.into_iter().map(|(id, s)| (id, Arc::new(s))).collect(),
            daily: BTreeMap::new(),
            sums: SumsMemo::default(),
            summaries: Summaries::default(),
        };
        index.repos.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        for (_, series) in &index.repos {
            add_rollup(&mut index.daily, series, true)?;
        }
        Ok(index)
    }

    /// A copy at `version` in which the `changed` repositories (new or rewritten) replace
    /// their earlier series; every other repository is shared with `self`.
    pub fn updated(&self, version: u64, changed: Vec<(i64, RepoSeries)>) -> StoreResult<Self> {
        let mut next = self.clone();
        next.version = version;
        let mut inserted = false;
        // New repositories are pushed after the sorted ones until the sort at the end.
        let sorted = next.repos.len();
        for (id, series) in changed {
            let series = Arc::new(series);
            // Found by key (a repository's key never changes): a binary search, where a map
            // of ids would be copied with every version.
            let at = next.repos[..sorted].binary_search_by(|(_, s)| s.key.cmp(&series.key));
            match at {
                Ok(i) => {
                    add_rollup(&mut next.daily, &next.repos[i].1, false)?;
                    next.repos[i] = (id, series.clone());
                }
                Err(_) => {
                    next.repos.push((id, series.clone()));
                    inserted = true;
                }
            }
            add_rollup(&mut next.daily, &series, true)?;
        }
        if inserted {
            next.repos.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        }
        Ok(next)
    }

    pub fn series(&self) -> impl Iterator<Item = &RepoSeries> {
        self.repos.iter().map(|(_, s)| s.as_ref())
    }

    pub fn repo(&self, key: &RepoKey) -> Option<&RepoSeries> {
        let i = self.repos.binary_search_by(|(_, s)| s.key.cmp(key)).ok()?;
        Some(&self.repos[i].1)
    }

    pub fn summaries(&self) -> RepoSummaries {
        (self.summaries.0)
            .get_or_init(|| self.series().map(RepoSeries::summary).collect())
            .clone()
    }

    pub fn period_sums(&self, range: DayRange) -> PeriodSums {
        self.sums.get_or(range, || {
            self.series()
                .map(|s| (s, s.sum(range)))
                .filter(|(_, n)| *n > 0)
                .map(|(s, n)| (s.key.clone(), n))
                .collect()
        })
    }

    pub fn org_daily(&self, range: Option<DayRange>) -> Vec<(Day, RepoType, u64)> {
        let (from, to) = bounds(range);
        let mut out = Vec::new();
        for (&day, by_type) in self.daily.range(from..=to) {
            for (t, n) in [RepoType::Model, RepoType::Dataset]
                .into_iter()
                .zip(by_type)
            {
                if *n > 0 {
                    out.push((Day::from_epoch_days(day), t, *n));
                }
            }
        }
        out
    }

    /// The daily rows `filter` selects, in export order.
    pub fn for_each_daily(
        &self,
        filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        let mut emit = |s: &RepoSeries| -> StoreResult<()> {
            let total = s.summary().total;
            for (day, downloads) in s.rows(filter.range) {
                let row = DailyRow {
                    repo_type: s.key.repo_type,
                    repo_name: s.key.name.as_str(),
                    total,
                    day: Day::from_epoch_days(day),
                    downloads,
                };
                f(row).map_err(|e| StoreError::Backend(Box::new(e)))?;
            }
            Ok(())
        };
        match filter.repos {
            None => self.series().try_for_each(&mut emit),
            Some(keys) => {
                let mut keys: Vec<&RepoKey> = keys.iter().collect();
                keys.sort();
                keys.dedup();
                keys.into_iter()
                    .filter_map(|k| self.repo(k))
                    .try_for_each(emit)
            }
        }
    }

    /// Approximate heap size, for the cache's budget (kept period sums counted as full).
    pub fn bytes(&self) -> usize {
        let repos: usize = self.series().map(RepoSeries::bytes).sum();
        let sums = SumsMemo::KEPT * self.repos.len() * std::mem::size_of::<(RepoKey, u64)>()
            + self.repos.len() * std::mem::size_of::<RepoSummary>();
        repos + self.repos.len() * 48 + self.daily.len() * 40 + sums
    }
}

/// Adds (or, with `add = false`, removes) a repository's days to the organization's rollup,
/// with checked arithmetic: an organization day past [`MAX_COUNT`] is refused.
fn add_rollup(daily: &mut BTreeMap<i32, [u64; 2]>, s: &RepoSeries, add: bool) -> StoreResult<()> {
    let slot = type_slot(s.key.repo_type);
    for (day, n) in s.rows(None) {
        let entry = daily.entry(day).or_insert([0, 0]);
        let value = if add {
            entry[slot].checked_add(n).filter(|v| *v <= MAX_COUNT)
        } else {
            entry[slot].checked_sub(n)
        };
        entry[slot] = value.ok_or_else(|| {
            StoreError::Invalid(format!(
                "the organization's downloads on {} add up to more than {MAX_COUNT}",
                Day::from_epoch_days(day)
            ))
        })?;
        if *entry == [0, 0] {
            daily.remove(&day);
        }
    }
    Ok(())
}

/// Indexes of recently read organizations, bounded by an approximate memory budget.
pub struct IndexCache {
    budget: usize,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    clock: u64,
    entries: HashMap<String, (Arc<OrgIndex>, u64)>,
}

/// The default budget: enough for several organizations of 20,000 repositories × 3 years.
pub const DEFAULT_INDEX_BUDGET: usize = 1 << 30;

impl IndexCache {
    pub fn new(budget: usize) -> Self {
        IndexCache {
            budget,
            state: Mutex::new(CacheState::default()),
        }
    }

    pub fn get(&self, org: &str) -> Option<Arc<OrgIndex>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.clock += 1;
        let now = state.clock;
        let (index, used) = state.entries.get_mut(org)?;
        *used = now;
        Some(index.clone())
    }

    /// Keeps `index` unless a newer one of the same organization is already kept, then evicts
    /// the least recently used others until the budget holds.
    pub fn put(&self, org: &str, index: Arc<OrgIndex>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.clock += 1;
        let now = state.clock;
        let newer_kept = state
            .entries
            .get(org)
            .is_some_and(|(kept, _)| kept.org_id == index.org_id && kept.version > index.version);
        if !newer_kept {
            state.entries.insert(org.to_owned(), (index, now));
        }
        let mut size: usize = state.entries.values().map(|(i, _)| i.bytes()).sum();
        while size > self.budget && state.entries.len() > 1 {
            let Some(oldest) = (state.entries.iter())
                .filter(|(name, _)| name.as_str() != org)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(name, _)| name.clone())
            else {
                break;
            };
            if let Some((evicted, _)) = state.entries.remove(&oldest) {
                size -= evicted.bytes();
            }
        }
    }

    pub fn remove(&self, org: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.entries.remove(org);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reference::key;

    fn series(name: &str, downloads: u64) -> RepoSeries {
        RepoSeries::new(key("model", name), 0, &[(19_000, downloads)]).unwrap()
    }

    // A new repository is pushed before the sort at the end: a changed repository that comes
    // after it must still be found among the sorted ones, not added a second time.
    #[test]
    fn an_update_with_a_new_repository_before_a_changed_one_keeps_one_of_each() {
        let index = OrgIndex::build(
            1,
            1,
            vec![(1, series("acme/a", 1)), (2, series("acme/c", 2))],
        )
        .unwrap();
        let next = index
            .updated(2, vec![(3, series("acme/b", 3)), (2, series("acme/c", 5))])
            .unwrap();
        let totals: Vec<(String, u64)> = (next.summaries().iter())
            .map(|s| (s.key.name.as_str().to_owned(), s.total))
            .collect();
        assert_eq!(
            totals,
            [
                ("acme/a".to_owned(), 1),
                ("acme/b".to_owned(), 3),
                ("acme/c".to_owned(), 5)
            ]
        );
        assert_eq!(next.org_daily(None)[0].2, 9);
    }
}
