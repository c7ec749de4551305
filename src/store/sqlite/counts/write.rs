//! The write transaction: daily writes go straight to `daily`; the changes they make are
//! accumulated in memory and applied at commit (see [`super::rollup`]) to the running totals
//! (`daily.cum`), the repository sums and totals, and `org_days`. A million-row import of new
//! repositories in day order costs one statement per row plus a few per repository.

use std::collections::HashMap;
use std::sync::MutexGuard;

use rusqlite::{params, Connection, OptionalExtension};

use super::super::now_unix;
use super::rollup::Changes;
use super::{backend, repo_type_code};
use crate::domain::{Day, RepoKey};
use crate::store::{StoreResult, WriteTx};

/// What this transaction knows about one repository it wrote to.
#[derive(Debug, Clone, Copy)]
struct RepoSlot {
    id: i64,
    org_id: i64,
    repo_type: u8,
    /// Set for a repository created by this transaction.
    fresh: Option<Fresh>,
}

/// A repository created by this transaction: the latest day written and the sum of every
/// write so far. A later day has no stored value yet (no read needed) and its running total
/// is `cum` plus its downloads (no recomputation needed).
#[derive(Debug, Clone, Copy)]
struct Fresh {
    until: i32,
    cum: i64,
}

pub(super) struct SqliteWriteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    repos: HashMap<RepoKey, RepoSlot>,
    orgs: HashMap<String, i64>,
    orgs_created: u64,
    changes: Changes,
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
            changes: Changes::default(),
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
                fresh: None,
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
                    fresh: Some(Fresh {
                        until: i32::MIN,
                        cum: 0,
                    }),
                }
            }
        };
        self.repos.insert(repo.clone(), slot);
        self.changes.touch(slot.id);
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

    fn read_day(&self, repo_id: i64, day: i32) -> StoreResult<i64> {
        let old = self
            .conn
            .prepare_cached("SELECT downloads FROM daily WHERE repo_id = ?1 AND day = ?2")?
            .query_row(params![repo_id, day], |r| r.get(0))
            .optional()?;
        Ok(old.unwrap_or(0))
    }

    /// Stores a day's downloads (0 deletes the row) with its running total, when known.
    fn store_day(
        &self,
        repo_id: i64,
        day: i32,
        downloads: i64,
        cum: Option<i64>,
    ) -> StoreResult<()> {
        if downloads == 0 {
            self.conn
                .prepare_cached("DELETE FROM daily WHERE repo_id = ?1 AND day = ?2")?
                .execute(params![repo_id, day])?;
        } else {
            // A row whose running total is not known now is recomputed at commit.
            self.conn
                .prepare_cached(
                    "INSERT INTO daily (repo_id, day, downloads, cum) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (repo_id, day) DO UPDATE SET downloads = excluded.downloads",
                )?
                .execute(params![repo_id, day, downloads, cum.unwrap_or(0)])?;
        }
        Ok(())
    }

    /// Appends to a fresh repository (a day after all its days) need no read and know their
    /// running total; every other write reads the old value and leaves the running totals
    /// from its day on to be recomputed.
    fn write_day(
        &mut self,
        repo: &RepoKey,
        day: Day,
        new: impl FnOnce(i64) -> StoreResult<i64>,
    ) -> StoreResult<()> {
        let slot = self.slot(repo)?;
        let day = day.epoch_days();
        let append = slot.fresh.is_some_and(|f| day > f.until);
        let old = if append {
            0
        } else {
            self.read_day(slot.id, day)?
        };
        let new = new(old)?;
        if new == old {
            return Ok(());
        }
        let cum = self.advance_fresh(repo, day, new - old, append);
        if cum.is_none() {
            self.changes.recompute_from(slot.id, day);
        }
        self.store_day(slot.id, day, new, cum)?;
        self.changes
            .add(slot.id, slot.org_id, slot.repo_type, day, new - old);
        Ok(())
    }

    /// Keeps a fresh repository's running sum; returns the written day's running total for
    /// an append.
    fn advance_fresh(&mut self, repo: &RepoKey, day: i32, delta: i64, append: bool) -> Option<i64> {
        let fresh = self.repos.get_mut(repo)?.fresh.as_mut()?;
        fresh.cum += delta;
        if append {
            fresh.until = day;
            Some(fresh.cum)
        } else {
            None
        }
    }
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
        self.changes.set_total(slot.id, total);
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
        self.changes.apply(&self.conn)?;
        // Readers' caches are valid for one generation (see `cache.rs`).
        self.conn
            .execute_batch("UPDATE write_generation SET n = n + 1 WHERE id = 1; COMMIT")?;
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
