//! Cluster mode on two real servers, one per shard (marked
//! `#[ignore = "needs clickhouse-server"]`; `--include-ignored` runs it and fails without one).

use std::collections::BTreeSet;

use super::super::{connect, ClickHouseAccounts, ClickHouseCounts, Client, Location};
use crate::domain::{LogEvent, OrgName, Plan};
use crate::store::clickhouse::testing::{ClickHouseCluster, TEST_CLUSTER};
use crate::store::reference::{day, get_by, key};
use crate::store::{
    conformance, Accounts, Batch, Counts, EventFields, SourceId, StoreError, WriteMode,
};

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_counts_conform() {
    let cluster = ClickHouseCluster::start();
    conformance::run_all(&|| Box::new(ClickHouseCounts::new(cluster.client())));
}

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_accounts_conform() {
    let cluster = ClickHouseCluster::start();
    conformance::accounts::run_all(&|| Box::new(ClickHouseAccounts::new(cluster.client())));
}

const ORGS: [&str; 8] = [
    "acme", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
];

/// Per shard, the distinct values of `column` in its local table `table` (rows `filter`).
fn per_shard(client: &Client, table: &str, column: &str, filter: &str) -> Vec<BTreeSet<String>> {
    let sql = format!("SELECT DISTINCT {column} FROM {table}_local WHERE {filter}");
    (client.servers().into_iter())
        .map(|server| {
            server
                .query(&sql, |r| r.str(0))
                .unwrap()
                .into_iter()
                .collect()
        })
        .collect()
}

/// Each shard's active parts of the local counts table.
fn parts(client: &Client) -> Vec<u64> {
    let sql = format!(
        "SELECT count() FROM system.parts WHERE database = '{}' AND table = 'counts_local' \
         AND active",
        client.database
    );
    (client.servers().into_iter())
        .map(|server| server.query(&sql, |r| r.u64(0)).unwrap()[0])
        .collect()
}

/// One batch: a model and a dataset of each of `ORGS`, `n` downloads a day each.
fn batch(source: &str, n: u64) -> Batch {
    let mut b = Batch::new(SourceId::parse(source).unwrap(), WriteMode::Replace);
    for org in ORGS {
        b.days
            .push((key("model", &format!("{org}/m")), day("2024-01-01"), n));
        b.days
            .push((key("dataset", &format!("{org}/d")), day("2024-01-02"), n));
    }
    b
}

// Every row of an organization (days, repositories, its version) is on one shard, so that
// `argMax` per key and `FINAL` see all versions of a key; the organizations spread over both
// shards; a commit is one part on each shard it touches, plus the source's own insert.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_keeps_each_organizations_rows_on_one_shard() {
    let cluster = ClickHouseCluster::start();
    let client = cluster.client();
    let counts = ClickHouseCounts::new(client.clone());
    let accounts = ClickHouseAccounts::new(client.clone());
    for server in client.servers() {
        let sql = format!("SYSTEM STOP MERGES {}.counts_local", server.database);
        server.execute(&sql).unwrap();
    }
    let before = parts(&client);
    let committed = batch("csv", 3).apply(&counts).unwrap();
    assert_eq!(committed.versions.len(), ORGS.len());
    let added: Vec<u64> = (parts(&client).iter().zip(&before))
        .map(|(after, before)| after - before)
        .collect();
    assert!(added.iter().all(|&n| n >= 1), "{added:?}");
    assert_eq!(
        added.iter().sum::<u64>(),
        3,
        "a part per shard and the source's: {added:?}"
    );

    let shards = per_shard(&client, "counts", "org", "org != ''");
    assert!(shards.iter().all(|orgs| !orgs.is_empty()), "{shards:?}");
    assert!(shards[0].is_disjoint(&shards[1]), "{shards:?}");
    let all: BTreeSet<String> = ORGS.iter().map(|o| o.to_string()).collect();
    assert_eq!(&shards[0] | &shards[1], all);
    for org in ORGS {
        let org = OrgName::parse(org).unwrap();
        let repos = counts.repos(&org).unwrap();
        assert_eq!(repos.iter().map(|r| r.total).collect::<Vec<_>>(), [3, 3]);
        assert_eq!(counts.version(&org).unwrap(), 1);
        accounts.create_org(&org, Plan::Team).unwrap();
    }
    // A second write patches the cached indexes: the changed repositories are re-read with a
    // subquery each shard runs on its own rows.
    batch("csv", 4).apply(&counts).unwrap();
    for org in ORGS {
        let org = OrgName::parse(org).unwrap();
        let repos = counts.repos(&org).unwrap();
        assert_eq!(repos.iter().map(|r| r.total).collect::<Vec<_>>(), [4, 4]);
        assert_eq!(counts.version(&org).unwrap(), 2);
    }
    // Accounts tables are sharded the same way: each organization's record on one shard.
    let records = per_shard(&client, "orgs", "name", "1");
    assert!(records[0].is_disjoint(&records[1]), "{records:?}");
    assert_eq!(&records[0] | &records[1], all);
    assert_eq!(accounts.orgs().unwrap().len(), ORGS.len());
}

// One shard's server down: reads and writes fail as `Unavailable` rather than answer from the
// other shard alone; a commit tried meanwhile counts nothing, and once the server is back the
// same batch written twice counts once.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_with_a_shard_down_is_unavailable_until_it_is_back() {
    let mut cluster = ClickHouseCluster::start();
    let counts = ClickHouseCounts::new(cluster.client());
    batch("first", 1).apply(&counts).unwrap();
    let acme = OrgName::parse("acme").unwrap();
    cluster.servers[1].stop();
    let read = counts.repos(&acme).unwrap_err();
    assert!(matches!(read, StoreError::Unavailable(_)), "{read:?}");
    let second = batch("second", 2);
    let write = second.apply(&counts).unwrap_err();
    assert!(matches!(write, StoreError::Unavailable(_)), "{write:?}");
    cluster.servers[1].restart();
    assert_eq!(counts.source(&second.source).unwrap(), None);
    second.apply(&counts).unwrap();
    second.apply(&counts).unwrap();
    for org in ORGS {
        let repos = counts.repos(&OrgName::parse(org).unwrap()).unwrap();
        assert_eq!(
            repos.iter().map(|r| r.total).collect::<Vec<_>>(),
            [3, 3],
            "{org}"
        );
    }
}

// A location whose cluster the server does not know, or whose servers' HTTP addresses do not
// cover every shard, is refused before any table is created.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_locations_are_checked() {
    let cluster = ClickHouseCluster::start();
    let first = cluster.servers[0].http_port;
    for (options, why) in [
        ("cluster=nosuch".to_owned(), "not in the remote_servers"),
        // Both shards' hosts on the first server's port: that is shard 1 twice.
        (
            format!("cluster={TEST_CLUSTER}"),
            "two addresses of shard 1",
        ),
        (
            format!("cluster={TEST_CLUSTER}&nodes=127.0.0.1:{first}"),
            "2 shards, but the HTTP addresses of 1",
        ),
    ] {
        let location = format!("clickhouse://127.0.0.1:{first}/refused?{options}");
        let parsed = Location::parse(&location).unwrap().unwrap();
        match connect(&parsed) {
            Err(StoreError::Invalid(message)) => assert!(message.contains(why), "{message}"),
            Err(other) => panic!("{options}: {other:?}"),
            Ok(_) => panic!("{options}: accepted"),
        }
    }
    let databases = cluster.servers[0]
        .client()
        .query_server(
            "SELECT count() FROM system.databases WHERE name = 'refused'",
            |r| r.u64(0),
        )
        .unwrap();
    assert_eq!(databases, [0]);
}

// A commit cut off between shards: the first shard's local table is swapped for a copy whose
// partition key throws on the second batch's values, so that shard refuses its rows while the
// second shard writes its own (and would write the source's row, `org = ''`, which it holds,
// were that row in the same insert). Each organization then shows all of the write or none
// of it, the source is not recorded as applied, and once the table is back the same batch
// written again completes it and counts once.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_commit_cut_off_between_shards_is_completed_by_its_retry() {
    let cluster = ClickHouseCluster::start();
    let client = cluster.client();
    let counts = ClickHouseCounts::new(client.clone());
    batch("first", 1).apply(&counts).unwrap();
    let refusing = client.servers()[0];
    let db = &refusing.database;
    for sql in [
        format!(
            "CREATE TABLE {db}.counts_refusing AS {db}.counts_local ENGINE = \
             ReplacingMergeTree(version) PARTITION BY throwIf(downloads = 2) \
             ORDER BY (org, kind, repo_type, repo, day, source)"
        ),
        format!("INSERT INTO {db}.counts_refusing SELECT * FROM {db}.counts_local"),
        format!(
            "RENAME TABLE {db}.counts_local TO {db}.counts_kept, \
             {db}.counts_refusing TO {db}.counts_local"
        ),
    ] {
        refusing.execute(&sql).unwrap();
    }
    let second = batch("second", 2);
    assert!(
        second.apply(&counts).is_err(),
        "the first shard refuses its rows"
    );
    assert_eq!(counts.source(&second.source).unwrap(), None);
    let shards = per_shard(&client, "counts", "org", "org != ''");
    for org in ORGS {
        let repos = counts.repos(&OrgName::parse(org).unwrap()).unwrap();
        let totals: Vec<u64> = repos.iter().map(|r| r.total).collect();
        let expected = if shards[0].contains(org) {
            [1, 1]
        } else {
            [3, 3]
        };
        assert_eq!(
            totals, expected,
            "{org}: all of the write on its shard, or none"
        );
    }
    refusing
        .execute(&format!(
            "RENAME TABLE {db}.counts_local TO {db}.counts_refusing, \
             {db}.counts_kept TO {db}.counts_local"
        ))
        .unwrap();
    second.apply(&counts).unwrap();
    second.apply(&counts).unwrap();
    for org in ORGS {
        let repos = counts.repos(&OrgName::parse(org).unwrap()).unwrap();
        assert_eq!(
            repos.iter().map(|r| r.total).collect::<Vec<_>>(),
            [3, 3],
            "{org}"
        );
    }
    assert_eq!(counts.source(&second.source).unwrap().unwrap().rows, 16);
}

// A database made on one server is refused as a cluster's, and the reverse: deletions and the
// schema would go to the wrong tables.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_and_single_server_databases_are_not_mixed_up() {
    let cluster = ClickHouseCluster::start();
    let single = cluster.servers[0].location();
    let clustered = cluster.location();
    let (clustered_base, options) = clustered.split_once('?').unwrap();
    for (made, reopened, why) in [
        (
            single.clone(),
            format!("{single}?{options}"),
            "made on one server",
        ),
        (
            clustered.clone(),
            clustered_base.to_owned(),
            "made in cluster mode",
        ),
    ] {
        connect(&Location::parse(&made).unwrap().unwrap()).unwrap();
        match connect(&Location::parse(&reopened).unwrap().unwrap()) {
            Err(StoreError::Invalid(message)) => assert!(message.contains(why), "{message}"),
            Err(other) => panic!("{reopened}: {other:?}"),
            Ok(_) => panic!("{reopened}: accepted"),
        }
    }
}

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_events_conform() {
    let cluster = ClickHouseCluster::start();
    conformance::events::run_all(&|| Box::new(ClickHouseCounts::new(cluster.client())));
}

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_hub_snapshots_conform() {
    let cluster = ClickHouseCluster::start();
    conformance::snapshots::run_all(&|| Box::new(ClickHouseCounts::new(cluster.client())));
}

/// A request for `org/m` at `at_ms` by `user`.
fn event(org: &str, at_ms: i64, user: &str) -> LogEvent {
    get_by(key("model", &format!("{org}/m")), at_ms, user)
}

// An organization's kept events live on the shard of its counts, so a recount reads one
// server; one write touching organizations on both shards is staged on both and moved on
// each once committed; the staging partitions are gone afterwards.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_keeps_each_organizations_events_with_its_counts() {
    let cluster = ClickHouseCluster::start();
    let client = cluster.client();
    let counts = ClickHouseCounts::new(client.clone());
    batch("csv", 1).apply(&counts).unwrap();
    let events = counts.log_events().expect("a cluster keeps events");
    let mut write = events.add_events().unwrap();
    for org in ORGS {
        for (i, user) in ["u1", "u2", "u3"].into_iter().enumerate() {
            write
                .push(event(org, 1_704_067_200_000 + i as i64, user), Some("bot"))
                .unwrap();
        }
    }
    write.commit().unwrap();

    let with_events = per_shard(&client, "log_events", "org", "1");
    let with_counts = per_shard(&client, "counts", "org", "org != ''");
    assert_eq!(with_events, with_counts);
    assert!(
        with_events.iter().all(|orgs| !orgs.is_empty()),
        "{with_events:?}"
    );
    for org in ORGS {
        let mut n = 0;
        let m = key("model", &format!("{org}/m"));
        events
            .events_of_days(
                &m,
                day("2024-01-01"),
                day("2024-01-01"),
                EventFields::All,
                &mut |_, _| {
                    n += 1;
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(n, 3, "{org}");
    }
    let staged = super::super::events::staged_writes(&client).unwrap();
    assert!(staged.is_empty(), "{staged:?}");
}

// A cluster database made before clusters kept events has those tables as plain tables on
// every server (empty): opening it remakes them sharded; one holding rows is refused.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_cluster_made_without_sharded_events_is_migrated() {
    let cluster = ClickHouseCluster::start();
    let location = Location::parse(&cluster.location()).unwrap().unwrap();
    let unshard = |client: &Client| {
        for server in client.servers() {
            for table in super::super::events::TABLES {
                server
                    .execute(&format!("DROP TABLE IF EXISTS {}", table.name))
                    .unwrap();
                server
                    .execute(&format!("DROP TABLE IF EXISTS {}_local", table.name))
                    .unwrap();
                for sql in table.create(&server.database, None) {
                    server.execute(&sql).unwrap();
                }
            }
            // …and before each write had a staging table of its own (migration 5).
            for table in ["log_event_staged", "log_event_staged_local"] {
                server
                    .execute(&format!("DROP TABLE IF EXISTS {table}"))
                    .unwrap();
            }
            server
                .execute("ALTER TABLE schema_migrations DELETE WHERE version >= 4")
                .unwrap();
            super::super::mutations::wait_for(server, "schema_migrations").unwrap();
        }
    };
    let engines = |client: &Client| -> Vec<String> {
        let sql = format!(
            "SELECT engine FROM system.tables WHERE database = '{}' AND name = 'log_events'",
            client.database
        );
        (client.servers().into_iter())
            .flat_map(|server| server.query(&sql, |r| r.str(0)).unwrap())
            .collect()
    };

    let client = connect(&location).unwrap();
    unshard(&client);
    assert_eq!(
        engines(&client),
        ["ReplacingMergeTree", "ReplacingMergeTree"]
    );
    let client = connect(&location).unwrap();
    assert_eq!(engines(&client), ["Distributed", "Distributed"]);
    let counts = ClickHouseCounts::new(client.clone());
    let mut write = counts.log_events().unwrap().add_events().unwrap();
    write
        .push(event("acme", 1_704_067_200_000, "u"), None)
        .unwrap();
    write.commit().unwrap();

    unshard(&client);
    client
        .servers()
        .last()
        .unwrap()
        .execute(
            "INSERT INTO log_files (name, rows, events, ingested_unix, rank) \
             VALUES ('a.log', 1, 1, 0, 1)",
        )
        .unwrap();
    match connect(&location) {
        Err(StoreError::Invalid(message)) => {
            assert!(message.contains("log_files"), "{message}")
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}
