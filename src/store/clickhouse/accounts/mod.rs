//! `Accounts` on ClickHouse: one `ReplacingMergeTree(version)` table per kind of record,
//! keyed like the SQLite tables. A change inserts the record's new state with a newer
//! `version`; a deletion inserts it with `deleted = 1`. Every read uses `FINAL`, so it sees
//! only the latest state of each record whether or not ClickHouse merged yet: a revoked token
//! or an ended session fails on the next request of every server reading the database.
//!
//! A credential's last use is not part of its record: it is kept apart, in `credential_uses`
//! (one row per recorded use, the latest kept), so recording a use never writes a token's or
//! ingest key's state and cannot bring back a revoked one. Rows of the credential tables still
//! carry the `last_used_unix` written before uses were kept apart; a reported last use is the
//! later of the two.
//!
//! ClickHouse has no unique constraints or transactions: uniqueness (organizations ignoring
//! case, users, live ingest-key names) is checked by a read before the insert, serialized
//! within this process by one lock. Two processes creating the same name at the same moment
//! could both succeed (the later row wins); the operator's commands are not run that way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::client::{backend, quote, tsv_field, Client, Row};
use super::{next_version, now_unix, Table};
use crate::domain::{IngestKeyName, OrgName, Plan, Role, Username};
use crate::store::touches::Touches;
use crate::store::{
    Accounts, CredentialRecord, IngestKeyInfo, OrgInfo, StoreError, StoreResult, TokenInfo,
    UserInfo,
};

/// Accounts migration (see `super::MIGRATIONS`). In cluster mode each table is sharded by
/// (the first column of) its key, so every version of a record lives on one shard and `FINAL`,
/// which each shard applies to its own rows, still keeps only the latest.
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "orgs",
        columns: "name String, plan String, created_unix Int64, deleted UInt8, version UInt64",
        engine: "ReplacingMergeTree(version) ORDER BY name",
        shard_by: "sipHash64(name)",
    },
    Table {
        name: "users",
        columns: "name String, password_hash String, created_unix Int64, deleted UInt8, \
                  version UInt64",
        engine: "ReplacingMergeTree(version) ORDER BY name",
        shard_by: "sipHash64(name)",
    },
    Table {
        name: "memberships",
        columns: "org String, user String, role String, deleted UInt8, version UInt64",
        engine: "ReplacingMergeTree(version) ORDER BY (org, user)",
        shard_by: "sipHash64(org)",
    },
    Table {
        name: "tokens",
        columns: "hash String, user String, prefix String, created_unix Int64, \
                  last_used_unix Nullable(Int64), revoked_unix Nullable(Int64), deleted UInt8, \
                  version UInt64",
        engine: "ReplacingMergeTree(version) ORDER BY hash",
        shard_by: "sipHash64(hash)",
    },
    Table {
        name: "sessions",
        columns: "hash String, user String, expires_unix Int64, deleted UInt8, version UInt64",
        engine: "ReplacingMergeTree(version) ORDER BY hash",
        shard_by: "sipHash64(hash)",
    },
    Table {
        name: "ingest_keys",
        columns: "hash String, name String, prefix String, created_unix Int64, \
                  last_used_unix Nullable(Int64), revoked_unix Nullable(Int64), version UInt64",
        engine: "ReplacingMergeTree(version) ORDER BY hash",
        shard_by: "sipHash64(hash)",
    },
];

/// Accounts migration 6: the recorded uses of tokens and ingest keys (see the module comment).
pub(super) const USES: &[Table] = &[Table {
    name: "credential_uses",
    columns: "kind String, hash String, used_unix Int64",
    engine: "ReplacingMergeTree(used_unix) ORDER BY (kind, hash)",
    shard_by: "sipHash64(hash)",
}];

/// The two kinds of credential whose uses are recorded, as named in `credential_uses`.
#[derive(Clone, Copy)]
enum Kind {
    Token,
    IngestKey,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::IngestKey => "ingest_key",
        }
    }
}

pub struct ClickHouseAccounts {
    client: Arc<Client>,
    writer: Mutex<()>,
    touches: Touches,
}

/// Values of one inserted row, written as `TabSeparated`.
enum V<'a> {
    S(&'a str),
    I(i64),
    N(Option<i64>),
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    backend(format!("corrupt {what} row: {e}"))
}

fn username(s: &str) -> StoreResult<Username> {
    Username::parse(s).map_err(|e| corrupt("user", e))
}

fn org_name(s: &str) -> StoreResult<OrgName> {
    OrgName::parse(s).map_err(|e| corrupt("organization", e))
}

/// A token or ingest key as stored.
struct Credential {
    hash: String,
    owner: String,
    prefix: String,
    created_unix: i64,
    last_used_unix: Option<i64>,
    revoked_unix: Option<i64>,
}

const CREDENTIAL: &str = "prefix, created_unix, last_used_unix, revoked_unix";

fn credential(r: &Row<'_>) -> StoreResult<Credential> {
    Ok(Credential {
        hash: r.str(0)?,
        owner: r.str(1)?,
        prefix: r.str(2)?,
        created_unix: r.i64(3)?,
        last_used_unix: r.opt_i64(4)?,
        revoked_unix: r.opt_i64(5)?,
    })
}

impl ClickHouseAccounts {
    pub fn new(client: Arc<Client>) -> Self {
        ClickHouseAccounts {
            client,
            writer: Mutex::new(()),
            touches: Touches::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Inserts rows (each a list of values in `columns` order) with a new version.
    fn insert(&self, table: &str, columns: &str, rows: &[Vec<V<'_>>]) -> StoreResult<()> {
        let version = next_version();
        let mut body = String::new();
        for row in rows {
            for v in row {
                match v {
                    V::S(s) => tsv_field(&mut body, s),
                    V::I(n) => body.push_str(&n.to_string()),
                    V::N(Some(n)) => body.push_str(&n.to_string()),
                    V::N(None) => body.push_str("\\N"),
                }
                body.push('\t');
            }
            body.push_str(&version.to_string());
            body.push('\n');
        }
        self.client
            .insert(table, &format!("{columns}, version"), &body)
    }

    /// Live organizations (with `created_unix`), by name; only `name` when given.
    fn live_orgs(&self, name: Option<&OrgName>) -> StoreResult<Vec<(String, String, i64)>> {
        let filter = name.map_or(String::new(), |n| {
            format!(" AND name = {}", quote(n.as_str()))
        });
        self.client.query(
            &format!(
                "SELECT name, plan, created_unix FROM orgs FINAL WHERE deleted = 0{filter} \
                 ORDER BY name"
            ),
            |r| Ok((r.str(0)?, r.str(1)?, r.i64(2)?)),
        )
    }

    fn live_user(&self, user: &Username) -> StoreResult<Option<(String, i64)>> {
        let rows = self.client.query(
            &format!(
                "SELECT password_hash, created_unix FROM users FINAL \
                 WHERE name = {} AND deleted = 0",
                quote(user.as_str())
            ),
            |r| Ok((r.str(0)?, r.i64(1)?)),
        )?;
        Ok(rows.into_iter().next())
    }

    fn require_org(&self, org: &OrgName) -> StoreResult<(String, i64)> {
        let found = self.live_orgs(Some(org))?.into_iter().next();
        found
            .map(|(_, plan, created)| (plan, created))
            .ok_or_else(|| StoreError::NotFound(format!("organization {org}")))
    }

    fn require_user(&self, user: &Username) -> StoreResult<(String, i64)> {
        self.live_user(user)?
            .ok_or_else(|| StoreError::NotFound(format!("user {user}")))
    }

    /// Live memberships (org, user, role), optionally of one organization or one user.
    fn memberships(&self, filter: &str) -> StoreResult<Vec<(String, String, String)>> {
        self.client.query(
            &format!(
                "SELECT org, user, role FROM memberships FINAL WHERE deleted = 0{filter} \
                 ORDER BY org, user"
            ),
            |r| Ok((r.str(0)?, r.str(1)?, r.str(2)?)),
        )
    }

    fn tokens_where(&self, filter: &str) -> StoreResult<Vec<Credential>> {
        self.client.query(
            &format!(
                "SELECT hash, user, {CREDENTIAL} FROM tokens FINAL WHERE deleted = 0{filter} \
                 ORDER BY created_unix, hash"
            ),
            credential,
        )
    }

    fn keys_where(&self, filter: &str) -> StoreResult<Vec<Credential>> {
        self.client.query(
            &format!(
                "SELECT hash, name, {CREDENTIAL} FROM ingest_keys FINAL WHERE 1{filter} \
                 ORDER BY created_unix, name, hash"
            ),
            credential,
        )
    }

    fn write_token(&self, t: &Credential, deleted: bool) -> StoreResult<()> {
        self.insert(
            "tokens",
            "hash, user, prefix, created_unix, last_used_unix, revoked_unix, deleted",
            &[vec![
                V::S(&t.hash),
                V::S(&t.owner),
                V::S(&t.prefix),
                V::I(t.created_unix),
                V::N(t.last_used_unix),
                V::N(t.revoked_unix),
                V::I(i64::from(deleted)),
            ]],
        )
    }

    /// Records a use of the credential `hash` through [`Touches`]: a row of `credential_uses`
    /// unless one within [`Touches::EVERY`] seconds is there. Only the use is written, never
    /// the credential, so a revocation made meanwhile (here or on another server) stands.
    fn touch(&self, kind: Kind, hash: &str, now_unix: i64) -> StoreResult<()> {
        self.touches.touch(hash, now_unix, || {
            let recent = self.client.query(
                &format!(
                    "SELECT count() FROM credential_uses WHERE kind = {} AND hash = {} \
                     AND used_unix > {now_unix} - {}",
                    quote(kind.as_str()),
                    quote(hash),
                    Touches::EVERY
                ),
                |r| r.u64(0),
            )?;
            if recent.first().copied().unwrap_or(0) > 0 {
                return Ok(false);
            }
            let mut body = String::new();
            tsv_field(&mut body, kind.as_str());
            body.push('\t');
            tsv_field(&mut body, hash);
            body.push_str(&format!("\t{now_unix}\n"));
            self.client
                .insert("credential_uses", "kind, hash, used_unix", &body)?;
            Ok(true)
        })
    }

    /// `credentials` with their last uses: each one's `last_used_unix` is the later of its
    /// row's and its latest row in `credential_uses`.
    fn with_uses(
        &self,
        kind: Kind,
        mut credentials: Vec<Credential>,
    ) -> StoreResult<Vec<Credential>> {
        if credentials.is_empty() {
            return Ok(credentials);
        }
        let hashes: Vec<String> = credentials.iter().map(|c| quote(&c.hash)).collect();
        let uses: HashMap<String, i64> = (self.client.query(
            &format!(
                "SELECT hash, max(used_unix) FROM credential_uses \
                 WHERE kind = {} AND hash IN ({}) GROUP BY hash",
                quote(kind.as_str()),
                hashes.join(", ")
            ),
            |r| Ok((r.str(0)?, r.i64(1)?)),
        )?)
        .into_iter()
        .collect();
        for c in &mut credentials {
            if let Some(&used) = uses.get(&c.hash) {
                c.last_used_unix = Some(c.last_used_unix.map_or(used, |t| t.max(used)));
            }
        }
        Ok(credentials)
    }

    fn write_key(&self, k: &Credential) -> StoreResult<()> {
        self.insert(
            "ingest_keys",
            "hash, name, prefix, created_unix, last_used_unix, revoked_unix",
            &[vec![
                V::S(&k.hash),
                V::S(&k.owner),
                V::S(&k.prefix),
                V::I(k.created_unix),
                V::N(k.last_used_unix),
                V::N(k.revoked_unix),
            ]],
        )
    }

    /// Ends the user's sessions (tombstones).
    fn end_sessions(&self, user: &Username) -> StoreResult<()> {
        let sessions = self.client.query(
            &format!(
                "SELECT hash, expires_unix FROM sessions FINAL WHERE user = {} AND deleted = 0",
                quote(user.as_str())
            ),
            |r| Ok((r.str(0)?, r.i64(1)?)),
        )?;
        let rows: Vec<Vec<V<'_>>> = (sessions.iter())
            .map(|(hash, expires)| vec![V::S(hash), V::S(user.as_str()), V::I(*expires), V::I(1)])
            .collect();
        self.insert("sessions", "hash, user, expires_unix, deleted", &rows)
    }

    fn delete_memberships(&self, filter: &str) -> StoreResult<()> {
        let members = self.memberships(filter)?;
        let rows: Vec<Vec<V<'_>>> = (members.iter())
            .map(|(org, user, role)| vec![V::S(org), V::S(user), V::S(role), V::I(1)])
            .collect();
        self.insert("memberships", "org, user, role, deleted", &rows)
    }
}

fn eq(column: &str, value: &str) -> String {
    format!(" AND {column} = {}", quote(value))
}

impl Accounts for ClickHouseAccounts {
    fn create_org(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        let _w = self.lock();
        let lower = org.as_str().to_lowercase();
        let taken = (self.live_orgs(None)?.iter()).any(|(name, _, _)| name.to_lowercase() == lower);
        if taken {
            return Err(StoreError::Conflict(format!(
                "organization {org} (or one whose name differs only in case)"
            )));
        }
        self.insert(
            "orgs",
            "name, plan, created_unix, deleted",
            &[vec![
                V::S(org.as_str()),
                V::S(plan.as_str()),
                V::I(now_unix()),
                V::I(0),
            ]],
        )
    }

    fn set_plan(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        let _w = self.lock();
        let (_, created) = self.require_org(org)?;
        self.insert(
            "orgs",
            "name, plan, created_unix, deleted",
            &[vec![
                V::S(org.as_str()),
                V::S(plan.as_str()),
                V::I(created),
                V::I(0),
            ]],
        )
    }

    fn org(&self, org: &OrgName) -> StoreResult<Option<OrgInfo>> {
        let found = self.live_orgs(Some(org))?.into_iter().next();
        found
            .map(|(name, plan, _)| {
                Ok(OrgInfo {
                    name: org_name(&name)?,
                    plan: plan
                        .parse()
                        .map_err(|e: String| corrupt("organization", e))?,
                })
            })
            .transpose()
    }

    fn orgs(&self) -> StoreResult<Vec<OrgInfo>> {
        (self.live_orgs(None)?.into_iter())
            .map(|(name, plan, _)| {
                Ok(OrgInfo {
                    name: org_name(&name)?,
                    plan: plan
                        .parse()
                        .map_err(|e: String| corrupt("organization", e))?,
                })
            })
            .collect()
    }

    fn create_user(
        &self,
        user: &Username,
        password_hash: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        let _w = self.lock();
        if self.live_user(user)?.is_some() {
            return Err(StoreError::Conflict(format!("user {user}")));
        }
        self.insert(
            "users",
            "name, password_hash, created_unix, deleted",
            &[vec![
                V::S(user.as_str()),
                V::S(password_hash),
                V::I(created_unix),
                V::I(0),
            ]],
        )
    }

    fn password_hash(&self, user: &Username) -> StoreResult<Option<String>> {
        Ok(self.live_user(user)?.map(|(hash, _)| hash))
    }

    fn set_member(&self, org: &OrgName, user: &Username, role: Role) -> StoreResult<()> {
        let _w = self.lock();
        self.require_org(org)?;
        self.require_user(user)?;
        self.insert(
            "memberships",
            "org, user, role, deleted",
            &[vec![
                V::S(org.as_str()),
                V::S(user.as_str()),
                V::S(role.as_str()),
                V::I(0),
            ]],
        )
    }

    fn remove_member(&self, org: &OrgName, user: &Username) -> StoreResult<()> {
        let _w = self.lock();
        self.require_org(org)?;
        self.require_user(user)?;
        let filter = eq("org", org.as_str()) + &eq("user", user.as_str());
        if self.memberships(&filter)?.is_empty() {
            return Err(StoreError::NotFound(format!(
                "membership of {user} in {org}"
            )));
        }
        self.delete_memberships(&filter)
    }

    fn role(&self, org: &OrgName, user: &Username) -> StoreResult<Option<Role>> {
        let filter = eq("org", org.as_str()) + &eq("user", user.as_str());
        let found = self.memberships(&filter)?.into_iter().next();
        found
            .map(|(_, _, role)| role.parse().map_err(|e: String| corrupt("membership", e)))
            .transpose()
    }

    fn create_token(
        &self,
        user: &Username,
        token_hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        let _w = self.lock();
        self.require_user(user)?;
        if !self.tokens_where(&eq("hash", token_hash))?.is_empty() {
            return Err(StoreError::Conflict("token".to_owned()));
        }
        self.write_token(
            &Credential {
                hash: token_hash.to_owned(),
                owner: user.as_str().to_owned(),
                prefix: prefix.to_owned(),
                created_unix,
                last_used_unix: None,
                revoked_unix: None,
            },
            false,
        )
    }

    fn revoke_token(&self, token_hash: &str, at_unix: i64) -> StoreResult<bool> {
        let _w = self.lock();
        let live = self.tokens_where(&(eq("hash", token_hash) + " AND revoked_unix IS NULL"))?;
        let Some(mut token) = live.into_iter().next() else {
            return Ok(false);
        };
        token.revoked_unix = Some(at_unix);
        self.write_token(&token, false)?;
        Ok(true)
    }

    fn token_user(&self, token_hash: &str) -> StoreResult<Option<Username>> {
        let live = self.tokens_where(&(eq("hash", token_hash) + " AND revoked_unix IS NULL"))?;
        match live.into_iter().next() {
            Some(t) => {
                let user = username(&t.owner)?;
                Ok(self.live_user(&user)?.map(|_| user))
            }
            None => Ok(None),
        }
    }

    fn create_session(
        &self,
        session_hash: &str,
        user: &Username,
        expires_unix: i64,
    ) -> StoreResult<()> {
        let _w = self.lock();
        self.require_user(user)?;
        let existing = self.client.query(
            &format!(
                "SELECT count() FROM sessions FINAL WHERE hash = {} AND deleted = 0",
                quote(session_hash)
            ),
            |r| r.u64(0),
        )?;
        if existing.first().copied().unwrap_or(0) > 0 {
            return Err(StoreError::Conflict("session".to_owned()));
        }
        self.insert(
            "sessions",
            "hash, user, expires_unix, deleted",
            &[vec![
                V::S(session_hash),
                V::S(user.as_str()),
                V::I(expires_unix),
                V::I(0),
            ]],
        )
    }

    fn session_user(&self, session_hash: &str, now_unix: i64) -> StoreResult<Option<Username>> {
        let found = self.client.query(
            &format!(
                "SELECT user FROM sessions FINAL WHERE hash = {} AND deleted = 0 \
                 AND expires_unix > {now_unix}",
                quote(session_hash)
            ),
            |r| r.str(0),
        )?;
        match found.into_iter().next() {
            Some(name) => {
                let user = username(&name)?;
                Ok(self.live_user(&user)?.map(|_| user))
            }
            None => Ok(None),
        }
    }

    fn delete_session(&self, session_hash: &str) -> StoreResult<()> {
        let _w = self.lock();
        let found = self.client.query(
            &format!(
                "SELECT user, expires_unix FROM sessions FINAL WHERE hash = {} AND deleted = 0",
                quote(session_hash)
            ),
            |r| Ok((r.str(0)?, r.i64(1)?)),
        )?;
        let rows: Vec<Vec<V<'_>>> = (found.iter())
            .map(|(user, expires)| vec![V::S(session_hash), V::S(user), V::I(*expires), V::I(1)])
            .collect();
        self.insert("sessions", "hash, user, expires_unix, deleted", &rows)
    }

    fn users(&self) -> StoreResult<Vec<UserInfo>> {
        let live_orgs: std::collections::HashSet<String> = (self.live_orgs(None)?.into_iter())
            .map(|(name, _, _)| name)
            .collect();
        let mut orgs_of: HashMap<String, u64> = HashMap::new();
        for (org, user, _) in self.memberships("")? {
            if live_orgs.contains(&org) {
                *orgs_of.entry(user).or_default() += 1;
            }
        }
        let users = self.client.query(
            "SELECT name, created_unix FROM users FINAL WHERE deleted = 0 ORDER BY name",
            |r| Ok((r.str(0)?, r.i64(1)?)),
        )?;
        users
            .into_iter()
            .map(|(name, created_unix)| {
                Ok(UserInfo {
                    orgs: orgs_of.get(&name).copied().unwrap_or(0),
                    name: username(&name)?,
                    created_unix,
                })
            })
            .collect()
    }

    fn set_password_hash(&self, user: &Username, password_hash: &str) -> StoreResult<()> {
        let _w = self.lock();
        let (_, created) = self.require_user(user)?;
        self.insert(
            "users",
            "name, password_hash, created_unix, deleted",
            &[vec![
                V::S(user.as_str()),
                V::S(password_hash),
                V::I(created),
                V::I(0),
            ]],
        )?;
        self.end_sessions(user)
    }

    fn delete_user(&self, user: &Username) -> StoreResult<()> {
        let _w = self.lock();
        let (hash, created) = self.require_user(user)?;
        self.delete_memberships(&eq("user", user.as_str()))?;
        for token in self.tokens_where(&eq("user", user.as_str()))? {
            self.write_token(&token, true)?;
        }
        self.end_sessions(user)?;
        self.insert(
            "users",
            "name, password_hash, created_unix, deleted",
            &[vec![
                V::S(user.as_str()),
                V::S(&hash),
                V::I(created),
                V::I(1),
            ]],
        )
    }

    fn members(&self, org: &OrgName) -> StoreResult<Vec<(Username, Role)>> {
        self.require_org(org)?;
        (self.memberships(&eq("org", org.as_str()))?.into_iter())
            .map(|(_, user, role)| {
                let role = role.parse().map_err(|e: String| corrupt("membership", e))?;
                Ok((username(&user)?, role))
            })
            .collect()
    }

    fn tokens(&self, user: &Username) -> StoreResult<Vec<TokenInfo>> {
        self.require_user(user)?;
        let tokens = self.tokens_where(&eq("user", user.as_str()))?;
        Ok((self.with_uses(Kind::Token, tokens)?.into_iter())
            .map(|t| TokenInfo {
                prefix: Some(t.prefix),
                created_unix: t.created_unix,
                last_used_unix: t.last_used_unix,
                revoked_unix: t.revoked_unix,
            })
            .collect())
    }

    fn touch_token(&self, token_hash: &str, now_unix: i64) -> StoreResult<()> {
        self.touch(Kind::Token, token_hash, now_unix)
    }

    fn delete_org(&self, org: &OrgName) -> StoreResult<()> {
        let _w = self.lock();
        let (plan, created) = self.require_org(org)?;
        self.delete_memberships(&eq("org", org.as_str()))?;
        self.insert(
            "orgs",
            "name, plan, created_unix, deleted",
            &[vec![
                V::S(org.as_str()),
                V::S(&plan),
                V::I(created),
                V::I(1),
            ]],
        )
    }

    fn create_ingest_key(
        &self,
        name: &IngestKeyName,
        hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        let _w = self.lock();
        let live = self.keys_where(&(eq("name", name.as_str()) + " AND revoked_unix IS NULL"))?;
        if !live.is_empty() || !self.keys_where(&eq("hash", hash))?.is_empty() {
            return Err(StoreError::Conflict(format!(
                "a live ingest key named {name}"
            )));
        }
        self.write_key(&Credential {
            hash: hash.to_owned(),
            owner: name.as_str().to_owned(),
            prefix: prefix.to_owned(),
            created_unix,
            last_used_unix: None,
            revoked_unix: None,
        })
    }

    fn revoke_ingest_key(&self, name: &IngestKeyName, at_unix: i64) -> StoreResult<bool> {
        let _w = self.lock();
        let live = self.keys_where(&(eq("name", name.as_str()) + " AND revoked_unix IS NULL"))?;
        let revoked = !live.is_empty();
        for mut key in live {
            key.revoked_unix = Some(at_unix);
            self.write_key(&key)?;
        }
        Ok(revoked)
    }

    fn ingest_key(&self, key_hash: &str) -> StoreResult<Option<IngestKeyName>> {
        let live = self.keys_where(&(eq("hash", key_hash) + " AND revoked_unix IS NULL"))?;
        live.into_iter()
            .next()
            .map(|k| IngestKeyName::parse(&k.owner).map_err(|e| corrupt("ingest key", e)))
            .transpose()
    }

    fn ingest_keys(&self) -> StoreResult<Vec<IngestKeyInfo>> {
        (self
            .with_uses(Kind::IngestKey, self.keys_where("")?)?
            .into_iter())
        .map(|k| {
            Ok(IngestKeyInfo {
                name: IngestKeyName::parse(&k.owner).map_err(|e| corrupt("ingest key", e))?,
                prefix: k.prefix,
                created_unix: k.created_unix,
                last_used_unix: k.last_used_unix,
                revoked_unix: k.revoked_unix,
            })
        })
        .collect()
    }

    fn token_records(&self) -> StoreResult<Vec<CredentialRecord<Username>>> {
        (self
            .with_uses(Kind::Token, self.tokens_where("")?)?
            .into_iter())
        .map(|t| {
            Ok(CredentialRecord {
                owner: Username::parse(&t.owner).map_err(|e| corrupt("token user", e))?,
                hash: t.hash,
                prefix: Some(t.prefix),
                created_unix: t.created_unix,
                last_used_unix: t.last_used_unix,
                revoked_unix: t.revoked_unix,
            })
        })
        .collect()
    }

    fn ingest_key_records(&self) -> StoreResult<Vec<CredentialRecord<IngestKeyName>>> {
        (self
            .with_uses(Kind::IngestKey, self.keys_where("")?)?
            .into_iter())
        .map(|k| {
            Ok(CredentialRecord {
                owner: IngestKeyName::parse(&k.owner).map_err(|e| corrupt("ingest key", e))?,
                hash: k.hash,
                prefix: Some(k.prefix),
                created_unix: k.created_unix,
                last_used_unix: k.last_used_unix,
                revoked_unix: k.revoked_unix,
            })
        })
        .collect()
    }

    fn touch_ingest_key(&self, key_hash: &str, now_unix: i64) -> StoreResult<()> {
        self.touch(Kind::IngestKey, key_hash, now_unix)
    }
}

#[cfg(test)]
mod tests;
