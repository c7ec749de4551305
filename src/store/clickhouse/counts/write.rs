//! A write of one source: values are kept in memory until `commit`, which reads what the
//! source and the other sources hold for the touched repositories, checks the sums, and
//! inserts every changed row — day values and tombstones, repositories, organizations'
//! new versions, the source — as one block. A write dropped without `commit` sent nothing.
//!
//! In cluster mode the insert goes through the `Distributed` table, which writes each shard's
//! rows as one block on that shard: each organization's rows (on one shard) appear at once or
//! not at all, but a commit touching organizations on several shards can be cut off between
//! shards. The source's row then goes last, in its own insert, so that such a commit is not
//! recorded as applied; writing it again sets the same values and counts them once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::MutexGuard;

use super::super::client::{quote, tsv_field, Client};
use super::super::{next_version, now_unix};
use super::{repo_key, type_code, DAY, ORG, REPO, SOURCE};
use crate::domain::{Day, OrgName, RepoKey};
use crate::store::{
    Committed, CountsWrite, SourceId, StoreError, StoreResult, WriteMode, MAX_COUNT,
};

const COLUMNS: &str =
    "org, kind, repo_type, repo, day, source, downloads, adjustment, generation, version";

pub(super) struct ClickHouseWrite<'a> {
    client: &'a Client,
    _writer: MutexGuard<'a, ()>,
    source: SourceId,
    mode: WriteMode,
    /// Every repository the write touches, by id (index), with its organization's index.
    repos: Vec<(RepoKey, usize)>,
    ids: HashMap<RepoKey, u32>,
    orgs: Vec<OrgName>,
    org_ids: HashMap<OrgName, usize>,
    /// The repository of the last call (rows come grouped by repository): no hashing.
    last: Option<(RepoKey, u32)>,
    values: Vec<(u32, i32, u64)>,
    totals: HashMap<u32, u64>,
}

fn check_count(what: &str, n: u64) -> StoreResult<()> {
    if n > MAX_COUNT {
        return Err(StoreError::Invalid(format!(
            "{what} {n} is more than {MAX_COUNT}, the largest count hubstats accepts"
        )));
    }
    Ok(())
}

/// Up to this many repositories, a `Merge` write reads what the source holds of those
/// repositories only (a list well under ClickHouse's 256 KiB query limit).
const FEW_REPOS: usize = 500;

fn in_list<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values.map(quote).collect::<Vec<_>>().join(", ")
}

impl<'a> ClickHouseWrite<'a> {
    pub(super) fn new(
        client: &'a Client,
        writer: MutexGuard<'a, ()>,
        source: SourceId,
        mode: WriteMode,
    ) -> Self {
        ClickHouseWrite {
            client,
            _writer: writer,
            source,
            mode,
            repos: Vec::new(),
            ids: HashMap::new(),
            orgs: Vec::new(),
            org_ids: HashMap::new(),
            last: None,
            values: Vec::new(),
            totals: HashMap::new(),
        }
    }

    fn repo_id(&mut self, repo: &RepoKey) -> u32 {
        if let Some((key, id)) = &self.last {
            if key == repo {
                return *id;
            }
        }
        let id = match self.ids.get(repo) {
            Some(&id) => id,
            None => {
                let org = repo.name.org();
                let org_at = match self.org_ids.get(&org) {
                    Some(&i) => i,
                    None => {
                        self.orgs.push(org.clone());
                        self.org_ids.insert(org, self.orgs.len() - 1);
                        self.orgs.len() - 1
                    }
                };
                let id = self.repos.len() as u32;
                self.repos.push((repo.clone(), org_at));
                self.ids.insert(repo.clone(), id);
                id
            }
        };
        self.last = Some((repo.clone(), id));
        id
    }

    /// What the source holds now, per repository-day: of every organization (`Replace`:
    /// those repositories are touched too), or of the repositories the write names (`Merge`).
    fn source_rows(&mut self) -> StoreResult<HashMap<(u32, i32), u64>> {
        let orgs = match self.mode {
            WriteMode::Replace => String::new(),
            WriteMode::Merge if self.orgs.is_empty() => return Ok(HashMap::new()),
            WriteMode::Merge => format!(
                " AND org IN ({})",
                in_list(self.orgs.iter().map(OrgName::as_str))
            ),
        };
        // A small write reads only its own repositories' days, not all its organizations'
        // (a one-row import into an organization of 8 million days read them all).
        let only = match self.mode {
            WriteMode::Merge if self.repos.len() <= FEW_REPOS => format!(
                " AND (repo_type, repo) IN ({})",
                (self.repos.iter())
                    .map(|(key, _)| format!(
                        "({}, {})",
                        type_code(key.repo_type),
                        quote(key.name.as_str())
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => String::new(),
        };
        let sql = format!(
            "SELECT repo_type, repo, day, n FROM ( \
               SELECT repo_type, repo, day, argMax(downloads, version) AS n FROM counts \
               WHERE kind = {DAY} AND source = {}{orgs}{only} \
               GROUP BY org, repo_type, repo, day) \
             WHERE n > 0",
            quote(self.source.as_str())
        );
        let rows = self.client.query(&sql, |r| {
            Ok((repo_key(r.u64(0)?, &r.str(1)?)?, r.u64(2)?, r.u64(3)?))
        })?;
        let mut held = HashMap::with_capacity(rows.len());
        for (key, day, n) in rows {
            let id = match self.mode {
                WriteMode::Replace => self.repo_id(&key),
                WriteMode::Merge => match self.ids.get(&key) {
                    Some(&id) => id,
                    None => continue,
                },
            };
            held.insert((id, day as i32), n);
        }
        Ok(held)
    }

    /// Per touched repository: the sum of the other sources' days, and its adjustment.
    fn others_and_adjustments(&self) -> StoreResult<(HashMap<u32, u64>, HashMap<u32, i64>)> {
        let orgs = in_list(self.orgs.iter().map(OrgName::as_str));
        let sums = self.client.query(
            &format!(
                "SELECT repo_type, repo, sum(n) FROM ( \
                   SELECT repo_type, repo, day, source, argMax(downloads, version) AS n \
                   FROM counts WHERE kind = {DAY} AND org IN ({orgs}) AND source != {} \
                   GROUP BY org, repo_type, repo, day, source) \
                 GROUP BY repo_type, repo",
                quote(self.source.as_str())
            ),
            |r| Ok((repo_key(r.u64(0)?, &r.str(1)?)?, r.u64(2)?)),
        )?;
        let adjustments = self.client.query(
            &format!(
                "SELECT repo_type, repo, argMax(adjustment, version) FROM counts \
                 WHERE kind = {REPO} AND org IN ({orgs}) GROUP BY org, repo_type, repo"
            ),
            |r| Ok((repo_key(r.u64(0)?, &r.str(1)?)?, r.i64(2)?)),
        )?;
        Ok((self.by_id(sums), self.by_id(adjustments)))
    }

    /// Rows of touched repositories, by id (others dropped).
    fn by_id<T>(&self, rows: Vec<(RepoKey, T)>) -> HashMap<u32, T> {
        rows.into_iter()
            .filter_map(|(k, v)| self.ids.get(&k).map(|&id| (id, v)))
            .collect()
    }

    /// The touched organizations' current versions and identities.
    fn org_rows(&self) -> StoreResult<HashMap<String, (u64, u64)>> {
        let rows = self.client.query(
            &format!(
                "SELECT org, argMax(version, version), argMax(generation, version) FROM counts \
                 WHERE kind = {ORG} AND org IN ({}) GROUP BY org",
                in_list(self.orgs.iter().map(OrgName::as_str))
            ),
            |r| Ok((r.str(0)?, (r.u64(1)?, r.u64(2)?))),
        )?;
        Ok(rows.into_iter().collect())
    }

    fn describe(&self, id: u32) -> String {
        let key = &self.repos[id as usize].0;
        format!("{} {}", key.repo_type, key.name)
    }
}

/// One row of the insert body.
struct Line<'a> {
    org: &'a str,
    kind: u8,
    key: Option<&'a RepoKey>,
    day: i32,
    source: &'a str,
    downloads: u64,
    adjustment: i64,
    generation: u64,
    version: u64,
}

fn push_line(body: &mut String, l: Line<'_>) {
    tsv_field(body, l.org);
    let (code, name) = l
        .key
        .map_or((0, ""), |k| (type_code(k.repo_type), k.name.as_str()));
    let _ = write!(body, "\t{}\t{code}\t", l.kind);
    tsv_field(body, name);
    let _ = write!(body, "\t{}\t", l.day.max(0));
    tsv_field(body, l.source);
    let _ = writeln!(
        body,
        "\t{}\t{}\t{}\t{}",
        l.downloads, l.adjustment, l.generation, l.version
    );
}

impl CountsWrite for ClickHouseWrite<'_> {
    fn set(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()> {
        check_count("downloads", downloads)?;
        let id = self.repo_id(repo);
        self.values.push((id, day.epoch_days(), downloads));
        Ok(())
    }

    fn set_total(&mut self, repo: &RepoKey, total: u64) -> StoreResult<()> {
        check_count("total", total)?;
        let id = self.repo_id(repo);
        self.totals.insert(id, total);
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> StoreResult<Committed> {
        // In the order set: of several values of one repository-day, the last one stays.
        let values = std::mem::take(&mut self.values);
        let mut new: BTreeMap<(u32, i32), u64> = BTreeMap::new();
        for (repo, day, n) in values {
            new.insert((repo, day), n);
        }
        let held = self.source_rows()?;
        let stamp = next_version();
        let source = self.source.as_str().to_owned();
        let mut body = String::new();
        let mut committed = Committed::default();
        if !self.repos.is_empty() {
            let (others, adjustments) = self.others_and_adjustments()?;
            let current = self.org_rows()?;
            // The source's days after the write, per repository, and the rows that change.
            let mut after: HashMap<u32, u64> = HashMap::new();
            let mut changes: Vec<((u32, i32), u64)> = Vec::new();
            for (&(repo, day), &n) in &held {
                let kept = match self.mode {
                    WriteMode::Replace => 0,
                    WriteMode::Merge => n,
                };
                let value = new.get(&(repo, day)).copied().unwrap_or(kept);
                *after.entry(repo).or_default() += value;
                if value != n {
                    changes.push(((repo, day), value));
                }
            }
            for (&(repo, day), &n) in &new {
                if n > 0 && !held.contains_key(&(repo, day)) {
                    *after.entry(repo).or_default() += n;
                    changes.push(((repo, day), n));
                }
            }
            // Versions: each touched organization's next one; a new one gets an identity.
            let versions: Vec<(u64, u64)> = (self.orgs.iter())
                .map(|org| {
                    let (v, g) = current.get(org.as_str()).copied().unwrap_or((0, stamp));
                    (v + 1, g)
                })
                .collect();
            for (id, (key, org_at)) in self.repos.iter().enumerate() {
                let id = id as u32;
                let sum = u128::from(others.get(&id).copied().unwrap_or(0))
                    + u128::from(after.get(&id).copied().unwrap_or(0));
                if sum > u128::from(MAX_COUNT) {
                    return Err(StoreError::Invalid(format!(
                        "the downloads of {} would add up to {sum}, more than {MAX_COUNT}",
                        self.describe(id)
                    )));
                }
                let adjustment = match self.totals.get(&id) {
                    Some(&total) => total as i64 - sum as i64,
                    None => adjustments.get(&id).copied().unwrap_or(0),
                };
                let (version, generation) = versions[*org_at];
                push_line(
                    &mut body,
                    Line {
                        org: self.orgs[*org_at].as_str(),
                        kind: REPO,
                        key: Some(key),
                        day: 0,
                        source: "",
                        downloads: 0,
                        adjustment,
                        generation,
                        version,
                    },
                );
            }
            changes.sort_unstable();
            for ((repo, day), n) in changes {
                let (key, org_at) = &self.repos[repo as usize];
                let (version, generation) = versions[*org_at];
                push_line(
                    &mut body,
                    Line {
                        org: self.orgs[*org_at].as_str(),
                        kind: DAY,
                        key: Some(key),
                        day,
                        source: &source,
                        downloads: n,
                        adjustment: 0,
                        generation,
                        version,
                    },
                );
            }
            let names: BTreeSet<(&OrgName, usize)> =
                self.orgs.iter().enumerate().map(|(i, o)| (o, i)).collect();
            for (org, at) in names {
                let (version, generation) = versions[at];
                push_line(
                    &mut body,
                    Line {
                        org: org.as_str(),
                        kind: ORG,
                        key: None,
                        day: 0,
                        source: "",
                        downloads: 0,
                        adjustment: 0,
                        generation,
                        version,
                    },
                );
                committed.versions.push((org.clone(), version));
            }
        }
        if self.client.is_cluster() {
            self.client.insert("counts", COLUMNS, &body)?;
            body.clear();
        }
        push_line(
            &mut body,
            Line {
                org: "",
                kind: SOURCE,
                key: None,
                day: 0,
                source: &source,
                downloads: 0,
                adjustment: now_unix(),
                generation: 0,
                version: stamp,
            },
        );
        self.client.insert("counts", COLUMNS, &body)?;
        Ok(committed)
    }
}
