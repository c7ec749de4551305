//! Cluster mode (`clickhouse://host:port/database?cluster=NAME`): the tables live on the
//! shards of a cluster named in the servers' `remote_servers`, as a local table on each shard
//! (`counts_local`, `orgs_local`, …) with a `Distributed` table of the usual name over them
//! on every server, so that the backends' queries are those of one server.
//!
//! ClickHouse 18.16 runs `ON CLUSTER` DDL only through ZooKeeper ("DDL background thread is
//! not initialized" without it), and Debian has no ClickHouse Keeper; so the schema is created
//! by running each statement on every server of the cluster, over HTTP. `system.clusters`
//! names the shards' hosts (and their native-protocol ports, not their HTTP ports): each is
//! reached on the location's HTTP port, or at the addresses `nodes=host:port,…` lists. Each
//! server is asked which shard it is (`is_local`), so a wrong address is refused rather than
//! given the wrong tables. One server per shard: a cluster with replicas is refused, since
//! replicas need `Replicated…` tables and Keeper (and then `ON CLUSTER` DDL), not built here.

use std::collections::BTreeMap;

use super::client::{quote, Client, Location};
use crate::store::{StoreError, StoreResult};

/// The local table under the `Distributed` table `table`.
pub fn local_table(table: &str) -> String {
    format!("{table}_local")
}

/// The statement making `table` a `Distributed` table over every shard's `local`, its rows
/// placed by `shard_by`.
pub(super) fn distributed(
    table: &str,
    local: &str,
    cluster: &str,
    database: &str,
    shard_by: &str,
) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} AS {local} ENGINE = Distributed({}, {}, {}, \
         {shard_by})",
        quote(cluster),
        quote(database),
        quote(local)
    )
}

/// Clients of the servers of cluster `name`, one per shard in shard order, after checking that
/// `entry` (the location's server) is one of them.
pub(super) fn shards(entry: &Client, location: &Location, name: &str) -> StoreResult<Vec<Client>> {
    let invalid = |why: String| StoreError::Invalid(format!("ClickHouse cluster {name}: {why}"));
    let rows = entry.query_server(
        &format!(
            "SELECT shard_num, replica_num, host_address FROM system.clusters \
             WHERE cluster = {} ORDER BY shard_num, replica_num",
            quote(name)
        ),
        |r| Ok((r.u64(0)?, r.u64(1)?, r.str(2)?)),
    )?;
    if rows.is_empty() {
        return Err(invalid(format!(
            "not in the remote_servers of the server at {}",
            entry.address()
        )));
    }
    if rows.iter().any(|(_, replica, _)| *replica > 1) {
        return Err(invalid(
            "it has replicas; hubstats keeps one server per shard (replicas need Replicated \
             tables, ClickHouse Keeper and ON CLUSTER DDL)"
                .to_owned(),
        ));
    }
    let addresses: Vec<(String, u16)> = if location.nodes.is_empty() {
        (rows.iter())
            .map(|(_, _, host)| (host.clone(), location.port))
            .collect()
    } else {
        location.nodes.clone()
    };
    let mut by_shard = BTreeMap::new();
    for (host, port) in addresses {
        let server = Client::new(&location.at(&host, port));
        let shard = shard_of(&server, name)?.ok_or_else(|| {
            invalid(format!(
                "the server at {} is not one of its servers",
                server.address()
            ))
        })?;
        if let Some(other) = by_shard.insert(shard, server) {
            return Err(invalid(format!(
                "two addresses of shard {shard} ({})",
                other.address()
            )));
        }
    }
    if by_shard.len() != rows.len() {
        return Err(invalid(format!(
            "{} shards, but the HTTP addresses of {} (give them all in nodes=host:port,…)",
            rows.len(),
            by_shard.len()
        )));
    }
    if shard_of(entry, name)?.is_none() {
        return Err(invalid(format!(
            "the server at {} is not one of its servers",
            entry.address()
        )));
    }
    Ok(by_shard.into_values().collect())
}

/// Which shard of cluster `name` the server is, as it says.
fn shard_of(server: &Client, name: &str) -> StoreResult<Option<u64>> {
    let found = server.query_server(
        &format!(
            "SELECT shard_num FROM system.clusters WHERE cluster = {} AND is_local",
            quote(name)
        ),
        |r| r.u64(0),
    )?;
    Ok(found.first().copied())
}

#[cfg(test)]
mod tests;
