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
//! At most [`ExportSlots`] exports work at once (half the cores, at least one); further
//! downloads wait for a slot before their export starts. An export is CPU-bound for seconds,
//! and a download holds its connection for as long, so without the bound a mix of downloads and
//! page views ends with most connections exporting and every page waiting for a core.
//!
//! A slot bounds work, not downloads: an export holds it only while it makes CSV. When the
//! buffer between the export and the connection is full (the client has not taken what was
//! made), the export gives its slot back while it waits, and takes one again, behind the
//! downloads already waiting, once the client has made room. An export that fits in the buffer
//! is done under its slot whatever the client's speed, and a client reading a large one slowly
//! costs the other downloads nothing (it held the only slot of a 2-core server for as long as
//! it read, and another organization's 289 KB export waited 48 s behind a 1 KiB-per-5-s reader).
//! A client that leaves the next chunk untaken for `idle_timeout` (60 s; at least
//! [`CHUNK_BYTES`] a minute, then) ends its export: the body ends with an error, so the client
//! sees an incomplete transfer, and the export's thread and store reads end with it (nginx's
//! `send_timeout` bounds a stalled download the same way).

use std::io;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::{stream, StreamExt};
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::auth::OrgAccess;
use super::error::{error_chain, ApiError};
use super::params::{self, Params};
use super::priority::spawn_low_priority;
use super::AppState;
use crate::breakdown::export::write_breakdown_filtered;
use crate::domain::{DayRange, OrgName, RepoKey};
use crate::store::{DailyFilter, SharedStore};

/// Bytes per chunk sent to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the export and the connection (so at most ~1 MiB per download).
const CHANNEL_CHUNKS: usize = 16;

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
    fn parse(params: &Params, state: &AppState, org: &OrgName) -> Result<Selection, ApiError> {
        if !params.selects_a_view() {
            return Ok(Selection::default());
        }
        let period = params::period(params, state.config.reference_day())?;
        let query = params::table_query(params)?;
        let exact = params.repo();
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
    params: Params,
) -> Result<Response, ApiError> {
    let slot = Arc::clone(&slots.0).acquire_owned().await.map_err(|e| {
        ApiError::Internal(anyhow::Error::new(e).context("waiting for an export slot"))
    })?;
    let selection = {
        let (state, org) = (state.clone(), access.org.clone());
        tokio::task::spawn_blocking(move || Selection::parse(&params, &state, &org)).await??
    };
    let view = selection.is_view();
    let (tx, mut rx) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let failure = Arc::new(Failure::default());
    let out = ChannelWriter {
        tx,
        buf: Vec::with_capacity(CHUNK_BYTES),
        client_gone: false,
        stalled: false,
        slot: Slot {
            slots: Arc::clone(&slots.0),
            held: Some(slot),
        },
        stall: state.config.limits.idle_timeout,
        runtime: Handle::current(),
    };
    let org = access.org.clone();
    let store = state.store.clone();
    let failed = Arc::clone(&failure);
    spawn_low_priority(format!("hubstats-export-{org}"), move || {
        export(store, org, selection, out, &failed);
    })
    .map_err(|e| anyhow::Error::new(e).context("starting a CSV export"))?;
    // Wait for the first chunk, so an export that fails before writing anything gets an error
    // status (503 for a store that does not answer) rather than a truncated 200.
    let first = match rx.recv().await {
        Some(bytes) => bytes,
        None => match failure.take() {
            Some(e) => return Err(e.context("exporting the breakdown CSV").into()),
            None => Bytes::new(),
        },
    };
    // The rest, or an error as soon as the export has failed (buffered chunks are dropped:
    // the file is incomplete either way, and a stalled client need not be fed them).
    let mut ended = false;
    let rest = stream::poll_fn(move |cx| {
        if ended {
            return Poll::Ready(None);
        }
        let next = if failure.happened() {
            None
        } else {
            std::task::ready!(rx.poll_recv(cx))
        };
        Poll::Ready(match next {
            Some(bytes) => Some(Ok(bytes)),
            None if failure.happened() => {
                ended = true;
                Some(Err(io::Error::other("the export ended early")))
            }
            None => None,
        })
    });
    let body = stream::once(async move { Ok::<_, io::Error>(first) }).chain(rest);
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

/// Why an export ended before its end, for the connection's side: set before the export
/// drops its end of the channel.
#[derive(Default)]
struct Failure(Mutex<Option<anyhow::Error>>);

impl Failure {
    fn set(&self, e: anyhow::Error) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
    }

    fn happened(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    fn take(&self) -> Option<anyhow::Error> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Runs the export into the channel; a failure is logged and ends the body with an error
/// ([`Failure`]), so the client sees an incomplete transfer rather than a short file that
/// looks whole. The writer, and with it the slot, goes when the export ends.
fn export(
    store: SharedStore,
    org: OrgName,
    selection: Selection,
    mut out: ChannelWriter,
    failure: &Failure,
) {
    let filter = DailyFilter {
        repos: selection.repos.as_deref(),
        range: selection.range,
    };
    let result = write_breakdown_filtered(store.as_ref(), &org, filter, &mut out)
        .map_err(anyhow::Error::new)
        .and_then(|rows| out.send().map(|()| rows).map_err(anyhow::Error::new));
    match result {
        Ok(rows) => tracing::debug!(%org, rows, "breakdown CSV exported"),
        Err(e) if out.client_gone => {
            tracing::debug!(%org, error = %error_chain(e.as_ref()), "client left during CSV export")
        }
        Err(e) if out.stalled => {
            tracing::info!(%org, error = %error_chain(e.as_ref()), "breakdown CSV export ended: the client stopped taking it");
            failure.set(e);
        }
        Err(e) => {
            tracing::error!(%org, error = %error_chain(e.as_ref()), "breakdown CSV export failed");
            failure.set(e);
        }
    }
}

/// The export slot of one export: held while it works, given back while it waits.
struct Slot {
    slots: Arc<Semaphore>,
    held: Option<OwnedSemaphorePermit>,
}

/// An `io::Write` that sends what it is given to a channel in chunks of [`CHUNK_BYTES`].
/// While the channel is full it waits for the client without its export slot, at most
/// `stall` (then the write fails with `TimedOut`), and takes a slot again before going on.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
    client_gone: bool,
    /// The client made no room for a chunk within `stall`.
    stalled: bool,
    slot: Slot,
    stall: Duration,
    /// The server's runtime, whose timer and semaphore the export's thread waits on.
    runtime: Handle,
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
        let chunk = match self.tx.try_send(chunk) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(self.gone()),
            Err(TrySendError::Full(chunk)) => chunk,
        };
        // The client has not taken what is buffered: waiting for it is no work, so the slot
        // goes to the next export meanwhile.
        self.slot.held = None;
        // (The timer is made inside the future: this thread is not the runtime's.)
        let (tx, stall) = (&self.tx, self.stall);
        let sent =
            (self.runtime).block_on(async { tokio::time::timeout(stall, tx.send(chunk)).await });
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(self.gone()),
            Err(_) => {
                self.stalled = true;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the client did not take the next {} KiB within {} s (idle_timeout)",
                        CHUNK_BYTES / 1024,
                        self.stall.as_secs_f64()
                    ),
                ));
            }
        }
        let slot = (self.runtime).block_on(Arc::clone(&self.slot.slots).acquire_owned());
        self.slot.held = Some(slot.map_err(io::Error::other)?);
        Ok(())
    }

    fn gone(&mut self) -> io::Error {
        self.client_gone = true;
        io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the client closed the connection",
        )
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

    /// A runtime for the writer to wait on, as the server's is.
    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap()
    }

    /// A writer into a channel of `capacity` chunks, holding the one slot of `slots`.
    fn writer_with(
        runtime: &tokio::runtime::Runtime,
        capacity: usize,
        slots: &Arc<Semaphore>,
        stall: Duration,
    ) -> (ChannelWriter, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(capacity);
        let held = Arc::clone(slots).try_acquire_owned().unwrap();
        let writer = ChannelWriter {
            tx,
            buf: Vec::new(),
            client_gone: false,
            stalled: false,
            slot: Slot {
                slots: Arc::clone(slots),
                held: Some(held),
            },
            stall,
            runtime: runtime.handle().clone(),
        };
        (writer, rx)
    }

    fn writer(
        capacity: usize,
    ) -> (
        ChannelWriter,
        mpsc::Receiver<Bytes>,
        tokio::runtime::Runtime,
    ) {
        let runtime = runtime();
        let slots = Arc::new(Semaphore::new(1));
        let (w, rx) = writer_with(&runtime, capacity, &slots, Duration::from_secs(60));
        (w, rx, runtime)
    }

    /// Waits up to 10 s for `slots` to have `n` permits free.
    fn until_free(slots: &Semaphore, n: usize) -> bool {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while slots.available_permits() != n {
            if std::time::Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    #[test]
    fn sends_full_chunks_then_the_rest() {
        let (mut w, mut rx, _runtime) = writer(8);
        let data: Vec<u8> = (0..CHUNK_BYTES * 2 + 10).map(|i| (i % 251) as u8).collect();
        for piece in data.chunks(1000) {
            w.write_all(piece).unwrap();
        }
        w.send().unwrap();
        drop(w);
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
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
        let (mut w, rx, _runtime) = writer(1);
        drop(rx);
        let err = w.write_all(&vec![b'x'; CHUNK_BYTES]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(w.client_gone);
    }

    /// Regression: an export waiting for a slow client kept its slot, so one slow reader held
    /// up every other download on a server with one slot.
    #[test]
    fn the_slot_is_given_back_while_the_client_is_behind_and_taken_again() {
        let runtime = runtime();
        let slots = Arc::new(Semaphore::new(1));
        let (mut w, mut rx) = writer_with(&runtime, 1, &slots, Duration::from_secs(60));
        let exporting = std::thread::spawn(move || {
            for _ in 0..2 {
                w.write_all(&vec![b'x'; CHUNK_BYTES]).unwrap();
            }
            w
        });
        assert!(until_free(&slots, 1), "the slot was kept while waiting");
        // Another export takes the slot; the first waits for it once its client made room.
        let other = Arc::clone(&slots).try_acquire_owned().unwrap();
        assert_eq!(rx.blocking_recv().map(|c| c.len()), Some(CHUNK_BYTES));
        std::thread::sleep(Duration::from_millis(100));
        assert!(!exporting.is_finished(), "went on without a slot");
        drop(other);
        let w = exporting.join().unwrap();
        assert!(w.slot.held.is_some());
        assert_eq!(slots.available_permits(), 0);
    }

    #[test]
    fn a_client_that_takes_nothing_ends_the_export_without_its_slot() {
        let runtime = runtime();
        let slots = Arc::new(Semaphore::new(1));
        let stall = Duration::from_millis(200);
        let (mut w, _rx) = writer_with(&runtime, 1, &slots, stall);
        w.write_all(&vec![b'x'; CHUNK_BYTES]).unwrap();
        let started = std::time::Instant::now();
        let err = w.write_all(&vec![b'x'; CHUNK_BYTES]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= stall);
        assert!(w.stalled && !w.client_gone);
        assert_eq!(slots.available_permits(), 1);
    }
}
