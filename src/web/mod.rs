//! The HTTP surface: dashboard pages, JSON API and the CSV endpoint, on axum. Handlers are thin:
//! extract, parse into domain types, call `analytics`/`breakdown`/`accounts`, map to a response.
//! Store calls run on the blocking pool.
//!
//! Each file owns some routes (`fn routes() -> Router<AppState>`); [`router`] merges them.
//! Routes under `/organizations/{org}/` take [`auth::OrgAccess`]; errors are [`error::ApiError`].

mod api;
pub mod auth;
mod breakdown;
pub mod error;
mod index;
pub mod session;
pub mod templates;

pub mod charts;
mod dashboard;
pub mod format;
pub mod openapi;
mod params;

use std::sync::Arc;

use anyhow::Result;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::{middleware, Router};

use crate::config::Config;
use crate::store::SharedStore;

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub config: Arc<Config>,
}

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(index::routes())
        .merge(session::routes())
        .merge(templates::routes())
        .merge(breakdown::routes())
        .merge(api::routes())
        .merge(openapi::routes())
        .merge(dashboard::routes())
        .layer(middleware::from_fn(error::render_errors))
        .layer(middleware::map_response(security_headers))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Headers every response carries unless its handler set them: no framing (clickjacking of
/// the forms), no MIME sniffing, no full URLs in `Referer` to other sites.
async fn security_headers(mut res: Response) -> Response {
    let headers = res.headers_mut();
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    res
}

/// Binds `config.listen` and serves until Ctrl-C. `on_ready` receives the bound address.
pub async fn serve(state: AppState, on_ready: impl FnOnce(std::net::SocketAddr)) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(state.config.listen).await?;
    on_ready(listener.local_addr()?);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
