//! The ClickHouse backend: counts ([`ClickHouseCounts`], with the kept request-log events) and
//! accounts ([`ClickHouseAccounts`]) in one database of a ClickHouse server, reached over its
//! HTTP interface ([`client`]).
//! Written for and tested on ClickHouse 18.16 (Debian's): no transactions, no server-side
//! query parameters, no `LowCardinality`. How the counts contract is kept without
//! transactions is in `docs/ARCHITECTURE.md` ("How ClickHouse implements the same contract").
//!
//! On one server every [`Table`] is created as it is; on a cluster (`?cluster=NAME`, see
//! [`cluster`]) as a local table on every shard with a `Distributed` table of the same name
//! over them, so the queries are the same in both modes.

mod accounts;
pub mod client;
pub mod cluster;
mod counts;
mod events;
mod mutations;
mod snapshots;
pub mod testing;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use accounts::ClickHouseAccounts;
pub use client::{redact, Client, Location};
pub use counts::ClickHouseCounts;

use super::{StoreError, StoreResult};

/// A table of the schema.
pub(crate) struct Table {
    pub name: &'static str,
    pub columns: &'static str,
    /// `ENGINE = …` and what follows it.
    pub engine: &'static str,
    /// The `Distributed` table's sharding expression in cluster mode.
    pub shard_by: &'static str,
}

impl Table {
    /// The statements creating the table: the table itself on one server; in cluster mode
    /// (the cluster's name given) the local table and the `Distributed` table over the
    /// cluster's local tables, each run on every server of the cluster.
    fn create(&self, database: &str, cluster: Option<&str>) -> Vec<String> {
        let Some(cluster) = cluster else {
            return vec![format!(
                "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE = {}",
                self.name, self.columns, self.engine
            )];
        };
        let local = cluster::local_table(self.name);
        vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {local} ({}) ENGINE = {}",
                self.columns, self.engine
            ),
            cluster::distributed(self.name, &local, cluster, database, self.shard_by),
        ]
    }
}

/// One schema migration.
enum Migration {
    /// Tables that follow the mode: as they are on one server, local and `Distributed` on a
    /// cluster.
    Tables(&'static [Table]),
    /// Tables that earlier versions made as they are on every server even in cluster mode
    /// (a cluster kept no events then, so they are empty): on a cluster, each one still made
    /// so is dropped and made again as a local and a `Distributed` table; nothing to do on
    /// one server.
    RemadeOnClusters(&'static [Table]),
    /// Statements and queries of their own, run on each server (whose client knows the
    /// mode); each step can run again after a stop midway.
    Run(fn(&Client) -> StoreResult<()>),
}

/// Schema migrations of a ClickHouse database, applied in order. Applied versions are
/// recorded in `schema_migrations`, on each server of a cluster.
const MIGRATIONS: &[Migration] = &[
    // 1: counts.
    Migration::Tables(&[counts::TABLE]),
    // 2: accounts.
    Migration::Tables(accounts::TABLES),
    // 3: kept request-log events, log files, libraries.
    Migration::Tables(events::TABLES),
    // 4: the same, sharded on clusters made before they kept events.
    Migration::RemadeOnClusters(events::TABLES),
    // 5: each event write staged in a table of its own, attached to `log_events` on commit.
    Migration::Run(events::migrate_to_write_tables),
    // 6: uses of tokens and ingest keys kept apart from the credentials.
    Migration::Tables(accounts::USES),
    // 7: snapshots of a hub's public counters (`hubstats collect`).
    Migration::Tables(&[snapshots::TABLE]),
];

/// Opens the database `location` names (creating it if needed, on every server of its
/// cluster) and brings its schema up to date; the client is shared by both backends.
pub fn connect(location: &Location) -> StoreResult<Arc<Client>> {
    let mut client = Client::new(location);
    if let Some(name) = &location.cluster {
        client.set_shards(cluster::shards(&client, location, name)?);
    }
    check_mode(&client)?;
    for server in client.servers() {
        server.execute_server(&format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            location.database
        ))?;
        migrate(server)?;
    }
    Ok(Arc::new(client))
}

/// Whether the database `location` names exists (commands other than the ones that create a
/// store refuse a location without one, as they refuse a missing file).
pub fn database_exists(location: &Location) -> StoreResult<bool> {
    let client = Client::new(location);
    let sql = format!(
        "SELECT count() FROM system.databases WHERE name = {}",
        client::quote(&location.database)
    );
    let found = client.query_server(&sql, |r| r.u64(0))?;
    Ok(found.first().copied().unwrap_or(0) > 0)
}

/// Refuses a database made in the other mode: one server's tables opened as a cluster's, or a
/// cluster's `Distributed` tables opened as one server's (queries would run, but deletions and
/// the schema would go to the wrong tables).
fn check_mode(client: &Client) -> StoreResult<()> {
    let engine = client.query_server(
        &format!(
            "SELECT engine FROM system.tables WHERE database = {} AND name = 'counts'",
            client::quote(&client.database)
        ),
        |r| r.str(0),
    )?;
    let Some(engine) = engine.first() else {
        return Ok(());
    };
    match (engine == "Distributed", client.is_cluster()) {
        (true, false) => Err(StoreError::Invalid(format!(
            "ClickHouse database {} was made in cluster mode: add ?cluster=NAME to the location",
            client.database
        ))),
        (false, true) => Err(StoreError::Invalid(format!(
            "ClickHouse database {} was made on one server, not in cluster mode: remove the \
             cluster option",
            client.database
        ))),
        _ => Ok(()),
    }
}

/// Applies the migrations `client`'s server has not recorded yet, in its client's mode.
fn migrate(client: &Client) -> StoreResult<()> {
    let cluster = client.cluster();
    client.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, applied_unix Int64) \
         ENGINE = MergeTree ORDER BY version",
    )?;
    let applied = client.query("SELECT max(version) FROM schema_migrations", |r| r.u64(0))?;
    let applied = applied.first().copied().unwrap_or(0) as usize;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::NewerSchema {
            path: format!("ClickHouse database {}", client.database),
            found: applied as i64,
            known: MIGRATIONS.len() as i64,
        });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let statements: Vec<String> = match (migration, cluster) {
            (Migration::Run(run), _) => {
                run(client)?;
                Vec::new()
            }
            (Migration::Tables(tables), _) => (tables.iter())
                .flat_map(|t| t.create(&client.database, cluster))
                .collect(),
            (Migration::RemadeOnClusters(_), None) => Vec::new(),
            (Migration::RemadeOnClusters(tables), Some(_)) => {
                let mut statements = Vec::new();
                for table in tables.iter() {
                    if let Some(drop) = drop_unsharded(client, table.name)? {
                        statements.push(drop);
                    }
                    statements.extend(table.create(&client.database, cluster));
                }
                statements
            }
        };
        for sql in statements {
            client.execute(&sql)?;
        }
        client.execute(&format!(
            "INSERT INTO schema_migrations VALUES ({}, {})",
            i + 1,
            now_unix()
        ))?;
    }
    Ok(())
}

/// On a cluster's server, the statement dropping `table` if it is still a table of its own
/// rather than `Distributed`; refused if it holds rows (it never did in cluster mode).
fn drop_unsharded(client: &Client, table: &str) -> StoreResult<Option<String>> {
    let engine = client.query(
        &format!(
            "SELECT engine FROM system.tables WHERE database = {} AND name = {}",
            client::quote(&client.database),
            client::quote(table)
        ),
        |r| r.str(0),
    )?;
    match engine.first() {
        None => Ok(None),
        Some(engine) if engine == "Distributed" => Ok(None),
        Some(_) => {
            let rows = client.query(&format!("SELECT count() FROM {table}"), |r| r.u64(0))?;
            if rows.first().copied().unwrap_or(0) > 0 {
                return Err(StoreError::Invalid(format!(
                    "ClickHouse table {table} on the server at {} holds rows but is not \
                     sharded; hubstats will not drop it",
                    client.address()
                )));
            }
            Ok(Some(format!("DROP TABLE {table}")))
        }
    }
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A row version for `ReplacingMergeTree`: nanoseconds since the epoch, strictly increasing
/// within the process (two writes in one nanosecond still differ).
fn next_version() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}
