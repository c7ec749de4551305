//! Writes the demo organizations into a store, in all-or-nothing batches of repositories.
//! Re-running is idempotent and incremental: a repository's days after its last stored day
//! are added (the series is deterministic, so earlier days are already right), days after
//! the reference day are removed, and every `total` is set again.

use std::collections::HashMap;

use super::orgs::{DemoOrg, DemoRepo, DEMO_ORG_NAMES};
use super::DemoError;
use crate::domain::{Day, OrgName, Plan, RepoKey};
use crate::store::{CountsWrite, RepoSummary, SourceId, Store, StoreError, WriteMode};

/// Repositories written per transaction.
const BATCH: usize = 100;

/// What was written for one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgFill {
    pub org: OrgName,
    pub plan: Plan,
    pub repos: usize,
    /// First day of daily history.
    pub history_start: Day,
    /// Daily rows the organization has through the reference day.
    pub rows: u64,
    /// Daily rows written by this run (0 when the store was already up to date).
    pub rows_written: u64,
}

/// Refuses a store that holds organizations other than the demo ones: demo data never
/// mixes with real data.
pub fn ensure_demo_store(store: &dyn Store) -> Result<(), DemoError> {
    let foreign: Vec<String> = store
        .orgs()?
        .into_iter()
        .map(|o| o.name.as_str().to_owned())
        .filter(|name| !DEMO_ORG_NAMES.contains(&name.as_str()))
        .collect();
    if foreign.is_empty() {
        Ok(())
    } else {
        Err(DemoError::NotADemoStore { orgs: foreign })
    }
}

/// Writes `orgs` through the reference day `today`. `progress` receives the number of
/// repositories finished after each batch.
pub fn fill(
    store: &dyn Store,
    orgs: &[DemoOrg],
    today: Day,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<OrgFill>, DemoError> {
    ensure_demo_store(store)?;
    orgs.iter()
        .map(|org| fill_org(store, org, today, progress))
        .collect()
}

fn fill_org(
    store: &dyn Store,
    org: &DemoOrg,
    today: Day,
    progress: &mut dyn FnMut(usize),
) -> Result<OrgFill, DemoError> {
    let name = org.org_name()?;
    match store.org(&name)? {
        None => store.create_org(&name, org.plan)?,
        Some(info) if info.plan != org.plan => store.set_plan(&name, org.plan)?,
        Some(_) => {}
    }
    let existing: HashMap<RepoKey, RepoSummary> = store
        .repos(&name)?
        .iter()
        .map(|r| (r.key.clone(), r.clone()))
        .collect();
    // The first repository always has downloads on the first day of history, so a store
    // filled before keeps the history start it was filled with.
    let history_start = existing
        .values()
        .filter_map(|r| r.first_day)
        .min()
        .unwrap_or_else(|| today.add_days(1 - org.shape.history_days));
    let mut fill = OrgFill {
        org: name,
        plan: org.plan,
        repos: org.repos,
        history_start,
        rows: 0,
        rows_written: 0,
    };
    for batch in org.draw_repos()?.chunks(BATCH) {
        let mut tx = store.write(&demo_source(), WriteMode::Merge)?;
        for repo in batch {
            let (rows, written) = write_repo(
                tx.as_mut(),
                repo,
                existing.get(&repo.key),
                history_start,
                today,
            )?;
            fill.rows += rows;
            fill.rows_written += written;
        }
        tx.commit()?;
        progress(batch.len());
    }
    Ok(fill)
}

/// The one source demo data is written as.
fn demo_source() -> SourceId {
    SourceId::parse("demo").expect("a valid source id")
}

/// Writes one repository's missing days and its total; returns (rows through `today`, rows
/// written).
fn write_repo(
    tx: &mut dyn CountsWrite,
    repo: &DemoRepo,
    stored: Option<&RepoSummary>,
    history_start: Day,
    today: Day,
) -> Result<(u64, u64), StoreError> {
    let stored_through = stored.and_then(|r| r.last_day);
    let (mut rows, mut written) = (0, 0);
    let mut failed = None;
    let sums = repo
        .profile
        .for_each_day(history_start, today, |day, downloads| {
            rows += 1;
            if failed.is_some() || stored_through.is_some_and(|last| day <= last) {
                return;
            }
            match tx.set(&repo.key, day, downloads) {
                Ok(()) => written += 1,
                Err(e) => failed = Some(e),
            }
        });
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(last) = stored_through.filter(|&last| last > today) {
        for offset in 1..=today.days_until(last) {
            tx.set(&repo.key, today.add_days(offset), 0)?;
        }
    }
    tx.set_total(&repo.key, sums.total())?;
    Ok((rows, written))
}
