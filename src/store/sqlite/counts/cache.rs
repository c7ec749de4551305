//! A small cache of whole-organization query results (period sums, repository lists), so that
//! paging, sorting and searching the dashboard of a 20,000-repository organization does not
//! recompute them on every request.
//!
//! Entries are tagged with the store's write generation (`write_generation.n`, bumped by every
//! committed write transaction, from any process), read in the same snapshot as the result:
//! an entry is served only while the generation it was computed at is current, so a cached
//! answer is always the answer the store would give now.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::domain::{DayRange, OrgName, RepoKey};
use crate::store::{RepoSummary, StoreResult};

pub(in crate::store::sqlite) struct QueryCache<K, V> {
    entries: Mutex<VecDeque<Entry<K, V>>>,
    capacity: usize,
}

struct Entry<K, V> {
    generation: i64,
    key: K,
    value: Arc<V>,
}

impl<K: PartialEq, V> QueryCache<K, V> {
    pub(in crate::store::sqlite) fn new(capacity: usize) -> Self {
        QueryCache {
            entries: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// The cached value for `key` at the store's current generation, or `compute`'s result,
    /// cached. Runs in one read transaction so the generation and the result agree.
    pub(super) fn get_or_compute(
        &self,
        conn: &Connection,
        key: K,
        compute: impl FnOnce(&Connection) -> StoreResult<V>,
    ) -> StoreResult<Arc<V>> {
        let tx = conn.unchecked_transaction()?;
        let generation: i64 =
            tx.query_row("SELECT n FROM write_generation WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        if let Some(hit) = self.lookup(generation, &key) {
            return Ok(hit);
        }
        let value = Arc::new(compute(&tx)?);
        tx.finish()?;
        self.insert(Entry {
            generation,
            key,
            value: Arc::clone(&value),
        });
        Ok(value)
    }

    fn lookup(&self, generation: i64, key: &K) -> Option<Arc<V>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|e| e.generation >= generation);
        let i = entries
            .iter()
            .position(|e| e.generation == generation && e.key == *key)?;
        // Most recently used at the front.
        let entry = entries.remove(i)?;
        let value = Arc::clone(&entry.value);
        entries.push_front(entry);
        Some(value)
    }

    fn insert(&self, entry: Entry<K, V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.push_front(entry);
        entries.truncate(self.capacity);
    }
}

/// The cached queries of the counts backend.
pub(in crate::store::sqlite) struct CountCaches {
    pub(super) period_sums: QueryCache<(OrgName, DayRange), Vec<(RepoKey, u64)>>,
    pub(super) repos: QueryCache<OrgName, Vec<RepoSummary>>,
}

impl Default for CountCaches {
    fn default() -> Self {
        // A few organizations × a few periods (the dashboard's current and previous period).
        CountCaches {
            period_sums: QueryCache::new(16),
            repos: QueryCache::new(8),
        }
    }
}
