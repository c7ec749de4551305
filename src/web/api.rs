//! The JSON API of the dashboard (described in [`super::openapi`]):
//! - `GET /api/organizations/{org}/analytics` — totals, previous totals and the org chart;
//! - `GET /api/organizations/{org}/analytics/repos` — one page of the per-repository table;
//! - `GET /api/organizations/{org}/analytics/repos/{repoType}/{repoName}` — one repository
//!   (`repoName` is `org/name`: two path segments, or one with the `/` encoded as `%2F`).
//!
//! Responses are view structs built here; store and analytics values are never serialized.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::auth::OrgAccess;
use super::blocking::{blocking, Work};
use super::error::ApiError;
use super::params::{self, Params};
use super::AppState;
use crate::analytics::{
    Analytics, AnalyticsError, AnalyticsResult, Overview, RepoDetail, RepoRow, RepoTable, Series,
    SeriesPoint, Totals,
};
use crate::domain::{Day, DayRange, OrgName, Period, RepoKey, RepoName, RepoType};
use crate::hub::provenance::{self, OrgHub, RepoHub};
use crate::ingest;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/organizations/{org}/analytics", get(overview))
        .route("/api/organizations/{org}/analytics/repos", get(repos))
        .route(
            "/api/organizations/{org}/analytics/repos/{repo_type}/{repo_name}",
            get(repo_encoded),
        )
        .route(
            "/api/organizations/{org}/analytics/repos/{repo_type}/{owner}/{name}",
            get(repo),
        )
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> Self {
        match e {
            AnalyticsError::RepoNotFound(_) => ApiError::NotFound(e.to_string()),
            AnalyticsError::TooManyBuckets { .. } => {
                ApiError::BadRequest(format!("invalid query parameter `granularity`: {e}"))
            }
            AnalyticsError::PeriodTooLong { .. } => ApiError::BadRequest(e.to_string()),
            AnalyticsError::Store(e) => e.into(),
        }
    }
}

/// How many analytics queries run at once, per process: two per core. Each holds a store read
/// connection (with its own page cache) and a core; more at once only makes every one of them
/// slower and opens more connections, so further queries wait their turn here.
fn query_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(2 * cores)
    })
}

/// Runs an analytics query against the reference day, at most [`query_slots`] at once, where
/// [`blocking`](super::blocking::place) puts work that may take long.
pub async fn run<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(Analytics<'_>) -> AnalyticsResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    run_as(state, Work::MayBeLong, f).await
}

/// [`run`] for a query of `org` that its index answers alone (the overview without excluded
/// classes, a table page, one repository, the dashboard page): short work when the index is
/// current ([`crate::store::Counts::index_is_current`]), work that may take long when it must
/// be built or brought up to date first.
pub async fn run_indexed<T: Send + 'static>(
    state: &AppState,
    org: &OrgName,
    f: impl FnOnce(Analytics<'_>) -> AnalyticsResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let work = match state.store.index_is_current(org) {
        true => Work::Short,
        false => Work::MayBeLong,
    };
    run_as(state, work, f).await
}

async fn run_as<T: Send + 'static>(
    state: &AppState,
    work: Work,
    f: impl FnOnce(Analytics<'_>) -> AnalyticsResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    let today = state.config.reference_day();
    let slot = query_slots().acquire().await.map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("waiting for a query slot"))
    })?;
    let answer = blocking(&state.store, work, move |store| {
        f(Analytics::new(store, today))
    })
    .await;
    drop(slot);
    Ok(answer??)
}

/// A JSON answer whose last field is a chart's series, written straight into one buffer:
/// `head` (every other field) through serde, then `"series":[{"date":…,"downloads":…},…]` by
/// [`write_points`]. Byte for byte what `#[derive(Serialize)]` gives for the whole view (a
/// test compares); serde's calls per point (two keys, a date and a number, each an escaped
/// string or a write of its own) were three quarters of the CPU of a one-repository answer
/// of 1,095 daily points (callgrind: 1.04 M of 1.39 M instructions per request).
pub struct SeriesJson(Vec<u8>);

impl SeriesJson {
    pub fn new<T: Serialize>(head: &T, series: &Series) -> Result<Self, ApiError> {
        // A point takes 35 bytes and its number's digits (up to 16 below `MAX_COUNT`) and a
        // comma: room for all of them, so the buffer is never copied to grow.
        let mut buf = Vec::with_capacity(512 + series.points.len() * 52);
        serde_json::to_writer(&mut buf, head)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("writing JSON")))?;
        // `head` is an object: its closing brace makes way for the series.
        if buf.pop() != Some(b'}') {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "a JSON head that is no object"
            )));
        }
        if buf.last() != Some(&b'{') {
            buf.push(b',');
        }
        buf.extend_from_slice(b"\"series\":");
        write_points(&mut buf, &series.points);
        buf.push(b'}');
        Ok(SeriesJson(buf))
    }
}

/// `[{"date":"YYYY-MM-DD","downloads":N},…]`, as serde writes a [`PointView`] list. Each point
/// is made in a template on the stack (its constant parts written once) and copied into `out`
/// in one piece.
fn write_points(out: &mut Vec<u8>, points: &[SeriesPoint]) {
    const HEAD: &[u8] = b",{\"date\":\"YYYY-MM-DD\",\"downloads\":";
    const DATE: usize = 10; // where the date starts in HEAD
    let mut point = [0u8; HEAD.len() + 21];
    point[..HEAD.len()].copy_from_slice(HEAD);
    let mut number = itoa::Buffer::new();
    // The previous point's day and how many days of its month follow it: a daily series'
    // next date is mostly the same month's next day, two digits to bump instead of a calendar
    // conversion (a quarter of the answer's instructions when each date was converted).
    let mut last: Option<(i32, u8)> = None;
    out.push(b'[');
    for (i, p) in points.iter().enumerate() {
        let day = p.date.epoch_days();
        let iso = &mut point[DATE..DATE + 10];
        last = match last {
            Some((previous, left)) if day == previous + 1 && left > 0 => {
                if iso[9] == b'9' {
                    iso[8] += 1;
                    iso[9] = b'0';
                } else {
                    iso[9] += 1;
                }
                Some((day, left - 1))
            }
            _ => {
                iso.copy_from_slice(&p.date.timestamp()[..10]);
                let date = p.date.date();
                Some((day, date.month().length(date.year()) - date.day()))
            }
        };
        let digits = number.format(p.downloads).as_bytes();
        let end = HEAD.len() + digits.len();
        point[HEAD.len()..end].copy_from_slice(digits);
        point[end] = b'}';
        // The first point has no comma before it.
        out.extend_from_slice(&point[usize::from(i == 0)..=end]);
    }
    out.push(b']');
}

impl axum::response::IntoResponse for SeriesJson {
    fn into_response(self) -> axum::response::Response {
        let json = axum::http::HeaderValue::from_static("application/json");
        ([(axum::http::header::CONTENT_TYPE, json)], self.0).into_response()
    }
}

/// A repository addressed by `{repo_type}` (`model`, `models`, …) and its full name, which
/// must belong to the route's organization (anything else does not exist here: 404).
pub fn repo_key(org: &OrgName, repo_type: &str, full_name: &str) -> Result<RepoKey, ApiError> {
    let not_found = || ApiError::NotFound(format!("repository {repo_type}/{full_name} not found"));
    let repo_type = repo_type
        .parse::<RepoType>()
        .ok()
        .or_else(|| RepoType::from_plural(repo_type));
    let name = RepoName::parse(full_name).map_err(|_| not_found())?;
    match repo_type {
        Some(repo_type) if &name.org() == org => Ok(RepoKey { repo_type, name }),
        _ => Err(not_found()),
    }
}

#[derive(Serialize)]
pub struct PeriodView {
    pub name: &'static str,
    pub from: Option<Day>,
    pub to: Option<Day>,
}

impl From<Period> for PeriodView {
    fn from(p: Period) -> Self {
        PeriodView {
            name: p.kind.as_str(),
            from: p.range.map(|r| r.from),
            to: p.range.map(|r| r.to),
        }
    }
}

#[derive(Serialize)]
pub struct TotalsView {
    pub all: u64,
    pub model: u64,
    pub dataset: u64,
}

impl From<Totals> for TotalsView {
    fn from(t: Totals) -> Self {
        TotalsView {
            all: t.all,
            model: t.model,
            dataset: t.dataset,
        }
    }
}

#[derive(Serialize)]
pub struct PointView {
    pub date: Day,
    pub downloads: u64,
}

fn points(s: &Series) -> Vec<PointView> {
    s.points
        .iter()
        .map(|p| PointView {
            date: p.date,
            downloads: p.downloads,
        })
        .collect()
}

#[derive(Serialize)]
pub struct OverviewView {
    pub org: String,
    pub period: PeriodView,
    pub totals: TotalsView,
    pub previous: Option<TotalsView>,
    /// Whether the organization has data for the whole previous period (else a change
    /// against `previous` compares with part of a period).
    #[serde(rename = "previousComplete")]
    pub previous_complete: bool,
    pub granularity: &'static str,
    /// Where the figures come from when a hub's counters were collected: `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubOrgView>,
    pub series: Vec<PointView>,
}

/// A range of days, both ends included.
#[derive(Serialize)]
pub struct RangeView {
    pub from: Day,
    pub to: Day,
}

fn ranges(r: &[DayRange]) -> Vec<RangeView> {
    (r.iter())
        .map(|r| RangeView {
            from: r.from,
            to: r.to,
        })
        .collect()
}

/// The organization's snapshots of a hub's counters (`hubstats collect`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubOrgView {
    pub first_snapshot: Day,
    pub last_snapshot: Day,
    pub snapshots: u64,
    pub repositories: u64,
    pub estimated: Vec<RangeView>,
}

impl From<OrgHub> for HubOrgView {
    fn from(h: OrgHub) -> Self {
        HubOrgView {
            first_snapshot: h.first,
            last_snapshot: h.last,
            snapshots: h.snapshots,
            repositories: h.repos,
            estimated: ranges(&h.estimated),
        }
    }
}

/// A counter that went down (the hub recounted): no downloads, never negative ones.
#[derive(Serialize)]
pub struct CorrectionView {
    pub date: Day,
    pub from: u64,
    pub to: u64,
}

/// One repository's readings of a hub's counters.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRepoView {
    pub first_snapshot: Day,
    pub last_snapshot: Day,
    pub counter: u64,
    pub listed: bool,
    pub estimated: Vec<RangeView>,
    pub corrections: Vec<CorrectionView>,
}

impl From<RepoHub> for HubRepoView {
    fn from(h: RepoHub) -> Self {
        HubRepoView {
            first_snapshot: h.first,
            last_snapshot: h.last,
            counter: h.counter,
            listed: h.listed,
            estimated: ranges(&h.estimated),
            corrections: (h.corrections.iter())
                .map(|c| CorrectionView {
                    date: c.day,
                    from: c.from,
                    to: c.to,
                })
                .collect(),
        }
    }
}

impl OverviewView {
    fn new(org: &OrgName, o: &Overview) -> Self {
        OverviewView {
            org: org.to_string(),
            period: o.period.into(),
            totals: o.totals.into(),
            previous: o.previous.map(Into::into),
            previous_complete: o.previous_complete,
            granularity: o.series.granularity.as_str(),
            hub: None,
            series: points(&o.series),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoRowView {
    pub repo_type: RepoType,
    pub repo_name: String,
    pub downloads: u64,
    pub total: u64,
    pub previous_downloads: Option<u64>,
    pub previous_complete: bool,
    pub series: Vec<PointView>,
}

impl From<&RepoRow> for RepoRowView {
    fn from(r: &RepoRow) -> Self {
        RepoRowView {
            repo_type: r.key.repo_type,
            repo_name: r.key.name.to_string(),
            downloads: r.downloads,
            total: r.total,
            previous_downloads: r.previous_downloads,
            previous_complete: r.previous_complete && r.previous_downloads.is_some(),
            series: points(&r.series),
        }
    }
}

#[derive(Serialize)]
pub struct RepoTableView {
    pub period: PeriodView,
    pub count: usize,
    pub page: u32,
    pub per_page: u32,
    pub granularity: &'static str,
    pub repos: Vec<RepoRowView>,
}

impl RepoTableView {
    fn new(period: Period, t: &RepoTable) -> Self {
        RepoTableView {
            period: period.into(),
            count: t.count,
            page: t.page,
            per_page: t.per_page,
            granularity: t
                .rows
                .first()
                .map_or("day", |r| r.series.granularity.as_str()),
            repos: t.rows.iter().map(Into::into).collect(),
        }
    }
}

/// One repository's answer but its series (written after it by [`SeriesJson`]).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepoDetailHead {
    pub repo_type: RepoType,
    pub repo_name: String,
    pub period: PeriodView,
    pub total: u64,
    pub adjustment: i64,
    pub downloads: u64,
    pub previous_downloads: Option<u64>,
    pub previous_complete: bool,
    pub first_day: Option<Day>,
    pub last_day: Option<Day>,
    pub granularity: &'static str,
    /// Where the figures come from when a hub's counters were collected: `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubRepoView>,
}

impl From<&RepoDetail> for RepoDetailHead {
    fn from(d: &RepoDetail) -> Self {
        RepoDetailHead {
            repo_type: d.key.repo_type,
            repo_name: d.key.name.to_string(),
            period: d.period.into(),
            total: d.total,
            adjustment: d.adjustment,
            downloads: d.downloads,
            previous_downloads: d.previous,
            previous_complete: d.previous_complete,
            first_day: d.first_day,
            last_day: d.last_day,
            granularity: d.series.granularity.as_str(),
            hub: None,
        }
    }
}

async fn overview(
    State(state): State<AppState>,
    OrgAccess { access, .. }: OrgAccess,
    params: Params,
) -> Result<Json<OverviewView>, ApiError> {
    let period = params::period(&params, state.config.reference_day())?;
    // The chart's granularity follows the period; a bad value is still an error, as on every
    // endpoint that accepts the parameter.
    params::granularity(&params)?;
    let exclude = params::exclude(&params, &ingest::class_names(&state.config.rules))?;
    let org = access.org;
    let o = match exclude {
        // Excluding classes reads the kept events: may take long.
        Some(classes) => {
            let (org, store, config) = (org.clone(), state.store.clone(), state.config.clone());
            run(&state, move |a| {
                a.overview_less(&org, period, &|range| {
                    let rules = &config.rules;
                    ingest::downloads_of_classes(store.as_ref(), rules, &org, range, &classes)
                })
            })
            .await?
        }
        None => {
            let of = org.clone();
            run_indexed(&state, &org, move |a| a.overview(&of, period)).await?
        }
    };
    let mut view = OverviewView::new(&org, &o);
    let of = org.clone();
    let hub = blocking(&state.store, Work::Short, move |s| {
        provenance::of_org(s, &of)
    })
    .await??;
    view.hub = hub.map(Into::into);
    Ok(Json(view))
}

async fn repos(
    State(state): State<AppState>,
    OrgAccess { access, .. }: OrgAccess,
    params: Params,
) -> Result<Json<RepoTableView>, ApiError> {
    let period = params::period(&params, state.config.reference_day())?;
    let query = params::table_query(&params)?;
    // Sparklines follow the period; a bad value is still an error (it used to pass unseen).
    params::granularity(&params)?;
    params::refuse_exclude(&params)?;
    let org = access.org.clone();
    let t = run_indexed(&state, &access.org, move |a| {
        a.repo_table(&org, period, &query)
    });
    let t = t.await?;
    Ok(Json(RepoTableView::new(period, &t)))
}

async fn repo(
    State(state): State<AppState>,
    access: OrgAccess,
    Path((_, repo_type, owner, name)): Path<(String, String, String, String)>,
    params: Params,
) -> Result<SeriesJson, ApiError> {
    detail(
        state,
        access,
        &repo_type,
        &format!("{owner}/{name}"),
        params,
    )
    .await
}

async fn repo_encoded(
    State(state): State<AppState>,
    access: OrgAccess,
    Path((_, repo_type, repo_name)): Path<(String, String, String)>,
    params: Params,
) -> Result<SeriesJson, ApiError> {
    detail(state, access, &repo_type, &repo_name, params).await
}

async fn detail(
    state: AppState,
    OrgAccess { access, .. }: OrgAccess,
    repo_type: &str,
    full_name: &str,
    params: Params,
) -> Result<SeriesJson, ApiError> {
    let key = repo_key(&access.org, repo_type, full_name)?;
    let period = params::period(&params, state.config.reference_day())?;
    let granularity = params::granularity(&params)?;
    params::refuse_exclude(&params)?;
    let of = key.clone();
    let d = run_indexed(&state, &access.org, move |a| {
        a.repo_detail(&key, period, granularity)
    })
    .await?;
    let mut head = RepoDetailHead::from(&d);
    let hub = blocking(&state.store, Work::Short, move |s| {
        provenance::of_repo(s, &of)
    })
    .await??;
    head.hub = hub.map(Into::into);
    SeriesJson::new(&head, &d.series)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::analytics::Granularity;

    /// The whole answer as `#[derive(Serialize)]` writes it: what [`SeriesJson`] must match.
    #[derive(Serialize)]
    struct Whole<'a, T: Serialize> {
        #[serde(flatten)]
        head: &'a T,
        series: Vec<PointView>,
    }

    #[derive(Serialize)]
    struct Empty {}

    fn series(points: Vec<(i32, u64)>) -> Series {
        Series {
            granularity: Granularity::Day,
            range: None,
            points: (points.into_iter())
                .map(|(d, downloads)| SeriesPoint {
                    date: Day::from_epoch_days(d),
                    downloads,
                })
                .collect(),
        }
    }

    proptest! {
        // Daily series over month, year and leap-day ends.
        #[test]
        fn a_daily_series_is_written_as_serde_writes_it(
            start in Day::MIN.epoch_days()..Day::MAX.epoch_days() - 2_000,
            len in 0usize..1_500,
            downloads in any::<u64>(),
        ) {
            let s = series((0..len as i32).map(|i| (start + i, downloads >> (i % 64))).collect());
            let whole = Whole { head: &Empty {}, series: points(&s) };
            prop_assert_eq!(
                String::from_utf8(SeriesJson::new(&Empty {}, &s).unwrap().0).unwrap(),
                serde_json::to_string(&whole).unwrap()
            );
        }

        #[test]
        fn a_series_is_written_as_serde_writes_it(
            raw in prop::collection::vec((Day::MIN.epoch_days()..=Day::MAX.epoch_days(), any::<u64>()), 0..40),
            name in "[a-z]{1,8}/[a-z0-9._-]{1,12}",
            total in any::<u64>(),
            adjustment in any::<i64>(),
            first in prop::option::of(0i32..40_000),
        ) {
            let s = series(raw);
            let head = RepoDetailHead {
                repo_type: RepoType::Model,
                repo_name: name,
                period: PeriodView {
                    name: "all-time",
                    from: None,
                    to: Some(Day::from_epoch_days(20_000)),
                },
                total,
                adjustment,
                downloads: total,
                previous_downloads: None,
                previous_complete: first.is_some(),
                first_day: first.map(Day::from_epoch_days),
                last_day: None,
                granularity: "day",
                hub: None,
            };
            let whole = Whole { head: &head, series: points(&s) };
            prop_assert_eq!(
                String::from_utf8(SeriesJson::new(&head, &s).unwrap().0).unwrap(),
                serde_json::to_string(&whole).unwrap()
            );
            let empty = Whole { head: &Empty {}, series: points(&s) };
            prop_assert_eq!(
                String::from_utf8(SeriesJson::new(&Empty {}, &s).unwrap().0).unwrap(),
                serde_json::to_string(&empty).unwrap()
            );
        }
    }
}
