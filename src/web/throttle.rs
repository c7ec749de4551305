//! Sign-in throttling: every `POST /login` costs an argon2 hash, so failures are counted per
//! user name and per client address, and a caller over the limit gets a 429 with `Retry-After`
//! before any hash is computed.
//!
//! Each key has a fixed window that opens at its first counted attempt. An attempt is counted
//! *before* the password is checked ([`LoginThrottle::begin`]), so concurrent requests cannot
//! all slip in under the limit; a successful sign-in gives it back ([`Attempt::succeeded`]):
//! the user name's count is cleared and the address's count drops by one.
//!
//! Memory is bounded: at most [`MAX_KEYS`] keys; when full, expired windows are dropped, then
//! the oldest. The clock is injectable so tests need not sleep.
//!
//! Hand-written rather than `governor`: that crate limits the *rate of requests* (GCRA) and
//! has no way to clear one key after a success, nor a bound on the number of keys.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// Failures allowed per user name, per client address, and the window they are counted in.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_user: u32,
    pub per_ip: u32,
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_user: 5,
            per_ip: 20,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// How many keys the throttle remembers at most.
pub const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    opened: Instant,
    count: u32,
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
    ip: Option<Key>,
}

impl Attempt {
    pub fn succeeded(self) {
        let mut windows = self.throttle.lock();
        windows.remove(&self.user);
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

    /// Counts an attempt to sign in as `username` from `ip`, or refuses it when either is
    /// over its limit (then nothing is counted).
    pub fn begin(
        self: &Arc<Self>,
        username: &str,
        ip: Option<IpAddr>,
    ) -> Result<Attempt, Throttled> {
        let now = (self.clock)();
        let user = Key::User(username.trim().to_lowercase());
        let ip = ip.map(Key::Ip);
        let mut windows = self.lock();
        let checks = [
            (Some(&user), self.limits.per_user),
            (ip.as_ref(), self.limits.per_ip),
        ];
        let wait = checks
            .into_iter()
            .filter_map(|(key, limit)| self.wait(windows.get(key?)?, limit, now))
            .max();
        if let Some(retry_after) = wait {
            return Err(Throttled { retry_after });
        }
        for key in std::iter::once(&user).chain(ip.as_ref()) {
            self.count(&mut windows, key, now);
        }
        drop(windows);
        Ok(Attempt {
            throttle: Arc::clone(self),
            user,
            ip,
        })
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
        let w = windows.entry(key.clone()).or_insert(Window {
            opened: now,
            count: 0,
        });
        if now.saturating_duration_since(w.opened) >= self.limits.window {
            *w = Window {
                opened: now,
                count: 0,
            };
        }
        w.count += 1;
    }

    /// Drops expired windows; if none had expired, the oldest one.
    fn make_room(&self, windows: &mut HashMap<Key, Window>, now: Instant) {
        let window = self.limits.window;
        windows.retain(|_, w| now.saturating_duration_since(w.opened) < window);
        if windows.len() >= MAX_KEYS {
            let oldest = windows.iter().min_by_key(|(_, w)| w.opened);
            if let Some(key) = oldest.map(|(k, _)| k.clone()) {
                windows.remove(&key);
            }
        }
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
/// When the peer is a loopback address (a reverse proxy on the same host), the client is the
/// last address of `X-Forwarded-For` — the one that proxy appended; earlier entries come from
/// the client and are not trusted. Without this, every client behind the proxy would share
/// one address and 20 failures would lock everyone out.
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = || {
            let values = parts.headers.get_all("x-forwarded-for").iter();
            let last = values.filter_map(|v| v.to_str().ok()).next_back()?;
            last.rsplit(',').next()?.trim().parse().ok()
        };
        Ok(ClientIp(match peer {
            Some(ip) if ip.is_loopback() => forwarded().or(Some(ip)),
            other => other,
        }))
    }
}

#[cfg(test)]
mod tests;
