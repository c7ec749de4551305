//! Times the store's reads on an existing store (for sizing; see `scripts/roundtrip-large`).
//!
//! ```text
//! cargo run --release --example time_queries -- STORE ORG YYYY-MM-DD
//! ```
//! Prints each read's time in milliseconds: the first call, or the best of five.

use std::time::{Duration, Instant};

use hubstats::domain::{Day, DayRange, OrgName};
use hubstats::store::DailyFilter;

fn best_of_five(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut size = 0;
    for _ in 0..5 {
        let start = Instant::now();
        size = f();
        best = best.min(start.elapsed());
    }
    (best, size)
}

fn once(f: impl FnOnce() -> usize) -> (Duration, usize) {
    let start = Instant::now();
    let size = f();
    (start.elapsed(), size)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, org, today] = args.as_slice() else {
        return Err("usage: time_queries STORE ORG YYYY-MM-DD".into());
    };
    let store = hubstats::store::open(path)?;
    let org = OrgName::parse(org)?;
    let today: Day = today.parse()?;
    let last = |days: i32| DayRange::new(today.add_days(1 - days), today);
    let (m30, y365) = (last(30)?, last(365)?);
    let report = |name: &str, (took, size): (Duration, usize)| {
        println!(
            "{name:<32} {:>9.1} ms  ({size} results)",
            took.as_secs_f64() * 1000.0
        );
    };
    // The first read of an organization builds its index; each index version then keeps its
    // summaries and the sums of its last ranges, so "kept" is what later requests pay and the
    // first sums read is what the first request after a write pays for them.
    report(
        "index build + repos (first read)",
        once(|| store.repos(&org).map_or(0, |r| r.len())),
    );
    report(
        "repos (kept)",
        best_of_five(|| store.repos(&org).map_or(0, |r| r.len())),
    );
    for (name, range) in [("30", m30), ("365", y365)] {
        report(
            &format!("period_sums last {name} days"),
            once(|| {
                store
                    .period_sums(&org, range)
                    .map_or(0, |r| r.iter().count())
            }),
        );
        report(
            &format!("period_sums kept, {name} days"),
            best_of_five(|| {
                store
                    .period_sums(&org, range)
                    .map_or(0, |r| r.iter().count())
            }),
        );
    }
    report(
        "org_daily all time",
        best_of_five(|| store.org_daily(&org, None).map_or(0, |r| r.len())),
    );
    report(
        "org_daily last 365 days",
        best_of_five(|| store.org_daily(&org, Some(y365)).map_or(0, |r| r.len())),
    );
    let stream = || {
        let mut rows = 0usize;
        let _ = store.for_each_daily(&org, DailyFilter::default(), &mut |_| {
            rows += 1;
            Ok(())
        });
        rows
    };
    report("for_each_daily (all rows)", best_of_five(stream));
    Ok(())
}
