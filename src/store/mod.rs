//! Storage: one [`Store`] trait, one module per backend, selected at start-up and held as
//! `Arc<dyn Store>`. No backend type (SQLite connection, ClickHouse client, SQL row) crosses this
//! boundary: callers see only domain types. The trait is synchronous; async callers (the web
//! layer) call it through `tokio::task::spawn_blocking`.
//!
//! Invariants every backend keeps:
//! - a repository's all-time `total = adjustment + sum(daily downloads)`; the adjustment may be
//!   negative (a source total below the sum of its days) and is kept so that exports reproduce
//!   the source's `total` exactly;
//! - only days with at least one download are stored; setting a day to 0 removes it;
//! - a [`WriteTx`] is all-or-nothing: dropped without `commit`, it leaves the store unchanged;
//! - a source recorded as ingested in a transaction is recorded atomically with its counts.

pub mod sqlite;

use std::sync::Arc;

use crate::domain::{Day, DayRange, OrgName, Plan, RepoKey, RepoType, Role, Username};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("the store at {path} was written by a newer hubstats (schema {found}, this build knows {known})")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("storage backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A repository as the dashboard and the export see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSummary {
    pub key: RepoKey,
    /// All-time downloads: `adjustment + daily_sum`.
    pub total: u64,
    /// `total - daily_sum`: downloads counted before daily history (may be negative).
    pub adjustment: i64,
    /// First and last day with at least one download; `None` when there are no daily rows.
    pub first_day: Option<Day>,
    pub last_day: Option<Day>,
}

/// One stored daily row, as streamed by [`Store::for_each_daily`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyRow<'a> {
    pub repo_type: RepoType,
    pub repo_name: &'a str,
    /// The repository's all-time total (same on every row of a repository).
    pub total: u64,
    pub day: Day,
    pub downloads: u64,
}

/// Which daily rows to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct DailyFilter<'a> {
    /// Only these repositories (all of the organization when `None`).
    pub repos: Option<&'a [RepoKey]>,
    /// Only days in this range (every day when `None`).
    pub range: Option<DayRange>,
}

/// An organization and its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgInfo {
    pub name: OrgName,
    pub plan: Plan,
    pub repo_count: u64,
}

/// Download counts: writes go through a [`WriteTx`]; reads are per organization and always
/// return rows in export order (models first, repository names in byte order, days ascending).
pub trait Counts: Send + Sync {
    /// Starts an all-or-nothing write.
    fn begin(&self) -> StoreResult<Box<dyn WriteTx + '_>>;

    /// Whether a source (a file digest, a batch id) was already ingested.
    fn is_ingested(&self, source: &str) -> StoreResult<bool>;

    /// Every repository of an organization, in export order.
    fn repos(&self, org: &OrgName) -> StoreResult<Vec<RepoSummary>>;

    /// One repository, if it exists.
    fn repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>>;

    /// Downloads per repository of the organization within `range` (repositories without
    /// downloads in the range may be omitted), in export order.
    fn period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<Vec<(RepoKey, u64)>>;

    /// Organization-wide downloads per day and repository type within `range` (all days when
    /// `None`), days ascending.
    fn org_daily(
        &self,
        org: &OrgName,
        range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>>;

    /// Streams the daily rows of an organization in export order without holding them in
    /// memory. The callback's error stops the stream and is returned.
    fn for_each_daily(
        &self,
        org: &OrgName,
        filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()>;
}

/// An open write. Dropping it without [`WriteTx::commit`] discards everything it did.
pub trait WriteTx {
    /// Sets a repository's downloads for one day (replacing any earlier value; 0 removes the
    /// day). Creates the repository, and its organization on the `free` plan, if needed.
    fn set_daily(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()>;

    /// Adds to a repository's downloads for one day (log ingestion).
    fn add_daily(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()>;

    /// Sets a repository's all-time total as of the end of this transaction: the adjustment
    /// becomes `total - sum(daily)` once every daily write of the transaction is applied.
    fn set_total(&mut self, repo: &RepoKey, total: u64) -> StoreResult<()>;

    /// Records a source as ingested. Returns `false` (and records nothing) when it already was.
    fn record_source(&mut self, source: &str) -> StoreResult<bool>;

    /// How many organizations this transaction has created so far (see [`WriteTx::set_daily`]).
    fn created_orgs(&self) -> u64;

    fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Organizations, users, memberships, API tokens and sign-in sessions. Secrets are never
/// stored: callers pass hashes (see `crate::accounts`).
pub trait Accounts: Send + Sync {
    fn create_org(&self, org: &OrgName, plan: Plan) -> StoreResult<()>;
    fn set_plan(&self, org: &OrgName, plan: Plan) -> StoreResult<()>;
    fn org(&self, org: &OrgName) -> StoreResult<Option<OrgInfo>>;
    fn orgs(&self) -> StoreResult<Vec<OrgInfo>>;

    fn create_user(&self, user: &Username, password_hash: &str) -> StoreResult<()>;
    fn password_hash(&self, user: &Username) -> StoreResult<Option<String>>;

    fn set_member(&self, org: &OrgName, user: &Username, role: Role) -> StoreResult<()>;
    fn remove_member(&self, org: &OrgName, user: &Username) -> StoreResult<()>;
    fn role(&self, org: &OrgName, user: &Username) -> StoreResult<Option<Role>>;

    /// Stores a token's hash and its displayable `prefix`.
    fn create_token(&self, user: &Username, token_hash: &str, prefix: &str) -> StoreResult<()>;
    /// Returns `false` when no live token has this hash.
    fn revoke_token(&self, token_hash: &str) -> StoreResult<bool>;
    fn token_user(&self, token_hash: &str) -> StoreResult<Option<Username>>;

    fn create_session(
        &self,
        session_hash: &str,
        user: &Username,
        expires_unix: i64,
    ) -> StoreResult<()>;
    fn session_user(&self, session_hash: &str, now_unix: i64) -> StoreResult<Option<Username>>;
    fn delete_session(&self, session_hash: &str) -> StoreResult<()>;

    // ---- the operator's commands (`user list`, `member list`, `token list`, deletions) ----

    /// Every user, by name.
    fn users(&self) -> StoreResult<Vec<UserInfo>>;
    /// Replaces a user's password hash and ends the user's sessions.
    fn set_password_hash(&self, user: &Username, password_hash: &str) -> StoreResult<()>;
    /// Deletes a user with their memberships, tokens and sessions.
    fn delete_user(&self, user: &Username) -> StoreResult<()>;
    /// The members of an organization and their roles, by name.
    fn members(&self, org: &OrgName) -> StoreResult<Vec<(Username, Role)>>;
    /// A user's tokens (live and revoked), oldest first.
    fn tokens(&self, user: &Username) -> StoreResult<Vec<TokenInfo>>;
    /// Records that a token was used now; best effort (never waits for a busy writer).
    fn touch_token(&self, token_hash: &str, now_unix: i64) -> StoreResult<()>;
    /// Deletes an organization with its memberships, repositories and download counts.
    fn delete_org(&self, org: &OrgName) -> StoreResult<()>;
}

/// A user as `user list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub name: Username,
    pub created_unix: i64,
    pub orgs: u64,
}

/// An API token as `token list` shows it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The token's first characters (`hs_1a2b3c4d`); `None` for tokens made before they were
    /// recorded.
    pub prefix: Option<String>,
    pub created_unix: i64,
    pub last_used_unix: Option<i64>,
    pub revoked_unix: Option<i64>,
}

/// Everything a backend provides.
pub trait Store: Counts + Accounts {}
impl<T: Counts + Accounts> Store for T {}

pub type SharedStore = Arc<dyn Store>;

/// Opens the store a `--store` value names: a file path for the embedded SQLite backend.
pub fn open(location: &str) -> StoreResult<SharedStore> {
    Ok(Arc::new(sqlite::SqliteStore::open(std::path::Path::new(
        location,
    ))?))
}
