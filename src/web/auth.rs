//! Who is calling, and may they see `{org}`?
//!
//! - [`Principal`] is an extractor: `Authorization: Bearer <token>` wins, else the
//!   `hubstats_session` cookie. Credentials that do not check out give `Principal::Rejected`
//!   (never an error), so pages can choose to treat such callers as anonymous.
//! - [`OrgAccess`] is the extractor every route under `/organizations/{org}/...` takes first.
//!   It applies [`crate::accounts::authorize`] and rejects with the right status (401 without
//!   valid credentials, 404 for an unknown organization, 403 for a non-member or a free-plan
//!   organization), so a handler that has an `OrgAccess` may read `access.org` and nothing else:
//!
//! ```text
//! async fn dashboard(State(state): State<AppState>, OrgAccess { access, principal }: OrgAccess)
//!     -> Result<Html<String>, ApiError>
//! {
//!     // read only access.org's data; Layout::for_principal(&principal) for the page header
//! }
//! Router::new().route("/organizations/{org}/settings/publisher-analytics", get(dashboard))
//! ```
//! The route's path parameter must be named `org`; other parameters are free.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::{header, request::Parts, HeaderMap};
use axum_extra::extract::CookieJar;

use super::error::{ApiError, PrincipalSlot};
use super::session::SESSION_COOKIE;
use super::AppState;
use crate::accounts::{self, Access, AccessError, Principal, SessionId};
use crate::domain::OrgName;

/// The credential a request presents, before it is checked.
enum Credential {
    None,
    Malformed,
    Token(String),
    Session(SessionId),
}

fn credential(headers: &HeaderMap, cookies: &CookieJar) -> Credential {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        return match value.to_str().ok().and_then(bearer_token) {
            Some(t) if !t.is_empty() => Credential::Token(t.to_owned()),
            _ => Credential::Malformed,
        };
    }
    match cookies.get(SESSION_COOKIE) {
        Some(c) if !c.value().is_empty() => Credential::Session(SessionId::from_cookie(c.value())),
        _ => Credential::None,
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let cookies = CookieJar::from_headers(&parts.headers);
        let store = state.store.clone();
        let principal = match credential(&parts.headers, &cookies) {
            Credential::None => Principal::Anonymous,
            Credential::Malformed => Principal::Rejected,
            Credential::Token(t) => {
                tokio::task::spawn_blocking(move || {
                    accounts::principal_from_token(store.as_ref(), &t)
                })
                .await??
            }
            Credential::Session(id) => {
                tokio::task::spawn_blocking(move || {
                    accounts::principal_from_session(store.as_ref(), &id)
                })
                .await??
            }
        };
        parts.extensions.insert(principal.clone());
        if let Some(slot) = parts.extensions.get::<PrincipalSlot>() {
            let _ = slot.0.set(principal.clone());
        }
        Ok(principal)
    }
}

/// Authorized access to the `{org}` of the route (see the module docs).
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub access: Access,
    pub principal: Principal,
}

impl FromRequestParts<AppState> for OrgAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if principal.user().is_none() {
            // Before looking at the organization: anonymous callers learn nothing about it.
            return Err(AccessError::Unauthenticated.into());
        }
        let org = org_param(parts, state).await?;
        let store = state.store.clone();
        let p = principal.clone();
        let access =
            tokio::task::spawn_blocking(move || accounts::authorize(store.as_ref(), &org, &p))
                .await??;
        Ok(OrgAccess { access, principal })
    }
}

/// The route's `{org}` parameter; an invalid name cannot exist, so it is a 404.
async fn org_param(parts: &mut Parts, state: &AppState) -> Result<OrgName, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading path parameters: {e}")))?;
    let raw = params
        .iter()
        .find(|(name, _)| *name == "org")
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("OrgAccess used on a route without {{org}}"))
        })?;
    OrgName::parse(&raw)
        .map_err(|_| ApiError::NotFound(format!("organization {raw} does not exist")))
}
