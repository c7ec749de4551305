//! Feeds arbitrary bytes to the breakdown CSV import over a seeded in-memory store: it must not
//! panic, and a refused file must leave the store's export unchanged.
#![no_main]

use hubstats::breakdown::{export::write_breakdown, import::import_reader, HEADER};
use hubstats::store::sqlite::SqliteStore;
use hubstats::store::Store;
use libfuzzer_sys::fuzz_target;

const BASE: &str = "model,acme/alpha,100,2024-01-01T00:00:00.000Z,10\n\
                    dataset,acme/data,7,2024-01-01T00:00:00.000Z,7\n";

fn dump(store: &dyn Store) -> Vec<u8> {
    let mut out = Vec::new();
    for org in store.orgs().expect("listing organizations") {
        out.extend(format!("{org:?}\n").into_bytes());
        write_breakdown(store, &org.name, &mut out).expect("exporting");
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let store = SqliteStore::memory().expect("an in-memory store");
    let base = format!("{HEADER}\n{BASE}");
    import_reader(&store, "base.csv", base.as_bytes(), &mut |_| {}).expect("the base imports");
    let before = dump(&store);
    if import_reader(&store, "fuzz.csv", input, &mut |_| {}).is_err() {
        assert_eq!(dump(&store), before, "a refused file changed the store");
    }
});
