//! Hub snapshots on ClickHouse: one table, `hub_snapshots`, holding a row per snapshot (kind 0:
//! the organization, day, repositories listed, when it was taken) and a row per reading (kind
//! 1), all of one snapshot written in one insert under one version, so a snapshot becomes
//! visible whole or not at all (one block, one part, as a counts write). A snapshot taken again
//! the same day is a newer version: readers keep, for each day, only the rows of the latest
//! version of its kind-0 row, so a repository the new snapshot no longer lists has no reading
//! that day, and merges (which keep each key's latest version) never lose a reading of it.

use std::fmt::Write as _;
use std::sync::Arc;

use super::client::{backend, quote, tsv_field, Client};
use super::counts::{repo_key, type_code};
use super::{mutations, next_version, Table};
use crate::domain::{Day, OrgName, RepoKey};
use crate::store::snapshots::around_of;
use crate::store::{Around, HubSnapshots, Reading, SnapshotInfo, StoreError, StoreResult};

pub(super) const TABLE: Table = Table {
    name: "hub_snapshots",
    columns: "org String, day UInt32, kind UInt8, repo_type UInt8, repo String, \
              all_time UInt64, repos UInt64, taken_unix Int64, version UInt64",
    engine: "ReplacingMergeTree(version) ORDER BY (org, day, kind, repo_type, repo)",
    shard_by: "sipHash64(org)",
};

const SNAPSHOT: u8 = 0;
const READING: u8 = 1;

/// The hub snapshots of one database.
pub struct ClickHouseSnapshots {
    client: Arc<Client>,
}

impl ClickHouseSnapshots {
    pub(super) fn new(client: Arc<Client>) -> Self {
        ClickHouseSnapshots { client }
    }

    /// The readings of `org` that `condition` selects, of each day's latest snapshot, in
    /// export order.
    fn readings_where(
        &self,
        org: &OrgName,
        condition: &str,
        f: &mut dyn FnMut(RepoKey, Reading) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let org_q = quote(org.as_str());
        let sql = format!(
            "SELECT repo_type, repo, day, any(all_time) FROM hub_snapshots \
             WHERE org = {org_q} AND kind = {READING} AND {condition} \
             AND (day, version) GLOBAL IN (SELECT day, max(version) FROM hub_snapshots \
                                           WHERE org = {org_q} AND kind = {SNAPSHOT} GROUP BY day) \
             GROUP BY repo_type, repo, day ORDER BY repo_type, repo, day"
        );
        self.client.query_each(&sql, &mut |r| {
            let day = Day::from_epoch_days(day_of(r.u64(2)?)?);
            let reading = Reading {
                day,
                all_time: r.u64(3)?,
            };
            f(repo_key(r.u64(0)?, &r.str(1)?)?, reading)
        })
    }

    pub(super) fn remove_org(&self, org: &OrgName) -> StoreResult<()> {
        mutations::delete(
            &self.client,
            "hub_snapshots",
            &format!("org = {}", quote(org.as_str())),
        )
    }
}

fn day_of(n: u64) -> StoreResult<i32> {
    i32::try_from(n).map_err(|_| backend(format!("stored day {n}")))
}

impl HubSnapshots for ClickHouseSnapshots {
    fn put_snapshot(
        &self,
        org: &OrgName,
        day: Day,
        taken_unix: i64,
        readings: &[(RepoKey, u64)],
    ) -> StoreResult<()> {
        let version = next_version();
        let d = day.epoch_days();
        let mut org_field = String::new();
        tsv_field(&mut org_field, org.as_str());
        let mut body = format!(
            "{org_field}\t{d}\t{SNAPSHOT}\t0\t\t0\t{}\t{taken_unix}\t{version}\n",
            readings.len()
        );
        for (repo, all_time) in readings {
            if repo.name.org_str() != org.as_str() {
                return Err(StoreError::Invalid(format!(
                    "{} is not a repository of {org}",
                    repo.name
                )));
            }
            let _ = write!(
                body,
                "{org_field}\t{d}\t{READING}\t{}\t",
                type_code(repo.repo_type)
            );
            tsv_field(&mut body, repo.name.as_str());
            let _ = writeln!(body, "\t{all_time}\t0\t0\t{version}");
        }
        self.client.insert(
            "hub_snapshots",
            "org, day, kind, repo_type, repo, all_time, repos, taken_unix, version",
            &body,
        )
    }

    fn snapshots(&self, org: &OrgName) -> StoreResult<Vec<SnapshotInfo>> {
        let sql = format!(
            "SELECT day, argMax(repos, version), argMax(taken_unix, version) FROM hub_snapshots \
             WHERE org = {} AND kind = {SNAPSHOT} GROUP BY day ORDER BY day",
            quote(org.as_str())
        );
        self.client.query(&sql, |r| {
            Ok(SnapshotInfo {
                day: Day::from_epoch_days(day_of(r.u64(0)?)?),
                repos: r.u64(1)?,
                taken_unix: r.i64(2)?,
            })
        })
    }

    fn snapshot(&self, org: &OrgName, day: Day) -> StoreResult<Vec<(RepoKey, u64)>> {
        let mut out = Vec::new();
        let condition = format!("day = {}", day.epoch_days());
        self.readings_where(org, &condition, &mut |repo, r| {
            out.push((repo, r.all_time));
            Ok(())
        })?;
        Ok(out)
    }

    fn around(&self, org: &OrgName, day: Day) -> StoreResult<Vec<Around>> {
        let mut repos: Vec<(RepoKey, Vec<Reading>)> = Vec::new();
        self.readings_where(org, "1", &mut |repo, r| {
            match repos.last_mut() {
                Some((last, readings)) if *last == repo => readings.push(r),
                _ => repos.push((repo, vec![r])),
            }
            Ok(())
        })?;
        Ok((repos.into_iter())
            .map(|(repo, readings)| around_of(repo, &readings, day))
            .collect())
    }

    fn readings(&self, repo: &RepoKey) -> StoreResult<Vec<Reading>> {
        let mut out = Vec::new();
        let condition = format!(
            "repo_type = {} AND repo = {}",
            type_code(repo.repo_type),
            quote(repo.name.as_str())
        );
        self.readings_where(&repo.name.org(), &condition, &mut |_, r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }

    fn snapshot_orgs(&self) -> StoreResult<Vec<OrgName>> {
        let sql =
            format!("SELECT DISTINCT org FROM hub_snapshots WHERE kind = {SNAPSHOT} ORDER BY org");
        let names = self.client.query(&sql, |r| r.str(0))?;
        (names.iter())
            .map(|n| OrgName::parse(n).map_err(|e| backend(format!("stored organization: {e}"))))
            .collect()
    }
}
