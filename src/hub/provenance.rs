//! What the snapshots say of figures taken from a hub's counters, for the API and the
//! dashboard: since when and until when there are snapshots, which days are estimated, which
//! counters went down, and whether a repository is still listed.

use super::derive::{self, Correction};
use crate::domain::{Day, DayRange, OrgName, RepoKey};
use crate::store::{Counts, StoreResult};

/// An organization's snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgHub {
    pub first: Day,
    pub last: Day,
    pub snapshots: u64,
    /// Repositories listed in the last snapshot.
    pub repos: u64,
    /// Days between snapshots more than a day apart (their downloads are estimated).
    pub estimated: Vec<DayRange>,
}

/// One repository's readings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoHub {
    pub first: Day,
    pub last: Day,
    /// Its latest all-time counter.
    pub counter: u64,
    /// Whether the organization's last snapshot lists it (else: deleted, renamed or private).
    pub listed: bool,
    pub estimated: Vec<DayRange>,
    pub corrections: Vec<Correction>,
}

/// The organization's snapshots; `None` without any (or on a store that keeps none).
pub fn of_org(counts: &dyn Counts, org: &OrgName) -> StoreResult<Option<OrgHub>> {
    let Some(snapshots) = counts.hub_snapshots() else {
        return Ok(None);
    };
    let list = snapshots.snapshots(org)?;
    let (Some(first), Some(last)) = (list.first(), list.last()) else {
        return Ok(None);
    };
    let days: Vec<Day> = list.iter().map(|s| s.day).collect();
    Ok(Some(OrgHub {
        first: first.day,
        last: last.day,
        snapshots: list.len() as u64,
        repos: last.repos,
        estimated: derive::gaps(&days),
    }))
}

/// The repository's readings; `None` without any.
pub fn of_repo(counts: &dyn Counts, repo: &RepoKey) -> StoreResult<Option<RepoHub>> {
    let Some(snapshots) = counts.hub_snapshots() else {
        return Ok(None);
    };
    let readings = snapshots.readings(repo)?;
    let Some(h) = derive::history(&readings) else {
        return Ok(None);
    };
    let org_last = (snapshots.snapshots(&repo.name.org())?.last()).map(|s| s.day);
    Ok(Some(RepoHub {
        first: h.first.day,
        last: h.last.day,
        counter: h.last.all_time,
        listed: org_last == Some(h.last.day),
        estimated: h.estimated,
        corrections: h.corrections,
    }))
}
