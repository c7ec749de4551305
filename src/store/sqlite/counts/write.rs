//! The write transaction: daily writes go straight to `daily`; the changes they make are
//! accumulated in memory and applied to the rollups (`repos` sums, `monthly`, `org_days`) and
//! the totals at commit, so a million-row import costs one statement per row plus one per
//! touched repository, month and organization day.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::MutexGuard;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::super::now_unix;
use super::{backend, repo_type_code};
use crate::domain::{Day, RepoKey};
use crate::store::{StoreResult, WriteTx};

/// What this transaction knows about one repository it wrote to.
#[derive(Debug, Clone, Copy)]
struct RepoSlot {
    id: i64,
    org_id: i64,
    repo_type: u8,
    /// For a repository created by this transaction: the latest day written so far. A later
    /// day cannot have a stored value yet, so writing it needs no read of the old value.
    fresh_until: Option<i32>,
}

pub(super) struct SqliteWriteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    repos: HashMap<RepoKey, RepoSlot>,
    orgs: HashMap<String, i64>,
    orgs_created: u64,
    /// Change of each touched repository's daily sum.
    sum_delta: HashMap<i64, i64>,
    month_delta: HashMap<(i64, i32), i64>,
    org_day_delta: HashMap<(i64, i32, u8), i64>,
    totals: HashMap<i64, i64>,
    /// Memo of the last day → month-start conversion (rows come in runs of nearby days).
    last_month: (i32, i32),
    committed: bool,
}

impl<'a> SqliteWriteTx<'a> {
    pub(super) fn begin(conn: MutexGuard<'a, Connection>) -> StoreResult<Self> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(SqliteWriteTx {
            conn,
            repos: HashMap::new(),
            orgs: HashMap::new(),
            orgs_created: 0,
            sum_delta: HashMap::new(),
            month_delta: HashMap::new(),
            org_day_delta: HashMap::new(),
            totals: HashMap::new(),
            last_month: (i32::MIN, i32::MIN),
            committed: false,
        })
    }

    fn slot(&mut self, repo: &RepoKey) -> StoreResult<RepoSlot> {
        if let Some(slot) = self.repos.get(repo) {
            return Ok(*slot);
        }
        let org_id = self.org_id(repo)?;
        let repo_type = repo_type_code(repo.repo_type);
        let existing: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM repos WHERE org_id = ?1 AND repo_type = ?2 AND name = ?3",
            )?
            .query_row(params![org_id, repo_type, repo.name.as_str()], |r| r.get(0))
            .optional()?;
        let slot = match existing {
            Some(id) => RepoSlot {
                id,
                org_id,
                repo_type,
                fresh_until: None,
            },
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO repos (org_id, repo_type, name) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![org_id, repo_type, repo.name.as_str()])?;
                let id = self.conn.last_insert_rowid();
                RepoSlot {
                    id,
                    org_id,
                    repo_type,
                    fresh_until: Some(i32::MIN),
                }
            }
        };
        self.repos.insert(repo.clone(), slot);
        self.sum_delta.entry(slot.id).or_insert(0);
        Ok(slot)
    }

    /// The repository's organization, created on the `free` plan if missing.
    fn org_id(&mut self, repo: &RepoKey) -> StoreResult<i64> {
        let org = repo.name.org();
        if let Some(id) = self.orgs.get(org.as_str()) {
            return Ok(*id);
        }
        let created = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO orgs (name, plan, created_unix) VALUES (?1, 'free', ?2)",
            )?
            .execute(params![org.as_str(), now_unix()])?;
        self.orgs_created += created as u64;
        let id = self
            .conn
            .prepare_cached("SELECT id FROM orgs WHERE name = ?1")?
            .query_row([org.as_str()], |r| r.get(0))?;
        self.orgs.insert(org.as_str().to_owned(), id);
        Ok(id)
    }

    /// The stored downloads of a day, known without a read for days past a fresh repository's
    /// latest write.
    fn old_value(&mut self, repo: &RepoKey, slot: RepoSlot, day: i32) -> StoreResult<i64> {
        if let Some(until) = slot.fresh_until {
            if day > until {
                if let Some(s) = self.repos.get_mut(repo) {
                    s.fresh_until = Some(day);
                }
                return Ok(0);
            }
        }
        let old = self
            .conn
            .prepare_cached("SELECT downloads FROM daily WHERE repo_id = ?1 AND day = ?2")?
            .query_row(params![slot.id, day], |r| r.get(0))
            .optional()?;
        Ok(old.unwrap_or(0))
    }

    fn store_day(&mut self, slot: RepoSlot, day: i32, downloads: i64) -> StoreResult<()> {
        if downloads == 0 {
            self.conn
                .prepare_cached("DELETE FROM daily WHERE repo_id = ?1 AND day = ?2")?
                .execute(params![slot.id, day])?;
        } else {
            self.conn
                .prepare_cached(
                    "INSERT INTO daily (repo_id, day, downloads) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (repo_id, day) DO UPDATE SET downloads = excluded.downloads",
                )?
                .execute(params![slot.id, day, downloads])?;
        }
        Ok(())
    }

    /// Remembers that a day of a repository changed by `delta`, for the rollups.
    fn note_change(&mut self, slot: RepoSlot, day: i32, delta: i64) {
        if delta == 0 {
            return;
        }
        *self.sum_delta.entry(slot.id).or_insert(0) += delta;
        let month = self.month_of(day);
        *self.month_delta.entry((slot.id, month)).or_insert(0) += delta;
        *self
            .org_day_delta
            .entry((slot.org_id, day, slot.repo_type))
            .or_insert(0) += delta;
    }

    fn month_of(&mut self, day: i32) -> i32 {
        if self.last_month.0 != day {
            let month = Day::from_epoch_days(day).month_start().epoch_days();
            self.last_month = (day, month);
        }
        self.last_month.1
    }

    fn write_day(
        &mut self,
        repo: &RepoKey,
        day: Day,
        new: impl FnOnce(i64) -> StoreResult<i64>,
    ) -> StoreResult<()> {
        let slot = self.slot(repo)?;
        let day = day.epoch_days();
        let old = self.old_value(repo, slot, day)?;
        let new = new(old)?;
        if new != old {
            self.store_day(slot, day, new)?;
            self.note_change(slot, day, new - old);
        }
        Ok(())
    }

    fn apply_rollups(&mut self) -> StoreResult<()> {
        let conn = &*self.conn;
        let mut update_repo = conn.prepare_cached(
            "UPDATE repos SET daily_sum = daily_sum + ?2, \
                 adjustment = COALESCE(?3 - (daily_sum + ?2), adjustment), \
                 first_day = (SELECT MIN(day) FROM daily WHERE repo_id = ?1), \
                 last_day = (SELECT MAX(day) FROM daily WHERE repo_id = ?1) \
             WHERE id = ?1",
        )?;
        for (id, delta) in &self.sum_delta {
            let total = self.totals.get(id);
            update_repo.execute(params![id, delta, total])?;
        }
        apply_deltas(
            conn,
            &MONTHLY,
            self.month_delta
                .iter()
                .map(|(&(r, m), &d)| ([r, i64::from(m)], d)),
        )?;
        apply_deltas(
            conn,
            &ORG_DAYS,
            self.org_day_delta
                .iter()
                .map(|(&(o, d, t), &n)| ([o, i64::from(d), i64::from(t)], n)),
        )
    }
}

/// How to change one rollup table: the first parameters identify a row, the last is the change.
struct Rollup {
    add: &'static str,
    subtract: &'static str,
    prune: &'static str,
}

const MONTHLY: Rollup = Rollup {
    add: "INSERT INTO monthly (repo_id, month, downloads) VALUES (?1, ?2, ?3) \
          ON CONFLICT (repo_id, month) DO UPDATE SET downloads = downloads + excluded.downloads",
    subtract: "UPDATE monthly SET downloads = downloads + ?3 WHERE repo_id = ?1 AND month = ?2",
    prune: "DELETE FROM monthly WHERE repo_id = ?1 AND month = ?2 AND downloads = 0",
};

const ORG_DAYS: Rollup = Rollup {
    add: "INSERT INTO org_days (org_id, day, repo_type, downloads) VALUES (?1, ?2, ?3, ?4) \
          ON CONFLICT (org_id, day, repo_type) DO UPDATE SET downloads = downloads + excluded.downloads",
    subtract: "UPDATE org_days SET downloads = downloads + ?4 WHERE org_id = ?1 AND day = ?2 AND repo_type = ?3",
    prune: "DELETE FROM org_days WHERE org_id = ?1 AND day = ?2 AND repo_type = ?3 AND downloads = 0",
};

/// Applies each non-zero change to its rollup row. A negative change always meets an existing
/// row (rollups are sums of positive daily rows), which it lowers, and removes if it reaches 0.
fn apply_deltas<const N: usize>(
    conn: &Connection,
    table: &Rollup,
    deltas: impl Iterator<Item = ([i64; N], i64)>,
) -> StoreResult<()> {
    let mut add = conn.prepare_cached(table.add)?;
    let mut subtract = conn.prepare_cached(table.subtract)?;
    let mut prune = conn.prepare_cached(table.prune)?;
    for (key, delta) in deltas {
        let with_delta = params_from_iter(key.iter().chain([&delta]));
        match delta.cmp(&0) {
            Ordering::Greater => {
                add.execute(with_delta)?;
            }
            Ordering::Less => {
                subtract.execute(with_delta)?;
                prune.execute(params_from_iter(key.iter()))?;
            }
            Ordering::Equal => {}
        }
    }
    Ok(())
}

impl WriteTx for SqliteWriteTx<'_> {
    fn set_daily(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()> {
        let new = to_i64(downloads)?;
        self.write_day(repo, day, |_| Ok(new))
    }

    fn add_daily(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()> {
        let add = to_i64(downloads)?;
        self.write_day(repo, day, |old| {
            old.checked_add(add)
                .ok_or_else(|| backend("downloads overflow"))
        })
    }

    fn set_total(&mut self, repo: &RepoKey, total: u64) -> StoreResult<()> {
        let total = to_i64(total)?;
        let slot = self.slot(repo)?;
        self.totals.insert(slot.id, total);
        Ok(())
    }

    fn record_source(&mut self, source: &str) -> StoreResult<bool> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO ingested_sources (source, ingested_unix) VALUES (?1, ?2)",
            )?
            .execute(params![source, now_unix()])?;
        Ok(inserted == 1)
    }

    fn created_orgs(&self) -> u64 {
        self.orgs_created
    }

    fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.apply_rollups()?;
        self.conn.execute_batch("COMMIT")?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for SqliteWriteTx<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // Nothing useful can be done with a failed rollback: the connection then discards
            // the transaction when it is next used or closed.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

fn to_i64(n: u64) -> StoreResult<i64> {
    i64::try_from(n).map_err(|_| backend(format!("count {n} is out of range")))
}
