//! The demo organization counted from request logs: a month of generated `jsonl` logs of its
//! repositories goes through [`crate::ingest::ingest_reader`] — the same path as `hubstats
//! ingest` — so its dashboard shows downloads as the Hub's rules count them.
//!
//! Re-running is idempotent: the same day's log is the same bytes (nothing happens), and a
//! later day's log shares every earlier day's rows with the first one (each day draws from
//! its own stream), so the kept events — a set — gain only the new days.

use std::io::{BufWriter, Write};

use super::logs::{ranked, write_log, LogSpec};
use super::orgs::log_org;
use super::DemoError;
use crate::domain::{Day, OrgName, Plan};
use crate::ingest::{ingest_reader, Format, IngestReport, Rules};
use crate::store::Store;

/// Days of logs, ending on the reference day.
pub const LOG_DAYS: u32 = 30;
/// Rows of log per day.
pub const LOG_ROWS_PER_DAY: u64 = 2_000;
const LOG_SEED: u64 = 0x106_5EED;

/// What the log-fed organization received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFill {
    pub org: OrgName,
    pub plan: Plan,
    pub repos: usize,
    pub first_day: Day,
    pub report: IngestReport,
}

/// Generates the organization's logs through `today` and ingests them under the Hub's rules.
pub fn fill_from_logs(store: &dyn Store, today: Day) -> Result<LogFill, DemoError> {
    let org = log_org();
    let name = org.org_name()?;
    match store.org(&name)? {
        None => store.create_org(&name, org.plan)?,
        Some(info) if info.plan != org.plan => store.set_plan(&name, org.plan)?,
        Some(_) => {}
    }
    let repos = org.draw_repos()?;
    let spec = LogSpec {
        format: Format::Jsonl,
        rows: LOG_ROWS_PER_DAY * u64::from(LOG_DAYS),
        days: LOG_DAYS,
        through: today,
        seed: LOG_SEED,
    };
    let label = format!("generated logs of {name} through {today}");
    let (reader, writer) = std::io::pipe()?;
    let report = std::thread::scope(|scope| {
        let writing = scope.spawn(|| {
            let mut out = BufWriter::with_capacity(1 << 16, writer);
            write_log(&spec, ranked(&repos), &mut out)?;
            out.flush()
        });
        let ingested = ingest_reader(
            store,
            &label,
            reader,
            spec.format,
            &Rules::default(),
            &mut |_| {},
        );
        let written = writing
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the log generator panicked")));
        // Writing fails only once the ingest stopped reading: report the ingest's error
        // when it has one, else the generator's.
        let report = ingested?;
        written?;
        Ok::<_, DemoError>(report)
    })?;
    Ok(LogFill {
        org: name,
        plan: org.plan,
        repos: org.repos,
        first_day: today.add_days(1 - LOG_DAYS as i32),
        report,
    })
}
