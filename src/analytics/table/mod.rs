//! The per-repository table: filter, sort and page an organization's repositories, then read
//! the sparkline series of the page's rows only.

mod query;
mod sums;
#[cfg(test)]
mod tests;

pub use query::{Order, SortKey, TableQuery, DEFAULT_PER_PAGE, MAX_PER_PAGE};

use std::cmp::Ordering;
use std::collections::HashMap;

use super::overview::previous_complete;
use super::series::{Granularity, Series, SeriesBuilder};
use super::{check_buckets, Analytics, AnalyticsResult};
use crate::domain::{Day, DayRange, OrgName, Period, RepoKey, RepoType};
use crate::store::{DailyFilter, RepoSummary};

/// One repository in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRow {
    pub key: RepoKey,
    /// Downloads in the period (All Time: the total, adjustment included).
    pub downloads: u64,
    pub total: u64,
    /// Downloads in the previous period; `None` for All Time.
    pub previous_downloads: Option<u64>,
    /// Whether the repository has data for the whole previous period (its first day is on or
    /// before the previous period's first day); a change against part of a period misleads.
    pub previous_complete: bool,
    /// The repository's first day with downloads.
    pub first_day: Option<Day>,
    /// The sparkline; its points sum to `downloads` for every period but All Time.
    pub series: Series,
}

impl RepoRow {
    /// `downloads - previous_downloads`; `None` for All Time and when the previous period is
    /// not complete.
    pub fn change(&self) -> Option<i64> {
        self.previous_downloads
            .filter(|_| self.previous_complete)
            .map(|p| self.downloads as i64 - p as i64)
    }
}

/// The figures of the repositories a search or type filter matches, all together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedTotals {
    /// Downloads in the period (All Time: the totals, adjustments included).
    pub downloads: u64,
    /// Downloads in the previous period; `None` for All Time.
    pub previous: Option<u64>,
    /// Whether every matching repository with downloads has data for the whole previous
    /// period (the earliest first day among them is on or before its first day).
    pub previous_complete: bool,
    /// The earliest first day with downloads of the matching repositories.
    pub first_day: Option<Day>,
}

/// One page of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoTable {
    /// Repositories matching the search and type filter (on every page).
    pub count: usize,
    /// Repositories of the organization, before any filter.
    pub repo_count: usize,
    /// The organization's first day with downloads.
    pub first_day: Option<Day>,
    /// The organization's last day with downloads.
    pub last_day: Option<Day>,
    /// With a search or type filter: the matching repositories' figures together.
    pub matched: Option<MatchedTotals>,
    /// The page shown: the one asked for, or the last one when that is past the end.
    pub page: u32,
    pub per_page: u32,
    pub rows: Vec<RepoRow>,
}

impl Analytics<'_> {
    /// One page of `org`'s repositories over `period`, filtered and sorted by `query`.
    pub fn repo_table(
        &self,
        org: &OrgName,
        period: Period,
        query: &TableQuery,
    ) -> AnalyticsResult<RepoTable> {
        self.table_of(org, period, query, &self.counts.repos(org)?)
    }

    /// [`Self::repo_table`] over the organization's repositories, already read.
    pub(super) fn table_of(
        &self,
        org: &OrgName,
        period: Period,
        query: &TableQuery,
        repos: &[RepoSummary],
    ) -> AnalyticsResult<RepoTable> {
        let first = repos.iter().filter_map(|r| r.first_day).min();
        let mut figures = self.figures(org, period, repos, query)?;
        let count = figures.candidates.len();
        let matched = if query.q.is_some() || query.repo_type.is_some() {
            Some(self.matched_totals(org, period, repos, &figures)?)
        } else {
            None
        };
        let pages = count.div_ceil(query.per_page.max(1) as usize).max(1);
        let page_number = query.page.min(u32::try_from(pages).unwrap_or(u32::MAX));
        let skip = (page_number.saturating_sub(1) as usize).saturating_mul(query.per_page as usize);
        let end = skip.saturating_add(query.per_page as usize);
        let candidates = &mut figures.candidates;
        first_rows(candidates, end.min(count), query.sort, query.order);
        let mut page: Vec<RepoRow> = (candidates.iter())
            .skip(skip)
            .take(query.per_page as usize)
            .map(Candidate::row)
            .collect();
        // Unless they were needed for sorting, the previous period's figures are read for the
        // page's rows only, in the same pass as their sparklines.
        let previous = period.previous().filter(|_| !figures.previous_known);
        if let Some(range) = self.chart_range(period, first) {
            self.fill_series(org, range, previous, &mut page)?;
        }
        if period.range.is_some() && !figures.now_known {
            page.iter_mut()
                .for_each(|row| row.downloads = row.series.sum());
        }
        Ok(RepoTable {
            count,
            repo_count: repos.len(),
            first_day: first,
            last_day: repos.iter().filter_map(|r| r.last_day).max(),
            matched,
            page: page_number,
            per_page: query.per_page,
            rows: page,
        })
    }

    /// The matching repositories with the period figures sorting needs (see `sums`).
    fn figures<'r>(
        &self,
        org: &OrgName,
        period: Period,
        repos: &'r [RepoSummary],
        query: &TableQuery,
    ) -> AnalyticsResult<Figures<'r>> {
        let matching = self.matching(org, repos, query)?;
        let sums::PeriodFigures { now, before } = self.period_figures(org, period, query.sort)?;
        let aligned =
            |sums: &sums::Sums| sums.aligned(repos, matching.iter().map(|(at, r)| (*at, &r.key)));
        let (now, before) = (now.as_ref().map(aligned), before.as_ref().map(aligned));
        let candidate = |(i, &(at, repo)): (usize, &(usize, &'r RepoSummary))| {
            let downloads = match (period.range, &now) {
                (None, _) => repo.total,
                (Some(_), Some(sums)) => sums[i],
                (Some(_), None) => 0, // read with the page's series
            };
            Candidate {
                at,
                repo,
                downloads,
                previous: before.as_ref().map(|sums| sums[i]),
                previous_complete: previous_complete(period.previous(), repo.first_day),
            }
        };
        Ok(Figures {
            candidates: matching.iter().enumerate().map(candidate).collect(),
            now_known: period.range.is_none() || now.is_some(),
            previous_known: before.is_some(),
        })
    }

    /// The repositories `query`'s search and type filter match, with their positions, in
    /// export order. A search scans the store's contiguous names when they belong to `repos`
    /// (read at the same version); else each name is searched on its own.
    fn matching<'r>(
        &self,
        org: &OrgName,
        repos: &'r [RepoSummary],
        query: &TableQuery,
    ) -> AnalyticsResult<Vec<(usize, &'r RepoSummary)>> {
        let of_type = |r: &RepoSummary| query.repo_type.is_none_or(|t| r.key.repo_type == t);
        if let Some(needle) = query.needle() {
            let names = self.counts.repo_names(org)?;
            if names.aligned_with(repos) {
                if let Some(found) = names.matching(&needle) {
                    return Ok((found.into_iter())
                        .map(|at| (at, &repos[at]))
                        .filter(|(_, r)| of_type(r))
                        .collect());
                }
            }
        }
        let matches = query.matcher();
        Ok((repos.iter().enumerate())
            .filter(|(_, r)| matches(&r.key))
            .collect())
    }

    /// Reads the daily rows of the page's repositories within `range` into their series and,
    /// when `previous` is given, their downloads in that (adjacent, earlier) range.
    fn fill_series(
        &self,
        org: &OrgName,
        range: DayRange,
        previous: Option<DayRange>,
        rows: &mut [RepoRow],
    ) -> AnalyticsResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let granularity = Granularity::auto(range);
        check_buckets(range, granularity)?;
        let keys: Vec<RepoKey> = rows.iter().map(|r| r.key.clone()).collect();
        let index: HashMap<(RepoType, &str), usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| ((k.repo_type, k.name.as_str()), i))
            .collect();
        let mut builders = vec![SeriesBuilder::new(range, granularity); rows.len()];
        let mut before = vec![0u64; rows.len()];
        let read = DayRange {
            from: previous.map_or(range.from, |p| p.from.min(range.from)),
            to: range.to,
        };
        let filter = DailyFilter {
            repos: Some(&keys),
            range: Some(read),
        };
        // A repository's rows come one after another: look its row up once, not per day.
        let mut last: Option<(RepoType, String, Option<usize>)> = None;
        self.counts.for_each_daily(org, filter, &mut |row| {
            let found = match &last {
                Some((t, name, i)) if *t == row.repo_type && name == row.repo_name => *i,
                _ => {
                    let i = index.get(&(row.repo_type, row.repo_name)).copied();
                    last = Some((row.repo_type, row.repo_name.to_owned(), i));
                    i
                }
            };
            if let Some(i) = found {
                builders[i].add(row.day, row.downloads);
                if previous.is_some_and(|p| p.contains(row.day)) {
                    before[i] = before[i].saturating_add(row.downloads);
                }
            }
            Ok(())
        })?;
        for ((row, builder), before) in rows.iter_mut().zip(builders).zip(before) {
            row.series = builder.finish();
            if previous.is_some() {
                row.previous_downloads = Some(before);
            }
        }
        Ok(())
    }
}

impl Analytics<'_> {
    /// The matching repositories' downloads in the period and the previous one: summed from
    /// the figures when sorting read them, else from the store's organization-wide period
    /// sums (which the store keeps per version, as for sorting).
    fn matched_totals(
        &self,
        org: &OrgName,
        period: Period,
        repos: &[RepoSummary],
        figures: &Figures<'_>,
    ) -> AnalyticsResult<MatchedTotals> {
        let matching = &figures.candidates;
        let first_day = matching.iter().filter_map(|c| c.repo.first_day).min();
        let (Some(range), Some(before)) = (period.range, period.previous()) else {
            let downloads = (matching.iter()).fold(0u64, |s, c| s.saturating_add(c.repo.total));
            return Ok(MatchedTotals {
                downloads,
                previous: None,
                previous_complete: false,
                first_day,
            });
        };
        // The candidates are still in export order here (sorting comes after).
        let sum = |r: DayRange| -> AnalyticsResult<u64> {
            let sums = sums::Sums::new(self.counts.period_sums(org, r)?);
            let aligned = sums.aligned(repos, matching.iter().map(|c| (c.at, &c.repo.key)));
            Ok(aligned.into_iter().fold(0u64, u64::saturating_add))
        };
        let downloads = match figures.now_known {
            true => (matching.iter()).fold(0u64, |s, c| s.saturating_add(c.downloads)),
            false => sum(range)?,
        };
        let previous = match figures.previous_known {
            true => (matching.iter()).fold(0u64, |s, c| s.saturating_add(c.previous.unwrap_or(0))),
            false => sum(before)?,
        };
        Ok(MatchedTotals {
            downloads,
            previous: Some(previous),
            previous_complete: previous_complete(Some(before), first_day),
            first_day,
        })
    }
}

/// The repositories a search and type filter match, in export order, with their figures.
struct Figures<'r> {
    candidates: Vec<Candidate<'r>>,
    /// Whether each candidate's `downloads` is its period's (All Time, or read for sorting);
    /// else the page's rows take theirs from their series.
    now_known: bool,
    /// Whether each candidate's `previous` was read (for sorting by change).
    previous_known: bool,
}

/// A matching repository before paging: a reference to it and its figures. Only the page's
/// candidates become [`RepoRow`]s, so a table of 20,000 repositories copies 50.
struct Candidate<'r> {
    /// The repository's position in the organization's list (export order).
    at: usize,
    repo: &'r RepoSummary,
    downloads: u64,
    previous: Option<u64>,
    previous_complete: bool,
}

impl Candidate<'_> {
    fn change(&self) -> Option<i64> {
        self.previous
            .filter(|_| self.previous_complete)
            .map(|p| self.downloads as i64 - p as i64)
    }

    fn row(&self) -> RepoRow {
        RepoRow {
            key: self.repo.key.clone(),
            downloads: self.downloads,
            total: self.repo.total,
            previous_downloads: self.previous,
            previous_complete: self.previous_complete,
            first_day: self.repo.first_day,
            series: Series::empty(Granularity::Day),
        }
    }
}

/// Keeps the first `n` candidates in table order, sorted: by `sort` in `order`, ties always
/// broken by type (models first) then name, ascending, so every page of a sorted table is
/// stable. Names sort as people read them, ignoring ASCII case (`acme/beta` before
/// `acme/Gamma`); the CSV keeps byte order. A partial selection (linear) of the `n` first,
/// then a sort of those only, so a page near the top of 20,000 rows does not sort them all.
fn first_rows(rows: &mut Vec<Candidate<'_>>, n: usize, sort: SortKey, order: Order) {
    if n == 0 {
        rows.clear();
        return;
    }
    if n < rows.len() {
        rows.select_nth_unstable_by(n - 1, |a, b| compare(a, b, sort, order));
        rows.truncate(n);
    }
    rows.sort_by(|a, b| compare(a, b, sort, order));
}

fn compare(a: &Candidate<'_>, b: &Candidate<'_>, sort: SortKey, order: Order) -> Ordering {
    let directed = |o: Ordering| if order == Order::Desc { o.reverse() } else { o };
    let primary = match sort {
        SortKey::Downloads => directed(a.downloads.cmp(&b.downloads)),
        SortKey::Total => directed(a.repo.total.cmp(&b.repo.total)),
        // Rows without a change ("—") come last in either order: they are not the smallest
        // changes, they have none.
        SortKey::Change => match (a.change(), b.change()) {
            (Some(x), Some(y)) => directed(x.cmp(&y)),
            (x, y) => x.is_none().cmp(&y.is_none()),
        },
        SortKey::Name => directed(caseless_cmp(
            a.repo.key.name.as_str(),
            b.repo.key.name.as_str(),
        )),
    };
    // Positions are in export order, the order of keys: no names compared.
    primary.then_with(|| a.at.cmp(&b.at))
}

/// Compares names ignoring ASCII case, without allocating (a sort compares thousands).
fn caseless_cmp(a: &str, b: &str) -> Ordering {
    (a.bytes().map(|c| c.to_ascii_lowercase())).cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}
