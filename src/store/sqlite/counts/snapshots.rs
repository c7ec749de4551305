//! Hub snapshots on SQLite: `hub_snapshots`, one row per organization and day, and
//! `hub_readings`, one row per repository and snapshot, clustered by organization, repository
//! and day (what `around` and `readings` read) with an index by organization and day (what
//! reading one snapshot needs). A snapshot is one transaction.

use rusqlite::{params, Connection};

use super::{repo_type_code, repo_type_from_code, SqliteCounts};
use crate::domain::{Day, OrgName, RepoKey, RepoName};
use crate::store::snapshots::around_of;
use crate::store::{Around, HubSnapshots, Reading, SnapshotInfo, StoreError, StoreResult};

/// Migration 13: hub snapshots.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE hub_snapshots (
        org        TEXT NOT NULL,
        day        INTEGER NOT NULL,
        repos      INTEGER NOT NULL,
        taken_unix INTEGER NOT NULL,
        PRIMARY KEY (org, day)
    ) WITHOUT ROWID;
    CREATE TABLE hub_readings (
        org       TEXT NOT NULL,
        repo_type INTEGER NOT NULL,
        repo      TEXT NOT NULL,
        day       INTEGER NOT NULL,
        all_time  INTEGER NOT NULL,
        PRIMARY KEY (org, repo_type, repo, day)
    ) WITHOUT ROWID;
    CREATE INDEX hub_readings_day ON hub_readings (org, day);
"#;

fn repo_key(repo_type: i64, name: String) -> StoreResult<RepoKey> {
    Ok(RepoKey {
        repo_type: repo_type_from_code(repo_type)?,
        name: RepoName::parse(&name)
            .map_err(|e| StoreError::Backend(format!("stored repository: {e}").into()))?,
    })
}

fn count(n: i64) -> u64 {
    n.max(0) as u64
}

/// Calls `f` with each repository of `org` and its readings, in export order.
fn each_repo(
    conn: &Connection,
    org: &OrgName,
    f: &mut dyn FnMut(RepoKey, Vec<Reading>),
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT repo_type, repo, day, all_time FROM hub_readings WHERE org = ?1 \
         ORDER BY repo_type, repo, day",
    )?;
    let mut rows = stmt.query([org.as_str()])?;
    let mut current: Option<((i64, String), Vec<Reading>)> = None;
    while let Some(row) = rows.next()? {
        let id: (i64, String) = (row.get(0)?, row.get(1)?);
        let reading = Reading {
            day: Day::from_epoch_days(row.get(2)?),
            all_time: count(row.get(3)?),
        };
        match &mut current {
            Some((cur, readings)) if *cur == id => readings.push(reading),
            _ => {
                if let Some(((t, name), readings)) = current.replace((id, vec![reading])) {
                    f(repo_key(t, name)?, readings);
                }
            }
        }
    }
    if let Some(((t, name), readings)) = current {
        f(repo_key(t, name)?, readings);
    }
    Ok(())
}

impl HubSnapshots for SqliteCounts {
    fn put_snapshot(
        &self,
        org: &OrgName,
        day: Day,
        taken_unix: i64,
        readings: &[(RepoKey, u64)],
    ) -> StoreResult<()> {
        let mut conn = self.db.writer();
        let tx = conn.transaction()?;
        let d = day.epoch_days();
        tx.execute(
            "DELETE FROM hub_readings WHERE org = ?1 AND day = ?2",
            params![org.as_str(), d],
        )?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO hub_readings (org, repo_type, repo, day, all_time) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (org, repo_type, repo, day) DO UPDATE SET all_time = excluded.all_time",
            )?;
            for (repo, all_time) in readings {
                if repo.name.org_str() != org.as_str() {
                    return Err(StoreError::Invalid(format!(
                        "{} is not a repository of {org}",
                        repo.name
                    )));
                }
                let n = i64::try_from(*all_time)
                    .map_err(|_| StoreError::Invalid(format!("counter {all_time}")))?;
                insert.execute(params![
                    org.as_str(),
                    repo_type_code(repo.repo_type),
                    repo.name.as_str(),
                    d,
                    n
                ])?;
            }
        }
        tx.execute(
            "INSERT INTO hub_snapshots (org, day, repos, taken_unix) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (org, day) DO UPDATE SET repos = excluded.repos, \
                                                  taken_unix = excluded.taken_unix",
            params![org.as_str(), d, readings.len() as i64, taken_unix],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn snapshots(&self, org: &OrgName) -> StoreResult<Vec<SnapshotInfo>> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT day, repos, taken_unix FROM hub_snapshots WHERE org = ?1 ORDER BY day",
            )?;
            let rows = stmt.query_map([org.as_str()], |r| {
                Ok(SnapshotInfo {
                    day: Day::from_epoch_days(r.get(0)?),
                    repos: count(r.get(1)?),
                    taken_unix: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn snapshot(&self, org: &OrgName, day: Day) -> StoreResult<Vec<(RepoKey, u64)>> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT repo_type, repo, all_time FROM hub_readings \
                 WHERE org = ?1 AND day = ?2 ORDER BY repo_type, repo",
            )?;
            let mut rows = stmt.query(params![org.as_str(), day.epoch_days()])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((repo_key(r.get(0)?, r.get(1)?)?, count(r.get(2)?)));
            }
            Ok(out)
        })
    }

    fn around(&self, org: &OrgName, day: Day) -> StoreResult<Vec<Around>> {
        self.db.read(|conn| {
            let mut out = Vec::new();
            each_repo(conn, org, &mut |repo, readings| {
                out.push(around_of(repo, &readings, day))
            })?;
            Ok(out)
        })
    }

    fn readings(&self, repo: &RepoKey) -> StoreResult<Vec<Reading>> {
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT day, all_time FROM hub_readings \
                 WHERE org = ?1 AND repo_type = ?2 AND repo = ?3 ORDER BY day",
            )?;
            let rows = stmt.query_map(
                params![
                    repo.name.org_str(),
                    repo_type_code(repo.repo_type),
                    repo.name.as_str()
                ],
                |r| {
                    Ok(Reading {
                        day: Day::from_epoch_days(r.get(0)?),
                        all_time: count(r.get(1)?),
                    })
                },
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn snapshot_orgs(&self) -> StoreResult<Vec<OrgName>> {
        self.db.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT DISTINCT org FROM hub_snapshots ORDER BY org")?;
            let names: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            (names.iter())
                .map(|n| {
                    OrgName::parse(n).map_err(|e| {
                        StoreError::Backend(format!("stored organization: {e}").into())
                    })
                })
                .collect()
        })
    }
}

/// Removes the organization's snapshots (in the caller's transaction).
pub(super) fn remove_org(conn: &Connection, org: &OrgName) -> StoreResult<()> {
    conn.execute("DELETE FROM hub_readings WHERE org = ?1", [org.as_str()])?;
    conn.execute("DELETE FROM hub_snapshots WHERE org = ?1", [org.as_str()])?;
    Ok(())
}
