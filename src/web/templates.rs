//! What every page shares: the [`Layout`] that `templates/base.html` reads, and the stylesheet.
//!
//! A page template extends `base.html` and has a field `layout: Layout`:
//! ```text
//! #[derive(askama::Template)]
//! #[template(path = "my_page.html")] // {% extends "base.html" %}{% block content %}...{% endblock %}
//! struct MyPage { layout: Layout, /* page fields */ }
//! let page = MyPage { layout: Layout::for_principal(&principal), .. };
//! ```

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::session::csrf_token_for;
use super::AppState;
use crate::accounts::Principal;

/// The stylesheet, embedded in the binary.
pub const APP_CSS: &str = include_str!("../../static/app.css");

/// The header's data: who is signed in and the token their sign-out form needs.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The signed-in user's name.
    pub user: Option<String>,
    /// CSRF token for forms of this session (empty without a session).
    pub csrf: String,
    /// The stylesheet's URL, versioned by content so it can be cached for long.
    pub css_href: &'static str,
}

impl Layout {
    pub fn anonymous() -> Self {
        Layout {
            user: None,
            csrf: String::new(),
            css_href: css_href(),
        }
    }

    pub fn for_principal(principal: &Principal) -> Self {
        Layout {
            user: principal.user().map(|u| u.to_string()),
            csrf: principal.session().map(csrf_token_for).unwrap_or_default(),
            css_href: css_href(),
        }
    }
}

fn css_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let digest = crate::accounts::secret_hash(APP_CSS);
        format!("/static/app.css?v={}", &digest[..12])
    })
}

/// The site's icon: a small bar chart in the accent colour.
pub const FAVICON_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#4f46e5"/><path d="M4 12V8M8 12V4M12 12V6" stroke="#fff" stroke-width="2" stroke-linecap="round"/></svg>"##;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(stylesheet))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON_SVG,
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        APP_CSS,
    )
}
