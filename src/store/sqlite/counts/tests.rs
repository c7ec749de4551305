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
