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

use super::blocking::{blocking, Work};
use super::error::{ApiError, PrincipalSlot};
use super::session::SESSION_COOKIE;
use super::AppState;
use crate::accounts::{self, Access, AccessError, Principal, SessionId};
use crate::domain::OrgName;
use crate::store::Accounts;

/// A credential a request presents that must be looked up in the store.
enum Credential {
    Token(String),
    Session(SessionId),
}

/// The principal of a request that needs no store lookup (no credential: anonymous; a
/// malformed one: rejected), else the credential to look up.
fn credential(headers: &HeaderMap, cookies: &CookieJar) -> Result<Principal, Credential> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        return match value.to_str().ok().and_then(bearer_token) {
            Some(t) if !t.is_empty() => Err(Credential::Token(t.to_owned())),
            _ => Ok(Principal::Rejected),
        };
    }
    match cookies.get(SESSION_COOKIE) {
        Some(c) if !c.value().is_empty() => {
            Err(Credential::Session(SessionId::from_cookie(c.value())))
        }
        _ => Ok(Principal::Anonymous),
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The principal `credential` names (a blocking store read).
fn principal_of(store: &dyn Accounts, credential: Credential) -> Result<Principal, ApiError> {
    Ok(match credential {
        Credential::Token(t) => accounts::principal_from_token(store, &t)?,
        Credential::Session(id) => accounts::principal_from_session(store, &id)?,
    })
}

/// Keeps the request's principal for later extractors and for the error page.
fn remember(parts: &mut Parts, principal: &Principal) {
    parts.extensions.insert(principal.clone());
    if let Some(slot) = parts.extensions.get::<PrincipalSlot>() {
        let _ = slot.0.set(principal.clone());
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let principal = match credential(&parts.headers, &CookieJar::from_headers(&parts.headers)) {
            Ok(principal) => principal,
            Err(credential) => {
                blocking(&state.store, Work::Short, move |store| {
                    principal_of(store, credential)
                })
                .await??
            }
        };
        remember(parts, &principal);
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
        let known = match parts.extensions.get::<Principal>() {
            Some(p) => Ok(p.clone()),
            None => credential(&parts.headers, &CookieJar::from_headers(&parts.headers)),
        };
        if let Some(principal) = known.as_ref().ok().filter(|p| p.user().is_none()) {
            // Before looking at the organization: anonymous callers learn nothing about it.
            remember(parts, principal);
            return Err(AccessError::Unauthenticated.into());
        }
        // An invalid name is a 404, but only for callers who may learn it (below).
        let org = org_param(parts, state).await;
        let asked = parts.uri.clone();
        // The principal and its access in one trip (see `blocking`): most requests are one
        // store lookup each, and hand-offs to the blocking pool cost more than the lookups.
        let (principal, access) = blocking(&state.store, Work::Short, move |store| {
            let principal = match known {
                Ok(p) => p,
                Err(credential) => principal_of(store, credential)?,
            };
            if principal.user().is_none() {
                // A token or session that did not check out: as anonymous.
                let denied: ApiError = AccessError::Unauthenticated.into();
                return Ok::<_, ApiError>((principal, Err(denied)));
            }
            let access = org.and_then(|org| authorize(store, &org, &principal, &asked));
            Ok((principal, access))
        })
        .await??;
        remember(parts, &principal);
        Ok(OrgAccess {
            access: access?,
            principal,
        })
    }
}

/// [`accounts::authorize`]; an organization unknown by this spelling but stored in another
/// case (names are unique ignoring case) is a redirect to the same address with the stored
/// spelling, for callers who may learn that it exists (any signed-in user: they would learn
/// it from the 403 of the stored spelling).
fn authorize(
    store: &dyn Accounts,
    org: &OrgName,
    principal: &Principal,
    asked: &axum::http::Uri,
) -> Result<Access, ApiError> {
    match accounts::authorize(store, org, principal) {
        Err(AccessError::UnknownOrg(_)) => {
            let stored = store.org_ignoring_case(org)?;
            match stored.and_then(|s| respelled(asked, org, &s)) {
                Some(to) => Err(ApiError::Moved(to)),
                None => Err(AccessError::UnknownOrg(org.clone()).into()),
            }
        }
        other => Ok(other?),
    }
}

/// `asked` (path and query) with its `/organizations/{org}` segment spelled `stored`; `None`
/// when it is already so spelled or has no such segment.
fn respelled(asked: &axum::http::Uri, org: &OrgName, stored: &OrgName) -> Option<String> {
    if org == stored {
        return None;
    }
    let path = asked.path();
    let segment = format!("/organizations/{org}");
    let at = path.find(&segment)?;
    let rest = &path[at + segment.len()..];
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let query = asked.query().map(|q| format!("?{q}")).unwrap_or_default();
    Some(format!(
        "{}/organizations/{stored}{rest}{query}",
        &path[..at]
    ))
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
