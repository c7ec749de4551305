//! Deleting rows: `ALTER … DELETE` on every server's own table. On 18.16 a mutation runs in
//! the background and there is no setting to wait for it, so deletions poll
//! `system.mutations` until the table has none left.

use std::time::{Duration, Instant};

use super::client::{backend, quote, Client};
use crate::store::StoreResult;

/// Waits until every mutation of `table` (in the client's database) is done; gives up after
/// ten minutes.
pub(super) fn wait_for(client: &Client, table: &str) -> StoreResult<()> {
    let sql = format!(
        "SELECT count() FROM system.mutations WHERE database = {} AND table = {} \
         AND is_done = 0",
        quote(&client.database),
        quote(table)
    );
    let started = Instant::now();
    loop {
        let pending = client.query(&sql, |r| r.u64(0))?;
        if pending.first().copied().unwrap_or(0) == 0 {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(backend(format!(
                "ClickHouse did not finish deleting rows of {table} within 10 minutes"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Deletes the rows of `table` that `condition` selects, and waits until they are gone. A
/// `Distributed` table takes no mutations: in cluster mode each server deletes from its
/// local table.
pub(super) fn delete(client: &Client, table: &str, condition: &str) -> StoreResult<()> {
    let local = client.local_table(table);
    for server in client.servers() {
        server.execute(&format!("ALTER TABLE {local} DELETE WHERE {condition}"))?;
    }
    for server in client.servers() {
        wait_for(server, &local)?;
    }
    Ok(())
}

/// Empties `table` (each server its local table in cluster mode: `Distributed` tables
/// cannot be truncated).
pub(super) fn truncate(client: &Client, table: &str) -> StoreResult<()> {
    let local = client.local_table(table);
    for server in client.servers() {
        server.execute(&format!("TRUNCATE TABLE {local}"))?;
    }
    Ok(())
}
