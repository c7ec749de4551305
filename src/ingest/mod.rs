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

mod fields;
mod hf_csv;
mod jsonl;
mod nginx;
mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

pub use fields::RowError;
pub use rules::{Rules, RulesError};

use crate::breakdown::import::create_orgs;
use crate::domain::{Day, LogEvent, OrgName, RepoKey};
use crate::store::{EventsWrite, LogEvents, SourceId, Store, StoreError, WriteMode};

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
    /// Events the store did not hold yet.
    pub new_events: u64,
    /// Repository-days recounted.
    pub repo_days: u64,
    /// The same bytes were ingested before: nothing was stored.
    pub duplicate: bool,
    pub orgs_created: u64,
}

/// One row of a log.
pub(crate) enum Parsed {
    Space,
    /// A request for something else than a repository file (nginx).
    Other,
    Event(LogEvent),
}

pub(crate) enum Failure {
    Row(u64, RowError),
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
    progress: &mut dyn FnMut(u64),
) -> Result<IngestReport, IngestError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| IngestError::Open {
        file: name.clone(),
        source,
    })?;
    ingest_reader(store, &name, file, format, rules, progress)
}

/// Ingests log text from `input`; `name` is how errors refer to it.
pub fn ingest_reader(
    store: &dyn Store,
    name: &str,
    input: impl Read,
    format: Format,
    rules: &Rules,
    progress: &mut dyn FnMut(u64),
) -> Result<IngestReport, IngestError> {
    let store_err = |source| IngestError::Store {
        file: name.to_owned(),
        source,
    };
    let events = store.log_events().ok_or(IngestError::Unsupported)?;
    let secret = match format {
        Format::Nginx => events.downloader_secret().map_err(store_err)?,
        Format::HfCsv | Format::Jsonl => Vec::new(),
    };
    let mut write = events.add_events().map_err(store_err)?;
    let tap = Tap::new(input, progress);
    let (mut read, digest) = read_events(name, tap, format, &secret, write.as_mut())?;
    let file_key = format!("{format}:{digest}");
    if events.log_file(&file_key).map_err(store_err)?.is_some() {
        return Ok(IngestReport {
            new_events: 0,
            duplicate: true,
            ..read.report
        }); // `write` is dropped: nothing of the file is stored again
    }
    read.report.new_events = write.commit().map_err(store_err)?;
    read.count(store, events, rules, &file_key)
        .map_err(store_err)
}

/// Reads every row into `write`; returns what the file held and its SHA-256 (hex).
fn read_events<R: Read>(
    name: &str,
    mut tap: Tap<'_, R>,
    format: Format,
    secret: &[u8],
    write: &mut dyn EventsWrite,
) -> Result<(FileRead, String), IngestError> {
    let mut read = FileRead::default();
    let each = &mut |_line, parsed| read.add(write, parsed);
    let result = match format {
        Format::HfCsv => hf_csv::read(&mut tap, each),
        Format::Jsonl => jsonl::read(&mut tap, each),
        Format::Nginx => nginx::read(&mut tap, secret, each),
    };
    let file = name.to_owned();
    match result {
        Ok(()) => Ok((read, tap.finish())),
        Err(Failure::Row(line, problem)) => Err(IngestError::Invalid {
            file,
            line,
            problem,
        }),
        Err(Failure::Store(source)) => Err(IngestError::Store { file, source }),
    }
}

/// What a file held so far: its tallies and the repository-days of its events.
#[derive(Default)]
struct FileRead {
    report: IngestReport,
    touched: BTreeMap<RepoKey, BTreeSet<Day>>,
}

impl FileRead {
    /// Once the file's events are committed: recounts the repository-days it touched,
    /// records the file, and creates its new organizations.
    fn count(
        mut self,
        store: &dyn Store,
        events: &dyn LogEvents,
        rules: &Rules,
        file_key: &str,
    ) -> Result<IngestReport, StoreError> {
        self.report.repo_days = recount(store, events, rules, &self.touched)?;
        events.record_log_file(file_key, self.report.rows, self.report.counted)?;
        let orgs: BTreeSet<OrgName> = self.touched.keys().map(|r| r.name.org()).collect();
        self.report.orgs_created = create_orgs(store, &orgs)?;
        Ok(self.report)
    }

    fn add(&mut self, write: &mut dyn EventsWrite, parsed: Parsed) -> Result<(), Failure> {
        self.report.rows += 1;
        let event = match parsed {
            Parsed::Space => {
                self.report.skipped += 1;
                return Ok(());
            }
            Parsed::Other => {
                self.report.not_files += 1;
                return Ok(());
            }
            Parsed::Event(e) => e,
        };
        self.report.counted += 1;
        let day = event.day();
        match self.touched.get_mut(&event.repo) {
            Some(days) => {
                days.insert(day);
            }
            None => {
                self.touched
                    .insert(event.repo.clone(), BTreeSet::from([day]));
            }
        }
        write.push(event)?;
        Ok(())
    }
}

/// Sets the `logs` downloads of each repository-day from every event kept for it, in one
/// write; returns how many repository-days were recounted. Each repository's events are read
/// in one pass over its touched days, one day in memory at a time.
fn recount(
    store: &dyn Store,
    events: &dyn LogEvents,
    rules: &Rules,
    touched: &BTreeMap<RepoKey, BTreeSet<Day>>,
) -> Result<u64, StoreError> {
    let source = SourceId::parse(LOGS_SOURCE)?;
    let mut write = store.write(&source, WriteMode::Merge)?;
    let mut recounted = 0;
    for (repo, days) in touched {
        let counts = count_days(events, rules, repo, days)?;
        // A day that counts nothing (now, under these rules) may have counted before: clear
        // it, unless the repository has no counts at all (nothing to clear, and writing would
        // create it).
        let mut repo_exists: Option<bool> = None;
        for day in days {
            let downloads = counts.get(day).copied().unwrap_or(0);
            let write_it = downloads > 0
                || match repo_exists {
                    Some(exists) => exists,
                    None => *repo_exists.insert(store.repo(repo)?.is_some()),
                };
            if write_it {
                write.set(repo, *day, downloads)?;
            }
            recounted += 1;
        }
    }
    write.commit()?;
    Ok(recounted)
}

/// The downloads of each of `days` (of one repository) that has events.
fn count_days(
    events: &dyn LogEvents,
    rules: &Rules,
    repo: &RepoKey,
    days: &BTreeSet<Day>,
) -> Result<BTreeMap<Day, u64>, StoreError> {
    let mut counts = BTreeMap::new();
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        return Ok(counts);
    };
    let mut current: Option<Day> = None;
    let mut day_events: Vec<LogEvent> = Vec::new();
    let mut finish = |day: Option<Day>, day_events: &mut Vec<LogEvent>| {
        if let Some(day) = day.filter(|d| days.contains(d)) {
            counts.insert(day, rules.downloads(repo.repo_type, day_events));
        }
        day_events.clear();
    };
    events.events_of_days(repo, first, last, &mut |day, event| {
        if current != Some(day) {
            finish(current, &mut day_events);
            current = Some(day);
        }
        day_events.push(event);
        Ok(())
    })?;
    finish(current, &mut day_events);
    Ok(counts)
}

/// What a recount did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecountReport {
    pub repo_days: u64,
    pub orgs: u64,
}

/// Recomputes the `logs` downloads of every repository-day with kept events (of `org` only,
/// and on or after `from`, when given) under `rules`, in one write: afterwards those counts
/// equal a fresh ingest of the same files under those rules.
pub fn recount_all(
    store: &dyn Store,
    rules: &Rules,
    org: Option<&OrgName>,
    from: Option<Day>,
) -> Result<RecountReport, IngestError> {
    let store_err = |source| IngestError::Store {
        file: "the kept events".to_owned(),
        source,
    };
    let events = store.log_events().ok_or(IngestError::Unsupported)?;
    let mut touched: BTreeMap<RepoKey, BTreeSet<Day>> = BTreeMap::new();
    events
        .event_days(org, from, &mut |repo, day| {
            touched.entry(repo).or_default().insert(day);
            Ok(())
        })
        .map_err(store_err)?;
    let repo_days = recount(store, events, rules, &touched).map_err(store_err)?;
    let orgs: BTreeSet<OrgName> = touched.keys().map(|r| r.name.org()).collect();
    Ok(RecountReport {
        repo_days,
        orgs: orgs.len() as u64,
    })
}

/// Hashes what is read (the file's identity) and reports progress every 64 KiB or so.
struct Tap<'p, R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
    reported: u64,
    progress: &'p mut dyn FnMut(u64),
}

const PROGRESS_EVERY: u64 = 1 << 16;

impl<'p, R: Read> Tap<'p, R> {
    fn new(inner: R, progress: &'p mut dyn FnMut(u64)) -> Self {
        Tap {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
            reported: 0,
            progress,
        }
    }

    /// Reads to the end (a parser may stop before the last bytes) and returns the hex digest.
    fn finish(mut self) -> String {
        let mut rest = [0u8; 8192];
        while let Ok(n) = self.read(&mut rest) {
            if n == 0 {
                break;
            }
        }
        (self.progress)(self.bytes);
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        if self.bytes - self.reported >= PROGRESS_EVERY {
            self.reported = self.bytes;
            (self.progress)(self.bytes);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
