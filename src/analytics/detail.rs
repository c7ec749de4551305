//! One repository: its figures over a period and its chart.

use super::series::{Granularity, Series, SeriesBuilder};
use super::{check_buckets, Analytics, AnalyticsError, AnalyticsResult};
use crate::domain::{Day, DayRange, Period, RepoKey};
use crate::store::RepoDays;

/// What the drill-down page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoDetail {
    pub key: RepoKey,
    pub period: Period,
    /// All-time downloads, adjustment included.
    pub total: u64,
    /// Downloads counted before daily history began (`total - sum(daily)`; may be negative).
    pub adjustment: i64,
    /// Downloads in the period (All Time: `total`).
    pub downloads: u64,
    /// Downloads in the previous period; `None` for All Time.
    pub previous: Option<u64>,
    /// Whether the repository has data for the whole previous period.
    pub previous_complete: bool,
    /// First and last day with downloads, over all time.
    pub first_day: Option<Day>,
    pub last_day: Option<Day>,
    pub series: Series,
}

impl Analytics<'_> {
    /// `repo`'s figures over `period`, charted by `granularity` (chosen from the period's
    /// length when `None`).
    pub fn repo_detail(
        &self,
        repo: &RepoKey,
        period: Period,
        granularity: Option<Granularity>,
    ) -> AnalyticsResult<RepoDetail> {
        let previous_range = period.previous();
        // One read covers the period and the one before it.
        let read_range = period.range.map(|r| DayRange {
            from: r.previous().from,
            to: r.to,
        });
        let RepoDays { summary, days } =
            self.counts.repo_days(repo, read_range)?.ok_or_else(|| {
                AnalyticsError::RepoNotFound(format!("{} {}", repo.repo_type, repo.name))
            })?;
        let chart = self.chart_range(period, summary.first_day);
        let granularity = granularity
            .or(chart.map(Granularity::auto))
            .unwrap_or(Granularity::Day);
        let mut builder = match chart {
            Some(range) => {
                check_buckets(range, granularity)?;
                Some(SeriesBuilder::new(range, granularity))
            }
            None => None,
        };
        let (mut downloads, mut previous) = (0u64, 0u64);
        for &(day, n) in &days {
            if period.range.is_none_or(|r| r.contains(day)) {
                downloads = downloads.saturating_add(n);
            } else if previous_range.is_some_and(|r| r.contains(day)) {
                previous = previous.saturating_add(n);
            }
            if let Some(b) = builder.as_mut() {
                b.add(day, n);
            }
        }
        let series = builder.map_or(Series::empty(granularity), SeriesBuilder::finish);
        Ok(RepoDetail {
            key: summary.key,
            period,
            total: summary.total,
            adjustment: summary.adjustment,
            downloads: if period.range.is_some() {
                downloads
            } else {
                summary.total
            },
            previous: previous_range.map(|_| previous),
            previous_complete: super::overview::previous_complete(
                previous_range,
                summary.first_day,
            ),
            first_day: summary.first_day,
            last_day: summary.last_day,
            series,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{day, key, MemCounts};
    use super::*;
    use crate::domain::PeriodKind;

    fn store() -> MemCounts {
        MemCounts::default().with(
            "model",
            "acme/bert",
            500,
            &[
                ("2022-06-01", 1),
                ("2023-12-31", 5),
                ("2024-01-01", 7),
                ("2024-02-29", 3),
                ("2024-03-02", 9),
            ],
        )
    }

    #[test]
    fn custom_period_over_a_year_boundary_and_a_leap_day() {
        let s = store();
        let p = Period::resolve(
            PeriodKind::Custom,
            day("2024-03-02"),
            Some(day("2023-12-31")),
            Some(day("2024-02-29")),
        )
        .unwrap();
        let d = Analytics::new(&s, day("2024-03-02"))
            .repo_detail(&key("model", "acme/bert"), p, Some(Granularity::Month))
            .unwrap();
        assert_eq!(
            (d.downloads, d.previous, d.total, d.adjustment),
            (15, Some(0), 525, 500)
        );
        let pts: Vec<(String, u64)> = d
            .series
            .points
            .iter()
            .map(|p| (p.date.to_string(), p.downloads))
            .collect();
        assert_eq!(
            pts,
            [
                ("2023-12-31".into(), 5),
                ("2024-01-01".into(), 7),
                ("2024-02-01".into(), 3)
            ]
        );
        assert_eq!(
            (d.first_day, d.last_day),
            (Some(day("2022-06-01")), Some(day("2024-03-02")))
        );
    }

    #[test]
    fn all_time_charts_from_the_first_day_and_reports_the_total() {
        let s = store();
        let d = Analytics::new(&s, day("2024-03-10"))
            .repo_detail(&key("model", "acme/bert"), Period::ALL_TIME, None)
            .unwrap();
        assert_eq!((d.downloads, d.previous), (525, None));
        assert_eq!(d.series.granularity, Granularity::Week);
        let r = d.series.range.unwrap();
        assert_eq!((r.from, r.to), (day("2022-06-01"), day("2024-03-10")));
        assert_eq!(d.series.sum(), 25);
    }

    #[test]
    fn unknown_repository_and_oversized_series_are_errors() {
        let s = store();
        let a = Analytics::new(&s, day("2024-03-10"));
        let missing = a.repo_detail(&key("dataset", "acme/bert"), Period::ALL_TIME, None);
        assert!(matches!(missing, Err(AnalyticsError::RepoNotFound(_))));
        let p = Period::resolve(
            PeriodKind::Custom,
            day("2024-03-10"),
            Some(day("2000-01-01")),
            Some(day("2024-01-01")),
        )
        .unwrap();
        let huge = a.repo_detail(&key("model", "acme/bert"), p, Some(Granularity::Day));
        assert!(matches!(huge, Err(AnalyticsError::TooManyBuckets { .. })));
    }
}
