//! `Accounts` on SQLite, in a database file of its own: organizations and plans, users,
//! memberships, token and session hashes. Secrets never reach this module; callers pass
//! SHA-256 hashes (see `crate::accounts`).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::{now_unix, Db};
use crate::domain::IngestKeyName;
use crate::domain::{OrgName, Plan, Role, Username};
use crate::store::touches::Touches;
use crate::store::{
    Accounts, CredentialRecord, IngestKeyInfo, OrgInfo, StoreError, StoreResult, TokenInfo,
    UserInfo,
};

mod ingest_keys;

/// Schema migrations of the accounts file, applied in order (see [`Db::migrate`]).
/// Organization names are unique ignoring case, like the Hub's; lookups stay exact.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the accounts tables.
    r#"
    CREATE TABLE orgs (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        plan         TEXT NOT NULL CHECK (plan IN ('free', 'team', 'enterprise')),
        created_unix INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX orgs_name_nocase ON orgs (name COLLATE NOCASE);
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
    // 2: what `token list` shows of a token: its first characters and when it was last used.
    r#"
    ALTER TABLE tokens ADD COLUMN prefix TEXT;
    ALTER TABLE tokens ADD COLUMN last_used_unix INTEGER;
    "#,
    // 3: ingest keys (`POST /api/ingest`).
    ingest_keys::MIGRATION,
];

pub struct SqliteAccounts {
    pub(super) db: Db,
    touches: Touches,
}

impl SqliteAccounts {
    /// Opens (creating if needed) the accounts file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let db = Db::open(path)?;
        db.migrate(MIGRATIONS)?;
        Ok(SqliteAccounts {
            db,
            touches: Touches::default(),
        })
    }

    /// A private accounts store in a temporary file; for tests.
    pub fn memory() -> StoreResult<Self> {
        let db = Db::memory()?;
        db.migrate(MIGRATIONS)?;
        Ok(SqliteAccounts {
            db,
            touches: Touches::default(),
        })
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.writer()
    }

    /// Tokens or ingest keys as a copy lists them: `sql` selects owner, hash, prefix, and
    /// the instants made, last used and revoked.
    fn credential_records<N>(
        &self,
        sql: &str,
        owner: impl Fn(String) -> StoreResult<N>,
    ) -> StoreResult<Vec<CredentialRecord<N>>> {
        type Row = (
            String,
            String,
            Option<String>,
            i64,
            Option<i64>,
            Option<i64>,
        );
        let rows: Vec<Row> = self.read(|conn| {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        (rows.into_iter())
            .map(
                |(name, hash, prefix, created_unix, last_used_unix, revoked_unix)| {
                    Ok(CredentialRecord {
                        owner: owner(name)?,
                        hash,
                        prefix,
                        created_unix,
                        last_used_unix,
                        revoked_unix,
                    })
                },
            )
            .collect()
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        self.db.read(f)
    }

    /// Records that the credential with `hash` was used at `now_unix`, with `sql` (an UPDATE
    /// of `last_used_unix` to `?2` where it is `?3` seconds older or more); see [`Touches`].
    fn touch(&self, sql: &str, hash: &str, now_unix: i64) -> StoreResult<()> {
        self.touches.touch(hash, now_unix, || {
            self.try_execute(sql, params![hash, now_unix, Touches::EVERY])
        })
    }

    /// Runs one statement if the writer is free right now, else skips it; `true` when it
    /// changed a row. For best-effort bookkeeping (when a credential was last used) that must
    /// never delay a request: a busy writer (an import) or a lock held by another process
    /// skips it.
    fn try_execute(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<bool> {
        let Ok(mut conn) = self.db.writer.try_lock() else {
            return Ok(false);
        };
        conn.busy_timeout(std::time::Duration::ZERO)?;
        let updated = conn.prepare_cached(sql).and_then(|mut s| s.execute(params));
        conn.busy_handler(Some(super::wait_for_writer))?;
        match updated {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                Ok(false)
            }
            other => other.map(|changed| changed > 0).map_err(StoreError::from),
        }
    }
}

/// The columns [`org_info`] reads (a macro, so the statements below are constants that the
/// connection's statement cache keeps prepared).
macro_rules! org_info_sql {
    () => {
        "SELECT o.name, o.plan FROM orgs o"
    };
}

fn org_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((row.get(0)?, row.get(1)?))
}

/// Turns stored text back into domain types; a failure means the file was edited by hand.
fn to_org_info((name, plan): (String, String)) -> StoreResult<OrgInfo> {
    let corrupt =
        |e: String| StoreError::Backend(format!("corrupt organization row {name:?}: {e}").into());
    Ok(OrgInfo {
        name: OrgName::parse(&name).map_err(|e| corrupt(e.to_string()))?,
        plan: plan.parse().map_err(corrupt)?,
    })
}

fn to_username(name: String) -> StoreResult<Username> {
    Username::parse(&name).map_err(|e| StoreError::Backend(format!("corrupt user row: {e}").into()))
}

fn org_id(conn: &Connection, org: &OrgName) -> StoreResult<i64> {
    conn.prepare_cached("SELECT id FROM orgs WHERE name = ?1")?
        .query_row([org.as_str()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("organization {org}")))
}

fn user_id(conn: &Connection, user: &Username) -> StoreResult<i64> {
    conn.prepare_cached("SELECT id FROM users WHERE name = ?1")?
        .query_row([user.as_str()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("user {user}")))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Maps a uniqueness violation to `Conflict(what)`.
fn conflict_on_unique(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(what())
    } else {
        e.into()
    }
}

impl Accounts for SqliteAccounts {
    fn create_org(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        self.writer()
            .execute(
                "INSERT INTO orgs (name, plan, created_unix) VALUES (?1, ?2, ?3)",
                params![org.as_str(), plan.as_str(), now_unix()],
            )
            .map_err(|e| {
                conflict_on_unique(e, || {
                    format!("organization {org} (or one whose name differs only in case)")
                })
            })?;
        Ok(())
    }

    fn set_plan(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        let changed = self.writer().execute(
            "UPDATE orgs SET plan = ?2 WHERE name = ?1",
            params![org.as_str(), plan.as_str()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("organization {org}")));
        }
        Ok(())
    }

    fn org(&self, org: &OrgName) -> StoreResult<Option<OrgInfo>> {
        let row = self.read(|conn| {
            let mut stmt = conn.prepare_cached(concat!(org_info_sql!(), " WHERE o.name = ?1"))?;
            Ok(stmt.query_row([org.as_str()], org_info).optional()?)
        })?;
        row.map(to_org_info).transpose()
    }

    fn org_ignoring_case(&self, org: &OrgName) -> StoreResult<Option<OrgName>> {
        let name: Option<String> = self.read(|conn| {
            // `orgs_name_nocase` answers it.
            let sql = "SELECT name FROM orgs WHERE name = ?1 COLLATE NOCASE";
            let mut stmt = conn.prepare_cached(sql)?;
            Ok(stmt.query_row([org.as_str()], |r| r.get(0)).optional()?)
        })?;
        let corrupt =
            |e: String| StoreError::Backend(format!("corrupt organization row: {e}").into());
        name.map(|n| OrgName::parse(&n).map_err(|e| corrupt(e.to_string())))
            .transpose()
    }

    fn orgs(&self) -> StoreResult<Vec<OrgInfo>> {
        let rows = self.read(|conn| {
            let mut stmt = conn.prepare(concat!(org_info_sql!(), " ORDER BY o.name"))?;
            let rows = stmt
                .query_map([], org_info)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(to_org_info).collect()
    }

    fn create_user(
        &self,
        user: &Username,
        password_hash: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        self.writer()
            .execute(
                "INSERT INTO users (name, password_hash, created_unix) VALUES (?1, ?2, ?3)",
                params![user.as_str(), password_hash, created_unix],
            )
            .map_err(|e| conflict_on_unique(e, || format!("user {user}")))?;
        Ok(())
    }

    fn password_hash(&self, user: &Username) -> StoreResult<Option<String>> {
        self.read(|conn| {
            let sql = "SELECT password_hash FROM users WHERE name = ?1";
            Ok(conn
                .query_row(sql, [user.as_str()], |r| r.get(0))
                .optional()?)
        })
    }

    fn set_member(&self, org: &OrgName, user: &Username, role: Role) -> StoreResult<()> {
        let conn = self.writer();
        let (org_id, user_id) = (org_id(&conn, org)?, user_id(&conn, user)?);
        conn.execute(
            "INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
            params![org_id, user_id, role.as_str()],
        )?;
        Ok(())
    }

    fn remove_member(&self, org: &OrgName, user: &Username) -> StoreResult<()> {
        let conn = self.writer();
        let (org_id, user_id) = (org_id(&conn, org)?, user_id(&conn, user)?);
        let removed = conn.execute(
            "DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2",
            params![org_id, user_id],
        )?;
        if removed == 0 {
            return Err(StoreError::NotFound(format!(
                "membership of {user} in {org}"
            )));
        }
        Ok(())
    }

    fn role(&self, org: &OrgName, user: &Username) -> StoreResult<Option<Role>> {
        let role: Option<String> = self.read(|conn| {
            let sql = "SELECT m.role FROM memberships m
                       JOIN orgs o ON o.id = m.org_id JOIN users u ON u.id = m.user_id
                       WHERE o.name = ?1 AND u.name = ?2";
            Ok(conn
                .prepare_cached(sql)?
                .query_row([org.as_str(), user.as_str()], |r| r.get(0))
                .optional()?)
        })?;
        role.map(|r| r.parse().map_err(|e: String| StoreError::Backend(e.into())))
            .transpose()
    }

    fn org_and_role(
        &self,
        org: &OrgName,
        user: &Username,
    ) -> StoreResult<Option<(OrgInfo, Option<Role>)>> {
        let row = self.read(|conn| {
            let sql = "SELECT o.name, o.plan,
                              (SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
                               WHERE m.org_id = o.id AND u.name = ?2)
                       FROM orgs o WHERE o.name = ?1";
            let mut stmt = conn.prepare_cached(sql)?;
            let row = stmt.query_row([org.as_str(), user.as_str()], |r| {
                Ok((org_info(r)?, r.get::<_, Option<String>>(2)?))
            });
            Ok(row.optional()?)
        })?;
        let Some((info, role)) = row else {
            return Ok(None);
        };
        let role = role.map(|r| r.parse().map_err(|e: String| StoreError::Backend(e.into())));
        Ok(Some((to_org_info(info)?, role.transpose()?)))
    }

    fn create_token(
        &self,
        user: &Username,
        token_hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        let conn = self.writer();
        let user_id = user_id(&conn, user)?;
        conn.execute(
            "INSERT INTO tokens (hash, user_id, created_unix, prefix) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, user_id, created_unix, prefix],
        )
        .map_err(|e| conflict_on_unique(e, || "token".to_owned()))?;
        Ok(())
    }

    fn revoke_token(&self, token_hash: &str, at_unix: i64) -> StoreResult<bool> {
        let changed = self.writer().execute(
            "UPDATE tokens SET revoked_unix = ?2 WHERE hash = ?1 AND revoked_unix IS NULL",
            params![token_hash, at_unix],
        )?;
        Ok(changed > 0)
    }

    fn token_user(&self, token_hash: &str) -> StoreResult<Option<Username>> {
        let name: Option<String> = self.read(|conn| {
            let sql = "SELECT u.name FROM tokens t JOIN users u ON u.id = t.user_id
                       WHERE t.hash = ?1 AND t.revoked_unix IS NULL";
            Ok(conn
                .prepare_cached(sql)?
                .query_row([token_hash], |r| r.get(0))
                .optional()?)
        })?;
        name.map(to_username).transpose()
    }

    fn create_session(
        &self,
        session_hash: &str,
        user: &Username,
        expires_unix: i64,
    ) -> StoreResult<()> {
        let conn = self.writer();
        let user_id = user_id(&conn, user)?;
        // Sign-ins are rare: a good moment to forget sessions that expired.
        conn.execute(
            "DELETE FROM sessions WHERE expires_unix <= ?1",
            [now_unix()],
        )?;
        conn.execute(
            "INSERT INTO sessions (hash, user_id, expires_unix) VALUES (?1, ?2, ?3)",
            params![session_hash, user_id, expires_unix],
        )
        .map_err(|e| conflict_on_unique(e, || "session".to_owned()))?;
        Ok(())
    }

    fn session_user(&self, session_hash: &str, now_unix: i64) -> StoreResult<Option<Username>> {
        let name: Option<String> = self.read(|conn| {
            let sql = "SELECT u.name FROM sessions s JOIN users u ON u.id = s.user_id
                       WHERE s.hash = ?1 AND s.expires_unix > ?2";
            Ok(conn
                .prepare_cached(sql)?
                .query_row(params![session_hash, now_unix], |r| r.get(0))
                .optional()?)
        })?;
        name.map(to_username).transpose()
    }

    fn delete_session(&self, session_hash: &str) -> StoreResult<()> {
        self.writer()
            .execute("DELETE FROM sessions WHERE hash = ?1", [session_hash])?;
        Ok(())
    }

    // ---- the operator's commands ----

    fn users(&self) -> StoreResult<Vec<UserInfo>> {
        let rows: Vec<(String, i64, i64)> = self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT u.name, u.created_unix,
                        (SELECT COUNT(*) FROM memberships m WHERE m.user_id = u.id)
                 FROM users u ORDER BY u.name",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        rows.into_iter()
            .map(|(name, created_unix, orgs)| {
                Ok(UserInfo {
                    name: to_username(name)?,
                    created_unix,
                    orgs: u64::try_from(orgs).unwrap_or(0),
                })
            })
            .collect()
    }

    fn set_password_hash(&self, user: &Username, password_hash: &str) -> StoreResult<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let user_id = user_id(&tx, user)?;
        tx.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user_id, password_hash],
        )?;
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
        tx.commit()?;
        Ok(())
    }

    fn delete_user(&self, user: &Username) -> StoreResult<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let user_id = user_id(&tx, user)?;
        for table in ["memberships", "tokens", "sessions"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE user_id = ?1"),
                [user_id],
            )?;
        }
        tx.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
        tx.commit()?;
        Ok(())
    }

    fn members(&self, org: &OrgName) -> StoreResult<Vec<(Username, Role)>> {
        let rows: Vec<(String, String)> = self.read(|conn| {
            let org_id = org_id(conn, org)?;
            let mut stmt = conn.prepare(
                "SELECT u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE m.org_id = ?1 ORDER BY u.name",
            )?;
            let rows = stmt.query_map([org_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        rows.into_iter()
            .map(|(name, role)| {
                let role = role
                    .parse()
                    .map_err(|e: String| StoreError::Backend(e.into()))?;
                Ok((to_username(name)?, role))
            })
            .collect()
    }

    fn tokens(&self, user: &Username) -> StoreResult<Vec<TokenInfo>> {
        self.read(|conn| {
            let user_id = user_id(conn, user)?;
            let mut stmt = conn.prepare(
                "SELECT prefix, created_unix, last_used_unix, revoked_unix FROM tokens
                 WHERE user_id = ?1 ORDER BY created_unix, hash",
            )?;
            let rows = stmt.query_map([user_id], |r| {
                Ok(TokenInfo {
                    prefix: r.get(0)?,
                    created_unix: r.get(1)?,
                    last_used_unix: r.get(2)?,
                    revoked_unix: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn touch_token(&self, token_hash: &str, now_unix: i64) -> StoreResult<()> {
        self.touch(
            "UPDATE tokens SET last_used_unix = ?2
             WHERE hash = ?1 AND (last_used_unix IS NULL OR last_used_unix <= ?2 - ?3)",
            token_hash,
            now_unix,
        )
    }

    fn delete_org(&self, org: &OrgName) -> StoreResult<()> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let org_id = org_id(&tx, org)?;
        tx.execute("DELETE FROM memberships WHERE org_id = ?1", [org_id])?;
        tx.execute("DELETE FROM orgs WHERE id = ?1", [org_id])?;
        tx.commit()?;
        Ok(())
    }

    fn create_ingest_key(
        &self,
        name: &IngestKeyName,
        hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        self.insert_ingest_key(name, hash, prefix, created_unix)
    }
    fn revoke_ingest_key(&self, name: &IngestKeyName, at_unix: i64) -> StoreResult<bool> {
        self.revoke_ingest_key_named(name, at_unix)
    }
    fn ingest_key(&self, key_hash: &str) -> StoreResult<Option<IngestKeyName>> {
        self.ingest_key_name(key_hash)
    }
    fn ingest_keys(&self) -> StoreResult<Vec<IngestKeyInfo>> {
        self.list_ingest_keys()
    }
    fn token_records(&self) -> StoreResult<Vec<CredentialRecord<Username>>> {
        self.credential_records(
            "SELECT u.name, t.hash, t.prefix, t.created_unix, t.last_used_unix, t.revoked_unix
             FROM tokens t JOIN users u ON u.id = t.user_id ORDER BY t.created_unix, t.hash",
            to_username,
        )
    }
    fn ingest_key_records(&self) -> StoreResult<Vec<CredentialRecord<IngestKeyName>>> {
        self.ingest_key_hashes()
    }
    fn touch_ingest_key(&self, key_hash: &str, now_unix: i64) -> StoreResult<()> {
        self.touch(
            "UPDATE ingest_keys SET last_used_unix = ?2
             WHERE hash = ?1 AND (last_used_unix IS NULL OR last_used_unix <= ?2 - ?3)",
            key_hash,
            now_unix,
        )
    }
}

#[cfg(test)]
mod tests;
