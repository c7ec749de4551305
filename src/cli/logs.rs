//! `ingest`: request logs into the store, one file after the other; `recount`: the counts
//! again from the kept events.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::ProgressBar;

use super::data::{counted, ensure_org_exists, open_store, progress_bar};
use super::next_steps;
use crate::config::Config;
use crate::domain::{Day, OrgName};
use crate::ingest::{self, Format, IngestReport, Rules};
use crate::store::Store;
use crate::web::format::thousands;

/// The rules file's rules, else the configuration's (its `rules` file, or the Hub's defaults).
pub(super) fn load_rules(config: &Config, path: Option<&Path>) -> Result<Rules> {
    match path {
        Some(path) => crate::config::load_rules(path),
        None => Ok(config.rules.clone()),
    }
}

pub fn recount(
    config: &Config,
    org: Option<&str>,
    from: Option<Day>,
    rules: Option<&Path>,
) -> Result<()> {
    let rules = load_rules(config, rules)?;
    let org = org.map(OrgName::parse).transpose().context("--org")?;
    let store = open_store(config)?;
    if let Some(org) = &org {
        // A misspelt name would otherwise recount nothing and say so as if all were well.
        ensure_org_exists(&store, org)?;
    }
    let first_kept = config.first_kept_day();
    let report = ingest::recount_within(store.as_ref(), &rules, org.as_ref(), from, first_kept)?;
    println!(
        "recounted {} in {}",
        counted(report.repo_days, "repository-day", "repository-days"),
        counted(report.orgs, "organization", "organizations"),
    );
    if let Some(first) = report.not_recounted_before {
        println!(
            "events before {first} were dropped (retention): those days keep their counts \
             and were not recounted"
        );
    }
    Ok(())
}

/// `events prune`: drops the events before the retention.
pub fn prune(config: &Config) -> Result<()> {
    let Some(first_kept) = config.first_kept_day() else {
        bail!(
            "no retention is set: give --retention-days DAYS or set retention_days in the config"
        );
    };
    let store = open_store(config)?;
    let report = ingest::prune_events(store.as_ref(), first_kept)?;
    println!(
        "dropped {} of days before {}; counts are unchanged",
        counted(report.dropped, "event", "events"),
        report.first_kept,
    );
    Ok(())
}

pub fn ingest(
    config: &Config,
    files: &[PathBuf],
    format: Format,
    rules: Option<&Path>,
) -> Result<()> {
    let rules = load_rules(config, rules)?;
    let days = ingest::DayBounds::new(config.retention_days, config.reference_day());
    let store = open_store(config)?;
    let known = next_steps::org_names(store.as_ref())?;
    let mut done: Vec<&Path> = Vec::new();
    for file in files {
        let report = match ingest_one(store.as_ref(), file, format, &rules, days) {
            Ok(report) => report,
            // The error alone: what to do next comes once the files are in.
            Err(e) => return Err(failure(e, file, &done)),
        };
        println!("{}", summary(file, &report));
        done.push(file);
    }
    next_steps::print(config, store.as_ref(), &known)
}

fn ingest_one(
    store: &dyn Store,
    file: &Path,
    format: Format,
    rules: &Rules,
    days: ingest::DayBounds,
) -> Result<IngestReport, ingest::IngestError> {
    if file == Path::new("-") {
        // Read on the parsing thread (so not a lock held by this one).
        let stdin = std::io::stdin();
        return ingest::ingest_reader_within(store, "-", stdin, format, rules, days, &mut |_| {});
    }
    let bar: ProgressBar = progress_bar(file);
    let result = ingest::ingest_file_within(store, file, format, rules, days, &mut |bytes| {
        bar.set_position(bytes)
    });
    bar.finish_and_clear();
    result
}

/// `a.csv: 10 rows: 8 requests of models and datasets (events), 2 of Spaces (not counted);
/// 8 new events; 3 repository-days recounted: 5 downloads; 1 new organization`. Events are
/// requests; downloads are what the rules count of them (a dataset's requests within five
/// minutes are one), so both are named.
fn summary(file: &Path, r: &IngestReport) -> String {
    let n = |n: u64, one: &str, many: &str| {
        format!("{} {}", thousands(n), if n == 1 { one } else { many })
    };
    if r.duplicate {
        // What was recorded when it was ingested (a file found early is not parsed again).
        return format!(
            "{}: {}: {} of models and datasets (events); already ingested (same bytes), \
             nothing changed",
            file.display(),
            n(r.rows, "row", "rows"),
            n(r.counted, "request", "requests"),
        );
    }
    let mut head = format!(
        "{}: {}: {} of models and datasets (events), {} of Spaces (not counted)",
        file.display(),
        n(r.rows, "row", "rows"),
        n(r.counted, "request", "requests"),
        thousands(r.skipped),
    );
    if r.not_files > 0 {
        head.push_str(&format!(
            ", {} not repository files",
            thousands(r.not_files)
        ));
    }
    if r.expired > 0 {
        head.push_str(&format!(
            ", {} before the retention (not kept)",
            thousands(r.expired)
        ));
    }
    format!(
        "{head}; {}; {} recounted: {}; {}",
        n(r.new_events, "new event", "new events"),
        n(r.repo_days, "repository-day", "repository-days"),
        n(r.downloads, "download", "downloads"),
        n(r.orgs_created, "new organization", "new organizations"),
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
