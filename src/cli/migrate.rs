//! `migrate`: a whole store copied into a new one (see `store::copy`), with a progress bar.

use std::io::IsTerminal;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::data::counted;
use crate::store::clickhouse::redact;
use crate::store::copy::{copy_store, CopyProgress};
use crate::store::{self, SharedStore};

fn open(location: &str) -> Result<SharedStore> {
    store::open(location).with_context(|| format!("opening the store {}", redact(location)))
}

pub fn migrate(from: &str, to: &str) -> Result<()> {
    if from == to {
        bail!("--from and --to name the same store");
    }
    let source = open(from)?;
    let target = open(to)?;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    let report = copy_store(source.as_ref(), target.as_ref(), &mut |p: CopyProgress<
        '_,
    >| {
        bar.set_message(p.part.to_owned());
        bar.set_length(p.total);
        bar.set_position(p.done);
    });
    bar.finish_and_clear();
    let report = report.with_context(|| format!("copying into {}", redact(to)))?;
    let snapshots = match report.snapshots {
        0 => String::new(),
        n => format!(", {}", counted(n, "hub snapshot", "hub snapshots")),
    };
    println!(
        "copied {}, {}, {}, {} ({}), {}, {}, {}{snapshots} into {}",
        counted(report.orgs, "organization", "organizations"),
        counted(report.users, "user", "users"),
        counted(
            report.credentials,
            "token or ingest key",
            "tokens and ingest keys"
        ),
        counted(report.sources, "source", "sources"),
        counted(report.values, "daily value", "daily values"),
        counted(report.events, "event", "events"),
        counted(report.libraries, "library", "libraries"),
        counted(report.log_files, "log file", "log files"),
        redact(to)
    );
    Ok(())
}
