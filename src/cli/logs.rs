//! `ingest`: request logs into the store, one file after the other; `recount`: the counts
//! again from the kept events.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::ProgressBar;

use super::data::{counted, open_store, progress_bar};
use crate::config::Config;
use crate::domain::{Day, OrgName};
use crate::ingest::{self, Format, IngestReport, Rules};
use crate::store::Store;

/// The rules file's rules, or the Hub's defaults.
pub(super) fn load_rules(path: Option<&Path>) -> Result<Rules> {
    let Some(path) = path else {
        return Ok(Rules::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the rules file {}", path.display()))?;
    Rules::parse_toml(&text).with_context(|| format!("{}", path.display()))
}

pub fn recount(
    config: &Config,
    org: Option<&str>,
    from: Option<Day>,
    rules: Option<&Path>,
) -> Result<()> {
    let rules = load_rules(rules)?;
    let org = org.map(OrgName::parse).transpose().context("--org")?;
    let store = open_store(config)?;
    let report = ingest::recount_all(store.as_ref(), &rules, org.as_ref(), from)?;
    println!(
        "recounted {} in {}",
        counted(report.repo_days, "repository-day", "repository-days"),
        counted(report.orgs, "organization", "organizations"),
    );
    Ok(())
}

pub fn ingest(
    config: &Config,
    files: &[PathBuf],
    format: Format,
    rules: Option<&Path>,
) -> Result<()> {
    let rules = load_rules(rules)?;
    let store = open_store(config)?;
    let mut done: Vec<&Path> = Vec::new();
    for file in files {
        let report = match ingest_one(store.as_ref(), file, format, &rules) {
            Ok(report) => report,
            Err(e) => return Err(failure(e, file, &done)),
        };
        println!("{}", summary(file, &report));
        done.push(file);
    }
    Ok(())
}

fn ingest_one(
    store: &dyn Store,
    file: &Path,
    format: Format,
    rules: &Rules,
) -> Result<IngestReport, ingest::IngestError> {
    if file == Path::new("-") {
        let stdin: Box<dyn Read> = Box::new(std::io::stdin().lock());
        return ingest::ingest_reader(store, "-", stdin, format, rules, &mut |_| {});
    }
    let bar: ProgressBar = progress_bar(file);
    let result = ingest::ingest_file(store, file, format, rules, &mut |bytes| {
        bar.set_position(bytes)
    });
    bar.finish_and_clear();
    result
}

/// `a.csv: 10 rows, 8 counted, 2 skipped (spaces); 8 new events, 3 repository-days recounted`.
fn summary(file: &Path, r: &IngestReport) -> String {
    let head = format!(
        "{}: {}, {} counted, {} skipped (spaces)",
        file.display(),
        counted(r.rows, "row", "rows"),
        r.counted,
        r.skipped,
    );
    let head = match r.not_files {
        0 => head,
        n => format!("{head}, {n} not repository files"),
    };
    if r.duplicate {
        return format!("{head}; already ingested (same bytes), nothing changed");
    }
    format!(
        "{head}; {}, {} recounted, {}",
        counted(r.new_events, "new event", "new events"),
        counted(r.repo_days, "repository-day", "repository-days"),
        counted(r.orgs_created, "new organization", "new organizations"),
    )
}

/// The file's error, then that nothing of it was counted and which earlier files were.
fn failure(e: ingest::IngestError, file: &Path, done: &[&Path]) -> anyhow::Error {
    let mut note = format!("nothing from {} was counted", file.display());
    if !done.is_empty() {
        let names: Vec<String> = done.iter().map(|p| p.display().to_string()).collect();
        note.push_str(&format!(
            "; the files before it stay counted: {}",
            names.join(", ")
        ));
    }
    let e = anyhow::Error::new(e);
    anyhow::anyhow!("{e:#}\n{note}")
}
