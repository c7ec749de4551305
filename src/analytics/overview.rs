//! An organization's totals for a period and its chart.

use super::series::{Granularity, Series, SeriesBuilder};
use super::{check_buckets, Analytics, AnalyticsResult};
use crate::domain::{DayRange, OrgName, Period, RepoType};

/// Downloads by repository type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub all: u64,
    pub model: u64,
    pub dataset: u64,
}

impl Totals {
    pub fn add(&mut self, repo_type: RepoType, downloads: u64) {
        self.all += downloads;
        match repo_type {
            RepoType::Model => self.model += downloads,
            RepoType::Dataset => self.dataset += downloads,
        }
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
    /// Organization-wide downloads per bucket (the granularity follows the period's length).
    pub series: Series,
    /// Number of repositories of the organization, in any period.
    pub repo_count: usize,
}

impl Analytics<'_> {
    /// Totals, previous totals and chart for `org` over `period`.
    pub fn overview(&self, org: &OrgName, period: Period) -> AnalyticsResult<Overview> {
        let repos = self.counts.repos(org)?;
        let first = repos.iter().filter_map(|r| r.first_day).min();
        let last = repos.iter().filter_map(|r| r.last_day).max();
        let (totals, previous) = match period.range {
            None => {
                let mut totals = Totals::default();
                repos
                    .iter()
                    .for_each(|r| totals.add(r.key.repo_type, r.total));
                (totals, None)
            }
            Some(range) => (
                self.org_totals(org, range)?,
                Some(self.org_totals(org, range.previous())?),
            ),
        };
        let series = match self.chart_range(period, first, last) {
            Some(range) => self.org_series(org, range, Granularity::auto(range))?,
            None => Series::empty(Granularity::Day),
        };
        Ok(Overview {
            period,
            totals,
            previous,
            series,
            repo_count: repos.len(),
        })
    }

    fn org_totals(&self, org: &OrgName, range: DayRange) -> AnalyticsResult<Totals> {
        let mut totals = Totals::default();
        for (_, repo_type, downloads) in self.counts.org_daily(org, Some(range))? {
            totals.add(repo_type, downloads);
        }
        Ok(totals)
    }

    fn org_series(
        &self,
        org: &OrgName,
        range: DayRange,
        granularity: Granularity,
    ) -> AnalyticsResult<Series> {
        check_buckets(range, granularity)?;
        let mut builder = SeriesBuilder::new(range, granularity);
        for (day, _, downloads) in self.counts.org_daily(org, Some(range))? {
            builder.add(day, downloads);
        }
        Ok(builder.finish())
    }
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
