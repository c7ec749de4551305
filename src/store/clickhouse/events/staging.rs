//! The commit-marker protocol of event writes: a write's events are staged in a table of its
//! own (`log_event_staging_{id}`, made like `log_events`), become visible with its row in
//! `log_writes`, and are then attached to `log_events` partition by partition (see the module
//! above and `docs/ARCHITECTURE.md`).

use std::collections::{BTreeSet, HashMap};

use super::super::client::{quote, Client};
use super::super::{cluster, next_version};
use super::EVENT_COLUMNS;
use crate::store::StoreResult;

/// Committed writes whose events are not all in `log_events` yet.
pub(super) const UNMOVED: &str =
    "SELECT write_id FROM log_writes GROUP BY write_id HAVING max(moved) = 0";

/// The `Merge` table over every write's staging table (migration 5).
pub(super) const STAGED: &str = "log_event_staged";

/// Staged writes older than this without a commit marker belong to a process that died.
const ABANDONED_AFTER_NS: u64 = 24 * 3600 * 1_000_000_000;

/// The table write `id` stages its events in (on a cluster, the `Distributed` table over
/// each shard's `…_local`).
pub(super) fn staging_table(id: u64) -> String {
    format!("log_event_staging_{id}")
}

/// The write id of a staging table's name as the servers list it (`…_local` on a cluster).
fn staging_id(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("log_event_staging_")?;
    let digits = rest.strip_suffix("_local").unwrap_or(rest);
    digits.parse().ok()
}

/// The `regexp` of the `Merge` table over the staging tables: one server's, or on a cluster
/// each shard's local ones (not the `Distributed` tables beside them).
pub(super) fn staging_pattern(cluster: bool) -> &'static str {
    if cluster {
        "^log_event_staging_[0-9]+_local$"
    } else {
        "^log_event_staging_[0-9]+$"
    }
}

/// The rows readers see: the staged rows of committed writes and `log_events`, both filtered
/// by `condition` (a key may be in both while a write is attached). `GLOBAL`: in cluster mode
/// a write's marker is on one shard and its events on others.
///
/// The staged rows come first: a query picks its tables' parts as it starts, before it reads
/// the markers; a write whose staging table was gone when the query started had been attached
/// before, so `log_events`, picked after, has it.
pub(super) fn visible(condition: &str) -> String {
    format!(
        "(SELECT {EVENT_COLUMNS} FROM {STAGED} \
         WHERE {condition} AND write_id GLOBAL IN (SELECT write_id FROM log_writes) \
         UNION ALL SELECT {EVENT_COLUMNS} FROM log_events WHERE {condition})"
    )
}

/// Makes write `id`'s staging table, like `log_events` (on a cluster: a local table on every
/// server and, on the one the writes go through, a `Distributed` table over them).
pub(super) fn create(client: &Client, id: u64) -> StoreResult<()> {
    let table = staging_table(id);
    let (events, local) = (client.local_table("log_events"), client.local_table(&table));
    for server in client.servers() {
        server.execute(&format!("CREATE TABLE IF NOT EXISTS {local} AS {events}"))?;
    }
    if let Some(name) = client.cluster() {
        let sql = cluster::distributed(&table, &local, name, &client.database, "sipHash64(org)");
        client.execute(&sql)?;
    }
    Ok(())
}

/// Finishes every committed write whose events are not all in `log_events` yet (the
/// caller's, or one of a process stopped midway): each server attaches its own partitions of
/// the write's staging table to `log_events` (hard links, no copy), then the write is marked
/// moved and its staging table dropped. Attaching twice is harmless: the same keys.
pub(super) fn settle(client: &Client) -> StoreResult<()> {
    let events = client.local_table("log_events");
    for id in client.query(UNMOVED, |r| r.u64(0))? {
        let local = client.local_table(&staging_table(id));
        let sql = format!(
            "SELECT DISTINCT partition FROM system.parts WHERE database = {} \
             AND table = {} AND active",
            quote(&client.database),
            quote(&local)
        );
        for server in client.servers() {
            for partition in server.query(&sql, |r| r.str(0))? {
                let attach = server.execute(&format!(
                    "ALTER TABLE {events} ATTACH PARTITION {partition} FROM {local}"
                ));
                // Another process settling the same write dropped the table once it had
                // attached it all.
                if attach.is_err() && !exists(server, &local)? {
                    break;
                }
                attach?;
            }
        }
        client.execute(&format!("INSERT INTO log_writes VALUES ({id}, 1)"))?;
        drop_staged(client, id)?;
    }
    Ok(())
}

/// Whether `table` exists on `server`.
fn exists(server: &Client, table: &str) -> StoreResult<bool> {
    let sql = format!(
        "SELECT count() FROM system.tables WHERE database = {} AND name = {}",
        quote(&server.database),
        quote(table)
    );
    Ok(server
        .query(&sql, |r| r.u64(0))?
        .first()
        .is_some_and(|&n| n > 0))
}

/// Drops write `id`'s staging tables on every server (a server without them does nothing).
pub(super) fn drop_staged(client: &Client, id: u64) -> StoreResult<()> {
    let table = staging_table(id);
    for server in client.servers() {
        server.execute(&format!("DROP TABLE IF EXISTS {table}"))?;
        if client.is_cluster() {
            let local = cluster::local_table(&table);
            server.execute(&format!("DROP TABLE IF EXISTS {local}"))?;
        }
    }
    Ok(())
}

/// The ids of the writes with a staging table on some server.
pub(in crate::store::clickhouse) fn staged_writes(client: &Client) -> StoreResult<BTreeSet<u64>> {
    let sql = format!(
        "SELECT name FROM system.tables WHERE database = {} \
         AND name LIKE 'log\\_event\\_staging\\_%'",
        quote(&client.database)
    );
    let mut staged = BTreeSet::new();
    for server in client.servers() {
        for name in server.query(&sql, |r| r.str(0))? {
            staged.extend(staging_id(&name));
        }
    }
    Ok(staged)
}

/// Drops the staging tables left behind: of moved writes, and of writes never committed and
/// older than a day (a process stopped before its commit).
pub(super) fn clean_up(client: &Client) -> StoreResult<()> {
    let staged = staged_writes(client)?;
    if staged.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = staged.iter().map(u64::to_string).collect();
    let markers = client.query(
        &format!(
            "SELECT write_id, max(moved) FROM log_writes WHERE write_id IN ({}) \
             GROUP BY write_id",
            list.join(", ")
        ),
        |r| Ok((r.u64(0)?, r.u64(1)?)),
    )?;
    let markers: HashMap<u64, u64> = markers.into_iter().collect();
    let now = next_version();
    for id in staged {
        let abandoned = !markers.contains_key(&id) && now.saturating_sub(id) > ABANDONED_AFTER_NS;
        if markers.get(&id) == Some(&1) || abandoned {
            drop_staged(client, id)?;
        }
    }
    Ok(())
}

/// Migration 5, on one server: `log_events` gains the `write_id` column (0 for events kept
/// before), the rows of committed writes still in the former shared `log_event_staging` are
/// copied into `log_events` and that table dropped (a write staged there and not committed
/// is dropped with it), and the `Merge` table over the writes' own staging tables is made.
/// Every step can run again after a stop midway.
pub(in crate::store::clickhouse) fn migrate_to_write_tables(server: &Client) -> StoreResult<()> {
    let (events, old) = (
        server.local_table("log_events"),
        server.local_table("log_event_staging"),
    );
    let columns_sql = |table: &str| {
        format!(
            "SELECT name FROM system.columns WHERE database = {} AND table = {}",
            quote(&server.database),
            quote(table)
        )
    };
    let mut with_id = vec![events.clone()];
    if server.is_cluster() {
        with_id.push("log_events".to_owned());
    }
    for table in &with_id {
        let columns = server.query(&columns_sql(table), |r| r.str(0))?;
        if !columns.iter().any(|c| c == "write_id") {
            server.execute(&format!(
                "ALTER TABLE {table} ADD COLUMN write_id UInt64 DEFAULT 0"
            ))?;
        }
    }
    // A database made now has the former table empty, and on a cluster the other servers'
    // tables may not be made yet: `log_writes` is read only when there is something to copy.
    let holds_rows = exists(server, &old)?
        && (server.query(&format!("SELECT count() FROM {old}"), |r| r.u64(0))?)
            .first()
            .is_some_and(|&n| n > 0);
    if holds_rows {
        server.execute(&format!(
            "INSERT INTO {events} ({EVENT_COLUMNS}, write_id) SELECT {EVENT_COLUMNS}, write_id \
             FROM {old} WHERE write_id IN (SELECT write_id FROM log_writes)"
        ))?;
    }
    server.execute(&format!("DROP TABLE IF EXISTS {old}"))?;
    if server.is_cluster() {
        server.execute("DROP TABLE IF EXISTS log_event_staging")?;
    }
    let merge = server.local_table(STAGED);
    server.execute(&format!(
        "CREATE TABLE IF NOT EXISTS {merge} AS {events} ENGINE = Merge({}, {})",
        quote(&server.database),
        quote(staging_pattern(server.is_cluster()))
    ))?;
    if let Some(name) = server.cluster() {
        let sql = cluster::distributed(STAGED, &merge, name, &server.database, "sipHash64(org)");
        server.execute(&sql)?;
    }
    Ok(())
}
