//! Analytics: the questions the dashboard and the API ask, answered over any [`Counts`] backend
//! and a reference day. This module knows nothing about HTTP or HTML; it returns plain values
//! that the web layer maps to its own views.
//!
//! - [`Analytics::overview`]: an organization's totals for a period, the previous period's, and
//!   the organization-wide chart series.
//! - [`Analytics::repo_table`]: the per-repository table (search, type filter, sort, paging),
//!   with a sparkline series for the rows of the requested page only.
//! - [`Analytics::repo_detail`]: one repository's figures and chart.
//!
//! All Time means every download ever counted, including a repository's adjustment (downloads
//! counted before daily history began); its charts run from the organization's (or
//! repository's) first day to the reference day, never past it: ingest and import refuse days
//! after the day after the reference day, and days a store holds from before they did (or
//! the day after a pinned reference day) are left out of the chart rather than stretch it
//! into the future (past [`MAX_BUCKETS`], the All Time answer would be an error).

mod detail;
mod overview;
pub mod series;
mod table;
#[cfg(test)]
mod testing;

pub use detail::RepoDetail;
pub use overview::{Less, Overview, Totals};
pub use series::{BucketCoverage, Granularity, Series, SeriesPoint, MAX_BUCKETS};
pub use table::{
    MatchedTotals, Order, RepoRow, RepoTable, SortKey, TableQuery, DEFAULT_PER_PAGE, MAX_PER_PAGE,
};

use crate::domain::{Day, DayRange, OrgName, Period};
use crate::store::{Counts, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("repository {0} not found")]
    RepoNotFound(String),
    #[error("{granularity} buckets over {days} days are too many (at most {max}); choose a coarser granularity or a shorter period", granularity = .granularity.as_str(), max = MAX_BUCKETS)]
    TooManyBuckets { granularity: Granularity, days: i32 },
    /// The organization chart's granularity follows the period, so only the period can change.
    #[error("a period of {days} days is too long to chart (at most {max} months); choose a shorter period", max = MAX_BUCKETS)]
    PeriodTooLong { days: i32 },
}

pub type AnalyticsResult<T> = Result<T, AnalyticsError>;

/// What the full CSV cannot carry ([`Analytics::outside_export`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutsideExport {
    pub repos: u64,
    pub downloads: u64,
}

/// The analytics service: a store and the reference day ("today").
#[derive(Clone, Copy)]
pub struct Analytics<'a> {
    counts: &'a dyn Counts,
    today: Day,
}

impl<'a> Analytics<'a> {
    pub fn new(counts: &'a dyn Counts, today: Day) -> Self {
        Analytics { counts, today }
    }

    pub fn today(&self) -> Day {
        self.today
    }

    /// The overview and one page of the table, reading the repositories once (the dashboard).
    pub fn dashboard(
        &self,
        org: &OrgName,
        period: Period,
        query: &TableQuery,
    ) -> AnalyticsResult<(Overview, RepoTable)> {
        let repos = self.counts.repos(org)?;
        Ok((
            self.overview_of(org, period, &repos)?,
            self.table_of(org, period, query, &repos)?,
        ))
    }

    /// An estimate of the size in bytes of `org`'s full breakdown CSV, from its repositories'
    /// first and last days and daily sums (no row is read).
    pub fn export_size_estimate(&self, org: &OrgName) -> AnalyticsResult<u64> {
        Ok(crate::breakdown::export::estimated_size(
            &self.counts.repos(org)?,
        ))
    }

    /// The repositories of `org` whose downloads are all from before daily history (a total,
    /// no day), and those downloads: the CSV, one row per repository-day, has no row to carry
    /// their totals, so its totals add up to this much less than All Time.
    pub fn outside_export(&self, org: &OrgName) -> AnalyticsResult<OutsideExport> {
        let repos = self.counts.repos(org)?;
        let mut outside = OutsideExport::default();
        for r in repos
            .iter()
            .filter(|r| r.first_day.is_none() && r.total > 0)
        {
            outside.repos += 1;
            outside.downloads = outside.downloads.saturating_add(r.total);
        }
        Ok(outside)
    }

    /// The days a chart of `period` covers. For All Time: from `first` (the first day with
    /// data) to the reference day (the reference day alone when every day with data is
    /// later); `None` without data.
    fn chart_range(&self, period: Period, first: Option<Day>) -> Option<DayRange> {
        match period.range {
            Some(range) => Some(range),
            None => Some(DayRange {
                from: first?.min(self.today),
                to: self.today,
            }),
        }
    }
}

/// Checks that `range` cut into `granularity` buckets stays within [`MAX_BUCKETS`].
fn check_buckets(range: DayRange, granularity: Granularity) -> AnalyticsResult<()> {
    if series::bucket_count(range, granularity) > MAX_BUCKETS {
        return Err(AnalyticsError::TooManyBuckets {
            granularity,
            days: range.len(),
        });
    }
    Ok(())
}
