//! The drill-down page of one repository: its figures over a period, its chart with a
//! day/week/month switch and the numbers behind it, and links back to the table's view, to the
//! repository on the hub, to its CSV and to its JSON.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::view::{self, caption_detail, chart_marks, period_title, period_toggles, previous_text};
use super::view::{Change, Comparison, HistoryNote, Toggle};
use super::{base_path, data_rows, empty_range_note, render, CustomRange, DataRow, Head};
use crate::analytics::{Granularity, RepoDetail};
use crate::domain::{RepoKey, RepoType};
use crate::web::api::{repo_key, run_indexed};
use crate::web::auth::OrgAccess;
use crate::web::blocking::{blocking, Work};
use crate::web::charts::{line_chart_with, long_date, Marks};
use crate::web::error::ApiError;
use crate::web::format::thousands;
use crate::web::params::{percent_encode, Params, ViewState};
use crate::web::templates::Layout;
use crate::web::AppState;

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
    /// Under the period's downloads when there is no change to show.
    downloads_note: String,
    first_day: String,
    last_day: String,
    chart_empty: String,
    chart: String,
    data: Vec<DataRow>,
    api_href: String,
    csv_href: String,
    hub_href: String,
    /// Where the figures come from, when they are a hub's counters.
    provenance: String,
}

pub(super) async fn repo_page(
    State(state): State<AppState>,
    OrgAccess { access, principal }: OrgAccess,
    Path((_, kind, name)): Path<(String, String, String)>,
    params: Params,
) -> Result<Response, ApiError> {
    let org = access.org;
    let key = match RepoType::from_plural(&kind) {
        Some(t) => repo_key(&org, t.as_str(), &format!("{org}/{name}"))?,
        None => return Err(ApiError::NotFound(format!("no page {kind}/{name} here"))),
    };
    let today = state.config.reference_day();
    let (view, problem) = ViewState::parse_page(&params, today)?;
    let (period, granularity) = (view.period, view.granularity);
    let d = run_indexed(&state, &org, move |a| {
        a.repo_detail(&key, period, granularity)
    });
    let d = d.await?;
    let base = base_path(&org);
    let custom = CustomRange::of(&view, problem.clone(), d.first_day, today);
    let of = d.key.clone();
    let from_hub = blocking(&state.store, Work::Short, move |s| {
        crate::hub::provenance::of_repo(s, &of)
    })
    .await??;
    let estimated = from_hub.as_ref().map_or(&[][..], |h| &h.estimated[..]);
    let layout = Layout::for_principal(&principal);
    let mut page = repo_view(&view, &d, layout, base, custom, estimated, today);
    page.hub_href = hub_link(&state.config.hub_url, &d.key);
    if let Some(h) = &from_hub {
        super::hub::mark_estimated(&mut page.data, &d.series, &h.estimated);
        page.provenance = super::hub::repo_note(h);
    }
    let mut res = render(&page)?;
    if problem.is_some() {
        *res.status_mut() = axum::http::StatusCode::BAD_REQUEST;
    }
    Ok(res)
}

/// The repository's page on the hub: `{hub}/{org}/{name}` for models,
/// `{hub}/datasets/{org}/{name}` for datasets.
fn hub_link(hub: &str, key: &RepoKey) -> String {
    let hub = hub.trim_end_matches('/');
    match key.repo_type {
        RepoType::Model => format!("{hub}/{}", key.name),
        RepoType::Dataset => format!("{hub}/datasets/{}", key.name),
    }
}

fn repo_view(
    view: &ViewState,
    d: &RepoDetail,
    layout: Layout,
    base: String,
    custom: CustomRange,
    estimated: &[crate::domain::DayRange],
    today: crate::domain::Day,
) -> RepoPage {
    // Days before the repository's first data are not drawn as zeros; today is in progress.
    let marks = Marks {
        estimated,
        ..chart_marks(d.first_day, None, d.series.range, today)
    };
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
    let data = data_rows(&d.series, &marks);
    let before = Comparison {
        previous: d.previous,
        complete: d.previous_complete,
        first_day: d.first_day,
        stops: None,
    };
    let history = HistoryNote::new(d.total, d.adjustment);
    let downloads_note = before
        .gap_note()
        .unwrap_or_else(|| history.downloads.clone());
    // This repository's days in the period: the CSV of a view that selects it alone (its
    // query is never empty: it carries the type).
    let mut csv_state = view.clone();
    csv_state.table = Default::default();
    csv_state.table.repo_type = Some(d.key.repo_type);
    let csv_href = format!(
        "{base}/download-breakdown{}&repo={}",
        csv_state.export_query(),
        percent_encode(d.key.name.as_str())
    );
    let chart_note = match (view.period.range, d.adjustment) {
        (None, a) if a > 0 => format!(
            "the chart shows daily history; the all-time total also counts {} before it",
            thousands(a as u64)
        ),
        _ => String::new(),
    };
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
        back_href: format!("{base}{}", view.table_query()),
        repo_type: d.key.repo_type.as_str(),
        short_parts: view::name_parts(d.key.name.short()),
        period_title: period_title(view.period),
        range_text: caption_detail(view, d.series.range),
        previous_text: previous_text(view.period),
        periods: period_toggles(view, href),
        granularities,
        custom,
        granularity: d.series.granularity.as_str(),
        downloads: thousands(d.downloads),
        downloads_value: d.downloads,
        change: before.usable().map(|p| Change::new(d.downloads, p)),
        downloads_note,
        total: thousands(d.total),
        total_value: d.total,
        adjustment: d.adjustment,
        history,
        first_day: d
            .first_day
            .map(long_date)
            .unwrap_or_else(|| "\u{2014}".to_owned()),
        last_day: d
            .last_day
            .map(long_date)
            .unwrap_or_else(|| "\u{2014}".to_owned()),
        chart_empty: empty_range_note(view.period.range, d.downloads, d.first_day),
        chart: line_chart_with(
            &d.series,
            "repo-chart",
            &format!("Downloads of {full_name}"),
            &chart_note,
            &marks,
        ),
        data,
        api_href,
        csv_href,
        hub_href: String::new(),
        provenance: String::new(),
        full_name,
    }
}
