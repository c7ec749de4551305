use std::sync::Arc;

use super::SqliteCounts;
use crate::domain::{DayRange, OrgName};
use crate::store::reference::{day, key};
use crate::store::sqlite::SqliteAccounts;
use crate::store::{conformance, Batch, Counts, SourceId, WriteMode};

fn org(s: &str) -> OrgName {
    OrgName::parse(s).unwrap()
}

fn write_one(store: &dyn Counts, source: &str, name: &str, d: &str, n: u64) {
    let mut b = Batch::new(SourceId::parse(source).unwrap(), WriteMode::Merge);
    b.days.push((key("model", name), day(d), n));
    b.apply(store).unwrap();
}

#[test]
fn in_memory_store_conforms() {
    conformance::run_all(&|| Box::new(SqliteCounts::memory().unwrap()));
}

#[test]
fn in_memory_store_keeps_events_by_the_contract() {
    conformance::events::run_all(&|| Box::new(SqliteCounts::memory().unwrap()));
}

#[test]
fn in_memory_store_keeps_hub_snapshots_by_the_contract() {
    conformance::snapshots::run_all(&|| Box::new(SqliteCounts::memory().unwrap()));
}

#[test]
fn file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicU32::new(0);
    conformance::run_all(&|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.path().join(format!("{i}.db"));
        Box::new(SqliteCounts::open(&path, None).unwrap())
    });
}

// The index of one organization is shared, not rebuilt, when another organization is written.
#[test]
fn a_write_to_another_organization_leaves_the_index_untouched() {
    let store = SqliteCounts::memory().unwrap();
    write_one(&store, "csv", "acme/a", "2024-01-01", 5);
    let before = store.index(&org("acme")).unwrap().unwrap();
    write_one(&store, "csv", "beta/b", "2024-01-01", 7);
    let after = store.index(&org("acme")).unwrap().unwrap();
    assert!(Arc::ptr_eq(&before, &after), "same index, no rebuild");
    assert_eq!(after.version, 1);
    write_one(&store, "csv", "acme/c", "2024-01-02", 1);
    let patched = store.index(&org("acme")).unwrap().unwrap();
    assert_eq!(patched.version, 2);
    let a = before.repo(&key("model", "acme/a")).unwrap() as *const _;
    let a_now = patched.repo(&key("model", "acme/a")).unwrap() as *const _;
    assert_eq!(
        a, a_now,
        "an untouched repository's series is shared by the patched index"
    );
}

// An organization's reads are short (answered from memory) only while its kept index is at
// its current version: not before the first read, not after a write to it (by any connection)
// until a read brings the index up to date; a write to another organization changes nothing.
#[test]
fn an_index_is_current_until_its_organization_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let server = SqliteCounts::open(&path, None).unwrap();
    let other_process = SqliteCounts::open(&path, None).unwrap();
    let acme = org("acme");
    assert!(!server.index_is_current(&acme), "no organization yet");
    write_one(&server, "csv", "acme/a", "2024-01-01", 5);
    assert!(!server.index_is_current(&acme), "not read yet");
    server.index(&acme).unwrap().unwrap();
    assert!(server.index_is_current(&acme));
    write_one(&other_process, "csv", "beta/b", "2024-01-01", 7);
    assert!(
        server.index_is_current(&acme),
        "another organization's write"
    );
    write_one(&other_process, "csv", "acme/c", "2024-01-02", 1);
    assert!(
        !server.index_is_current(&acme),
        "a write from another connection"
    );
    server.index(&acme).unwrap().unwrap();
    assert!(server.index_is_current(&acme));
    write_one(&server, "csv", "acme/a", "2024-01-03", 2);
    assert!(
        !server.index_is_current(&acme),
        "a write through this store"
    );
}

// Regression guard: an index must never outlive a write, whether the write comes through the
// same store or through another process's connection, and a dropped write changes nothing.
#[test]
fn indexes_follow_writes_from_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let server = SqliteCounts::open(&path, None).unwrap();
    let other_process = SqliteCounts::open(&path, None).unwrap();
    let range = DayRange::new(day("2024-01-01"), day("2024-01-31")).unwrap();
    let sum = |s: &SqliteCounts| {
        s.period_sums(&org("acme"), range)
            .unwrap()
            .iter()
            .next()
            .unwrap()
            .1
    };
    write_one(&server, "csv", "acme/a", "2024-01-05", 3);
    assert_eq!((sum(&server), sum(&server)), (3, 3));
    write_one(&other_process, "csv", "acme/a", "2024-01-07", 10);
    assert_eq!(sum(&server), 13);
    assert_eq!(server.repos(&org("acme")).unwrap()[0].total, 13);
    let mut w = other_process
        .write(&SourceId::parse("csv").unwrap(), WriteMode::Merge)
        .unwrap();
    w.set(&key("model", "acme/a"), day("2024-01-08"), 99)
        .unwrap();
    drop(w);
    assert_eq!(sum(&server), 13);
}

// Correcting one day rewrites one chunk, whatever the history's length.
#[test]
fn correcting_a_day_writes_one_chunk() {
    let store = SqliteCounts::memory().unwrap();
    let mut b = Batch::new(SourceId::breakdown(), WriteMode::Merge);
    let start = day("2021-01-01");
    for i in 0..1000 {
        b.days.push((key("model", "acme/a"), start.add_days(i), 5));
    }
    b.apply(&store).unwrap();
    let changes = |s: &SqliteCounts| -> i64 {
        s.db.writer()
            .query_row("SELECT total_changes()", [], |r| r.get(0))
            .unwrap()
    };
    let before = changes(&store);
    write_one(&store, "breakdown", "acme/a", "2021-06-01", 6);
    // One chunk, the repository's version and adjustment, the organization's version, the
    // source's time.
    assert!(
        changes(&store) - before <= 4,
        "{}",
        changes(&store) - before
    );
    assert_eq!(
        store.repo(&key("model", "acme/a")).unwrap().unwrap().total,
        5001
    );
}

/// A store file as version 0.1 wrote it: one file, daily rows with running totals, accounts.
#[test]
fn an_old_store_is_converted_with_its_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (i, m) in super::MIGRATIONS[..4].iter().enumerate() {
            conn.execute_batch(&format!("{m}; PRAGMA user_version = {};", i + 1))
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO orgs (id, name, plan, created_unix) VALUES (1, 'acme', 'team', 0);
             INSERT INTO repos (id, org_id, repo_type, name, adjustment, daily_sum, first_day, last_day)
                 VALUES (1, 1, 0, 'acme/a', 100, 7, 19723, 19724);
             INSERT INTO daily (repo_id, day, downloads, cum) VALUES (1, 19723, 3, 3), (1, 19724, 4, 7);
             INSERT INTO users (id, name, password_hash, created_unix) VALUES (1, 'alice', 'h', 0);
             INSERT INTO memberships (org_id, user_id, role) VALUES (1, 1, 'admin');",
        )
        .unwrap();
    }
    let accounts = SqliteAccounts::open(&crate::store::sqlite::accounts_path(&path)).unwrap();
    let counts = SqliteCounts::open(&path, Some(&accounts)).unwrap();
    let a = counts.repo(&key("model", "acme/a")).unwrap().unwrap();
    assert_eq!(
        (a.total, a.adjustment, a.first_day),
        (107, 100, Some(day("2024-01-01")))
    );
    use crate::store::Accounts;
    let user = crate::domain::Username::parse("alice").unwrap();
    assert_eq!(
        accounts.role(&org("acme"), &user).unwrap(),
        Some(crate::domain::Role::Admin)
    );
    // A later breakdown import sets values per repository-day over the converted ones (they
    // are the `breakdown` source), so re-importing an old file changes nothing.
    write_one(&counts, "breakdown", "acme/a", "2024-01-02", 1);
    assert_eq!(
        counts.repo(&key("model", "acme/a")).unwrap().unwrap().total,
        104
    );
    drop(counts);
    let reopened = SqliteCounts::open(&path, Some(&accounts)).unwrap();
    assert_eq!(
        reopened
            .repo(&key("model", "acme/a"))
            .unwrap()
            .unwrap()
            .total,
        104
    );
}

fn log_event(name: &str, at_ms: i64, user: &str) -> crate::domain::LogEvent {
    crate::store::reference::get_by(key("dataset", name), at_ms, user)
}

/// Every event of a repository-day with its class, sorted.
fn kept(
    store: &SqliteCounts,
    name: &str,
    on: &str,
) -> Vec<(crate::domain::LogEvent, Option<String>)> {
    use crate::store::LogEvents;
    let mut got = Vec::new();
    store
        .classified_events_of(&key("dataset", name), day(on), &mut |e, c| {
            got.push((e, c));
            Ok(())
        })
        .unwrap();
    got.sort();
    got
}

fn blocks(store: &SqliteCounts) -> i64 {
    store
        .db
        .read(|c| Ok(c.query_row("SELECT count(*) FROM log_event_blocks", [], |r| r.get(0))?))
        .unwrap()
}

/// A store whose events are one row each (before blocks) keeps them, classes and keys
/// included, once converted.
#[test]
fn events_kept_one_row_each_are_moved_into_blocks() {
    use crate::store::LogEvents;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let d = day("2024-05-02").epoch_days();
    let base = i64::from(d) * 86_400_000;
    let events = [
        (log_event("acme/d", base + 5, "u1"), Some("bot")),
        (log_event("acme/d", base + 9, "u2"), None),
        (log_event("acme/e", base + 9, "u2"), Some("git")),
    ];
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (i, m) in super::MIGRATIONS[..10].iter().enumerate() {
            conn.execute_batch(&format!("{m}; PRAGMA user_version = {};", i + 1))
                .unwrap();
        }
        for (e, agent) in &events {
            conn.execute(
                "INSERT INTO log_events (repo_type, repo, day, key, at_ms, method, status, \
                 path, user_hash, ip_hash, agent) VALUES (1, ?1, ?2, ?3, ?4, 'GET', 200, NULL, \
                 ?5, NULL, ?6)",
                rusqlite::params![
                    e.repo.name.as_str(),
                    d,
                    &e.key()[..],
                    e.at_ms,
                    e.user,
                    agent
                ],
            )
            .unwrap();
        }
    }
    let store = SqliteCounts::open(&path, None).unwrap();
    let converted = store
        .db
        .read(|c| super::legacy::table_exists(c, "main", "log_events"))
        .unwrap();
    assert!(!converted, "the table of rows is dropped");
    let class = |c: Option<&str>| c.map(str::to_owned);
    assert_eq!(
        kept(&store, "acme/d", "2024-05-02"),
        [
            (events[0].0.clone(), class(events[0].1)),
            (events[1].0.clone(), class(events[1].1))
        ]
    );
    assert_eq!(
        kept(&store, "acme/e", "2024-05-02"),
        [(events[2].0.clone(), class(events[2].1))]
    );
    // The keys moved with the events: each is held.
    let mut write = store.add_events().unwrap();
    for (e, _) in &events {
        write.push(e.clone(), None).unwrap();
    }
    assert_eq!(write.commit().unwrap(), 0, "every key is held");
    drop(store);
    let reopened = SqliteCounts::open(&path, None).unwrap();
    assert_eq!(kept(&reopened, "acme/e", "2024-05-02").len(), 1);
}

/// A repository-day with more events than a block holds is moved into several blocks: one of
/// exactly a block's worth followed by another repository, one of a block and one more, and
/// a last one of a single event.
#[test]
fn repository_days_larger_than_a_block_are_moved_into_several() {
    use crate::store::LogEvents;
    let max = super::events::MAX_BLOCK_EVENTS as i64;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.db");
    let d = day("2024-05-02").epoch_days();
    let sizes = [("acme/a", max), ("acme/b", max + 1), ("acme/c", 1)];
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (i, m) in super::MIGRATIONS[..10].iter().enumerate() {
            conn.execute_batch(&format!("{m}; PRAGMA user_version = {};", i + 1))
                .unwrap();
        }
        for (name, n) in sizes {
            // Distinct 16-byte keys, one event a millisecond from midnight.
            conn.execute(
                "WITH RECURSIVE i(v) AS (SELECT 0 UNION ALL SELECT v + 1 FROM i WHERE v + 1 < ?3) \
                 INSERT INTO log_events (repo_type, repo, day, key, at_ms, method, status, \
                 path, user_hash, ip_hash, agent) SELECT 1, ?1, ?2, \
                 CAST(printf('%016d', v) AS BLOB), ?2 * 86400000 + v, 'GET', 200, NULL, 'u', \
                 NULL, 'bot' FROM i",
                rusqlite::params![name, d, n],
            )
            .unwrap();
        }
    }
    // The operator is told before a long upgrade (the log is the command's only output). Only
    // the warning is checked: the commands log warnings, and other tests' subscribers in this
    // process can lower the global level hint to it, so the closing `info` line may be skipped.
    let logged = LogBuf::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logged.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let store =
        tracing::subscriber::with_default(subscriber, || SqliteCounts::open(&path, None).unwrap());
    let log = logged.text();
    let total = 2 * max + 2;
    assert!(
        log.contains("upgrading the store") && log.contains(&format!("events={total}")),
        "{log}"
    );
    for (name, n) in sizes {
        let mut classes = Vec::new();
        store
            .agent_classes(&key("dataset", name), day("2024-05-02"), &mut |c, k| {
                classes.push((c, k));
                Ok(())
            })
            .unwrap();
        assert_eq!(classes, [(Some("bot".to_owned()), n as u64)], "{name}");
    }
    let per_repo: Vec<(String, i64)> = store
        .db
        .read(|c| {
            let mut stmt = c.prepare(
                "SELECT repo, count(*) FROM log_event_blocks GROUP BY repo ORDER BY repo",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .unwrap();
    let expected: Vec<(String, i64)> = [("acme/a", 1), ("acme/b", 2), ("acme/c", 1)]
        .map(|(r, n)| (r.to_owned(), n))
        .into();
    assert_eq!(per_repo, expected);
}

/// Many small writes to one repository-day (HTTP batches) leave few blocks, and every event
/// is kept once.
#[test]
fn small_writes_leave_a_logarithmic_number_of_blocks() {
    use crate::store::LogEvents;
    let store = SqliteCounts::memory().unwrap();
    let base = i64::from(day("2024-05-02").epoch_days()) * 86_400_000;
    let mut added = 0;
    for batch in 0..300 {
        let mut write = store.add_events().unwrap();
        for i in 0..3 {
            let at = base + batch * 10 + i;
            write
                .push(log_event("acme/d", at, "u"), Some("curl/wget"))
                .unwrap();
        }
        // One event of the previous batch again: held.
        if batch > 0 {
            write
                .push(log_event("acme/d", base + batch * 10 - 10, "u"), None)
                .unwrap();
        }
        added += write.commit().unwrap();
    }
    assert_eq!(added, 900);
    assert_eq!(kept(&store, "acme/d", "2024-05-02").len(), 900);
    assert!(blocks(&store) <= 11, "{} blocks", blocks(&store));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Events written in any split into writes, repeated, overlapping in time, with classes
    /// read differently: each is kept once with its greatest class, and each write says how
    /// many were new.
    #[test]
    fn blocks_keep_the_set_of_events_with_their_greatest_class(
        picks in proptest::collection::vec((0..2usize, 0..2i64, 0..40i64, 0..3usize, 0..3usize), 1..160),
        cuts in proptest::collection::vec(1..40usize, 1..12),
    ) {
        use crate::store::LogEvents;
        use std::collections::BTreeMap;
        let store = SqliteCounts::memory().unwrap();
        let names = ["acme/d", "acme/e"];
        let classes = [None, Some("bot"), Some("git")];
        let base = i64::from(day("2024-05-02").epoch_days()) * 86_400_000;
        let mut reference: BTreeMap<crate::domain::LogEvent, Option<String>> = BTreeMap::new();
        let mut rest = &picks[..];
        let mut cut = cuts.iter().cycle();
        let mut added = 0;
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            let (now, later) = rest.split_at(n);
            let mut write = store.add_events().unwrap();
            for &(repo, d, t, user, class) in now {
                let e = log_event(names[repo], base + d * 86_400_000 + t * 1000, ["a", "b", "c"][user]);
                let class = classes[class].map(str::to_owned);
                let stored = reference.entry(e.clone()).or_insert(None);
                *stored = (*stored).clone().max(class.clone());
                write.push(e, class.as_deref()).unwrap();
            }
            added += write.commit().unwrap();
            rest = later;
        }
        proptest::prop_assert_eq!(added as usize, reference.len());
        let mut got = Vec::new();
        for name in names {
            for on in ["2024-05-02", "2024-05-03"] {
                got.extend(kept(&store, name, on));
            }
        }
        got.sort();
        let expected: Vec<_> = reference.into_iter().collect();
        proptest::prop_assert_eq!(got, expected);
    }
}

/// Log lines written by a test's subscriber.
#[derive(Clone, Default)]
struct LogBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuf {
    type Writer = LogBuf;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
