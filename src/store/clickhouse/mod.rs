//! The ClickHouse backend: counts ([`ClickHouseCounts`], with the kept request-log events) and
//! accounts ([`ClickHouseAccounts`]) in one database of a ClickHouse server, reached over its
//! HTTP interface ([`client`]).
//! Written for and tested on ClickHouse 18.16 (Debian's): no transactions, no server-side
//! query parameters, no `LowCardinality`. How the counts contract is kept without
//! transactions is in `docs/ARCHITECTURE.md` ("How ClickHouse implements the same contract").

mod accounts;
pub mod client;
mod counts;
mod events;
mod mutations;
pub mod testing;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use accounts::ClickHouseAccounts;
pub use client::{redact, Client, Location};
pub use counts::ClickHouseCounts;

use super::{StoreError, StoreResult};

/// Schema migrations of a ClickHouse database, applied in order; each is a list of
/// statements (the HTTP interface runs one per request). Applied versions are recorded in
/// `schema_migrations`.
const MIGRATIONS: &[&[&str]] = &[
    // 1: counts.
    &[counts::TABLE],
    // 2: accounts.
    accounts::TABLES,
    // 3: kept request-log events, log files, libraries.
    events::TABLES,
];

/// Opens the database `location` names (creating it if needed) and brings its schema up to
/// date; the client is shared by both backends.
pub fn connect(location: &Location) -> StoreResult<Arc<Client>> {
    let client = Client::new(location);
    client.execute_server(&format!(
        "CREATE DATABASE IF NOT EXISTS {}",
        location.database
    ))?;
    migrate(&client)?;
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

fn migrate(client: &Client) -> StoreResult<()> {
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
    for (i, statements) in MIGRATIONS.iter().enumerate().skip(applied) {
        for sql in statements.iter() {
            client.execute(sql)?;
        }
        client.execute(&format!(
            "INSERT INTO schema_migrations VALUES ({}, {})",
            i + 1,
            now_unix()
        ))?;
    }
    Ok(())
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
