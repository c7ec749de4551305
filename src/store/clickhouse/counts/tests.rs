//! The counts conformance suite against a real server (`#[ignore]`d: it needs
//! `clickhouse-server`; `--include-ignored` runs it and fails without one).

use std::sync::Arc;

use super::ClickHouseCounts;
use crate::store::clickhouse::testing::ClickHouseServer;
use crate::store::reference::{day, key};
use crate::store::{conformance, Batch, Counts, SourceId, WriteMode};

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_counts_conform() {
    let server = ClickHouseServer::start();
    conformance::run_all(&|| Box::new(ClickHouseCounts::new(server.client())));
}

// Two stores on one database (two application servers): a write through one is read by the
// other, its cached index patched rather than stale.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_counts_written_by_another_process_are_read() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let (writer, reader) = (
        ClickHouseCounts::new(Arc::clone(&client)),
        ClickHouseCounts::new(client),
    );
    let a = key("model", "acme/a");
    let mut b = Batch::new(SourceId::parse("csv").unwrap(), WriteMode::Merge);
    b.days.push((a.clone(), day("2024-01-01"), 5));
    b.apply(&writer).unwrap();
    assert_eq!(reader.repo(&a).unwrap().unwrap().total, 5);
    b.days[0].2 = 7;
    b.days.push((key("model", "acme/b"), day("2024-01-02"), 1));
    b.apply(&writer).unwrap();
    let repos = reader.repos(&a.name.org()).unwrap();
    assert_eq!(repos.iter().map(|r| r.total).collect::<Vec<_>>(), [7, 1]);
}
