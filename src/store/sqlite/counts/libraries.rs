//! Repository libraries on SQLite: `repo_libraries` holds, per repository, the library set by
//! hand, the one its logs name (with the instant of the naming event, so the latest wins
//! whatever the order of files), and `changed`: the library it is counted under changed since
//! its days were last recounted.

use rusqlite::{params, Connection, OptionalExtension};

use super::{repo_type_code, repo_type_from_code, SqliteCounts};
use crate::domain::{LibraryName, OrgName, RepoKey, RepoName};
use crate::store::{LibraryRecord, RepoLibrary, StoreError, StoreResult};

/// Migration 8: the repositories' libraries, and the user-agent class of each kept event
/// (`log_events.agent`, `NULL` for events kept before; written by `events.rs`).
pub(super) const MIGRATION: &str = r#"
    ALTER TABLE log_events ADD COLUMN agent TEXT;
    CREATE TABLE repo_libraries (
        repo_type    INTEGER NOT NULL,
        repo         TEXT NOT NULL,
        set_library  TEXT,
        logs_library TEXT,
        logs_at_ms   INTEGER,
        changed      INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (repo_type, repo)
    ) WITHOUT ROWID;
    CREATE INDEX repo_libraries_changed ON repo_libraries (repo) WHERE changed = 1;
"#;

fn library_name(stored: Option<String>) -> StoreResult<Option<LibraryName>> {
    stored
        .map(|s| {
            LibraryName::parse(&s)
                .map_err(|e| StoreError::Backend(format!("stored library: {e}").into()))
        })
        .transpose()
}

pub(super) fn read(conn: &Connection, repo: &RepoKey) -> StoreResult<RepoLibrary> {
    let mut stmt = conn.prepare_cached(
        "SELECT set_library, logs_library FROM repo_libraries WHERE repo_type = ?1 AND repo = ?2",
    )?;
    let row: Option<(Option<String>, Option<String>)> = stmt
        .query_row(
            params![repo_type_code(repo.repo_type), repo.name.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (set, from_logs) = row.unwrap_or_default();
    Ok(RepoLibrary {
        set: library_name(set)?,
        from_logs: library_name(from_logs)?,
    })
}

/// The library from logs becomes `library` when (`at_ms`, `library`) is after the stored
/// naming; the repository is marked when that changes the library it is counted under. (In
/// an `UPDATE`, every right-hand side reads the row as it was.)
pub(super) fn name_library(
    conn: &Connection,
    repo: &RepoKey,
    at_ms: i64,
    library: &LibraryName,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO repo_libraries (repo_type, repo, logs_library, logs_at_ms, changed) \
         VALUES (?1, ?2, ?3, ?4, 1) \
         ON CONFLICT (repo_type, repo) DO UPDATE SET \
             changed = changed OR (set_library IS NULL \
                                   AND logs_library IS NOT excluded.logs_library), \
             logs_library = excluded.logs_library, \
             logs_at_ms = excluded.logs_at_ms \
         WHERE logs_at_ms IS NULL \
            OR (excluded.logs_at_ms, excluded.logs_library) > (logs_at_ms, logs_library)",
    )?;
    stmt.execute(params![
        repo_type_code(repo.repo_type),
        repo.name.as_str(),
        library.as_str(),
        at_ms
    ])?;
    Ok(())
}

impl SqliteCounts {
    pub(super) fn set_library_by_hand(
        &self,
        repo: &RepoKey,
        library: Option<&LibraryName>,
    ) -> StoreResult<RepoLibrary> {
        let mut conn = self.db.writer();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO repo_libraries (repo_type, repo, set_library, changed) \
             VALUES (?1, ?2, ?3, ?3 IS NOT NULL) \
             ON CONFLICT (repo_type, repo) DO UPDATE SET \
                 changed = changed OR coalesce(excluded.set_library, logs_library) \
                                      IS NOT coalesce(set_library, logs_library), \
                 set_library = excluded.set_library",
            params![
                repo_type_code(repo.repo_type),
                repo.name.as_str(),
                library.map(LibraryName::as_str)
            ],
        )?;
        let now = read(&tx, repo)?;
        tx.commit()?;
        Ok(now)
    }

    pub(super) fn changed_libraries(
        &self,
        org: Option<&OrgName>,
        f: &mut dyn FnMut(RepoKey) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let (first, last) = match org {
            Some(org) => (format!("{org}/"), format!("{org}0")),
            None => (String::new(), "\u{10FFFF}".to_owned()),
        };
        self.db.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT repo_type, repo FROM repo_libraries \
                 WHERE changed = 1 AND repo >= ?1 AND repo < ?2 ORDER BY repo_type, repo",
            )?;
            let mut rows = stmt.query(params![first, last])?;
            while let Some(r) = rows.next()? {
                let name: String = r.get(1)?;
                let name = RepoName::parse(&name).map_err(|e| {
                    StoreError::Backend(format!("stored library repository: {e}").into())
                })?;
                f(RepoKey {
                    repo_type: repo_type_from_code(r.get(0)?)?,
                    name,
                })?;
            }
            Ok(())
        })
    }

    pub(super) fn clear_library_change(
        &self,
        repo: &RepoKey,
        library: Option<&LibraryName>,
    ) -> StoreResult<()> {
        self.db.writer().execute(
            "UPDATE repo_libraries SET changed = 0 \
             WHERE repo_type = ?1 AND repo = ?2 AND changed = 1 \
               AND coalesce(set_library, logs_library) IS ?3",
            params![
                repo_type_code(repo.repo_type),
                repo.name.as_str(),
                library.map(LibraryName::as_str)
            ],
        )?;
        Ok(())
    }
}

/// Every repository's libraries, in export order (for a copy of the store).
pub(super) fn records(
    conn: &Connection,
    f: &mut dyn FnMut(RepoKey, LibraryRecord) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut stmt = conn.prepare(
        "SELECT repo_type, repo, set_library, logs_library, logs_at_ms FROM repo_libraries \
         WHERE set_library IS NOT NULL OR logs_library IS NOT NULL ORDER BY repo_type, repo",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let name: String = r.get(1)?;
        let name = RepoName::parse(&name)
            .map_err(|e| StoreError::Backend(format!("stored library repository: {e}").into()))?;
        let repo = RepoKey {
            repo_type: repo_type_from_code(r.get(0)?)?,
            name,
        };
        let named = match (library_name(r.get(3)?)?, r.get::<_, Option<i64>>(4)?) {
            (Some(library), Some(at_ms)) => Some((at_ms, library)),
            _ => None,
        };
        let record = LibraryRecord {
            set: library_name(r.get(2)?)?,
            named,
        };
        f(repo, record)?;
    }
    Ok(())
}

/// Removes the organization's libraries (inside the caller's transaction).
pub(super) fn remove_org(conn: &Connection, org: &OrgName) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM repo_libraries WHERE repo >= ?1 AND repo < ?2",
        params![format!("{org}/"), format!("{org}0")],
    )?;
    Ok(())
}
