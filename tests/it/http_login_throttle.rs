//! Sign-in throttling through the router: failures are counted per user name and per client
//! address, and a caller over the limit gets a 429 with `Retry-After` before any password check.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{form_encode, input_value, password_of, Auth, TestApp, TestResponse};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request};
use hubstats::web::throttle::{Limits, LoginThrottle};

/// An app with users alice and bob, whose throttle clock moves only when the test says so.
fn app() -> (TestApp, Arc<AtomicU64>) {
    app_with(|_| {})
}

/// [`app`] with a configuration adjusted by `f`.
fn app_with(f: impl FnOnce(&mut hubstats::config::Config)) -> (TestApp, Arc<AtomicU64>) {
    let mut app = TestApp::with_config(f);
    app.user("alice");
    app.user("bob");
    let start = Instant::now();
    let secs = Arc::new(AtomicU64::new(0));
    let s = Arc::clone(&secs);
    let clock = move || start + Duration::from_secs(s.load(Ordering::SeqCst));
    app.throttle = Arc::new(LoginThrottle::new(Limits::default(), clock));
    (app, secs)
}

async fn csrf(app: &TestApp) -> String {
    let res = app.get_html("/login", &Auth::None).await;
    input_value(&res.text(), "csrf").expect("a csrf field")
}

/// POST /login as `user` with `password`, from `peer` when given (as `axum::serve` with
/// connection info would).
async fn attempt(app: &TestApp, user: &str, password: &str, peer: Option<&str>) -> TestResponse {
    attempt_with(app, user, password, peer, &[]).await
}

/// [`attempt`] with extra request headers.
async fn attempt_with(
    app: &TestApp,
    user: &str,
    password: &str,
    peer: Option<&str>,
    headers: &[(&str, &str)],
) -> TestResponse {
    let csrf = csrf(app).await;
    let body = form_encode(&[
        ("username", user),
        ("password", password),
        ("csrf", csrf.as_str()),
    ]);
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, format!("hubstats_login_csrf={csrf}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let mut req = req.body(Body::from(body)).unwrap();
    if let Some(peer) = peer {
        let addr: SocketAddr = peer.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    app.send(req).await
}

fn retry_after(res: &TestResponse) -> u64 {
    res.header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After in seconds")
}

#[tokio::test]
async fn sixth_wrong_password_is_refused_with_retry_after_and_other_users_are_unaffected() {
    let (app, secs) = app();
    for i in 1..=5 {
        let res = attempt(&app, "alice", "wrong", None).await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = attempt(&app, "alice", "wrong", None).await;
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(retry_after(&res), 15 * 60);
    assert!(
        res.text().contains("Too many failed sign-in attempts"),
        "{}",
        res.text()
    );

    // The right password does not get through while the user name is locked.
    secs.store(10 * 60, Ordering::SeqCst);
    let res = attempt(&app, "alice", &password_of("alice"), None).await;
    assert_eq!(res.status, 429);
    assert_eq!(res.set_cookie("hubstats_session"), None);
    assert_eq!(retry_after(&res), 5 * 60);

    let res = attempt(&app, "bob", &password_of("bob"), None).await;
    assert_eq!(res.status, 303, "another user signs in: {}", res.text());

    // When the window has passed, the right password works again.
    secs.store(15 * 60, Ordering::SeqCst);
    let res = attempt(&app, "alice", &password_of("alice"), None).await;
    assert_eq!(res.status, 303, "{}", res.text());
}

#[tokio::test]
async fn success_clears_the_user_names_failures() {
    let (app, _) = app();
    for _ in 0..4 {
        assert_eq!(attempt(&app, "alice", "wrong", None).await.status, 401);
    }
    assert_eq!(
        attempt(&app, "alice", &password_of("alice"), None)
            .await
            .status,
        303
    );
    for i in 1..=5 {
        let res = attempt(&app, "alice", "wrong", None).await;
        assert_eq!(res.status, 401, "attempt {i} after a success");
    }
    assert_eq!(attempt(&app, "alice", "wrong", None).await.status, 429);
}

#[tokio::test]
async fn one_address_is_limited_across_user_names_and_others_are_not() {
    let (app, _) = app();
    let attacker = Some("203.0.113.7:4000");
    for i in 0..20 {
        let res = attempt(&app, &format!("guess{i}"), "wrong", attacker).await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = attempt(&app, "bob", &password_of("bob"), attacker).await;
    assert_eq!(res.status, 429, "{}", res.text());
    assert!(retry_after(&res) > 0);

    let res = attempt(&app, "bob", &password_of("bob"), Some("198.51.100.1:5000")).await;
    assert_eq!(res.status, 303, "{}", res.text());
}

/// Regression: five wrong passwords for bob from anywhere locked bob out, right password
/// included.
#[tokio::test]
async fn guessing_from_one_address_does_not_lock_the_owner_out() {
    let (app, _) = app();
    let attacker = Some("203.0.113.7:4000");
    for i in 1..=5 {
        assert_eq!(
            attempt(&app, "bob", "wrong", attacker).await.status,
            401,
            "{i}"
        );
    }
    let res = attempt(&app, "bob", &password_of("bob"), attacker).await;
    assert_eq!(res.status, 429, "the guessing address waits");
    let owner = Some("198.51.100.1:5000");
    let res = attempt(&app, "bob", &password_of("bob"), owner).await;
    assert_eq!(
        res.status,
        303,
        "the owner signs in at once: {}",
        res.text()
    );
}

#[tokio::test]
async fn guessing_from_many_addresses_is_slowed_down() {
    let (app, secs) = app();
    for i in 0..6 {
        let peer = format!("203.0.113.{i}:4000");
        assert_eq!(attempt(&app, "bob", "wrong", Some(&peer)).await.status, 401);
    }
    // An address that has failed before now waits between guesses.
    let res = attempt(&app, "bob", "wrong", Some("203.0.113.0:4000")).await;
    assert_eq!(res.status, 429, "{}", res.text());
    assert_eq!(retry_after(&res), 1);
    secs.store(1, Ordering::SeqCst);
    assert_eq!(
        attempt(&app, "bob", "wrong", Some("203.0.113.0:4000"))
            .await
            .status,
        401
    );
    let res = attempt(&app, "bob", "wrong", Some("203.0.113.1:4000")).await;
    assert_eq!(retry_after(&res), 2);
    // A fresh address with the right password is not made to wait.
    let res = attempt(&app, "bob", &password_of("bob"), Some("198.51.100.1:5000")).await;
    assert_eq!(res.status, 303, "{}", res.text());
}

/// Regression: `X-Forwarded-For` was trusted from any loopback peer, so one header bypassed
/// the per-address limit.
#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let (app, _) = app();
    let local = Some("127.0.0.1:40000");
    for i in 0..20 {
        let spoofed = format!("198.51.100.{i}");
        let res = attempt_with(
            &app,
            &format!("guess{i}"),
            "wrong",
            local,
            &[("x-forwarded-for", &spoofed)],
        )
        .await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = attempt_with(
        &app,
        "bob",
        &password_of("bob"),
        local,
        &[("x-forwarded-for", "192.0.2.200")],
    )
    .await;
    assert_eq!(res.status, 429, "counted against 127.0.0.1: {}", res.text());
}

#[tokio::test]
async fn behind_a_local_proxy_the_forwarded_address_is_limited_and_spoofing_is_not_trusted() {
    let (app, _) = app_with(|c| {
        c.trusted_proxies = vec![hubstats::config::parse_net("127.0.0.1").unwrap()];
    });
    let proxy = Some("127.0.0.1:40000");
    let from = |client: &'static str| [("x-forwarded-for", client)];
    for i in 0..20 {
        // The attacker's own X-Forwarded-For value comes first; the proxy appends the real one.
        let spoofed = format!("10.0.0.{i}, 203.0.113.7");
        let res = attempt_with(
            &app,
            &format!("guess{i}"),
            "wrong",
            proxy,
            &[("x-forwarded-for", &spoofed)],
        )
        .await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = attempt_with(
        &app,
        "bob",
        &password_of("bob"),
        proxy,
        &from("203.0.113.7"),
    )
    .await;
    assert_eq!(res.status, 429, "{}", res.text());
    let res = attempt_with(
        &app,
        "bob",
        &password_of("bob"),
        proxy,
        &from("198.51.100.1"),
    )
    .await;
    assert_eq!(
        res.status,
        303,
        "another client behind the proxy: {}",
        res.text()
    );

    // A remote peer cannot choose its address with the header.
    let remote = Some("203.0.113.9:4000");
    for i in 0..20 {
        let res = attempt_with(
            &app,
            &format!("remote{i}"),
            "wrong",
            remote,
            &from("198.51.100.1"),
        )
        .await;
        assert_eq!(res.status, 401, "attempt {i}");
    }
    let res = attempt_with(&app, "bob", &password_of("bob"), remote, &from("192.0.2.1")).await;
    assert_eq!(res.status, 429, "{}", res.text());
}
