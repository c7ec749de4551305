//! The checks every [`HubSnapshots`] backend passes: each takes a constructor of fresh, empty
//! stores (a [`Counts`] whose `hub_snapshots()` is some). SQLite runs them in
//! `sqlite/counts/tests.rs`, ClickHouse in `clickhouse/snapshots.rs`.

use crate::domain::OrgName;
use crate::store::reference::{day, key};
use crate::store::{Around, Counts, HubSnapshots, Reading};

type MakeStore<'a> = &'a dyn Fn() -> Box<dyn Counts>;

/// Runs every check against stores made by `make`.
pub fn run_all(make: MakeStore<'_>) {
    a_snapshot_is_read_back_in_export_order(make);
    a_snapshot_taken_again_the_same_day_replaces_it_whole(make);
    readings_around_a_day_are_the_nearest_ones(make);
    organizations_are_kept_apart_and_removed_with_their_counts(make);
}

fn snapshots_of(store: &dyn Counts) -> &dyn HubSnapshots {
    store
        .hub_snapshots()
        .expect("the backend keeps hub snapshots")
}

fn org(s: &str) -> OrgName {
    OrgName::parse(s).expect("an organization name")
}

fn reading(d: &str, all_time: u64) -> Reading {
    Reading {
        day: day(d),
        all_time,
    }
}

fn a_snapshot_is_read_back_in_export_order(make: MakeStore<'_>) {
    let store = make();
    let s = snapshots_of(store.as_ref());
    let acme = org("acme");
    assert!(s.snapshots(&acme).unwrap().is_empty());
    let readings = vec![
        (key("dataset", "acme/d"), 7),
        (key("model", "acme/b"), 2),
        (key("model", "acme/B"), 9_007_199_254_740_991),
    ];
    s.put_snapshot(&acme, day("2024-03-02"), 1_709_337_600, &readings)
        .unwrap();
    let infos = s.snapshots(&acme).unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!((infos[0].day, infos[0].repos), (day("2024-03-02"), 3));
    assert_eq!(infos[0].taken_unix, 1_709_337_600);
    let back = s.snapshot(&acme, day("2024-03-02")).unwrap();
    assert_eq!(
        back,
        vec![
            (key("model", "acme/B"), 9_007_199_254_740_991),
            (key("model", "acme/b"), 2),
            (key("dataset", "acme/d"), 7),
        ]
    );
    assert!(s.snapshot(&acme, day("2024-03-01")).unwrap().is_empty());
    assert_eq!(
        s.readings(&key("model", "acme/b")).unwrap(),
        vec![reading("2024-03-02", 2)]
    );
    assert_eq!(s.snapshot_orgs().unwrap(), vec![acme]);
}

fn a_snapshot_taken_again_the_same_day_replaces_it_whole(make: MakeStore<'_>) {
    let store = make();
    let s = snapshots_of(store.as_ref());
    let acme = org("acme");
    let d = day("2024-03-02");
    let first = [(key("model", "acme/a"), 1), (key("model", "acme/b"), 2)];
    s.put_snapshot(&acme, d, 10, &first).unwrap();
    s.put_snapshot(&acme, d, 20, &[(key("model", "acme/a"), 5)])
        .unwrap();
    assert_eq!(
        s.snapshot(&acme, d).unwrap(),
        vec![(key("model", "acme/a"), 5)]
    );
    assert!(s.readings(&key("model", "acme/b")).unwrap().is_empty());
    let infos = s.snapshots(&acme).unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!((infos[0].repos, infos[0].taken_unix), (1, 20));
    // And back: the repository it dropped returns.
    s.put_snapshot(&acme, d, 30, &first).unwrap();
    assert_eq!(s.snapshot(&acme, d).unwrap(), first.to_vec());
}

fn readings_around_a_day_are_the_nearest_ones(make: MakeStore<'_>) {
    let store = make();
    let s = snapshots_of(store.as_ref());
    let acme = org("acme");
    let a = key("model", "acme/a");
    let b = key("dataset", "acme/b");
    for (d, readings) in [
        ("2024-03-01", vec![(a.clone(), 10), (b.clone(), 1)]),
        ("2024-03-02", vec![(a.clone(), 12)]),
        ("2024-03-05", vec![(a.clone(), 20)]),
        ("2024-03-09", vec![(a.clone(), 30), (b.clone(), 4)]),
    ] {
        s.put_snapshot(&acme, day(d), 0, &readings).unwrap();
    }
    let around = s.around(&acme, day("2024-03-05")).unwrap();
    assert_eq!(
        around,
        vec![
            Around {
                repo: a.clone(),
                before: Some(reading("2024-03-02", 12)),
                at: Some(20),
                after: Some(reading("2024-03-09", 30)),
                last: Some(reading("2024-03-09", 30)),
            },
            Around {
                repo: b.clone(),
                before: Some(reading("2024-03-01", 1)),
                at: None,
                after: Some(reading("2024-03-09", 4)),
                last: Some(reading("2024-03-09", 4)),
            },
        ]
    );
    let later = s.around(&acme, day("2024-03-10")).unwrap();
    assert_eq!(later[0].before, Some(reading("2024-03-09", 30)));
    assert_eq!(
        (later[0].at, later[0].after, later[0].last),
        (None, None, None)
    );
    let days: Vec<_> = (s.snapshots(&acme).unwrap().iter())
        .map(|i| i.day)
        .collect();
    assert_eq!(
        days,
        ["2024-03-01", "2024-03-02", "2024-03-05", "2024-03-09"].map(day)
    );
}

fn organizations_are_kept_apart_and_removed_with_their_counts(make: MakeStore<'_>) {
    let store = make();
    let s = snapshots_of(store.as_ref());
    let (acme, other) = (org("acme"), org("acme-labs"));
    s.put_snapshot(&acme, day("2024-03-01"), 0, &[(key("model", "acme/a"), 1)])
        .unwrap();
    s.put_snapshot(
        &other,
        day("2024-03-01"),
        0,
        &[(key("model", "acme-labs/a"), 2)],
    )
    .unwrap();
    assert!(s
        .put_snapshot(
            &acme,
            day("2024-03-02"),
            0,
            &[(key("model", "acme-labs/a"), 2)]
        )
        .is_err());
    assert_eq!(s.around(&acme, day("2024-03-02")).unwrap().len(), 1);
    assert_eq!(
        s.snapshot_orgs().unwrap(),
        vec![acme.clone(), other.clone()]
    );
    store.remove_org(&acme).unwrap();
    assert!(s.snapshots(&acme).unwrap().is_empty());
    assert!(s.readings(&key("model", "acme/a")).unwrap().is_empty());
    assert_eq!(s.snapshots(&other).unwrap().len(), 1);
    assert_eq!(s.snapshot_orgs().unwrap(), vec![other]);
}
