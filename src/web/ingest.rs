//! `POST /api/ingest`: request logs sent live, one batch per request.
//!
//! - `Authorization: Bearer <ingest key>` (`hubstats ingest-key create NAME`); user tokens and
//!   sessions are not ingest keys (401).
//! - `Content-Type: application/x-ndjson` (the `jsonl` format) or `text/csv` (`hf-csv`); any
//!   other type is a 415.
//! - `Idempotency-Key`: required, the client's name for the batch (see
//!   [`crate::ingest::IdempotencyKey`]); a retry answers `"duplicate": true` and counts nothing;
//!   the key with other content is a 422.
//! - `Content-Encoding`: none (or `identity`) or `gzip`, as log shippers send; any other is a
//!   415, a body that is not gzip data a 400.
//! - The body is read up to `ingest_max_body_bytes` (a `Content-Length` above it is refused
//!   before reading, a body that grows past it as soon as it does: 413), decoded (the limit
//!   holds for the decoded text too, so a small gzip bomb is a 413), then parsed and written
//!   on the blocking pool, all or nothing (a bad row: 400 naming line and field). The
//!   idempotency key is checked against the decoded text: a retry may be compressed
//!   differently.
//!
//! Memory stays bounded however many clients send, without letting slow senders hold up
//! others. While bodies arrive, what they hold is counted in bytes as it arrives
//! ([`ArrivingBodies`]: at most [`BODY_SLOTS`] times the limit in all); a body that would pass
//! that total is refused with 503 and `Retry-After: 1` rather than waiting, since the bodies
//! holding the room might themselves be waiting for more. A client trickling its body holds
//! only the bytes it has sent, and for at most the request timeout (then 408, see
//! [`super::deadline`]). Once a body has arrived it takes one of [`BODY_SLOTS`] slots for its
//! decoding and writing (a gzip body's text is at most the limit too), and batches are written
//! one at a time (the store has one writer anyway), which also makes the check of an
//! idempotency key and its recording atomic. Waiting for a slot is waiting for the server's
//! own work, never for a client.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::routing::post;
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::Semaphore;

use super::auth::bearer_token;
use super::error::ApiError;
use super::metrics::{IngestResult, Metrics};
use super::AppState;
use crate::accounts::{self, TOKEN_PREFIX};
use crate::domain::IngestKeyName;
use crate::ingest::{self, BatchError, Format, IdempotencyKey, IngestError, IngestReport};
use crate::store::StoreError;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Bodies decoded and written at once, and the bytes of bodies arriving at once in
/// `ingest_max_body_bytes` (each body is at most that).
pub const BODY_SLOTS: usize = 4;
static BODIES: Semaphore = Semaphore::const_new(BODY_SLOTS);
/// One batch written at a time.
static WRITER: Semaphore = Semaphore::const_new(1);

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/ingest", post(ingest_batch))
}

/// The bytes of ingest bodies being received, one count per server: at most [`BODY_SLOTS`]
/// times `ingest_max_body_bytes` at once (see the module docs).
pub struct ArrivingBodies {
    held: AtomicUsize,
    budget: usize,
}

impl ArrivingBodies {
    pub fn new(max_body_bytes: usize) -> Self {
        ArrivingBodies {
            held: AtomicUsize::new(0),
            budget: BODY_SLOTS.saturating_mul(max_body_bytes),
        }
    }

    /// A body's share, empty so far.
    fn share(self: &Arc<Self>) -> Held {
        Held {
            of: Arc::clone(self),
            bytes: 0,
        }
    }
}

/// The bytes one body holds of [`ArrivingBodies`], given back when dropped.
struct Held {
    of: Arc<ArrivingBodies>,
    bytes: usize,
}

impl Held {
    /// Room for `n` more bytes, if the total has it.
    fn take(&mut self, n: usize) -> bool {
        let budget = self.of.budget;
        let taken = (self.of.held).fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            now.checked_add(n).filter(|&after| after <= budget)
        });
        if taken.is_ok() {
            self.bytes += n;
        }
        taken.is_ok()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.of.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The answer to an accepted batch (also to its retries).
#[derive(Debug, Serialize)]
pub struct BatchView {
    /// Rows read (header and blank lines excluded).
    pub rows: u64,
    /// Model and dataset events among them, counted under the rules.
    pub counted: u64,
    /// The batch was counted before under this key: nothing changed.
    pub duplicate: bool,
    /// Events of days before the retention, not kept (only when some were; a retry's answer
    /// does not repeat it).
    #[serde(skip_serializing_if = "is_zero")]
    pub expired: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl From<&IngestReport> for BatchView {
    fn from(r: &IngestReport) -> Self {
        BatchView {
            rows: r.rows,
            counted: r.counted,
            duplicate: r.duplicate,
            expired: r.expired,
        }
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Ingest(IngestError::Invalid { .. })
            | BatchError::Ingest(IngestError::Store {
                source: StoreError::Invalid(_),
                ..
            }) => ApiError::BadRequest(e.to_string()),
            BatchError::KeyReused(_) => ApiError::Unprocessable(e.to_string()),
            BatchError::Ingest(e) => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

async fn ingest_batch(
    State(state): State<AppState>,
    Extension(metrics): Extension<Arc<Metrics>>,
    Extension(arriving): Extension<Arc<ArrivingBodies>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BatchView>, ApiError> {
    let answer = accept(&state, &arriving, &headers, body).await;
    match &answer {
        Ok(view) if view.duplicate => metrics.ingest.record(IngestResult::Duplicate, 0, 0),
        Ok(view) => metrics
            .ingest
            .record(IngestResult::Counted, view.rows, view.counted),
        Err(e) => metrics.ingest.record(result_of(e), 0, 0),
    }
    answer.map(Json)
}

fn result_of(e: &ApiError) -> IngestResult {
    match e {
        ApiError::BadRequest(_) => IngestResult::Invalid,
        ApiError::Unauthorized(_) => IngestResult::Unauthorized,
        ApiError::PayloadTooLarge(_) => IngestResult::TooLarge,
        ApiError::UnsupportedMediaType(_) => IngestResult::UnsupportedType,
        ApiError::Unprocessable(_) => IngestResult::KeyReused,
        _ => IngestResult::Error,
    }
}

async fn accept(
    state: &AppState,
    arriving: &Arc<ArrivingBodies>,
    headers: &HeaderMap,
    body: Body,
) -> Result<BatchView, ApiError> {
    let key_name = authenticate(state, headers).await?;
    let format = format_of(headers)?;
    let gzip = gzip_encoded(headers)?;
    let key = idempotency_key(headers)?;
    let limit = state.config.ingest_max_body_bytes;
    if content_length(headers).is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut held = arriving.share();
    let bytes = read_body(body, limit, &mut held).await?;
    // The body has arrived: from here on the batch waits only for the server's work.
    let buffering = BODIES.acquire().await.map_err(closed)?;
    // Decoded before waiting for the writer, so that decoding never holds up other batches.
    // The received bytes count until they are dropped: a gzip body's once decoded.
    let (bytes, held) = if gzip {
        let text = tokio::task::spawn_blocking(move || gunzip(&bytes, limit)).await??;
        drop(held);
        (text, None)
    } else {
        (bytes, Some(held))
    };
    let writing = WRITER.acquire().await.map_err(closed)?;
    let store = state.store.clone();
    let config = state.config.clone();
    let sender = key_name.clone();
    let report = tokio::task::spawn_blocking(move || {
        // Held until the batch is written, even if the client leaves before the answer.
        let _slots = (buffering, writing, held);
        let days = ingest::DayBounds::new(config.retention_days, config.reference_day());
        ingest::ingest_batch_within(
            store.as_ref(),
            &sender,
            &key,
            &bytes[..],
            format,
            &config.rules,
            days,
        )
        .map_err(ApiError::from)
    })
    .await??;
    tracing::info!(
        ingest_key = %key_name,
        rows = report.rows,
        counted = report.counted,
        new_events = report.new_events,
        duplicate = report.duplicate,
        "ingest batch"
    );
    Ok((&report).into())
}

/// The live ingest key the request presents, by name.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<IngestKeyName, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "send an ingest key: Authorization: Bearer <key> (hubstats ingest-key create NAME)"
                    .to_owned(),
            )
        })?;
    let lookup = presented.clone();
    let name =
        super::blocking::blocking(&state.store, super::blocking::Work::Short, move |store| {
            accounts::ingest_key_name(store, &lookup)
        })
        .await??;
    name.ok_or_else(|| {
        ApiError::Unauthorized(if presented.starts_with(TOKEN_PREFIX) {
            "an API token is not an ingest key (hubstats ingest-key create NAME)".to_owned()
        } else {
            "unknown or revoked ingest key".to_owned()
        })
    })
}

/// The log format the `Content-Type` names (parameters such as `charset` are ignored).
fn format_of(headers: &HeaderMap) -> Result<Format, ApiError> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-ndjson") {
        Ok(Format::Jsonl)
    } else if essence.eq_ignore_ascii_case("text/csv") {
        Ok(Format::HfCsv)
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {value:?} is not accepted: send application/x-ndjson (jsonl events) \
             or text/csv (Hugging Face request logs)"
        )))
    }
}

/// Whether the body is gzip data (`Content-Encoding: gzip`); refuses other encodings.
fn gzip_encoded(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text.is_empty() || text.eq_ignore_ascii_case("identity") {
        Ok(false)
    } else if text.eq_ignore_ascii_case("gzip") || text.eq_ignore_ascii_case("x-gzip") {
        Ok(true)
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding {value:?} is not accepted: send the body as it is or as gzip"
        )))
    }
}

/// The text of a gzip body (one or more members), refused once it passes `limit` bytes.
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut text)
        .map_err(|e| ApiError::BadRequest(format!("Content-Encoding gzip: {e}")))?;
    if text.len() > limit {
        return Err(too_large(limit));
    }
    Ok(text)
}

fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
    let bad = |problem: String| ApiError::BadRequest(format!("header Idempotency-Key: {problem}"));
    let value = headers.get(IDEMPOTENCY_KEY).ok_or_else(|| {
        bad(
            "missing (name each batch, e.g. with a UUID, and resend it unchanged on retries)"
                .to_owned(),
        )
    })?;
    let text = value.to_str().map_err(|_| bad("not ASCII".to_owned()))?;
    IdempotencyKey::parse(text).map_err(bad)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the batch is larger than {limit} bytes (ingest_max_body_bytes; decoded, if it is gzip): \
         split it into smaller batches"
    ))
}

fn closed(e: tokio::sync::AcquireError) -> ApiError {
    ApiError::Internal(anyhow::Error::new(e).context("waiting for an ingest slot"))
}

/// The whole body, refused as soon as it passes `limit` bytes, or when the bodies arriving
/// at once would pass their total (`held` counts this one's bytes).
async fn read_body(body: Body, limit: usize, held: &mut Held) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))?;
        if bytes.len().saturating_add(chunk.len()) > limit {
            return Err(too_large(limit));
        }
        if !held.take(chunk.len()) {
            return Err(ApiError::Busy(
                "the server is receiving as many batches as it holds at once; send this one \
                 again in a moment (under the same Idempotency-Key)"
                    .to_owned(),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arriving_bodies_share_their_total_and_give_it_back() {
        let arriving = Arc::new(ArrivingBodies::new(10));
        let mut a = arriving.share();
        let mut b = arriving.share();
        assert!(a.take(25));
        assert!(b.take(10));
        assert!(!b.take(6), "40 bytes in all, 41 asked");
        assert!(b.take(5));
        assert!(!a.take(1));
        drop(a);
        assert_eq!(arriving.held.load(Ordering::Relaxed), 15);
        let mut c = arriving.share();
        assert!(c.take(25));
        drop((b, c));
        assert_eq!(arriving.held.load(Ordering::Relaxed), 0);
    }
}
