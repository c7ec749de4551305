//! `GET /organizations/{org}/settings/publisher-analytics/download-breakdown`: the breakdown CSV,
//! streamed. The export runs on a thread of its own and writes into a bounded channel, so memory
//! stays flat however many rows there are, and a slow client slows the export down. The thread
//! runs at the lowest scheduling priority ([`super::priority`]): an export is seconds of CPU
//! that nobody watches, while page and API requests are waited for, so on a busy machine they
//! get the cores first and the download takes a little longer.
//!
//! Without query parameters it is the full, Hub-compatible export. With the dashboard's
//! `period` (`from`, `to`), `q` and `type`, or `repo` (a full name, exactly), it is the "CSV of
//! this view": the same columns and order, only the matching repositories and the days in the
//! period (`total` stays the all-time total).
//!
//! At most [`ExportSlots`] exports run at once (half the cores, at least one); further downloads
//! wait for a slot before their export starts. An export is CPU-bound for seconds, and a
//! download holds its connection for as long, so without the bound a mix of downloads and page
//! views ends with most connections exporting and every page waiting for a core.

use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{stream, StreamExt};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::sync::Semaphore;
use tokio_stream::wrappers::ReceiverStream;

use super::auth::OrgAccess;
use super::error::{error_chain, ApiError};
use super::params::{self, RawParams};
use super::priority::spawn_low_priority;
use super::AppState;
use crate::breakdown::export::write_breakdown_filtered;
use crate::domain::{DayRange, OrgName, RepoKey};
use crate::store::{DailyFilter, SharedStore};

/// Bytes per chunk sent to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the export and the connection (so at most ~1 MiB per download).
const CHANNEL_CHUNKS: usize = 16;

type Chunk = io::Result<Bytes>;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/organizations/{org}/settings/publisher-analytics/download-breakdown",
        get(download),
    )
}

/// Which rows of the breakdown to export: all, or a view's.
#[derive(Default)]
struct Selection {
    /// Only these repositories (`None`: all).
    repos: Option<Vec<RepoKey>>,
    /// Only these days (`None`: all).
    range: Option<DayRange>,
}

impl Selection {
    /// The view's rows; every parameter is optional and empty values count as absent.
    fn parse(raw: &RawParams, state: &AppState, org: &OrgName) -> Result<Selection, ApiError> {
        let given = |name: &str| raw.get(name).is_some_and(|v| !v.trim().is_empty());
        if !["period", "q", "type", "repo"].into_iter().any(given) {
            return Ok(Selection::default());
        }
        let period = params::period(raw, state.config.reference_day())?;
        let query = params::table_query(raw)?;
        let exact = raw.get("repo").map(|v| v.trim()).filter(|v| !v.is_empty());
        let matches = query.matcher();
        let repos = state
            .store
            .repos(org)?
            .iter()
            .filter(|r| matches(&r.key) && exact.is_none_or(|e| r.key.name.as_str() == e))
            .map(|r| r.key.clone())
            .collect();
        Ok(Selection {
            repos: Some(repos),
            range: period.range,
        })
    }

    fn is_view(&self) -> bool {
        self.repos.is_some() || self.range.is_some()
    }
}

/// How many CSV exports may run at once (see the module docs).
pub struct ExportSlots(Arc<Semaphore>);

impl Default for ExportSlots {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ExportSlots::new(cores / 2)
    }
}

impl ExportSlots {
    pub fn new(slots: usize) -> Self {
        ExportSlots(Arc::new(Semaphore::new(slots.max(1))))
    }
}

async fn download(
    State(state): State<AppState>,
    Extension(slots): Extension<Arc<ExportSlots>>,
    OrgAccess { access, .. }: OrgAccess,
    Query(raw): Query<RawParams>,
) -> Result<Response, ApiError> {
    let slot = Arc::clone(&slots.0).acquire_owned().await.map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("waiting for an export slot"))
    })?;
    let selection = {
        let (state, org) = (state.clone(), access.org.clone());
        tokio::task::spawn_blocking(move || Selection::parse(&raw, &state, &org)).await??
    };
    let view = selection.is_view();
    let (tx, mut rx) = mpsc::channel::<Chunk>(CHANNEL_CHUNKS);
    let org = access.org.clone();
    let store = state.store.clone();
    spawn_low_priority(format!("hubstats-export-{org}"), move || {
        export(store, org, selection, tx);
        drop(slot);
    })
    .map_err(|e| anyhow::Error::new(e).context("starting a CSV export"))?;
    // Wait for the first chunk, so an export that fails before writing anything gets an error
    // status rather than a truncated 200.
    let first = match rx.recv().await {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => {
            return Err(anyhow::Error::new(e)
                .context("exporting the breakdown CSV")
                .into())
        }
        None => Bytes::new(),
    };
    let body =
        stream::once(async move { Ok::<_, io::Error>(first) }).chain(ReceiverStream::new(rx));
    let disposition = format!(
        "attachment; filename=\"{}-download-breakdown{}.csv\"",
        access.org,
        if view { "-view" } else { "" }
    );
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, Body::from_stream(body)).into_response())
}

/// Runs the export into the channel; a failure is logged and ends the body with an error, so
/// the client sees an incomplete transfer rather than a short file that looks whole.
fn export(store: SharedStore, org: OrgName, selection: Selection, tx: mpsc::Sender<Chunk>) {
    let mut out = ChannelWriter {
        tx: tx.clone(),
        buf: Vec::with_capacity(CHUNK_BYTES),
        client_gone: false,
    };
    let filter = DailyFilter {
        repos: selection.repos.as_deref(),
        range: selection.range,
    };
    let result = write_breakdown_filtered(store.as_ref(), &org, filter, &mut out)
        .map_err(|e| error_chain(&e));
    let result = result.and_then(|rows| out.send().map(|()| rows).map_err(|e| e.to_string()));
    match result {
        Ok(rows) => tracing::debug!(%org, rows, "breakdown CSV exported"),
        Err(e) if out.client_gone => {
            tracing::debug!(%org, error = %e, "client left during CSV export")
        }
        Err(e) => {
            tracing::error!(%org, error = %e, "breakdown CSV export failed");
            let _ = tx.blocking_send(Err(io::Error::other("the export failed")));
        }
    }
}

/// An `io::Write` that sends what it is given to a channel in chunks of [`CHUNK_BYTES`],
/// blocking while the channel is full.
struct ChannelWriter {
    tx: mpsc::Sender<Chunk>,
    buf: Vec<u8>,
    client_gone: bool,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            self.client_gone = true;
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client closed the connection",
            )
        })
    }
}

impl io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks go out when full or at the end; flushing early would only make them smaller.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn writer(capacity: usize) -> (ChannelWriter, mpsc::Receiver<Chunk>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            ChannelWriter {
                tx,
                buf: Vec::new(),
                client_gone: false,
            },
            rx,
        )
    }

    #[test]
    fn sends_full_chunks_then_the_rest() {
        let (mut w, mut rx) = writer(8);
        let data: Vec<u8> = (0..CHUNK_BYTES * 2 + 10).map(|i| (i % 251) as u8).collect();
        for piece in data.chunks(1000) {
            w.write_all(piece).unwrap();
        }
        w.send().unwrap();
        drop(w);
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            let chunk = chunk.unwrap();
            sizes.push(chunk.len());
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, data);
        assert!(
            sizes[..sizes.len() - 1].iter().all(|&s| s >= CHUNK_BYTES),
            "{sizes:?}"
        );
    }

    #[test]
    fn a_departed_client_stops_the_writer() {
        let (mut w, rx) = writer(1);
        drop(rx);
        let err = w.write_all(&vec![b'x'; CHUNK_BYTES]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(w.client_gone);
    }
}
