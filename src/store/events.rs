//! Kept request-log events: the set of every event ingested (one copy of each, whatever the
//! files it came in) and the log files ingested, by content digest. Counts are computed from
//! these by `crate::ingest`; the store only keeps them. A backend offers it through
//! [`Counts::log_events`](super::Counts::log_events).

use super::StoreResult;
use crate::domain::{Day, LogEvent, OrgName, RepoKey};

/// A log file as recorded once fully ingested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileInfo {
    /// Rows read, and model or dataset events among them.
    pub rows: u64,
    pub events: u64,
    pub ingested_unix: i64,
}

/// The event store of one backend.
pub trait LogEvents: Send + Sync {
    /// Starts an all-or-nothing write of events.
    fn add_events(&self) -> StoreResult<Box<dyn EventsWrite + '_>>;

    /// Calls `f` with every stored event of a repository-day.
    fn events_of(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// Calls `f` with every stored event of a repository from `first` through `last`, day by
    /// day (a recount reads a repository's days in one pass).
    fn events_of_days(
        &self,
        repo: &RepoKey,
        first: Day,
        last: Day,
        f: &mut dyn FnMut(Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// Calls `f` with every repository-day that has events (of `org` only, when given; on or
    /// after `from`, when given), in export order.
    fn event_days(
        &self,
        org: Option<&OrgName>,
        from: Option<Day>,
        f: &mut dyn FnMut(RepoKey, Day) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// The log file `name` (a format and a content digest), if it was fully ingested.
    fn log_file(&self, name: &str) -> StoreResult<Option<LogFileInfo>>;

    /// Records that the log file `name` was fully ingested (idempotent).
    fn record_log_file(&self, name: &str, rows: u64, events: u64) -> StoreResult<()>;

    /// The store's secret for hashing downloader ids that logs carry in clear (nginx
    /// addresses and users): 32 random bytes, made on first use and kept.
    fn downloader_secret(&self) -> StoreResult<Vec<u8>>;
}

/// An open write of events. Dropping it without [`EventsWrite::commit`] discards it.
pub trait EventsWrite {
    /// Adds an event now; `false` when the store already held it.
    fn add(&mut self, event: &LogEvent) -> StoreResult<bool>;

    /// Adds an event, maybe later: the backend may buffer events and store them in its own
    /// order (much faster for a file's worth). One the store already holds is kept once.
    fn push(&mut self, event: LogEvent) -> StoreResult<()>;

    /// Stores every event added or pushed; returns how many pushed events the store did not
    /// hold before.
    fn commit(self: Box<Self>) -> StoreResult<u64>;
}
