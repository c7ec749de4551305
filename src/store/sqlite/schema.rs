//! Schema migrations, versioned in the code. `PRAGMA user_version` holds the number of
//! migrations applied; each runs once, in order, inside one transaction.
//!
//! Layout choices (see docs/ARCHITECTURE.md, "Storage"):
//! - `daily` is a `WITHOUT ROWID` table clustered on `(repo_id, day)`: one repository's days are
//!   contiguous on disk, so a repository's series or a period sum is one index range scan, and
//!   the export walks repositories in name order and each one's days in order with no sort.
//! - `repos` caches `daily_sum`, `first_day` and `last_day`, maintained by every write
//!   transaction, so all-time totals of 20,000 repositories are one scan of `repos`.
//! - `daily.cum` is the repository's running total through that day, so the downloads of any
//!   period are two index lookups per repository (`cum` at its end minus `cum` before its
//!   start), whatever its length. `org_days` (per organization, day and repository type) sums
//!   `daily` for the organization chart. Both are kept exact by every write transaction from
//!   the changes it made. (Migration 2's `monthly` rollup served period sums before `cum`.)
//! - Days are integers (days since 1970-01-01); repository types are 0 = model, 1 = dataset so
//!   that ordering by `(repo_type, name)` is export order.

pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
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
    "#,
    // 2: rollups of `daily`, maintained by every write transaction.
    r#"
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
    "#,
    // 3: running totals in `daily` replace the monthly rollup.
    r#"
    ALTER TABLE daily ADD COLUMN cum INTEGER NOT NULL DEFAULT 0;
    UPDATE daily SET cum = c.cum FROM (
        SELECT repo_id, day, SUM(downloads) OVER (PARTITION BY repo_id ORDER BY day) AS cum
        FROM daily
    ) AS c
    WHERE daily.repo_id = c.repo_id AND daily.day = c.day;
    DROP TABLE monthly;
    "#,
    // 4: a counter bumped by every committed write, so readers can cache query results.
    r#"
    CREATE TABLE write_generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        n  INTEGER NOT NULL
    );
    INSERT INTO write_generation (id, n) VALUES (1, 0);
    "#,
    // 5: what `token list` shows of a token: its first characters and when it was last used.
    r#"
    ALTER TABLE tokens ADD COLUMN prefix TEXT;
    ALTER TABLE tokens ADD COLUMN last_used_unix INTEGER;
    "#,
];
