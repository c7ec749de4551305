//! The commit-marker protocol of event writes: a write's events are staged in
//! `log_event_staging` under its id, become visible with its row in `log_writes`, and are then
//! moved into `log_events` (see the module above and `docs/ARCHITECTURE.md`).

use std::collections::{BTreeSet, HashMap};

use super::super::client::{quote, Client};
use super::super::next_version;
use super::EVENT_COLUMNS;
use crate::store::StoreResult;

/// Committed writes whose events are not all in `log_events` yet.
pub(super) const UNMOVED: &str =
    "SELECT write_id FROM log_writes GROUP BY write_id HAVING max(moved) = 0";

/// Staged writes older than this without a commit marker belong to a process that died.
const ABANDONED_AFTER_NS: u64 = 24 * 3600 * 1_000_000_000;

/// The rows readers see: `log_events` and the staged rows of committed writes not moved yet,
/// both filtered by `condition` (a key may be in both while a write is moved). `GLOBAL`: in
/// cluster mode a write's marker is on one shard and its events on others.
pub(super) fn visible(condition: &str) -> String {
    format!(
        "(SELECT {EVENT_COLUMNS} FROM log_events WHERE {condition} \
         UNION ALL SELECT {EVENT_COLUMNS} FROM log_event_staging \
         WHERE {condition} AND write_id GLOBAL IN ({UNMOVED}))"
    )
}

/// Finishes every committed write whose events are not all moved yet (the caller's, or one
/// of a process stopped midway): moving again is harmless, the rows have the same keys.
pub(super) fn settle(client: &Client) -> StoreResult<()> {
    let (events, staging) = (
        client.local_table("log_events"),
        client.local_table("log_event_staging"),
    );
    for id in client.query(UNMOVED, |r| r.u64(0))? {
        // Each server moves its own rows (an organization's are all on its shard).
        for server in client.servers() {
            server.execute(&format!(
                "INSERT INTO {events} ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} \
                 FROM {staging} WHERE write_id = {id}"
            ))?;
        }
        client.execute(&format!("INSERT INTO log_writes VALUES ({id}, 1)"))?;
        drop_staged(client, id)?;
    }
    Ok(())
}

/// Drops write `id`'s staging partition on every server (a server without it does nothing).
pub(super) fn drop_staged(client: &Client, id: u64) -> StoreResult<()> {
    let staging = client.local_table("log_event_staging");
    for server in client.servers() {
        server.execute(&format!("ALTER TABLE {staging} DROP PARTITION {id}"))?;
    }
    Ok(())
}

/// Drops the staging partitions left behind: of moved writes, and of writes never
/// committed and older than a day (a process stopped before its commit).
pub(super) fn clean_up(client: &Client) -> StoreResult<()> {
    let sql = format!(
        "SELECT DISTINCT partition FROM system.parts WHERE database = {} \
         AND table = {} AND active",
        quote(&client.database),
        quote(&client.local_table("log_event_staging"))
    );
    let mut staged = BTreeSet::new();
    for server in client.servers() {
        for partition in server.query(&sql, |r| r.str(0))? {
            staged.extend(partition.parse::<u64>().ok());
        }
    }
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
