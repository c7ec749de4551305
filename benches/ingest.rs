//! Request-log ingest on a fresh embedded store: 100,000 generated rows (the demo's
//! repositories, 30 days) of each format through `ingest_reader` — parsing, keeping the events
//! in blocks, and the recount of every repository-day the log touches; then the same bytes
//! again: read whole, their events looked up in the blocks as they are buffered, and all of
//! it dropped once the file's digest is found recorded; and the same bytes again as a file
//! (`ingest_file`), which a second thread finds recorded while the parse begins.
//! `cargo bench --bench ingest` (about a minute). `scripts/bench --ingest` measures whole
//! processes against DuckDB.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use hubstats::demo::logs::{ranked, write_log, LogSpec};
use hubstats::demo::{demo_orgs, log_org, DemoRepo};
use hubstats::domain::Day;
use hubstats::ingest::{ingest_file, ingest_reader, Format, Rules};
use hubstats::store::Stores;

const ROWS: u64 = 100_000;

fn log(format: Format) -> Vec<u8> {
    let mut repos: Vec<DemoRepo> = Vec::new();
    for org in demo_orgs(300).iter().chain([&log_org()]) {
        repos.extend(org.draw_repos().unwrap());
    }
    let spec = LogSpec {
        format,
        rows: ROWS,
        days: 30,
        through: Day::from_ymd(2024, 6, 30).unwrap(),
        seed: 1,
    };
    let mut out = Vec::new();
    write_log(&spec, ranked(&repos), &mut out).unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let rules = Rules::default();
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10).throughput(Throughput::Elements(ROWS));
    for format in [Format::HfCsv, Format::Jsonl, Format::Nginx] {
        let input = log(format);
        let ingest = |store: &Stores, name: &str| {
            ingest_reader(store, name, &input[..], format, &rules, &mut |_| {}).unwrap()
        };
        group.bench_function(BenchmarkId::new("fresh", format), |b| {
            b.iter_batched(
                || Stores::memory().unwrap(),
                |store| assert_eq!(ingest(&store, "a").rows, ROWS),
                BatchSize::PerIteration,
            )
        });
        group.bench_function(BenchmarkId::new("again", format), |b| {
            b.iter_batched(
                || {
                    let store = Stores::memory().unwrap();
                    ingest(&store, "a");
                    store
                },
                |store| assert!(ingest(&store, "b").duplicate),
                BatchSize::PerIteration,
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("log.{format}"));
        std::fs::write(&file, &input).unwrap();
        group.bench_function(BenchmarkId::new("again, a file", format), |b| {
            b.iter_batched(
                || {
                    let store = Stores::memory().unwrap();
                    ingest(&store, "a");
                    store
                },
                |store| {
                    let again = ingest_file(&store, &file, format, &rules, &mut |_| {}).unwrap();
                    assert!(again.duplicate)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
