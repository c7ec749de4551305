//! What a browser gets instead of a bare error: signed out, the sign-in form (which brings it
//! back to the page it asked for); at a path no route serves, the styled 404 page. Scripts and
//! the API keep their statuses (401 with `WWW-Authenticate`, JSON 404).

use axum::extract::Request;
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::{wants_html, ApiError};
use super::params::percent_encode;

/// The fallback route: any path no route serves (rendered like every other error).
pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("there is no page at {}", uri.path()))
}

/// Middleware (inside [`super::error::render_errors`]): a browser's 401 for a page it asked
/// for (GET or HEAD; a credentials challenge, i.e. with `WWW-Authenticate`) becomes a redirect
/// to `/login?next=<that page>`. The sign-in form's own answer to a wrong password stays as it
/// is, whatever its status.
pub async fn sign_in_redirect(req: Request, next: Next) -> Response {
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    let html = reading && wants_html(req.uri().path(), req.headers());
    let asked = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let res = next.run(req).await;
    let challenge = res.headers().contains_key(header::WWW_AUTHENTICATE);
    if !html || res.status() != StatusCode::UNAUTHORIZED || !challenge {
        return res;
    }
    let next = percent_encode(&asked).replace("%2F", "/");
    Redirect::to(&format!("/login?next={next}")).into_response()
}
