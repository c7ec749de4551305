//! The CSV endpoint streams: a slow client holds the export back instead of letting it pile
//! rows up in memory, and a long export arrives whole.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::common::{org_name, username};
use hubstats::accounts;
use hubstats::config::{Config, Overrides};
use hubstats::domain::{Day, DayRange, OrgName, Plan, RepoKey, RepoType, Role};
use hubstats::store::sqlite::SqliteAccounts;
use hubstats::store::{
    Accounts, Counts, CountsStats, CountsWrite, DailyFilter, DailyRow, PeriodSums, RepoSummaries,
    RepoSummary, SourceId, SourceInfo, StoreError, StoreResult, Stores, WriteMode,
};
use hubstats::web::{router, AppState};

/// Daily rows made up on the fly, counting how many were read.
struct SyntheticStore {
    rows: u64,
    emitted: Arc<AtomicU64>,
}

const ROWS_PER_REPO: u64 = 1000;

impl Counts for SyntheticStore {
    fn for_each_daily(
        &self,
        _org: &OrgName,
        _filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        let mut name = String::new();
        for i in 0..self.rows {
            if i % ROWS_PER_REPO == 0 {
                name = format!("acme/model-{:07}", i / ROWS_PER_REPO);
            }
            let day = Day::from_epoch_days((i % ROWS_PER_REPO) as i32 + 19_000);
            let row = DailyRow {
                repo_type: RepoType::Model,
                repo_name: &name,
                total: 123_456,
                day,
                downloads: 7,
            };
            f(row).map_err(|e| StoreError::Backend(Box::new(e)))?;
            self.emitted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn write(
        &self,
        _source: &SourceId,
        _mode: WriteMode,
    ) -> StoreResult<Box<dyn CountsWrite + '_>> {
        unimplemented!("read-only test store")
    }
    fn source(&self, _source: &SourceId) -> StoreResult<Option<SourceInfo>> {
        Ok(None)
    }
    fn stats(&self) -> StoreResult<CountsStats> {
        unimplemented!("not used by the export")
    }
    fn version(&self, _org: &OrgName) -> StoreResult<u64> {
        Ok(1)
    }
    fn remove_org(&self, _org: &OrgName) -> StoreResult<()> {
        unimplemented!("read-only test store")
    }
    fn repo_count(&self, _org: &OrgName) -> StoreResult<u64> {
        Ok(self.rows.div_ceil(ROWS_PER_REPO))
    }
    fn repos(&self, _org: &OrgName) -> StoreResult<RepoSummaries> {
        unimplemented!("not used by the export")
    }
    fn repo(&self, _repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        unimplemented!("not used by the export")
    }
    fn period_sums(&self, _org: &OrgName, _range: DayRange) -> StoreResult<PeriodSums> {
        unimplemented!("not used by the export")
    }
    fn org_daily(
        &self,
        _org: &OrgName,
        _range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        unimplemented!("not used by the export")
    }
}

/// A router over `rows` synthetic rows of `acme`, a token of one of its members, and the
/// counter of rows read so far.
fn synthetic_app(rows: u64) -> (axum::Router, String, Arc<AtomicU64>) {
    let emitted = Arc::new(AtomicU64::new(0));
    let store = Stores {
        accounts: Arc::new(SqliteAccounts::memory().unwrap()),
        counts: Arc::new(SyntheticStore {
            rows,
            emitted: emitted.clone(),
        }),
    };
    store
        .create_org(&org_name("acme"), Plan::Enterprise)
        .unwrap();
    accounts::create_user(&store, &username("alice"), "pw").unwrap();
    store
        .set_member(&org_name("acme"), &username("alice"), Role::Read)
        .unwrap();
    let token = accounts::create_token(&store, &username("alice")).unwrap();
    let config = Config::load(&Overrides::default(), |_| None).unwrap();
    let state = AppState {
        store: Arc::new(store),
        config: Arc::new(config),
    };
    (router(state), token, emitted)
}

fn csv_request(token: &str) -> Request<Body> {
    Request::get("/organizations/acme/settings/publisher-analytics/download-breakdown")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Waits until `counter` stops moving (or 10 s pass) and returns its value.
async fn settled(counter: &AtomicU64) -> u64 {
    let mut last = u64::MAX;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counter.load(Ordering::Relaxed);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_holds_the_export_back() {
    let rows = 400_000; // ~21 MB of CSV
    let (app, token, emitted) = synthetic_app(rows);
    let res = app.oneshot(csv_request(&token)).await.unwrap();
    assert_eq!(res.status(), 200);
    let held = settled(&emitted).await;
    // Only what fits in the channel and the writers' buffers (a few MB), not the whole file.
    assert!(
        held < rows / 4,
        "the export ran ahead of the client: {held} of {rows} rows read"
    );

    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(emitted.load(Ordering::Relaxed), rows);
    let text = std::str::from_utf8(&body).unwrap();
    assert_eq!(text.lines().count() as u64, rows + 1);
    assert!(text.starts_with(
        "repoType,repoName,total,timestamp,downloads\nmodel,acme/model-0000000,123456,"
    ));
    assert!(text.ends_with(",7\n"));
}

#[tokio::test]
async fn a_client_that_leaves_stops_the_export() {
    let rows = 400_000;
    let (app, token, emitted) = synthetic_app(rows);
    let res = app.oneshot(csv_request(&token)).await.unwrap();
    assert_eq!(res.status(), 200);
    drop(res);
    let stopped_at = settled(&emitted).await;
    assert!(
        stopped_at < rows / 4,
        "the export went on without a client: {stopped_at} rows"
    );
}

/// Peak resident memory of this process (Linux), in MiB.
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: streams ten million rows (~600 MB of CSV)"]
async fn ten_million_rows_stream_in_flat_memory() {
    let rows = 10_000_000;
    let (app, token, _) = synthetic_app(rows);
    let res = app.oneshot(csv_request(&token)).await.unwrap();
    assert_eq!(res.status(), 200);
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut body = res.into_body();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            bytes += data.len() as u64;
            lines += data.iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    assert_eq!(lines, rows + 1);
    let peak = peak_rss_mib();
    eprintln!(
        "{rows} rows, {} MiB of CSV, peak RSS {peak:?} MiB",
        bytes >> 20
    );
    if let Some(peak) = peak {
        assert!(
            peak < 100,
            "peak RSS {peak} MiB for {} MiB of CSV",
            bytes >> 20
        );
    }
}
