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
    DailyFilter, DailyRow, PeriodSums, RepoDays, RepoNames, RepoSummaries, RepoSummary, StoreError,
    StoreResult, MAX_COUNT,
};
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoType};

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
#[derive(Debug)]
pub struct OrgIndex {
    /// The backend's identity of the organization (a recreated organization is another one).
    pub org_id: i64,
    pub version: u64,
    /// Repositories in export order, with the backend's ids, in chunks of at most
    /// [`CHUNK`]: a new version shares every chunk its write did not touch, so a write to one
    /// repository copies one chunk and the list of chunks, not 20,000 references (whose counts
    /// live in as many cache lines, to increment now and decrement when a version is dropped).
    chunks: Vec<Arc<[Entry]>>,
    /// How many repositories, and [`RepoSeries::bytes`] summed over them.
    len: usize,
    series_bytes: usize,
    /// Organization-wide downloads per day, by repository type.
    daily: Rollup,
    /// The period sums of the ranges read last at this version.
    sums: SumsMemo,
    /// The repositories' summaries at this version, made on first use.
    summaries: Summaries,
    /// Their names for a search, made on first use.
    names: OnceLock<RepoNames>,
    /// What an earlier version had made, to copy the parts of every chunk this version shares
    /// with it instead of visiting those repositories again (`None` for a fresh build).
    base: Option<Arc<Base>>,
}

/// The summaries, names and period sums an earlier version made, with the chunks they were
/// made of: after a write, a new version copies the runs of unchanged chunks out of these
/// (a few contiguous copies) and makes only the rewritten chunks' parts, so the first read
/// after a write costs what the write touched rather than a visit to every repository.
#[derive(Debug)]
struct Base {
    chunks: Vec<Arc<[Entry]>>,
    summaries: RepoSummaries,
    names: Option<RepoNames>,
    sums: Vec<(DayRange, PeriodSums)>,
}

impl Base {
    fn bytes(&self) -> usize {
        let sums = self.sums.len() * self.summaries.len() * std::mem::size_of::<u64>();
        let names = self.names.as_ref().map_or(0, RepoNames::bytes);
        self.summaries.len() * std::mem::size_of::<RepoSummary>() + sums + names
    }
}

/// A run of an index's repositories (in export order): `len` of them, copied from the
/// base's list at position `Some(from)` or made afresh (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    pub from: Option<usize>,
    pub len: usize,
}

/// A repository of an index: the backend's id and its series.
type Entry = (i64, Arc<RepoSeries>);

/// The most repositories in one chunk of an [`OrgIndex`] (a write copies the chunks it touches).
const CHUNK: usize = 256;

/// Splits repositories (in export order) into chunks.
fn chunked(repos: &[Entry]) -> impl Iterator<Item = Arc<[Entry]>> + '_ {
    repos.chunks(CHUNK).map(Arc::from)
}

/// [`OrgIndex::summaries`], kept once made.
#[derive(Debug, Default)]
struct Summaries(OnceLock<RepoSummaries>);

/// The answers of the last [`SumsMemo::KEPT`] ranges asked of an index: paging, sorting and
/// typing in the search box ask for the same one or two ranges request after request, and an
/// answer is 20,000 scattered memory reads at that size. Belongs to one version of an index.
#[derive(Debug, Default)]
struct SumsMemo(Mutex<Vec<(DayRange, PeriodSums)>>);

impl SumsMemo {
    const KEPT: usize = 4;

    fn kept(&self) -> Vec<(DayRange, PeriodSums)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

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

impl OrgIndex {
    /// From every repository of the organization, in any order.
    pub fn build(org_id: i64, version: u64, repos: Vec<(i64, RepoSeries)>) -> StoreResult<Self> {
        let mut repos: Vec<Entry> = repos.into_iter().map(|(id, s)| (id, Arc::new(s))).collect();
        repos.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        let mut daily = Rollup::default();
        for (_, series) in &repos {
            add_rollup(&mut daily, series, true)?;
        }
        Ok(OrgIndex {
            org_id,
            version,
            chunks: chunked(&repos).collect(),
            len: repos.len(),
            series_bytes: repos.iter().map(|(_, s)| s.bytes()).sum(),
            daily,
            sums: SumsMemo::default(),
            summaries: Summaries::default(),
            names: OnceLock::new(),
            base: None,
        })
    }

    /// A copy at `version` in which the `changed` repositories (new or rewritten) replace
    /// their earlier series; every other repository, and every chunk without a changed one,
    /// is shared with `self`. The summaries, names and period sums are made on first use, as
    /// in a fresh build, but copied for every shared chunk from what `self` (or the version
    /// it was made from, if `self` made none) had made ([`Base`]): patching them here would
    /// charge the cost to reads that need none of them, such as one repository's page.
    pub fn updated(&self, version: u64, changed: Vec<(i64, RepoSeries)>) -> StoreResult<Self> {
        let mut changed: Vec<Entry> = changed
            .into_iter()
            .map(|(id, s)| (id, Arc::new(s)))
            .collect();
        changed.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        // A repository named twice keeps its last series.
        changed.reverse();
        changed.dedup_by(|later, earlier| later.1.key == earlier.1.key);
        changed.reverse();
        let mut next = OrgIndex {
            org_id: self.org_id,
            version,
            chunks: self.chunks.clone(),
            len: self.len,
            series_bytes: self.series_bytes,
            daily: self.daily.clone(),
            sums: SumsMemo::default(),
            summaries: Summaries::default(),
            names: OnceLock::new(),
            base: self.base_for_next(),
        };
        // The changed repositories by the chunk they fall in (the last one for keys past it),
        // each chunk rewritten once: replaced and new repositories merged in key order.
        let mut rest = changed.as_slice();
        let mut rewritten: Vec<(usize, Vec<Entry>)> = Vec::new();
        while let Some((_, first)) = rest.first() {
            let at = (self.chunks)
                .partition_point(|c| c.last().is_some_and(|(_, s)| s.key < first.key))
                .min(self.chunks.len().saturating_sub(1));
            let old: &[Entry] = self.chunks.get(at).map_or(&[], |c| c);
            let upper = self.chunks.get(at + 1).and_then(|c| c.first());
            let take = upper.map_or(rest.len(), |(_, s)| {
                rest.partition_point(|(_, c)| c.key < s.key)
            });
            let (mine, later) = rest.split_at(take);
            rest = later;
            let mut merged = Vec::with_capacity(old.len() + mine.len());
            let mut left = old;
            for (id, series) in mine {
                let i = left.partition_point(|(_, s)| s.key < series.key);
                merged.extend_from_slice(&left[..i]);
                left = &left[i..];
                if let Some((_, before)) = left.first().filter(|(_, s)| s.key == series.key) {
                    add_rollup(&mut next.daily, before, false)?;
                    next.series_bytes -= before.bytes();
                    left = &left[1..];
                } else {
                    next.len += 1;
                }
                add_rollup(&mut next.daily, series, true)?;
                next.series_bytes += series.bytes();
                merged.push((*id, series.clone()));
            }
            merged.extend_from_slice(left);
            rewritten.push((at, merged));
        }
        // Rewritten chunks replace theirs (split again when they grew past a chunk), from the
        // last, so the positions of earlier ones still hold.
        for (at, merged) in rewritten.into_iter().rev() {
            let parts: Vec<Arc<[Entry]>> = chunked(&merged).collect();
            if at < next.chunks.len() {
                next.chunks.splice(at..=at, parts);
            } else {
                next.chunks.extend(parts);
            }
        }
        Ok(next)
    }

    pub fn series(&self) -> impl Iterator<Item = &RepoSeries> {
        self.chunks
            .iter()
            .flat_map(|c| c.iter())
            .map(|(_, s)| s.as_ref())
    }

    pub fn repo(&self, key: &RepoKey) -> Option<&RepoSeries> {
        let at = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|(_, s)| s.key < *key));
        let chunk = self.chunks.get(at)?;
        let i = chunk.binary_search_by(|(_, s)| s.key.cmp(key)).ok()?;
        Some(&chunk[i].1)
    }

    pub fn summaries(&self) -> RepoSummaries {
        (self.summaries.0)
            .get_or_init(|| match &self.base {
                None => self.series().map(RepoSeries::summary).collect(),
                Some(base) => {
                    let mut out = Vec::with_capacity(self.len);
                    self.patch(base, |run, made| match run.from {
                        Some(from) => out.extend_from_slice(&base.summaries[from..][..run.len]),
                        None => out.extend(made.map(RepoSeries::summary)),
                    });
                    out.into()
                }
            })
            .clone()
    }

    /// The names for a search, aligned with [`OrgIndex::summaries`]; made on first use.
    pub fn repo_names(&self) -> RepoNames {
        (self.names)
            .get_or_init(|| {
                let base = self.base.as_ref();
                match base.and_then(|b| Some((b, b.names.as_ref()?))) {
                    None => RepoNames::new(self.summaries()),
                    Some((base, names)) => {
                        let mut runs = Vec::new();
                        self.patch(base, |run, _| runs.push(run));
                        RepoNames::patched(self.summaries(), names, &runs)
                    }
                }
            })
            .clone()
    }

    /// Aligned with [`OrgIndex::summaries`] (the same shared list).
    pub fn period_sums(&self, range: DayRange) -> PeriodSums {
        self.sums.get_or(range, || {
            let kept = self.base.as_ref().and_then(|b| {
                let (_, sums) = b.sums.iter().find(|(r, _)| *r == range)?;
                Some((b, sums.aligned_with(&b.summaries)?))
            });
            let sums = match kept {
                None => self.series().map(|s| s.sum(range)).collect(),
                Some((base, kept)) => {
                    let mut out = Vec::with_capacity(self.len);
                    self.patch(base, |run, made| match run.from {
                        Some(from) => out.extend_from_slice(&kept[from..][..run.len]),
                        None => out.extend(made.map(|s| s.sum(range))),
                    });
                    out.into()
                }
            };
            PeriodSums::new(self.summaries(), sums)
        })
    }

    /// What the next version takes as its [`Base`]: what this one made, or, if it made no
    /// summaries (so nothing), its own base.
    fn base_for_next(&self) -> Option<Arc<Base>> {
        let Some(summaries) = self.summaries.0.get() else {
            return self.base.clone();
        };
        Some(Arc::new(Base {
            chunks: self.chunks.clone(),
            summaries: summaries.clone(),
            names: self.names.get().cloned(),
            sums: self.sums.kept(),
        }))
    }

    /// Walks this version's chunks in order as runs: a chunk shared with `base` (the same
    /// allocation) is copied from its position in the base's list, any other is made from
    /// its repositories, which `f` is handed either way.
    fn patch<'a>(
        &'a self,
        base: &Base,
        mut f: impl FnMut(Run, &mut dyn Iterator<Item = &'a RepoSeries>),
    ) {
        let mut starts: HashMap<*const Entry, usize> = HashMap::with_capacity(base.chunks.len());
        let mut at = 0;
        for c in &base.chunks {
            starts.insert(c.as_ptr(), at);
            at += c.len();
        }
        for chunk in &self.chunks {
            let run = Run {
                from: starts.get(&chunk.as_ptr()).copied(),
                len: chunk.len(),
            };
            f(run, &mut chunk.iter().map(|(_, s)| s.as_ref()));
        }
    }

    pub fn org_daily(&self, range: Option<DayRange>) -> Vec<(Day, RepoType, u64)> {
        let (from, to) = bounds(range);
        let mut out = Vec::new();
        for (day, by_type) in self.daily.range(from, to) {
            for (t, n) in [RepoType::Model, RepoType::Dataset]
                .into_iter()
                .zip(by_type)
            {
                if n > 0 {
                    out.push((Day::from_epoch_days(day), t, n));
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

    /// Approximate heap size, for the cache's budget (kept period sums counted as full; a
    /// base's products as they are, though shared with the version it came from while that
    /// one is cached too).
    pub fn bytes(&self) -> usize {
        self.own_bytes() + self.base.as_ref().map_or(0, |b| b.bytes())
    }

    fn own_bytes(&self) -> usize {
        let sums = SumsMemo::KEPT * self.len * std::mem::size_of::<u64>()
            + self.len * std::mem::size_of::<RepoSummary>();
        let names = self.names.get().map_or(0, RepoNames::bytes);
        self.series_bytes + self.len * 48 + self.daily.bytes() + sums + names
    }
}

/// The `Counts` reads a backend answers from its organizations' indexes, written once: a
/// backend gives [`IndexedCounts::org_index`] and its `Counts` methods call these.
pub trait IndexedCounts {
    /// The organization's index at its current version (`None`: it has no counts).
    fn org_index(&self, org: &OrgName) -> StoreResult<Option<Arc<OrgIndex>>>;

    fn indexed_repos(&self, org: &OrgName) -> StoreResult<RepoSummaries> {
        Ok(self
            .org_index(org)?
            .map_or_else(|| RepoSummaries::from([]), |i| i.summaries()))
    }

    fn indexed_repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        let index = self.org_index(&repo.name.org())?;
        Ok(index.and_then(|i| i.repo(repo).map(RepoSeries::summary)))
    }

    fn indexed_repo_days(
        &self,
        repo: &RepoKey,
        range: Option<DayRange>,
    ) -> StoreResult<Option<RepoDays>> {
        let index = self.org_index(&repo.name.org())?;
        Ok(index.and_then(|i| {
            let s = i.repo(repo)?;
            let rows = s.rows(range);
            let mut days = Vec::with_capacity(rows.size_hint().1.unwrap_or(0));
            days.extend(rows.map(|(day, n)| (Day::from_epoch_days(day), n)));
            Some(RepoDays {
                summary: s.summary(),
                days,
            })
        }))
    }

    fn indexed_period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<PeriodSums> {
        Ok(self
            .org_index(org)?
            .map_or_else(PeriodSums::empty, |i| i.period_sums(range)))
    }

    fn indexed_repo_names(&self, org: &OrgName) -> StoreResult<RepoNames> {
        Ok(self.org_index(org)?.map_or_else(
            || RepoNames::new(RepoSummaries::from([])),
            |i| i.repo_names(),
        ))
    }

    fn indexed_org_daily(
        &self,
        org: &OrgName,
        range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        Ok(self
            .org_index(org)?
            .map_or_else(Vec::new, |i| i.org_daily(range)))
    }
}

/// Adds (or, with `add = false`, removes) a repository's days to the organization's rollup,
/// with checked arithmetic: an organization day past [`MAX_COUNT`] is refused.
fn add_rollup(daily: &mut Rollup, s: &RepoSeries, add: bool) -> StoreResult<()> {
    let slot = type_slot(s.key.repo_type);
    for (day, n) in s.rows(None) {
        daily.add(day, slot, n, add).ok_or_else(|| {
            StoreError::Invalid(format!(
                "the organization's downloads on {} add up to more than {MAX_COUNT}",
                Day::from_epoch_days(day)
            ))
        })?;
    }
    Ok(())
}

/// Days per block of a [`Rollup`].
const BLOCK: i32 = 128;

/// An organization's downloads per day and repository type, in blocks of [`BLOCK`] days that
/// index versions share: a new version copies the list of blocks (a dozen references for
/// three years) and then only the blocks its write touches. (A map of days, copied whole for
/// every version, was a fifth of the first request after a one-row write: 20,000
/// repositories × 1,095 days.) Only blocks with downloads exist, so a day far from the others
/// costs one block.
#[derive(Debug, Clone, Default)]
struct Rollup {
    blocks: BTreeMap<i32, Arc<[[u64; 2]; BLOCK as usize]>>,
}

impl Rollup {
    /// Adds `n` to (or takes it from) `day`'s downloads of type `slot`; `None` when that
    /// passes [`MAX_COUNT`] or goes below 0 (nothing changed then).
    fn add(&mut self, day: i32, slot: usize, n: u64, add: bool) -> Option<()> {
        let (key, at) = (day.div_euclid(BLOCK), day.rem_euclid(BLOCK) as usize);
        let block = self
            .blocks
            .entry(key)
            .or_insert_with(|| Arc::new([[0; 2]; BLOCK as usize]));
        let value = if add {
            block[at][slot].checked_add(n).filter(|v| *v <= MAX_COUNT)
        } else {
            block[at][slot].checked_sub(n)
        };
        let Some(value) = value else {
            if block.iter().all(|d| *d == [0, 0]) {
                self.blocks.remove(&key);
            }
            return None;
        };
        let block = Arc::make_mut(block);
        block[at][slot] = value;
        if value == 0 && block.iter().all(|d| *d == [0, 0]) {
            self.blocks.remove(&key);
        }
        Some(())
    }

    /// The days within `from..=to` that have downloads, ascending.
    fn range(&self, from: i32, to: i32) -> impl Iterator<Item = (i32, [u64; 2])> + '_ {
        let keys = from.div_euclid(BLOCK)..=to.div_euclid(BLOCK);
        (self.blocks.range(keys))
            .flat_map(|(key, block)| {
                let first = key * BLOCK;
                (block.iter().enumerate()).map(move |(i, d)| (first + i as i32, *d))
            })
            .filter(move |(day, d)| (from..=to).contains(day) && *d != [0, 0])
    }

    fn bytes(&self) -> usize {
        self.blocks.len() * (std::mem::size_of::<[[u64; 2]; BLOCK as usize]>() + 48)
    }
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

    /// The memory the kept indexes take (approximately) and the budget.
    pub fn memory(&self) -> crate::store::IndexMemory {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: usize = state.entries.values().map(|(i, _)| i.bytes()).sum();
        crate::store::IndexMemory {
            bytes: bytes as u64,
            budget: self.budget as u64,
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
    use proptest::prelude::*;

    use super::*;
    use crate::store::reference::key;

    /// A repository as the tests write it: (model?, name number, adjustment, (day, downloads)).
    type Repo = (bool, u16, i64, Vec<(i32, u64)>);

    fn series((model, n, adjustment, days): &Repo) -> RepoSeries {
        let t = if *model { "model" } else { "dataset" };
        let mut days = days.clone();
        days.sort();
        days.dedup_by_key(|(d, _)| *d);
        RepoSeries::new(key(t, &format!("acme/r{n}")), *adjustment, &days).unwrap()
    }

    fn repo() -> impl Strategy<Value = Repo> {
        // Days on both sides of 1970 and across several rollup blocks.
        let days = prop::collection::vec((-150..150i32, 0..1000u64), 0..8);
        (any::<bool>(), 0..1200u16, -50..50i64, days)
    }

    fn range(from: i32, len: i32) -> DayRange {
        let day = Day::from_epoch_days;
        DayRange::new(day(from), day(from + len)).unwrap()
    }

    proptest! {
        /// An index patched by a write (new repositories among rewritten ones, in any order)
        /// answers exactly as an index built from scratch on the same repositories, and the
        /// earlier version, whose answers were read before, is unchanged.
        #[test]
        fn updated_answers_as_a_fresh_build(
            before in prop::collection::vec(repo(), 0..900),
            write in prop::collection::vec(repo(), 0..40),
            ranges in prop::collection::vec((-160..160i32, 0..200i32), 1..4),
        ) {
            let ranges: Vec<DayRange> = ranges.into_iter().map(|(f, l)| range(f, l)).collect();
            let mut all: BTreeMap<RepoKey, (i64, RepoSeries)> = BTreeMap::new();
            for (id, r) in before.iter().enumerate() {
                let s = series(r);
                all.insert(s.key.clone(), (id as i64, s));
            }
            let before_all: Vec<(i64, RepoSeries)> = all.values().cloned().collect();
            let old = OrgIndex::build(7, 1, before_all.clone()).unwrap();
            let _ = old.repo_names();
            for r in &ranges {
                let _ = old.period_sums(*r);
            }
            // The write in two parts, the first of which nobody reads: the second version
            // then copies from what the first version (the one read) made.
            let changed: Vec<(i64, RepoSeries)> =
                write.iter().enumerate().map(|(i, r)| (100 + i as i64, series(r))).collect();
            let (unread, second) = changed.split_at(changed.len() / 2);
            for (id, s) in &changed {
                all.insert(s.key.clone(), (*id, s.clone()));
            }
            let unread = old.updated(2, unread.to_vec()).unwrap();
            let new = unread.updated(3, second.to_vec()).unwrap();
            let fresh = OrgIndex::build(7, 3, all.into_values().collect()).unwrap();
            // The copies are made from what the read version made (not computed afresh).
            let base = new.base.as_ref().expect("a base from the read version");
            prop_assert!(base.names.is_some() && !base.sums.is_empty());
            prop_assert_eq!(new.summaries(), fresh.summaries());
            for r in &ranges {
                prop_assert_eq!(new.period_sums(*r), fresh.period_sums(*r));
            }
            for needle in ["r1", "acme/r", "5", "zz"] {
                prop_assert_eq!(
                    new.repo_names().matching(needle),
                    fresh.repo_names().matching(needle)
                );
            }
            prop_assert!(new.repo_names().aligned_with(&new.summaries()));
            // The rollup against the repositories' days summed by brute force, whole and
            // by range.
            let mut by_day: BTreeMap<(Day, RepoType), u64> = BTreeMap::new();
            for s in fresh.series() {
                for (day, n) in s.rows(None) {
                    *by_day.entry((Day::from_epoch_days(day), s.key.repo_type)).or_default() += n;
                }
            }
            let expected: Vec<(Day, RepoType, u64)> =
                by_day.into_iter().map(|((d, t), n)| (d, t, n)).collect();
            prop_assert_eq!(new.org_daily(None), expected.clone());
            prop_assert_eq!(fresh.org_daily(None), expected.clone());
            for r in &ranges {
                let within: Vec<_> = expected.iter().filter(|(d, _, _)| r.contains(*d)).copied().collect();
                prop_assert_eq!(new.org_daily(Some(*r)), within.clone());
                prop_assert_eq!(fresh.org_daily(Some(*r)), within);
            }
            prop_assert_eq!(new.own_bytes(), fresh.bytes());
            prop_assert!(new.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
            for s in fresh.series() {
                prop_assert_eq!(new.repo(&s.key), Some(s));
            }
            let old_summaries = old.summaries();
            let fresh_old = OrgIndex::build(7, 1, before_all).unwrap();
            prop_assert_eq!(old_summaries, fresh_old.summaries(), "the old version is unchanged");
            // Its rollup too: the blocks the write changed were copied, not changed in place.
            prop_assert_eq!(old.org_daily(None), fresh_old.org_daily(None));
        }
    }
}
