//! Checks of one log row's fields, shared by the formats. Each returns a [`RowError`] naming
//! the field and quoting at most [`QUOTE_MAX`] bytes of the bad value.

use std::collections::HashMap;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::domain::{Day, NameError, RepoName, RepoType};

/// The most of a bad value an error quotes.
pub const QUOTE_MAX: usize = 100;
/// The longest hashed id or path kept.
const MAX_ID: usize = 256;
const MAX_PATH: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("the file is empty (expected a header)")]
    Empty,
    #[error("the header has no column {0}")]
    MissingColumn(&'static str),
    #[error("{found} fields, the header has {expected}")]
    FieldCount { found: usize, expected: usize },
    #[error("field {field}: missing")]
    Missing { field: &'static str },
    #[error("field {field}: {found:?} is not {expected}")]
    Invalid {
        field: &'static str,
        found: String,
        expected: &'static str,
    },
    #[error("field repoName: {0}")]
    RepoName(NameError),
    #[error("not UTF-8")]
    Utf8,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("invalid CSV: {0}")]
    Csv(String),
    #[error("line longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("no line end: the text ends inside this line, which may be cut short")]
    NoLineEnd,
    #[error(
        "field {field}: the request is dated {day}, after {last} (the reference day {today} \
         and one day more for clocks ahead): it has not happened yet"
    )]
    AfterToday {
        field: &'static str,
        day: Day,
        today: Day,
        last: Day,
    },
}

fn invalid(field: &'static str, text: &str, expected: &'static str) -> RowError {
    RowError::Invalid {
        field,
        found: quote(text),
        expected,
    }
}

/// At most [`QUOTE_MAX`] bytes of a bad value: a 1 GB field is reported by its beginning.
pub fn quote(text: &str) -> String {
    if text.len() <= QUOTE_MAX {
        return text.to_owned();
    }
    let mut end = QUOTE_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// An RFC 3339 timestamp, any offset, as milliseconds since the epoch (UTC), on a day the
/// product accepts (2000–2999).
pub fn timestamp(text: &str) -> Result<i64, RowError> {
    let expected = "an RFC 3339 timestamp from 2000 to 2999";
    let ms = match utc_millis(text.as_bytes()) {
        Some(ms) => ms,
        None => {
            let at = OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|_| invalid("timestamp", text, expected))?;
            (at.unix_timestamp_nanos().div_euclid(1_000_000)) as i64
        }
    };
    let day = Day::from_epoch_days(ms.div_euclid(86_400_000) as i32);
    if !(Day::MIN..=Day::MAX).contains(&day) {
        return Err(invalid("timestamp", text, expected));
    }
    Ok(ms)
}

/// The milliseconds since the epoch of a timestamp in the shape nearly every log writes,
/// `YYYY-MM-DDTHH:MM:SS[.F]Z` (1 to 9 fraction digits), read by hand; `None` for any other
/// text, which [`timestamp`] gives to the full RFC 3339 parser (other offsets, lower-case
/// letters, leap seconds, and text that is no timestamp). The parser's general path was a
/// fifth of an `hf-csv` row's parse; this gives the same answer for every text it reads
/// (a test compares them).
fn utc_millis(b: &[u8]) -> Option<i64> {
    // The shortest text of the shape, `YYYY-MM-DDTHH:MM:SSZ`.
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if b.len() < 20 || separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let digit = |i: usize| u32::from(b[i].wrapping_sub(b'0'));
    let mut bad = false;
    for i in [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18] {
        bad |= digit(i) > 9;
    }
    if bad {
        return None;
    }
    let two = |i: usize| digit(i) * 10 + digit(i + 1);
    let (year, month, day) = (two(0) * 100 + two(2), two(5), two(8));
    let (hour, minute, second) = (two(11), two(14), two(17));
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year as i32, month, u8::try_from(day).ok()?).ok()?;
    let mut millis = 0u32;
    let rest = match b[19] {
        b'.' => {
            let fraction = &b[20..];
            let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return None;
            }
            // Milliseconds: the first three digits, padded (`.5` is 500 ms).
            let digits = &fraction[..n];
            for i in 0..3 {
                millis = millis * 10 + digits.get(i).map_or(0, |&c| u32::from(c - b'0'));
            }
            &fraction[n..]
        }
        _ => &b[19..],
    };
    if rest != b"Z" {
        return None;
    }
    let days = i64::from(date.to_julian_day() - UNIX_EPOCH_JULIAN_DAY);
    let seconds = i64::from(hour * 3600 + minute * 60 + second);
    Some((days * 86_400 + seconds) * 1000 + i64::from(millis))
}

/// 1970-01-01 as a Julian day.
const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// An HTTP status: three digits, 100 to 599.
pub fn status(text: &str) -> Result<u16, RowError> {
    let ok = text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u16>() {
        Ok(n) if ok && (100..=599).contains(&n) => Ok(n),
        _ => Err(invalid("status", text, "an HTTP status (100 to 599)")),
    }
}

/// An HTTP method: 1 to 16 ASCII letters, kept upper-case.
pub fn method(text: &str) -> Result<String, RowError> {
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(invalid("method", text, "an HTTP method"));
    }
    Ok(text.to_ascii_uppercase())
}

/// `model` or `dataset`; `None` for `space` (read and ignored).
pub fn repo_type(text: &str) -> Result<Option<RepoType>, RowError> {
    match text {
        "model" => Ok(Some(RepoType::Model)),
        "dataset" => Ok(Some(RepoType::Dataset)),
        "space" => Ok(None),
        _ => Err(invalid("repoType", text, "model, dataset or space")),
    }
}

pub fn repo_name(text: &str) -> Result<RepoName, RowError> {
    if text.len() > QUOTE_MAX * 2 {
        return Err(invalid("repoName", text, "a repository name"));
    }
    RepoName::parse(text).map_err(RowError::RepoName)
}

/// The repository names of one file's rows, each checked and allocated once: a log names a
/// few thousand repositories over and over (checking each row's name and allocating it took
/// 7% of an `hf-csv` ingest), and rows of one repository then share one name (compared by
/// pointer first).
#[derive(Default)]
pub struct RepoNames {
    known: HashMap<Box<str>, RepoName, ahash::RandomState>,
}

/// Names a file's read remembers (a few MB at most).
const KNOWN_NAMES: usize = 1 << 16;

impl RepoNames {
    /// [`repo_name`], remembered.
    pub fn parse(&mut self, text: &str) -> Result<RepoName, RowError> {
        if let Some(name) = self.known.get(text) {
            return Ok(name.clone());
        }
        let name = repo_name(text)?;
        if self.known.len() < KNOWN_NAMES {
            self.known.insert(text.into(), name.clone());
        }
        Ok(name)
    }
}

/// A hashed downloader id; empty means absent.
pub fn hashed_id(field: &'static str, text: &str) -> Result<Option<String>, RowError> {
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_ID || !printable(text.as_bytes()) {
        return Err(invalid(
            field,
            text,
            "a hashed id (at most 256 printable ASCII characters)",
        ));
    }
    Ok(Some(text.to_owned()))
}

/// Whether every byte is printable ASCII (`!` to `~`), looking at all of them without a
/// branch per byte, so the compiler can check many at once.
fn printable(bytes: &[u8]) -> bool {
    let outside = bytes.iter().fold(0u8, |seen, &b| {
        seen | u8::from(b.wrapping_sub(b'!') > b'~' - b'!')
    });
    outside == 0
}

/// A file path inside the repository, without a leading `/`.
pub fn path(text: &str) -> Result<String, RowError> {
    let trimmed = text.trim_start_matches('/');
    if trimmed.is_empty() || text.len() > MAX_PATH || text.contains(['\n', '\r', '\0']) {
        return Err(invalid("path", text, "a file path"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the full RFC 3339 parser makes of `text`, in milliseconds.
    fn parsed(text: &str) -> Option<i64> {
        let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
        Some(at.unix_timestamp_nanos().div_euclid(1_000_000) as i64)
    }

    proptest! {
        // Wherever the hand-read shape answers, the parser answers the same; texts of that
        // shape with impossible fields, and near misses, are left to the parser.
        #[test]
        fn the_usual_timestamp_shape_reads_as_the_parser_reads_it(
            text in prop_oneof![
                "(19|20|29|30)[0-9]{2}-(0[0-9]|1[0-3])-([0-2][0-9]|3[0-2])T([01][0-9]|2[0-5]):[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?Z",
                "20[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,4})?([Zz]|[+-][0-9]{2}:[0-9]{2})?",
                "[0-9T:.Z-]{19,26}",
            ]
        ) {
            if let Some(ms) = utc_millis(text.as_bytes()) {
                prop_assert_eq!(Some(ms), parsed(&text), "{}", text);
            }
            prop_assert_eq!(
                timestamp(&text).ok(),
                parsed(&text).filter(|ms| {
                    let day = Day::from_epoch_days(ms.div_euclid(86_400_000) as i32);
                    (Day::MIN..=Day::MAX).contains(&day)
                })
            );
        }
    }

    #[test]
    fn the_usual_timestamp_shape_is_read_by_hand() {
        for (text, ms) in [
            ("2024-05-01T10:00:00Z", 1_714_557_600_000),
            ("2024-05-01T10:00:00.5Z", 1_714_557_600_500),
            ("2024-05-01T10:00:00.123456789Z", 1_714_557_600_123),
            ("2024-02-29T23:59:59.999Z", 1_709_251_199_999),
        ] {
            assert_eq!(utc_millis(text.as_bytes()), Some(ms), "{text}");
            assert_eq!(parsed(text), Some(ms), "{text}");
        }
        for other in [
            "2024-05-01T10:00:00+02:00",
            "2024-05-01t10:00:00Z",
            "2023-02-29T10:00:00Z",
            "2024-05-01T10:00:60Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00.1234567890Z",
            "2024-05-01T10:00:00Zjunk",
        ] {
            assert_eq!(utc_millis(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn a_files_repository_names_are_checked_once_and_shared() {
        let mut names = RepoNames::default();
        let a = names.parse("acme/bert").unwrap();
        let again = names.parse("acme/bert").unwrap();
        assert!(std::ptr::eq(a.as_str(), again.as_str()), "one allocation");
        assert_eq!(names.parse("acme/gpt").unwrap().as_str(), "acme/gpt");
        // A bad name is an error every time it comes, never remembered.
        for _ in 0..2 {
            assert!(matches!(names.parse("acme"), Err(RowError::RepoName(_))));
        }
        assert_eq!(names.known.len(), 2);
    }

    #[test]
    fn timestamps_convert_any_offset_to_utc() {
        let utc = timestamp("2024-03-01T00:30:00Z").unwrap();
        assert_eq!(timestamp("2024-03-01T02:30:00+02:00").unwrap(), utc);
        assert_eq!(timestamp("2024-02-29T20:30:00-04:00").unwrap(), utc);
        assert_eq!(timestamp("2024-03-01T00:30:00.250Z").unwrap(), utc + 250);
        for bad in [
            "2024-03-01",
            "2024-03-01 00:30:00",
            "1999-12-31T23:59:59Z",
            "",
        ] {
            assert!(timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_and_methods() {
        assert_eq!(status("302"), Ok(302));
        for bad in ["99", "600", "+20", "2000", "abc", ""] {
            assert!(status(bad).is_err(), "{bad}");
        }
        assert_eq!(method("get").unwrap(), "GET");
        assert!(method("GE T").is_err());
    }

    #[test]
    fn long_bad_values_are_quoted_short() {
        let long = "x".repeat(10_000);
        let RowError::Invalid { found, .. } = status(&long).unwrap_err() else {
            panic!("expected Invalid");
        };
        assert!(found.len() < 130, "{found}");
        assert!(found.ends_with("(10000 bytes)"));
    }

    #[test]
    fn spaces_are_recognised() {
        assert_eq!(repo_type("space"), Ok(None));
        assert!(repo_type("spaces").is_err());
    }
}
