//! Signing in and out, the session cookie, and CSRF protection for forms.
//!
//! CSRF: the sign-in form uses a double-submit token (a random value in a short-lived cookie
//! that the form must echo). Forms of a signed-in user carry [`csrf_token_for`] the session —
//! a digest of the session's secret, which another site can neither read nor compute — and
//! their handlers call [`verify_csrf`] before changing anything:
//!
//! ```text
//! async fn save(principal: Principal, Form(form): Form<MyForm>) -> Result<Redirect, ApiError> {
//!     verify_csrf(&principal, &form.csrf)?;   // <input type="hidden" name="csrf" value="{{ layout.csrf }}">
//!     ...
//! }
//! ```

use askama::Template;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::hashing::{Busy, HashingPool};
use super::metrics::Metrics;
use super::templates::Layout;
use super::throttle::{ClientIp, LoginThrottle, Throttled};
use super::AppState;
use crate::accounts::{self, Principal, SessionId, SESSION_DAYS};
use crate::domain::Username;

pub const SESSION_COOKIE: &str = "hubstats_session";
/// The sign-in form's double-submit token.
pub const LOGIN_CSRF_COOKIE: &str = "hubstats_login_csrf";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

/// The CSRF token that forms of this session must carry.
pub fn csrf_token_for(session: &SessionId) -> String {
    hex::encode(Sha256::digest(format!(
        "hubstats csrf v1:{}",
        session.secret()
    )))
}

/// Checks a signed-in form's CSRF token: 403 unless the caller has a session and `submitted`
/// is its token.
pub fn verify_csrf(principal: &Principal, submitted: &str) -> Result<(), ApiError> {
    match principal.session() {
        Some(session) if accounts::secrets_equal(&csrf_token_for(session), submitted) => Ok(()),
        _ => Err(ApiError::Csrf),
    }
}

/// Where to go after signing in: `next` when it is a path on this site, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// Whether cookies must be `Secure`: configured, or the proxy in front says the client used TLS.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    state.config.secure_cookies || forwarded_https
}

fn cookie(name: &'static str, value: String, path: &'static str, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path(path)
        .secure(secure)
        .build()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn render(page: LoginPage) -> Result<Html<String>, ApiError> {
    page.render()
        .map(Html)
        .map_err(|e| ApiError::Internal(e.into()))
}

async fn login_form(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<NextQuery>,
) -> Result<Response, ApiError> {
    if principal.session().is_some() {
        // Already signed in: go where the sign-in would have led.
        return Ok(Redirect::to(&safe_next(q.next.as_deref())).into_response());
    }
    let csrf = match jar.get(LOGIN_CSRF_COOKIE) {
        Some(c) if !c.value().is_empty() => c.value().to_owned(),
        _ => accounts::random_secret(),
    };
    let jar = jar.add(cookie(
        LOGIN_CSRF_COOKIE,
        csrf.clone(),
        "/login",
        secure(&state, &headers),
    ));
    let page = LoginPage {
        layout: Layout::anonymous(),
        csrf,
        next: safe_next(q.next.as_deref()),
        username: String::new(),
        error: None,
    };
    Ok((jar, render(page)?).into_response())
}

#[derive(serde::Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// The sign-in form again, with an error message.
fn form_again(csrf: String, next: String, form: LoginForm, error: String) -> LoginPage {
    LoginPage {
        layout: Layout::anonymous(),
        csrf,
        next,
        username: form.username,
        error: Some(error),
    }
}

/// 429: the form again, saying when to retry, with `Retry-After`.
fn throttled(page: LoginPage, t: Throttled) -> Result<Response, ApiError> {
    let secs = t.retry_after_secs();
    let retry_after = [(header::RETRY_AFTER, secs.to_string())];
    Ok((StatusCode::TOO_MANY_REQUESTS, retry_after, render(page)?).into_response())
}

fn throttled_message(t: Throttled) -> String {
    let minutes = t.retry_after_secs().div_ceil(60);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Too many failed sign-in attempts. Try again in {minutes} {unit}.")
}

/// 503: every password-hashing slot is taken; the form again, with `Retry-After`.
fn busy(page: LoginPage) -> Result<Response, ApiError> {
    let retry_after = [(header::RETRY_AFTER, "1")];
    Ok((StatusCode::SERVICE_UNAVAILABLE, retry_after, render(page)?).into_response())
}

#[allow(clippy::too_many_arguments)] // an axum handler: one argument per extractor
async fn login(
    State(state): State<AppState>,
    Extension(throttle): Extension<Arc<LoginThrottle>>,
    Extension(hashing): Extension<Arc<HashingPool>>,
    Extension(metrics): Extension<Arc<Metrics>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let expected = jar
        .get(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !accounts::secrets_equal(&expected, &form.csrf) {
        return Err(ApiError::Csrf);
    }
    let next = safe_next(form.next.as_deref());
    let attempt = match throttle.begin(&form.username, ip) {
        Ok(attempt) => attempt,
        Err(t) => {
            metrics
                .logins_throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return throttled(form_again(expected, next, form, throttled_message(t)), t);
        }
    };
    let password = form.password.clone();
    let signed_in = match sign_in(&state, &hashing, &form.username, password).await {
        Err(SignInError::Busy) => {
            attempt.not_counted();
            metrics
                .logins_busy
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let error = "The server is busy signing other people in. Try again in a moment.";
            return busy(form_again(expected, next, form, error.to_owned()));
        }
        Err(SignInError::Api(e)) => return Err(e),
        Ok(signed_in) => signed_in,
    };
    let Some(session) = signed_in else {
        let error = "Wrong user name or password.".to_owned();
        let page = form_again(expected, next, form, error);
        return Ok((StatusCode::UNAUTHORIZED, render(page)?).into_response());
    };
    attempt.succeeded();
    let secure = secure(&state, &headers);
    let mut session_cookie = cookie(SESSION_COOKIE, session.secret().to_owned(), "/", secure);
    session_cookie.set_max_age(time::Duration::days(SESSION_DAYS));
    let jar = jar
        .remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/login"))
        .add(session_cookie);
    Ok((jar, Redirect::to(&next)).into_response())
}

enum SignInError {
    Busy,
    Api(ApiError),
}

impl<E: Into<ApiError>> From<E> for SignInError {
    fn from(e: E) -> Self {
        SignInError::Api(e.into())
    }
}

/// Checks the password in the hashing pool and starts a session; `None` when the name or
/// password is wrong.
async fn sign_in(
    state: &AppState,
    hashing: &HashingPool,
    username: &str,
    password: String,
) -> Result<Option<SessionId>, SignInError> {
    let Ok(user) = Username::parse(username.trim()) else {
        return Ok(None);
    };
    let store = state.store.clone();
    let session = hashing
        .run(move || {
            if !accounts::check_password(store.as_ref(), &user, &password)? {
                return Ok(None);
            }
            accounts::start_session(store.as_ref(), &user).map(Some)
        })
        .await
        .map_err(|Busy| SignInError::Busy)?;
    session.map_err(|e: accounts::AccountError| SignInError::Api(ApiError::Internal(e.into())))
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    principal: Principal,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    if let Some(session) = principal.session().cloned() {
        verify_csrf(&principal, &form.csrf)?;
        // A write: may wait for the writer.
        let work = super::blocking::Work::MayBeLong;
        super::blocking::blocking(&state.store, work, move |store| {
            accounts::end_session(store, &session)
        })
        .await??;
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok((jar, Redirect::to("/login")).into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_must_be_a_local_path() {
        let cases = [
            (
                Some("/organizations/acme/settings/publisher-analytics?period=all"),
                "/organizations/acme/settings/publisher-analytics?period=all",
            ),
            (Some("/"), "/"),
            (None, "/"),
            (Some(""), "/"),
            (Some("https://evil.example/"), "/"),
            (Some("//evil.example/x"), "/"),
            (Some("/\\evil.example"), "/"),
            (Some("evil"), "/"),
            (Some("/a\r\nSet-Cookie: x=y"), "/"),
        ];
        for (next, expected) in cases {
            assert_eq!(safe_next(next), expected, "{next:?}");
        }
    }
}
