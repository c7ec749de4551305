//! A write of one source, in one SQLite transaction.
//!
//! Values are buffered and flushed in sorted batches: each flush groups the buffered values by
//! (repository, span), reads the source's chunk of that span once, overlays the new values
//! and writes the chunk back — a million-row import writes a few rows per repository and
//! reads nothing else. `Replace` drops every chunk of the source when the write begins. At
//! commit, each touched repository's sum is checked against [`MAX_COUNT`], totals become
//! adjustments, and the versions of the touched organizations and repositories are bumped.

use std::collections::HashMap;
use std::sync::MutexGuard;

use rusqlite::{params, Connection, OptionalExtension};

use super::super::now_unix;
use super::chunk::{self, span_of};
use super::repo_type_code;
use crate::domain::{Day, OrgName, RepoKey};
use crate::store::{
    Committed, CountsWrite, SourceId, StoreError, StoreResult, WriteMode, MAX_COUNT,
};

/// Values buffered before a flush (~4 MB).
const FLUSH_AT: usize = 1 << 18;

pub(super) struct SqliteCountsWrite<'a> {
    conn: MutexGuard<'a, Connection>,
    source_id: i64,
    repos: HashMap<RepoKey, i64>,
    /// The repository of the last call (rows come grouped by repository): no hashing.
    last: Option<(RepoKey, i64)>,
    orgs: HashMap<OrgName, i64>,
    /// Repositories whose data changed, with their organization.
    touched: HashMap<i64, i64>,
    /// Names of repositories by id, for error messages.
    names: HashMap<i64, RepoKey>,
    pending: Vec<(i64, i32, u64)>,
    totals: HashMap<i64, u64>,
    committed: bool,
}

impl<'a> SqliteCountsWrite<'a> {
    pub(super) fn begin(
        conn: MutexGuard<'a, Connection>,
        source: &SourceId,
        mode: WriteMode,
    ) -> StoreResult<Self> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut w = SqliteCountsWrite {
            conn,
            source_id: 0,
            repos: HashMap::new(),
            last: None,
            orgs: HashMap::new(),
            touched: HashMap::new(),
            names: HashMap::new(),
            pending: Vec::new(),
            totals: HashMap::new(),
            committed: false,
        };
        w.source_id = w.conn.query_row(
            "INSERT INTO sources (name, applied_unix) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET applied_unix = excluded.applied_unix RETURNING id",
            params![source.as_str(), now_unix()],
            |r| r.get(0),
        )?;
        if mode == WriteMode::Replace {
            w.drop_source()?;
        }
        Ok(w)
    }

    /// Removes everything the source wrote before, marking those repositories as touched.
    fn drop_source(&mut self) -> StoreResult<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT c.repo_id, r.org_id FROM chunks c \
             JOIN count_repos r ON r.id = c.repo_id WHERE c.source_id = ?1",
        )?;
        let repos = stmt
            .query_map([self.source_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<(i64, i64)>, _>>()?;
        drop(stmt);
        self.touched.extend(repos);
        self.conn
            .prepare_cached("DELETE FROM chunks WHERE source_id = ?1")?
            .execute([self.source_id])?;
        Ok(())
    }

    fn org_id(&mut self, org: OrgName) -> StoreResult<i64> {
        if let Some(id) = self.orgs.get(&org) {
            return Ok(*id);
        }
        let existing: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM count_orgs WHERE name = ?1")?
            .query_row([org.as_str()], |r| r.get(0))
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                self.conn
                    .prepare_cached("INSERT INTO count_orgs (name) VALUES (?1)")?
                    .execute([org.as_str()])?;
                self.conn.last_insert_rowid()
            }
        };
        self.orgs.insert(org, id);
        Ok(id)
    }

    /// The repository's id, creating it if needed; marks it touched.
    fn repo_id(&mut self, repo: &RepoKey) -> StoreResult<i64> {
        if let Some((key, id)) = &self.last {
            if key == repo {
                return Ok(*id);
            }
        }
        if let Some(&id) = self.repos.get(repo) {
            self.last = Some((repo.clone(), id));
            return Ok(id);
        }
        let org_id = self.org_id(repo.name.org())?;
        let code = repo_type_code(repo.repo_type);
        let name = repo.name.as_str();
        let existing: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM count_repos WHERE org_id = ?1 AND repo_type = ?2 AND name = ?3",
            )?
            .query_row(params![org_id, code, name], |r| r.get(0))
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO count_repos (org_id, repo_type, name) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![org_id, code, name])?;
                self.conn.last_insert_rowid()
            }
        };
        self.repos.insert(repo.clone(), id);
        self.last = Some((repo.clone(), id));
        self.names.insert(id, repo.clone());
        self.touched.insert(id, org_id);
        Ok(id)
    }

    /// Writes the buffered values into their chunks.
    fn flush(&mut self) -> StoreResult<()> {
        let mut pending = std::mem::take(&mut self.pending);
        // Stable: of several values of one repository-day, the last one set stays last.
        pending.sort_by_key(|(repo, day, _)| (*repo, *day));
        let mut start = 0;
        let mut merged = Vec::new();
        let mut blob = Vec::new();
        while start < pending.len() {
            let (repo, day, _) = pending[start];
            let span = span_of(day);
            let end = start
                + pending[start..]
                    .iter()
                    .take_while(|(r, d, _)| *r == repo && span_of(*d) == span)
                    .count();
            self.merge_chunk(repo, span, &pending[start..end], &mut merged, &mut blob)?;
            start = end;
        }
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    /// Overlays `values` (sorted by day, last of equal days wins) on the source's chunk.
    fn merge_chunk(
        &self,
        repo: i64,
        span: i32,
        values: &[(i64, i32, u64)],
        merged: &mut Vec<(i32, u64)>,
        blob: &mut Vec<u8>,
    ) -> StoreResult<()> {
        let mut old = Vec::new();
        let stored: Option<Vec<u8>> = self
            .conn
            .prepare_cached(
                "SELECT data FROM chunks WHERE repo_id = ?1 AND span = ?2 AND source_id = ?3",
            )?
            .query_row(params![repo, span, self.source_id], |r| r.get(0))
            .optional()?;
        if let Some(data) = stored {
            chunk::decode(span, &data, &mut old)?;
        }
        merged.clear();
        let mut old = old.into_iter().peekable();
        let mut i = 0;
        while i < values.len() {
            let day = values[i].1;
            while i + 1 < values.len() && values[i + 1].1 == day {
                i += 1;
            }
            while let Some(&(d, n)) = old.peek().filter(|(d, _)| *d < day) {
                merged.push((d, n));
                old.next();
            }
            if old.peek().is_some_and(|(d, _)| *d == day) {
                old.next();
            }
            merged.push((day, values[i].2));
            i += 1;
        }
        merged.extend(old);
        merged.retain(|(_, n)| *n > 0);
        if merged.is_empty() {
            self.conn
                .prepare_cached(
                    "DELETE FROM chunks WHERE repo_id = ?1 AND span = ?2 AND source_id = ?3",
                )?
                .execute(params![repo, span, self.source_id])?;
            return Ok(());
        }
        // At most 256 values of at most MAX_COUNT each: the sum fits in an i64.
        let sum: u64 = merged.iter().map(|(_, n)| n).sum();
        chunk::encode(span, merged, blob);
        self.conn
            .prepare_cached(
                "INSERT INTO chunks (repo_id, span, source_id, rows, sum, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (repo_id, span, source_id) \
                 DO UPDATE SET rows = excluded.rows, sum = excluded.sum, data = excluded.data",
            )?
            .execute(params![
                repo,
                span,
                self.source_id,
                merged.len() as i64,
                sum as i64,
                &blob[..]
            ])?;
        Ok(())
    }

    fn daily_sum(&self, repo: i64) -> StoreResult<u64> {
        let sum: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(SUM(sum), 0) FROM chunks WHERE repo_id = ?1")?
            .query_row([repo], |r| r.get(0))?;
        Ok(sum as u64)
    }

    fn describe(&self, repo: i64) -> String {
        self.names.get(&repo).map_or_else(
            || format!("repository #{repo}"),
            |k| format!("{} {}", k.repo_type, k.name),
        )
    }

    /// Checks every touched repository's sum and turns totals into adjustments.
    fn settle_repos(&self) -> StoreResult<()> {
        let mut set_adjustment = self
            .conn
            .prepare_cached("UPDATE count_repos SET adjustment = ?2 WHERE id = ?1")?;
        for &repo in self.touched.keys() {
            let sum = self.daily_sum(repo)?;
            if sum > MAX_COUNT {
                return Err(StoreError::Invalid(format!(
                    "the downloads of {} would add up to {sum}, more than {MAX_COUNT}",
                    self.describe(repo)
                )));
            }
            if let Some(&total) = self.totals.get(&repo) {
                set_adjustment.execute(params![repo, total as i64 - sum as i64])?;
            }
        }
        Ok(())
    }

    /// Bumps the version of each touched organization and stamps its touched repositories.
    fn bump_versions(&self) -> StoreResult<Committed> {
        let mut by_org: HashMap<i64, Vec<i64>> = HashMap::new();
        for (&repo, &org) in &self.touched {
            by_org.entry(org).or_default().push(repo);
        }
        let mut bump = self.conn.prepare_cached(
            "UPDATE count_orgs SET version = version + 1 WHERE id = ?1 RETURNING name, version",
        )?;
        let mut stamp = self
            .conn
            .prepare_cached("UPDATE count_repos SET version = ?2 WHERE id = ?1")?;
        let mut committed = Committed::default();
        for (org, repos) in by_org {
            let (name, version): (String, i64) =
                bump.query_row([org], |r| Ok((r.get(0)?, r.get(1)?)))?;
            for repo in repos {
                stamp.execute(params![repo, version])?;
            }
            let name = OrgName::parse(&name)
                .map_err(|e| StoreError::Backend(format!("stored organization: {e}").into()))?;
            committed.versions.push((name, version as u64));
        }
        committed.versions.sort();
        Ok(committed)
    }
}

fn check_count(what: &str, n: u64) -> StoreResult<()> {
    if n > MAX_COUNT {
        return Err(StoreError::Invalid(format!(
            "{what} {n} is more than {MAX_COUNT}, the largest count hubstats accepts"
        )));
    }
    Ok(())
}

impl CountsWrite for SqliteCountsWrite<'_> {
    fn set(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()> {
        check_count("downloads", downloads)?;
        let id = self.repo_id(repo)?;
        self.pending.push((id, day.epoch_days(), downloads));
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn set_total(&mut self, repo: &RepoKey, total: u64) -> StoreResult<()> {
        check_count("total", total)?;
        let id = self.repo_id(repo)?;
        self.totals.insert(id, total);
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> StoreResult<Committed> {
        self.flush()?;
        self.settle_repos()?;
        let committed = self.bump_versions()?;
        self.conn.execute_batch("COMMIT")?;
        self.committed = true;
        Ok(committed)
    }
}

impl Drop for SqliteCountsWrite<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // Nothing useful can be done with a failed rollback: the connection then discards
            // the transaction when it is next used or closed.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
