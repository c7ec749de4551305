//! `import` and `export`: breakdown CSV files in and out of the store.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::breakdown::{export, import};
use crate::config::{Config, DEFAULT_STORE};
use crate::domain::OrgName;
use crate::store::{self, SharedStore};

/// Files smaller than this import too fast for a progress bar to help.
const PROGRESS_MIN_BYTES: u64 = 4 * 1024 * 1024;

/// Opens the configured store (`hubstats.db` when none is).
pub(super) fn open_store(config: &Config) -> Result<SharedStore> {
    open_store_at(config, config.store_or(DEFAULT_STORE))
}

/// Opens the store at `location` with the configured index budget.
pub(super) fn open_store_at(config: &Config, location: &str) -> Result<SharedStore> {
    store::open_with_index_budget(location, config.index_budget_bytes)
        .with_context(|| format!("opening the store {}", store::clickhouse::redact(location)))
}

pub fn import(config: &Config, files: &[PathBuf]) -> Result<()> {
    let store = open_store(config)?;
    let known = super::next_steps::org_names(store.as_ref())?;
    let today = config.reference_day();
    let mut done: Vec<&Path> = Vec::new();
    for file in files {
        let bar = progress_bar(file);
        let result = import::import_file_as_of(store.as_ref(), file, today, &mut |bytes| {
            bar.set_position(bytes)
        });
        bar.finish_and_clear();
        let report = match result {
            Ok(report) => report,
            // The error alone: what to do next comes once the files are in.
            Err(e) => return Err(import_failure(e, file, &done)),
        };
        println!(
            "{}: {}, {}, {}",
            file.display(),
            counted(report.rows, "row", "rows"),
            counted(report.repos, "repository", "repositories"),
            counted(report.orgs_created, "new organization", "new organizations"),
        );
        done.push(file);
    }
    super::next_steps::print(config, store.as_ref(), &known)
}

/// `1 row`, `2 rows`.
pub(super) fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The file's error, then that nothing of it was stored and which earlier files were.
fn import_failure(e: import::ImportError, file: &Path, done: &[&Path]) -> anyhow::Error {
    let mut note = format!("nothing from {} was stored", file.display());
    if !done.is_empty() {
        let names: Vec<String> = done.iter().map(|p| p.display().to_string()).collect();
        note.push_str(&format!(
            "; the files before it stay imported: {}",
            names.join(", ")
        ));
    }
    let e = anyhow::Error::new(e);
    anyhow::anyhow!("{e:#}\n{note}")
}

/// A byte-based bar on stderr, for large files when stderr is a terminal; hidden otherwise.
pub(super) fn progress_bar(file: &Path) -> ProgressBar {
    let len = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    if len < PROGRESS_MIN_BYTES || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    // Decimal units (1 MB = 1,000,000 bytes), as the dashboard's CSV button shows sizes.
    let template = "{msg} [{bar:40}] {decimal_bytes}/{decimal_total_bytes} \
                    ({decimal_bytes_per_sec}, {eta})";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(file.display().to_string());
    bar
}

pub fn export(config: &Config, org: &str, output: Option<&Path>) -> Result<()> {
    let org = OrgName::parse(org).context("--org")?;
    let store = open_store(config)?;
    ensure_org_exists(&store, &org)?;
    match output {
        None => export_to_stdout(&store, &org)?,
        Some(path) => export_to_file(&store, &org, path)?,
    }
    Ok(())
}

/// An error naming `org` unless the store knows it (it has repositories, or accounts hold it).
pub(super) fn ensure_org_exists(store: &SharedStore, org: &OrgName) -> Result<()> {
    if !store.repos(org).context("reading repositories")?.is_empty() {
        return Ok(());
    }
    let known = store
        .org(org)
        .with_context(|| format!("looking up organization {org}"))?;
    if known.is_none() {
        bail!("unknown organization {org} (import its CSV or create it first)");
    }
    Ok(())
}

/// Writes to standard output; a reader that stops early (`| head`) is not an error.
fn export_to_stdout(store: &SharedStore, org: &OrgName) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    let written = export::write_breakdown(store.as_ref(), org, &mut stdout)
        .map(|_| ())
        .and_then(|()| stdout.flush().map_err(export::ExportError::Io));
    match written {
        Err(export::ExportError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("exporting to standard output"),
    }
}

/// Writes to a temporary file beside `path`, renamed over it only once complete.
fn export_to_file(store: &SharedStore, org: &OrgName, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let rows = export::write_breakdown(store.as_ref(), org, temp.as_file_mut())
        .with_context(|| format!("exporting to {}", path.display()))?;
    readable_by_others(temp.as_file())
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    temp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    eprintln!("{}: {rows} rows", path.display());
    Ok(())
}

/// Temporary files are private (0600); an export is an ordinary file (0644), like `>` makes.
#[cfg(unix)]
fn readable_by_others(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn readable_by_others(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}
