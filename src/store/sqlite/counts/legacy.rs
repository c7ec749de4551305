//! Stores written by earlier versions: one file holding accounts and counts, daily rows with
//! running totals (`daily.cum`) and rollups. Migrations 1–4 are that layout's history, kept
//! verbatim so any old store reaches its last shape; [`convert`] then moves its counts into
//! chunks (as the `breakdown` source, which imports write in `Merge` mode: a later import sets
//! values per repository-day exactly as before, and re-importing an old file changes nothing) and its accounts into the accounts file, and drops the
//! old tables, in one transaction per file.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};

use super::super::{Db, SqliteAccounts};
use super::chunk::{self, span_of};
use crate::store::{StoreError, StoreResult};

pub(super) const MIGRATION_1: &str = r#"
    CREATE TABLE orgs (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        plan         TEXT NOT NULL CHECK (plan IN ('free', 'team', 'enterprise')),
        created_unix INTEGER NOT NULL
    );
    CREATE TABLE repos (
        id         INTEGER PRIMARY KEY,
        org_id     INTEGER NOT NULL REFERENCES orgs(id),
        repo_type  INTEGER NOT NULL CHECK (repo_type IN (0, 1)),
        name       TEXT NOT NULL,
        adjustment INTEGER NOT NULL DEFAULT 0,
        daily_sum  INTEGER NOT NULL DEFAULT 0,
        first_day  INTEGER,
        last_day   INTEGER,
        UNIQUE (org_id, repo_type, name)
    );
    CREATE TABLE daily (
        repo_id   INTEGER NOT NULL,
        day       INTEGER NOT NULL,
        downloads INTEGER NOT NULL CHECK (downloads > 0),
        PRIMARY KEY (repo_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE ingested_sources (
        source        TEXT PRIMARY KEY,
        ingested_unix INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_unix  INTEGER NOT NULL
    );
    CREATE TABLE memberships (
        org_id  INTEGER NOT NULL REFERENCES orgs(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        role    TEXT NOT NULL CHECK (role IN ('read', 'admin')),
        PRIMARY KEY (org_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE tokens (
        hash         TEXT PRIMARY KEY,
        user_id      INTEGER NOT NULL REFERENCES users(id),
        created_unix INTEGER NOT NULL,
        revoked_unix INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE sessions (
        hash         TEXT PRIMARY KEY,
        user_id      INTEGER NOT NULL REFERENCES users(id),
        expires_unix INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#;

pub(super) const MIGRATION_2: &str = r#"
    CREATE TABLE monthly (
        repo_id   INTEGER NOT NULL,
        month     INTEGER NOT NULL, -- first day of the month, days since 1970-01-01
        downloads INTEGER NOT NULL CHECK (downloads >= 0),
        PRIMARY KEY (repo_id, month)
    ) WITHOUT ROWID;
    CREATE TABLE org_days (
        org_id    INTEGER NOT NULL,
        day       INTEGER NOT NULL,
        repo_type INTEGER NOT NULL,
        downloads INTEGER NOT NULL CHECK (downloads >= 0),
        PRIMARY KEY (org_id, day, repo_type)
    ) WITHOUT ROWID;
    INSERT INTO monthly (repo_id, month, downloads)
        SELECT repo_id,
               CAST(julianday(day * 86400, 'unixepoch', 'start of month') - 2440587.5 AS INTEGER),
               SUM(downloads)
        FROM daily GROUP BY 1, 2;
    INSERT INTO org_days (org_id, day, repo_type, downloads)
        SELECT r.org_id, d.day, r.repo_type, SUM(d.downloads)
        FROM daily d JOIN repos r ON r.id = d.repo_id GROUP BY 1, 2, 3;
    "#;

pub(super) const MIGRATION_3: &str = r#"
    ALTER TABLE daily ADD COLUMN cum INTEGER NOT NULL DEFAULT 0;
    UPDATE daily SET cum = c.cum FROM (
        SELECT repo_id, day, SUM(downloads) OVER (PARTITION BY repo_id ORDER BY day) AS cum
        FROM daily
    ) AS c
    WHERE daily.repo_id = c.repo_id AND daily.day = c.day;
    DROP TABLE monthly;
    "#;

pub(super) const MIGRATION_4: &str = r#"
    CREATE TABLE write_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n  INTEGER NOT NULL
    );
    INSERT INTO write_generation (id, n) VALUES (1, 0);
    "#;

/// Moves an old store's data into the current layout; does nothing for a current store.
pub(super) fn convert(db: &Db, accounts: Option<&SqliteAccounts>) -> StoreResult<()> {
    let conn = db.writer();
    if !table_exists(&conn, "main", "daily")? {
        return Ok(());
    }
    let attached = match accounts.map(|a| a.db.uri.clone()) {
        Some(path) => {
            conn.execute("ATTACH DATABASE ?1 AS acc", [path])?;
            true
        }
        None => false,
    };
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = move_accounts(&conn, attached).and_then(|()| move_counts(&conn));
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end)?;
    if attached {
        conn.execute_batch("DETACH DATABASE acc")?;
    }
    result
}

pub(super) fn table_exists(conn: &Connection, schema: &str, table: &str) -> StoreResult<bool> {
    let sql =
        format!("SELECT COUNT(*) FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?1");
    let n: i64 = conn.query_row(&sql, [table], |r| r.get(0))?;
    Ok(n > 0)
}

/// Copies organizations, users, memberships, tokens and sessions, keeping their ids (so a
/// conversion interrupted after this step can run again). Organizations whose names differ
/// only in case are refused: names are now unique ignoring case, and which one is meant is
/// the operator's call.
fn move_accounts(conn: &Connection, attached: bool) -> StoreResult<()> {
    let clashes: Vec<String> = conn
        .prepare(
            "SELECT group_concat(name, ' and ') FROM orgs GROUP BY lower(name) HAVING COUNT(*) > 1",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !clashes.is_empty() {
        return Err(StoreError::Invalid(format!(
            "organization names must be unique ignoring case, but this store has {}; \
             rename or remove one of each with an older hubstats, then open it again",
            clashes.join("; ")
        )));
    }
    let users: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
    let orgs: i64 = conn.query_row("SELECT COUNT(*) FROM orgs", [], |r| r.get(0))?;
    if !attached {
        if users + orgs > 0 {
            return Err(StoreError::Invalid(
                "this store holds accounts but no accounts file was given to move them to".into(),
            ));
        }
        return Ok(());
    }
    conn.execute_batch(
        "INSERT OR REPLACE INTO acc.orgs (id, name, plan, created_unix)
             SELECT id, name, plan, created_unix FROM main.orgs;
         INSERT OR REPLACE INTO acc.users (id, name, password_hash, created_unix)
             SELECT id, name, password_hash, created_unix FROM main.users;
         INSERT OR REPLACE INTO acc.memberships (org_id, user_id, role)
             SELECT org_id, user_id, role FROM main.memberships;
         INSERT OR REPLACE INTO acc.tokens (hash, user_id, created_unix, revoked_unix)
             SELECT hash, user_id, created_unix, revoked_unix FROM main.tokens;
         INSERT OR REPLACE INTO acc.sessions (hash, user_id, expires_unix)
             SELECT hash, user_id, expires_unix FROM main.sessions;",
    )?;
    Ok(())
}

/// Repositories keep their ids and adjustments; each repository's daily rows become chunks
/// of the source `breakdown`.
fn move_counts(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "INSERT INTO count_orgs (id, name, version)
             SELECT id, name, 1 FROM orgs WHERE id IN (SELECT org_id FROM repos);
         INSERT INTO count_repos (id, org_id, repo_type, name, adjustment, version)
             SELECT id, org_id, repo_type, name, adjustment, 1 FROM repos;
         INSERT INTO sources (name, applied_unix) VALUES ('breakdown', CAST(strftime('%s') AS INTEGER));",
    )?;
    let source = conn.last_insert_rowid();
    let mut insert = conn.prepare(
        "INSERT INTO chunks (repo_id, span, source_id, rows, sum, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut read =
        conn.prepare("SELECT repo_id, day, downloads FROM daily ORDER BY repo_id, day")?;
    let mut rows = read.query([])?;
    let mut chunks: BTreeMap<(i64, i32), Vec<(i32, u64)>> = BTreeMap::new();
    let mut blob = Vec::new();
    let mut write = |chunks: &mut BTreeMap<(i64, i32), Vec<(i32, u64)>>| -> StoreResult<()> {
        for ((repo, span), days) in std::mem::take(chunks) {
            chunk::encode(span, &days, &mut blob);
            let sum: u64 = days.iter().map(|(_, n)| n).sum();
            insert.execute(params![
                repo,
                span,
                source,
                days.len() as i64,
                sum as i64,
                &blob[..]
            ])?;
        }
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let (repo, day, n): (i64, i32, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
        if chunks.len() > 4096 && !chunks.contains_key(&(repo, span_of(day))) {
            write(&mut chunks)?;
        }
        chunks
            .entry((repo, span_of(day)))
            .or_default()
            .push((day, n.max(0) as u64));
    }
    write(&mut chunks)?;
    drop(rows);
    conn.execute_batch(
        "DROP TABLE daily; DROP TABLE org_days; DROP TABLE ingested_sources;
         DROP TABLE write_generation; DROP TABLE sessions; DROP TABLE tokens;
         DROP TABLE memberships; DROP TABLE users; DROP TABLE repos; DROP TABLE orgs;",
    )?;
    Ok(())
}
