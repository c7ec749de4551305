//! The dashboard pages:
//! - `GET /organizations/{org}/settings/publisher-analytics` — totals with the period toggle,
//!   the organization's chart and the per-repository table (search, type filter, sort, paging,
//!   a sparkline per row, the CSV button). With `fragment=table` only the table section is
//!   returned, for the search-as-you-type script.
//! - `GET /organizations/{org}/settings/publisher-analytics/{models|datasets}/{name}` — one
//!   repository: its chart with a day/week/month switch, period and all-time figures.
//!
//! Pages work without JavaScript; `static/dashboard.js` only makes search and sorting faster.

mod assets;
mod view;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::api::{repo_key, run};
use super::auth::OrgAccess;
use super::charts::{line_chart, long_date, partial_note};
use super::error::ApiError;
use super::format::thousands;
use super::params::{RawParams, ViewState};
use super::templates::Layout;
use super::AppState;
use crate::analytics::{Granularity, RepoDetail};
use crate::domain::{OrgName, PeriodKind};
use view::{
    cards, period_title, period_toggles, previous_text, range_text, Card, Change, Empty,
    HistoryNote, TableView, Toggle,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations/{org}/settings/publisher-analytics",
            get(dashboard),
        )
        .route(
            "/organizations/{org}/settings/publisher-analytics/{kind}/{name}",
            get(repo_page),
        )
        .merge(assets::routes())
}

fn base_path(org: &OrgName) -> String {
    format!("/organizations/{org}/settings/publisher-analytics")
}

/// Assets and the page title every dashboard page has.
struct Head {
    css_href: &'static str,
    js_href: &'static str,
}

impl Head {
    fn new() -> Self {
        Head {
            css_href: assets::css_href(),
            js_href: assets::js_href(),
        }
    }
}

/// The custom-range form's current values.
struct CustomRange {
    active: bool,
    from: String,
    to: String,
    /// Hidden inputs that keep the rest of the state (search, sort, granularity).
    keep: Vec<(&'static str, String)>,
}

impl CustomRange {
    fn of(state: &ViewState) -> Self {
        let r = state.period.range;
        CustomRange {
            active: state.period.kind == PeriodKind::Custom,
            from: r.map(|r| r.from.to_string()).unwrap_or_default(),
            to: r.map(|r| r.to.to_string()).unwrap_or_default(),
            keep: state_inputs(state),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    head: Head,
    org: String,
    base: String,
    period_title: String,
    range_text: String,
    previous_text: String,
    periods: Vec<Toggle>,
    custom: CustomRange,
    /// Hidden inputs the search form keeps (period, sort).
    keep: Vec<(&'static str, String)>,
    type_filter: &'static str,
    cards: Vec<Card>,
    chart: String,
    csv_href: String,
    table: TableView,
}

#[derive(Template)]
#[template(path = "dashboard_table.html")]
struct TableFragment {
    table: TableView,
}

/// The hidden inputs that keep the period and sort when the search form is submitted.
fn kept_inputs(state: &ViewState) -> Vec<(&'static str, String)> {
    let mut keep = vec![("period", state.period.kind.as_str().to_owned())];
    if let (PeriodKind::Custom, Some(r)) = (state.period.kind, state.period.range) {
        keep.push(("from", r.from.to_string()));
        keep.push(("to", r.to.to_string()));
    }
    keep.push(("sort", state.table.sort.as_str().to_owned()));
    keep.push(("order", state.table.order.as_str().to_owned()));
    keep
}

/// The non-period parameters of a state, as hidden inputs.
fn state_inputs(state: &ViewState) -> Vec<(&'static str, String)> {
    let t = &state.table;
    let mut keep = Vec::new();
    if let Some(q) = &t.q {
        keep.push(("q", q.clone()));
    }
    if let Some(rt) = t.repo_type {
        keep.push(("type", rt.as_str().to_owned()));
    }
    keep.push(("sort", t.sort.as_str().to_owned()));
    keep.push(("order", t.order.as_str().to_owned()));
    if let Some(g) = state.granularity {
        keep.push(("granularity", g.as_str().to_owned()));
    }
    keep
}

fn render(t: &impl Template) -> Result<Response, ApiError> {
    let html = t
        .render()
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("rendering a page")))?;
    Ok(Html(html).into_response())
}

async fn dashboard(
    State(state): State<AppState>,
    OrgAccess { access, principal }: OrgAccess,
    Query(raw): Query<RawParams>,
) -> Result<Response, ApiError> {
    let view = ViewState::parse(&raw, state.config.reference_day())?;
    let org = access.org;
    let base = base_path(&org);
    if raw.get("fragment").map(String::as_str) == Some("table") {
        let (org, query, period) = (org.clone(), view.table.clone(), view.period);
        let table = run(&state, move |a| a.repo_table(&org, period, &query)).await?;
        return render(&TableFragment {
            table: TableView::new(&view, &table, &base),
        });
    }
    let (o, t) = {
        let (org, query, period) = (org.clone(), view.table.clone(), view.period);
        run(&state, move |a| a.dashboard(&org, period, &query)).await?
    };
    let href = |s: &ViewState| format!("{base}{}", s.query());
    let page = DashboardPage {
        layout: Layout::for_principal(&principal),
        head: Head::new(),
        org: org.to_string(),
        period_title: period_title(view.period),
        range_text: o.series.range.map(range_text).unwrap_or_default(),
        previous_text: previous_text(view.period),
        periods: period_toggles(&view, href),
        custom: CustomRange::of(&view),
        keep: kept_inputs(&view),
        type_filter: view.table.repo_type.map_or("", |t| t.as_str()),
        cards: cards(o.totals, o.previous, outside_history(&o)),
        chart: line_chart(&o.series, "org-chart", &format!("Downloads of {org}")),
        csv_href: format!("{base}/download-breakdown"),
        table: TableView::new(&view, &t, &base),
        base,
    };
    render(&page)
}

/// All Time: downloads in the totals but not in daily history (the chart's sum).
fn outside_history(o: &crate::analytics::Overview) -> i64 {
    match o.period.range {
        None => o.totals.all as i64 - o.series.sum() as i64,
        Some(_) => 0,
    }
}

/// One row of the drill-down's data table.
struct DataRow {
    label: String,
    date: String,
    /// "partial week (3 of 7 days)" when the period cuts the bucket short.
    note: String,
    value: String,
}

#[derive(Template)]
#[template(path = "repo.html")]
struct RepoPage {
    layout: Layout,
    head: Head,
    org: String,
    back_href: String,
    repo_type: &'static str,
    full_name: String,
    /// The name after `org/`, in [`view::name_parts`].
    short_parts: Vec<String>,
    period_title: String,
    range_text: String,
    previous_text: String,
    periods: Vec<Toggle>,
    granularities: Vec<Toggle>,
    custom: CustomRange,
    granularity: &'static str,
    downloads: String,
    downloads_value: u64,
    change: Option<Change>,
    total: String,
    total_value: u64,
    adjustment: i64,
    history: HistoryNote,
    first_day: String,
    last_day: String,
    chart: String,
    data: Vec<DataRow>,
    api_href: String,
}

async fn repo_page(
    State(state): State<AppState>,
    OrgAccess { access, principal }: OrgAccess,
    Path((_, kind, name)): Path<(String, String, String)>,
    Query(raw): Query<RawParams>,
) -> Result<Response, ApiError> {
    let org = access.org;
    let key = match crate::domain::RepoType::from_plural(&kind) {
        Some(t) => repo_key(&org, t.as_str(), &format!("{org}/{name}"))?,
        None => return Err(ApiError::NotFound(format!("no page {kind}/{name} here"))),
    };
    let view = ViewState::parse(&raw, state.config.reference_day())?;
    let (period, granularity) = (view.period, view.granularity);
    let d = run(&state, move |a| a.repo_detail(&key, period, granularity)).await?;
    let base = base_path(&org);
    render(&repo_view(
        &view,
        &d,
        Layout::for_principal(&principal),
        base,
    ))
}

fn repo_view(view: &ViewState, d: &RepoDetail, layout: Layout, base: String) -> RepoPage {
    let here = format!("{base}/{}/{}", d.key.repo_type.plural(), d.key.name.short());
    let href = |s: &ViewState| format!("{here}{}", s.query());
    let granularities = Granularity::ALL
        .into_iter()
        .map(|g| {
            let mut s = view.clone();
            s.granularity = Some(g);
            Toggle {
                label: g.as_str(),
                value: g.as_str(),
                href: href(&s),
                current: d.series.granularity == g,
            }
        })
        .collect();
    let data = (0..d.series.points.len())
        .map(|i| DataRow {
            label: d.series.points[i].date.to_string(),
            date: long_date(d.series.points[i].date),
            note: partial_note(&d.series, i).unwrap_or_default(),
            value: thousands(d.series.points[i].downloads),
        })
        .collect();
    let full_name = d.key.name.to_string();
    let api_href = format!(
        "/api/organizations/{}/analytics/repos/{}/{}{}",
        d.key.name.org(),
        d.key.repo_type,
        full_name,
        view.query()
    );
    RepoPage {
        layout,
        head: Head::new(),
        org: d.key.name.org().to_string(),
        back_href: format!("{base}{}", view.period_query()),
        repo_type: d.key.repo_type.as_str(),
        short_parts: view::name_parts(d.key.name.short()),
        period_title: period_title(view.period),
        range_text: d.series.range.map(range_text).unwrap_or_default(),
        previous_text: previous_text(view.period),
        periods: period_toggles(view, href),
        granularities,
        custom: CustomRange::of(view),
        granularity: d.series.granularity.as_str(),
        downloads: thousands(d.downloads),
        downloads_value: d.downloads,
        change: d.previous.map(|p| Change::new(d.downloads, p)),
        total: thousands(d.total),
        total_value: d.total,
        adjustment: d.adjustment,
        history: HistoryNote::new(d.adjustment),
        first_day: d
            .first_day
            .map(long_date)
            .unwrap_or_else(|| "\u{2014}".to_owned()),
        last_day: d
            .last_day
            .map(long_date)
            .unwrap_or_else(|| "\u{2014}".to_owned()),
        chart: line_chart(
            &d.series,
            "repo-chart",
            &format!("Downloads of {full_name}"),
        ),
        data,
        api_href,
        full_name,
    }
}
