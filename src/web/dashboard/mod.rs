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
mod hub;
mod repo;
mod view;

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::api::run_indexed;
use super::auth::OrgAccess;
use super::blocking::{blocking, Work};
use super::charts::{
    bucket_label, is_missing, line_chart_with, long_date, partial_note, point_note, Marks,
};
use super::error::ApiError;
use super::format::{bytes, thousands};
use super::params::{Params, RangeProblem, ViewState};
use super::templates::Layout;
use super::AppState;
use crate::accounts::now_unix;
use crate::domain::{OrgName, PeriodKind};
use view::{
    caption_detail, cards, chart_marks, data_stops, period_title, period_toggles, previous_text,
    Card, Comparison, Empty, Freshness, TableView, Toggle, PER_PAGE_CHOICES,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/organizations/{org}/settings/publisher-analytics",
            get(dashboard),
        )
        .route(
            "/organizations/{org}/settings/publisher-analytics/{kind}/{name}",
            get(repo::repo_page),
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

/// The custom-range form's current values: the custom range, or the range a preset shows (All
/// Time: from the first day with data), so that it opens on the current range.
struct CustomRange {
    active: bool,
    from: String,
    to: String,
    /// The earliest and latest day worth choosing (first day with data, the reference day).
    min: String,
    max: String,
    /// Why the range sent could not be shown (the form is open with its values kept).
    problem: String,
    /// Hidden inputs that keep the rest of the state (search, sort, granularity).
    keep: Vec<(&'static str, String)>,
}

impl CustomRange {
    fn of(
        state: &ViewState,
        problem: Option<RangeProblem>,
        first_day: Option<crate::domain::Day>,
        today: crate::domain::Day,
    ) -> Self {
        let r = state.period.range;
        let custom = state.period.kind == PeriodKind::Custom;
        let (from, to) = match (&problem, custom) {
            (Some(p), _) => (p.from.clone(), p.to.clone()),
            (None, true) => (
                r.map(|r| r.from.to_string()).unwrap_or_default(),
                r.map(|r| r.to.to_string()).unwrap_or_default(),
            ),
            // The form opens on the range shown, ready to be adjusted.
            (None, false) => (
                r.map_or(first_day.unwrap_or(today), |r| r.from).to_string(),
                r.map_or(today, |r| r.to).to_string(),
            ),
        };
        CustomRange {
            active: custom || problem.is_some(),
            from,
            to,
            min: first_day.map(|d| d.to_string()).unwrap_or_default(),
            max: today.to_string(),
            problem: problem.map(|p| p.message).unwrap_or_default(),
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
    /// Hidden inputs the search form keeps: the period's before the search box, the sort's
    /// after the type filter (the order of the view's URL).
    keep_period: Vec<(&'static str, String)>,
    keep_sort: Vec<(&'static str, String)>,
    /// The view's one URL ([`ViewState::query`]), for `<link rel="canonical">`.
    canonical: String,
    type_filter: &'static str,
    /// The per-page choices and whether each is the current one.
    per_page_choices: Vec<(u32, bool)>,
    /// A search or type filter is set: the cards say they are organization-wide.
    filtered: bool,
    cards: Vec<Card>,
    /// Instead of the chart when the period has no downloads ("data starts …").
    chart_empty: String,
    chart: String,
    data: Vec<DataRow>,
    granularity: &'static str,
    csv_href: String,
    /// The full CSV's estimated size in decimal units (`7.6 MB`), as download managers and
    /// the CLI's progress bars give it, and in bytes (rounded to three figures).
    csv_size: String,
    csv_size_exact: String,
    csv_bytes: u64,
    csv_view_href: String,
    /// Where the figures come from, when the organization's are a hub's counters.
    provenance: String,
    /// How far the figures go and from which sources.
    freshness: Freshness,
    /// Why the full CSV's totals add up to less than All Time, when they do.
    csv_note: String,
    /// The period ends today, which is still counting.
    in_progress: bool,
    table: TableView,
}

#[derive(Template)]
#[template(path = "dashboard_table.html")]
struct TableFragment {
    table: TableView,
}

/// The hidden inputs among `names` that keep the state when the search form is submitted:
/// only those that are not defaults, placed (period before the search, sort after the type)
/// so that the form leads to the view's one URL ([`ViewState::query`]).
fn kept_inputs(state: &ViewState, names: &[&str]) -> Vec<(&'static str, String)> {
    (state.first_page().pairs().into_iter())
        .filter(|(name, _)| names.contains(name))
        .collect()
}

/// The non-period parameters of a state that are not defaults, as hidden inputs (the
/// custom-range form's; the page starts again from the first).
fn state_inputs(state: &ViewState) -> Vec<(&'static str, String)> {
    let period = ["period", "from", "to"];
    (state.first_page().pairs().into_iter())
        .filter(|(name, _)| !period.contains(name))
        .collect()
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
    params: Params,
) -> Result<Response, ApiError> {
    let today = state.config.reference_day();
    let (view, problem) = ViewState::parse_page(&params, today)?;
    let org = access.org;
    let base = base_path(&org);
    if params.fragment() == Some("table") {
        let (of, query, period) = (org.clone(), view.table.clone(), view.period);
        let table = run_indexed(&state, &org, move |a| a.repo_table(&of, period, &query)).await?;
        return render(&TableFragment {
            table: TableView::new(&view, &table, &base, today),
        });
    }
    let (o, t, export_bytes, outside_csv) = {
        let (of, query, period) = (org.clone(), view.table.clone(), view.period);
        run_indexed(&state, &org, move |a| {
            let (o, t) = a.dashboard(&of, period, &query)?;
            Ok((o, t, a.export_size_estimate(&of)?, a.outside_export(&of)?))
        })
        .await?
    };
    let of = org.clone();
    let (from_hub, sources) = blocking(&state.store, Work::Short, move |s| {
        let from_hub = crate::hub::provenance::of_org(s, &of)?;
        Ok::<_, crate::store::StoreError>((from_hub, s.org_sources(&of)?))
    })
    .await??;
    let freshness = Freshness::new(o.last_day, &sources, from_hub.as_ref(), now_unix());
    let href = |s: &ViewState| format!("{base}{}", s.query());
    // The organization's data may stop short of the period (logs that stopped arriving): then
    // the page says so rather than showing a fall to zero, and the chart leaves those days out.
    let stops = data_stops(o.last_day, o.series.range, today);
    let before = Comparison {
        previous: o.previous,
        complete: o.previous_complete,
        first_day: o.first_day,
        stops,
    };
    let marks = Marks {
        estimated: from_hub.as_ref().map_or(&[][..], |h| &h.estimated[..]),
        ..chart_marks(o.first_day, o.last_day, o.series.range, today)
    };
    let outside = outside_history(&o);
    let chart_note = match outside {
        n if n > 0 => format!(
            "the chart shows daily history; the all-time total also counts {} before it",
            thousands(n as u64)
        ),
        _ => String::new(),
    };
    let mut data = data_rows(&o.series, &marks);
    if let Some(h) = &from_hub {
        hub::mark_estimated(&mut data, &o.series, &h.estimated);
    }
    let page = DashboardPage {
        layout: Layout::for_principal(&principal),
        head: Head::new(),
        org: org.to_string(),
        period_title: period_title(view.period),
        range_text: caption_detail(&view, o.series.range),
        previous_text: previous_text(view.period),
        periods: period_toggles(&view, href),
        custom: CustomRange::of(&view, problem.clone(), o.first_day, today),
        keep_period: kept_inputs(&view, &["period", "from", "to"]),
        keep_sort: kept_inputs(&view, &["sort", "order"]),
        canonical: href(&view),
        type_filter: view.table.repo_type.map_or("", |t| t.as_str()),
        per_page_choices: per_page_choices(view.table.per_page),
        filtered: view.table.q.is_some() || view.table.repo_type.is_some(),
        cards: cards(o.totals, before, outside),
        chart_empty: match stops.filter(|last| view.period.range.is_some_and(|r| r.from > *last)) {
            Some(last) => format!(
                "No downloads recorded after {}: this range has no data yet.",
                long_date(last)
            ),
            None => empty_range_note(view.period.range, o.totals.all, o.first_day),
        },
        chart: line_chart_with(
            &o.series,
            "org-chart",
            &format!("Downloads of {org}"),
            &chart_note,
            &marks,
        ),
        data,
        granularity: o.series.granularity.as_str(),
        csv_href: format!("{base}/download-breakdown"),
        csv_size: bytes(export_bytes),
        csv_size_exact: format!("{} bytes", thousands(three_figures(export_bytes))),
        csv_bytes: export_bytes,
        csv_view_href: format!("{base}/download-breakdown{}", view.export_query()),
        table: TableView::new(&view, &t, &base, today),
        in_progress: view.period.range.is_some_and(|r| r.to == today),
        freshness,
        csv_note: csv_note(outside_csv),
        provenance: (from_hub.as_ref()).map(hub::org_note).unwrap_or_default(),
        base,
    };
    let status = if problem.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let mut res = render(&page)?;
    *res.status_mut() = status;
    Ok(res)
}

/// "The CSV's totals add up to 1,200 less than All Time: 2 repositories have only downloads
/// from before daily history, and no day to give a row." (empty when every repository with
/// downloads has a row).
fn csv_note(outside: crate::analytics::OutsideExport) -> String {
    let which = match outside.repos {
        0 => return String::new(),
        1 => "1 repository has".to_owned(),
        n => format!("{} repositories have", thousands(n)),
    };
    format!(
        "The CSV's totals add up to {} less than All Time: {which} only downloads from before \
         daily history, and no day to give a row.",
        thousands(outside.downloads)
    )
}

/// `n` rounded to three significant figures (an estimate says no more).
fn three_figures(n: u64) -> u64 {
    let digits = n.checked_ilog10().unwrap_or(0);
    let unit = 10u64.pow(digits.saturating_sub(2));
    (n + unit / 2) / unit * unit
}

/// The rows-per-page choices, each with whether it is the current one; a current value that
/// is not one of them (`per_page=12` in a shared URL) is offered too, so the select shows it.
fn per_page_choices(current: u32) -> Vec<(u32, bool)> {
    let mut choices: Vec<u32> = PER_PAGE_CHOICES.to_vec();
    if !choices.contains(&current) {
        choices.push(current);
        choices.sort_unstable();
    }
    choices.into_iter().map(|n| (n, n == current)).collect()
}

/// What replaces a chart whose period has no downloads: "No downloads in this range; data
/// starts Jun 7, 2025." (empty when there is something to draw).
fn empty_range_note(
    range: Option<crate::domain::DayRange>,
    downloads: u64,
    first_day: Option<crate::domain::Day>,
) -> String {
    match (range, first_day) {
        (Some(_), _) if downloads > 0 => String::new(),
        (None, _) => String::new(),
        (Some(r), Some(first)) if r.to < first => format!(
            "No downloads in this range: data starts {}.",
            long_date(first)
        ),
        (Some(_), Some(_)) => "No downloads in this range.".to_owned(),
        (Some(_), None) => "No downloads recorded yet.".to_owned(),
    }
}

/// The rows of a chart's "Show the numbers" table: a bucket no data covers says so instead
/// of a zero, today's that it is in progress.
fn data_rows(series: &crate::analytics::Series, marks: &Marks) -> Vec<DataRow> {
    (0..series.points.len())
        .map(|i| {
            let notes: Vec<String> = [partial_note(series, i), point_note(series, i, marks)]
                .into_iter()
                .flatten()
                .collect();
            DataRow {
                date: bucket_label(series, i),
                note: notes.join(", "),
                value: match is_missing(series, i, marks) {
                    true => "\u{2014}".to_owned(),
                    false => thousands(series.points[i].downloads),
                },
            }
        })
        .collect()
}

/// All Time: downloads in the totals but not in daily history (the chart's sum).
fn outside_history(o: &crate::analytics::Overview) -> i64 {
    match o.period.range {
        None => o.totals.all as i64 - o.series.sum() as i64,
        Some(_) => 0,
    }
}

/// One row of a chart's "Show the numbers" table.
struct DataRow {
    date: String,
    /// "partial week (3 of 7 days)" when the period cuts the bucket short.
    note: String,
    value: String,
}
