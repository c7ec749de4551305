//! The one error type of the web layer, and how errors reach the client.
//!
//! A handler returns `Result<_, ApiError>`. A 4xx says what was wrong; a 5xx is logged in full
//! (with its source chain) and shows only a generic message. [`ApiError::into_response`] builds
//! a JSON body `{"error": "..."}`; the [`render_errors`] middleware turns it into a small HTML
//! page when the client is a browser (it asks for `text/html`) and the path is not under
//! `/api/`. Scripts (`curl`, API clients) therefore always get JSON, also from the CSV endpoint.
//!
//! A store that does not answer ([`StoreError::Unavailable`], wherever it is wrapped) is a 503
//! with `Retry-After` and a message saying so, not a 500: nothing is wrong with the request,
//! and the same request succeeds once the store is back. A request that does not finish
//! within the request timeout is answered the same way ([`ApiError::no_answer_in_time`]): a
//! store that accepts connections but does not answer (a frozen server) is the usual cause.

use std::error::Error as StdError;
use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::observe::RequestId;
use super::templates::Layout;
use crate::accounts::{AccessError, Principal};
use crate::store::{Outage, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("the form has expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// Credentials other than a user's: an ingest key (401, with the reason).
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed but refused as a whole (an idempotency key reused for other content).
    #[error("{0}")]
    Unprocessable(String),
    /// The request's body did not arrive within the request timeout (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// The server has no room for the request at the moment (503 with a short `Retry-After`;
    /// the message says what is full).
    #[error("{0}")]
    Busy(String),
    /// The resource is at another address (`Location`): an organization's path in another
    /// case than its stored name (308, so the method and body are kept).
    #[error("moved to {0}")]
    Moved(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(anyhow::Error::new(e).context("a blocking task failed"))
    }
}

impl ApiError {
    /// The answer to a request that did not finish within the request timeout, `limit`:
    /// the answer to a store that does not answer. A store that refuses connections fails
    /// at once, but one that accepts them and sends nothing (a stopped process, a network
    /// that drops packets) holds the request until its client's own time-out, minutes later;
    /// the request timeout ends the wait, and the client should be told the same thing.
    pub fn no_answer_in_time(limit: std::time::Duration) -> Self {
        let outage = Outage(format!(
            "the request did not finish within the request timeout ({} s); a store that \
             does not answer is the usual cause",
            limit.as_secs_f64()
        ));
        ApiError::Internal(anyhow::Error::new(StoreError::Unavailable(outage)))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Moved(_) => StatusCode::PERMANENT_REDIRECT,
            ApiError::Access(e) => match e {
                AccessError::Unauthenticated => StatusCode::UNAUTHORIZED,
                AccessError::UnknownOrg(_) => StatusCode::NOT_FOUND,
                AccessError::NotMember(_) | AccessError::NotPaid(_) => StatusCode::FORBIDDEN,
                AccessError::Store(e) if StoreError::is_unavailable(e) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                AccessError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Internal(e) if StoreError::is_unavailable(e.as_ref()) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `Retry-After` of a 503 for a store that does not answer, in seconds.
const STORE_RETRY_AFTER: &str = "10";
/// `Retry-After` of a 503 for a server that is busy ([`ApiError::Busy`]), in seconds.
const BUSY_RETRY_AFTER: &str = "1";

/// What [`render_errors`] needs to re-render an error for a browser.
#[derive(Debug, Clone)]
struct ErrorInfo {
    message: String,
}

/// The error and its sources, `: `-separated, for logs.
pub fn error_chain(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Moved(to) = &self {
            return axum::response::Redirect::permanent(to).into_response();
        }
        let status = self.status();
        let busy = matches!(self, ApiError::Busy(_));
        let message = if busy {
            tracing::warn!(error = %self, "request refused: the server is busy");
            self.to_string()
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %error_chain(&self), "request failed: the store is unavailable");
            "the database is not answering at the moment; try again in a few seconds (the details \
             are in the server log under the request id)"
                .to_owned()
        } else if status.is_server_error() {
            tracing::error!(error = %error_chain(&self), "request failed");
            "internal server error; the details are in the server log under the request id"
                .to_owned()
        } else {
            self.to_string()
        };
        let body = serde_json::json!({ "error": message });
        let mut res = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let after = if busy {
                BUSY_RETRY_AFTER
            } else {
                STORE_RETRY_AFTER
            };
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(after));
        }
        res.extensions_mut().insert(ErrorInfo { message });
        res
    }
}

/// The headers of an error response that its re-rendered form keeps.
fn kept_headers(from: &Response, to: &mut Response) {
    for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(value) = from.headers().get(&name) {
            to.headers_mut().insert(name, value.clone());
        }
    }
}

/// Whether the client is a browser that wants a page rather than JSON.
pub(super) fn wants_html(path: &str, headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    accepts_html && !path.starts_with("/api/")
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    reason: &'static str,
    message: String,
    /// For a 401: where the sign-in link returns to.
    sign_in_next: Option<String>,
    /// For a 5xx: the id under which the server logged the details.
    request_id: Option<String>,
}

/// An error message as a sentence for a page: capital first letter, closing full stop.
fn as_sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Where the `Principal` extractor leaves the caller it found, so an error page can show who
/// is signed in without checking the credentials again.
#[derive(Clone, Default)]
pub(super) struct PrincipalSlot(pub(super) Arc<OnceLock<Principal>>);

/// Middleware: re-renders [`ApiError`] responses as HTML pages for browsers; a 5xx (page or
/// JSON) names the request id that the log line carries.
pub async fn render_errors(mut req: Request, next: Next) -> Response {
    let html = wants_html(req.uri().path(), req.headers());
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let slot = PrincipalSlot::default();
    req.extensions_mut().insert(slot.clone());
    let res = next.run(req).await;
    let Some(info) = res.extensions().get::<ErrorInfo>().cloned() else {
        return res;
    };
    let status = res.status();
    let request_id = request_id.filter(|_| status.is_server_error());
    if !html {
        return match request_id {
            Some(id) => {
                let body = serde_json::json!({ "error": info.message, "request_id": id });
                let mut json = (status, axum::Json(body)).into_response();
                kept_headers(&res, &mut json);
                json
            }
            None => res,
        };
    }
    let page = ErrorPage {
        layout: slot
            .0
            .get()
            .map(Layout::for_principal)
            .unwrap_or_else(Layout::anonymous),
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message: as_sentence(&info.message),
        sign_in_next: (status == StatusCode::UNAUTHORIZED).then_some(path_and_query),
        request_id,
    };
    match page.render() {
        Ok(body) => {
            let mut page = (status, Html(body)).into_response();
            kept_headers(&res, &mut page);
            page
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page");
            res
        }
    }
}
