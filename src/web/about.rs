//! `GET /about/downloads`: what the dashboard's figures count, in a page for people — UTC days
//! and today in progress, the counting rules this server applies (its rules file's, else the
//! Hub's), the client classes, the sources a figure adds up, and downloads before daily
//! history. Public: it holds no organization's data. Written from `docs/DATA.md`.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::charts::long_date;
use super::error::ApiError;
use super::templates::Layout;
use super::AppState;
use crate::accounts::Principal;
use crate::ingest::{self, Rules};

/// Where the dashboard links to.
pub const PATH: &str = "/about/downloads";

pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(page))
}

#[derive(Template)]
#[template(path = "about_downloads.html")]
struct AboutPage {
    layout: Layout,
    today: String,
    /// Each with the separator after it (`, `, ` or `, nothing).
    methods: Vec<(String, &'static str)>,
    statuses: Vec<(String, &'static str)>,
    root_files: Vec<String>,
    extensions: Vec<String>,
    libraries: usize,
    /// "5-minute", "1-hour", "90-second".
    window: String,
    /// `:00, :05, :10`.
    window_starts: String,
    classes: Vec<String>,
}

async fn page(State(state): State<AppState>, principal: Principal) -> Result<Response, ApiError> {
    let rules = &state.config.rules;
    let page = AboutPage {
        layout: Layout::for_principal(&principal),
        today: long_date(state.config.reference_day()),
        methods: or_list(&rules.methods),
        statuses: or_list(&rules.statuses),
        root_files: rules.model_root_files.clone(),
        extensions: rules.model_extensions.clone(),
        libraries: rules.libraries.iter().count(),
        window: duration(rules.dataset_window_secs),
        window_starts: window_starts(rules),
        classes: ingest::class_names(rules)
            .into_iter()
            .map(str::to_owned)
            .collect(),
    };
    let html = page
        .render()
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("rendering a page")))?;
    Ok(Html(html).into_response())
}

/// `GET or HEAD`, `200, 302, 304 or 307`: each item with the separator after it.
fn or_list(items: &[impl ToString]) -> Vec<(String, &'static str)> {
    let n = items.len();
    (items.iter().enumerate())
        .map(|(i, item)| {
            let sep = match n - i {
                1 => "",
                2 => " or ",
                _ => ", ",
            };
            (item.to_string(), sep)
        })
        .collect()
}

/// `5-minute`, `1-hour`, `90-second` (before "window").
fn duration(secs: u32) -> String {
    let (n, unit) = match secs {
        s if s.is_multiple_of(3600) => (s / 3600, "hour"),
        s if s.is_multiple_of(60) => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n}-{unit}")
}

/// Where the first windows of an hour start (`:00, :05, :10, …`), when windows are whole
/// minutes within an hour; else empty.
fn window_starts(rules: &Rules) -> String {
    let secs = rules.dataset_window_secs;
    if secs == 0 || !secs.is_multiple_of(60) || secs >= 3600 {
        return String::new();
    }
    let step = secs / 60;
    let starts: Vec<String> = (0..3).map(|i| format!(":{:02}", i * step)).collect();
    format!("{}, …", starts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_read_as_words() {
        let text = |items: Vec<(String, &str)>| -> String {
            items.iter().map(|(i, sep)| format!("{i}{sep}")).collect()
        };
        assert_eq!(text(or_list(&["GET", "HEAD"])), "GET or HEAD");
        assert_eq!(text(or_list(&[200, 302, 304, 307])), "200, 302, 304 or 307");
        assert_eq!(duration(300), "5-minute");
        assert_eq!(duration(3600), "1-hour");
        assert_eq!(duration(90), "90-second");
        assert_eq!(window_starts(&Rules::default()), ":00, :05, :10, …");
    }
}
