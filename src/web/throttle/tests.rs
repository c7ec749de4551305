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

#[test]
fn a_window_closes_after_its_duration() {
    let (t, secs) = throttle(Limits::default());
    for _ in 0..5 {
        drop(t.begin("alice", None).unwrap());
    }
    secs.store(60, Ordering::SeqCst);
    let refused = t.begin("alice", None).err().unwrap();
    assert_eq!(refused.retry_after, Duration::from_secs(14 * 60));
    assert_eq!(refused.retry_after_secs(), 14 * 60);
    secs.store(15 * 60, Ordering::SeqCst);
    assert!(t.begin("alice", None).is_ok());
}

#[test]
fn user_names_are_counted_without_case_or_spaces() {
    let (t, _) = throttle(Limits::default());
    for name in ["alice", "Alice", " ALICE ", "alice", "aLice"] {
        drop(t.begin(name, None).unwrap());
    }
    assert!(t.begin("alice", None).is_err());
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
    assert!(t.begin("e", None).is_ok(), "only that address is refused");
}

#[test]
fn memory_stays_bounded() {
    let (t, secs) = throttle(Limits::default());
    for i in 0..MAX_KEYS + 10 {
        drop(t.begin(&format!("user{i}"), None).unwrap());
    }
    assert_eq!(t.len(), MAX_KEYS);
    secs.store(16 * 60, Ordering::SeqCst);
    drop(t.begin("late", None).unwrap());
    assert_eq!(t.len(), 1, "expired windows are dropped first");
}
