//! A write of events: rows are staged in the write's own table (buffered, then inserted into
//! `log_event_staging_{id}` a few megabytes at a time, each insert on its own thread while
//! the caller goes on reading its file), and the commit makes them visible with one row in
//! `log_writes` (see the module above). Dropped without a commit, the write's staging table
//! is dropped too, or, if that fails, left to the next write's clean-up.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;

use super::super::client::{backend, quote, tsv_field, Client};
use super::super::next_version;
use super::staging::{self, visible};
use super::{hex_key, libraries, opt_field, stored, type_code, EVENT_COLUMNS};
use crate::domain::{LibraryName, LogEvent, RepoKey};
use crate::store::{EventsWrite, StoreResult};

/// Staged rows are sent once this many bytes are buffered.
const FLUSH_AT: usize = 8 << 20;

/// The most organizations the count of new events names in its query (names are at most
/// 96 bytes; 512 of them quoted stay under 50 KiB).
const MAX_LISTED_ORGS: usize = 512;

pub(super) struct ClickHouseEventsWrite<'a> {
    client: &'a Arc<Client>,
    _writer: MutexGuard<'a, ()>,
    /// The write's id: a row version (nanoseconds), so its age is known.
    id: u64,
    /// Rows not sent yet (`TabSeparated`).
    pending: String,
    /// Some rows were sent to staging.
    staged: bool,
    /// The insert of the rows sent last, if it may not have finished (one at a time).
    sending: Option<JoinHandle<StoreResult<()>>>,
    /// The organizations and the first and last day of the events staged.
    orgs: BTreeSet<String>,
    days: Option<(i32, i32)>,
    /// The latest naming of each repository's library in this write.
    namings: BTreeMap<RepoKey, (i64, LibraryName)>,
    committed: bool,
}

impl<'a> ClickHouseEventsWrite<'a> {
    pub(super) fn new(client: &'a Arc<Client>, writer: MutexGuard<'a, ()>) -> Self {
        ClickHouseEventsWrite {
            client,
            _writer: writer,
            id: next_version(),
            pending: String::new(),
            staged: false,
            sending: None,
            orgs: BTreeSet::new(),
            days: None,
            namings: BTreeMap::new(),
            committed: false,
        }
    }

    /// Appends the event's row to the buffer and widens the organizations and days the
    /// count of new events looks in.
    fn stage(&mut self, e: &LogEvent, agent: Option<&str>) {
        let (org, day) = (e.repo.name.org_str(), stored_day(e));
        if !self.orgs.contains(org) {
            self.orgs.insert(org.to_owned());
        }
        self.days = Some(match self.days {
            Some((first, last)) => (first.min(day), last.max(day)),
            None => (day, day),
        });
        let body = &mut self.pending;
        let _ = write!(body, "{}\t", self.id);
        tsv_field(body, org);
        let _ = write!(body, "\t{}\t", type_code(e.repo.repo_type));
        tsv_field(body, e.repo.name.as_str());
        let _ = write!(body, "\t{day}\t{}\t", hex_key(e));
        tsv_field(body, agent.unwrap_or(""));
        let _ = write!(body, "\t{}\t", e.at_ms);
        tsv_field(body, &e.method);
        let _ = write!(body, "\t{}\t", e.status);
        opt_field(body, e.path.as_deref());
        body.push('\t');
        opt_field(body, e.user.as_deref());
        body.push('\t');
        opt_field(body, e.ip.as_deref());
        body.push('\n');
    }

    /// Starts sending the buffered rows, once the rows sent before are in.
    fn send(&mut self) -> StoreResult<()> {
        self.sent()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        if !self.staged {
            staging::create(self.client, self.id)?;
            self.staged = true;
        }
        let rows = std::mem::take(&mut self.pending);
        let client = Arc::clone(self.client);
        let table = staging::staging_table(self.id);
        self.sending = Some(std::thread::spawn(move || {
            let columns = format!("write_id, {EVENT_COLUMNS}");
            client.insert(&table, &columns, &rows)
        }));
        Ok(())
    }

    /// Waits for the rows being sent to be in (or their insert to fail).
    fn sent(&mut self) -> StoreResult<()> {
        match self.sending.take() {
            Some(insert) => insert
                .join()
                .unwrap_or_else(|_| Err(backend("the insert of staged events panicked"))),
            None => Ok(()),
        }
    }

    /// Sends every buffered row and waits until they are in.
    fn flush(&mut self) -> StoreResult<()> {
        self.send()?;
        self.sent()
    }

    /// Sends what is buffered and returns the write's id, as a process would just before
    /// its commit (tests stop it there).
    #[cfg(test)]
    pub(super) fn stage_now(&mut self) -> StoreResult<u64> {
        self.flush()?;
        Ok(self.id)
    }

    /// How many keys pushed in this write the store did not hold (read before the commit
    /// marker, so this write's rows are not visible).
    fn count_new(&self) -> StoreResult<u64> {
        let Some((first, last)) = self.days else {
            return Ok(0);
        };
        // Where a pushed key could be held: a key is a digest over the event's repository and
        // instant, so a held copy is in the same organization and day. A range the index
        // skips to, rather than the exact repository-days read back from staging (which
        // took 5 s at 5 M staged rows, even with nothing held). Past a few hundred
        // organizations, the days alone: the list would take the query past the server's
        // `max_query_size` (256 KiB by default).
        let mut days = format!("day BETWEEN {first} AND {last}");
        if self.orgs.len() <= MAX_LISTED_ORGS {
            let orgs: Vec<String> = self.orgs.iter().map(|o| quote(o)).collect();
            days = format!("org IN ({}) AND {days}", orgs.join(", "));
        }
        // `uniqExact` rather than `count()` of a `DISTINCT` subquery: a third of the time on
        // 18.16 (5 M keys: 1.9 s against 5.4 s).
        let sql = format!(
            "SELECT uniqExact(key) FROM {staged} WHERE key NOT IN (SELECT key FROM {held})",
            staged = staging::staging_table(self.id),
            held = visible(&days)
        );
        let n = self.client.query(&sql, |r| r.u64(0))?;
        Ok(n.first().copied().unwrap_or(0))
    }
}

/// An event's day as stored.
fn stored_day(e: &LogEvent) -> i32 {
    stored(e.day())
}

impl EventsWrite for ClickHouseEventsWrite<'_> {
    fn push(&mut self, event: LogEvent, agent: Option<&str>) -> StoreResult<()> {
        self.stage(&event, agent);
        if self.pending.len() >= FLUSH_AT {
            self.send()?;
        }
        Ok(())
    }

    fn name_library(
        &mut self,
        repo: &RepoKey,
        at_ms: i64,
        library: &LibraryName,
    ) -> StoreResult<()> {
        let naming = (at_ms, library.clone());
        match self.namings.get_mut(repo) {
            Some(latest) if *latest >= naming => {}
            Some(latest) => *latest = naming,
            None => {
                self.namings.insert(repo.clone(), naming);
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> StoreResult<u64> {
        self.flush()?;
        if !self.staged && self.namings.is_empty() {
            self.committed = true;
            return Ok(0);
        }
        let new = if self.staged { self.count_new()? } else { 0 };
        libraries::insert_namings(self.client, self.id, &self.namings)?;
        // The commit: one row, visible at once.
        self.client
            .execute(&format!("INSERT INTO log_writes VALUES ({}, 0)", self.id))?;
        self.committed = true;
        staging::settle(self.client)?;
        Ok(new)
    }
}

impl Drop for ClickHouseEventsWrite<'_> {
    fn drop(&mut self) {
        let _ = self.sent();
        if !self.committed && self.staged {
            // Unread without a commit marker; a failure leaves it to a later clean-up.
            let _ = staging::drop_staged(self.client, self.id);
        }
    }
}
