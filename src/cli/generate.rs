//! `demo-logs`: generated request logs of the demo's repositories on standard output.

use std::io::{BufWriter, ErrorKind, Write};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::demo::logs::{ranked, write_log, LogSpec};
use crate::demo::{demo_orgs, log_org, DemoRepo};
use crate::ingest::Format;

pub fn demo_logs(
    config: &Config,
    format: Format,
    rows: u64,
    seed: u64,
    days: u32,
    repos: usize,
) -> Result<()> {
    let mut all: Vec<DemoRepo> = Vec::new();
    for org in demo_orgs(repos).iter().chain([&log_org()]) {
        all.extend(org.draw_repos().context("drawing the demo repositories")?);
    }
    let spec = LogSpec {
        format,
        rows,
        days,
        through: config.reference_day(),
        seed,
    };
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = write_log(&spec, ranked(&all), &mut out).and_then(|n| out.flush().map(|()| n));
    match written {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e).context("writing the log to standard output"),
        Ok(n) => {
            eprintln!(
                "{n} {format} rows of {} repositories over {days} days through {}",
                all.len(),
                spec.through
            );
            Ok(())
        }
    }
}
