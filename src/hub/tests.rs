//! `apply_snapshot` against an embedded store, checked with figures computed by hand.

use super::*;
use crate::store::reference::{day, key};
use crate::store::{Counts, DailyFilter, Stores};

fn listed(items: &[(&str, &str, u64)]) -> Vec<Listed> {
    (items.iter())
        .map(|(t, name, n)| Listed {
            key: key(t, name),
            downloads_all_time: *n,
        })
        .collect()
}

fn days_of(store: &dyn Counts, t: &str, name: &str) -> Vec<(String, u64)> {
    let repo = key(t, name);
    let mut out = Vec::new();
    let filter = DailyFilter {
        repos: Some(std::slice::from_ref(&repo)),
        range: None,
    };
    store
        .for_each_daily(&repo.name.org(), filter, &mut |r| {
            out.push((r.day.to_string(), r.downloads));
            Ok(())
        })
        .unwrap();
    out
}

fn total(store: &dyn Counts, t: &str, name: &str) -> (u64, i64) {
    let r = store.repo(&key(t, name)).unwrap().unwrap();
    (r.total, r.adjustment)
}

#[test]
fn snapshots_become_days_estimates_and_corrections() {
    let store = Stores::memory().unwrap();
    let acme = OrgName::parse("acme").unwrap();
    let first = listed(&[("model", "acme/a", 100), ("dataset", "acme/b", 50)]);
    let r = apply_snapshot(&store, &acme, day("2024-03-01"), 1, &first).unwrap();
    assert_eq!(
        (r.models, r.datasets, r.previous, r.days_written),
        (1, 1, None, 0)
    );
    assert!(r.org_created);
    assert_eq!(total(&store, "model", "acme/a"), (100, 100));

    let second = listed(&[
        ("model", "acme/a", 130),
        ("model", "acme/c", 5),
        ("dataset", "acme/b", 50),
    ]);
    let r = apply_snapshot(&store, &acme, day("2024-03-02"), 2, &second).unwrap();
    assert_eq!((r.appeared, r.disappeared, r.corrections), (1, 0, 0));
    assert!(!r.org_created);

    // Three days later: a grew by 30 (10 a day, estimated), b went down, c is gone.
    let fifth = listed(&[("model", "acme/a", 160), ("dataset", "acme/b", 40)]);
    let r = apply_snapshot(&store, &acme, day("2024-03-05"), 3, &fifth).unwrap();
    assert_eq!(r.previous, Some(day("2024-03-02")));
    assert_eq!((r.appeared, r.disappeared, r.corrections), (0, 1, 1));
    let a = [
        ("2024-03-02", 30),
        ("2024-03-03", 10),
        ("2024-03-04", 10),
        ("2024-03-05", 10),
    ];
    let a: Vec<_> = a.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    assert_eq!(days_of(&store, "model", "acme/a"), a);
    assert_eq!(total(&store, "model", "acme/a"), (160, 100));
    assert!(days_of(&store, "dataset", "acme/b").is_empty());
    assert_eq!(total(&store, "dataset", "acme/b"), (40, 40));
    assert_eq!(total(&store, "model", "acme/c"), (5, 5));

    // The same day again with the same counters changes nothing; a back-fill of 03-04
    // splits the gap.
    let r = apply_snapshot(&store, &acme, day("2024-03-05"), 4, &fifth).unwrap();
    assert_eq!(r.days_written, 0);
    let fourth = listed(&[("model", "acme/a", 154), ("dataset", "acme/b", 45)]);
    apply_snapshot(&store, &acme, day("2024-03-04"), 5, &fourth).unwrap();
    let a = [
        ("2024-03-02", 30),
        ("2024-03-03", 12),
        ("2024-03-04", 12),
        ("2024-03-05", 6),
    ];
    let a: Vec<_> = a.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    assert_eq!(days_of(&store, "model", "acme/a"), a);
    assert_eq!(total(&store, "model", "acme/a"), (160, 100));
    let s = store.hub_snapshots().unwrap();
    let h = derive::history(&s.readings(&key("dataset", "acme/b")).unwrap()).unwrap();
    let corrections: Vec<_> = h
        .corrections
        .iter()
        .map(|c| (c.day, c.from, c.to))
        .collect();
    assert_eq!(
        corrections,
        vec![(day("2024-03-04"), 50, 45), (day("2024-03-05"), 45, 40)]
    );
}

#[test]
fn a_copy_of_the_store_keeps_the_snapshots() {
    let from = Stores::memory().unwrap();
    let acme = OrgName::parse("acme").unwrap();
    let days = [("2024-03-01", 10), ("2024-03-04", 40)];
    for (d, n) in days {
        let l = listed(&[("model", "acme/a", n), ("dataset", "acme/b", 1)]);
        apply_snapshot(&from, &acme, day(d), 7, &l).unwrap();
    }
    let to = Stores::memory().unwrap();
    let report = crate::store::copy::copy_store(&from, &to, &mut |_| {}).unwrap();
    assert_eq!(report.snapshots, 2);
    let (a, b) = (from.hub_snapshots().unwrap(), to.hub_snapshots().unwrap());
    assert_eq!(a.snapshots(&acme).unwrap(), b.snapshots(&acme).unwrap());
    for (d, _) in days {
        assert_eq!(
            a.snapshot(&acme, day(d)).unwrap(),
            b.snapshot(&acme, day(d)).unwrap()
        );
    }
    assert_eq!(
        days_of(&to, "model", "acme/a"),
        days_of(&from, "model", "acme/a")
    );
    assert_eq!(total(&to, "model", "acme/a"), (40, 10));
    // Collecting on goes on from the copied snapshots.
    let l = listed(&[("model", "acme/a", 41), ("dataset", "acme/b", 1)]);
    let r = apply_snapshot(&to, &acme, day("2024-03-05"), 8, &l).unwrap();
    assert_eq!(r.previous, Some(day("2024-03-04")));
    assert_eq!(total(&to, "model", "acme/a"), (41, 10));
}
