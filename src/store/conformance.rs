//! The conformance suite every [`Counts`] backend passes: each check takes a constructor of
//! fresh, empty stores and panics with a message on the first difference from the contract
//! (written out as the brute-force [`MemCounts`]). A backend's test file calls [`run_all`];
//! `tests/store_conformance.rs` does it for SQLite. [`accounts`] is the same for [`Accounts`](super::Accounts),
//! [`events`] for [`LogEvents`](super::LogEvents).

pub mod accounts;
pub mod events;
pub mod snapshots;

use std::collections::BTreeMap;

use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use super::reference::{day, key, MemCounts};
use super::{
    Batch, Counts, CountsStats, DailyFilter, PeriodSums, RepoDays, RepoSummary, SourceId,
    WriteMode, MAX_COUNT,
};
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoType};

/// Runs every check against stores made by `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Counts>) {
    empty_store_reads_nothing(make);
    writes_read_back_in_export_order(make);
    totals_become_exact_adjustments(make);
    a_replaced_source_counts_once(make);
    merged_sources_set_per_repository_day(make);
    sources_add_up(make);
    versions_move_only_for_touched_organizations(make);
    a_dropped_write_changes_nothing(make);
    counts_past_the_maximum_are_refused_whole(make);
    a_removed_organization_starts_again(make);
    for seed in 0..12 {
        random_writes_match_the_reference(make, seed);
        source_order_does_not_matter(make, seed);
    }
}

fn org(s: &str) -> OrgName {
    OrgName::parse(s).expect("an organization name")
}

fn range(from: &str, to: &str) -> DayRange {
    DayRange::new(day(from), day(to)).expect("a range")
}

fn source(s: &str) -> SourceId {
    SourceId::parse(s).expect("a source id")
}

fn batch(src: &str, mode: WriteMode, days: &[(&RepoKey, &str, u64)]) -> Batch {
    let mut b = Batch::new(source(src), mode);
    b.days = days
        .iter()
        .map(|(k, d, n)| ((*k).clone(), day(d), *n))
        .collect();
    b
}

/// Everything a reader can see of one organization, for comparisons.
#[derive(Debug, PartialEq, Eq)]
pub struct OrgView {
    pub repos: Vec<RepoSummary>,
    pub rows: Vec<(RepoType, String, u64, Day, u64)>,
    pub period_sums: Vec<PeriodSums>,
    pub org_daily: Vec<(Day, RepoType, u64)>,
    pub filtered: Vec<(String, Day, u64)>,
}

/// Reads every answer of `org` that the dashboard and the export use.
pub fn view(counts: &dyn Counts, org: &OrgName, ranges: &[DayRange]) -> OrgView {
    let mut rows = Vec::new();
    counts
        .for_each_daily(org, DailyFilter::default(), &mut |r| {
            rows.push((
                r.repo_type,
                r.repo_name.to_owned(),
                r.total,
                r.day,
                r.downloads,
            ));
            Ok(())
        })
        .expect("for_each_daily");
    let repos = counts.repos(org).expect("repos");
    let picked: Vec<RepoKey> = repos
        .iter()
        .step_by(2)
        .map(|r| r.key.clone())
        .rev()
        .collect();
    let mut filtered = Vec::new();
    for range in ranges.iter().take(2) {
        let filter = DailyFilter {
            repos: Some(&picked),
            range: Some(*range),
        };
        counts
            .for_each_daily(org, filter, &mut |r| {
                filtered.push((r.repo_name.to_owned(), r.day, r.downloads));
                Ok(())
            })
            .expect("filtered for_each_daily");
    }
    for r in repos.iter() {
        assert_eq!(
            counts.repo(&r.key).expect("repo").as_ref(),
            Some(r),
            "repo({:?})",
            r.key
        );
    }
    // The drill-down's one read: the repository and its days, as `repo` and a filtered
    // `for_each_daily` answer them.
    for r in repos.iter().step_by(3) {
        for range in std::iter::once(None).chain(ranges.iter().take(2).copied().map(Some)) {
            let mut days = Vec::new();
            let filter = DailyFilter {
                repos: Some(std::slice::from_ref(&r.key)),
                range,
            };
            counts
                .for_each_daily(org, filter, &mut |row| {
                    days.push((row.day, row.downloads));
                    Ok(())
                })
                .expect("for_each_daily of one repository");
            let summary = r.clone();
            assert_eq!(
                counts.repo_days(&r.key, range).expect("repo_days"),
                Some(RepoDays { summary, days }),
                "repo_days({:?}, {range:?})",
                r.key
            );
        }
    }
    OrgView {
        period_sums: (ranges.iter())
            .map(|r| counts.period_sums(org, *r).expect("period_sums"))
            .collect(),
        org_daily: counts.org_daily(org, None).expect("org_daily"),
        repos: repos.to_vec(),
        rows,
        filtered,
    }
}

fn empty_store_reads_nothing(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let o = org("acme");
    assert_eq!(s.version(&o).unwrap(), 0);
    assert_eq!(s.repo_count(&o).unwrap(), 0);
    assert!(s.repos(&o).unwrap().is_empty());
    assert!(s.repo(&key("model", "acme/a")).unwrap().is_none());
    assert!(s
        .repo_days(&key("model", "acme/a"), None)
        .unwrap()
        .is_none());
    assert!(s.org_daily(&o, None).unwrap().is_empty());
    assert!(s.source(&source("x")).unwrap().is_none());
    assert_eq!(s.stats().unwrap(), CountsStats::default());
}

fn writes_read_back_in_export_order(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let (a, b, c) = (
        key("dataset", "acme/a"),
        key("model", "acme/Z"),
        key("model", "acme/a"),
    );
    let other = key("model", "other/a");
    let written = batch(
        "one",
        WriteMode::Replace,
        &[
            (&a, "2024-01-02", 3),
            (&c, "2024-01-03", 5),
            (&b, "2024-01-01", 7),
            (&c, "2024-01-01", 1),
            (&other, "2024-01-01", 9),
        ],
    );
    written.apply(s.as_ref()).unwrap();
    let names: Vec<(RepoType, String)> = (s.repos(&org("acme")).unwrap().iter())
        .map(|r| (r.key.repo_type, r.key.name.as_str().to_owned()))
        .collect();
    assert_eq!(
        names,
        [
            (RepoType::Model, "acme/Z".to_owned()),
            (RepoType::Model, "acme/a".to_owned()),
            (RepoType::Dataset, "acme/a".to_owned())
        ],
        "models first, names in byte order"
    );
    let v = view(
        s.as_ref(),
        &org("acme"),
        &[range("2024-01-01", "2024-01-02")],
    );
    let days: Vec<(String, Day, u64)> = v.rows.iter().map(|r| (r.1.clone(), r.3, r.4)).collect();
    assert_eq!(
        days,
        [
            ("acme/Z".to_owned(), day("2024-01-01"), 7),
            ("acme/a".to_owned(), day("2024-01-01"), 1),
            ("acme/a".to_owned(), day("2024-01-03"), 5),
            ("acme/a".to_owned(), day("2024-01-02"), 3)
        ]
    );
    assert_eq!(s.repo_count(&org("acme")).unwrap(), 3);
    assert_eq!(
        s.source(&source("one")).unwrap().map(|i| i.rows),
        Some(5),
        "a source knows how many repository-days it holds"
    );
    assert_eq!(
        v,
        view(
            &reference_of(&[&written]),
            &org("acme"),
            &[range("2024-01-01", "2024-01-02")]
        )
    );
}

/// The reference store after the same batches (a helper for the simple checks).
fn reference_of(batches: &[&Batch]) -> MemCounts {
    let r = MemCounts::default();
    for b in batches {
        b.apply(&r).expect("the reference accepts the batch");
    }
    r
}

fn totals_become_exact_adjustments(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let (a, b) = (key("model", "acme/a"), key("model", "acme/b"));
    let mut first = batch(
        "csv",
        WriteMode::Merge,
        &[(&a, "2024-01-01", 10), (&a, "2024-01-02", 5)],
    );
    first.totals = vec![(a.clone(), 100), (b.clone(), 40)];
    first.apply(s.as_ref()).unwrap();
    let repos = s.repos(&org("acme")).unwrap();
    assert_eq!((repos[0].total, repos[0].adjustment), (100, 85));
    assert_eq!(
        (repos[1].total, repos[1].adjustment, repos[1].first_day),
        (40, 40, None)
    );
    // A total below the sum of the days is kept exactly too.
    let mut low = batch("csv", WriteMode::Merge, &[]);
    low.totals = vec![(a.clone(), 3)];
    low.apply(s.as_ref()).unwrap();
    let a_now = s.repo(&a).unwrap().unwrap();
    assert_eq!((a_now.total, a_now.adjustment), (3, -12));
    // Later downloads from another source add to the total.
    batch("logs", WriteMode::Replace, &[(&a, "2024-01-03", 4)])
        .apply(s.as_ref())
        .unwrap();
    assert_eq!(s.repo(&a).unwrap().unwrap().total, 7);
}

fn a_replaced_source_counts_once(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let a = key("model", "acme/a");
    let b = key("dataset", "acme/b");
    let first = batch(
        "log-1",
        WriteMode::Replace,
        &[(&a, "2024-01-01", 10), (&b, "2024-01-02", 1)],
    );
    first.apply(s.as_ref()).unwrap();
    first.apply(s.as_ref()).unwrap();
    assert_eq!(
        s.repo(&a).unwrap().unwrap().total,
        10,
        "applied twice, counted once"
    );
    // Replacing drops what the new write does not name.
    batch("log-1", WriteMode::Replace, &[(&a, "2024-01-01", 4)])
        .apply(s.as_ref())
        .unwrap();
    let repos = s.repos(&org("acme")).unwrap();
    assert_eq!(repos.iter().map(|r| r.total).collect::<Vec<_>>(), [4, 0]);
    assert_eq!(
        repos[1].first_day, None,
        "a repository keeps existing without days"
    );
}

fn merged_sources_set_per_repository_day(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let a = key("model", "acme/a");
    batch(
        "csv",
        WriteMode::Merge,
        &[(&a, "2024-01-01", 10), (&a, "2024-01-02", 5)],
    )
    .apply(s.as_ref())
    .unwrap();
    batch(
        "csv",
        WriteMode::Merge,
        &[(&a, "2024-01-02", 7), (&a, "2024-01-03", 1)],
    )
    .apply(s.as_ref())
    .unwrap();
    batch("csv", WriteMode::Merge, &[(&a, "2024-01-01", 0)])
        .apply(s.as_ref())
        .unwrap();
    let sums = s
        .period_sums(&org("acme"), range("2024-01-01", "2024-01-31"))
        .unwrap();
    assert_eq!(sums.iter().collect::<Vec<_>>(), [(&a, 8)]);
    assert_eq!(
        s.repo(&a).unwrap().unwrap().first_day,
        Some(day("2024-01-02"))
    );
}

fn sources_add_up(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let a = key("model", "acme/a");
    batch("csv", WriteMode::Merge, &[(&a, "2024-01-01", 10)])
        .apply(s.as_ref())
        .unwrap();
    batch(
        "logs",
        WriteMode::Replace,
        &[(&a, "2024-01-01", 3), (&a, "2024-02-01", 2)],
    )
    .apply(s.as_ref())
    .unwrap();
    let daily = s.org_daily(&org("acme"), None).unwrap();
    assert_eq!(
        daily,
        [
            (day("2024-01-01"), RepoType::Model, 13),
            (day("2024-02-01"), RepoType::Model, 2)
        ]
    );
    let mut logs = Vec::new();
    s.source_days(&source("logs"), &mut |repo, d, n| {
        logs.push((repo.clone(), d, n));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        logs,
        [
            (a.clone(), day("2024-01-01"), 3),
            (a.clone(), day("2024-02-01"), 2)
        ],
        "a source's own values, for a copy"
    );
    batch("logs", WriteMode::Replace, &[])
        .apply(s.as_ref())
        .unwrap();
    assert_eq!(s.repo(&a).unwrap().unwrap().total, 10);
    let mut left = 0;
    s.source_days(&source("logs"), &mut |_, _, _| {
        left += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(left, 0, "a replaced source's removed values are not listed");
}

fn versions_move_only_for_touched_organizations(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let (a, b) = (key("model", "acme/a"), key("model", "beta/b"));
    let c = batch(
        "1",
        WriteMode::Replace,
        &[(&a, "2024-01-01", 1), (&b, "2024-01-01", 1)],
    )
    .apply(s.as_ref())
    .unwrap();
    assert_eq!(c.versions, [(org("acme"), 1), (org("beta"), 1)]);
    s.repos(&org("acme")).unwrap();
    let c = batch("2", WriteMode::Replace, &[(&b, "2024-01-02", 1)])
        .apply(s.as_ref())
        .unwrap();
    assert_eq!(c.versions, [(org("beta"), 2)]);
    assert_eq!(
        (
            s.version(&org("acme")).unwrap(),
            s.version(&org("beta")).unwrap()
        ),
        (1, 2)
    );
    assert_eq!(s.repo(&b).unwrap().unwrap().total, 2);
}

fn a_dropped_write_changes_nothing(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let a = key("model", "acme/a");
    batch("1", WriteMode::Replace, &[(&a, "2024-01-01", 1)])
        .apply(s.as_ref())
        .unwrap();
    let before = view(s.as_ref(), &org("acme"), &[]);
    {
        let mut w = s.write(&source("1"), WriteMode::Replace).unwrap();
        w.set(&a, day("2024-01-02"), 5).unwrap();
        w.set(&key("model", "acme/new"), day("2024-01-02"), 5)
            .unwrap();
    }
    assert_eq!(view(s.as_ref(), &org("acme"), &[]), before);
    assert_eq!(s.version(&org("acme")).unwrap(), 1);
}

fn counts_past_the_maximum_are_refused_whole(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let a = key("model", "acme/a");
    batch("1", WriteMode::Merge, &[(&a, "2024-01-01", 1)])
        .apply(s.as_ref())
        .unwrap();
    let before = view(s.as_ref(), &org("acme"), &[]);
    let mut w = s.write(&source("2"), WriteMode::Merge).unwrap();
    assert!(
        w.set(&a, day("2024-01-02"), MAX_COUNT + 1).is_err(),
        "a day past the maximum"
    );
    assert!(
        w.set_total(&a, MAX_COUNT + 1).is_err(),
        "a total past the maximum"
    );
    drop(w);
    let r = batch(
        "2",
        WriteMode::Merge,
        &[(&a, "2024-01-02", MAX_COUNT), (&a, "2024-01-03", MAX_COUNT)],
    )
    .apply(s.as_ref());
    assert!(r.is_err(), "a repository sum past the maximum is refused");
    assert_eq!(view(s.as_ref(), &org("acme"), &[]), before);
}

/// A random write: a source, a mode and some values over a few repositories and days.
fn random_batch(rng: &mut ChaCha8Rng, keys: &[RepoKey], sources: &[&str]) -> Batch {
    let mode = if rng.random_bool(0.5) {
        WriteMode::Replace
    } else {
        WriteMode::Merge
    };
    let mut b = Batch::new(source(sources[rng.random_range(0..sources.len())]), mode);
    let base = day("2023-12-20").epoch_days();
    for _ in 0..rng.random_range(0..40) {
        let k = keys[rng.random_range(0..keys.len())].clone();
        let d = Day::from_epoch_days(base + rng.random_range(0..600));
        let n = if rng.random_bool(0.15) {
            0
        } else {
            rng.random_range(1..1000)
        };
        b.days.push((k, d, n));
    }
    if rng.random_bool(0.3) {
        let k = keys[rng.random_range(0..keys.len())].clone();
        b.totals.push((k, rng.random_range(0..100_000)));
    }
    b
}

fn test_keys() -> Vec<RepoKey> {
    vec![
        key("model", "acme/a"),
        key("model", "acme/B"),
        key("dataset", "acme/a"),
        key("dataset", "acme/c.d"),
        key("model", "beta/x"),
    ]
}

fn test_ranges() -> Vec<DayRange> {
    vec![
        range("2024-01-01", "2024-01-31"),
        range("2023-12-20", "2025-08-10"),
        range("2024-03-02", "2024-03-02"),
        range("2024-09-01", "2025-03-01"),
    ]
}

/// Random writes, each compared with the reference after it commits (reads in between, so
/// a backend's cached indexes are patched as well as built).
fn random_writes_match_the_reference(make: &dyn Fn() -> Box<dyn Counts>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (s, reference) = (make(), MemCounts::default());
    let keys = test_keys();
    for step in 0..8 {
        let b = random_batch(&mut rng, &keys, &["csv", "log-a", "log-b"]);
        let got = b.apply(s.as_ref()).expect("the backend accepts the batch");
        let want = b
            .apply(&reference)
            .expect("the reference accepts the batch");
        assert_eq!(got, want, "seed {seed} step {step}: versions");
        assert_eq!(
            stats_without_times(s.as_ref()),
            stats_without_times(&reference),
            "seed {seed} step {step}: sources and repositories"
        );
        for o in ["acme", "beta"] {
            let o = org(o);
            assert_eq!(
                view(s.as_ref(), &o, &test_ranges()),
                view(&reference, &o, &test_ranges()),
                "seed {seed} step {step}: {o} after {b:?}"
            );
        }
    }
}

/// The store's stats with the sources' application times left out (the reference has none).
fn stats_without_times(counts: &dyn Counts) -> CountsStats {
    let mut stats = counts.stats().expect("stats");
    stats.sources.iter_mut().for_each(|s| s.applied_unix = 0);
    stats
}

/// Distinct sources applied in any order, any of them twice, give the same store.
fn source_order_does_not_matter(make: &dyn Fn() -> Box<dyn Counts>, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
    let keys = test_keys();
    let names = ["s1", "s2", "s3", "s4"];
    let batches: Vec<Batch> = (names.iter())
        .map(|n| {
            let mut b = random_batch(&mut rng, &keys, &[n]);
            b.totals.clear(); // a total is "as of this write": order-dependent by definition
            b
        })
        .collect();
    let mut order: Vec<&Batch> = batches.iter().collect();
    let mut views = BTreeMap::new();
    for attempt in 0..3 {
        let s = make();
        order.shuffle(&mut rng);
        for b in &order {
            b.apply(s.as_ref()).unwrap();
        }
        let again = order[rng.random_range(0..order.len())];
        again.apply(s.as_ref()).unwrap();
        let v = view(s.as_ref(), &org("acme"), &test_ranges());
        views.insert(attempt, v);
    }
    assert_eq!(views[&0], views[&1], "seed {seed}");
    assert_eq!(views[&0], views[&2], "seed {seed}");
}

fn a_removed_organization_starts_again(make: &dyn Fn() -> Box<dyn Counts>) {
    let s = make();
    let (a, b) = (key("model", "acme/a"), key("model", "beta/b"));
    batch(
        "1",
        WriteMode::Replace,
        &[(&a, "2024-01-01", 1), (&b, "2024-01-01", 2)],
    )
    .apply(s.as_ref())
    .unwrap();
    assert_eq!(s.repos(&org("acme")).unwrap().len(), 1);
    s.remove_org(&org("acme")).unwrap();
    assert!(s.repos(&org("acme")).unwrap().is_empty());
    assert_eq!(
        (
            s.version(&org("acme")).unwrap(),
            s.repo_count(&org("acme")).unwrap()
        ),
        (0, 0)
    );
    assert_eq!(
        s.repo(&b).unwrap().unwrap().total,
        2,
        "other organizations keep their counts"
    );
    batch("2", WriteMode::Replace, &[(&a, "2024-01-02", 5)])
        .apply(s.as_ref())
        .unwrap();
    let again = s.repos(&org("acme")).unwrap();
    assert_eq!((again.len(), again[0].total), (1, 5));
}
