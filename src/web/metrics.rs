//! `/metrics` (Prometheus text format) and `/readyz`.
//!
//! A small hand-written registry rather than the `prometheus` crate: the service exports a
//! handful of counters, gauges and one histogram family, and the text format is a few lines of
//! code; the crate would add protobuf and a global registry that tests would share.
//!
//! `/metrics` answers only clients whose address is in `metrics_allow` (after
//! `trusted_proxies`), or requests with `Authorization: Bearer <metrics_token>`; others get 403.
//! With neither configured nobody can read it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::throttle::ClientIp;
use super::AppState;
use crate::domain::OrgName;
use crate::store::{CountsStats, IndexMemory, SourceInfo};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (bound, n) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if secs <= *bound {
                *n += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// The service's counters; one per server, shared by every request.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    pub in_flight: AtomicI64,
    pub connections_open: AtomicI64,
    pub connections_total: AtomicU64,
    pub logins_busy: AtomicU64,
    pub logins_throttled: AtomicU64,
    /// The store file, whose size `/metrics` reports (none for in-memory stores).
    store_path: Option<String>,
    /// What `POST /api/ingest` did.
    pub ingest: IngestMetrics,
}

/// How a `POST /api/ingest` request ended: the `result` label of
/// `hubstats_ingest_batches_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestResult {
    Counted,
    Duplicate,
    Invalid,
    Unauthorized,
    TooLarge,
    UnsupportedType,
    KeyReused,
    Error,
}

impl IngestResult {
    const ALL: [IngestResult; 8] = [
        IngestResult::Counted,
        IngestResult::Duplicate,
        IngestResult::Invalid,
        IngestResult::Unauthorized,
        IngestResult::TooLarge,
        IngestResult::UnsupportedType,
        IngestResult::KeyReused,
        IngestResult::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            IngestResult::Counted => "counted",
            IngestResult::Duplicate => "duplicate",
            IngestResult::Invalid => "invalid",
            IngestResult::Unauthorized => "unauthorized",
            IngestResult::TooLarge => "too_large",
            IngestResult::UnsupportedType => "unsupported_type",
            IngestResult::KeyReused => "key_reused",
            IngestResult::Error => "error",
        }
    }
}

/// Batches by result (every result is exported, from 0), and the rows and model or dataset
/// events of the batches that were counted (retries excluded).
#[derive(Default)]
pub struct IngestMetrics {
    batches: [AtomicU64; IngestResult::ALL.len()],
    rows: AtomicU64,
    events: AtomicU64,
}

/// Adds `n` to a counter, stopping at `u64::MAX` rather than wrapping.
fn add_saturating(counter: &AtomicU64, n: u64) {
    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_add(n))
    });
}

impl IngestMetrics {
    /// Records one request; `rows` and `events` count only for [`IngestResult::Counted`].
    pub fn record(&self, result: IngestResult, rows: u64, events: u64) {
        add_saturating(&self.batches[result as usize], 1);
        if result == IngestResult::Counted {
            add_saturating(&self.rows, rows);
            add_saturating(&self.events, events);
        }
    }

    fn render(&self, out: &mut String) {
        let name = "hubstats_ingest_batches_total";
        let _ = writeln!(
            out,
            "# HELP {name} Batches sent to POST /api/ingest, by result.\n# TYPE {name} counter"
        );
        for result in IngestResult::ALL {
            let n = self.batches[result as usize].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{result=\"{}\"}} {n}", result.label());
        }
        for (name, help, counter) in [
            (
                "hubstats_ingest_rows_total",
                "Rows read from counted ingest batches.",
                &self.rows,
            ),
            (
                "hubstats_ingest_events_total",
                "Model and dataset events in counted ingest batches.",
                &self.events,
            ),
        ] {
            let n = counter.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {n}"
            );
        }
    }
}

impl Metrics {
    pub fn with_store_path(path: &str) -> Self {
        Metrics {
            store_path: Some(path.to_owned()),
            ..Metrics::default()
        }
    }

    /// Records a finished request: `route` is the matched route pattern (never the raw path,
    /// so the number of series stays bounded).
    pub fn record(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        drop(requests);
        let mut latency_map = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        latency_map
            .entry(route.to_owned())
            .or_default()
            .observe(latency.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric, plus the store's size on disk.
    pub fn render(&self, store_bytes: Option<u64>) -> String {
        let mut out = String::new();
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        self.ingest.render(&mut out);
        let gauges = [
            (
                "hubstats_http_requests_in_flight",
                "Requests being served.",
                "gauge",
                self.in_flight.load(Ordering::Relaxed).to_string(),
            ),
            (
                "hubstats_connections_open",
                "Open client connections.",
                "gauge",
                self.connections_open.load(Ordering::Relaxed).to_string(),
            ),
            (
                "hubstats_connections_total",
                "Client connections accepted.",
                "counter",
                self.connections_total.load(Ordering::Relaxed).to_string(),
            ),
            (
                "hubstats_login_busy_total",
                "Sign-ins refused with 503 because every password-hashing slot was taken.",
                "counter",
                self.logins_busy.load(Ordering::Relaxed).to_string(),
            ),
            (
                "hubstats_login_throttled_total",
                "Sign-ins refused with 429 by the sign-in throttle.",
                "counter",
                self.logins_throttled.load(Ordering::Relaxed).to_string(),
            ),
        ];
        for (name, help, kind, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        if let Some(bytes) = store_bytes {
            let name = "hubstats_store_bytes";
            let _ = writeln!(
                out,
                "# HELP {name} Size of the store files on disk (database and write-ahead log).\n# TYPE {name} gauge\n{name} {bytes}"
            );
        }
        out
    }

    fn render_requests(&self, out: &mut String) {
        let name = "hubstats_http_requests_total";
        let _ = writeln!(out, "# HELP {name} HTTP requests answered, by method, route and status.\n# TYPE {name} counter");
        let requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        for ((method, route, status), n) in requests.iter() {
            let _ = writeln!(
                out,
                "{name}{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
    }

    fn render_latency(&self, out: &mut String) {
        let name = "hubstats_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Time from request to the end of the response body, by route.\n# TYPE {name} histogram");
        let latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        for (route, h) in latency.iter() {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n{name}_sum{{route=\"{route}\"}} {}\n{name}_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
    }
}

/// A label value with `\`, `"` and line breaks escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
}

/// Whether the caller may read `/metrics`.
fn allowed(state: &AppState, ip: Option<std::net::IpAddr>, headers: &HeaderMap) -> bool {
    let by_address =
        ip.is_some_and(|ip| state.config.metrics_allow.iter().any(|n| n.contains(&ip)));
    let by_token = state.config.metrics_token.as_deref().is_some_and(|token| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .is_some_and(|given| crate::accounts::secrets_equal(given.trim(), token))
    });
    by_address || by_token
}

/// Size of the store file and its write-ahead log; `None` when it is not a file.
fn store_bytes(location: Option<&str>) -> Option<u64> {
    let path = location?;
    let main = std::fs::metadata(path).ok()?.len();
    let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    Some(main + wal)
}

async fn metrics(
    State(state): State<AppState>,
    Extension(metrics): Extension<Arc<Metrics>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Response {
    if !allowed(&state, ip, &headers) {
        let body = "/metrics is readable only from the addresses in metrics_allow or with the metrics_token\n";
        return (StatusCode::FORBIDDEN, body).into_response();
    }
    let location = metrics.store_path.clone();
    let store = state.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        let stats = store.stats().map_err(|e| {
            tracing::error!(error = %crate::web::error::error_chain(&e), "reading the store's figures for /metrics");
        });
        let indexes = store.index_memory();
        (store_bytes(location.as_deref()), stats.ok(), indexes)
    })
    .await;
    let (bytes, stats, indexes) = read.unwrap_or((None, None, None));
    let mut body = metrics.render(bytes);
    if let Some(stats) = stats {
        render_store(&mut body, &stats);
    }
    if let Some(indexes) = indexes {
        render_indexes(&mut body, indexes);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The cached organization indexes' memory and its budget (`index_budget_mib`).
fn render_indexes(out: &mut String, indexes: IndexMemory) {
    let figures = [
        (
            "hubstats_index_bytes",
            "Memory the cached organization indexes take (approximately).",
            indexes.bytes,
        ),
        (
            "hubstats_index_budget_bytes",
            "Memory the cached organization indexes may take (index_budget_mib).",
            indexes.budget,
        ),
    ];
    for (name, help, value) in figures {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
}

/// One figure of a source, as `/metrics` prints it.
type SourceFigure = fn(&SourceInfo) -> String;

/// The counts store's figures: repositories, and per source its repository-days and when it
/// was last applied (an import, a demo fill, a log ingest).
fn render_store(out: &mut String, stats: &CountsStats) {
    let name = "hubstats_store_repositories";
    let _ = writeln!(
        out,
        "# HELP {name} Repositories with counts, of every organization.\n# TYPE {name} gauge\n{name} {}",
        stats.repositories
    );
    let per_source: [(&str, &str, SourceFigure); 2] = [
        (
            "hubstats_store_rows",
            "Repository-days each source holds.",
            |s| s.rows.to_string(),
        ),
        (
            "hubstats_store_source_applied_timestamp_seconds",
            "When each source was last written (Unix time).",
            |s| s.applied_unix.to_string(),
        ),
    ];
    for (name, help, value) in per_source {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for s in &stats.sources {
            let source = escape(s.source.as_str());
            let _ = writeln!(out, "{name}{{source=\"{source}\"}} {}", value(s));
        }
    }
}

/// 200 when both stores answer a read (an indexed lookup of one organization in the accounts
/// and of its data version in the counts), else 503.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let probe = tokio::task::spawn_blocking(move || {
        let name = OrgName::parse("hubstats-readyz-probe").map_err(|e| e.to_string())?;
        store
            .org(&name)
            .and_then(|_| store.version(&name))
            .map(|_| ())
            .map_err(|e| crate::web::error::error_chain(&e))
    })
    .await;
    let failure = match probe {
        Ok(Ok(())) => return (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => e,
        Err(e) => e.to_string(),
    };
    tracing::error!(error = %failure, "readiness check failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the store is not readable\n",
    )
        .into_response()
}
