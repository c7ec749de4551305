//! The per-repository table: filter, sort and page an organization's repositories, then read
//! the sparkline series of the page's rows only.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::str::FromStr;

use super::series::{Granularity, Series, SeriesBuilder};
use super::{check_buckets, Analytics, AnalyticsResult};
use crate::domain::{DayRange, OrgName, Period, RepoKey, RepoType};
use crate::store::{DailyFilter, RepoSummary};

pub const DEFAULT_PER_PAGE: u32 = 50;
pub const MAX_PER_PAGE: u32 = 500;

/// The column a table is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Downloads,
    Name,
    Total,
    Change,
}

impl SortKey {
    pub const ALL: [SortKey; 4] = [
        SortKey::Downloads,
        SortKey::Name,
        SortKey::Total,
        SortKey::Change,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::Downloads => "downloads",
            SortKey::Name => "name",
            SortKey::Total => "total",
            SortKey::Change => "change",
        }
    }

    /// The order a column sorts in when first clicked: names A→Z, numbers largest first.
    pub fn default_order(self) -> Order {
        match self {
            SortKey::Name => Order::Asc,
            _ => Order::Desc,
        }
    }
}

impl FromStr for SortKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown sort {s:?} (expected downloads, name, total or change)")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    pub fn reverse(self) -> Order {
        match self {
            Order::Asc => Order::Desc,
            Order::Desc => Order::Asc,
        }
    }
}

impl FromStr for Order {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "asc" => Ok(Order::Asc),
            "desc" => Ok(Order::Desc),
            _ => Err(format!("unknown order {s:?} (expected asc or desc)")),
        }
    }
}

/// Which rows of the table to return. `page` is 1-based; `per_page` is capped at
/// [`MAX_PER_PAGE`] by whoever parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableQuery {
    /// Case-insensitive substring of the full repository name (`org/name`).
    pub q: Option<String>,
    pub repo_type: Option<RepoType>,
    pub sort: SortKey,
    pub order: Order,
    pub page: u32,
    pub per_page: u32,
}

impl Default for TableQuery {
    fn default() -> Self {
        TableQuery {
            q: None,
            repo_type: None,
            sort: SortKey::Downloads,
            order: Order::Desc,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
        }
    }
}

/// One repository in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRow {
    pub key: RepoKey,
    /// Downloads in the period (All Time: the total, adjustment included).
    pub downloads: u64,
    pub total: u64,
    /// Downloads in the previous period; `None` for All Time.
    pub previous_downloads: Option<u64>,
    /// The sparkline; its points sum to `downloads` for every period but All Time.
    pub series: Series,
}

impl RepoRow {
    /// `downloads - previous_downloads`; `None` for All Time.
    pub fn change(&self) -> Option<i64> {
        self.previous_downloads
            .map(|p| self.downloads as i64 - p as i64)
    }
}

/// One page of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoTable {
    /// Repositories matching the search and type filter (on every page).
    pub count: usize,
    /// Repositories of the organization, before any filter.
    pub repo_count: usize,
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
        let last = repos.iter().filter_map(|r| r.last_day).max();
        let mut rows = self.figures(org, period, repos, query)?;
        let count = rows.len();
        sort_rows(&mut rows, query.sort, query.order);
        let skip = (query.page.saturating_sub(1) as usize).saturating_mul(query.per_page as usize);
        let mut page: Vec<RepoRow> = rows
            .into_iter()
            .skip(skip)
            .take(query.per_page as usize)
            .collect();
        // Unless the table is sorted by change, the previous period's figures are read for
        // the page's rows only, in the same pass as their sparklines.
        let previous = period.previous().filter(|_| query.sort != SortKey::Change);
        if let Some(range) = self.chart_range(period, first, last) {
            self.fill_series(org, range, previous, &mut page)?;
        }
        if period.range.is_some() && !matches!(query.sort, SortKey::Downloads | SortKey::Change) {
            page.iter_mut()
                .for_each(|row| row.downloads = row.series.sum());
        }
        Ok(RepoTable {
            count,
            repo_count: repos.len(),
            page: query.page,
            per_page: query.per_page,
            rows: page,
        })
    }

    /// The matching repositories with their period figures and an empty series; the previous
    /// period's downloads only when sorting needs them (else `fill_series` reads them).
    fn figures(
        &self,
        org: &OrgName,
        period: Period,
        repos: &[RepoSummary],
        query: &TableQuery,
    ) -> AnalyticsResult<Vec<RepoRow>> {
        let needle = query
            .q
            .as_deref()
            .map(str::to_ascii_lowercase)
            .filter(|q| !q.is_empty());
        let matching = repos.iter().filter(|r| {
            query.repo_type.is_none_or(|t| r.key.repo_type == t)
                && needle
                    .as_deref()
                    .is_none_or(|q| r.key.name.as_str().to_ascii_lowercase().contains(q))
        });
        // Sorting by name or total needs no period figures: the page's rows get theirs from
        // their series (which covers exactly the period).
        let now = match period.range {
            Some(r) if matches!(query.sort, SortKey::Downloads | SortKey::Change) => {
                Some(self.sums(org, r)?)
            }
            _ => None,
        };
        let before = match period.previous() {
            Some(r) if query.sort == SortKey::Change => Some(self.sums(org, r)?),
            _ => None,
        };
        let row = |r: &RepoSummary| {
            let downloads = match (period.range, &now) {
                (None, _) => r.total,
                (Some(_), Some(sums)) => sum_of(sums, &r.key),
                (Some(_), None) => 0, // read with the page's series
            };
            let previous_downloads = before.as_ref().map(|sums| sum_of(sums, &r.key));
            let series = Series::empty(Granularity::Day);
            RepoRow {
                key: r.key.clone(),
                downloads,
                total: r.total,
                previous_downloads,
                series,
            }
        };
        Ok(matching.map(row).collect())
    }

    fn sums(&self, org: &OrgName, range: DayRange) -> AnalyticsResult<HashMap<RepoKey, u64>> {
        Ok(self.counts.period_sums(org, range)?.into_iter().collect())
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
        self.counts.for_each_daily(org, filter, &mut |row| {
            if let Some(&i) = index.get(&(row.repo_type, row.repo_name)) {
                builders[i].add(row.day, row.downloads);
                if previous.is_some_and(|p| p.contains(row.day)) {
                    before[i] += row.downloads;
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

fn sum_of(sums: &HashMap<RepoKey, u64>, key: &RepoKey) -> u64 {
    sums.get(key).copied().unwrap_or(0)
}

/// Sorts by `sort` in `order`; ties always break by type (models first) then name, ascending,
/// so every page of a sorted table is stable.
fn sort_rows(rows: &mut [RepoRow], sort: SortKey, order: Order) {
    let primary = |a: &RepoRow, b: &RepoRow| -> Ordering {
        match sort {
            SortKey::Downloads => a.downloads.cmp(&b.downloads),
            SortKey::Total => a.total.cmp(&b.total),
            SortKey::Change => a.change().cmp(&b.change()),
            SortKey::Name => a.key.name.as_str().cmp(b.key.name.as_str()),
        }
    };
    rows.sort_by(|a, b| {
        let p = primary(a, b);
        let p = if order == Order::Desc { p.reverse() } else { p };
        p.then_with(|| a.key.cmp(&b.key))
    });
}

#[cfg(test)]
mod tests {
    use super::super::testing::{day, MemCounts};
    use super::*;
    use crate::domain::PeriodKind;

    fn store() -> MemCounts {
        MemCounts::default()
            .with(
                "model",
                "acme/Alpha",
                100,
                &[("2024-02-28", 5), ("2024-02-29", 7), ("2024-03-01", 1)],
            )
            .with(
                "dataset",
                "acme/alpha",
                0,
                &[("2024-02-01", 5), ("2024-02-29", 1)],
            )
            .with(
                "model",
                "acme/beta",
                0,
                &[("2024-01-30", 40), ("2024-02-29", 13)],
            )
            .with("dataset", "acme/gamma", 0, &[("2024-01-01", 2)])
            .with("model", "acmeish/zeta", 0, &[("2024-02-29", 1000)])
    }

    fn org() -> OrgName {
        OrgName::parse("acme").unwrap()
    }

    fn names(t: &RepoTable) -> Vec<String> {
        t.rows
            .iter()
            .map(|r| format!("{}:{}", r.key.repo_type, r.key.name))
            .collect()
    }

    fn last_month() -> Period {
        Period::resolve(PeriodKind::LastMonth, day("2024-03-01"), None, None).unwrap()
    }

    #[test]
    fn last_month_figures_sort_by_downloads_with_stable_ties() {
        let s = store();
        let t = Analytics::new(&s, day("2024-03-01"))
            .repo_table(&org(), last_month(), &TableQuery::default())
            .unwrap();
        // 2024-02-01 ..= 2024-03-01; previous 2024-01-02 ..= 2024-01-31
        assert_eq!(
            names(&t),
            [
                "model:acme/Alpha",
                "model:acme/beta",
                "dataset:acme/alpha",
                "dataset:acme/gamma"
            ]
        );
        let figures: Vec<_> = t
            .rows
            .iter()
            .map(|r| (r.downloads, r.previous_downloads, r.change()))
            .collect();
        assert_eq!(
            figures,
            [
                (13, Some(0), Some(13)),
                (13, Some(40), Some(-27)),
                (6, Some(0), Some(6)),
                (0, Some(0), Some(0))
            ]
        );
        for r in &t.rows {
            assert_eq!(r.series.sum(), r.downloads, "{}", r.key.name);
            assert_eq!(r.series.points.len(), 30);
        }
        assert_eq!((t.count, t.repo_count), (4, 4));
    }

    #[test]
    fn all_time_uses_totals_and_sparklines_from_the_first_day() {
        let s = store();
        let q = TableQuery {
            sort: SortKey::Total,
            ..Default::default()
        };
        let t = Analytics::new(&s, day("2024-03-01"))
            .repo_table(&org(), Period::ALL_TIME, &q)
            .unwrap();
        assert_eq!(t.rows[0].key.name.as_str(), "acme/Alpha");
        assert_eq!(
            (
                t.rows[0].downloads,
                t.rows[0].total,
                t.rows[0].previous_downloads
            ),
            (113, 113, None)
        );
        assert_eq!(t.rows[0].series.sum(), 13, "daily history only");
        let range = t.rows[0].series.range.unwrap();
        assert_eq!(
            (range.from, range.to),
            (day("2024-01-01"), day("2024-03-01"))
        );
    }

    #[test]
    fn search_is_case_insensitive_and_counts_every_match() {
        let s = store();
        let a = Analytics::new(&s, day("2024-03-01"));
        let q = TableQuery {
            q: Some("ALPHA".into()),
            per_page: 1,
            ..Default::default()
        };
        let t = a.repo_table(&org(), Period::ALL_TIME, &q).unwrap();
        assert_eq!((t.count, t.rows.len()), (2, 1));
        let q = TableQuery {
            q: Some("alpha".into()),
            repo_type: Some(RepoType::Dataset),
            ..Default::default()
        };
        assert_eq!(
            names(&a.repo_table(&org(), Period::ALL_TIME, &q).unwrap()),
            ["dataset:acme/alpha"]
        );
        let q = TableQuery {
            q: Some("zeta".into()),
            ..Default::default()
        };
        assert_eq!(
            a.repo_table(&org(), Period::ALL_TIME, &q).unwrap().count,
            0,
            "other orgs never show"
        );
    }

    #[test]
    fn name_sort_and_paging_cover_every_row_once() {
        let s = store();
        let a = Analytics::new(&s, day("2024-03-01"));
        let mut seen = Vec::new();
        for page in 1..=3 {
            let q = TableQuery {
                sort: SortKey::Name,
                order: Order::Desc,
                page,
                per_page: 2,
                ..Default::default()
            };
            let t = a.repo_table(&org(), last_month(), &q).unwrap();
            seen.extend(names(&t));
        }
        assert_eq!(
            seen,
            [
                "dataset:acme/gamma",
                "model:acme/beta",
                "dataset:acme/alpha",
                "model:acme/Alpha"
            ]
        );
        let q = TableQuery {
            sort: SortKey::Change,
            order: Order::Asc,
            ..Default::default()
        };
        let t = a.repo_table(&org(), last_month(), &q).unwrap();
        assert_eq!(names(&t)[0], "model:acme/beta");
    }
}
