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

pub fn routes() -> Router<AppState> {
    Router::new().route("/static/app.css", get(stylesheet))
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
