//! Daily downloads from snapshots of all-time counters (the rules are `docs/DATA.md`, "Hub
//! counters"):
//! - the downloads of the days after one reading through the next are the counter's growth
//!   between them: all of it on the next reading's day when they are a day apart, else spread
//!   evenly over those days, which are then **estimated**;
//! - a counter that went down is a **correction**: those days get nothing (never negative
//!   downloads) and the next growth is counted from the lower counter;
//! - a repository's first reading is what it had before daily history.

use crate::domain::{Day, DayRange};
use crate::store::{Around, Reading};

/// The downloads of each day from `a.day + 1` through `b.day`: the growth `b − a` spread so
/// that the first `k` days get `⌊growth·k/n⌋` of the `n` (each day its share, the rounding
/// carried forward), nothing when the counter went down. `a.day < b.day`.
pub fn spread(a: Reading, b: Reading) -> impl Iterator<Item = (Day, u64)> {
    let n = a.day.days_until(b.day).max(0) as u128;
    let growth = b.all_time.saturating_sub(a.all_time) as u128;
    let upto = move |k: u128| (growth * k / n.max(1)) as u64;
    (1..=n).map(move |k| (a.day.add_days(k as i32), upto(k) - upto(k - 1)))
}

/// Every day a repository's readings (days ascending) give downloads to, with them.
pub fn daily(readings: &[Reading]) -> Vec<(Day, u64)> {
    (readings.windows(2))
        .flat_map(|w| spread(w[0], w[1]))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// The days whose downloads change when the reading of `day` becomes `new` (`None`: the
/// repository is not in that day's snapshot), with their new downloads (0 removes a day).
/// They are the days after the reading before `day` (or after `day`, without one) through the
/// reading after it (or `day`, without one): nothing else depends on the reading of `day`.
pub fn rewritten(around: &Around, day: Day, new: Option<u64>) -> Vec<(Day, u64)> {
    if around.at == new {
        return Vec::new();
    }
    let lo = around.before.map_or(day, |r| r.day);
    let hi = around.after.map_or(day, |r| r.day);
    let points: Vec<Reading> = [around.before, new.map(|all_time| Reading { day, all_time })]
        .into_iter()
        .chain([around.after])
        .flatten()
        .collect();
    let mut out: Vec<(Day, u64)> = (1..=lo.days_until(hi))
        .map(|k| (lo.add_days(k), 0))
        .collect();
    for w in points.windows(2) {
        for (d, n) in spread(w[0], w[1]) {
            out[lo.days_until(d) as usize - 1].1 = n;
        }
    }
    out
}

/// A counter that went down between two readings: on `day`, from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Correction {
    pub day: Day,
    pub from: u64,
    pub to: u64,
}

/// What a repository's readings say beyond its daily downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub first: Reading,
    pub last: Reading,
    /// Ranges of days whose downloads were spread between readings more than a day apart.
    pub estimated: Vec<DayRange>,
    pub corrections: Vec<Correction>,
}

/// The history of a repository with readings (days ascending); `None` without any.
pub fn history(readings: &[Reading]) -> Option<History> {
    let (first, last) = (*readings.first()?, *readings.last()?);
    let corrections = (readings.windows(2))
        .filter(|w| w[1].all_time < w[0].all_time)
        .map(|w| Correction {
            day: w[1].day,
            from: w[0].all_time,
            to: w[1].all_time,
        })
        .collect();
    let days: Vec<Day> = readings.iter().map(|r| r.day).collect();
    Some(History {
        first,
        last,
        estimated: gaps(&days),
        corrections,
    })
}

/// The days between snapshot days (ascending) more than a day apart: after each through the
/// next, the days whose downloads are spread.
pub fn gaps(days: &[Day]) -> Vec<DayRange> {
    (days.windows(2))
        .filter(|w| w[0].days_until(w[1]) > 1)
        .filter_map(|w| DayRange::new(w[0].add_days(1), w[1]).ok())
        .collect()
}

/// Whether `day` is in one of `ranges`.
pub fn is_estimated(ranges: &[DayRange], day: Day) -> bool {
    ranges.iter().any(|r| r.contains(day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reference::{day, key};
    use crate::store::snapshots::around_of;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn r(d: &str, all_time: u64) -> Reading {
        Reading {
            day: day(d),
            all_time,
        }
    }

    #[test]
    fn a_day_apart_the_growth_is_the_later_day() {
        let got: Vec<_> = spread(r("2024-03-01", 100), r("2024-03-02", 130)).collect();
        assert_eq!(got, vec![(day("2024-03-02"), 30)]);
    }

    #[test]
    fn a_gap_is_spread_evenly_and_adds_up() {
        let got: Vec<_> = spread(r("2024-03-01", 100), r("2024-03-04", 110)).collect();
        // 10 over 3 days: ⌊10/3⌋ = 3, ⌊20/3⌋ = 6, 10.
        assert_eq!(
            got,
            vec![
                (day("2024-03-02"), 3),
                (day("2024-03-03"), 3),
                (day("2024-03-04"), 4)
            ]
        );
    }

    #[test]
    fn a_counter_that_went_down_gives_nothing_and_is_a_correction() {
        let readings = [
            r("2024-03-01", 100),
            r("2024-03-02", 90),
            r("2024-03-03", 95),
        ];
        assert_eq!(daily(&readings), vec![(day("2024-03-03"), 5)]);
        let h = history(&readings).unwrap();
        assert_eq!(
            h.corrections,
            vec![Correction {
                day: day("2024-03-02"),
                from: 100,
                to: 90
            }]
        );
        assert!(h.estimated.is_empty());
    }

    #[test]
    fn gaps_are_the_days_after_a_reading_through_the_next() {
        let days = [day("2024-03-01"), day("2024-03-02"), day("2024-03-05")];
        let g = gaps(&days);
        assert_eq!(
            g,
            vec![DayRange::new(day("2024-03-03"), day("2024-03-05")).unwrap()]
        );
        assert!(is_estimated(&g, day("2024-03-05")));
        assert!(!is_estimated(&g, day("2024-03-02")));
    }

    #[test]
    fn the_largest_counters_spread_without_overflow() {
        let max = crate::store::MAX_COUNT;
        let got: u64 = spread(r("2000-01-01", 0), r("2999-12-31", max))
            .map(|(_, n)| n)
            .sum();
        assert_eq!(got, max);
    }

    proptest! {
        // Whatever the order snapshots arrive in (back-fills included) and however often a
        // day is taken again, the days rewritten one snapshot at a time end as the daily
        // downloads of the final readings.
        #[test]
        fn rewriting_one_snapshot_at_a_time_gives_the_daily_downloads(
            puts in prop::collection::vec((0i32..40, prop::option::of(0u64..1000)), 1..30)
        ) {
            let repo = key("model", "acme/a");
            let base = day("2024-01-01");
            let mut readings: BTreeMap<Day, u64> = BTreeMap::new();
            let mut days: BTreeMap<Day, u64> = BTreeMap::new();
            for (offset, new) in puts {
                let d = base.add_days(offset);
                let list: Vec<Reading> = readings.iter().map(|(&day, &all_time)| Reading { day, all_time }).collect();
                let around = around_of(repo.clone(), &list, d);
                for (day, n) in rewritten(&around, d, new) {
                    days.insert(day, n);
                }
                match new {
                    Some(n) => readings.insert(d, n),
                    None => readings.remove(&d),
                };
            }
            let list: Vec<Reading> = readings.iter().map(|(&day, &all_time)| Reading { day, all_time }).collect();
            let expected: BTreeMap<Day, u64> = daily(&list).into_iter().collect();
            days.retain(|_, n| *n > 0);
            prop_assert_eq!(days, expected);
        }

        #[test]
        fn spread_days_add_up_to_the_growth(a in 0u64..1_000_000, b in 0u64..1_000_000, n in 1i32..400) {
            let x = r("2024-01-01", a);
            let y = Reading { day: x.day.add_days(n), all_time: b };
            let days: Vec<_> = spread(x, y).collect();
            prop_assert_eq!(days.len(), n as usize);
            prop_assert_eq!(days.iter().map(|(_, n)| n).sum::<u64>(), b.saturating_sub(a));
            let (lo, hi) = (days.iter().map(|d| d.1).min().unwrap(), days.iter().map(|d| d.1).max().unwrap());
            prop_assert!(hi - lo <= 1, "even: {lo}..{hi}");
        }
    }
}
