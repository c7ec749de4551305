//! Storage: two contracts, each with its own backend instance, selected at start-up.
//!
//! - [`Accounts`]: organizations and plans, users, memberships, token and session hashes.
//! - [`Counts`]: download counts, written as [batches from named sources](CountsWrite) and read
//!   per organization.
//!
//! [`Stores`] holds one of each and implements both by delegation, for callers that need both
//! (the web layer, the CLI); it is shared as [`SharedStore`]. No backend type (SQLite
//! connection, ClickHouse client, SQL row) crosses either trait: callers see domain types only.
//! The traits are synchronous; async callers (the web layer) call them through
//! `tokio::task::spawn_blocking`. The data contract they keep is `docs/DATA.md`.
//!
//! Invariants every [`Counts`] backend keeps (checked for every backend by [`conformance`]):
//! - a repository-day's downloads are the sum over the sources that wrote it;
//! - writing a source again replaces its earlier contribution ([`WriteMode::Replace`]: all of
//!   it; [`WriteMode::Merge`]: the repository-days the new write names), so every write is
//!   idempotent and the store depends only on the last write of each source, in any order;
//! - a repository's all-time `total = adjustment + sum(daily downloads)`; the adjustment may be
//!   negative and is kept so that exports reproduce the source's `total` exactly;
//! - no stored count, repository sum or total exceeds [`MAX_COUNT`];
//! - only days with at least one download are returned;
//! - a write is all-or-nothing: dropped without `commit`, it leaves the store unchanged;
//! - every committed write bumps the [version](Counts::version) of each organization it
//!   touched, and only those: a cache keyed by (organization, version) is never stale.

pub mod clickhouse;
pub mod conformance;
pub mod copy;
pub mod events;
pub mod index;
mod names;
pub mod reference;
pub mod snapshots;
pub mod sqlite;
mod touches;

use std::fmt;
use std::sync::Arc;

use crate::domain::{
    Day, DayRange, IngestKeyName, OrgName, Period, PeriodKind, Plan, RepoKey, RepoType, Role,
    Username,
};
pub use events::{EventFields, EventsWrite, LibraryRecord, LogEvents, LogFileInfo, RepoLibrary};
pub use names::RepoNames;
pub use snapshots::{Around, HubSnapshots, Reading, SnapshotInfo};

pub type StoreResult<T> = Result<T, StoreError>;

/// The largest count the product accepts, per day, per repository total and per organization
/// day: 2^53 − 1, so that every count reads back exactly in JSON clients (an IEEE double).
pub const MAX_COUNT: u64 = (1 << 53) - 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the store at {path} was written by a newer hubstats (schema {found}, this build knows {known})")]
    NewerSchema {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("storage backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend did not answer (connection refused, timed out, cut off) or failed on its
    /// side: the same request may succeed later, with nothing to change in it.
    #[error("the storage backend is unavailable")]
    Unavailable(#[source] Outage),
}

/// Why a backend is unavailable, in its own words ("ClickHouse at 127.0.0.1:8123: connection
/// refused"). Its own type, so that [`StoreError::is_unavailable`] finds it below error types
/// that wrap a `StoreError` transparently.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Outage(pub String);

impl StoreError {
    /// Whether `e`, or an error it wraps, is an [`Outage`] of the store.
    pub fn is_unavailable(e: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(e);
        while let Some(e) = next {
            if e.is::<Outage>() {
                return true;
            }
            next = e.source();
        }
        false
    }
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

/// One daily row, as streamed by [`Counts::for_each_daily`].
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

/// One repository and its days with downloads ([`Counts::repo_days`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoDays {
    pub summary: RepoSummary,
    /// (day, downloads), days ascending, no zero.
    pub days: Vec<(Day, u64)>,
}

/// An organization and its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgInfo {
    pub name: OrgName,
    pub plan: Plan,
}

/// The name of a source of counts: a breakdown import, a log file's digest, an HTTP batch's
/// idempotency key. 1 to 200 bytes of printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(String);

impl SourceId {
    pub fn parse(s: &str) -> StoreResult<Self> {
        let printable = s.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if s.is_empty() || s.len() > 200 || !printable {
            return Err(StoreError::Invalid(format!(
                "source id {:?}: expected 1 to 200 printable ASCII characters",
                s.chars().take(40).collect::<String>()
            )));
        }
        Ok(SourceId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The one source every breakdown CSV import writes (values set per repository-day).
    pub fn breakdown() -> Self {
        SourceId("breakdown".to_owned())
    }

    /// The one source of the daily downloads derived from a hub's public counters
    /// (`hubstats collect`; values set per repository-day).
    pub fn hub() -> Self {
        SourceId("hub".to_owned())
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a write replaces what its source wrote before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The write is the source's whole contribution: everything the source wrote before is
    /// dropped (a log file, an HTTP batch).
    Replace,
    /// The write sets the source's value of each repository-day it names (0 removes it) and
    /// keeps the others (the breakdown import: a later file corrects or extends earlier ones).
    Merge,
}

/// A source as last applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    pub source: SourceId,
    /// Repository-days the source holds.
    pub rows: u64,
    pub applied_unix: i64,
}

/// An organization's repositories, in export order (see [`Counts::repos`]).
pub type RepoSummaries = Arc<[RepoSummary]>;

/// Per-repository downloads in a range: one figure per repository of a [`RepoSummaries`]
/// list, position by position (see [`Counts::period_sums`]). A reader holding the same list
/// (the same shared allocation, [`PeriodSums::aligned_with`]) reads a repository's figure by
/// its position, with no name compared; any other reader goes by key ([`PeriodSums::iter`]).
#[derive(Debug, Clone)]
pub struct PeriodSums {
    repos: RepoSummaries,
    sums: Arc<[u64]>,
}

impl PeriodSums {
    /// `sums[i]` is the downloads of `repos[i]`.
    pub fn new(repos: RepoSummaries, sums: Arc<[u64]>) -> Self {
        assert_eq!(repos.len(), sums.len(), "one sum per repository");
        PeriodSums { repos, sums }
    }

    /// The sums of an organization without repositories.
    pub fn empty() -> Self {
        PeriodSums::new(RepoSummaries::from([]), Arc::from([]))
    }

    /// The repositories with downloads in the range and their downloads, in export order.
    pub fn iter(&self) -> impl Iterator<Item = (&RepoKey, u64)> + '_ {
        (self.repos.iter().zip(self.sums.iter()))
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| (&r.key, *n))
    }

    /// The sums position by position when `repos` is the very list they were read for.
    pub fn aligned_with(&self, repos: &[RepoSummary]) -> Option<&[u64]> {
        std::ptr::eq(self.repos.as_ptr(), repos.as_ptr())
            .then_some(&self.sums[..])
            .filter(|s| s.len() == repos.len())
    }
}

/// Equal when the same repositories have the same downloads (however the lists were shared).
impl PartialEq for PeriodSums {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for PeriodSums {}

/// The cached organization indexes' memory (approximately, in bytes) and its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexMemory {
    pub bytes: u64,
    pub budget: u64,
}

/// The size of the counts store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountsStats {
    /// Repositories with counts, of every organization.
    pub repositories: u64,
    /// The sources holding repository-days, by name.
    pub sources: Vec<SourceInfo>,
}

/// What a committed write changed: the organizations it touched, with their new versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Committed {
    pub versions: Vec<(OrgName, u64)>,
}

/// Download counts: written by source through [`Counts::write`]; read per organization, always
/// in export order (models first, repository names in byte order, days ascending).
pub trait Counts: Send + Sync {
    /// Whether this store's reads (its counts', and the accounts' opened with it) wait on
    /// nothing beyond this machine: an embedded file, not a server over the network. The web
    /// server runs such reads on the request's own thread; others go to the blocking pool,
    /// where the request timeout can still answer while one waits.
    fn reads_are_local(&self) -> bool {
        false
    }

    /// Whether the organization's index reads ([`index::IndexedCounts`]: the overview, the table, one
    /// repository) are answered from memory right now: an index kept at the organization's
    /// current version, so that a read takes microseconds and no I/O beyond checking that
    /// version. The web server runs such reads on the request's own thread without handing the
    /// thread's other work over first. `false` when unsure.
    fn index_is_current(&self, _org: &OrgName) -> bool {
        false
    }

    /// Starts an all-or-nothing write of one source's values.
    fn write(&self, source: &SourceId, mode: WriteMode) -> StoreResult<Box<dyn CountsWrite + '_>>;

    /// The source as last applied, if it ever was.
    fn source(&self, source: &SourceId) -> StoreResult<Option<SourceInfo>>;

    /// The sources holding repository-days, by name, and the repositories with counts, for
    /// operators (`/metrics`). May read the whole store: not for request paths.
    fn stats(&self) -> StoreResult<CountsStats>;

    /// The sources holding the organization's repository-days, by name: each one's
    /// repository-days of the organization (`rows`) and when the source last wrote anywhere
    /// (`applied_unix`: writes are not recorded per organization). Reads the organization's
    /// counts once; the dashboard asks it per page. Empty for a backend that cannot say.
    fn org_sources(&self, _org: &OrgName) -> StoreResult<Vec<SourceInfo>> {
        Ok(Vec::new())
    }

    /// The memory the cached organization indexes take and may take, for operators
    /// (`/metrics`); `None` for a store without such a cache.
    fn index_memory(&self) -> Option<IndexMemory> {
        None
    }

    /// The organization's data version: 0 before any write, then bumped by every committed
    /// write that touched it. Read in the same snapshot as the data the other reads return.
    fn version(&self, org: &OrgName) -> StoreResult<u64>;

    /// How many repositories of the organization have counts.
    fn repo_count(&self, org: &OrgName) -> StoreResult<u64>;

    /// Every repository of an organization, in export order. Shared, so that a backend may
    /// keep it per data version and hand it out without copying.
    fn repos(&self, org: &OrgName) -> StoreResult<RepoSummaries>;

    /// One repository, if it exists.
    fn repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>>;

    /// One repository, if it exists, with its days with downloads within `range` (every day
    /// when `None`), ascending: what [`Counts::repo`] and [`Counts::for_each_daily`] for that
    /// repository answer, read together (the drill-down's one read). A backend that keeps an
    /// index reads both from one version of it.
    fn repo_days(&self, repo: &RepoKey, range: Option<DayRange>) -> StoreResult<Option<RepoDays>> {
        let Some(summary) = self.repo(repo)? else {
            return Ok(None);
        };
        let mut days = Vec::new();
        let filter = DailyFilter {
            repos: Some(std::slice::from_ref(repo)),
            range,
        };
        self.for_each_daily(&repo.name.org(), filter, &mut |row| {
            days.push((row.day, row.downloads));
            Ok(())
        })?;
        Ok(Some(RepoDays { summary, days }))
    }

    /// Downloads per repository of the organization within `range`, aligned with the
    /// organization's repositories as [`Counts::repos`] lists them (the list it carries). A
    /// backend that keeps one list per data version hands out that list, so a reader that
    /// read `repos` at the same version reads sums by position. Shared, so that a backend may
    /// keep the answers of its recent ranges and hand them out without copying.
    fn period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<PeriodSums>;

    /// The organization's repository names for a search, aligned with [`Counts::repos`] as
    /// [`Counts::period_sums`] is. A backend that keeps one list per data version builds them
    /// once per version; by default they are built on every call.
    fn repo_names(&self, org: &OrgName) -> StoreResult<RepoNames> {
        Ok(RepoNames::new(self.repos(org)?))
    }

    /// Organization-wide downloads per day and repository type within `range` (all days when
    /// `None`), days ascending, days without downloads omitted.
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

    /// Removes every count of the organization (nothing for an organization without counts).
    /// Written again later, it starts from version 1 as a new organization. Kept log events
    /// of the organization are removed too.
    fn remove_org(&self, org: &OrgName) -> StoreResult<()>;

    /// The backend's store of request-log events, if it keeps them (`hubstats ingest` needs
    /// one; the reference store and test doubles do not).
    fn log_events(&self) -> Option<&dyn LogEvents> {
        None
    }

    /// The backend's store of hub snapshots, if it keeps them (`hubstats collect` needs one).
    fn hub_snapshots(&self) -> Option<&dyn HubSnapshots> {
        None
    }

    /// Calls `f` with every repository-day value `source` holds (not 0), by repository and
    /// day, for a copy of the store.
    fn source_days(
        &self,
        source: &SourceId,
        f: &mut dyn FnMut(&RepoKey, Day, u64) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let _ = (source, f);
        Err(cannot_copy("counts by source"))
    }
}

/// An open write of one source. Dropping it without [`CountsWrite::commit`] discards it.
pub trait CountsWrite {
    /// Sets the source's downloads of a repository-day (0 removes them). Setting one
    /// repository-day twice keeps the last value.
    fn set(&mut self, repo: &RepoKey, day: Day, downloads: u64) -> StoreResult<()>;

    /// Sets a repository's all-time total as of the end of this write: the adjustment becomes
    /// `total - sum(daily)` over every source once the write is applied.
    fn set_total(&mut self, repo: &RepoKey, total: u64) -> StoreResult<()>;

    /// Applies the write, or refuses it whole (a sum past [`MAX_COUNT`] is `Invalid`).
    fn commit(self: Box<Self>) -> StoreResult<Committed>;
}

/// A whole batch in memory, for small writes (an HTTP batch, a test).
#[derive(Debug, Clone)]
pub struct Batch {
    pub source: SourceId,
    pub mode: WriteMode,
    pub days: Vec<(RepoKey, Day, u64)>,
    pub totals: Vec<(RepoKey, u64)>,
}

impl Batch {
    pub fn new(source: SourceId, mode: WriteMode) -> Self {
        Batch {
            source,
            mode,
            days: Vec::new(),
            totals: Vec::new(),
        }
    }

    /// Writes the batch through `counts` in one write.
    pub fn apply(&self, counts: &dyn Counts) -> StoreResult<Committed> {
        let mut w = counts.write(&self.source, self.mode)?;
        for (repo, day, n) in &self.days {
            w.set(repo, *day, *n)?;
        }
        for (repo, total) in &self.totals {
            w.set_total(repo, *total)?;
        }
        w.commit()
    }
}

/// Organizations, users, memberships, API tokens and sign-in sessions. Secrets are never
/// stored: callers pass hashes (see `crate::accounts`).
pub trait Accounts: Send + Sync {
    fn create_org(&self, org: &OrgName, plan: Plan) -> StoreResult<()>;
    fn set_plan(&self, org: &OrgName, plan: Plan) -> StoreResult<()>;
    fn org(&self, org: &OrgName) -> StoreResult<Option<OrgInfo>>;
    fn orgs(&self) -> StoreResult<Vec<OrgInfo>>;

    /// The stored spelling of the organization whose name equals `org` ignoring ASCII case
    /// (names are unique so), if any: where a link typed in another case leads.
    fn org_ignoring_case(&self, org: &OrgName) -> StoreResult<Option<OrgName>> {
        let orgs = self.orgs()?;
        let same = |o: &&OrgInfo| o.name.as_str().eq_ignore_ascii_case(org.as_str());
        Ok(orgs.iter().find(same).map(|o| o.name.clone()))
    }

    /// Creates a user, created at `created_unix` (now, or the instant a copied store says).
    fn create_user(
        &self,
        user: &Username,
        password_hash: &str,
        created_unix: i64,
    ) -> StoreResult<()>;
    fn password_hash(&self, user: &Username) -> StoreResult<Option<String>>;

    fn set_member(&self, org: &OrgName, user: &Username, role: Role) -> StoreResult<()>;
    fn remove_member(&self, org: &OrgName, user: &Username) -> StoreResult<()>;
    fn role(&self, org: &OrgName, user: &Username) -> StoreResult<Option<Role>>;

    /// The organization (`None` when unknown) and the user's role in it (`None` for a
    /// non-member or an unknown user): what authorizing a request needs, read together where
    /// the backend can (one statement of the embedded store instead of two).
    fn org_and_role(
        &self,
        org: &OrgName,
        user: &Username,
    ) -> StoreResult<Option<(OrgInfo, Option<Role>)>> {
        let Some(info) = self.org(org)? else {
            return Ok(None);
        };
        Ok(Some((info, self.role(org, user)?)))
    }

    /// Stores a token's hash and its displayable `prefix`, created at `created_unix`.
    fn create_token(
        &self,
        user: &Username,
        token_hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()>;
    /// Revokes the token as of `at_unix`; `false` when no live token has this hash.
    fn revoke_token(&self, token_hash: &str, at_unix: i64) -> StoreResult<bool>;
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

    // ---- ingest keys (`POST /api/ingest`; `ingest-key create/list/revoke`) ----

    /// Stores an ingest key's hash and its displayable `prefix` under `name`, created at
    /// `created_unix`; `Conflict` when a live key already has that name.
    fn create_ingest_key(
        &self,
        name: &IngestKeyName,
        key_hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()>;
    /// Revokes the live key named `name` as of `at_unix`; `false` when there is none.
    fn revoke_ingest_key(&self, name: &IngestKeyName, at_unix: i64) -> StoreResult<bool>;
    /// The name of the live key with this hash (revoked and unknown keys: `None`).
    fn ingest_key(&self, key_hash: &str) -> StoreResult<Option<IngestKeyName>>;
    /// Every ingest key (live and revoked), oldest first.
    fn ingest_keys(&self) -> StoreResult<Vec<IngestKeyInfo>>;
    /// Records that a key was used now; best effort, like [`Accounts::touch_token`].
    fn touch_ingest_key(&self, key_hash: &str, now_unix: i64) -> StoreResult<()>;

    // ---- a copy of the whole store (`hubstats migrate`) ----

    /// Every API token with its hash and user, oldest first.
    fn token_records(&self) -> StoreResult<Vec<CredentialRecord<Username>>> {
        Err(cannot_copy("API tokens"))
    }
    /// Every ingest key with its hash and name, oldest first.
    fn ingest_key_records(&self) -> StoreResult<Vec<CredentialRecord<IngestKeyName>>> {
        Err(cannot_copy("ingest keys"))
    }
}

/// A token or an ingest key as a copy of the store needs it: its owner (a user, or the key's
/// name), its hash, its displayable prefix, and when it was made, last used and revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord<N> {
    pub owner: N,
    pub hash: String,
    pub prefix: Option<String>,
    pub created_unix: i64,
    pub last_used_unix: Option<i64>,
    pub revoked_unix: Option<i64>,
}

fn cannot_copy(what: &str) -> StoreError {
    StoreError::Invalid(format!("this store cannot list its {what} for a copy"))
}

/// An ingest key as `ingest-key list` shows it (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestKeyInfo {
    pub name: IngestKeyName,
    /// The key's first characters (`hsi_1a2b3c4d`).
    pub prefix: String,
    pub created_unix: i64,
    pub last_used_unix: Option<i64>,
    pub revoked_unix: Option<i64>,
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

/// Everything a caller that needs both contracts uses.
pub trait Store: Counts + Accounts {}
impl<T: Counts + Accounts> Store for T {}

pub type SharedStore = Arc<dyn Store>;

/// One accounts backend and one counts backend, used together.
#[derive(Clone)]
pub struct Stores {
    pub accounts: Arc<dyn Accounts>,
    pub counts: Arc<dyn Counts>,
}

impl Stores {
    /// A private pair of embedded stores in temporary files; for tests.
    pub fn memory() -> StoreResult<Self> {
        Ok(Stores {
            accounts: Arc::new(sqlite::SqliteAccounts::memory()?),
            counts: Arc::new(sqlite::SqliteCounts::memory()?),
        })
    }
}

/// Reads every organization on a paid plan (the ones with a dashboard) once, so that a backend
/// with a read index builds it now rather than on the first request after a start: its
/// repositories, and the per-repository sums of Last Month and the month before as of
/// `today` (what the dashboard's table and search sort by). Returns how many organizations
/// were read.
pub fn warm_up(store: &dyn Store, today: Day) -> StoreResult<usize> {
    let last_month = Period::resolve(PeriodKind::LastMonth, today, None, None)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let ranges = [last_month.range, last_month.previous()];
    let mut warmed = 0;
    for org in store.orgs()? {
        if org.plan != Plan::Free {
            store.repos(&org.name)?;
            for range in ranges.into_iter().flatten() {
                store.period_sums(&org.name, range)?;
            }
            warmed += 1;
        }
    }
    Ok(warmed)
}

/// Opens the stores a `--store` value names: `clickhouse://[user[:password]@]host:port/database`
/// for the ClickHouse backend (counts and accounts in that database), else a file path for the
/// embedded SQLite backend, which keeps counts in that file and accounts beside it (see
/// [`sqlite::accounts_path`]).
pub fn open(location: &str) -> StoreResult<SharedStore> {
    open_with_index_budget(location, index::DEFAULT_INDEX_BUDGET)
}

/// [`open`], with the memory the cached organization indexes may take (bytes).
pub fn open_with_index_budget(location: &str, index_budget: usize) -> StoreResult<SharedStore> {
    if let Some(parsed) = clickhouse::Location::parse(location) {
        let client = clickhouse::connect(&parsed?)?;
        let counts = clickhouse::ClickHouseCounts::new(client.clone());
        return Ok(Arc::new(Stores {
            accounts: Arc::new(clickhouse::ClickHouseAccounts::new(client)),
            counts: Arc::new(counts.with_index_budget(index_budget)),
        }));
    }
    let path = std::path::Path::new(location);
    let accounts = sqlite::SqliteAccounts::open(&sqlite::accounts_path(path))?;
    let counts = sqlite::SqliteCounts::open(path, Some(&accounts))?.with_index_budget(index_budget);
    Ok(Arc::new(Stores {
        accounts: Arc::new(accounts),
        counts: Arc::new(counts),
    }))
}

impl Accounts for Stores {
    fn create_org(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        self.accounts.create_org(org, plan)
    }
    fn set_plan(&self, org: &OrgName, plan: Plan) -> StoreResult<()> {
        self.accounts.set_plan(org, plan)
    }
    fn org(&self, org: &OrgName) -> StoreResult<Option<OrgInfo>> {
        self.accounts.org(org)
    }
    fn orgs(&self) -> StoreResult<Vec<OrgInfo>> {
        self.accounts.orgs()
    }
    fn org_ignoring_case(&self, org: &OrgName) -> StoreResult<Option<OrgName>> {
        self.accounts.org_ignoring_case(org)
    }
    fn create_user(
        &self,
        user: &Username,
        password_hash: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        self.accounts.create_user(user, password_hash, created_unix)
    }
    fn password_hash(&self, user: &Username) -> StoreResult<Option<String>> {
        self.accounts.password_hash(user)
    }
    fn set_member(&self, org: &OrgName, user: &Username, role: Role) -> StoreResult<()> {
        self.accounts.set_member(org, user, role)
    }
    fn remove_member(&self, org: &OrgName, user: &Username) -> StoreResult<()> {
        self.accounts.remove_member(org, user)
    }
    fn role(&self, org: &OrgName, user: &Username) -> StoreResult<Option<Role>> {
        self.accounts.role(org, user)
    }
    fn org_and_role(
        &self,
        org: &OrgName,
        user: &Username,
    ) -> StoreResult<Option<(OrgInfo, Option<Role>)>> {
        self.accounts.org_and_role(org, user)
    }
    fn create_token(
        &self,
        user: &Username,
        token_hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        self.accounts
            .create_token(user, token_hash, prefix, created_unix)
    }
    fn revoke_token(&self, token_hash: &str, at_unix: i64) -> StoreResult<bool> {
        self.accounts.revoke_token(token_hash, at_unix)
    }
    fn token_user(&self, token_hash: &str) -> StoreResult<Option<Username>> {
        self.accounts.token_user(token_hash)
    }
    fn create_session(&self, hash: &str, user: &Username, expires_unix: i64) -> StoreResult<()> {
        self.accounts.create_session(hash, user, expires_unix)
    }
    fn session_user(&self, hash: &str, now_unix: i64) -> StoreResult<Option<Username>> {
        self.accounts.session_user(hash, now_unix)
    }
    fn delete_session(&self, hash: &str) -> StoreResult<()> {
        self.accounts.delete_session(hash)
    }
    fn users(&self) -> StoreResult<Vec<UserInfo>> {
        self.accounts.users()
    }
    fn set_password_hash(&self, user: &Username, password_hash: &str) -> StoreResult<()> {
        self.accounts.set_password_hash(user, password_hash)
    }
    fn delete_user(&self, user: &Username) -> StoreResult<()> {
        self.accounts.delete_user(user)
    }
    fn members(&self, org: &OrgName) -> StoreResult<Vec<(Username, Role)>> {
        self.accounts.members(org)
    }
    fn tokens(&self, user: &Username) -> StoreResult<Vec<TokenInfo>> {
        self.accounts.tokens(user)
    }
    fn touch_token(&self, token_hash: &str, now_unix: i64) -> StoreResult<()> {
        self.accounts.touch_token(token_hash, now_unix)
    }
    /// Deletes the organization's counts, then its account (memberships included).
    fn delete_org(&self, org: &OrgName) -> StoreResult<()> {
        if self.accounts.org(org)?.is_none() {
            return Err(StoreError::NotFound(format!("organization {org}")));
        }
        self.counts.remove_org(org)?;
        self.accounts.delete_org(org)
    }
    fn create_ingest_key(
        &self,
        name: &IngestKeyName,
        hash: &str,
        prefix: &str,
        created_unix: i64,
    ) -> StoreResult<()> {
        self.accounts
            .create_ingest_key(name, hash, prefix, created_unix)
    }
    fn revoke_ingest_key(&self, name: &IngestKeyName, at_unix: i64) -> StoreResult<bool> {
        self.accounts.revoke_ingest_key(name, at_unix)
    }
    fn ingest_key(&self, key_hash: &str) -> StoreResult<Option<IngestKeyName>> {
        self.accounts.ingest_key(key_hash)
    }
    fn ingest_keys(&self) -> StoreResult<Vec<IngestKeyInfo>> {
        self.accounts.ingest_keys()
    }
    fn touch_ingest_key(&self, key_hash: &str, now_unix: i64) -> StoreResult<()> {
        self.accounts.touch_ingest_key(key_hash, now_unix)
    }
    fn token_records(&self) -> StoreResult<Vec<CredentialRecord<Username>>> {
        self.accounts.token_records()
    }
    fn ingest_key_records(&self) -> StoreResult<Vec<CredentialRecord<IngestKeyName>>> {
        self.accounts.ingest_key_records()
    }
}

impl Counts for Stores {
    fn reads_are_local(&self) -> bool {
        self.counts.reads_are_local()
    }
    fn index_is_current(&self, org: &OrgName) -> bool {
        self.counts.index_is_current(org)
    }
    fn write(&self, source: &SourceId, mode: WriteMode) -> StoreResult<Box<dyn CountsWrite + '_>> {
        self.counts.write(source, mode)
    }
    fn source(&self, source: &SourceId) -> StoreResult<Option<SourceInfo>> {
        self.counts.source(source)
    }
    fn stats(&self) -> StoreResult<CountsStats> {
        self.counts.stats()
    }
    fn org_sources(&self, org: &OrgName) -> StoreResult<Vec<SourceInfo>> {
        self.counts.org_sources(org)
    }
    fn index_memory(&self) -> Option<IndexMemory> {
        self.counts.index_memory()
    }
    fn version(&self, org: &OrgName) -> StoreResult<u64> {
        self.counts.version(org)
    }
    fn repo_count(&self, org: &OrgName) -> StoreResult<u64> {
        self.counts.repo_count(org)
    }
    fn repos(&self, org: &OrgName) -> StoreResult<RepoSummaries> {
        self.counts.repos(org)
    }
    fn repo(&self, repo: &RepoKey) -> StoreResult<Option<RepoSummary>> {
        self.counts.repo(repo)
    }
    fn repo_days(&self, repo: &RepoKey, range: Option<DayRange>) -> StoreResult<Option<RepoDays>> {
        self.counts.repo_days(repo, range)
    }
    fn period_sums(&self, org: &OrgName, range: DayRange) -> StoreResult<PeriodSums> {
        self.counts.period_sums(org, range)
    }
    fn repo_names(&self, org: &OrgName) -> StoreResult<RepoNames> {
        self.counts.repo_names(org)
    }
    fn org_daily(
        &self,
        org: &OrgName,
        range: Option<DayRange>,
    ) -> StoreResult<Vec<(Day, RepoType, u64)>> {
        self.counts.org_daily(org, range)
    }
    fn for_each_daily(
        &self,
        org: &OrgName,
        filter: DailyFilter<'_>,
        f: &mut dyn FnMut(DailyRow<'_>) -> std::io::Result<()>,
    ) -> StoreResult<()> {
        self.counts.for_each_daily(org, filter, f)
    }
    fn remove_org(&self, org: &OrgName) -> StoreResult<()> {
        self.counts.remove_org(org)
    }
    fn log_events(&self) -> Option<&dyn LogEvents> {
        self.counts.log_events()
    }
    fn hub_snapshots(&self) -> Option<&dyn HubSnapshots> {
        self.counts.hub_snapshots()
    }
    fn source_days(
        &self,
        source: &SourceId,
        f: &mut dyn FnMut(&RepoKey, Day, u64) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.counts.source_days(source, f)
    }
}
