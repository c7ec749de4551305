//! The CSV import never panics on outside input, and a file it refuses leaves the store exactly
//! as it was (all-or-nothing per file): arbitrary bytes, arbitrary rows after a valid header,
//! and valid files with bytes flipped, inserted or deleted.

use hubstats::breakdown::{export::write_breakdown, import::import_reader, HEADER};
use hubstats::store::Store;
use hubstats::store::Stores;
use proptest::prelude::*;
use proptest::sample::Index;

/// What the store holds before the tested import.
const BASE: &str = "\
model,acme/alpha,100,2024-01-01T00:00:00.000Z,10
model,acme/alpha,100,2024-01-02T00:00:00.000Z,20
dataset,acme/data,7,2024-01-01T00:00:00.000Z,7
";

/// The valid file the mutations start from: it changes `acme`'s figures and adds `beta`, so a
/// partly applied import would show.
const CANONICAL: &str = "\
model,acme/alpha,250,2024-01-01T00:00:00.000Z,30
model,acme/alpha,250,2024-01-03T00:00:00.000Z,40
model,beta/gamma,5,2024-02-01T00:00:00.000Z,5
dataset,acme/data,9,2024-01-02T00:00:00.000Z,2
dataset,beta/set,3,2024-03-01T00:00:00.000Z,3
";

fn with_header(rows: &str) -> Vec<u8> {
    format!("{HEADER}\n{rows}").into_bytes()
}

fn seeded_store() -> Stores {
    let store = Stores::memory().unwrap();
    import_reader(
        &store,
        "base.csv",
        with_header(BASE).as_slice(),
        &mut |_| {},
    )
    .unwrap();
    store
}

/// Everything the store can say: its organizations (plans, repository counts) and each one's
/// export.
fn dump(store: &dyn Store) -> String {
    let mut out = String::new();
    for org in store.orgs().unwrap() {
        out.push_str(&format!("{org:?}\n"));
        let mut csv = Vec::new();
        write_breakdown(store, &org.name, &mut csv).unwrap();
        out.push_str(&String::from_utf8(csv).unwrap());
    }
    out
}

/// Imports `input` into a seeded store: never panics; refused input changes nothing, and
/// accepted input imported again changes nothing more.
fn check_import(input: &[u8]) -> Result<(), TestCaseError> {
    let store = seeded_store();
    let before = dump(&store);
    match import_reader(&store, "input.csv", input, &mut |_| {}) {
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            prop_assert_eq!(
                dump(&store),
                before,
                "refused input changed the store: {}",
                e
            );
        }
        Ok(_) => {
            let after = dump(&store);
            let again = import_reader(&store, "again.csv", input, &mut |_| {});
            prop_assert!(again.is_ok(), "accepted once, refused again: {:?}", again);
            prop_assert_eq!(dump(&store), after, "re-importing changed the store");
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

/// Bytes that mean something to the parser, and any byte.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b",\n\r\"-./:TZ0123456789".to_vec()),
        any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), byte()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        any::<Index>().prop_map(Mutation::Delete),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match *m {
            Mutation::Insert(at, b) => bytes.insert(at.index(bytes.len() + 1), b),
            Mutation::Flip(at, bit) if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
            Mutation::Delete(at) if !bytes.is_empty() => {
                bytes.remove(at.index(bytes.len()));
            }
            _ => {}
        }
    }
    bytes
}

#[test]
fn the_canonical_file_imports_and_changes_the_store() {
    let store = seeded_store();
    let before = dump(&store);
    import_reader(
        &store,
        "c.csv",
        with_header(CANONICAL).as_slice(),
        &mut |_| {},
    )
    .unwrap();
    assert_ne!(dump(&store), before, "mutants of it would test nothing");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..600)) {
        check_import(&input)?;
    }

    #[test]
    fn arbitrary_rows_after_a_valid_header(rows in prop::collection::vec(byte(), 0..600)) {
        let mut input = with_header("");
        input.extend(rows);
        check_import(&input)?;
    }

    #[test]
    fn mutated_valid_files(mutations in prop::collection::vec(mutation(), 1..6)) {
        let input = mutate(with_header(CANONICAL), &mutations);
        check_import(&input)?;
    }
}
