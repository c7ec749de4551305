//! `GET /`: the signed-in user's organizations (anonymous callers go to `/login`), and
//! `GET /healthz` for load balancers.

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::blocking::Work;
use super::error::ApiError;
use super::templates::Layout;
use super::AppState;
use crate::accounts::{self, Principal};
use crate::store::StoreError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
}

/// One organization as the index page lists it.
struct OrgItem {
    name: String,
    plan: String,
    /// Whether the plan includes publisher analytics (else the page shows no link).
    has_analytics: bool,
    role: String,
    /// "1 repository", "20,000 repositories".
    repos: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    layout: Layout,
    orgs: Vec<OrgItem>,
}

async fn index(State(state): State<AppState>, principal: Principal) -> Result<Response, ApiError> {
    let Some(user) = principal.user().cloned() else {
        return Ok(Redirect::to("/login").into_response());
    };
    let orgs = super::blocking::blocking(
        &state.store,
        Work::MayBeLong,
        move |store| -> Result<_, StoreError> {
            let memberships = accounts::memberships(store, &user)?;
            (memberships.into_iter())
                .map(|(o, role)| Ok((store.repo_count(&o.name)?, o, role)))
                .collect::<Result<Vec<_>, StoreError>>()
        },
    )
    .await??;
    let orgs = orgs
        .into_iter()
        .map(|(repo_count, o, role)| OrgItem {
            name: o.name.to_string(),
            plan: o.plan.to_string(),
            has_analytics: o.plan.has_analytics(),
            role: role.to_string(),
            repos: match repo_count {
                1 => "1 repository".to_owned(),
                n => format!("{} repositories", super::format::thousands(n)),
            },
        })
        .collect();
    let page = IndexPage {
        layout: Layout::for_principal(&principal),
        orgs,
    };
    let html = page.render().map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Html(html).into_response())
}

async fn healthz() -> &'static str {
    "ok"
}
