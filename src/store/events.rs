//! Kept request-log events: the set of every event ingested (one copy of each, whatever the
//! files it came in) and the log files ingested, by content digest. Counts are computed from
//! these by `crate::ingest`; the store only keeps them. A backend offers it through
//! [`Counts::log_events`](super::Counts::log_events).
//!
//! Beside the events, each model repository's library ([`RepoLibrary`]): the one set by hand,
//! and the one its logs name. A change of the library a repository is counted under marks the
//! repository until its days are recounted ([`LogEvents::library_changes`]), so a process
//! killed in between leaves the work for the next ingest or recount.
//!
//! Events may be dropped by day ([`LogEvents::prune_before`], for a retention period); the
//! store remembers the first day still whole (its horizon), so a recount can say which days
//! it could not recount.

use super::StoreResult;
use crate::domain::{Day, LibraryName, LogEvent, OrgName, RepoKey};

/// The fields of the events a reader needs; a backend reads only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFields {
    /// Every field.
    All,
    /// The request: `method`, `status` and `path`; the instant is 0 and the downloader ids
    /// are `None` (so the event's key is not its own). What counting a model repository's
    /// events reads (`Rules::fields`).
    Request,
}

/// A log file as recorded once fully ingested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileInfo {
    /// Rows read, and model or dataset events among them.
    pub rows: u64,
    pub events: u64,
    pub ingested_unix: i64,
    /// A file's head record (its format and the digest of its text's first MiB, see
    /// [`LogEvents::may_know_log_file`]); `None` for other records, for files recorded before
    /// heads were, and on a backend that does not keep heads.
    pub head: Option<String>,
}

/// The event store of one backend.
pub trait LogEvents: Send + Sync {
    /// Starts an all-or-nothing write of events.
    fn add_events(&self) -> StoreResult<Box<dyn EventsWrite + '_>>;

    /// Calls `f` with every stored event of a repository from `first` through `last`, day by
    /// day (a recount reads a repository's days in one pass), with the `fields` asked for.
    fn events_of_days(
        &self,
        repo: &RepoKey,
        first: Day,
        last: Day,
        fields: EventFields,
        f: &mut dyn FnMut(Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// [`Self::events_of_days`] of several repositories of one type, each from its own
    /// first through last day: `f` gets the repository's index in `repos`. Each repository's
    /// events come together, day by day, but the repositories may come in any order (a
    /// backend answers many at once in its own). By default, one repository after the other.
    fn events_of_repos(
        &self,
        repos: &[(&RepoKey, Day, Day)],
        fields: EventFields,
        f: &mut dyn FnMut(usize, Day, LogEvent) -> StoreResult<()>,
    ) -> StoreResult<()> {
        for (i, (repo, first, last)) in repos.iter().enumerate() {
            self.events_of_days(repo, *first, *last, fields, &mut |day, e| f(i, day, e))?;
        }
        Ok(())
    }

    /// Calls `f` with every stored event of a repository-day, with its user-agent class
    /// (`None`: kept before classes were).
    fn classified_events_of(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(LogEvent, Option<String>) -> StoreResult<()>,
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

    /// Records that the log file `name` was fully ingested (idempotent), with its `head`
    /// record when it is a file's.
    fn record_log_file(
        &self,
        name: &str,
        rows: u64,
        events: u64,
        head: Option<&str>,
    ) -> StoreResult<()>;

    /// Whether a file whose head record is `head` may have been recorded under a name that
    /// begins with `prefix` (its format and `:`). `false` only when it certainly was not: no
    /// recorded file has that head, and every file recorded under `prefix` was recorded with
    /// its head. The ingest of a file it was not stops hashing the file a second time early.
    /// By default `true` (the caller hashes the whole file to know).
    fn may_know_log_file(&self, prefix: &str, head: &str) -> StoreResult<bool> {
        let _ = (prefix, head);
        Ok(true)
    }

    /// The store's secret for hashing downloader ids that logs carry in clear (nginx
    /// addresses and users): 32 random bytes, made on first use and kept.
    fn downloader_secret(&self) -> StoreResult<Vec<u8>>;

    /// Calls `f` with each user-agent class of the repository-day's events and how many
    /// events have it (`None`: events kept before classes were), by class.
    fn agent_classes(
        &self,
        repo: &RepoKey,
        day: Day,
        f: &mut dyn FnMut(Option<String>, u64) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// Calls `f` with every day the repository has events on, ascending.
    fn days_of(&self, repo: &RepoKey, f: &mut dyn FnMut(Day) -> StoreResult<()>)
        -> StoreResult<()>;

    /// The repository's library (nothing known: both `None`).
    fn library(&self, repo: &RepoKey) -> StoreResult<RepoLibrary>;

    /// [`Self::library`] of each of `repos`, in order (a backend answers many at once). By
    /// default, one after the other.
    fn libraries_of(&self, repos: &[&RepoKey]) -> StoreResult<Vec<RepoLibrary>> {
        repos.iter().map(|repo| self.library(repo)).collect()
    }

    /// Sets the repository's library by hand (`None` removes the one set by hand); returns
    /// the library now. When the library it is counted under changes, the repository is
    /// marked for a recount.
    fn set_library(
        &self,
        repo: &RepoKey,
        library: Option<&LibraryName>,
    ) -> StoreResult<RepoLibrary>;

    /// Calls `f` with every repository (of `org` only, when given) marked because the library
    /// it is counted under changed since its days were last recounted.
    fn library_changes(
        &self,
        org: Option<&OrgName>,
        f: &mut dyn FnMut(RepoKey) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// Clears the mark of a repository recounted under `library`, unless its library changed
    /// again meanwhile.
    fn library_counted(&self, repo: &RepoKey, library: Option<&LibraryName>) -> StoreResult<()>;

    /// The first day whose events are all kept: events of earlier days were dropped by
    /// [`LogEvents::prune_before`] (`None`: nothing was ever dropped).
    fn horizon(&self) -> StoreResult<Option<Day>>;

    /// Drops every event of a day before `first_kept` and moves the horizon there (never
    /// back); returns how many events were dropped. Counts are not touched.
    fn prune_before(&self, first_kept: Day) -> StoreResult<u64>;

    // ---- a copy of the whole store (`hubstats migrate`) ----

    /// Calls `f` with every log file recorded, by name.
    fn log_files(&self, f: &mut dyn FnMut(&str, LogFileInfo) -> StoreResult<()>)
        -> StoreResult<()>;

    /// Replaces the downloader secret (a copy keeps the original's, so downloaders hashed by
    /// either store are the same).
    fn set_downloader_secret(&self, secret: &[u8]) -> StoreResult<()>;

    /// Calls `f` with every repository that has a library set by hand or named by its logs,
    /// in export order.
    fn libraries(
        &self,
        f: &mut dyn FnMut(RepoKey, LibraryRecord) -> StoreResult<()>,
    ) -> StoreResult<()>;
}

/// What a store keeps of a repository's library: the one set by hand, and the latest naming
/// in its logs with the instant of the naming event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LibraryRecord {
    pub set: Option<LibraryName>,
    pub named: Option<(i64, LibraryName)>,
}

/// A model repository's library: the one set by hand wins over the one its logs name (the
/// library of the latest event that names one; on a tie, the greatest name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoLibrary {
    pub set: Option<LibraryName>,
    pub from_logs: Option<LibraryName>,
}

impl RepoLibrary {
    /// The library the repository is counted under.
    pub fn effective(&self) -> Option<&LibraryName> {
        self.set.as_ref().or(self.from_logs.as_ref())
    }
}

/// An open write of events. Dropping it without [`EventsWrite::commit`] discards it.
pub trait EventsWrite {
    /// Adds an event (with the class of its user-agent, if known), maybe later: the backend
    /// may buffer events and store them in its own order (much faster for a file's worth).
    /// One the store already holds is kept once; the same event read with different classes
    /// keeps the greatest (byte order, a known class above none), so the classes kept do not
    /// depend on the order of files.
    fn push(&mut self, event: LogEvent, agent: Option<&str>) -> StoreResult<()>;

    /// Records that an event at `at_ms` names the repository's library: it becomes the
    /// library from logs when it is the latest naming (ties: the greatest name). Order of
    /// calls does not matter.
    fn name_library(
        &mut self,
        repo: &RepoKey,
        at_ms: i64,
        library: &LibraryName,
    ) -> StoreResult<()>;

    /// Stores every event pushed; returns how many of them the store did not hold before
    /// (each counted once).
    fn commit(self: Box<Self>) -> StoreResult<u64>;
}
