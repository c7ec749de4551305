//! One log line per request, request ids, and the request metrics.
//!
//! [`observe`] is the outermost middleware. It gives every request an id (the caller's
//! `X-Request-Id` when it is short and plain, else a random one), returns it in the response's
//! `X-Request-Id`, runs the request inside a `request` span carrying the id (so an error logged
//! by a handler names it), and when the response body has been sent — or the client went away
//! — logs one line: method, route, path, status, latency, bytes, request id.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Extension;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use rand::Rng;
use tracing::Instrument;

use super::metrics::Metrics;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A caller-supplied id is kept when it is at most 64 letters, digits, `-`, `_` or `.`.
fn request_id(req: &Request) -> String {
    let given = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    match given {
        Some(id) => id.to_owned(),
        None => {
            let mut bytes = [0u8; 8];
            rand::rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
    }
}

/// The middleware (see the module docs).
pub async fn observe(
    Extension(metrics): Extension<Arc<Metrics>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(RequestId(id.clone()));
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("request", id = %id);
    let mut res = next.run(req).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let log = RequestLog {
        metrics,
        started,
        id,
        method,
        route,
        path,
        status: res.status().as_u16(),
        bytes: 0,
        complete: false,
    };
    res.map(|body| {
        Body::new(LoggedBody {
            inner: body,
            log: Some(log),
        })
    })
}

/// What is logged when the response is over; logs on drop so that a response whose client
/// went away is logged too (`complete=false`).
struct RequestLog {
    metrics: Arc<Metrics>,
    started: Instant,
    id: String,
    method: Method,
    route: String,
    path: String,
    status: u16,
    bytes: u64,
    complete: bool,
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        let latency = self.started.elapsed();
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.metrics
            .record(self.method.as_str(), &self.route, self.status, latency);
        tracing::info!(
            target: "hubstats::request",
            request_id = %self.id,
            method = %self.method,
            route = %self.route,
            path = %self.path,
            status = self.status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            bytes = self.bytes,
            complete = self.complete,
            "request"
        );
    }
}

/// A response body that counts what it sends and ends its request's [`RequestLog`].
struct LoggedBody {
    inner: Body,
    log: Option<RequestLog>,
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        // A body that ended without being polled to its end (hyper stops at the declared
        // length) was still sent whole.
        if let Some(log) = self.log.as_mut() {
            log.complete |= self.inner.is_end_stream();
        }
    }
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if let Some(log) = self.log.as_mut() {
                    log.bytes += len;
                }
            }
            Poll::Ready(None) => {
                if let Some(mut log) = self.log.take() {
                    log.complete = true;
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
