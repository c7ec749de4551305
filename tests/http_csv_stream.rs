//! The CSV endpoint streams: a slow client holds the export back instead of letting it pile
//! rows up in memory, and a long export arrives whole.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;

use common::{org_name, username};
use hubstats::accounts;
use hubstats::config::{Config, Overrides};
use hubstats::domain::{Day, DayRange, OrgName, Plan, RepoKey, RepoType, Role, Username};
use hubstats::store::sqlite::SqliteStore;
use hubstats::store::{
    Accounts, Counts, DailyFilter, DailyRow, OrgInfo, RepoSummary, StoreError, StoreResult,
    TokenInfo, UserInfo, WriteTx,
};
use hubstats::web::{router, AppState};

/// Accounts from SQLite; daily rows made up on the fly, counting how many were read.
struct SyntheticStore {
    accounts: SqliteStore,
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

    fn begin(&self) -> StoreResult<Box<dyn WriteTx + '_>> {
        unimplemented!("read-only test store")
    }
    fn is_ingested(&self, _source: &str) -> StoreResult<bool> {
        Ok(false)
    }
    fn repos(&self, _org: &OrgName) -> StoreResult<Vec<RepoSummary>> {
        unimplemented!("not used by the export")
    }
    fn repo(&self, _repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        unimplemented!("not used by the export")
    }
    fn period_sums(&self, _org: &OrgName, _range: DayRange) -> StoreResult<Vec<(RepoKey, u64)>> {
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

impl Accounts for SyntheticStore {
    fn create_org(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        self.accounts.create_org(org, plan)
    }
    fn set_plan(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        self.accounts.set_plan(org, plan)
    }
    fn org(&self, org: &OrgName) -> StoreResult<Option<OrgInfo>> {
        self.accounts.org(org)
    }
    fn orgs(&self) -> StoreResult<Vec<OrgInfo>> {
        self.accounts.orgs()
    }
    fn create_user(&self, user: &Username, hash: &str) -> StoreResult<()> {
        self.accounts.create_user(user, hash)
    }
    fn password_hash(&self, user: &Username) -> StoreResult<Option<String>> {
        self.accounts.password_hash(user)
    }
    fn set_member(&self, org: &OrgName, user: &Username, role: Role) -> StoreResult<()> {
        self.accounts.set_member(org, user, role)
    }
    fn remove_member(&self, org: &OrgName, user: &Username) -> StoreResult<()> {
        self.accounts.remove_member(org, user)
    }
    fn role(&self, org: &OrgName, user: &Username) -> StoreResult<Option<Role>> {
        self.accounts.role(org, user)
    }
    fn create_token(&self, user: &Username, hash: &str, prefix: &str) -> StoreResult<()> {
        self.accounts.create_token(user, hash, prefix)
    }
    fn revoke_token(&self, hash: &str) -> StoreResult<bool> {
        self.accounts.revoke_token(hash)
    }
    fn token_user(&self, hash: &str) -> StoreResult<Option<Username>> {
        self.accounts.token_user(hash)
    }
    fn create_session(&self, hash: &str, user: &Username, expires_unix: i64) -> StoreResult<()> {
        self.accounts.create_session(hash, user, expires_unix)
    }
    fn session_user(&self, hash: &str, now_unix: i64) -> StoreResult<Option<Username>> {
        self.accounts.session_user(hash, now_unix)
    }
    fn delete_session(&self, hash: &str) -> StoreResult<()> {
        self.accounts.delete_session(hash)
    }
    fn users(&self) -> StoreResult<Vec<UserInfo>> {
        self.accounts.users()
    }
    fn set_password_hash(&self, user: &Username, hash: &str) -> StoreResult<()> {
        self.accounts.set_password_hash(user, hash)
    }
    fn delete_user(&self, user: &Username) -> StoreResult<()> {
        self.accounts.delete_user(user)
    }
    fn members(&self, org: &OrgName) -> StoreResult<Vec<(Username, Role)>> {
        self.accounts.members(org)
    }
    fn tokens(&self, user: &Username) -> StoreResult<Vec<TokenInfo>> {
        self.accounts.tokens(user)
    }
    fn touch_token(&self, hash: &str, now_unix: i64) -> StoreResult<()> {
        self.accounts.touch_token(hash, now_unix)
    }
    fn delete_org(&self, org: &OrgName) -> StoreResult<()> {
        self.accounts.delete_org(org)
    }
}

/// A router over `rows` synthetic rows of `acme`, a token of one of its members, and the
/// counter of rows read so far.
fn synthetic_app(rows: u64) -> (axum::Router, String, Arc<AtomicU64>) {
    let emitted = Arc::new(AtomicU64::new(0));
    let store = SyntheticStore {
        accounts: SqliteStore::memory().unwrap(),
        rows,
        emitted: emitted.clone(),
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
