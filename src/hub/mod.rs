//! Daily history from a hub's public download counters (`hubstats collect`): a snapshot of
//! each organization's repositories with their all-time counters, kept by the store
//! ([`HubSnapshots`]), and the daily downloads the snapshots imply ([`derive`]), written as the
//! counts source `hub` through the same write path as every other source.
//!
//! A snapshot is all or nothing per organization: every page of both listings is read before
//! anything is written. Its daily downloads are committed first and the snapshot itself last,
//! so a collection stopped in between is done again whole by the next one (the days it
//! rewrites are set, not added); a snapshot the store holds always has its days written.

pub mod client;
pub mod derive;
pub mod provenance;
pub mod schedule;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

pub use client::{HubClient, HubError, Listed};

use crate::domain::{Day, OrgName, Plan, RepoKey, RepoType};
use crate::store::{Around, SourceId, Store, StoreError, WriteMode};

/// Organizations collected at once (each reads its listings one page at a time).
pub const DEFAULT_WORKERS: usize = 4;

/// What one organization's snapshot found and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgReport {
    pub day: Option<Day>,
    pub models: u64,
    pub datasets: u64,
    /// The organization's snapshot before this one's day, if any.
    pub previous: Option<Day>,
    /// Listed now, not in the previous snapshot (new, made public, or back).
    pub appeared: u64,
    /// In the previous snapshot, not listed now (deleted, renamed or made private).
    pub disappeared: u64,
    /// Repositories whose counter went down since their reading before.
    pub corrections: u64,
    /// Repository-days whose downloads were set (0 included).
    pub days_written: u64,
    /// Whether the store did not know the organization (now on the free plan).
    pub org_created: bool,
}

/// Why an organization was not collected.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The hub lists nothing for an organization never collected: most likely a name it
    /// does not know (the API answers an unknown author with an empty list).
    #[error(
        "{org}: the hub lists no model or dataset of it (is the name spelt as on the hub, \
         case included?); nothing was stored"
    )]
    NothingListed { org: String },
    #[error("{org}: storing the snapshot: {source}")]
    Store {
        org: String,
        #[source]
        source: StoreError,
    },
}

/// Progress of a collection, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Repositories listed so far of one organization.
    Listed { org: OrgName, repos: u64 },
    /// One organization is done (or failed).
    Done { org: OrgName },
}

/// Both listings of `org`, deduplicated, in export order.
pub fn fetch_org(
    client: &HubClient,
    org: &OrgName,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Listed>, HubError> {
    let mut all: BTreeMap<RepoKey, u64> = BTreeMap::new();
    for repo_type in RepoType::ALL {
        let before = all.len() as u64;
        let listed = client.list(org, repo_type, &mut |n| {
            progress(Progress::Listed {
                org: org.clone(),
                repos: before + n,
            })
        })?;
        for l in listed {
            all.entry(l.key).or_insert(l.downloads_all_time);
        }
    }
    Ok((all.into_iter())
        .map(|(key, downloads_all_time)| Listed {
            key,
            downloads_all_time,
        })
        .collect())
}

/// Stores `listed` as the snapshot of `org` on `day`: the days it changes under the source
/// `hub` (with every changed repository's total, the latest counter), then the snapshot.
/// Creates the organization on the free plan when the store does not know it.
pub fn apply_snapshot(
    store: &dyn Store,
    org: &OrgName,
    day: Day,
    taken_unix: i64,
    listed: &[Listed],
) -> Result<OrgReport, StoreError> {
    let snapshots = store
        .hub_snapshots()
        .ok_or_else(|| StoreError::Invalid("this store does not keep hub snapshots".to_owned()))?;
    let previous = (snapshots.snapshots(org)?.into_iter())
        .rev()
        .find(|s| s.day < day)
        .map(|s| s.day);
    let mut repos: BTreeMap<RepoKey, (Around, Option<u64>)> = BTreeMap::new();
    for a in snapshots.around(org, day)? {
        repos.insert(a.repo.clone(), (a, None));
    }
    for l in listed {
        let empty = || (none_around(&l.key), None);
        repos.entry(l.key.clone()).or_insert_with(empty).1 = Some(l.downloads_all_time);
    }
    let mut report = OrgReport {
        day: Some(day),
        previous,
        ..OrgReport::default()
    };
    let mut write = store.write(&SourceId::hub(), WriteMode::Merge)?;
    for (repo, (around, new)) in &repos {
        report.count(repo, around, *new, previous);
        if around.at == *new {
            continue;
        }
        for (d, n) in derive::rewritten(around, day, *new) {
            write.set(repo, d, n)?;
            report.days_written += 1;
        }
        let last = around.last.map(|r| r.all_time);
        let total = last.or(*new).or(around.before.map(|r| r.all_time));
        write.set_total(repo, total.unwrap_or(0))?;
    }
    write.commit()?;
    let readings: Vec<(RepoKey, u64)> = (listed.iter())
        .map(|l| (l.key.clone(), l.downloads_all_time))
        .collect();
    snapshots.put_snapshot(org, day, taken_unix, &readings)?;
    if store.org(org)?.is_none() {
        match store.create_org(org, Plan::Free) {
            Ok(()) => report.org_created = true,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

fn none_around(repo: &RepoKey) -> Around {
    Around {
        repo: repo.clone(),
        before: None,
        at: None,
        after: None,
        last: None,
    }
}

impl OrgReport {
    fn count(&mut self, repo: &RepoKey, around: &Around, new: Option<u64>, previous: Option<Day>) {
        let in_previous = around.before.is_some_and(|b| Some(b.day) == previous);
        match (new, repo.repo_type) {
            (Some(_), RepoType::Model) => self.models += 1,
            (Some(_), RepoType::Dataset) => self.datasets += 1,
            (None, _) => {}
        }
        match new {
            Some(_) if !in_previous && previous.is_some() => self.appeared += 1,
            None if in_previous => self.disappeared += 1,
            _ => {}
        }
        if let (Some(n), Some(b)) = (new, around.before) {
            if n < b.all_time {
                self.corrections += 1;
            }
        }
    }
}

/// Collects each of `orgs` on `day`: at most `workers` organizations read from the hub at
/// once, their snapshots written one at a time. One organization's failure does not stop the
/// others; results come in the order of `orgs`.
pub fn collect(
    store: &dyn Store,
    client: &HubClient,
    orgs: &[OrgName],
    day: Day,
    workers: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Vec<Result<OrgReport, CollectError>> {
    let next = AtomicUsize::new(0);
    let writer = Mutex::new(());
    let results: Vec<Mutex<Option<Result<OrgReport, CollectError>>>> =
        orgs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, orgs.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(org) = orgs.get(i) else { break };
                let result = collect_one(store, client, org, day, &writer, progress);
                progress(Progress::Done { org: org.clone() });
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            });
        }
    });
    (results.into_iter())
        .map(|r| {
            let r = r.into_inner().unwrap_or_else(|p| p.into_inner());
            r.expect("every organization is collected by some worker")
        })
        .collect()
}

fn collect_one(
    store: &dyn Store,
    client: &HubClient,
    org: &OrgName,
    day: Day,
    writer: &Mutex<()>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<OrgReport, CollectError> {
    let listed = fetch_org(client, org, progress)?;
    let _turn = writer.lock().unwrap_or_else(|p| p.into_inner());
    let store_error = |source| CollectError::Store {
        org: org.to_string(),
        source,
    };
    if listed.is_empty() {
        let snapshots = store.hub_snapshots().map(|s| s.snapshots(org)).transpose();
        if snapshots.map_err(store_error)?.is_none_or(|s| s.is_empty()) {
            return Err(CollectError::NothingListed {
                org: org.to_string(),
            });
        }
    }
    let taken_unix = time::OffsetDateTime::now_utc().unix_timestamp();
    apply_snapshot(store, org, day, taken_unix, &listed).map_err(store_error)
}

#[cfg(test)]
mod tests;
