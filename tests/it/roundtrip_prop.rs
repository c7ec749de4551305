//! Any canonical breakdown CSV imports and exports back byte for byte (library surface, so
//! many cases run fast).

use std::collections::BTreeMap;

use hubstats::breakdown::{export::write_breakdown, import::import_reader, HEADER};
use hubstats::domain::{Day, OrgName, RepoType};
use hubstats::store::Stores;
use proptest::prelude::*;

/// A repository of org `acme`: (type, short name, total offset, days → downloads).
type Repo = (RepoType, String, i64, BTreeMap<i32, u64>);

fn repo() -> impl Strategy<Value = Repo> {
    (
        prop_oneof![Just(RepoType::Model), Just(RepoType::Dataset)],
        "[A-Za-z0-9][A-Za-z0-9_.-]{0,12}[A-Za-z0-9]",
        -50i64..10_000,
        prop::collection::btree_map(
            Day::MIN.epoch_days()..Day::MAX.epoch_days(),
            1..100_000u64,
            1..20,
        ),
    )
        .prop_filter("Hub names have no -- or ..", |(_, n, _, _)| {
            !n.contains("--") && !n.contains("..")
        })
}

/// The canonical CSV of these repositories: models first, names by bytes, days ascending.
fn canonical(repos: &[Repo]) -> String {
    let mut sorted: BTreeMap<(RepoType, String), &Repo> = BTreeMap::new();
    for r in repos {
        sorted.entry((r.0, r.1.clone())).or_insert(r);
    }
    let mut out = format!("{HEADER}\n");
    for ((t, name), (_, _, offset, days)) in sorted {
        let sum: u64 = days.values().sum();
        let total = (sum as i64 + offset).max(0);
        for (d, n) in days {
            let mut stamp = String::new();
            Day::from_epoch_days(*d)
                .write_timestamp(&mut stamp)
                .unwrap();
            out.push_str(&format!("{t},acme/{name},{total},{stamp},{n}\n"));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn canonical_csvs_round_trip(repos in prop::collection::vec(repo(), 0..8)) {
        let csv = canonical(&repos);
        let store = Stores::memory().unwrap();
        import_reader(&store, "random.csv", csv.as_bytes(), &mut |_| {}).unwrap();
        let mut out = Vec::new();
        write_breakdown(&store, &OrgName::parse("acme").unwrap(), &mut out).unwrap();
        prop_assert_eq!(String::from_utf8(out).unwrap(), csv);
    }
}
