use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// A throttle whose clock moves only when the test says so.
fn throttle(limits: Limits) -> (Arc<LoginThrottle>, Arc<AtomicU64>) {
    let start = Instant::now();
    let secs = Arc::new(AtomicU64::new(0));
    let s = Arc::clone(&secs);
    let clock = move || start + Duration::from_secs(s.load(Ordering::SeqCst));
    (Arc::new(LoginThrottle::new(limits, clock)), secs)
}

const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

fn ip(last: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, last)))
}

#[test]
fn a_window_closes_after_its_duration() {
    let (t, secs) = throttle(Limits::default());
    for _ in 0..5 {
        drop(t.begin("alice", IP).unwrap());
    }
    secs.store(60, Ordering::SeqCst);
    let refused = t.begin("alice", IP).err().unwrap();
    assert_eq!(refused.retry_after, Duration::from_secs(14 * 60));
    assert_eq!(refused.retry_after_secs(), 14 * 60);
    secs.store(15 * 60, Ordering::SeqCst);
    assert!(t.begin("alice", IP).is_ok());
}

/// Regression: names were lowercased for throttling though accounts match case-sensitively.
#[test]
fn user_names_are_counted_as_accounts_are_matched() {
    let (t, _) = throttle(Limits::default());
    for name in ["alice", " alice ", "alice", "alice", "alice"] {
        drop(t.begin(name, IP).unwrap());
    }
    assert!(t.begin("alice", IP).is_err());
    assert!(t.begin("Alice", IP).is_ok(), "another account");
}

/// Regression: five failures from anywhere locked the user out, right password included.
#[test]
fn failures_from_one_address_do_not_lock_the_user_out_elsewhere() {
    let (t, _) = throttle(Limits::default());
    for _ in 0..5 {
        drop(t.begin("bob", ip(1)).unwrap());
    }
    assert!(t.begin("bob", ip(1)).is_err(), "the guessing address waits");
    assert!(
        t.begin("bob", ip(2)).is_ok(),
        "a fresh address signs in at once"
    );
}

#[test]
fn guessing_from_many_addresses_is_slowed_down_but_fresh_addresses_pass() {
    let (t, secs) = throttle(Limits::default());
    for i in 0..6 {
        drop(t.begin("bob", ip(i)).unwrap());
    }
    // A seventh guess from an address that has failed before waits 1 s, then 2 s, ...
    let wait = t.begin("bob", ip(0)).err().unwrap();
    assert_eq!(wait.retry_after, Duration::from_secs(1));
    secs.store(1, Ordering::SeqCst);
    drop(t.begin("bob", ip(0)).unwrap());
    assert_eq!(
        t.begin("bob", ip(1)).err().unwrap().retry_after,
        Duration::from_secs(2)
    );
    // The owner, from an address without failures, is not made to wait.
    t.begin("bob", ip(200)).unwrap().succeeded();
    assert!(
        t.begin("bob", ip(1)).is_ok(),
        "success clears the slow-down"
    );
}

#[test]
fn the_address_limit_spans_user_names_and_success_gives_back_one() {
    let limits = Limits {
        per_ip: 3,
        ..Limits::default()
    };
    let (t, _) = throttle(limits);
    drop(t.begin("a", IP).unwrap());
    t.begin("b", IP).unwrap().succeeded();
    drop(t.begin("c", IP).unwrap());
    drop(t.begin("d", IP).unwrap());
    assert!(t.begin("e", IP).is_err());
    assert!(t.begin("e", ip(9)).is_ok(), "only that address is refused");
}

#[test]
fn memory_stays_bounded() {
    let (t, secs) = throttle(Limits::default());
    for i in 0..MAX_KEYS / 2 + 10 {
        drop(t.begin(&format!("user{i}"), None).unwrap());
    }
    let full = t.len();
    assert!(
        (MAX_KEYS - MAX_KEYS / 10..=MAX_KEYS).contains(&full),
        "{full} keys"
    );
    secs.store(16 * 60, Ordering::SeqCst);
    // Enough new user names to fill the map again: the sweep then drops every expired window.
    let late = (MAX_KEYS - full) / 2 + 1;
    for i in 0..late {
        drop(t.begin(&format!("late{i}"), None).unwrap());
    }
    assert!(
        t.len() <= 2 * late,
        "expired windows are dropped first: {}",
        t.len()
    );
}

#[test]
fn a_full_map_forgets_the_oldest_windows_first() {
    let limits = Limits::default();
    let (t, secs) = throttle(limits);
    let ip = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
    let fail = |user: &str, from| {
        for _ in 0..limits.per_pair {
            drop(t.begin(user, from).unwrap());
        }
        assert!(t.begin(user, from).is_err(), "{user} is throttled");
    };
    fail("early", ip(1));
    secs.store(60, Ordering::SeqCst);
    for i in 0..MAX_KEYS / 2 - 10 {
        drop(t.begin(&format!("flood{i}"), None).unwrap());
    }
    secs.store(120, Ordering::SeqCst);
    fail("recent", ip(2));
    secs.store(180, Ordering::SeqCst);
    // Half the room again: the flood's first keys (and the early ones) make way.
    for i in 0..MAX_KEYS / 4 {
        drop(t.begin(&format!("more{i}"), None).unwrap());
        assert!(t.len() <= MAX_KEYS);
    }
    assert!(
        t.begin("recent", ip(2)).is_err(),
        "kept: newer than the flood's first keys"
    );
    assert!(
        t.begin("early", ip(1)).is_ok(),
        "forgotten: the oldest window"
    );
}

#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    let nets: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
    let proxy: IpAddr = "10.0.0.5".parse().unwrap();
    let stranger: IpAddr = "127.0.0.1".parse().unwrap();
    let client = |peer, xff: &[&str]| client_ip(peer, xff.iter().copied(), &nets).to_string();
    assert_eq!(
        client(stranger, &["203.0.113.9"]),
        "127.0.0.1",
        "not trusted: ignored"
    );
    assert_eq!(client(proxy, &["203.0.113.9"]), "203.0.113.9");
    assert_eq!(
        client(proxy, &["1.1.1.1, 203.0.113.9, 10.0.0.7"]),
        "203.0.113.9",
        "the rightmost address that is not a proxy"
    );
    assert_eq!(client(proxy, &["1.1.1.1", "203.0.113.9"]), "203.0.113.9");
    assert_eq!(client(proxy, &["junk"]), "10.0.0.5");
    assert_eq!(client(proxy, &[]), "10.0.0.5");
    assert_eq!(
        client_ip(proxy, ["203.0.113.9"].into_iter(), &[]),
        proxy,
        "default: none"
    );
}
