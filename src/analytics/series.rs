//! Time series: daily counts gathered into day, week or month buckets that cover a range of
//! days exactly. The first bucket starts on the range's first day (a bucket is clipped to the
//! range), so the points of a series always sum to the downloads inside the range.

use std::str::FromStr;

use crate::domain::{Day, DayRange};

/// At most this many buckets in one series: a finer granularity over a longer range is refused
/// (a day-by-day series over centuries is a mistake, not a chart).
pub const MAX_BUCKETS: usize = 5_000;

/// The width of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Granularity::Day, Granularity::Week, Granularity::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// The granularity charts use by default: days up to ~4 months, weeks up to 2 years,
    /// months beyond.
    pub fn auto(range: DayRange) -> Self {
        match range.len() {
            n if n > 731 => Granularity::Month,
            n if n > 120 => Granularity::Week,
            _ => Granularity::Day,
        }
    }

    /// The first day of the (unclipped) bucket holding `day`.
    pub fn bucket_start(self, day: Day) -> Day {
        match self {
            Granularity::Day => day,
            Granularity::Week => day.week_start(),
            Granularity::Month => day.month_start(),
        }
    }

    /// The first day of the bucket after the one holding `day`.
    fn next_start(self, day: Day) -> Day {
        match self {
            Granularity::Day => day.add_days(1),
            Granularity::Week => day.week_start().add_days(7),
            Granularity::Month => day.month_start().add_days(31).month_start(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown granularity {0:?} (expected day, week or month)")]
pub struct GranularityError(String);

impl FromStr for Granularity {
    type Err = GranularityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| GranularityError(s.to_owned()))
    }
}

/// One bucket: its first day (clipped to the series' range) and the downloads in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesPoint {
    pub date: Day,
    pub downloads: u64,
}

/// A dense series: one point per bucket of `range`, zeros included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub granularity: Granularity,
    /// The days covered; `None` for an empty series (nothing to chart).
    pub range: Option<DayRange>,
    pub points: Vec<SeriesPoint>,
}

impl Series {
    pub fn empty(granularity: Granularity) -> Self {
        Series {
            granularity,
            range: None,
            points: Vec::new(),
        }
    }

    pub fn sum(&self) -> u64 {
        (self.points.iter()).fold(0u64, |sum, p| sum.saturating_add(p.downloads))
    }

    /// The last day of the bucket at `index`.
    pub fn bucket_end(&self, index: usize) -> Option<Day> {
        let range = self.range?;
        match self.points.get(index + 1) {
            Some(next) => Some(next.date.add_days(-1)),
            None => self.points.get(index).map(|_| range.to),
        }
    }

    /// How many days the bucket at `index` holds, and how many a whole bucket of its kind
    /// holds (7 for a week, the month's length): fewer when the range clips it.
    pub fn bucket_coverage(&self, index: usize) -> Option<BucketCoverage> {
        let start = self.points.get(index)?.date;
        let end = self.bucket_end(index)?;
        let whole_start = self.granularity.bucket_start(start);
        Some(BucketCoverage {
            days: start.days_until(end) as u32 + 1,
            of: whole_start.days_until(self.granularity.next_start(whole_start)) as u32,
        })
    }
}

/// The days of one bucket inside its series' range (`days`) out of a whole bucket's (`of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCoverage {
    pub days: u32,
    pub of: u32,
}

impl BucketCoverage {
    /// A week or month the range cuts short: its downloads cover only part of it.
    pub fn is_partial(self) -> bool {
        self.days < self.of
    }
}

/// Number of buckets `granularity` cuts `range` into.
pub fn bucket_count(range: DayRange, granularity: Granularity) -> usize {
    let (from, to) = (range.from, range.to);
    let months = |d: Day| {
        let date = d.date();
        date.year() as i64 * 12 + date.month() as i64
    };
    let n = match granularity {
        Granularity::Day => i64::from(range.len()),
        Granularity::Week => i64::from(from.week_start().days_until(to.week_start()) / 7 + 1),
        Granularity::Month => months(to) - months(from) + 1,
    };
    n.max(0) as usize
}

/// Gathers daily counts into the buckets of a range.
#[derive(Debug, Clone)]
pub struct SeriesBuilder {
    granularity: Granularity,
    range: DayRange,
    /// Each bucket's first day, for weeks and months; empty for days (bucket `i` is the
    /// range's day `i`).
    starts: Vec<Day>,
    values: Vec<u64>,
}

impl SeriesBuilder {
    /// Callers check [`bucket_count`] against [`MAX_BUCKETS`] first when the range comes from
    /// outside.
    pub fn new(range: DayRange, granularity: Granularity) -> Self {
        let mut starts = Vec::new();
        let buckets = match granularity {
            Granularity::Day => range.len().max(0) as usize,
            _ => {
                starts.reserve_exact(bucket_count(range, granularity));
                let mut start = range.from;
                while start <= range.to {
                    starts.push(start);
                    start = granularity.next_start(start);
                }
                starts.len()
            }
        };
        SeriesBuilder {
            granularity,
            range,
            starts,
            values: vec![0; buckets],
        }
    }

    /// Adds downloads on `day`; days outside the range are ignored.
    pub fn add(&mut self, day: Day, downloads: u64) {
        if !self.range.contains(day) {
            return;
        }
        let index = match self.granularity {
            Granularity::Day => self.range.from.days_until(day) as usize,
            _ => self.starts.partition_point(|s| *s <= day) - 1,
        };
        self.values[index] = self.values[index].saturating_add(downloads);
    }

    pub fn finish(self) -> Series {
        let from = self.range.from;
        let points = match self.granularity {
            Granularity::Day => (self.values.into_iter().enumerate())
                .map(|(i, downloads)| SeriesPoint {
                    date: from.add_days(i as i32),
                    downloads,
                })
                .collect(),
            _ => (self.starts.into_iter().zip(self.values))
                .map(|(date, downloads)| SeriesPoint { date, downloads })
                .collect(),
        };
        Series {
            granularity: self.granularity,
            range: Some(self.range),
            points,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    fn range(a: &str, b: &str) -> DayRange {
        DayRange::new(day(a), day(b)).unwrap()
    }

    #[test]
    fn week_buckets_are_clipped_to_the_range() {
        // 2024-02-28 is a Wednesday; the range spans the leap day and ends on a Tuesday.
        let mut b = SeriesBuilder::new(range("2024-02-28", "2024-03-12"), Granularity::Week);
        for d in range("2024-02-20", "2024-03-20").days() {
            b.add(d, 1);
        }
        let s = b.finish();
        let dates: Vec<String> = s.points.iter().map(|p| p.date.to_string()).collect();
        assert_eq!(dates, ["2024-02-28", "2024-03-04", "2024-03-11"]);
        let values: Vec<u64> = s.points.iter().map(|p| p.downloads).collect();
        assert_eq!(values, [5, 7, 2]); // Wed 28 Feb ..= Sun 3 Mar, a full week, Mon 11 ..= Tue 12
        assert_eq!(s.bucket_end(0), Some(day("2024-03-03")));
        assert_eq!(s.bucket_end(2), Some(day("2024-03-12")));
        let coverage: Vec<(u32, u32)> = (0..3)
            .filter_map(|i| s.bucket_coverage(i))
            .map(|c| (c.days, c.of))
            .collect();
        assert_eq!(coverage, [(5, 7), (7, 7), (2, 7)]);
        assert!(s.bucket_coverage(0).unwrap().is_partial());
        assert!(!s.bucket_coverage(1).unwrap().is_partial());
        assert_eq!(s.bucket_coverage(3), None);
    }

    #[test]
    fn month_buckets_cross_a_year_boundary() {
        let mut b = SeriesBuilder::new(range("2023-12-15", "2024-02-29"), Granularity::Month);
        for d in range("2023-12-01", "2024-03-31").days() {
            b.add(d, 2);
        }
        let s = b.finish();
        let got: Vec<(String, u64)> = s
            .points
            .iter()
            .map(|p| (p.date.to_string(), p.downloads))
            .collect();
        assert_eq!(
            got,
            [
                ("2023-12-15".into(), 34),
                ("2024-01-01".into(), 62),
                ("2024-02-01".into(), 58)
            ]
        );
        // December from the 15th: 17 of 31 days; the leap February is whole.
        let coverage = |i| s.bucket_coverage(i).map(|c| (c.days, c.of));
        assert_eq!(coverage(0), Some((17, 31)));
        assert_eq!(coverage(2), Some((29, 29)));
    }

    #[test]
    fn auto_granularity_thresholds() {
        let from = day("2022-01-01");
        let r = |n: i32| DayRange::new(from, from.add_days(n - 1)).unwrap();
        assert_eq!(Granularity::auto(r(120)), Granularity::Day);
        assert_eq!(Granularity::auto(r(121)), Granularity::Week);
        assert_eq!(Granularity::auto(r(731)), Granularity::Week);
        assert_eq!(Granularity::auto(r(732)), Granularity::Month);
        assert!("hour".parse::<Granularity>().is_err());
        assert_eq!("week".parse::<Granularity>().unwrap(), Granularity::Week);
    }

    proptest! {
        #[test]
        fn buckets_cover_the_range_and_keep_every_download(
            start in 19_000i32..20_000,
            len in 1i32..900,
            g in prop::sample::select(&Granularity::ALL[..]),
            days in prop::collection::vec((0i32..1000, 1u64..50), 0..60),
        ) {
            let from = Day::from_epoch_days(start);
            let r = DayRange::new(from, from.add_days(len - 1)).unwrap();
            let mut b = SeriesBuilder::new(r, g);
            let mut inside = 0;
            for (offset, n) in days {
                let d = from.add_days(offset - 50);
                if r.contains(d) { inside += n; }
                b.add(d, n);
            }
            let s = b.finish();
            prop_assert_eq!(s.points.len(), bucket_count(r, g));
            prop_assert_eq!(s.sum(), inside);
            prop_assert_eq!(s.points[0].date, r.from);
            for w in s.points.windows(2) {
                prop_assert!(w[0].date < w[1].date);
                prop_assert_eq!(g.bucket_start(w[1].date), w[1].date);
            }
            prop_assert_eq!(s.bucket_end(s.points.len() - 1), Some(r.to));
        }
    }
}
