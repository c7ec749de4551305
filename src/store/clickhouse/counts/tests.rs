//! The counts conformance suite against a real server (marked
//! `#[ignore = "needs clickhouse-server"]`; `--include-ignored` runs it and fails without one).

use std::sync::Arc;

use super::ClickHouseCounts;
use crate::domain::OrgName;
use crate::store::clickhouse::testing::ClickHouseServer;
use crate::store::reference::{day, key};
use crate::store::{conformance, Batch, Counts, SourceId, StoreError, WriteMode};

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_counts_conform() {
    let server = ClickHouseServer::start();
    conformance::run_all(&|| Box::new(ClickHouseCounts::new(server.client())));
}

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_hub_snapshots_conform() {
    let server = ClickHouseServer::start();
    conformance::snapshots::run_all(&|| Box::new(ClickHouseCounts::new(server.client())));
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

// A commit is one insert of one block, so one new part whatever it holds: readers see all of
// it or none of it. 1.1 million values: more than ClickHouse's default insert block
// (1,048,576 rows), which would otherwise split the insert into parts visible one by one.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_a_commit_is_one_part() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let counts = ClickHouseCounts::new(Arc::clone(&client));
    // Merges would change the number of parts under the test's feet.
    client
        .execute(&format!("SYSTEM STOP MERGES {}.counts", client.database))
        .unwrap();
    let parts = || {
        let sql = format!(
            "SELECT count() FROM system.parts WHERE database = '{}' AND table = 'counts' \
             AND active",
            client.database
        );
        client.query(&sql, |r| r.u64(0)).unwrap()[0]
    };
    let source = SourceId::parse("big").unwrap();
    let first = day("2001-01-01").epoch_days();
    let repos = [
        key("model", "acme/a"),
        key("dataset", "acme/b"),
        key("model", "beta/c"),
        key("model", "gamma/d"),
    ];
    let mut w = counts.write(&source, WriteMode::Replace).unwrap();
    for repo in &repos {
        for offset in 0..275_000 {
            let d = crate::domain::Day::from_epoch_days(first + offset);
            w.set(repo, d, 1 + (offset as u64 % 7)).unwrap();
        }
        w.set_total(repo, 10_000_000).unwrap();
    }
    let before = parts();
    let committed = w.commit().unwrap();
    assert_eq!(committed.versions.len(), 3);
    assert_eq!(parts(), before + 1, "one part for 1.1 million values");
    assert_eq!(counts.source(&source).unwrap().unwrap().rows, 1_100_000);
    let adjustment = counts.repo(&repos[0]).unwrap().unwrap().adjustment;
    // Replacing them with one value writes its tombstones in one part too.
    let mut b = Batch::new(source.clone(), WriteMode::Replace);
    b.days.push((repos[0].clone(), day("2001-01-01"), 1));
    b.apply(&counts).unwrap();
    assert_eq!(parts(), before + 2);
    assert_eq!(counts.source(&source).unwrap().unwrap().rows, 1);
    let after = counts.repo(&repos[0]).unwrap().unwrap();
    assert_eq!(
        (after.adjustment, after.total as i64),
        (adjustment, adjustment + 1)
    );
}

// Every insert is one block, however many rows: ClickHouse 24 and later also cut blocks at
// `min_insert_block_size_rows` (1,048,449 rows) whatever `max_insert_block_size` says, which
// made a 3-million-row insert three parts.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_an_insert_of_more_rows_than_a_block_is_one_part() {
    let server = ClickHouseServer::start();
    let client = server.client();
    client
        .execute("CREATE TABLE many (n UInt64) ENGINE = MergeTree ORDER BY n")
        .unwrap();
    client
        .execute(&format!("SYSTEM STOP MERGES {}.many", client.database))
        .unwrap();
    let mut body = String::new();
    for n in 0..2_200_000u64 {
        body.push_str(itoa::Buffer::new().format(n));
        body.push('\n');
    }
    client.insert("many", "n", &body).unwrap();
    let sql = format!(
        "SELECT count(), sum(rows) FROM system.parts WHERE database = '{}' AND table = 'many' \
         AND active",
        client.database
    );
    let parts = client.query(&sql, |r| Ok((r.u64(0)?, r.u64(1)?))).unwrap();
    assert_eq!(parts, [(1, 2_200_000)], "(parts, rows)");
}

// A commit whose server went away before it was sent leaves nothing behind, and the same batch
// written again once the server is back (twice: a retry after a lost answer) counts once.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_a_failed_commit_counts_nothing_and_its_retries_count_once() {
    let mut server = ClickHouseServer::start();
    let counts = ClickHouseCounts::new(server.client());
    let source = SourceId::parse("batch-1").unwrap();
    let mut b = Batch::new(source.clone(), WriteMode::Replace);
    b.days.push((key("model", "acme/a"), day("2024-01-01"), 5));
    b.days.push((key("model", "beta/c"), day("2024-01-02"), 3));
    let mut w = counts.write(&source, WriteMode::Replace).unwrap();
    for (repo, d, n) in &b.days {
        w.set(repo, *d, *n).unwrap();
    }
    server.stop();
    let err = w.commit().unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    server.restart();
    assert_eq!(counts.source(&source).unwrap(), None);
    assert_eq!(counts.version(&OrgName::parse("acme").unwrap()).unwrap(), 0);
    b.apply(&counts).unwrap();
    b.apply(&counts).unwrap();
    assert_eq!(counts.source(&source).unwrap().unwrap().rows, 2);
    for (repo, _, n) in &b.days {
        assert_eq!(counts.repo(repo).unwrap().unwrap().total, *n);
    }
}
