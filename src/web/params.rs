//! The dashboard's and the API's query parameters, parsed into domain values. Every parameter
//! is optional and an empty value counts as absent (HTML forms send `q=` and `type=`); a bad
//! value is a 400 that names the parameter. The same [`ViewState`] renders back into URLs, so
//! links carry the state (period, search, sort, page) and a view can be shared.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::value::MapDeserializer;
use serde::{Deserialize, Deserializer};

use super::error::ApiError;
use crate::analytics::{Granularity, Order, SortKey, TableQuery, DEFAULT_PER_PAGE, MAX_PER_PAGE};
use crate::domain::{Day, Period, PeriodKind, RepoType};

/// Every query parameter an endpoint of the dashboard or the API reads, typed; the others are
/// ignored. The extractor of every such endpoint: it never fails, a bad value is kept in its
/// [`Param`] and refused (400) only where the endpoint reads it, in the order it reads them.
/// (A field that fails serde would make the 400 name whichever bad parameter the query sent
/// first, and lose a bad date's text, which the page shows back in its form.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Params {
    period: Param<PeriodKind>,
    from: Param<Day>,
    to: Param<Day>,
    q: Param<String>,
    #[serde(rename = "type")]
    repo_type: Param<RepoType>,
    sort: Param<SortKey>,
    order: Param<Order>,
    page: Param<u32>,
    per_page: Param<u32>,
    granularity: Param<Granularity>,
    /// User-agent classes, comma-separated (checked against the rules' classes).
    exclude: Param<String>,
    /// The CSV of one repository: its full name.
    repo: Param<String>,
    /// `table`: the dashboard's table alone (compared as sent, untrimmed).
    #[serde(deserialize_with = "verbatim")]
    fragment: Option<String>,
}

/// One parameter: absent (or empty, or only blanks), or its trimmed text with what `T`'s
/// `FromStr` makes of it. `FromStr` rather than serde's derived enums: its messages (`unknown
/// sort "size" (expected downloads, name, total or change)`) are the API's, and say more than
/// serde's `unknown variant`.
#[derive(Debug, Clone, Default)]
pub enum Param<T> {
    #[default]
    Absent,
    Given {
        text: String,
        value: Result<T, String>,
    },
}

impl<T: FromStr> Param<T>
where
    T::Err: Display,
{
    fn of(text: &str) -> Self {
        match text.trim() {
            "" => Param::Absent,
            text => Param::Given {
                text: text.to_owned(),
                value: text.parse().map_err(|e: T::Err| e.to_string()),
            },
        }
    }
}

impl<T> Param<T> {
    /// The value, `None` when absent; a value that did not parse is a 400 naming `name`.
    fn get(&self, name: &str) -> Result<Option<&T>, ApiError> {
        match self {
            Param::Absent => Ok(None),
            Param::Given { value: Ok(v), .. } => Ok(Some(v)),
            Param::Given { value: Err(e), .. } => Err(bad(name, e)),
        }
    }

    /// The trimmed text as sent, if any.
    fn text(&self) -> Option<&str> {
        match self {
            Param::Absent => None,
            Param::Given { text, .. } => Some(text),
        }
    }
}

impl<'de, T: FromStr> Deserialize<'de> for Param<T>
where
    T::Err: Display,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Param::of(&String::deserialize(d)?))
    }
}

fn verbatim<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

impl Params {
    /// The parameters of a query's pairs. A repeated parameter's last value counts: the pairs
    /// are gathered into a map first, since serde's derived struct refuses a repeated field.
    pub fn from_pairs(pairs: HashMap<String, String>) -> Result<Self, ApiError> {
        let pairs = MapDeserializer::<_, serde::de::value::Error>::new(pairs.into_iter());
        Params::deserialize(pairs).map_err(|e| ApiError::BadRequest(format!("invalid query: {e}")))
    }

    /// Whether any of the parameters that select a view (`period`, `q`, `type`, `repo`) is
    /// given, valid or not.
    pub fn selects_a_view(&self) -> bool {
        let texts = [self.period.text(), self.q.text(), self.repo_type.text()];
        texts
            .into_iter()
            .chain([self.repo.text()])
            .any(|t| t.is_some())
    }

    /// `repo`: a repository's full name, if given.
    pub fn repo(&self) -> Option<&str> {
        self.repo.text()
    }

    /// `fragment`, as sent.
    pub fn fragment(&self) -> Option<&str> {
        self.fragment.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        Params::from_pairs(pairs)
    }
}

fn bad(name: &str, reason: impl Display) -> ApiError {
    ApiError::BadRequest(format!("invalid query parameter `{name}`: {reason}"))
}

/// `period` (+ `from`, `to` for `custom`), resolved against the reference day.
pub fn period(params: &Params, today: Day) -> Result<Period, ApiError> {
    let kind = params.period.get("period")?.copied();
    let kind = kind.unwrap_or(PeriodKind::AllTime);
    if kind != PeriodKind::Custom {
        return Period::resolve(kind, today, None, None).map_err(|e| bad("period", e));
    }
    let (from, to) = (params.from.get("from")?, params.to.get("to")?);
    let missing = |name| {
        bad(
            name,
            "a custom period needs both `from` and `to` (YYYY-MM-DD)",
        )
    };
    let from = *from.ok_or_else(|| missing("from"))?;
    let to = *to.ok_or_else(|| missing("to"))?;
    Period::resolve(kind, today, Some(from), Some(to)).map_err(|e| bad("from", e))
}

/// Why a custom range cannot be used, in words for the page.
fn range_problem(params: &Params, today: Day) -> String {
    use super::charts::long_date;
    fn parsed(p: &Param<Day>) -> Option<Result<Day, &str>> {
        match p {
            Param::Absent => None,
            Param::Given { text, value } => Some(value.clone().map_err(|_| text.as_str())),
        }
    }
    match (parsed(&params.from), parsed(&params.to)) {
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
pub fn granularity(params: &Params) -> Result<Option<Granularity>, ApiError> {
    Ok(params.granularity.get("granularity")?.copied())
}

fn number(param: &Param<u32>, name: &str, max: u32) -> Result<Option<u32>, ApiError> {
    match param {
        Param::Absent => Ok(None),
        Param::Given { value: Ok(n), .. } if (1..=max).contains(n) => Ok(Some(*n)),
        Param::Given { text, .. } => Err(bad(
            name,
            format!("expected a whole number from 1 to {max}, got {text:?}"),
        )),
    }
}

/// `q`, `type`, `sort`, `order`, `page` and `per_page`.
pub fn table_query(params: &Params) -> Result<TableQuery, ApiError> {
    let repo_type = params.repo_type.get("type")?.copied();
    let sort = params
        .sort
        .get("sort")?
        .copied()
        .unwrap_or(SortKey::Downloads);
    let order = params.order.get("order")?.copied();
    Ok(TableQuery {
        q: params.q.text().map(str::to_owned),
        repo_type,
        sort,
        order: order.unwrap_or_else(|| sort.default_order()),
        page: number(&params.page, "page", u32::MAX)?.unwrap_or(1),
        per_page: number(&params.per_page, "per_page", MAX_PER_PAGE)?.unwrap_or(DEFAULT_PER_PAGE),
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
    pub fn parse(params: &Params, today: Day) -> Result<Self, ApiError> {
        let period = period(params, today)?;
        let requested_to = params.to.get("to").ok().flatten().copied().filter(|to| {
            period.kind == PeriodKind::Custom && period.range.is_some_and(|r| *to > r.to)
        });
        Ok(ViewState {
            period,
            table: table_query(params)?,
            granularity: granularity(params)?,
            requested_to,
        })
    }

    /// [`Self::parse`] for pages: a custom range that cannot be used is not an error page but
    /// a [`RangeProblem`] beside the default period, so the page can keep the form and say
    /// what to change. Other bad parameters are still a 400 that names them.
    pub fn parse_page(
        params: &Params,
        today: Day,
    ) -> Result<(Self, Option<RangeProblem>), ApiError> {
        let custom = matches!(
            params.period,
            Param::Given {
                value: Ok(PeriodKind::Custom),
                ..
            }
        );
        match Self::parse(params, today) {
            Err(ApiError::BadRequest(_)) if custom && period(params, today).is_err() => {
                let rest = Params {
                    period: Param::Absent,
                    from: Param::Absent,
                    to: Param::Absent,
                    ..params.clone()
                };
                let problem = RangeProblem {
                    message: range_problem(params, today),
                    from: params.from.text().unwrap_or_default().to_owned(),
                    to: params.to.text().unwrap_or_default().to_owned(),
                };
                Ok((Self::parse(&rest, today)?, Some(problem)))
            }
            other => other.map(|s| (s, None)),
        }
    }

    /// The query string (with its `?`, or empty) of this state; defaults are left out. It is
    /// the view's one URL: every link, form and script that leads to a view writes this one
    /// (`static/dashboard.js`'s `canonical` keeps the same order and defaults).
    pub fn query(&self) -> String {
        encode(&self.pairs())
    }

    /// The parameters of [`Self::query`], in its order, without defaults.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
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
        pairs
    }

    fn period_pairs(&self, pairs: &mut Vec<(&'static str, String)>) {
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
    params: &Params,
    known: &[&str],
) -> Result<Option<std::collections::BTreeSet<String>>, ApiError> {
    let Some(list) = params.exclude.text() else {
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

/// Refuses `exclude`, which only the overview takes (rather than answering as if it were
/// absent).
pub fn refuse_exclude(params: &Params) -> Result<(), ApiError> {
    match params.exclude.text() {
        Some(_) => Err(bad(
            "exclude",
            "only the overview (/analytics) takes it so far",
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> Params {
        let pairs = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Params::from_pairs(pairs.collect()).unwrap()
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
    fn blanks_are_absent_unknowns_ignored_and_errors_come_in_a_fixed_order() {
        let s = ViewState::parse(
            &raw(&[("sort", " name "), ("page", " "), ("x", "y")]),
            today(),
        );
        assert_eq!(s.unwrap().table.sort, SortKey::Name);
        let m = error_of(&[("type", "space"), ("sort", "size"), ("granularity", "hour")]);
        assert!(m.starts_with("invalid query parameter `type`: "), "{m}");
        let m = error_of(&[("granularity", "hour"), ("period", "month"), ("page", "0")]);
        assert!(m.starts_with("invalid query parameter `period`: "), "{m}");
        let m = error_of(&[("page", "x")]);
        assert!(m.ends_with("expected a whole number from 1 to 4294967295, got \"x\""));
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
