//! Snapshots of a hub's public counters (`hubstats collect`): for each organization and day, the
//! all-time download counter of every repository the hub listed. The store only keeps them;
//! `crate::hub` turns them into daily downloads, written as the counts source `hub`. A backend
//! offers it through [`Counts::hub_snapshots`](super::Counts::hub_snapshots).
//!
//! Invariants every backend keeps (checked by `conformance::snapshots`):
//! - a snapshot is all or nothing: readers see all of its readings or none;
//! - an organization has at most one snapshot a day: putting one again replaces it whole (a
//!   repository it no longer lists has no reading that day);
//! - reads come in export order (models first, names in byte order, days ascending).

use super::StoreResult;
use crate::domain::{Day, OrgName, RepoKey};

/// A repository's all-time counter in the snapshot of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reading {
    pub day: Day,
    pub all_time: u64,
}

/// One snapshot of an organization, without its readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub day: Day,
    /// Repositories the hub listed.
    pub repos: u64,
    /// When it was taken (Unix seconds).
    pub taken_unix: i64,
}

/// A repository's readings next to one day ([`HubSnapshots::around`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Around {
    pub repo: RepoKey,
    /// The latest reading before the day.
    pub before: Option<Reading>,
    /// The reading of the day.
    pub at: Option<u64>,
    /// The earliest reading after the day.
    pub after: Option<Reading>,
    /// The latest reading after the day (the repository's last).
    pub last: Option<Reading>,
}

/// The snapshots of one backend.
pub trait HubSnapshots: Send + Sync {
    /// Stores the snapshot of `org` on `day` (replacing that day's, if any), all or nothing.
    /// `readings` are of the organization's repositories, each once.
    fn put_snapshot(
        &self,
        org: &OrgName,
        day: Day,
        taken_unix: i64,
        readings: &[(RepoKey, u64)],
    ) -> StoreResult<()>;

    /// The organization's snapshots, days ascending.
    fn snapshots(&self, org: &OrgName) -> StoreResult<Vec<SnapshotInfo>>;

    /// The readings of the organization's snapshot of `day` (none without one), in export
    /// order.
    fn snapshot(&self, org: &OrgName, day: Day) -> StoreResult<Vec<(RepoKey, u64)>>;

    /// Every repository of the organization with a reading on any day, in export order, with
    /// its readings next to `day`. May read every reading of the organization.
    fn around(&self, org: &OrgName, day: Day) -> StoreResult<Vec<Around>>;

    /// One repository's readings, days ascending.
    fn readings(&self, repo: &RepoKey) -> StoreResult<Vec<Reading>>;

    /// The organizations with snapshots, by name (for a copy of the store).
    fn snapshot_orgs(&self) -> StoreResult<Vec<OrgName>>;
}

/// [`HubSnapshots::around`] computed from one repository's readings (days ascending).
pub fn around_of(repo: RepoKey, readings: &[Reading], day: Day) -> Around {
    let before = readings.iter().rev().find(|r| r.day < day).copied();
    let at = readings.iter().find(|r| r.day == day).map(|r| r.all_time);
    let after = readings.iter().find(|r| r.day > day).copied();
    let last = readings.last().filter(|r| r.day > day).copied();
    Around {
        repo,
        before,
        at,
        after,
        last,
    }
}
