//! The integration tests: one crate, so one binary to build and link against the library
//! (a crate per file linked each file's tests against the library and every dev-dependency
//! again). Each file of `tests/it/` is a module, named in test names: `http_ingest::…`
//! (`cargo test --test it http_ingest::`, `cargo nextest run -E 'test(/^http_ingest::/)'`).
//! The helpers they share stay where they were and are declared here once.

#[path = "../analytics/mod.rs"]
mod analytics;
#[path = "../child/mod.rs"]
mod child;
#[path = "../chromium/mod.rs"]
mod chromium;
#[path = "../common/mod.rs"]
mod common;

mod browser;
mod browser_dashboard;
mod browser_explained;
mod browser_polish;
mod cli_admin;
mod cli_clickhouse;
mod cli_collect;
mod cli_concurrent_writes;
mod cli_config_rules;
mod cli_cut_input;
mod cli_demo_logs;
mod cli_explained;
mod cli_import_bounds;
mod cli_ingest;
mod cli_libraries;
mod cli_operator;
mod cli_retention;
mod cli_serve;
mod cli_server_ops;
mod clickhouse_parity;
mod consistency;
mod http_access;
mod http_analytics_api;
mod http_csv_stream;
mod http_dashboard;
mod http_explained;
mod http_hardening;
mod http_ingest;
mod http_login_throttle;
mod http_polish;
mod http_session;
mod http_trust;
mod import_export;
mod import_robustness_prop;
mod roundtrip_prop;
mod server_limits;
