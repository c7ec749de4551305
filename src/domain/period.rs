use super::Day;

/// An inclusive range of UTC days, `from <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DayRange {
    pub from: Day,
    pub to: Day,
}

impl DayRange {
    pub fn new(from: Day, to: Day) -> Result<Self, PeriodError> {
        if from > to {
            return Err(PeriodError::Reversed { from, to });
        }
        Ok(DayRange { from, to })
    }

    /// Number of days in the range (at least 1).
    pub fn len(self) -> i32 {
        self.from.days_until(self.to) + 1
    }

    pub fn is_empty(self) -> bool {
        false
    }

    pub fn contains(self, day: Day) -> bool {
        self.from <= day && day <= self.to
    }

    /// The range of the same length that ends the day before this one starts.
    pub fn previous(self) -> Self {
        let len = self.len();
        DayRange {
            from: self.from.add_days(-len),
            to: self.from.add_days(-1),
        }
    }

    pub fn days(self) -> impl Iterator<Item = Day> {
        (self.from.epoch_days()..=self.to.epoch_days()).map(Day::from_epoch_days)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("unknown period {0:?} (expected all-time, last-month, 7d, 90d, 365d or custom)")]
    Unknown(String),
    #[error("a custom period needs both `from` and `to` (YYYY-MM-DD)")]
    MissingBounds,
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: Day, to: Day },
    #[error("`from` ({from}) is after the reference day ({today}): there are no downloads yet")]
    AfterToday { from: Day, today: Day },
}

/// The name of a period as it appears in URLs and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodKind {
    AllTime,
    LastMonth,
    Last7Days,
    Last90Days,
    Last365Days,
    Custom,
}

impl PeriodKind {
    pub const ALL: [PeriodKind; 6] = [
        PeriodKind::AllTime,
        PeriodKind::LastMonth,
        PeriodKind::Last7Days,
        PeriodKind::Last90Days,
        PeriodKind::Last365Days,
        PeriodKind::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodKind::AllTime => "all-time",
            PeriodKind::LastMonth => "last-month",
            PeriodKind::Last7Days => "7d",
            PeriodKind::Last90Days => "90d",
            PeriodKind::Last365Days => "365d",
            PeriodKind::Custom => "custom",
        }
    }

    /// Human label for the dashboard.
    pub fn label(self) -> &'static str {
        match self {
            PeriodKind::AllTime => "All Time",
            PeriodKind::LastMonth => "Last Month",
            PeriodKind::Last7Days => "7 days",
            PeriodKind::Last90Days => "90 days",
            PeriodKind::Last365Days => "365 days",
            PeriodKind::Custom => "Custom",
        }
    }

    pub fn parse(s: &str) -> Result<Self, PeriodError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| PeriodError::Unknown(s.to_owned()))
    }

    /// Length in days of the rolling periods.
    fn rolling_days(self) -> Option<i32> {
        match self {
            PeriodKind::LastMonth => Some(30),
            PeriodKind::Last7Days => Some(7),
            PeriodKind::Last90Days => Some(90),
            PeriodKind::Last365Days => Some(365),
            PeriodKind::AllTime | PeriodKind::Custom => None,
        }
    }
}

impl std::str::FromStr for PeriodKind {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, PeriodError> {
        PeriodKind::parse(s)
    }
}

/// A period resolved against the reference day: All Time, or a concrete range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub kind: PeriodKind,
    /// `None` for All Time.
    pub range: Option<DayRange>,
}

impl Period {
    pub const ALL_TIME: Period = Period {
        kind: PeriodKind::AllTime,
        range: None,
    };

    /// Resolves a period name (and, for `custom`, its bounds) against the reference day.
    /// Rolling periods end on the reference day, inclusive: Last Month is the 30 days
    /// `today - 29 ..= today`. A custom range is clipped to the reference day (the days after
    /// it have no downloads yet, and comparing them would read as a collapse); one that starts
    /// after the reference day is an error.
    pub fn resolve(
        kind: PeriodKind,
        today: Day,
        from: Option<Day>,
        to: Option<Day>,
    ) -> Result<Self, PeriodError> {
        let range = match (kind, kind.rolling_days()) {
            (PeriodKind::AllTime, _) => None,
            (PeriodKind::Custom, _) => match (from, to) {
                (Some(from), Some(to)) => {
                    DayRange::new(from, to)?;
                    if from > today {
                        return Err(PeriodError::AfterToday { from, today });
                    }
                    Some(DayRange {
                        from,
                        to: to.min(today),
                    })
                }
                _ => return Err(PeriodError::MissingBounds),
            },
            (_, Some(n)) => Some(DayRange {
                from: today.add_days(1 - n),
                to: today,
            }),
            (_, None) => None,
        };
        Ok(Period { kind, range })
    }

    /// The range just before this one, of the same length; `None` for All Time.
    pub fn previous(self) -> Option<DayRange> {
        self.range.map(DayRange::previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> Day {
        s.parse().unwrap()
    }

    #[test]
    fn last_month_is_30_days_ending_today() {
        let p = Period::resolve(PeriodKind::LastMonth, day("2024-06-29"), None, None).unwrap();
        let r = p.range.unwrap();
        assert_eq!((r.from, r.to), (day("2024-05-31"), day("2024-06-29")));
        assert_eq!(r.len(), 30);
        let prev = p.previous().unwrap();
        assert_eq!((prev.from, prev.to), (day("2024-05-01"), day("2024-05-30")));
    }

    #[test]
    fn each_period_bounds() {
        let today = day("2024-03-01");
        let cases = [
            (PeriodKind::Last7Days, "2024-02-24"),
            (PeriodKind::Last90Days, "2023-12-03"),
            (PeriodKind::Last365Days, "2023-03-03"), // 2024 is a leap year
        ];
        for (kind, from) in cases {
            let r = Period::resolve(kind, today, None, None)
                .unwrap()
                .range
                .unwrap();
            assert_eq!((r.from, r.to), (day(from), today), "{kind:?}");
        }
        assert_eq!(
            Period::resolve(PeriodKind::AllTime, today, None, None)
                .unwrap()
                .range,
            None
        );
    }

    #[test]
    fn custom_needs_ordered_bounds() {
        let t = day("2024-01-05");
        let (a, b) = (Some(day("2023-12-30")), Some(day("2024-01-02")));
        let r = Period::resolve(PeriodKind::Custom, t, a, b)
            .unwrap()
            .range
            .unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r.previous().to, day("2023-12-29"));
        assert!(Period::resolve(PeriodKind::Custom, t, b, a).is_err());
        assert!(Period::resolve(PeriodKind::Custom, t, a, None).is_err());
        assert!(PeriodKind::parse("month").is_err());
    }

    // Regression: a custom range past the reference day drew the future as a crash to zero.
    #[test]
    fn custom_ranges_are_clipped_to_the_reference_day() {
        let t = day("2024-01-10");
        let clipped = Period::resolve(
            PeriodKind::Custom,
            t,
            Some(day("2024-01-01")),
            Some(day("2024-02-01")),
        )
        .unwrap()
        .range
        .unwrap();
        assert_eq!((clipped.from, clipped.to), (day("2024-01-01"), t));
        let future = Period::resolve(
            PeriodKind::Custom,
            t,
            Some(day("2024-01-11")),
            Some(day("2024-01-12")),
        );
        assert_eq!(
            future,
            Err(PeriodError::AfterToday {
                from: day("2024-01-11"),
                today: t
            })
        );
    }

    proptest! {
        #[test]
        fn rolling_periods_end_today_and_abut_previous(
            t in Day::MIN.epoch_days() + 400..Day::MAX.epoch_days(),
            k in prop::sample::select(&PeriodKind::ALL[1..5]),
        ) {
            let today = Day::from_epoch_days(t);
            let p = Period::resolve(k, today, None, None).unwrap();
            let r = p.range.unwrap();
            prop_assert_eq!(r.to, today);
            prop_assert_eq!(r.len(), k.rolling_days().unwrap());
            let prev = p.previous().unwrap();
            prop_assert_eq!(prev.to.add_days(1), r.from);
            prop_assert_eq!(prev.len(), r.len());
        }
    }
}
