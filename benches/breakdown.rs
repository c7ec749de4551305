//! Import and export throughput of the breakdown CSV on an in-memory store.
//! `cargo bench --bench breakdown` (about half a minute).

use std::fmt::Write;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hubstats::breakdown::{export::write_breakdown, import::import_reader, HEADER};
use hubstats::domain::{Day, OrgName};
use hubstats::store::Stores;

const REPOS: u32 = 100;
const DAYS: u32 = 500;

/// A canonical CSV of `REPOS` models with `DAYS` consecutive days each.
fn csv() -> String {
    let first = Day::from_ymd(2024, 1, 1).unwrap_or(Day::MIN);
    let mut out = format!("{HEADER}\n");
    for r in 0..REPOS {
        for d in 0..DAYS {
            let mut stamp = String::new();
            let _ = first.add_days(d as i32).write_timestamp(&mut stamp);
            let _ = writeln!(
                out,
                "model,bench/repo-{r:04},{},{stamp},{}",
                1_000_000 + r,
                1 + (r * 7 + d * 13) % 997
            );
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let input = csv();
    let org = OrgName::parse("bench").unwrap();
    let mut group = c.benchmark_group("breakdown");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(u64::from(REPOS * DAYS)));
    group.bench_function("import", |b| {
        b.iter_batched(
            || Stores::memory().unwrap(),
            |store| import_reader(&store, "bench.csv", input.as_bytes(), &mut |_| {}).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let store = Stores::memory().unwrap();
    import_reader(&store, "bench.csv", input.as_bytes(), &mut |_| {}).unwrap();
    let mut out = Vec::with_capacity(input.len());
    write_breakdown(&store, &org, &mut out).unwrap();
    // Compared as bytes so a mismatch does not print megabytes of CSV.
    assert!(out == input.as_bytes(), "the export reproduces the input");
    group.bench_function("export", |b| {
        b.iter(|| {
            out.clear();
            write_breakdown(&store, &org, &mut out).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
