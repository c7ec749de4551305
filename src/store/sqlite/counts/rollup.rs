//! What a write transaction changed, applied at commit to everything derived from `daily`:
//! the running totals `daily.cum`, each repository's sum, first and last day and adjustment,
//! and the per-organization day sums `org_days`.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::store::StoreResult;

#[derive(Debug, Default)]
pub(super) struct Changes {
    /// Change of each touched repository's daily sum.
    sum_delta: HashMap<i64, i64>,
    /// Totals set, by repository.
    totals: HashMap<i64, i64>,
    /// The earliest day from which a repository's running totals must be recomputed.
    recompute_from: HashMap<i64, i32>,
    org_day_delta: HashMap<(i64, i32, u8), i64>,
}

impl Changes {
    pub(super) fn touch(&mut self, repo_id: i64) {
        self.sum_delta.entry(repo_id).or_insert(0);
    }

    pub(super) fn set_total(&mut self, repo_id: i64, total: i64) {
        self.totals.insert(repo_id, total);
    }

    pub(super) fn recompute_from(&mut self, repo_id: i64, day: i32) {
        let from = self.recompute_from.entry(repo_id).or_insert(day);
        *from = (*from).min(day);
    }

    pub(super) fn add(&mut self, repo_id: i64, org_id: i64, repo_type: u8, day: i32, delta: i64) {
        *self.sum_delta.entry(repo_id).or_insert(0) += delta;
        *self
            .org_day_delta
            .entry((org_id, day, repo_type))
            .or_insert(0) += delta;
    }

    pub(super) fn apply(&self, conn: &Connection) -> StoreResult<()> {
        self.apply_running_totals(conn)?;
        self.apply_repos(conn)?;
        self.apply_org_days(conn)
    }

    fn apply_running_totals(&self, conn: &Connection) -> StoreResult<()> {
        let mut recompute = conn.prepare_cached(
            "UPDATE daily SET cum = c.cum FROM ( \
                 SELECT day, SUM(downloads) OVER (ORDER BY day) \
                     + COALESCE((SELECT cum FROM daily WHERE repo_id = ?1 AND day < ?2 \
                                 ORDER BY day DESC LIMIT 1), 0) AS cum \
                 FROM daily WHERE repo_id = ?1 AND day >= ?2) AS c \
             WHERE daily.repo_id = ?1 AND daily.day = c.day",
        )?;
        for (repo_id, from) in &self.recompute_from {
            recompute.execute(params![repo_id, from])?;
        }
        Ok(())
    }

    fn apply_repos(&self, conn: &Connection) -> StoreResult<()> {
        let mut update = conn.prepare_cached(
            "UPDATE repos SET daily_sum = daily_sum + ?2, \
                 adjustment = COALESCE(?3 - (daily_sum + ?2), adjustment), \
                 first_day = (SELECT MIN(day) FROM daily WHERE repo_id = ?1), \
                 last_day = (SELECT MAX(day) FROM daily WHERE repo_id = ?1) \
             WHERE id = ?1",
        )?;
        for (repo_id, delta) in &self.sum_delta {
            update.execute(params![repo_id, delta, self.totals.get(repo_id)])?;
        }
        Ok(())
    }

    /// A negative change always meets an existing row (day sums are sums of positive daily
    /// rows), which it lowers, and removes when it reaches 0.
    fn apply_org_days(&self, conn: &Connection) -> StoreResult<()> {
        let mut add = conn.prepare_cached(
            "INSERT INTO org_days (org_id, day, repo_type, downloads) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (org_id, day, repo_type) DO UPDATE SET downloads = downloads + excluded.downloads",
        )?;
        let mut subtract = conn.prepare_cached(
            "UPDATE org_days SET downloads = downloads + ?4 WHERE org_id = ?1 AND day = ?2 AND repo_type = ?3",
        )?;
        let mut prune = conn.prepare_cached(
            "DELETE FROM org_days WHERE org_id = ?1 AND day = ?2 AND repo_type = ?3 AND downloads = 0",
        )?;
        for (&(org_id, day, repo_type), &delta) in &self.org_day_delta {
            if delta > 0 {
                add.execute(params![org_id, day, repo_type, delta])?;
            } else if delta < 0 {
                subtract.execute(params![org_id, day, repo_type, delta])?;
                prune.execute(params![org_id, day, repo_type])?;
            }
        }
        Ok(())
    }
}
