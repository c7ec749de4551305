//! [`Touches`]: when this process last recorded each credential's use, so that an API request
//! made with a credential used less than a minute before costs no statement at all (on SQLite
//! the update took the file's write lock on every request; on ClickHouse it was a query).

use std::collections::HashMap;
use std::sync::Mutex;

use super::StoreResult;

/// The credentials (by hash) whose use this process recorded, and when.
#[derive(Debug, Default)]
pub struct Touches(Mutex<HashMap<String, i64>>);

impl Touches {
    /// A credential's last use is recorded at most this often (seconds): a backend's update
    /// writes only when the stored time is at least this much older.
    pub const EVERY: i64 = 60;

    /// How many recent uses are kept before the old ones are forgotten.
    const KEPT: usize = 4096;

    /// Runs `record` (the backend's update; `true` when it stored `now_unix`) unless this
    /// process stored a use of `hash` less than [`Touches::EVERY`] seconds before `now_unix`,
    /// which the update would leave as it is. An update that stored nothing (a busy writer,
    /// or a use another process stored within the minute, whose time is not known here) is
    /// not remembered, so the next use runs it again.
    pub fn touch(
        &self,
        hash: &str,
        now_unix: i64,
        record: impl FnOnce() -> StoreResult<bool>,
    ) -> StoreResult<()> {
        let recent = |t: &i64| *t <= now_unix && now_unix - *t < Self::EVERY;
        if self.lock().get(hash).is_some_and(recent) {
            return Ok(());
        }
        if record()? {
            let mut touched = self.lock();
            if touched.len() >= Self::KEPT {
                touched.retain(|_, t| recent(t));
                if touched.len() >= Self::KEPT {
                    touched.clear();
                }
            }
            touched.insert(hash.to_owned(), now_unix);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_at_most_once_a_minute_unless_a_record_was_skipped() {
        let touches = Touches::default();
        let mut runs = Vec::new();
        let mut touch = |now: i64, recorded: bool| {
            touches
                .touch("h", now, || {
                    runs.push(now);
                    Ok(recorded)
                })
                .unwrap()
        };
        touch(100, false); // stored nothing (busy, or another process's recent use)
        touch(101, true);
        touch(130, true);
        touch(160, true);
        touch(161, true);
        touch(90, true); // a clock that went back is not "recent"
        assert_eq!(runs, vec![100, 101, 161, 90]);
    }
}
