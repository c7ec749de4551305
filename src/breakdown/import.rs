//! Reads breakdown CSV files into the store, all-or-nothing per file.
//!
//! The reader streams: memory grows only by what duplicate detection needs (a few bytes per
//! run of consecutive days of a repository), never by the file's text. Every row is
//! validated; the first invalid one stops the import and the file's transaction is dropped,
//! so nothing from that file is stored. Re-importing sets the same values again.

mod fields;
mod seen;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

pub use fields::RowError;
use seen::SeenDays;

use crate::domain::RepoKey;
use crate::store::{Counts, StoreError, WriteTx};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read the file: {source}")]
    Open { file: String, source: io::Error },
    #[error("{file}, line {line}: {problem}")]
    Invalid {
        file: String,
        line: u64,
        problem: RowError,
    },
    #[error("{file}: storing its rows: {source}")]
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
    store: &dyn Counts,
    path: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| ImportError::Open {
        file: name.clone(),
        source,
    })?;
    import_reader(store, &name, file, progress)
}

/// Imports CSV text from `input`; `name` is how errors refer to it.
pub fn import_reader(
    store: &dyn Counts,
    name: &str,
    input: impl Read,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let store_err = |source| ImportError::Store {
        file: name.to_owned(),
        source,
    };
    let mut tx = store.begin().map_err(store_err)?;
    let mut import = FileImport::new(tx.as_mut());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let result = import.read_all(&mut reader, progress);
    let report = import.report();
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
    tx.commit().map_err(store_err)?;
    Ok(report)
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

/// The state of one file's import: the open transaction and what the file said so far.
struct FileImport<'t> {
    tx: &'t mut dyn WriteTx,
    index: HashMap<RepoKey, usize>,
    repos: Vec<RepoSeen>,
    /// The repository of the previous row (rows come grouped by repository).
    current: Option<usize>,
    rows: u64,
}

/// What the file said about one repository.
struct RepoSeen {
    key: RepoKey,
    /// The total and the line it first appeared on.
    total: Option<(u64, u64)>,
    days: SeenDays,
}

const PROGRESS_EVERY: u64 = 16_384;

impl<'t> FileImport<'t> {
    fn new(tx: &'t mut dyn WriteTx) -> Self {
        FileImport {
            tx,
            index: HashMap::new(),
            repos: Vec::new(),
            current: None,
            rows: 0,
        }
    }

    fn read_all<R: Read>(
        &mut self,
        reader: &mut csv::Reader<R>,
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
        let downloads = fields::count("downloads", text(4)?).map_err(row)?;
        let repo = &mut self.repos[index];
        match repo.total {
            None => {
                repo.total = Some((total, line));
                self.tx.set_total(&repo.key, total)?;
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
        self.tx.set_daily(&repo.key, day, downloads)?;
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
        let i = match self.index.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => {
                let key = e.key().clone();
                e.insert(self.repos.len());
                self.repos.push(RepoSeen {
                    key,
                    total: None,
                    days: SeenDays::default(),
                });
                self.repos.len() - 1
            }
        };
        self.current = Some(i);
        Ok(i)
    }

    fn report(&self) -> ImportReport {
        ImportReport {
            rows: self.rows,
            repos: self.repos.len() as u64,
            orgs_created: self.tx.created_orgs(),
        }
    }
}

fn next_record<R: Read>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::ByteRecord,
) -> Result<bool, Failure> {
    reader.read_byte_record(record).map_err(|e| {
        let line = e.position().map_or(reader.position().line(), |p| p.line());
        Failure::Row(line, RowError::Csv(e.to_string()))
    })
}

fn line_of(record: &csv::ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[test]
    fn progress_ends_at_the_input_size() {
        let csv = format!(
            "{}\nmodel,a/b,1,2024-01-01T00:00:00.000Z,1\n",
            super::super::HEADER
        );
        let store = SqliteStore::memory().unwrap();
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
