use std::collections::BTreeMap;

use proptest::prelude::*;

use super::super::SqliteStore;
use crate::domain::{Day, DayRange, OrgName, RepoKey, RepoName, RepoType};
use crate::store::{Counts, DailyFilter};

fn key(t: RepoType, name: &str) -> RepoKey {
    RepoKey {
        repo_type: t,
        name: RepoName::parse(name).unwrap(),
    }
}

fn day(s: &str) -> Day {
    s.parse().unwrap()
}

fn org(s: &str) -> OrgName {
    OrgName::parse(s).unwrap()
}

/// Every daily row of an organization, as `(type, name, total, day, downloads)`.
fn rows(
    store: &SqliteStore,
    o: &str,
    filter: DailyFilter<'_>,
) -> Vec<(RepoType, String, u64, Day, u64)> {
    let mut out = Vec::new();
    store
        .for_each_daily(&org(o), filter, &mut |r| {
            out.push((
                r.repo_type,
                r.repo_name.to_owned(),
                r.total,
                r.day,
                r.downloads,
            ));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn totals_keep_the_adjustment_even_below_the_day_sum() {
    let store = SqliteStore::memory().unwrap();
    let a = key(RepoType::Model, "acme/a");
    let mut tx = store.begin().unwrap();
    tx.set_daily(&a, day("2024-01-01"), 10).unwrap();
    tx.set_daily(&a, day("2024-01-03"), 5).unwrap();
    tx.set_total(&a, 12).unwrap();
    assert_eq!(tx.created_orgs(), 1);
    tx.commit().unwrap();
    let repo = store.repo(&a).unwrap().unwrap();
    assert_eq!((repo.total, repo.adjustment), (12, -3));
    assert_eq!(
        (repo.first_day, repo.last_day),
        (Some(day("2024-01-01")), Some(day("2024-01-03")))
    );

    let mut tx = store.begin().unwrap();
    tx.add_daily(&a, day("2024-01-03"), 4).unwrap();
    tx.set_daily(&a, day("2024-01-01"), 0).unwrap();
    assert_eq!(tx.created_orgs(), 0);
    tx.commit().unwrap();
    let repo = store.repo(&a).unwrap().unwrap();
    assert_eq!(
        (repo.total, repo.adjustment),
        (6, -3),
        "adding keeps the adjustment"
    );
    assert_eq!(repo.first_day, Some(day("2024-01-03")));
    assert_eq!(
        rows(&store, "acme", DailyFilter::default()),
        vec![(RepoType::Model, "acme/a".into(), 6, day("2024-01-03"), 9)]
    );
}

#[test]
fn a_dropped_transaction_leaves_nothing() {
    let store = SqliteStore::memory().unwrap();
    let a = key(RepoType::Dataset, "acme/a");
    {
        let mut tx = store.begin().unwrap();
        tx.set_daily(&a, day("2024-01-01"), 10).unwrap();
        assert!(tx.record_source("file-1").unwrap());
    }
    assert_eq!(store.repo(&a).unwrap(), None);
    assert!(store.repos(&org("acme")).unwrap().is_empty());
    assert!(!store.is_ingested("file-1").unwrap());
}

#[test]
fn sources_are_recorded_once() {
    let store = SqliteStore::memory().unwrap();
    let mut tx = store.begin().unwrap();
    assert!(tx.record_source("file-1").unwrap());
    assert!(!tx.record_source("file-1").unwrap());
    tx.commit().unwrap();
    assert!(store.is_ingested("file-1").unwrap());
    let mut tx = store.begin().unwrap();
    assert!(!tx.record_source("file-1").unwrap());
}

#[test]
fn reads_come_in_export_order() {
    let store = SqliteStore::memory().unwrap();
    let keys = [
        key(RepoType::Dataset, "acme/a"),
        key(RepoType::Model, "acme/b"),
        key(RepoType::Model, "acme/B"),
        key(RepoType::Model, "other/a"),
    ];
    let mut tx = store.begin().unwrap();
    for (i, k) in keys.iter().enumerate() {
        tx.set_daily(k, day("2024-02-02"), 1 + i as u64).unwrap();
        tx.set_daily(k, day("2024-02-01"), 10).unwrap();
    }
    tx.commit().unwrap();
    let names: Vec<_> = store
        .repos(&org("acme"))
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(
        names,
        vec![keys[2].clone(), keys[1].clone(), keys[0].clone()]
    );
    let streamed: Vec<_> = rows(&store, "acme", DailyFilter::default())
        .into_iter()
        .map(|r| (r.1, r.3))
        .collect();
    let expected: Vec<_> = [
        ("acme/B", "2024-02-01"),
        ("acme/B", "2024-02-02"),
        ("acme/b", "2024-02-01"),
    ]
    .into_iter()
    .chain([
        ("acme/b", "2024-02-02"),
        ("acme/a", "2024-02-01"),
        ("acme/a", "2024-02-02"),
    ])
    .map(|(n, d)| (n.to_owned(), day(d)))
    .collect();
    assert_eq!(streamed, expected);
    let only = [keys[0].clone(), keys[3].clone()];
    let range = DayRange::new(day("2024-02-02"), day("2024-02-02")).unwrap();
    let filtered = rows(
        &store,
        "acme",
        DailyFilter {
            repos: Some(&only),
            range: Some(range),
        },
    );
    assert_eq!(
        filtered,
        vec![(RepoType::Dataset, "acme/a".into(), 11, day("2024-02-02"), 1)]
    );
    assert!(store.period_sums(&org("nobody"), range).unwrap().is_empty());
    assert!(rows(&store, "nobody", DailyFilter::default()).is_empty());
}

/// Daily rows whose `cum` is not the sum of their repository's days up to theirs.
fn wrong_running_totals(store: &SqliteStore) -> i64 {
    store
        .writer()
        .query_row(
            "SELECT COUNT(*) FROM daily d WHERE cum != \
             (SELECT SUM(downloads) FROM daily e WHERE e.repo_id = d.repo_id AND e.day <= d.day)",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// Stores from before running totals get them computed by the migration.
#[test]
fn migration_3_computes_running_totals() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for (i, sql) in super::super::schema::MIGRATIONS[..2].iter().enumerate() {
        conn.execute_batch(&format!("{sql}; PRAGMA user_version = {};", i + 1))
            .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO orgs VALUES (1, 'acme', 'free', 0); \
         INSERT INTO repos (id, org_id, repo_type, name, daily_sum, first_day, last_day) \
             VALUES (1, 1, 0, 'acme/a', 10, 19000, 19005), (2, 1, 1, 'acme/b', 7, 19001, 19001); \
         INSERT INTO daily VALUES (1, 19000, 3), (1, 19002, 2), (1, 19005, 5), (2, 19001, 7);",
    )
    .unwrap();
    super::super::migrate(&conn, "test").unwrap();
    let mut stmt = conn
        .prepare("SELECT repo_id, day, cum FROM daily ORDER BY repo_id, day")
        .unwrap();
    let rows: Vec<(i64, i32, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![(1, 19000, 3), (1, 19002, 5), (1, 19005, 10), (2, 19001, 7)]
    );
}

#[derive(Debug, Clone)]
enum Op {
    Set(usize, i32, u64),
    Add(usize, i32, u64),
    Total(usize, u64),
}

fn op() -> impl Strategy<Value = Op> {
    // Days around three month boundaries, a few repositories, zeros to exercise deletes.
    let (repo, d, n) = (0..4usize, 0..100i32, 0..5u64);
    prop_oneof![
        (repo.clone(), d.clone(), n.clone()).prop_map(|(r, d, n)| Op::Set(r, d, n)),
        (repo.clone(), d, n).prop_map(|(r, d, n)| Op::Add(r, d, n)),
        (repo, 0..500u64).prop_map(|(r, t)| Op::Total(r, t)),
    ]
}

const REPOS: [(RepoType, &str); 4] = [
    (RepoType::Model, "acme/x"),
    (RepoType::Dataset, "acme/x"),
    (RepoType::Model, "acme/y"),
    (RepoType::Model, "beta/z"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The rollups (sums, first/last day, running totals, per-organization days) always equal what
    /// the daily rows give when computed from scratch.
    #[test]
    fn rollups_match_the_daily_rows(
        batches in prop::collection::vec(prop::collection::vec(op(), 0..20), 1..4),
        from in 0..100i32, len in 1..100i32,
    ) {
        let store = SqliteStore::memory().unwrap();
        let base = day("2024-01-15").epoch_days();
        let keys: Vec<RepoKey> = REPOS.iter().map(|(t, n)| key(*t, n)).collect();
        let mut model: BTreeMap<(usize, i32), u64> = BTreeMap::new();
        let mut totals: BTreeMap<usize, i64> = BTreeMap::new(); // adjustment per repo
        for batch in batches {
            let mut tx = store.begin().unwrap();
            let mut set_totals = BTreeMap::new();
            for op in batch {
                match op {
                    Op::Set(r, d, n) => { tx.set_daily(&keys[r], Day::from_epoch_days(base + d), n).unwrap(); model.insert((r, d), n); }
                    Op::Add(r, d, n) => { tx.add_daily(&keys[r], Day::from_epoch_days(base + d), n).unwrap(); *model.entry((r, d)).or_insert(0) += n; }
                    Op::Total(r, t) => { tx.set_total(&keys[r], t).unwrap(); set_totals.insert(r, t); }
                }
                totals.entry(match op { Op::Set(r, ..) | Op::Add(r, ..) | Op::Total(r, _) => r }).or_insert(0);
            }
            tx.commit().unwrap();
            for (r, t) in set_totals {
                let sum: u64 = model.iter().filter(|((m, _), _)| *m == r).map(|(_, n)| n).sum();
                totals.insert(r, t as i64 - sum as i64);
            }
        }
        model.retain(|_, n| *n > 0);
        prop_assert_eq!(wrong_running_totals(&store), 0);
        let range = DayRange::new(Day::from_epoch_days(base + from), Day::from_epoch_days(base + from + len)).unwrap();
        for (r, k) in keys.iter().enumerate() {
            let days: Vec<i32> = model.keys().filter(|(m, _)| *m == r).map(|(_, d)| *d).collect();
            let sum: u64 = model.iter().filter(|((m, _), _)| *m == r).map(|(_, n)| n).sum();
            let Some(adjustment) = totals.get(&r) else { prop_assert_eq!(store.repo(k).unwrap(), None); continue };
            let repo = store.repo(k).unwrap().unwrap();
            prop_assert_eq!(repo.adjustment, *adjustment);
            prop_assert_eq!(repo.total as i64, (adjustment + sum as i64).max(0));
            prop_assert_eq!(repo.first_day.map(|d| d.epoch_days() - base), days.first().copied());
            prop_assert_eq!(repo.last_day.map(|d| d.epoch_days() - base), days.last().copied());
        }
        let in_range = |d: i32| range.contains(Day::from_epoch_days(base + d));
        for o in ["acme", "beta"] {
            let expected: Vec<(RepoKey, u64)> = {
                let mut v: Vec<(RepoKey, u64)> = keys.iter().enumerate()
                    .filter(|(_, k)| k.name.org().as_str() == o)
                    .map(|(r, k)| (k.clone(), model.iter().filter(|((m, d), _)| *m == r && in_range(*d)).map(|(_, n)| n).sum()))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                v.sort();
                v
            };
            prop_assert_eq!(store.period_sums(&org(o), range).unwrap(), expected);
            let mut by_day: BTreeMap<(Day, RepoType), u64> = BTreeMap::new();
            for ((r, d), n) in &model {
                if keys[*r].name.org().as_str() == o && in_range(*d) {
                    *by_day.entry((Day::from_epoch_days(base + d), keys[*r].repo_type)).or_insert(0) += n;
                }
            }
            let by_day: Vec<_> = by_day.into_iter().map(|((d, t), n)| (d, t, n)).collect();
            prop_assert_eq!(store.org_daily(&org(o), Some(range)).unwrap(), by_day);
        }
    }
}

/// Writes one day of `acme/a` through `store`.
fn set_one(store: &SqliteStore, d: &str, downloads: u64) {
    let mut tx = store.begin().unwrap();
    tx.set_daily(&key(RepoType::Model, "acme/a"), day(d), downloads)
        .unwrap();
    tx.commit().unwrap();
}

// Regression guard for the query cache: a cached answer must never outlive a write, whether
// the write comes through the same store or through another process's connection.
#[test]
fn cached_sums_and_repos_follow_writes_from_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let server = SqliteStore::open(&path).unwrap();
    let other_process = SqliteStore::open(&path).unwrap();
    let range = DayRange::new(day("2024-01-01"), day("2024-01-31")).unwrap();
    let sums = |s: &SqliteStore| s.period_sums(&org("acme"), range).unwrap();
    let totals = |s: &SqliteStore| -> Vec<u64> {
        s.repos(&org("acme"))
            .unwrap()
            .iter()
            .map(|r| r.total)
            .collect()
    };

    set_one(&server, "2024-01-05", 3);
    assert_eq!(sums(&server)[0].1, 3);
    assert_eq!(sums(&server)[0].1, 3, "a cache hit gives the same answer");
    assert_eq!(totals(&server), [3]);

    set_one(&server, "2024-01-06", 4);
    assert_eq!(sums(&server)[0].1, 7);
    assert_eq!(totals(&server), [7]);

    set_one(&other_process, "2024-01-07", 10);
    assert_eq!(sums(&server)[0].1, 17);
    assert_eq!(totals(&server), [17]);

    // A rolled-back write changes nothing and keeps the cache valid.
    let mut tx = other_process.begin().unwrap();
    tx.set_daily(&key(RepoType::Model, "acme/a"), day("2024-01-08"), 99)
        .unwrap();
    drop(tx);
    assert_eq!(sums(&server)[0].1, 17);
}
