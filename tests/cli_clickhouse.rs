//! The CLI and the HTTP API on a `clickhouse://` store: a breakdown CSV imported through the
//! built binary exports back byte for byte, and the analytics API answers what it answers on
//! SQLite for the same file. `#[ignore]`d: each test starts its own `clickhouse-server` (see
//! `hubstats::store::clickhouse::testing`) and fails without one.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

use hubstats::config::{Config, Overrides};
use hubstats::domain::{OrgName, Plan, Role, Username};
use hubstats::store::clickhouse::testing::ClickHouseServer;
use hubstats::web::{router_with_throttle, AppState};

const SEED: &str = include_str!("data/seed.csv");
const TODAY: &str = "2021-12-31";

fn hubstats(dir: &Path, store: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hubstats"))
        .current_dir(dir)
        .env_remove("HUBSTATS_STORE")
        .env_remove("HUBSTATS_CONFIG")
        .args(["--store", store, "--today", TODAY])
        .args(args)
        .output()
        .unwrap()
}

fn ok(dir: &Path, store: &str, args: &[&str]) -> String {
    let out = hubstats(dir, store, args);
    assert!(
        out.status.success(),
        "{args:?} on {store} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The analytics overview of `org` for all time, as an API client with a token sees it.
async fn overview(store_location: &str, org: &str) -> serde_json::Value {
    let flags = Overrides {
        store: Some(store_location.to_owned()),
        ..Default::default()
    };
    let mut config = Config::load(&flags, |_| None).unwrap();
    config.today = Some(TODAY.parse().unwrap());
    let store = hubstats::store::open(store_location).unwrap();
    let (org_name, alice) = (
        OrgName::parse(org).unwrap(),
        Username::parse("alice").unwrap(),
    );
    store.set_plan(&org_name, Plan::Team).unwrap();
    hubstats::accounts::create_user(store.as_ref(), &alice, "password-alice").unwrap();
    store.set_member(&org_name, &alice, Role::Read).unwrap();
    let token = hubstats::accounts::create_token(store.as_ref(), &alice).unwrap();
    let state = AppState {
        store,
        config: Arc::new(config),
    };
    let router = router_with_throttle(state, Arc::default());
    let req = Request::get(format!("/api/organizations/{org}/analytics"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = router.oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
#[ignore = "needs clickhouse-server"]
async fn clickhouse_store_imports_exports_and_serves_what_sqlite_does() {
    let server = ClickHouseServer::start();
    let clickhouse = server.location();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("seed.csv"), SEED).unwrap();

    let report = ok(dir.path(), &clickhouse, &["import", "seed.csv"]);
    assert_eq!(
        report,
        "seed.csv: 6 rows, 2 repositories, 1 new organization\n"
    );
    let again = ok(dir.path(), &clickhouse, &["import", "seed.csv"]);
    assert_eq!(
        again, "seed.csv: 6 rows, 2 repositories, 0 new organizations\n",
        "importing again changes nothing"
    );
    let exported = ok(dir.path(), &clickhouse, &["export", "--org", "huggingface"]);
    assert_eq!(exported, SEED, "import then export is byte for byte");

    let sqlite = dir.path().join("store.db").to_string_lossy().into_owned();
    ok(dir.path(), &sqlite, &["import", "seed.csv"]);
    let on_sqlite = overview(&sqlite, "huggingface").await;
    let on_clickhouse = overview(&clickhouse, "huggingface").await;
    assert!(on_sqlite["totals"]["all"].as_u64().unwrap() > 0);
    assert_eq!(on_clickhouse, on_sqlite);
}

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_store_refuses_ingest_and_a_missing_database() {
    let server = ClickHouseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let missing = server.location();
    let out = hubstats(dir.path(), &missing, &["export", "--org", "acme"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no store at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.path().join("log.jsonl"), "").unwrap();
    let out = hubstats(
        dir.path(),
        &server.location(),
        &["ingest", "log.jsonl", "--format", "jsonl"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not keep log events"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
