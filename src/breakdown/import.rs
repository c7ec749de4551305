//! Reads breakdown CSV files into the store, all-or-nothing per file.
//!
//! Every file writes the one source `breakdown` in `Merge` mode: a repository-day's value is
//! set, never added, so re-importing a file changes nothing and a later file corrects or
//! extends earlier ones. The reader streams: memory grows only by what duplicate detection and
//! the sum checks need (a few bytes per run of consecutive days of a repository, one number
//! per organization-day), never by the file's text, and lines are bounded
//! ([`MAX_LINE`]) while reading. Every row is validated, and must end with a line end (a file
//! cut short in a row's last field would still read as a valid, smaller count); the first
//! invalid one stops the import and the file's write is dropped, so nothing from that file is
//! stored. Organizations
//! new to the accounts store are created on the `free` plan once the counts are committed.
//! Given the reference day ([`import_file_as_of`]), a row dated after the day that follows it
//! ([`Day::last_accepted`]) is invalid: it has not happened yet.

mod fields;
pub(crate) mod limit;
mod seen;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub use fields::RowError;
use limit::LineLimit;
pub use limit::MAX_LINE;
use seen::SeenDays;

use crate::domain::{Day, OrgName, Plan, RepoKey};
use crate::store::{CountsWrite, SourceId, Store, StoreError, WriteMode, MAX_COUNT};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read the file")]
    Open { file: String, source: io::Error },
    #[error("{file}, line {line}: {problem}")]
    Invalid {
        file: String,
        line: u64,
        problem: RowError,
    },
    #[error("{file}: storing its rows")]
    Store { file: String, source: StoreError },
}

/// What one imported file contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub rows: u64,
    pub repos: u64,
    pub orgs_created: u64,
}

/// Imports one file. `progress` receives the number of bytes read so far, now and then.
pub fn import_file(
    store: &dyn Store,
    path: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    import_file_with(store, path, None, progress)
}

/// [`import_file`], refusing a row dated after the day after the reference day `today`.
pub fn import_file_as_of(
    store: &dyn Store,
    path: &Path,
    today: Day,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    import_file_with(store, path, Some(today), progress)
}

fn import_file_with(
    store: &dyn Store,
    path: &Path,
    today: Option<Day>,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| ImportError::Open {
        file: name.clone(),
        source,
    })?;
    import_reader_with(store, &name, file, today, progress)
}

/// Imports CSV text from `input`; `name` is how errors refer to it.
pub fn import_reader(
    store: &dyn Store,
    name: &str,
    input: impl Read,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    import_reader_with(store, name, input, None, progress)
}

/// [`import_reader`], refusing a row dated after the day after the reference day `today`.
pub fn import_reader_as_of(
    store: &dyn Store,
    name: &str,
    input: impl Read,
    today: Day,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    import_reader_with(store, name, input, Some(today), progress)
}

fn import_reader_with(
    store: &dyn Store,
    name: &str,
    input: impl Read,
    today: Option<Day>,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let store_err = |source| ImportError::Store {
        file: name.to_owned(),
        source,
    };
    let mut write = store
        .write(&SourceId::breakdown(), WriteMode::Merge)
        .map_err(store_err)?;
    let mut import = FileImport::new(store, write.as_mut());
    import.today = today;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineLimit::new(input, MAX_LINE));
    let result = import.read_all(&mut reader, progress);
    let (mut report, orgs) = import.finish();
    match result {
        Ok(()) => {}
        Err(Failure::Row(line, problem)) => {
            return Err(ImportError::Invalid {
                file: name.to_owned(),
                line,
                problem,
            })
        }
        Err(Failure::Store(e)) => return Err(store_err(e)),
    }
    write.commit().map_err(store_err)?;
    report.orgs_created = create_orgs(store, &orgs).map_err(store_err)?;
    Ok(report)
}

/// Creates the organizations the accounts store does not know yet, on the `free` plan.
pub(crate) fn create_orgs(store: &dyn Store, orgs: &BTreeSet<OrgName>) -> Result<u64, StoreError> {
    let mut created = 0;
    for org in orgs {
        if store.org(org)?.is_none() {
            match store.create_org(org, Plan::Free) {
                Ok(()) => created += 1,
                Err(StoreError::Conflict(_)) => {} // created meanwhile, or differs only in case
                Err(e) => return Err(e),
            }
        }
    }
    Ok(created)
}

enum Failure {
    Row(u64, RowError),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// The state of one file's import: the open write and what the file said so far.
struct FileImport<'t> {
    store: &'t dyn Store,
    write: &'t mut dyn CountsWrite,
    index: HashMap<RepoKey, usize>,
    repos: Vec<RepoSeen>,
    orgs: HashMap<OrgName, OrgSums>,
    /// The repository of the previous row (rows come grouped by repository).
    current: Option<usize>,
    rows: u64,
    /// The reference day: rows after the day after it are refused.
    today: Option<Day>,
}

/// What the file said about one repository.
struct RepoSeen {
    key: RepoKey,
    /// The total and the line it first appeared on.
    total: Option<(u64, u64)>,
    days: SeenDays,
    /// Downloads already stored (every source), plus this file's.
    sum: u128,
}

/// An organization's downloads per day, already stored plus this file's: no organization-day
/// may pass [`MAX_COUNT`]. (Counting stored values as well as the file's is conservative for
/// a file that replaces its own earlier values; no real count comes near 2^53.)
#[derive(Default)]
struct OrgSums {
    daily: HashMap<i32, u128>,
    repos: HashMap<RepoKey, u64>,
}

const PROGRESS_EVERY: u64 = 16_384;

impl<'t> FileImport<'t> {
    fn new(store: &'t dyn Store, write: &'t mut dyn CountsWrite) -> Self {
        FileImport {
            store,
            write,
            index: HashMap::new(),
            repos: Vec::new(),
            orgs: HashMap::new(),
            current: None,
            rows: 0,
            today: None,
        }
    }

    /// The organization's stored sums, read once per file (nothing for a new organization).
    fn org_sums(&mut self, org: OrgName) -> Result<&mut OrgSums, StoreError> {
        let store = self.store;
        match self.orgs.entry(org) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let mut sums = OrgSums::default();
                if store.version(e.key())? > 0 {
                    for (day, _, n) in store.org_daily(e.key(), None)? {
                        *sums.daily.entry(day.epoch_days()).or_default() += u128::from(n);
                    }
                    for r in store.repos(e.key())?.iter() {
                        let daily = (i128::from(r.total) - i128::from(r.adjustment)).max(0);
                        sums.repos.insert(r.key.clone(), daily as u64);
                    }
                }
                Ok(e.insert(sums))
            }
        }
    }

    fn read_all<R: Read>(
        &mut self,
        reader: &mut csv::Reader<LineLimit<R>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Failure> {
        let mut record = csv::ByteRecord::new();
        if !next_record(reader, &mut record)? {
            return Err(Failure::Row(1, RowError::Empty));
        }
        let header: Vec<&[u8]> = record.iter().collect();
        fields::check_header(&header).map_err(|e| Failure::Row(line_of(&record), e))?;
        while next_record(reader, &mut record)? {
            self.row(&record, line_of(&record))?;
            if self.rows.is_multiple_of(PROGRESS_EVERY) {
                progress(reader.position().byte());
            }
        }
        progress(reader.position().byte());
        Ok(())
    }

    fn row(&mut self, record: &csv::ByteRecord, line: u64) -> Result<(), Failure> {
        let row = |e| Failure::Row(line, e);
        if record
            .iter()
            .any(|f| f.contains(&b'\n') || f.contains(&b'\r'))
        {
            return Err(row(RowError::UnterminatedQuote));
        }
        if record.len() != 5 {
            return Err(row(RowError::FieldCount {
                found: record.len(),
            }));
        }
        let text = |i: usize| {
            std::str::from_utf8(&record[i]).map_err(|_| row(RowError::Csv("invalid UTF-8".into())))
        };
        let index = self.repo_index(text(0)?, text(1)?).map_err(row)?;
        let total = fields::count("total", text(2)?).map_err(row)?;
        let day = fields::timestamp(text(3)?).map_err(row)?;
        if let Some(today) = self.today {
            let last = today.last_accepted();
            if day > last {
                return Err(row(RowError::AfterToday { day, today, last }));
            }
        }
        let downloads = fields::count("downloads", text(4)?).map_err(row)?;
        let repo = &mut self.repos[index];
        match repo.total {
            None => {
                repo.total = Some((total, line));
                self.write.set_total(&repo.key, total)?;
            }
            Some((first, first_line)) if first != total => {
                let repo = fields::describe(&repo.key);
                return Err(row(RowError::InconsistentTotal {
                    repo,
                    found: total,
                    first,
                    first_line,
                }));
            }
            Some(_) => {}
        }
        if let Some(first_line) = repo.days.insert(day, line) {
            return Err(row(RowError::DuplicateDay {
                repo: fields::describe(&repo.key),
                day,
                first_line,
            }));
        }
        repo.sum += u128::from(downloads);
        if repo.sum > u128::from(MAX_COUNT) {
            return Err(row(RowError::RepoSumTooLarge {
                repo: fields::describe(&repo.key),
                found: repo.sum,
            }));
        }
        self.write.set(&repo.key, day, downloads)?;
        let org = repo.key.name.org();
        let org_day = self
            .org_sums(org.clone())?
            .daily
            .entry(day.epoch_days())
            .or_default();
        *org_day += u128::from(downloads);
        if *org_day > u128::from(MAX_COUNT) {
            return Err(row(RowError::OrgDaySumTooLarge {
                org: org.to_string(),
                day,
                found: *org_day,
            }));
        }
        self.rows += 1;
        Ok(())
    }

    /// Finds (or registers) the row's repository and makes it current.
    fn repo_index(&mut self, repo_type: &str, repo_name: &str) -> Result<usize, RowError> {
        if let Some(i) = self.current {
            let key = &self.repos[i].key;
            if key.name.as_str() == repo_name && key.repo_type.as_str() == repo_type {
                return Ok(i);
            }
        }
        let key = RepoKey {
            repo_type: fields::repo_type(repo_type)?,
            name: fields::repo_name(repo_name)?,
        };
        let i = match self.index.get(&key) {
            Some(i) => *i,
            None => {
                let stored = (self.org_sums(key.name.org()))
                    .map_err(|e| RowError::Csv(format!("reading the stored counts: {e}")))?
                    .repos
                    .get(&key)
                    .copied()
                    .unwrap_or(0);
                self.index.insert(key.clone(), self.repos.len());
                self.repos.push(RepoSeen {
                    key,
                    total: None,
                    days: SeenDays::default(),
                    sum: u128::from(stored),
                });
                self.repos.len() - 1
            }
        };
        self.current = Some(i);
        Ok(i)
    }

    /// What the file held, and its organizations.
    fn finish(self) -> (ImportReport, BTreeSet<OrgName>) {
        let report = ImportReport {
            rows: self.rows,
            repos: self.repos.len() as u64,
            orgs_created: 0,
        };
        (report, self.orgs.into_keys().collect())
    }
}

fn next_record<R: Read>(
    reader: &mut csv::Reader<LineLimit<R>>,
    record: &mut csv::ByteRecord,
) -> Result<bool, Failure> {
    let read = reader.read_byte_record(record).map_err(|e| {
        if let Some(line) = limit::too_long_line(&e) {
            return Failure::Row(line, RowError::LineTooLong { max: MAX_LINE });
        }
        let line = e.position().map_or(reader.position().line(), |p| p.line());
        Failure::Row(line, RowError::Csv(e.to_string()))
    })?;
    // The last record without its line end may be cut short: a count cut is a smaller count.
    if read && reader.get_ref().ended_inside_a_line() {
        return Err(Failure::Row(line_of(record), RowError::NoLineEnd));
    }
    Ok(read)
}

fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Stores;

    #[test]
    fn progress_ends_at_the_input_size() {
        let csv = format!(
            "{}\nmodel,a/b,1,2024-01-01T00:00:00.000Z,1\n",
            super::super::HEADER
        );
        let store = Stores::memory().unwrap();
        let mut last = 0;
        let report = import_reader(&store, "p.csv", csv.as_bytes(), &mut |b| last = b).unwrap();
        assert_eq!(last, csv.len() as u64);
        assert_eq!(
            report,
            ImportReport {
                rows: 1,
                repos: 1,
                orgs_created: 1
            }
        );
    }
}
