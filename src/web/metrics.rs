//! `/metrics` (the OpenMetrics text format, which Prometheus reads) and `/readyz`.
//!
//! The metrics are `prometheus-client`'s: a registry per server (no global one, so tests do
//! not share counters). The request and ingest counters and the latency histogram live in
//! [`Metrics`]; the connection and sign-in figures are atomics that the server updates, and
//! the store's figures are read at each scrape; both are added to the scrape's registry as
//! constant values.
//!
//! `/metrics` answers only clients whose address is in `metrics_allow` (after
//! `trusted_proxies`), or requests with `Authorization: Bearer <metrics_token>`; others get 403.
//! With neither configured nobody can read it.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::throttle::ClientIp;
use super::AppState;
use crate::domain::OrgName;
use crate::store::{CountsStats, IndexMemory};

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: IngestResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

type Latency = Family<RouteLabel, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The service's counters; one per server, shared by every request.
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Latency,
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

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            in_flight: AtomicI64::default(),
            connections_open: AtomicI64::default(),
            connections_total: AtomicU64::default(),
            logins_busy: AtomicU64::default(),
            logins_throttled: AtomicU64::default(),
            store_path: None,
            ingest: IngestMetrics::default(),
        }
    }
}

/// How a `POST /api/ingest` request ended: the `result` label of
/// `hubstats_ingest_batches_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl EncodeLabelValue for IngestResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.label(), encoder)
    }
}

/// Batches by result (every result is exported, from 0), and the rows and model or dataset
/// events of the batches that were counted (retries excluded).
pub struct IngestMetrics {
    batches: Family<ResultLabel, Counter>,
    rows: Counter,
    events: Counter,
}

impl Default for IngestMetrics {
    fn default() -> Self {
        let batches = Family::<ResultLabel, Counter>::default();
        for result in IngestResult::ALL {
            let _ = batches.get_or_create(&ResultLabel { result });
        }
        IngestMetrics {
            batches,
            rows: Counter::default(),
            events: Counter::default(),
        }
    }
}

impl IngestMetrics {
    /// Records one request; `rows` and `events` count only for [`IngestResult::Counted`].
    pub fn record(&self, result: IngestResult, rows: u64, events: u64) {
        self.batches.get_or_create(&ResultLabel { result }).inc();
        if result == IngestResult::Counted {
            self.rows.inc_by(rows);
            self.events.inc_by(events);
        }
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "hubstats_ingest_batches",
            "Batches sent to POST /api/ingest, by result",
            self.batches.clone(),
        );
        registry.register(
            "hubstats_ingest_rows",
            "Rows read from counted ingest batches",
            self.rows.clone(),
        );
        registry.register(
            "hubstats_ingest_events",
            "Model and dataset events in counted ingest batches",
            self.events.clone(),
        );
    }
}

/// A figure as a gauge's value (the store's figures are far below `i64::MAX`; one above
/// would show as `i64::MAX` rather than wrap).
fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn gauge(value: u64) -> ConstGauge {
    ConstGauge::new(gauge_value(value))
}

/// What `/metrics` reads from the store at each scrape.
#[derive(Default)]
pub struct StoreFigures {
    /// The store files' size on disk.
    pub bytes: Option<u64>,
    pub stats: Option<CountsStats>,
    pub indexes: Option<IndexMemory>,
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
        let labels = RequestLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        (self.latency)
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
            })
            .observe(latency.as_secs_f64());
    }

    /// The text exposition of every metric and of the store's figures.
    pub fn render(&self, store: &StoreFigures) -> String {
        let mut registry = Registry::default();
        registry.register(
            "hubstats_http_requests",
            "HTTP requests answered, by method, route and status",
            self.requests.clone(),
        );
        registry.register(
            "hubstats_http_request_duration_seconds",
            "Time from request to the end of the response body, by route",
            self.latency.clone(),
        );
        self.ingest.register(&mut registry);
        let load = |a: &AtomicI64| ConstGauge::new(a.load(Ordering::Relaxed));
        registry.register(
            "hubstats_http_requests_in_flight",
            "Requests being served",
            load(&self.in_flight),
        );
        registry.register(
            "hubstats_connections_open",
            "Open client connections",
            load(&self.connections_open),
        );
        let counters = [
            (
                "hubstats_connections",
                "Client connections accepted",
                &self.connections_total,
            ),
            (
                "hubstats_login_busy",
                "Sign-ins refused with 503 because every password-hashing slot was taken",
                &self.logins_busy,
            ),
            (
                "hubstats_login_throttled",
                "Sign-ins refused with 429 by the sign-in throttle",
                &self.logins_throttled,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(
                name,
                help,
                ConstCounter::new(counter.load(Ordering::Relaxed)),
            );
        }
        register_store(&mut registry, store);
        let mut out = String::new();
        encode(&mut out, &registry).expect("writing to a String does not fail");
        out
    }
}

/// The store's figures: its size on disk, the cached organization indexes' memory and budget
/// (`index_budget_mib`), its repositories, and per source its repository-days and when it was
/// last applied (an import, a demo fill, a log ingest).
fn register_store(registry: &mut Registry, store: &StoreFigures) {
    if let Some(bytes) = store.bytes {
        registry.register(
            "hubstats_store_bytes",
            "Size of the store files on disk (database and write-ahead log)",
            gauge(bytes),
        );
    }
    if let Some(indexes) = store.indexes {
        registry.register(
            "hubstats_index_bytes",
            "Memory the cached organization indexes take (approximately)",
            gauge(indexes.bytes),
        );
        registry.register(
            "hubstats_index_budget_bytes",
            "Memory the cached organization indexes may take (index_budget_mib)",
            gauge(indexes.budget),
        );
    }
    let Some(stats) = &store.stats else { return };
    registry.register(
        "hubstats_store_repositories",
        "Repositories with counts, of every organization",
        gauge(stats.repositories),
    );
    let (rows, applied) = (
        Family::<SourceLabel, Gauge>::default(),
        Family::<SourceLabel, Gauge>::default(),
    );
    for s in &stats.sources {
        let label = SourceLabel {
            source: s.source.as_str().to_owned(),
        };
        rows.get_or_create(&label).set(gauge_value(s.rows));
        applied.get_or_create(&label).set(s.applied_unix);
    }
    registry.register(
        "hubstats_store_rows",
        "Repository-days each source holds",
        rows,
    );
    registry.register(
        "hubstats_store_source_applied_timestamp_seconds",
        "When each source was last written (Unix time)",
        applied,
    );
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
        StoreFigures {
            bytes: store_bytes(location.as_deref()),
            stats: stats.ok(),
            indexes: store.index_memory(),
        }
    })
    .await;
    let body = metrics.render(&read.unwrap_or_default());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
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
