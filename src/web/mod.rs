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
mod fallback;
mod index;
pub mod session;
pub mod templates;
pub mod throttle;

pub mod charts;
mod dashboard;
pub mod format;
pub mod openapi;
mod params;

use std::sync::Arc;

use anyhow::Result;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::{middleware, Extension, Router};

use crate::config::Config;
use crate::store::SharedStore;

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub config: Arc<Config>,
}

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    router_with_throttle(state, Arc::new(throttle::LoginThrottle::default()))
}

/// [`router`] with a given sign-in throttle (its state must outlive one router to count
/// attempts across requests, e.g. in tests that build a router per request).
pub fn router_with_throttle(state: AppState, throttle: Arc<throttle::LoginThrottle>) -> Router {
    Router::new()
        .merge(index::routes())
        .merge(session::routes())
        .merge(templates::routes())
        .merge(breakdown::routes())
        .merge(api::routes())
        .merge(openapi::routes())
        .merge(dashboard::routes())
        .fallback(fallback::not_found)
        .layer(Extension(throttle))
        .layer(middleware::from_fn(fallback::sign_in_redirect))
        .layer(middleware::from_fn(error::render_errors))
        .layer(middleware::map_response(security_headers))
        .layer(tower_http::compression::CompressionLayer::new())
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
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
