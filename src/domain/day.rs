use std::fmt;
use std::str::FromStr;

use time::{Date, Month, OffsetDateTime};

/// A UTC calendar day, stored as the number of days since 1970-01-01 so that ranges are plain
/// integer ranges in every backend (SQLite `INTEGER`, ClickHouse `Date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(i32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {0:?} (expected YYYY-MM-DD)")]
pub struct DayError(String);

const EPOCH_JULIAN: i32 = 2_440_588; // Julian day number of 1970-01-01

impl Day {
    /// The earliest and latest days the product accepts: no hub has data before 2000, and
    /// anything past 2999 is a typo.
    pub const MIN: Day = Day(10_957); // 2000-01-01
    pub const MAX: Day = Day(376_199); // 2999-12-31

    pub fn from_date(date: Date) -> Self {
        Day(date.to_julian_day() - EPOCH_JULIAN)
    }

    pub fn from_ymd(year: i32, month: u8, day: u8) -> Option<Self> {
        let month = Month::try_from(month).ok()?;
        Date::from_calendar_date(year, month, day)
            .ok()
            .map(Self::from_date)
    }

    /// Days since 1970-01-01.
    pub fn from_epoch_days(days: i32) -> Self {
        Day(days)
    }

    pub fn epoch_days(self) -> i32 {
        self.0
    }

    pub fn date(self) -> Date {
        // Every Day is built from a valid Date or stays within MIN..=MAX by arithmetic on
        // validated input, far inside `time`'s range.
        Date::from_julian_day(self.0 + EPOCH_JULIAN).unwrap_or(Date::MIN)
    }

    /// Today's date in UTC, from the system clock.
    pub fn today_utc() -> Self {
        Self::from_date(OffsetDateTime::now_utc().date())
    }

    /// Days past the reference day that input may still be dated: a sender whose clock runs
    /// ahead of the server's, or that writes its local time east of UTC as UTC, dates a
    /// request up to a day later than the server's UTC date.
    pub const FUTURE_ALLOWANCE: i32 = 1;

    /// The last day input may be dated when `self` is the reference day: the day after it
    /// ([`Day::FUTURE_ALLOWANCE`]), never past [`Day::MAX`]. A later event, or a later row of a
    /// breakdown CSV, has not happened yet: ingest and import refuse it (`docs/DATA.md`).
    pub fn last_accepted(self) -> Self {
        self.add_days(Self::FUTURE_ALLOWANCE).min(Self::MAX)
    }

    pub fn add_days(self, n: i32) -> Self {
        Day(self.0 + n)
    }

    /// Number of days from `self` to `other` (positive when `other` is later).
    pub fn days_until(self, other: Day) -> i32 {
        other.0 - self.0
    }

    /// Monday of this day's ISO week.
    pub fn week_start(self) -> Self {
        let offset = self.date().weekday().number_days_from_monday();
        Day(self.0 - i32::from(offset))
    }

    /// First day of this day's month.
    pub fn month_start(self) -> Self {
        let d = self.date();
        Self::from_ymd(d.year(), d.month() as u8, 1).unwrap_or(self)
    }

    /// `YYYY-MM-DDT00:00:00.000Z`, the CSV timestamp form, as ASCII bytes; its first ten are
    /// the `YYYY-MM-DD` form. Written digit by digit: the export formats one per row and the
    /// API one per series point.
    pub fn timestamp(self) -> [u8; 24] {
        let date = self.date();
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let digits = |out: &mut [u8], mut n: u32| {
            for slot in out.iter_mut().rev() {
                *slot = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        digits(&mut out[0..4], date.year().unsigned_abs());
        digits(&mut out[5..7], u32::from(date.month() as u8));
        digits(&mut out[8..10], u32::from(date.day()));
        out
    }

    /// `YYYY-MM-DDT00:00:00.000Z`, the CSV timestamp form.
    pub fn write_timestamp(self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str(ascii(&self.timestamp()))
    }

    fn with_iso<R>(self, f: impl FnOnce(&str) -> R) -> R {
        f(ascii(&self.timestamp()[..10]))
    }
}

/// The digits and separators [`Day::timestamp`] writes are ASCII.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl FromStr for Day {
    type Err = DayError;
    /// Parses exactly `YYYY-MM-DD`.
    fn from_str(s: &str) -> Result<Self, DayError> {
        let err = || DayError(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, DayError> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let day = Day::from_ymd(y as i32, m as u8, d as u8).ok_or_else(err)?;
        if day < Day::MIN || day > Day::MAX {
            return Err(err());
        }
        Ok(day)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_iso(|iso| f.write_str(iso))
    }
}

impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_iso(|iso| s.serialize_str(iso))
    }
}

impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn epoch_and_formatting() {
        assert_eq!(Day::from_ymd(1970, 1, 1).unwrap().epoch_days(), 0);
        let d: Day = "2024-02-29".parse().unwrap();
        assert_eq!(d.to_string(), "2024-02-29");
        let mut ts = String::new();
        d.write_timestamp(&mut ts).unwrap();
        assert_eq!(ts, "2024-02-29T00:00:00.000Z");
        assert_eq!(d.add_days(1).to_string(), "2024-03-01");
    }

    #[test]
    fn input_may_be_dated_up_to_the_day_after_the_reference_day() {
        let today: Day = "2024-02-28".parse().unwrap();
        assert_eq!(today.last_accepted().to_string(), "2024-02-29");
        assert_eq!(Day::MAX.last_accepted(), Day::MAX);
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "1999-12-31",
            "+024-01-01",
            "",
        ] {
            assert!(bad.parse::<Day>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn week_and_month_starts() {
        let d: Day = "2024-06-29".parse().unwrap(); // a Saturday
        assert_eq!(d.week_start().to_string(), "2024-06-24");
        assert_eq!(d.month_start().to_string(), "2024-06-01");
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(n in Day::MIN.0..=Day::MAX.0) {
            let d = Day(n);
            prop_assert_eq!(d.to_string().parse::<Day>().unwrap(), d);
            prop_assert!(d.week_start() <= d && d.days_until(d.week_start()) > -7);
        }

        #[test]
        fn timestamp_matches_the_calendar(n in Day::MIN.0..=Day::MAX.0) {
            let date = Day(n).date();
            let expected = format!(
                "{:04}-{:02}-{:02}T00:00:00.000Z",
                date.year(),
                date.month() as u8,
                date.day()
            );
            prop_assert_eq!(&Day(n).timestamp()[..], expected.as_bytes());
            prop_assert_eq!(Day(n).to_string(), &expected[..10]);
            prop_assert_eq!(
                serde_json::to_string(&Day(n)).unwrap(),
                format!("\"{}\"", &expected[..10])
            );
        }
    }
}
