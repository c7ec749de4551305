//! Ingest keys on SQLite: the credentials of `POST /api/ingest`, apart from user tokens (a
//! key belongs to no user and a user token is no key). Only hashes are stored, with the key's
//! first characters for listing. A name is unique among live keys, so a key can be replaced
//! under its name (revoke, create) while the revoked one stays listed.

use rusqlite::{params, OptionalExtension};

use super::{conflict_on_unique, SqliteAccounts};
use crate::domain::IngestKeyName;
use crate::store::{CredentialRecord, IngestKeyInfo, StoreError, StoreResult};

/// Accounts migration 3.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE ingest_keys (
        hash           TEXT PRIMARY KEY,
        name           TEXT NOT NULL,
        prefix         TEXT NOT NULL,
        created_unix   INTEGER NOT NULL,
        last_used_unix INTEGER,
        revoked_unix   INTEGER
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX ingest_keys_live_name ON ingest_keys (name) WHERE revoked_unix IS NULL;
"#;

fn to_name(name: String) -> StoreResult<IngestKeyName> {
    IngestKeyName::parse(&name)
        .map_err(|e| StoreError::Backend(format!("corrupt ingest key row: {e}").into()))
}

impl SqliteAccounts {
    pub(super) fn insert_ingest_key(
        &self,
        name: &IngestKeyName,
        hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        self.writer()
            .execute(
                "INSERT INTO ingest_keys (hash, name, prefix, created_unix) VALUES (?1, ?2, ?3, ?4)",
                params![hash, name.as_str(), prefix, created_unix],
            )
            .map_err(|e| conflict_on_unique(e, || format!("a live ingest key named {name}")))?;
        Ok(())
    }

    pub(super) fn revoke_ingest_key_named(
        &self,
        name: &IngestKeyName,
        at_unix: i64,
    ) -> StoreResult<bool> {
        let changed = self.writer().execute(
            "UPDATE ingest_keys SET revoked_unix = ?2 WHERE name = ?1 AND revoked_unix IS NULL",
            params![name.as_str(), at_unix],
        )?;
        Ok(changed > 0)
    }

    pub(super) fn ingest_key_name(&self, hash: &str) -> StoreResult<Option<IngestKeyName>> {
        let name: Option<String> = self.read(|conn| {
            let sql = "SELECT name FROM ingest_keys WHERE hash = ?1 AND revoked_unix IS NULL";
            Ok(conn
                .prepare_cached(sql)?
                .query_row([hash], |r| r.get(0))
                .optional()?)
        })?;
        name.map(to_name).transpose()
    }

    /// Every key with its hash, oldest first (for a copy of the store).
    pub(super) fn ingest_key_hashes(&self) -> StoreResult<Vec<CredentialRecord<IngestKeyName>>> {
        self.credential_records(
            "SELECT name, hash, prefix, created_unix, last_used_unix, revoked_unix
             FROM ingest_keys ORDER BY created_unix, name, hash",
            to_name,
        )
    }

    pub(super) fn list_ingest_keys(&self) -> StoreResult<Vec<IngestKeyInfo>> {
        type Row = (String, String, i64, Option<i64>, Option<i64>);
        let rows: Vec<Row> = self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT name, prefix, created_unix, last_used_unix, revoked_unix
                 FROM ingest_keys ORDER BY created_unix, name, hash",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        rows.into_iter()
            .map(
                |(name, prefix, created_unix, last_used_unix, revoked_unix)| {
                    Ok(IngestKeyInfo {
                        name: to_name(name)?,
                        prefix,
                        created_unix,
                        last_used_unix,
                        revoked_unix,
                    })
                },
            )
            .collect()
    }
}
