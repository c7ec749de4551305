//! Server-side latency of the dashboard at 1k, 5k and 20k repositories with three years of
//! history (the demo generator's large organization): the dashboard page (All Time and Last
//! Month), search-as-you-type (the table fragment), the drill-down page, and the two store
//! reads the table is built from. Requests go through the router in-process.
//!
//! The stores are generated once into `target/bench-data/` and reused.
//! Run: `cargo bench --bench dashboard`; `BENCH_REPOS=1000,5000` picks sizes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use http_body_util::BodyExt;
use tower::ServiceExt;

use hubstats::config::{Config, Overrides};
use hubstats::demo::{demo_orgs, fill, prepare_login};
use hubstats::domain::{Day, DayRange, OrgName, RepoKey};
use hubstats::store::{Batch, SharedStore, SourceId, WriteMode};
use hubstats::web::{router, AppState};

const SIZES: [usize; 3] = [1_000, 5_000, 20_000];
const TODAY: &str = "2026-11-01";

struct Setup {
    store: SharedStore,
    app: axum::Router,
    token: String,
    org: String,
    top_repo: String,
    top: RepoKey,
    /// A query typed a few letters into the top repository's name.
    narrow_query: String,
}

fn setup(repos: usize) -> Setup {
    let today: Day = TODAY.parse().expect("valid day");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data directory");
    let path = dir.join(format!("demo-{repos}.db"));
    let fresh = !path.exists();
    let store: SharedStore = hubstats::store::open(&path.to_string_lossy()).expect("open store");
    let orgs = demo_orgs(repos);
    if fresh {
        let started = Instant::now();
        fill(store.as_ref(), &orgs, today, &mut |_| {}).expect("fill demo data");
        eprintln!("generated {} in {:.1?}", path.display(), started.elapsed());
    }
    let login = prepare_login(store.as_ref(), &orgs).expect("demo login");
    let org = orgs[0].name.to_owned();
    let org_name = OrgName::parse(&org).expect("org name");
    let rows: usize = store.repos(&org_name).expect("repos").len();
    eprintln!("{org}: {rows} repositories");
    let top = store
        .repos(&org_name)
        .expect("repos")
        .iter()
        .max_by_key(|r| r.total)
        .expect("a repository")
        .key
        .clone();
    let top_repo = format!("{}/{}", top.repo_type.plural(), top.name.short());
    let mut config = Config::load(&Overrides::default(), |_| None).expect("config");
    config.today = Some(today);
    let app = router(AppState {
        store: store.clone(),
        config: Arc::new(config),
    });
    let short = top_repo.split('/').nth(1).unwrap_or_default();
    let narrow_query = short.chars().take(8).collect();
    Setup {
        store,
        app,
        token: login.token,
        org,
        top_repo,
        top,
        narrow_query,
    }
}

/// Pages also measured right after a write.
const COLD: [&str; 3] = [
    "page_last_month",
    "search_fragment",
    "search_fragment_narrow",
];

/// Writes one day of the organization's top repository (another value each time): the
/// organization's version moves, so its index is patched on the next read.
fn invalidate(s: &Setup) {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut batch = Batch::new(SourceId::parse("bench").expect("source"), WriteMode::Merge);
    let today: Day = TODAY.parse().expect("valid day");
    batch.days.push((s.top.clone(), today, n));
    batch.apply(s.store.as_ref()).expect("write");
}

async fn get(s: &Setup, path: &str) -> usize {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", s.token))
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let res = s.app.clone().oneshot(req).await.expect("response");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .len()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("dashboard");
    group.sample_size(10);
    // `cargo bench` passes `--bench`; `cargo test --benches` (a smoke run of every benchmark,
    // in the test profile) does not, and gets one small organization, like `cargo bench --
    // --test` (criterion's test mode: `--bench` and `--test`).
    let args: Vec<String> = std::env::args().collect();
    let benching = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let sizes: Vec<usize> = match std::env::var("BENCH_REPOS") {
        Ok(list) => list
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect(),
        Err(_) if benching => SIZES.to_vec(),
        Err(_) => vec![100],
    };
    for repos in sizes {
        let s = setup(repos);
        let base = format!("/organizations/{}/settings/publisher-analytics", s.org);
        let cases = [
            ("page_all_time", base.clone()),
            ("page_last_month", format!("{base}?period=last-month")),
            (
                "page_last_month_by_name",
                format!("{base}?period=last-month&sort=name"),
            ),
            (
                "search_fragment",
                format!("{base}?period=last-month&q=ll&fragment=table"),
            ),
            (
                "search_fragment_narrow",
                format!(
                    "{base}?period=last-month&q={}&fragment=table",
                    s.narrow_query
                ),
            ),
            ("drill_down", format!("{base}/{}?period=365d", s.top_repo)),
        ];
        for (name, path) in &cases {
            let bytes = rt.block_on(get(&s, path));
            eprintln!("{name} at {repos}: {bytes} bytes");
            group.bench_with_input(BenchmarkId::new(*name, repos), path, |b, path| {
                b.iter(|| rt.block_on(get(&s, path)))
            });
        }
        // The same pages right after a write, when the store's query cache is empty: what
        // the first visitor after an import waits for.
        for (name, path) in cases.iter().filter(|(n, _)| COLD.contains(n)) {
            let id = BenchmarkId::new(format!("{name}_after_write"), repos);
            group.bench_with_input(id, path, |b, path| {
                b.iter_batched(
                    || invalidate(&s),
                    |()| rt.block_on(get(&s, path)),
                    BatchSize::PerIteration,
                )
            });
        }
        let org = OrgName::parse(&s.org).expect("org");
        let today: Day = TODAY.parse().expect("day");
        let month = DayRange {
            from: today.add_days(-29),
            to: today,
        };
        group.bench_function(BenchmarkId::new("store_period_sums_month", repos), |b| {
            b.iter(|| {
                s.store
                    .period_sums(&org, month)
                    .expect("sums")
                    .iter()
                    .count()
            })
        });
        group.bench_function(BenchmarkId::new("store_repos", repos), |b| {
            b.iter(|| s.store.repos(&org).expect("repos").len())
        });
        let id = BenchmarkId::new("store_period_sums_month_after_write", repos);
        group.bench_function(id, |b| {
            b.iter_batched(
                || invalidate(&s),
                |()| {
                    s.store
                        .period_sums(&org, month)
                        .expect("sums")
                        .iter()
                        .count()
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
