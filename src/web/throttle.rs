//! Sign-in throttling. Every `POST /login` costs an argon2 hash, and guessing a password must
//! stay slow without letting anyone lock a user out:
//!
//! - per (user name, client address): after `per_pair` failures in a window, that address gets
//!   429 with `Retry-After` for that user until the window ends;
//! - per client address: after `per_ip` failures (whatever the user names), 429 likewise;
//! - per user name, from any address: after `slow_after` failures the account is *slowed*,
//!   not locked — attempts from addresses that have failed before are spaced out (1 s, 2 s,
//!   4 s, … at most `max_delay`), while an address without failures is let through at once,
//!   so the account's owner signs in with the right password even during an attack.
//!
//! An attempt is counted *before* the password is checked ([`LoginThrottle::begin`]), so
//! concurrent requests cannot all slip in under the limit; a successful sign-in gives it back
//! ([`Attempt::succeeded`]): the user's counts are cleared and the address's drops by one.
//! User names are compared exactly as accounts are looked up (trimmed, case-sensitive).
//!
//! Memory is bounded: at most [`MAX_KEYS`] keys; when full, expired windows are dropped, then
//! the oldest, a tenth of the room at a time (so a flood of new user names pays one pass over
//! the map per thousand of them, not per attempt: evicting one at a time had the sign-in
//! flood of the load test spend half the server's CPU scanning this map). The clock is
//! injectable so tests need not sleep.
//!
//! Hand-written rather than `governor`: that crate limits the *rate of requests* (GCRA) and
//! has no way to clear one key after a success, nor a bound on the number of keys.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// Failures allowed per (user name, address) and per address, when a user name starts being
/// slowed down, the longest delay between its attempts, and the window failures count in.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_pair: u32,
    pub per_ip: u32,
    pub slow_after: u32,
    pub max_delay: Duration,
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_pair: 5,
            per_ip: 20,
            slow_after: 5,
            max_delay: Duration::from_secs(60),
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// How many keys the throttle remembers at most.
pub const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Pair(String, Option<IpAddr>),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    count: u32,
    /// When the next attempt is allowed (user names being slowed down).
    next: Instant,
}

type Clock = dyn Fn() -> Instant + Send + Sync;

/// Counts sign-in attempts; shared by all requests of a router.
pub struct LoginThrottle {
    limits: Limits,
    clock: Box<Clock>,
    windows: Mutex<HashMap<Key, Window>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(Limits::default(), Instant::now)
    }
}

/// Too many attempts: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl Throttled {
    /// `Retry-After` in whole seconds, rounded up (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// A counted attempt; call [`Attempt::succeeded`] when the password was right.
#[must_use]
pub struct Attempt {
    throttle: Arc<LoginThrottle>,
    user: Key,
    pair: Key,
    ip: Option<Key>,
}

impl Attempt {
    /// Takes the attempt back entirely (the password was never checked).
    pub fn not_counted(self) {
        let mut windows = self.throttle.lock();
        for key in [&self.user, &self.pair].into_iter().chain(self.ip.as_ref()) {
            if let Some(w) = windows.get_mut(key) {
                w.count = w.count.saturating_sub(1);
            }
        }
    }

    pub fn succeeded(self) {
        let mut windows = self.throttle.lock();
        windows.remove(&self.user);
        windows.remove(&self.pair);
        if let Some(w) = self.ip.as_ref().and_then(|ip| windows.get_mut(ip)) {
            w.count = w.count.saturating_sub(1);
        }
    }
}

impl LoginThrottle {
    pub fn new(limits: Limits, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        LoginThrottle {
            limits,
            clock: Box::new(clock),
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Window>> {
        // The map stays consistent whatever panicked while holding it.
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an attempt to sign in as `username` from `ip`, or refuses it when a limit says
    /// so (then nothing is counted).
    pub fn begin(
        self: &Arc<Self>,
        username: &str,
        ip: Option<IpAddr>,
    ) -> Result<Attempt, Throttled> {
        let now = (self.clock)();
        let name = username.trim().to_owned();
        let user = Key::User(name.clone());
        let pair = Key::Pair(name, ip);
        let ip = ip.map(Key::Ip);
        let mut windows = self.lock();
        let live = |key: &Key| windows.get(key).filter(|w| self.is_open(w, now)).copied();
        let checks = [
            (Some(&pair), self.limits.per_pair),
            (ip.as_ref(), self.limits.per_ip),
        ];
        let mut wait = checks
            .into_iter()
            .filter_map(|(key, limit)| self.wait(&live(key?)?, limit, now))
            .max();
        // Slowing the user name down applies only to addresses that have failed before.
        let known = live(&pair).is_some() || ip.as_ref().and_then(&live).is_some();
        if let Some(w) = live(&user).filter(|_| known) {
            if w.count >= self.limits.slow_after && w.next > now {
                wait = wait.max(Some(w.next - now));
            }
        }
        if let Some(retry_after) = wait {
            return Err(Throttled { retry_after });
        }
        for key in [&user, &pair].into_iter().chain(ip.as_ref()) {
            self.count(&mut windows, key, now);
        }
        if let Some(w) = windows.get_mut(&user) {
            let over = w.count.saturating_sub(self.limits.slow_after);
            if over > 0 {
                let delay = Duration::from_secs(1u64 << over.min(16).saturating_sub(1));
                w.next = now + delay.min(self.limits.max_delay);
            }
        }
        drop(windows);
        Ok(Attempt {
            throttle: Arc::clone(self),
            user,
            pair,
            ip,
        })
    }

    fn is_open(&self, w: &Window, now: Instant) -> bool {
        now.saturating_duration_since(w.opened) < self.limits.window
    }

    /// How long a key that has reached `limit` must wait; `None` when it may try.
    fn wait(&self, w: &Window, limit: u32, now: Instant) -> Option<Duration> {
        let ends = w.opened + self.limits.window;
        (w.count >= limit && ends > now).then(|| ends - now)
    }

    fn count(&self, windows: &mut HashMap<Key, Window>, key: &Key, now: Instant) {
        if !windows.contains_key(key) && windows.len() >= MAX_KEYS {
            self.make_room(windows, now);
        }
        let fresh = Window {
            opened: now,
            count: 0,
            next: now,
        };
        let w = windows.entry(key.clone()).or_insert(fresh);
        if now.saturating_duration_since(w.opened) >= self.limits.window {
            *w = fresh;
        }
        w.count += 1;
    }

    /// Drops expired windows, then the oldest ones until a tenth of the room is free.
    fn make_room(&self, windows: &mut HashMap<Key, Window>, now: Instant) {
        let window = self.limits.window;
        windows.retain(|_, w| now.saturating_duration_since(w.opened) < window);
        let keep = MAX_KEYS - MAX_KEYS / 10;
        let Some(excess) = windows.len().checked_sub(keep).filter(|n| *n > 0) else {
            return;
        };
        // The `excess`-th oldest opening: every window opened before it goes, and as many
        // opened at that very instant as it takes.
        let mut opened: Vec<Instant> = windows.values().map(|w| w.opened).collect();
        let cutoff = *opened.select_nth_unstable(excess - 1).1;
        windows.retain(|_, w| w.opened >= cutoff);
        let mut over = windows.len().saturating_sub(keep);
        windows.retain(|_, w| {
            let drop = over > 0 && w.opened == cutoff;
            over -= usize::from(drop);
            !drop
        });
    }

    /// How many keys are remembered (for tests of the bound).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The client's address when the server was started with connection info (see
/// [`super::serve`]); `None` in in-process tests that do not provide it.
///
/// When the peer is one of the configured `trusted_proxies`, the client is the rightmost
/// address of `X-Forwarded-For` that is not itself a trusted proxy (entries to its left were
/// written by the client and prove nothing). From any other peer the header is ignored.
pub struct ClientIp(pub Option<IpAddr>);

/// The client behind `peer` given the `X-Forwarded-For` values (see [`ClientIp`]).
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpNet],
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for value in forwarded_for.rev() {
        for entry in value.rsplit(',') {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                return client;
            };
            client = ip;
            if !is_trusted(&ip) {
                return client;
            }
        }
    }
    client
}

impl FromRequestParts<super::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientIp(None));
        };
        let values = parts.headers.get_all("x-forwarded-for").iter();
        let values = values.filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
        let trusted = &state.config.trusted_proxies;
        Ok(ClientIp(Some(client_ip(
            peer.ip(),
            values.into_iter(),
            trusted,
        ))))
    }
}

#[cfg(test)]
mod tests;
