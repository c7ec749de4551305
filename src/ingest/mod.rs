//! Request logs in, daily downloads out: reads log files ([`Format`]), keeps their events in
//! the store's [`LogEvents`], and recounts every repository-day the file touched from all the
//! events kept for it, under the counting [`Rules`].
//!
//! Exactly once, whatever the files: events are kept as a set (keyed by a hash of all their
//! fields), a file's content digest is recorded once it is fully counted (the same bytes again
//! count nothing), and a repository-day's downloads are always computed from every event kept
//! for it and *set* (never added) in the `logs` source with [`WriteMode::Merge`]. So the counts
//! depend only on the set of events ingested: not on file order, overlaps, or where a log was
//! split (a dataset window spanning two files counts once).
//!
//! Per file: parse and add events in one all-or-nothing events write (a bad row drops it);
//! commit; recount the touched repository-days in one counts write; record the file. A process
//! killed before the counts write commits leaves the counts as they were and the file
//! unrecorded, so running the same file again completes it. The events are read while the
//! counts write is open (it holds the store's write lock), so two ingests at once cannot
//! write a recount that misses the other's events.
//!
//! [`recount_all`] recomputes every repository-day with kept events under given rules (after
//! a rules file changed): afterwards the counts equal a fresh ingest under those rules.
//!
//! A model is counted under its repository's library (see [`recount`]): a `jsonl` event's
//! `library` names it (the latest naming wins, stored with the file's events), and
//! [`set_library`] sets it by hand. When the library a repository is counted under changes,
//! all its days are recounted, by the same ingest or command, or by the next one if the
//! process died first.
//!
//! Retention: events of days before the first kept day (the store's pruned horizon, or a
//! later day given by the caller from the configured retention, see [`first_kept_day`]) are
//! read but not stored, and their days are not recounted, so dropping events never changes a
//! count already computed. [`prune_events`] drops the stored ones and moves the horizon.
//!
//! The future: given the reference day ([`DayBounds::today`]), an event dated after the day
//! that follows it ([`Day::last_accepted`]) refuses its whole file or batch, naming the line,
//! like any bad row: it has not happened yet, and counting it would stretch the organization's
//! All Time into the future.

mod batch;
mod exclude;
mod fields;
mod hf_csv;
mod input;
mod jsonl;
mod nginx;
mod recount;
mod retention;
mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use input::{file_record, text_of, Digests, KnownCheck, Progress, Tap};

pub use batch::{ingest_batch, ingest_batch_within, BatchError, IdempotencyKey};
pub use exclude::{class_names, downloads_of_classes, DayDownloads};
pub use fields::RowError;
pub use recount::{recount_all, recount_within, set_library, RecountReport};
pub use retention::{first_kept_day, prune_events, PruneReport};
pub use rules::{
    AgentClass, AgentClasses, Libraries, Library, PathParts, Query, QueryError, Rules, RulesError,
    OTHER_AGENT,
};

use crate::breakdown::import::create_orgs;
use crate::domain::{Day, LibraryName, LogEvent, OrgName, RepoKey, RepoType};
use crate::store::{EventsWrite, LogEvents, Store, StoreError};

/// The source every log ingest writes.
pub const LOGS_SOURCE: &str = "logs";

/// A log file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Hugging Face's granular request logs (CSV).
    HfCsv,
    /// hubstats' event format (one JSON object per line).
    Jsonl,
    /// nginx's `combined` access log of a hub serving Hub-style URLs.
    Nginx,
}

impl Format {
    pub const NAMES: [&'static str; 3] = ["hf-csv", "jsonl", "nginx"];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::HfCsv => "hf-csv",
            Format::Jsonl => "jsonl",
            Format::Nginx => "nginx",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hf-csv" => Ok(Format::HfCsv),
            "jsonl" => Ok(Format::Jsonl),
            "nginx" => Ok(Format::Nginx),
            _ => Err(format!(
                "unknown log format {s:?} (expected hf-csv, jsonl or nginx)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: cannot read the file")]
    Open { file: String, source: io::Error },
    #[error("{file}, line {line}: {problem}")]
    Invalid {
        file: String,
        line: u64,
        problem: RowError,
    },
    #[error("{file}: storing its events")]
    Store { file: String, source: StoreError },
    #[error("this store does not keep log events")]
    Unsupported,
}

/// The days of the events an ingest keeps and accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayBounds {
    /// Events of earlier days are read but neither kept nor counted (retention); `None` keeps
    /// every day.
    pub first_kept: Option<Day>,
    /// The reference day: an event dated after [`Day::last_accepted`] of it refuses the whole
    /// file or batch. `None` accepts every day the product does (to [`Day::MAX`]).
    pub today: Option<Day>,
}

impl DayBounds {
    /// The bounds of a retention of `retention_days` (see [`first_kept_day`]; `None`: keep
    /// everything) ending on the reference day `today`.
    pub fn new(retention_days: Option<u32>, today: Day) -> Self {
        DayBounds {
            first_kept: first_kept_day(retention_days, today),
            today: Some(today),
        }
    }
}

/// What one ingested file contained and changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestReport {
    /// Rows read (header and blank lines excluded).
    pub rows: u64,
    /// Model and dataset events among them (kept and counted under the rules).
    pub counted: u64,
    /// Rows read and ignored (spaces).
    pub skipped: u64,
    /// Lines whose URL is not a repository file (nginx), skipped.
    pub not_files: u64,
    /// Model and dataset events of days before the first kept day (retention): not stored,
    /// not counted.
    pub expired: u64,
    /// Events the store did not hold yet.
    pub new_events: u64,
    /// Repository-days recounted.
    pub repo_days: u64,
    /// The downloads those repository-days hold from logs once recounted: this file's events
    /// counted under the rules, with those other files gave the same days.
    pub downloads: u64,
    /// The same bytes were ingested before: nothing was stored.
    pub duplicate: bool,
    pub orgs_created: u64,
}

/// One row of a log.
pub(crate) enum Parsed {
    Space,
    /// A request for something else than a repository file (nginx).
    Other,
    Event(Request),
}

/// A request read from a log: the event, and what its line says beside it.
pub(crate) struct Request {
    pub event: LogEvent,
    /// The repository's library, when the line names it (jsonl).
    pub library: Option<LibraryName>,
    /// The client's user-agent, when the log has one.
    pub agent: Option<String>,
}

pub(crate) enum Failure {
    Row(u64, RowError),
    /// The input could not be read (not a problem of its text).
    Read(io::Error),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// Ingests one file. `progress` receives the number of bytes read so far, now and then.
pub fn ingest_file(
    store: &dyn Store,
    path: &Path,
    format: Format,
    rules: &Rules,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<IngestReport, IngestError> {
    ingest_file_within(store, path, format, rules, DayBounds::default(), progress)
}

/// [`ingest_file`] within `days`: the events of days before `days.first_kept` are dropped
/// (retention), one after the day after `days.today` refuses the file.
pub fn ingest_file_within(
    store: &dyn Store,
    path: &Path,
    format: Format,
    rules: &Rules,
    days: DayBounds,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<IngestReport, IngestError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| IngestError::Open {
        file: name.clone(),
        source,
    })?;
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    let Some(events) = store.log_events().filter(|_| regular) else {
        return ingest_reader_within(store, &name, file, format, rules, days, progress);
    };
    // A file read before is found by a second thread hashing it alone (see `input`).
    let check = KnownCheck::new();
    std::thread::scope(|scope| {
        let before = std::thread::Builder::new()
            .name("hubstats-check".to_owned())
            .spawn_scoped(scope, || check.run(events, path, format))
            .ok();
        let result = read_and_count(
            store,
            &name,
            file,
            format,
            rules,
            days,
            progress,
            Some(&check.found),
        );
        check.over.store(true, Ordering::Relaxed);
        match (result, before.and_then(|b| b.join().ok()).flatten()) {
            (Err(IngestError::Open { source, .. }), Some(info)) if input::is_known(&source) => {
                Ok(IngestReport {
                    rows: info.rows,
                    counted: info.events,
                    duplicate: true,
                    ..IngestReport::default()
                })
            }
            (result, _) => result,
        }
    })
}

/// Ingests log text from `input`; `name` is how errors refer to it.
pub fn ingest_reader(
    store: &dyn Store,
    name: &str,
    input: impl Read + Send,
    format: Format,
    rules: &Rules,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<IngestReport, IngestError> {
    ingest_reader_within(
        store,
        name,
        input,
        format,
        rules,
        DayBounds::default(),
        progress,
    )
}

/// [`ingest_reader`] within `days` (see [`ingest_file_within`]).
pub fn ingest_reader_within(
    store: &dyn Store,
    name: &str,
    input: impl Read + Send,
    format: Format,
    rules: &Rules,
    days: DayBounds,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<IngestReport, IngestError> {
    read_and_count(store, name, input, format, rules, days, progress, None)
}

/// Reads `input`'s events into the store and recounts; ends early (an `Open` error that
/// [`input::is_known`]) once `stop` is set.
#[allow(clippy::too_many_arguments)]
fn read_and_count(
    store: &dyn Store,
    name: &str,
    input: impl Read + Send,
    format: Format,
    rules: &Rules,
    days: DayBounds,
    progress: &mut (dyn FnMut(u64) + Send),
    stop: Option<&AtomicBool>,
) -> Result<IngestReport, IngestError> {
    let store_err = |source| IngestError::Store {
        file: name.to_owned(),
        source,
    };
    let events = store.log_events().ok_or(IngestError::Unsupported)?;
    let first_kept = retention::effective(events, days.first_kept).map_err(store_err)?;
    let days = DayBounds { first_kept, ..days };
    let secret = match format {
        Format::Nginx => events.downloader_secret().map_err(store_err)?,
        Format::HfCsv | Format::Jsonl => Vec::new(),
    };
    let mut write = events.add_events().map_err(store_err)?;
    let text =
        text_of(Progress::new(input, progress, stop)).map_err(|source| IngestError::Open {
            file: name.to_owned(),
            source,
        })?;
    let tap = Tap::new(text);
    let (mut read, digests) = read_events(name, tap, format, rules, days, &secret, write.as_mut())?;
    let file_key = file_record(format, &digests.whole);
    if events.log_file(&file_key).map_err(store_err)?.is_some() {
        return Ok(IngestReport {
            new_events: 0,
            duplicate: true,
            ..read.report
        }); // `write` is dropped: nothing of the file is stored again
    }
    read.name_libraries(write.as_mut()).map_err(store_err)?;
    read.report.new_events = write.commit().map_err(store_err)?;
    let head = file_record(format, &digests.head);
    read.count(store, events, rules, &[(&file_key, Some(&head))])
        .map_err(store_err)
}

/// Parsed rows per message from the parsing thread to the storing one, and messages in flight
/// between them: enough (64k rows, ~13 MB) for the parser to go on while the store flushes its
/// buffer (131,072 events sorted and written at once), so that neither half waits for long.
/// With 4 in flight, the parser of a 1M-row `hf-csv` file spent 0.34 s blocked and the store
/// 0.21 s waiting (1.40 s wall); with 16, 0.15 and 0.06 s (1.30 s); 32 gained little more.
const PARSED_BATCH: usize = 4096;
const BATCHES_IN_FLIGHT: usize = 16;

/// Reads every row into `write` (see [`DayBounds`] for `days`); returns what the file held and
/// its SHA-256 (hex).
///
/// A pipeline of two threads: this one stores (buffers, encodes and writes blocks), a second
/// one reads, hashes, parses and classifies user-agents, handing rows over in batches. Both
/// halves take about as long, so a file takes about the longer one's time rather than their
/// sum. Rows are stored in the order the file holds them; the first failure wins: a row the
/// parser refuses, or a store error (which stops the parser at its next batch).
fn read_events<R: Read + Send>(
    name: &str,
    tap: Tap<R>,
    format: Format,
    rules: &Rules,
    days: DayBounds,
    secret: &[u8],
    write: &mut dyn EventsWrite,
) -> Result<(FileRead, Digests), IngestError> {
    let mut read = FileRead::new();
    read.first_kept = days.first_kept;
    let classes = &rules.agent_classes;
    let (parsed, stored) = std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel(BATCHES_IN_FLIGHT);
        let parser = std::thread::Builder::new()
            .name("hubstats-parse".to_owned())
            .spawn_scoped(scope, move || {
                parse(tap, format, days.today, secret, classes, send)
            });
        let parser = match parser {
            Ok(parser) => parser,
            Err(e) => return (Err(Failure::Read(e)), Ok(())),
        };
        let mut stored = Ok(());
        'batches: for batch in receive.iter() {
            for (parsed, class) in batch {
                if let Err(e) = read.add(write, parsed, class) {
                    stored = Err(e);
                    break 'batches;
                }
            }
        }
        // A parser still sending stops at its next batch.
        drop(receive);
        let parsed = parser
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (parsed, stored)
    });
    let failure = match (stored, parsed) {
        // The store's failure first: it is why the parser stopped, if it did.
        (Err(e), _) | (Ok(()), Err(e)) => e,
        (Ok(()), Ok(digests)) => return Ok((read, digests)),
    };
    let file = name.to_owned();
    Err(match failure {
        Failure::Row(line, problem) => IngestError::Invalid {
            file,
            line,
            problem,
        },
        Failure::Read(source) => IngestError::Open { file, source },
        Failure::Store(source) => IngestError::Store { file, source },
    })
}

/// The parsing half of [`read_events`]: parses `tap`'s rows, each with its user-agent's class,
/// into batches sent on `send`; returns the digests of the text once it was read to its end.
/// An event dated after the day after `today` is a bad row.
fn parse<'r, R: Read>(
    mut tap: Tap<R>,
    format: Format,
    today: Option<Day>,
    secret: &[u8],
    classes: &'r AgentClasses,
    send: std::sync::mpsc::SyncSender<Vec<(Parsed, &'r str)>>,
) -> Result<Digests, Failure> {
    let stopped = || Failure::Read(io::Error::other("the store stopped reading"));
    let mut agents = Agents::new(classes);
    let mut batch = Vec::with_capacity(PARSED_BATCH);
    let field = match format {
        Format::Nginx => "time_local",
        Format::HfCsv | Format::Jsonl => "timestamp",
    };
    let future = |line, parsed: &Parsed| {
        let (Some(today), Parsed::Event(request)) = (today, parsed) else {
            return None;
        };
        let (day, last) = (request.event.day(), today.last_accepted());
        (day > last).then(|| {
            let problem = RowError::AfterToday {
                field,
                day,
                today,
                last,
            };
            Failure::Row(line, problem)
        })
    };
    let each = &mut |line, mut parsed| {
        if let Some(refused) = future(line, &parsed) {
            return Err(refused);
        }
        let class = agents.take_class(&mut parsed);
        batch.push((parsed, class));
        if batch.len() == PARSED_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(PARSED_BATCH));
            send.send(full).map_err(|_| stopped())?;
        }
        Ok(())
    };
    match format {
        Format::HfCsv => hf_csv::read(&mut tap, each),
        Format::Jsonl => jsonl::read(&mut tap, each),
        Format::Nginx => nginx::read(&mut tap, secret, each),
    }?;
    if !batch.is_empty() {
        send.send(batch).map_err(|_| stopped())?;
    }
    Ok(tap.finish())
}

/// What a file held so far: its tallies, the repository-days of its events, and the latest
/// library each model repository's events name (with the instant of the naming).
struct FileRead {
    report: IngestReport,
    touched: BTreeMap<RepoKey, BTreeSet<Day>>,
    libraries: BTreeMap<RepoKey, (i64, LibraryName)>,
    /// Events of earlier days are dropped (retention).
    first_kept: Option<Day>,
}

impl FileRead {
    fn new() -> Self {
        FileRead {
            report: IngestReport::default(),
            touched: BTreeMap::new(),
            libraries: BTreeMap::new(),
            first_kept: None,
        }
    }

    /// Stores, with the file's events, the library its events last named for each model.
    fn name_libraries(&self, write: &mut dyn EventsWrite) -> Result<(), StoreError> {
        for (repo, (at_ms, library)) in &self.libraries {
            write.name_library(repo, *at_ms, library)?;
        }
        Ok(())
    }

    /// Once the file's events are committed: recounts the repository-days it touched,
    /// records the file under each of `records` (in order, each with its head record, if
    /// any), and creates its new organizations.
    fn count(
        mut self,
        store: &dyn Store,
        events: &dyn LogEvents,
        rules: &Rules,
        records: &[(&str, Option<&str>)],
    ) -> Result<IngestReport, StoreError> {
        let changed = recount::add_library_changes(events, None, &mut self.touched)?;
        retention::keep_from(&mut self.touched, self.first_kept);
        let recounted = recount::recount(store, events, rules, &self.touched, &changed)?;
        self.report.repo_days = recounted.repo_days;
        self.report.downloads = recounted.downloads;
        for (name, head) in records {
            events.record_log_file(name, self.report.rows, self.report.counted, *head)?;
        }
        let orgs: BTreeSet<OrgName> = self.touched.keys().map(|r| r.name.org()).collect();
        self.report.orgs_created = create_orgs(store, &orgs)?;
        Ok(self.report)
    }

    /// Stores one row; `class` is its user-agent's (see [`Agents`]).
    fn add(
        &mut self,
        write: &mut dyn EventsWrite,
        parsed: Parsed,
        class: &str,
    ) -> Result<(), Failure> {
        self.report.rows += 1;
        let request = match parsed {
            Parsed::Space => {
                self.report.skipped += 1;
                return Ok(());
            }
            Parsed::Other => {
                self.report.not_files += 1;
                return Ok(());
            }
            Parsed::Event(request) => request,
        };
        let event = request.event;
        let day = event.day();
        if self.first_kept.is_some_and(|first| day < first) {
            self.report.expired = self.report.expired.saturating_add(1);
            return Ok(());
        }
        if let (Some(library), RepoType::Model) = (request.library, event.repo.repo_type) {
            self.name_library(&event, library);
        }
        self.report.counted += 1;
        match self.touched.get_mut(&event.repo) {
            Some(days) => {
                days.insert(day);
            }
            None => {
                self.touched
                    .insert(event.repo.clone(), BTreeSet::from([day]));
            }
        }
        write.push(event, Some(class))?;
        Ok(())
    }

    /// Keeps the latest naming of the repository's library (ties: the greatest name).
    fn name_library(&mut self, e: &LogEvent, library: LibraryName) {
        let naming = (e.at_ms, library);
        match self.libraries.get_mut(&e.repo) {
            Some(latest) if *latest >= naming => {}
            Some(latest) => *latest = naming,
            None => {
                self.libraries.insert(e.repo.clone(), naming);
            }
        }
    }
}

/// Classifies user-agents, remembering the class of those seen (see [`KNOWN_AGENTS`]): a log's
/// agents are a few hundred strings repeated, and classifying one scans every pattern.
struct Agents<'r> {
    classes: &'r AgentClasses,
    known: HashMap<String, &'r str, ahash::RandomState>,
}

impl<'r> Agents<'r> {
    fn new(classes: &'r AgentClasses) -> Self {
        Agents {
            classes,
            known: HashMap::default(),
        }
    }

    /// The class of `parsed`'s user-agent, taken out of it (for anything but an event: the
    /// class of no user-agent, unused).
    fn take_class(&mut self, parsed: &mut Parsed) -> &'r str {
        let agent = match parsed {
            Parsed::Event(request) => request.agent.take(),
            Parsed::Space | Parsed::Other => None,
        };
        let Some(agent) = agent else {
            return self.classes.classify(None);
        };
        if let Some(class) = self.known.get(&agent) {
            return class;
        }
        let class = self.classes.classify(Some(&agent));
        if self.known.len() < KNOWN_AGENTS && agent.len() <= KNOWN_AGENT_LEN {
            self.known.insert(agent, class);
        }
        class
    }
}

/// User-agents whose class a file's read remembers, and the longest one it remembers (at most
/// ~1 MB in all).
const KNOWN_AGENTS: usize = 4096;
const KNOWN_AGENT_LEN: usize = 256;

#[cfg(test)]
mod tests;
