//! The events conformance suite against a real server (marked
//! `#[ignore = "needs clickhouse-server"]`; `--include-ignored` runs it and fails without one).

use std::sync::Arc;

use super::staging::{drop_staged, staged_writes, staging_table, UNMOVED};
use super::write::ClickHouseEventsWrite;
use super::{ClickHouseEvents, EVENT_COLUMNS};
use crate::domain::{Day, LogEvent, RepoKey};
use crate::store::clickhouse::testing::{ClickHouseCluster, ClickHouseServer};
use crate::store::clickhouse::{connect, mutations, ClickHouseCounts, Client, Location};
use crate::store::reference::{day, key};
use crate::store::{conformance, EventsWrite, LogEvents};

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_events_conform() {
    let server = ClickHouseServer::start();
    conformance::events::run_all(&|| Box::new(ClickHouseCounts::new(server.client())));
}

/// How many writes have a staging table.
fn staged_tables(client: &Client) -> usize {
    staged_writes(client).unwrap().len()
}

/// A `GET` of `repo` at `at_ms` by user `u`.
fn get_by_u(repo: RepoKey, at_ms: i64) -> LogEvent {
    LogEvent {
        repo,
        at_ms,
        method: "GET".into(),
        status: 200,
        path: None,
        user: Some("u".into()),
        ip: None,
    }
}

/// A write of another process: of a `ClickHouseEvents` of its own (alive to the end of the
/// test, as the process until it is killed), so its writer lock is not the test's.
fn write_of_another_process(client: &Arc<Client>) -> ClickHouseEventsWrite<'_> {
    let other: &'static ClickHouseEvents =
        Box::leak(Box::new(ClickHouseEvents::new(Arc::clone(client))));
    ClickHouseEventsWrite::new(client, other.writer.lock().unwrap())
}

/// Sends what `write` buffered and kills its process just before the commit: no commit, no
/// drop. Returns the write's id.
fn kill_before_commit(mut write: ClickHouseEventsWrite<'_>) -> u64 {
    let id = write.stage_now().unwrap();
    std::mem::forget(write);
    id
}

/// Stages two events in a write of another process and stops that process before its
/// commit; returns the write's id, `age_ns` older than now.
fn die_before_commit(client: &Arc<Client>, age_ns: u64) -> u64 {
    let mut write = write_of_another_process(client);
    for at_ms in [1_714_521_600_000, 1_717_200_000_000] {
        write
            .push(get_by_u(key("model", "acme/m"), at_ms), Some("bot"))
            .unwrap();
    }
    let id = kill_before_commit(write);
    // Its id says when it began.
    if age_ns > 0 {
        let earlier = id - age_ns;
        let table = staging_table(earlier);
        client
            .execute(&format!("CREATE TABLE {table} AS log_events"))
            .unwrap();
        client
            .execute(&format!(
                "INSERT INTO {table} (write_id, {cols}) SELECT {earlier}, {cols} FROM {}",
                staging_table(id),
                cols = EVENT_COLUMNS
            ))
            .unwrap();
        drop_staged(client, id).unwrap();
        return earlier;
    }
    id
}

fn event_days(events: &ClickHouseEvents) -> usize {
    let mut n = 0;
    events
        .event_days(None, None, &mut |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
    n
}

// A process stopped after staging its events but before the commit marker: nothing of the
// write is read, and the next write drops it once it is a day old (not before: it may be a
// write still running elsewhere).
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_a_write_stopped_before_its_commit_is_never_read_and_cleaned_up_later() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let events = ClickHouseEvents::new(Arc::clone(&client));
    die_before_commit(&client, 0);
    die_before_commit(&client, 2 * 24 * 3600 * 1_000_000_000);
    assert_eq!(event_days(&events), 0, "an uncommitted write is not read");
    assert_eq!(staged_tables(&client), 2);
    events.add_events().unwrap().commit().unwrap();
    assert_eq!(staged_tables(&client), 1, "the day-old one is dropped");
    assert_eq!(event_days(&events), 0);
}

// A process stopped between its commit marker and the end of the move: its events are read
// (from staging) at once, all of them, and the next write finishes the move.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_a_write_stopped_after_its_commit_is_read_whole_and_moved_by_the_next() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let events = ClickHouseEvents::new(Arc::clone(&client));
    let id = die_before_commit(&client, 0);
    client
        .execute(&format!("INSERT INTO log_writes VALUES ({id}, 0)"))
        .unwrap();
    assert_eq!(event_days(&events), 2, "committed: both days read");
    let unmoved = client.query(UNMOVED, |r| r.u64(0)).unwrap();
    assert_eq!(unmoved, [id]);
    events.add_events().unwrap().commit().unwrap();
    assert!(client.query(UNMOVED, |r| r.u64(0)).unwrap().is_empty());
    assert_eq!(staged_tables(&client), 0, "moved, and its staging dropped");
    assert_eq!(event_days(&events), 2);
    let moved = client
        .query("SELECT count() FROM log_events", |r| r.u64(0))
        .unwrap();
    assert_eq!(moved, [2]);
}

// Two processes ingesting overlapping events at once (their writes are not serialized with
// each other): the store holds the union, each event once, and nothing is left staged.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_overlapping_writes_of_two_processes_keep_the_union() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let m = key("model", "acme/m");
    let event = |i: i64| LogEvent {
        repo: m.clone(),
        at_ms: 1_714_521_600_000 + i * 1000,
        method: "GET".into(),
        status: 200,
        path: None,
        user: Some(format!("u{i}")),
        ip: None,
    };
    std::thread::scope(|scope| {
        for range in [0..3_000, 2_000..5_000] {
            let (client, event) = (Arc::clone(&client), &event);
            scope.spawn(move || {
                let events = ClickHouseEvents::new(client);
                for chunk in range.collect::<Vec<i64>>().chunks(500) {
                    let mut write = events.add_events().unwrap();
                    for &i in chunk {
                        write.push(event(i), Some("bot")).unwrap();
                    }
                    write.commit().unwrap();
                }
            });
        }
    });
    let events = ClickHouseEvents::new(Arc::clone(&client));
    let mut classes = Vec::new();
    events
        .agent_classes(&m, m_day(), &mut |class, n| {
            classes.push((class, n));
            Ok(())
        })
        .unwrap();
    assert_eq!(classes, [(Some("bot".to_owned()), 5_000)]);
    assert!(client.query(UNMOVED, |r| r.u64(0)).unwrap().is_empty());
    assert_eq!(staged_tables(&client), 0);
}

fn m_day() -> Day {
    day("2024-05-01")
}

/// Each server's count of its own rows of `table` (`filter`), in shard order.
fn per_shard_rows(client: &Client, table: &str, filter: &str) -> Vec<u64> {
    let sql = format!(
        "SELECT count() FROM {} WHERE {filter}",
        client.local_table(table)
    );
    (client.servers().into_iter())
        .map(|server| server.query(&sql, |r| r.u64(0)).unwrap()[0])
        .collect()
}

// On a two-shard cluster, a write whose events are staged on both shards and whose marker is
// on one of them, stopped before the move: every shard's staged events are read at once (the
// marker is looked up on the server running the query, not on each shard), and the next
// write moves each shard's own.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_write_stopped_after_its_commit_is_read_whole_on_every_shard() {
    let cluster = ClickHouseCluster::start();
    let client = cluster.client();
    let orgs = [
        "acme", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
    ];
    let mut write = write_of_another_process(&client);
    for org in orgs {
        let e = get_by_u(key("model", &format!("{org}/m")), 1_714_521_600_000);
        write.push(e, Some("bot")).unwrap();
    }
    // Killed between its marker (inserted below, as its commit would) and the move.
    let id = kill_before_commit(write);
    client
        .execute(&format!("INSERT INTO log_writes VALUES ({id}, 0)"))
        .unwrap();
    let staged = per_shard_rows(&client, &staging_table(id), "1");
    assert!(staged.iter().all(|&n| n > 0), "{staged:?}");
    let markers = per_shard_rows(&client, "log_writes", "1");
    assert!(markers.contains(&0), "the marker on one shard: {markers:?}");

    let events = ClickHouseEvents::new(Arc::clone(&client));
    assert_eq!(event_days(&events), orgs.len(), "every shard's events read");
    events.add_events().unwrap().commit().unwrap();
    assert!(client.query(UNMOVED, |r| r.u64(0)).unwrap().is_empty());
    assert_eq!(event_days(&events), orgs.len());
    assert_eq!(per_shard_rows(&client, "log_events", "1"), staged);
    assert_eq!(staged_tables(&client), 0);
}

// Staged rows are sent on a thread of their own while the caller reads on: an insert that
// fails there fails the write (at the next send or the commit), and nothing of it is read.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_a_staging_insert_that_fails_while_the_file_is_read_fails_the_write() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let events = ClickHouseEvents::new(Arc::clone(&client));
    let mut write = write_of_another_process(&client);
    write
        .push(get_by_u(key("model", "acme/m"), 1_714_521_500_000), None)
        .unwrap();
    let id = write.stage_now().unwrap();
    client
        .execute(&format!("DROP TABLE {}", staging_table(id)))
        .unwrap();
    // More than one send's worth of rows (about 8 MB each).
    let long_path = "weights/".repeat(40);
    let mut failed = None;
    for i in 0..60_000 {
        let mut e = get_by_u(key("model", "acme/m"), 1_714_521_600_000 + i);
        e.path = Some(format!("{long_path}{i}.gguf"));
        if let Err(e) = write.push(e, Some("bot")) {
            failed = Some(e);
            break;
        }
    }
    let failed = match failed {
        Some(e) => e,
        None => Box::new(write)
            .commit()
            .expect_err("a write whose rows were not staged commits"),
    };
    // The insert's own error, not a later query's on the missing table.
    assert!(
        format!("{:?}", failed).contains("INSERT INTO log_event_staging"),
        "the insert's error: {failed:?}"
    );
    assert_eq!(
        event_days(&events),
        0,
        "nothing of the failed write is read"
    );
    assert!(client.query(UNMOVED, |r| r.u64(0)).unwrap().is_empty());
}

// The count of new events names the write's organizations in its query while they are few;
// a log of a whole hub names too many for the server's `max_query_size`, and is counted by
// its days alone.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_a_write_of_twenty_thousand_organizations_counts_its_new_events() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let events = ClickHouseEvents::new(Arc::clone(&client));
    let push = |orgs: std::ops::Range<u32>| {
        let mut write = events.add_events().unwrap();
        for i in orgs {
            let repo = key("model", &format!("organization-{i:05}/m"));
            write
                .push(get_by_u(repo, 1_714_521_600_000), Some("bot"))
                .unwrap();
        }
        write.commit().unwrap()
    };
    assert_eq!(push(0..20_000), 20_000);
    assert_eq!(push(10_000..30_000), 10_000, "the first 10,000 were held");
    assert_eq!(push(0..3), 0, "a few organizations, named in the query");
}

// A database from before each write had a staging table of its own: opening it moves the
// committed write still in the former shared staging table into `log_events` (read whole,
// once), drops the uncommitted one with that table, and later writes stage their own way.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_events_staged_the_former_way_are_migrated() {
    let server = ClickHouseServer::start();
    let location = server.location();
    let parsed = Location::parse(&location).unwrap().unwrap();
    let client = connect(&parsed).unwrap();
    // Two days of acme/m, committed; one event of acme/other, never committed.
    let committed = die_before_commit(&client, 0);
    let mut other = get_by_u(key("model", "acme/other"), 1_714_521_600_000);
    other.user = Some("v".into());
    let mut write = write_of_another_process(&client);
    write.push(other, None).unwrap();
    let uncommitted = kill_before_commit(write);
    // Back to schema version 4.
    client.execute("DROP TABLE log_event_staged").unwrap();
    client
        .execute("ALTER TABLE log_events DROP COLUMN write_id")
        .unwrap();
    let former = (super::TABLES.iter())
        .find(|t| t.name == "log_event_staging")
        .unwrap();
    for sql in former.create(&client.database, None) {
        client.execute(&sql).unwrap();
    }
    for id in [committed, uncommitted] {
        client
            .execute(&format!(
                "INSERT INTO log_event_staging (write_id, pushed, {EVENT_COLUMNS}) \
                 SELECT {id}, 1, {EVENT_COLUMNS} FROM {}",
                staging_table(id)
            ))
            .unwrap();
        drop_staged(&client, id).unwrap();
    }
    client
        .execute(&format!("INSERT INTO log_writes VALUES ({committed}, 0)"))
        .unwrap();
    client
        .execute("ALTER TABLE schema_migrations DELETE WHERE version >= 5")
        .unwrap();
    mutations::wait_for(&client, "schema_migrations").unwrap();

    let client = connect(&parsed).unwrap();
    let events = ClickHouseEvents::new(Arc::clone(&client));
    assert_eq!(event_days(&events), 2, "the committed write, whole");
    let tables = client
        .query(
            &format!(
                "SELECT count() FROM system.tables WHERE database = '{}' \
                 AND name = 'log_event_staging'",
                client.database
            ),
            |r| r.u64(0),
        )
        .unwrap();
    assert_eq!(tables, [0], "the former staging table is dropped");
    let e = get_by_u(key("model", "acme/m"), 1_719_792_000_000);
    let mut write = events.add_events().unwrap();
    write.push(e, None).unwrap();
    assert_eq!(write.commit().unwrap(), 1);
    assert!(client.query(UNMOVED, |r| r.u64(0)).unwrap().is_empty());
    assert_eq!(event_days(&events), 3);
    assert_eq!(staged_tables(&client), 0);
}
