//! The dashboard's and the API's query parameters, parsed into domain values. Every parameter
//! is optional and an empty value counts as absent (HTML forms send `q=` and `type=`); a bad
//! value is a 400 that names the parameter. The same [`ViewState`] renders back into URLs, so
//! links carry the state (period, search, sort, page) and a view can be shared.

use std::collections::HashMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::ApiError;
use crate::analytics::{Granularity, Order, SortKey, TableQuery, DEFAULT_PER_PAGE, MAX_PER_PAGE};
use crate::domain::{Day, Period, PeriodKind, RepoType};

/// The raw query string's parameters (the last value wins when one repeats).
pub type RawParams = HashMap<String, String>;

fn get<'a>(raw: &'a RawParams, name: &str) -> Option<&'a str> {
    raw.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn bad(name: &str, reason: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("invalid query parameter `{name}`: {reason}"))
}

fn day(raw: &RawParams, name: &str) -> Result<Option<Day>, ApiError> {
    get(raw, name)
        .map(|v| v.parse::<Day>().map_err(|e| bad(name, e)))
        .transpose()
}

/// `period` (+ `from`, `to` for `custom`), resolved against the reference day.
pub fn period(raw: &RawParams, today: Day) -> Result<Period, ApiError> {
    let kind = match get(raw, "period") {
        None => PeriodKind::AllTime,
        Some(v) => PeriodKind::parse(v).map_err(|e| bad("period", e))?,
    };
    if kind != PeriodKind::Custom {
        return Period::resolve(kind, today, None, None).map_err(|e| bad("period", e));
    }
    let (from, to) = (day(raw, "from")?, day(raw, "to")?);
    let missing = |name| {
        bad(
            name,
            "a custom period needs both `from` and `to` (YYYY-MM-DD)",
        )
    };
    let from = from.ok_or_else(|| missing("from"))?;
    let to = to.ok_or_else(|| missing("to"))?;
    Period::resolve(kind, today, Some(from), Some(to)).map_err(|e| bad("from", e))
}

/// Why a custom range cannot be used, in words for the page.
fn range_problem(raw: &RawParams, today: Day) -> String {
    use super::charts::long_date;
    let parsed = |name| get(raw, name).map(|v| v.parse::<Day>().map_err(|_| v));
    match (parsed("from"), parsed("to")) {
        (None, _) | (_, None) => "Choose both a start and an end date.".to_owned(),
        (Some(Err(v)), _) | (_, Some(Err(v))) => {
            format!("\u{201c}{v}\u{201d} is not a date: pick one, or type it as YYYY-MM-DD.")
        }
        (Some(Ok(from)), Some(Ok(to))) if from > to => format!(
            "The start ({}) is after the end ({}): swap them.",
            long_date(from),
            long_date(to)
        ),
        (Some(Ok(from)), Some(Ok(_))) if from > today => format!(
            "The range starts on {}, after today ({}): there are no downloads yet. Choose a start on or before today.",
            long_date(from),
            long_date(today)
        ),
        _ => "This range cannot be shown; choose other dates.".to_owned(),
    }
}

/// `granularity`, if given.
pub fn granularity(raw: &RawParams) -> Result<Option<Granularity>, ApiError> {
    get(raw, "granularity")
        .map(|v| v.parse::<Granularity>().map_err(|e| bad("granularity", e)))
        .transpose()
}

fn number(raw: &RawParams, name: &str, max: u32) -> Result<Option<u32>, ApiError> {
    let Some(v) = get(raw, name) else {
        return Ok(None);
    };
    match v.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(bad(
            name,
            format!("expected a whole number from 1 to {max}, got {v:?}"),
        )),
    }
}

/// `q`, `type`, `sort`, `order`, `page` and `per_page`.
pub fn table_query(raw: &RawParams) -> Result<TableQuery, ApiError> {
    let repo_type = get(raw, "type")
        .map(|v| v.parse::<RepoType>().map_err(|e| bad("type", e)))
        .transpose()?;
    let sort = match get(raw, "sort") {
        None => SortKey::Downloads,
        Some(v) => v.parse::<SortKey>().map_err(|e| bad("sort", e))?,
    };
    let order = match get(raw, "order") {
        None => sort.default_order(),
        Some(v) => v.parse::<Order>().map_err(|e| bad("order", e))?,
    };
    Ok(TableQuery {
        q: get(raw, "q").map(str::to_owned),
        repo_type,
        sort,
        order,
        page: number(raw, "page", u32::MAX)?.unwrap_or(1),
        per_page: number(raw, "per_page", MAX_PER_PAGE)?.unwrap_or(DEFAULT_PER_PAGE),
    })
}

/// Everything a dashboard URL carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewState {
    pub period: Period,
    pub table: TableQuery,
    pub granularity: Option<Granularity>,
    /// The `to` a custom range asked for when it was past the reference day (and clipped).
    pub requested_to: Option<Day>,
}

/// A custom range a page could not use, answered on the page itself with the form kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeProblem {
    /// What is wrong, as a sentence for people (no parameter names).
    pub message: String,
    /// The values as they were sent.
    pub from: String,
    pub to: String,
}

impl ViewState {
    pub fn parse(raw: &RawParams, today: Day) -> Result<Self, ApiError> {
        let period = period(raw, today)?;
        let requested_to = day(raw, "to").ok().flatten().filter(|to| {
            period.kind == PeriodKind::Custom && period.range.is_some_and(|r| *to > r.to)
        });
        Ok(ViewState {
            period,
            table: table_query(raw)?,
            granularity: granularity(raw)?,
            requested_to,
        })
    }

    /// [`Self::parse`] for pages: a custom range that cannot be used is not an error page but
    /// a [`RangeProblem`] beside the default period, so the page can keep the form and say
    /// what to change. Other bad parameters are still a 400 that names them.
    pub fn parse_page(
        raw: &RawParams,
        today: Day,
    ) -> Result<(Self, Option<RangeProblem>), ApiError> {
        let custom = get(raw, "period") == Some(PeriodKind::Custom.as_str());
        match Self::parse(raw, today) {
            Err(ApiError::BadRequest(_)) if custom && period(raw, today).is_err() => {
                let mut rest = raw.clone();
                for name in ["period", "from", "to"] {
                    rest.remove(name);
                }
                let problem = RangeProblem {
                    message: range_problem(raw, today),
                    from: get(raw, "from").unwrap_or_default().to_owned(),
                    to: get(raw, "to").unwrap_or_default().to_owned(),
                };
                Ok((Self::parse(&rest, today)?, Some(problem)))
            }
            other => other.map(|s| (s, None)),
        }
    }

    /// The query string (with its `?`, or empty) of this state; defaults are left out.
    pub fn query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        self.period_pairs(&mut pairs);
        let t = &self.table;
        if let Some(q) = &t.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(rt) = t.repo_type {
            pairs.push(("type", rt.as_str().to_owned()));
        }
        if t.sort != SortKey::Downloads {
            pairs.push(("sort", t.sort.as_str().to_owned()));
        }
        if t.order != t.sort.default_order() {
            pairs.push(("order", t.order.as_str().to_owned()));
        }
        if t.page != 1 {
            pairs.push(("page", t.page.to_string()));
        }
        if t.per_page != DEFAULT_PER_PAGE {
            pairs.push(("per_page", t.per_page.to_string()));
        }
        if let Some(g) = self.granularity {
            pairs.push(("granularity", g.as_str().to_owned()));
        }
        encode(&pairs)
    }

    fn period_pairs(&self, pairs: &mut Vec<(&str, String)>) {
        if self.period.kind != PeriodKind::AllTime {
            pairs.push(("period", self.period.kind.as_str().to_owned()));
        }
        if let (PeriodKind::Custom, Some(r)) = (self.period.kind, self.period.range) {
            pairs.push(("from", r.from.to_string()));
            pairs.push(("to", r.to.to_string()));
        }
    }

    /// The period, search and type filter: what selects the rows of the "CSV of this view".
    pub fn export_query(&self) -> String {
        let mut pairs = Vec::new();
        self.period_pairs(&mut pairs);
        if let Some(q) = &self.table.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(rt) = self.table.repo_type {
            pairs.push(("type", rt.as_str().to_owned()));
        }
        encode(&pairs)
    }

    /// The table's state without the drill-down's granularity (the way back to the table).
    pub fn table_query(&self) -> String {
        let mut s = self.clone();
        s.granularity = None;
        s.query()
    }

    /// A copy with the table's page reset to the first (a new period, search or sort).
    pub fn first_page(&self) -> Self {
        let mut s = self.clone();
        s.table.page = 1;
        s
    }
}

fn encode(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// Every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`): what a query
/// value escapes.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query value (unreserved characters stay as they are, others are `%XX`
/// with upper-case hex digits).
pub fn percent_encode(value: &str) -> String {
    utf8_percent_encode(value, NOT_UNRESERVED).to_string()
}

/// `exclude`: user-agent classes to leave out, comma-separated, each one `known` (any other
/// is a 400 naming the parameter). `None` when absent or empty.
pub fn exclude(
    raw: &RawParams,
    known: &[&str],
) -> Result<Option<std::collections::BTreeSet<String>>, ApiError> {
    let Some(list) = get(raw, "exclude") else {
        return Ok(None);
    };
    let mut classes = std::collections::BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !known.contains(&name) {
            let reason = format!(
                "unknown user-agent class {:?} (known: {})",
                name.chars().take(100).collect::<String>(),
                known.join(", ")
            );
            return Err(bad("exclude", reason));
        }
        classes.insert(name.to_owned());
    }
    Ok(Some(classes).filter(|c| !c.is_empty()))
}

/// Refuses a parameter only the overview takes (rather than answering as if it were absent).
pub fn overview_only(raw: &RawParams, name: &str) -> Result<(), ApiError> {
    match get(raw, name) {
        Some(_) => Err(bad(name, "only the overview (/analytics) takes it so far")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawParams {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn today() -> Day {
        "2024-03-01".parse().unwrap()
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        match ViewState::parse(&raw(pairs), today()) {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_round_trip() {
        let s = ViewState::parse(&raw(&[("q", ""), ("type", "")]), today()).unwrap();
        assert_eq!(s.period, Period::ALL_TIME);
        assert_eq!(s.table, TableQuery::default());
        assert_eq!(s.query(), "");
        let pairs = [
            ("period", "custom"),
            ("from", "2023-12-31"),
            ("to", "2024-02-29"),
            ("q", "a b&c"),
            ("sort", "name"),
            ("page", "3"),
        ];
        let s = ViewState::parse(&raw(&pairs), today()).unwrap();
        assert_eq!(s.table.order, Order::Asc, "names sort A to Z by default");
        assert_eq!(
            s.query(),
            "?period=custom&from=2023-12-31&to=2024-02-29&q=a%20b%26c&sort=name&page=3"
        );
        assert_eq!(
            s.export_query(),
            "?period=custom&from=2023-12-31&to=2024-02-29&q=a%20b%26c"
        );
    }

    #[test]
    fn query_values_escape_all_but_unreserved_characters() {
        let all: String = (0..=0x7f_u8).map(char::from).chain(['é', '😀']).collect();
        let expected: String = (all.bytes())
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        assert_eq!(percent_encode(&all), expected);
    }

    #[test]
    fn bad_values_name_their_parameter() {
        let cases: [(&[(&str, &str)], &str); 10] = [
            (&[("period", "month")], "`period`"),
            (&[("period", "custom"), ("to", "2024-01-01")], "`from`"),
            (&[("period", "custom"), ("from", "2024-01-01")], "`to`"),
            (
                &[
                    ("period", "custom"),
                    ("from", "2024-02-30"),
                    ("to", "2024-03-01"),
                ],
                "`from`",
            ),
            (&[("type", "space")], "`type`"),
            (&[("sort", "size")], "`sort`"),
            (&[("order", "up")], "`order`"),
            (&[("page", "0")], "`page`"),
            (&[("per_page", "501")], "`per_page`"),
            (&[("granularity", "hour")], "`granularity`"),
        ];
        for (pairs, name) in cases {
            let m = error_of(pairs);
            assert!(m.contains(name), "{pairs:?}: {m}");
        }
    }
}
