//! The HTTP surface: dashboard pages, JSON API and the CSV endpoint, on axum. Handlers are thin:
//! extract, parse into domain types, call `analytics`/`breakdown`/`accounts`, map to a response.
//! Store calls run on the blocking pool.
//!
//! Each file owns some routes (`fn routes() -> Router<AppState>`); [`router`] merges them.
//! Routes under `/organizations/{org}/` take [`auth::OrgAccess`]; `POST /api/ingest` takes an
//! ingest key instead ([`ingest`]); errors are [`error::ApiError`].

mod about;
mod api;
pub mod auth;
pub mod blocking;
pub mod breakdown;
mod deadline;
pub mod error;
mod fallback;
mod index;
pub mod ingest;
pub mod session;
pub mod templates;
pub mod throttle;

pub mod hashing;
pub mod metrics;
pub mod observe;
pub mod priority;
pub mod server;

pub mod charts;
mod dashboard;
pub mod format;
pub mod openapi;
mod params;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::{middleware, Extension, Router};

use crate::config::Config;
use crate::store::SharedStore;

pub use server::serve;

#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub config: Arc<Config>,
}

/// State one server shares across all its requests: build it once per server, since a router
/// built per request would forget every sign-in failure and bound nothing.
#[derive(Clone, Default)]
pub struct Shared {
    pub throttle: Arc<throttle::LoginThrottle>,
    pub hashing: Arc<hashing::HashingPool>,
    pub metrics: Arc<metrics::Metrics>,
    pub exports: Arc<breakdown::ExportSlots>,
}

/// Every route of the service.
pub fn router(state: AppState) -> Router {
    router_with(state, Shared::default())
}

/// [`router`] with a given sign-in throttle (its state must outlive one router to count
/// attempts across requests, e.g. in tests that build a router per request).
pub fn router_with_throttle(state: AppState, throttle: Arc<throttle::LoginThrottle>) -> Router {
    let shared = Shared {
        throttle,
        ..Shared::default()
    };
    router_with(state, shared)
}

/// [`router`] over the given shared state.
pub fn router_with(state: AppState, shared: Shared) -> Router {
    // Every route answers within the request timeout except the CSV download, which streams
    // for as long as its client keeps taking it (see `breakdown`): 408 if the body was still
    // arriving, else 503 as for a store that does not answer (see `deadline`).
    let timeout =
        middleware::from_fn_with_state(state.config.limits.request_timeout, deadline::within);
    let ingest_bodies = Arc::new(ingest::ArrivingBodies::new(
        state.config.ingest_max_body_bytes,
    ));
    let bounded = Router::new()
        .merge(index::routes())
        .merge(about::routes())
        .merge(session::routes())
        .merge(templates::routes())
        .merge(api::routes())
        .merge(ingest::routes())
        .merge(openapi::routes())
        .merge(dashboard::routes())
        .merge(metrics::routes())
        .layer(timeout);
    Router::new()
        .merge(bounded)
        .merge(breakdown::routes())
        .fallback(fallback::not_found)
        .layer(Extension(shared.throttle))
        .layer(Extension(shared.hashing))
        .layer(Extension(shared.exports))
        .layer(Extension(ingest_bodies))
        .layer(middleware::from_fn(fallback::sign_in_redirect))
        .layer(middleware::from_fn(error::render_errors))
        .layer(middleware::map_response(security_headers))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(middleware::from_fn(observe::observe))
        .layer(Extension(shared.metrics))
        .with_state(state)
}

/// The Content-Security-Policy of every response: scripts, styles and requests only from this
/// site (no inline script or style anywhere), no plugins, no framing, forms post here only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Headers every response carries unless its handler set them: the CSP, no framing
/// (clickjacking of the forms), no MIME sniffing, no full URLs in `Referer` to other sites, and
/// no caching of anything but the static assets (which set their own `Cache-Control`): pages
/// and API answers are per user.
async fn security_headers(mut res: Response) -> Response {
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "private, no-store"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    res
}
