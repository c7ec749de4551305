//! The request timeout: every route but the CSV download answers within `request_timeout`
//! (see [`super::router_with`]), and the answer says whose wait it was.
//!
//! - The handler was waiting for the request's body (its last read of the body found nothing
//!   yet): the client is slow, 408 ([`ApiError::RequestTimeout`]), saying the body did not
//!   arrive. Nothing was done with a body that never arrived, so an ingest batch cut this way
//!   was not counted.
//! - Otherwise the server was: 503 with `Retry-After` and the message of a store that does
//!   not answer ([`ApiError::no_answer_in_time`]), exactly what an unreachable ClickHouse gets
//!   at once. A frozen one (a stopped process accepts connections and sends nothing) would
//!   otherwise hold the request until the ClickHouse client's own time-out, 120 s.
//!
//! tower-http's `TimeoutLayer` answered both with an empty 503 and no `Retry-After`.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};

use super::error::ApiError;

/// Middleware: `next` within `limit`, else the answer above.
pub async fn within(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let waiting = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| {
        Body::new(Watched {
            inner: body,
            waiting: Arc::clone(&waiting),
        })
    });
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) if waiting.load(Ordering::Acquire) => ApiError::RequestTimeout(format!(
            "the request body did not arrive within the request timeout ({} s); send it \
             at once, or in smaller parts",
            limit.as_secs_f64()
        ))
        .into_response(),
        Err(_) => ApiError::no_answer_in_time(limit).into_response(),
    }
}

/// A request body that records whether its reader is waiting for the client: its last poll
/// found no data yet.
struct Watched {
    inner: Body,
    waiting: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        self.waiting.store(polled.is_pending(), Ordering::Release);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{Request as HttpRequest, StatusCode};
    use axum::routing::{get, post};
    use axum::{middleware, Router};
    use futures_util::StreamExt;
    use tower::ServiceExt;

    use super::*;

    fn app(limit: Duration) -> Router {
        Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route(
                "/read-then-slow",
                post(|body: Body| async move {
                    let mut stream = body.into_data_stream();
                    while stream.next().await.is_some() {}
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route(
                "/read",
                post(|body: Body| async move {
                    let mut stream = body.into_data_stream();
                    while stream.next().await.is_some() {}
                    "read"
                }),
            )
            .layer(middleware::from_fn_with_state(limit, within))
    }

    /// A body that sends one chunk and then never ends.
    fn endless() -> Body {
        let first = futures_util::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("a")) });
        Body::from_stream(first.chain(futures_util::stream::pending()))
    }

    #[tokio::test]
    async fn a_slow_handler_gets_503_with_retry_after_a_missing_body_408() {
        let limit = Duration::from_millis(300);
        let res = app(limit)
            .oneshot(HttpRequest::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["retry-after"], "10");

        let res = app(limit)
            .oneshot(HttpRequest::post("/read").body(endless()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);

        // The body arrived; the wait after it is the server's.
        let res = app(limit)
            .oneshot(
                HttpRequest::post("/read-then-slow")
                    .body(Body::from("whole"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

        let res = app(limit)
            .oneshot(HttpRequest::post("/read").body(Body::from("x")).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}
