//! Accounts: passwords, API tokens, sign-in sessions and the access rule, over `&dyn Accounts`.
//! This module knows nothing of HTTP; the web layer maps [`AccessError`] to status codes.
//!
//! Secrets are never stored: passwords as argon2id PHC strings (random salt), API tokens and
//! session ids as SHA-256 hex digests (both are 256-bit random values, so a fast hash suffices).
//!
//! The access rule ([`authorize`]): no, unknown, revoked or expired credentials → `Unauthenticated`;
//! an organization that does not exist → `UnknownOrg`; a caller who is not a member →
//! `NotMember`; a member of an organization without analytics (the free plan) → `NotPaid`;
//! otherwise an [`Access`]. Membership is checked before the plan so that a non-member learns
//! nothing about the organization's plan.

use std::cmp::Ordering;
use std::fmt;
use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::PasswordHasher;
use argon2::Argon2;
use rand::TryRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::{IngestKeyName, OrgName, Plan, Role, Username};
use crate::store::{Accounts, OrgInfo, StoreError};

/// How long a sign-in lasts.
pub const SESSION_DAYS: i64 = 14;
/// Every API token starts with this, so leaked tokens are easy to recognise and grep for.
pub const TOKEN_PREFIX: &str = "hs_";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the password is empty")]
    EmptyPassword,
    #[error("hashing the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("sign in or send a valid API token (Authorization: Bearer <token>)")]
    Unauthenticated,
    #[error("organization {0} does not exist")]
    UnknownOrg(OrgName),
    #[error("you are not a member of organization {0}")]
    NotMember(OrgName),
    #[error("organization {0} is not on a paid plan: publisher analytics need the Team or Enterprise plan")]
    NotPaid(OrgName),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A secret session id as held by the browser's cookie. Its `Debug` does not show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId(String);

impl SessionId {
    /// Wraps the value of a session cookie (not checked: unknown ids simply match no session).
    pub fn from_cookie(value: &str) -> Self {
        SessionId(value.to_owned())
    }
    /// The cookie value.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were presented.
    Anonymous,
    /// Credentials were presented but are unknown, revoked or expired.
    Rejected,
    /// A user, identified by an API token (`session: None`) or a sign-in session.
    User {
        user: Username,
        session: Option<SessionId>,
    },
}

impl Principal {
    pub fn user(&self) -> Option<&Username> {
        match self {
            Principal::User { user, .. } => Some(user),
            _ => None,
        }
    }
    pub fn session(&self) -> Option<&SessionId> {
        match self {
            Principal::User { session, .. } => session.as_ref(),
            _ => None,
        }
    }
}

/// Proof that `user` may read `org`'s analytics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub org: OrgName,
    pub user: Username,
    pub role: Role,
    pub plan: Plan,
}

/// Applies the access rule (see the module docs).
pub fn authorize(
    store: &dyn Accounts,
    org: &OrgName,
    principal: &Principal,
) -> Result<Access, AccessError> {
    let Principal::User { user, .. } = principal else {
        return Err(AccessError::Unauthenticated);
    };
    let (info, role) = store
        .org_and_role(org, user)?
        .ok_or_else(|| AccessError::UnknownOrg(org.clone()))?;
    let role = role.ok_or_else(|| AccessError::NotMember(org.clone()))?;
    if !info.plan.has_analytics() {
        return Err(AccessError::NotPaid(org.clone()));
    }
    Ok(Access {
        org: org.clone(),
        user: user.clone(),
        role,
        plan: info.plan,
    })
}

/// Every organization, in the order lists show them: [`display_order`].
pub fn orgs_for_display(store: &dyn Accounts) -> Result<Vec<OrgInfo>, StoreError> {
    let mut orgs = store.orgs()?;
    orgs.sort_by(|a, b| display_order(&a.name, &b.name));
    Ok(orgs)
}

/// How people expect names listed: ignoring ASCII case (`acme-ai` before `Northwind-Labs`),
/// then by bytes so that names differing only in case keep a fixed order.
pub fn display_order(a: &OrgName, b: &OrgName) -> Ordering {
    let (a, b) = (a.as_str(), b.as_str());
    let folded = a.bytes().map(|c| c.to_ascii_lowercase());
    folded
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
        .then_with(|| a.cmp(b))
}

/// The organizations `user` belongs to, with the user's role, in [`display_order`].
pub fn memberships(
    store: &dyn Accounts,
    user: &Username,
) -> Result<Vec<(OrgInfo, Role)>, StoreError> {
    let mut out = Vec::new();
    for org in orgs_for_display(store)? {
        if let Some(role) = store.role(&org.name, user)? {
            out.push((org, role));
        }
    }
    Ok(out)
}

// ---- passwords ----

/// An argon2id PHC string for `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.is_empty() {
        return Err(AccountError::EmptyPassword);
    }
    // A random 16-byte salt from the operating system.
    let hash: PasswordHash = Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

thread_local! {
    /// The calling thread's argon2 memory, kept between checks (see [`verify_password`]).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Frees the calling thread's argon2 memory (a thread that checks passwords calls it when it
/// goes idle, so a burst of sign-ins leaves nothing behind).
pub fn release_password_memory() {
    BLOCKS.with(|cell| {
        if let Ok(mut memory) = cell.try_borrow_mut() {
            *memory = Vec::new();
        }
    });
}

/// Bytes of argon2 memory the calling thread holds.
pub fn password_memory_held() -> usize {
    BLOCKS.with(|cell| {
        cell.try_borrow()
            .map_or(0, |m| m.capacity() * std::mem::size_of::<argon2::Block>())
    })
}

/// Whether `password` matches a PHC string (a malformed string matches nothing).
///
/// Each thread reuses one buffer for argon2's memory (19 MiB at the default cost) instead of
/// allocating it per check: freed blocks that large are kept by the allocator in its per-thread
/// arenas, so a flood of sign-ins grew the process by about 0.4 MiB per check (243 MiB after
/// 538 checks, measured), while a reused buffer holds it at one block set per hashing thread.
/// The buffer is given back by [`release_password_memory`] when the thread has nothing to do.
pub fn verify_password(phc: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed = BLOCKS.with(|cell| {
        let Ok(mut memory) = cell.try_borrow_mut() else {
            return false;
        };
        memory.resize(blocks, argon2::Block::default());
        argon2
            .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory[..])
            .is_ok()
    });
    computed && secrets_equal_bytes(&out, expected.as_bytes())
}

/// [`secrets_equal`] for bytes.
fn secrets_equal_bytes(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Creates a user with a password.
pub fn create_user(
    store: &dyn Accounts,
    user: &Username,
    password: &str,
) -> Result<(), AccountError> {
    store.create_user(user, &hash_password(password)?, now_unix())?;
    Ok(())
}

/// Checks a sign-in. Unknown users cost as much time as wrong passwords, so response times do
/// not tell which user names exist.
pub fn check_password(
    store: &dyn Accounts,
    user: &Username,
    password: &str,
) -> Result<bool, AccountError> {
    match store.password_hash(user)? {
        Some(phc) => Ok(verify_password(&phc, password)),
        None => {
            static DUMMY: OnceLock<Option<String>> = OnceLock::new();
            if let Some(phc) = DUMMY.get_or_init(|| hash_password("not a password").ok()) {
                verify_password(phc, password);
            }
            Ok(false)
        }
    }
}

// ---- tokens and sessions ----

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source");
    hex::encode(bytes)
}

/// SHA-256 hex of a secret: what the store keeps of tokens and session ids.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates an API token for `user` and returns it; it cannot be shown again.
pub fn create_token(store: &dyn Accounts, user: &Username) -> Result<String, AccountError> {
    let token = format!("{TOKEN_PREFIX}{}", random_hex());
    store.create_token(user, &secret_hash(&token), token_prefix(&token), now_unix())?;
    Ok(token)
}

/// What `token list` shows of a token: `hs_` and its first 8 random characters (32 bits, not
/// enough to guess the rest).
pub fn token_prefix(token: &str) -> &str {
    let end = TOKEN_PREFIX.len() + 8;
    token.get(..end).unwrap_or(token)
}

/// Revokes a token; `false` when no live token matches.
pub fn revoke_token(store: &dyn Accounts, token: &str) -> Result<bool, AccountError> {
    Ok(store.revoke_token(&secret_hash(token.trim()), now_unix())?)
}

/// Who a presented API token belongs to (revoked and unknown tokens → `Rejected`).
pub fn principal_from_token(store: &dyn Accounts, token: &str) -> Result<Principal, StoreError> {
    let hash = secret_hash(token);
    Ok(match store.token_user(&hash)? {
        Some(user) => {
            store.touch_token(&hash, now_unix())?;
            Principal::User {
                user,
                session: None,
            }
        }
        None => Principal::Rejected,
    })
}

/// Who a presented session id belongs to (unknown and expired sessions → `Rejected`).
pub fn principal_from_session(
    store: &dyn Accounts,
    id: &SessionId,
) -> Result<Principal, StoreError> {
    Ok(
        match store.session_user(&secret_hash(id.secret()), now_unix())? {
            Some(user) => Principal::User {
                user,
                session: Some(id.clone()),
            },
            None => Principal::Rejected,
        },
    )
}

/// Starts a session for `user` lasting [`SESSION_DAYS`].
pub fn start_session(store: &dyn Accounts, user: &Username) -> Result<SessionId, AccountError> {
    let id = SessionId(random_hex());
    let expires = now_unix() + SESSION_DAYS * 86_400;
    store.create_session(&secret_hash(id.secret()), user, expires)?;
    Ok(id)
}

/// Ends a session (signing out); unknown ids are ignored.
pub fn end_session(store: &dyn Accounts, id: &SessionId) -> Result<(), StoreError> {
    store.delete_session(&secret_hash(id.secret()))
}

// ---- ingest keys ----

/// Every ingest key starts with this (API tokens with [`TOKEN_PREFIX`]): the two are told
/// apart at a glance, and neither is accepted where the other is expected.
pub const INGEST_KEY_PREFIX: &str = "hsi_";

/// Creates an ingest key named `name` and returns it; it cannot be shown again.
pub fn create_ingest_key(
    store: &dyn Accounts,
    name: &IngestKeyName,
) -> Result<String, AccountError> {
    let key = format!("{INGEST_KEY_PREFIX}{}", random_hex());
    let end = INGEST_KEY_PREFIX.len() + 8;
    store.create_ingest_key(name, &secret_hash(&key), &key[..end], now_unix())?;
    Ok(key)
}

/// The name of the live ingest key presented (revoked and unknown keys, and API tokens:
/// `None`); records its use.
pub fn ingest_key_name(
    store: &dyn Accounts,
    key: &str,
) -> Result<Option<IngestKeyName>, StoreError> {
    let hash = secret_hash(key);
    let name = store.ingest_key(&hash)?;
    if name.is_some() {
        store.touch_ingest_key(&hash, now_unix())?;
    }
    Ok(name)
}

/// A random value for one-off secrets such as a sign-in form's CSRF token.
pub fn random_secret() -> String {
    random_hex()
}

/// Compares two secrets in time independent of where they differ (only a difference in length
/// answers early).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    secrets_equal_bytes(a.as_bytes(), b.as_bytes())
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests;
