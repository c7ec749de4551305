//! The dashboard's stylesheet and script, embedded in the binary and served with long-lived
//! caching under URLs versioned by their content.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::web::AppState;

pub const DASHBOARD_CSS: &str = include_str!("../../../static/dashboard.css");
pub const DASHBOARD_JS: &str = include_str!("../../../static/dashboard.js");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/static/dashboard.css",
            get(|| serve("text/css; charset=utf-8", DASHBOARD_CSS)),
        )
        .route(
            "/static/dashboard.js",
            get(|| serve("text/javascript; charset=utf-8", DASHBOARD_JS)),
        )
}

async fn serve(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let cache = "public, max-age=31536000, immutable";
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
}

fn versioned(cell: &'static OnceLock<String>, path: &str, body: &str) -> &'static str {
    cell.get_or_init(|| format!("{path}?v={}", &crate::accounts::secret_hash(body)[..12]))
}

pub fn css_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    versioned(&HREF, "/static/dashboard.css", DASHBOARD_CSS)
}

pub fn js_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    versioned(&HREF, "/static/dashboard.js", DASHBOARD_JS)
}
