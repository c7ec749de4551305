//! Parsers of the breakdown CSV's fields, and what is wrong when one does not parse.

use crate::domain::{Day, NameError, RepoKey, RepoName, RepoType};
use crate::store::MAX_COUNT;

use super::super::HEADER;

/// What is wrong with one line of a breakdown CSV. Each message names the field, says what was
/// found and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("the file is empty; expected the header {HEADER:?}")]
    Empty,
    #[error("header: found {found:?}; expected {HEADER:?}")]
    Header { found: String },
    #[error("found {found} fields; expected 5 ({HEADER})")]
    FieldCount { found: usize },
    #[error("malformed CSV: {0}")]
    Csv(String),
    #[error("repoType: found {found:?}; expected \"model\" or \"dataset\"")]
    RepoType { found: String },
    #[error("repoName: {0}")]
    RepoName(NameError),
    #[error(
        "{field}: found {found:?}; expected a whole number of downloads (digits only, 0 or more)"
    )]
    Count { field: &'static str, found: String },
    #[error(
        "{field}: found {found}; expected at most {MAX_COUNT}, the largest count hubstats accepts"
    )]
    CountTooLarge { field: &'static str, found: String },
    #[error("downloads: {repo} would have {found} downloads in all, more than {MAX_COUNT}")]
    RepoSumTooLarge { repo: String, found: u128 },
    #[error("downloads: organization {org} would have {found} downloads on {day}, more than {MAX_COUNT}")]
    OrgDaySumTooLarge { org: String, day: Day, found: u128 },
    #[error("the line is longer than {max} bytes; expected a breakdown row (under 300 bytes)")]
    LineTooLong { max: usize },
    #[error("malformed CSV: a quoted field runs past the end of its line (a quote is not closed)")]
    UnterminatedQuote,
    #[error("no line end: the text ends inside this line, which may be cut short")]
    NoLineEnd,
    #[error("timestamp: found {found:?}; expected a UTC day as YYYY-MM-DDT00:00:00.000Z")]
    Timestamp { found: String },
    #[error(
        "timestamp: found the date {found:?} without a time; expected YYYY-MM-DDT00:00:00.000Z"
    )]
    DateOnly { found: String },
    #[error("timestamp: found {found:?}, which is not midnight; expected one row per UTC day at T00:00:00.000Z")]
    NotMidnight { found: String },
    #[error("timestamp: found {found:?}, which is not in UTC; expected the Z form YYYY-MM-DDT00:00:00.000Z")]
    NotUtc { found: String },
    #[error("timestamp: found {found:?}; expected a day from 2000-01-01 to 2999-12-31")]
    DayOutOfRange { found: String },
    #[error(
        "timestamp: found {day}, after {last}; expected a day up to the reference day {today} \
         and one day more for clocks ahead (the days after it have not happened yet)"
    )]
    AfterToday { day: Day, today: Day, last: Day },
    #[error(
        "total: found {found} for {repo}, which had total {first} on line {first_line}; \
         expected the same total on every row of a repository"
    )]
    InconsistentTotal {
        repo: String,
        found: u64,
        first: u64,
        first_line: u64,
    },
    #[error(
        "timestamp: {repo} already has a row for {day} on line {first_line}; \
         expected one row per repository and day"
    )]
    DuplicateDay {
        repo: String,
        day: Day,
        first_line: u64,
    },
}

pub(super) fn check_header(fields: &[&[u8]]) -> Result<(), RowError> {
    let found = fields
        .iter()
        .map(|f| String::from_utf8_lossy(f))
        .collect::<Vec<_>>()
        .join(",");
    if found == HEADER {
        Ok(())
    } else {
        Err(RowError::Header {
            found: quote(&found),
        })
    }
}

pub(super) fn repo_type(field: &str) -> Result<RepoType, RowError> {
    field.parse().map_err(|_| RowError::RepoType {
        found: quote(field),
    })
}

pub(super) fn repo_name(field: &str) -> Result<RepoName, RowError> {
    if field.len() > 2 * 96 + 1 {
        return Err(RowError::RepoName(NameError::Name {
            name: quote(field),
            reason: "a name part is longer than 96 characters",
        }));
    }
    RepoName::parse(field).map_err(RowError::RepoName)
}

/// A whole number from 0 to [`MAX_COUNT`]: digits only, no sign, no decimals.
pub(super) fn count(field: &'static str, text: &str) -> Result<u64, RowError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RowError::Count {
            field,
            found: quote(text),
        });
    }
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_COUNT => Ok(n),
        _ => Err(RowError::CountTooLarge {
            field,
            found: quote(text),
        }),
    }
}

/// At most [`QUOTE_MAX`] bytes of a bad value, for error messages: a 1 GB field is reported
/// by its beginning.
pub(super) fn quote(text: &str) -> String {
    if text.len() <= QUOTE_MAX {
        return text.to_owned();
    }
    let mut end = QUOTE_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

pub(super) const QUOTE_MAX: usize = 100;

/// A UTC day at midnight: `YYYY-MM-DDT00:00:00.000Z` or `YYYY-MM-DDT00:00:00Z`.
pub(super) fn timestamp(text: &str) -> Result<Day, RowError> {
    let found = || quote(text);
    let (date, rest) = match (text.get(..10), text.get(10..)) {
        (Some(date), Some(rest)) => (date, rest),
        _ => return Err(RowError::Timestamp { found: found() }),
    };
    let Ok(day) = date.parse::<Day>() else {
        return Err(match looks_like_date(date) {
            true => RowError::DayOutOfRange { found: found() },
            false => RowError::Timestamp { found: found() },
        });
    };
    match rest {
        "T00:00:00.000Z" | "T00:00:00Z" => Ok(day),
        "" => Err(RowError::DateOnly { found: found() }),
        _ => Err(classify_time(rest, found())),
    }
}

/// `YYYY-MM-DD` in shape (so a parse failure is a date that does not exist or is out of range).
fn looks_like_date(s: &str) -> bool {
    s.bytes().enumerate().all(|(i, b)| {
        if i == 4 || i == 7 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }
    })
}

/// Why a time part `T…` other than midnight UTC is wrong.
fn classify_time(rest: &str, found: String) -> RowError {
    let Some(time) = rest.strip_prefix('T') else {
        return RowError::Timestamp { found };
    };
    if let Some(clock) = time.strip_suffix('Z') {
        return match is_clock(clock) {
            true if clock.bytes().all(|b| matches!(b, b'0' | b':' | b'.')) => {
                RowError::Timestamp { found }
            }
            true => RowError::NotMidnight { found },
            false => RowError::Timestamp { found },
        };
    }
    match time
        .get(..8)
        .filter(|c| is_clock(c))
        .and_then(|_| time[8..].rfind(['+', '-']))
    {
        Some(_) => RowError::NotUtc { found },
        None => RowError::Timestamp { found },
    }
}

/// `HH:MM:SS` with an optional fraction `.d+`.
fn is_clock(s: &str) -> bool {
    let (hms, fraction) = s.split_at(s.len().min(8));
    let hms_ok = hms.len() == 8
        && hms.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    let fraction_ok = fraction.is_empty()
        || fraction
            .strip_prefix('.')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    hms_ok && fraction_ok
}

/// `model acme/x`, as errors name a repository.
pub(super) fn describe(key: &RepoKey) -> String {
    format!("{} {}", key.repo_type, key.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_both_midnight_forms() {
        let day: Day = "2021-01-22".parse().unwrap();
        assert_eq!(timestamp("2021-01-22T00:00:00.000Z"), Ok(day));
        assert_eq!(timestamp("2021-01-22T00:00:00Z"), Ok(day));
    }

    #[test]
    fn classifies_wrong_timestamps() {
        let kind = |s: &str| match timestamp(s).unwrap_err() {
            RowError::NotMidnight { .. } => "not-midnight",
            RowError::NotUtc { .. } => "not-utc",
            RowError::DateOnly { .. } => "date-only",
            RowError::DayOutOfRange { .. } => "out-of-range",
            RowError::Timestamp { .. } => "malformed",
            other => panic!("{other:?}"),
        };
        let cases = [
            ("2021-01-22T05:00:00.000Z", "not-midnight"),
            ("2021-01-22T00:00:01Z", "not-midnight"),
            ("2021-01-22T00:00:00.000+02:00", "not-utc"),
            ("2021-01-22T00:00:00-05:00", "not-utc"),
            ("2021-01-22T00:00:00+00:00", "not-utc"),
            ("2021-01-22", "date-only"),
            ("1999-12-31T00:00:00.000Z", "out-of-range"),
            ("2021-02-30T00:00:00.000Z", "out-of-range"),
            ("2021-01-22 00:00:00", "malformed"),
            ("2021-01-22T00:00:00.000000Z", "malformed"),
            ("2021-01-22T00:00", "malformed"),
            ("22/01/2021", "malformed"),
            ("", "malformed"),
            ("2021-01-22T00:00:00.000Zé", "malformed"),
        ];
        for (input, expected) in cases {
            assert_eq!(kind(input), expected, "{input}");
        }
    }

    #[test]
    fn counts_are_digits_only() {
        assert_eq!(count("total", "0"), Ok(0));
        assert_eq!(count("total", "9007199254740991"), Ok(MAX_COUNT));
        for bad in ["", "-1", "1.5", "1e3", "+1", " 1", "1 ", "0x10"] {
            assert!(
                matches!(count("downloads", bad), Err(RowError::Count { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            count("total", "9007199254740992"),
            Err(RowError::CountTooLarge { .. })
        ));
    }
}
