//! An organization's totals for a period and its chart.

use super::series::{Granularity, Series, SeriesBuilder};
use super::{check_buckets, Analytics, AnalyticsError, AnalyticsResult};
use std::collections::BTreeMap;

use crate::domain::{Day, DayRange, OrgName, Period, RepoType};
use crate::store::{RepoSummary, StoreError};

/// Downloads by repository type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub all: u64,
    pub model: u64,
    pub dataset: u64,
}

impl Totals {
    /// Adds one repository's figure. Sums saturate rather than wrap: each input is at most
    /// `MAX_COUNT` (2^53 − 1), so only more than 2,048 repositories at that bound could reach
    /// `u64::MAX`.
    pub fn add(&mut self, repo_type: RepoType, downloads: u64) {
        self.all = self.all.saturating_add(downloads);
        let slot = match repo_type {
            RepoType::Model => &mut self.model,
            RepoType::Dataset => &mut self.dataset,
        };
        *slot = slot.saturating_add(downloads);
    }

    /// Takes away downloads left out (never below zero).
    pub fn sub(&mut self, repo_type: RepoType, downloads: u64) {
        self.all = self.all.saturating_sub(downloads);
        let slot = match repo_type {
            RepoType::Model => &mut self.model,
            RepoType::Dataset => &mut self.dataset,
        };
        *slot = slot.saturating_sub(downloads);
    }

    pub fn of(self, repo_type: Option<RepoType>) -> u64 {
        match repo_type {
            None => self.all,
            Some(RepoType::Model) => self.model,
            Some(RepoType::Dataset) => self.dataset,
        }
    }
}

/// What the top of the dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    pub period: Period,
    pub totals: Totals,
    /// The period just before, of the same length; `None` for All Time.
    pub previous: Option<Totals>,
    /// Whether the organization has data for the whole previous period (it starts on or after
    /// [`Self::first_day`]); without it, a change would compare with a partial period.
    pub previous_complete: bool,
    /// The organization's first day with downloads.
    pub first_day: Option<crate::domain::Day>,
    /// The organization's last day with downloads (of any source; it may be after the
    /// reference day, the allowed day after it).
    pub last_day: Option<crate::domain::Day>,
    /// Organization-wide downloads per bucket (the granularity follows the period's length).
    pub series: Series,
    /// Number of repositories of the organization, in any period.
    pub repo_count: usize,
}

/// The downloads to leave out of an overview, per day and repository type, over the days it
/// reads (e.g. those of some user-agent classes).
pub type Less<'a> = &'a dyn Fn(DayRange) -> Result<BTreeMap<(Day, RepoType), u64>, StoreError>;

impl Analytics<'_> {
    /// Totals, previous totals and chart for `org` over `period`.
    pub fn overview(&self, org: &OrgName, period: Period) -> AnalyticsResult<Overview> {
        self.overview_of(org, period, &self.counts.repos(org)?)
    }

    /// [`Self::overview`] with the downloads `less` gives for the days it reads left out.
    pub fn overview_less(
        &self,
        org: &OrgName,
        period: Period,
        less: Less<'_>,
    ) -> AnalyticsResult<Overview> {
        self.overview_with(org, period, &self.counts.repos(org)?, Some(less))
    }

    /// [`Self::overview`] over the organization's repositories, already read.
    pub(super) fn overview_of(
        &self,
        org: &OrgName,
        period: Period,
        repos: &[RepoSummary],
    ) -> AnalyticsResult<Overview> {
        self.overview_with(org, period, repos, None)
    }

    fn overview_with(
        &self,
        org: &OrgName,
        period: Period,
        repos: &[RepoSummary],
        less: Option<Less<'_>>,
    ) -> AnalyticsResult<Overview> {
        let first = repos.iter().filter_map(|r| r.first_day).min();
        let last = repos.iter().filter_map(|r| r.last_day).max();
        let Some(chart) = self.chart_range(period, first) else {
            let series = Series::empty(Granularity::Day);
            let previous = period.range.map(|_| Totals::default());
            let (totals, repo_count) = (Totals::default(), repos.len());
            return Ok(Overview {
                period,
                totals,
                previous,
                previous_complete: false,
                first_day: None,
                last_day: None,
                series,
                repo_count,
            });
        };
        let granularity = Granularity::auto(chart);
        check_buckets(chart, granularity).map_err(|e| match e {
            AnalyticsError::TooManyBuckets { days, .. } => AnalyticsError::PeriodTooLong { days },
            other => other,
        })?;
        let mut series = SeriesBuilder::new(chart, granularity);
        let (mut totals, mut previous) = (Totals::default(), Totals::default());
        let before = period.previous();
        // One read covers the chart and the previous period (they are adjacent).
        let read = DayRange {
            from: before.map_or(chart.from, |b| b.from),
            to: chart.to,
        };
        let less = less.map(|f| f(read)).transpose()?.unwrap_or_default();
        for (day, repo_type, downloads) in self.counts.org_daily(org, Some(read))? {
            let gone = less.get(&(day, repo_type)).copied().unwrap_or(0);
            let downloads = downloads.saturating_sub(gone);
            series.add(day, downloads);
            if period.range.is_some_and(|r| r.contains(day)) {
                totals.add(repo_type, downloads);
            } else if before.is_some_and(|b| b.contains(day)) {
                previous.add(repo_type, downloads);
            }
        }
        if period.range.is_none() {
            repos
                .iter()
                .for_each(|r| totals.add(r.key.repo_type, r.total));
            for (&(_, repo_type), &gone) in &less {
                totals.sub(repo_type, gone);
            }
        }
        Ok(Overview {
            period,
            totals,
            previous: before.map(|_| previous),
            previous_complete: previous_complete(before, first),
            first_day: first,
            last_day: last,
            series: series.finish(),
            repo_count: repos.len(),
        })
    }
}

/// Whether data covers all of `previous`: it starts on or after the first day with downloads.
pub(super) fn previous_complete(
    previous: Option<DayRange>,
    first_day: Option<crate::domain::Day>,
) -> bool {
    matches!((previous, first_day), (Some(p), Some(first)) if p.from >= first)
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
                "acme/bert",
                1000,
                &[("2023-12-31", 5), ("2024-01-01", 7), ("2024-01-30", 3)],
            )
            .with(
                "dataset",
                "acme/data",
                -2,
                &[("2023-12-02", 4), ("2024-01-15", 11)],
            )
            .with("model", "other/x", 0, &[("2024-01-10", 99)])
    }

    fn org() -> OrgName {
        OrgName::parse("acme").unwrap()
    }

    #[test]
    fn all_time_includes_adjustments_and_starts_on_the_first_day() {
        let s = store();
        let o = Analytics::new(&s, day("2024-01-31"))
            .overview(&org(), Period::ALL_TIME)
            .unwrap();
        assert_eq!(
            o.totals,
            Totals {
                all: 1015 + 13,
                model: 1015,
                dataset: 13
            }
        );
        assert_eq!(o.previous, None);
        assert_eq!(o.repo_count, 2);
        let range = o.series.range.unwrap();
        assert_eq!(
            (range.from, range.to),
            (day("2023-12-02"), day("2024-01-31"))
        );
        assert_eq!(o.series.granularity, Granularity::Day);
        assert_eq!(o.series.sum(), 30, "the chart shows daily history only");
    }

    #[test]
    fn last_month_and_previous_month() {
        let s = store();
        let p = Period::resolve(PeriodKind::LastMonth, day("2024-01-30"), None, None).unwrap();
        let o = Analytics::new(&s, day("2024-01-30"))
            .overview(&org(), p)
            .unwrap();
        // 2024-01-01 ..= 2024-01-30, previous 2023-12-02 ..= 2023-12-31
        assert_eq!(
            o.totals,
            Totals {
                all: 21,
                model: 10,
                dataset: 11
            }
        );
        assert_eq!(
            o.previous,
            Some(Totals {
                all: 9,
                model: 5,
                dataset: 4
            })
        );
        assert_eq!(o.series.points.len(), 30);
        assert_eq!(o.series.sum(), o.totals.all);
        assert!(
            o.previous_complete,
            "data starts 2023-12-02, the previous period's first day"
        );
        // Ending 2024-01-29, the previous period starts on 2023-12-01, before the data.
        let p = Period::resolve(PeriodKind::LastMonth, day("2024-01-29"), None, None).unwrap();
        let o = Analytics::new(&s, day("2024-01-29"))
            .overview(&org(), p)
            .unwrap();
        assert!(!o.previous_complete);
        assert_eq!(o.first_day, Some(day("2023-12-02")));
    }

    #[test]
    fn all_time_charts_end_on_the_reference_day_whatever_the_store_holds_later() {
        let s = store().with("model", "acme/later", 0, &[("2460-01-01", 9)]);
        let o = Analytics::new(&s, day("2024-01-31"))
            .overview(&org(), Period::ALL_TIME)
            .unwrap();
        let range = o.series.range.unwrap();
        assert_eq!(
            (range.from, range.to),
            (day("2023-12-02"), day("2024-01-31"))
        );
        assert_eq!(o.series.sum(), 30);
        assert_eq!(
            o.totals.all,
            1015 + 13 + 9,
            "the totals are the stored ones"
        );
        // Every day later than the reference day: a chart of the reference day alone.
        let s = MemCounts::default().with("model", "acme/later", 0, &[("2460-01-01", 9)]);
        let o = Analytics::new(&s, day("2024-01-31"))
            .overview(&org(), Period::ALL_TIME)
            .unwrap();
        let range = o.series.range.unwrap();
        assert_eq!(
            (range.from, range.to),
            (day("2024-01-31"), day("2024-01-31"))
        );
        assert_eq!((o.series.sum(), o.totals.all), (0, 9));
    }

    #[test]
    fn an_org_without_repositories_has_an_empty_chart() {
        let s = store();
        let o = Analytics::new(&s, day("2024-01-30"))
            .overview(&OrgName::parse("nobody").unwrap(), Period::ALL_TIME)
            .unwrap();
        assert_eq!((o.totals, o.repo_count), (Totals::default(), 0));
        assert!(o.series.points.is_empty());
    }
}
