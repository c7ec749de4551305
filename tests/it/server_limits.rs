//! The server's bounds on a real socket (127.0.0.1:0, in-process): slow and idle clients are
//! cut off, connections are capped, non-streaming requests time out (408 while the body is
//! still arriving, else 503 as for a store that does not answer), password hashing is a
//! bounded pool that answers 503 with `Retry-After` beyond its queue, and slow clients of one
//! organization hold up neither another's CSV export nor a small ingest batch.

use crate::common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{org_name, password_of, TestApp};
use hubstats::config::{Config, ServerLimits};
use hubstats::domain::{Day, IngestKeyName, Plan, RepoKey, RepoName, RepoType, Role};
use hubstats::store::clickhouse::{ClickHouseCounts, Client, Location};
use hubstats::store::sqlite::SqliteAccounts;
use hubstats::store::{Accounts, Batch, SharedStore, SourceId, Stores, WriteMode};
use hubstats::web::breakdown::ExportSlots;
use hubstats::web::hashing::HashingPool;
use hubstats::web::server::serve_until;
use hubstats::web::{AppState, Shared};

/// A server over `app`'s store with `limits`, stopped when the value is dropped.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(app: &TestApp, limits: ServerLimits, shared: Shared) -> Running {
    start_on(app.store.clone(), app.config.clone(), limits, shared)
}

/// A server over `store` with `config` and `limits`.
fn start_on(
    store: SharedStore,
    mut config: Config,
    limits: ServerLimits,
    shared: Shared,
) -> Running {
    config.limits = limits;
    let state = AppState {
        store,
        config: Arc::new(config),
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(serve_until(
                state,
                shared,
                move |addr| addr_tx.send(addr).unwrap(),
                async {
                    let _ = stop_rx.await;
                },
            ))
            .unwrap();
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    Running {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(1),
        max_connections: 64,
        shutdown_timeout: Duration::from_secs(2),
    }
}

/// Whether the server has closed `stream` (reads end or fail) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let until = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A complete GET over a new connection; the status line, or `None` without an answer.
fn get(addr: SocketAddr, path: &str, wait: Duration) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(wait)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.lines().next().map(str::to_owned)
}

/// Regression: a client sending a byte every 20 s kept its connection forever.
#[test]
fn a_client_that_trickles_its_headers_is_disconnected() {
    let app = TestApp::new();
    let server = start(&app, limits(), Shared::default());
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut cut = false;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(200));
        if slow.write_all(b"X").is_err() || closed_within(&mut slow, Duration::from_millis(1)) {
            cut = true;
            break;
        }
    }
    assert!(cut, "still open after {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_idle_connection_is_closed() {
    let app = TestApp::new();
    let server = start(&app, limits(), Shared::default());
    let mut idle = TcpStream::connect(server.addr).unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(4)));
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = TestApp::new();
    let limits = ServerLimits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        ..limits()
    };
    let server = start(&app, limits, Shared::default());
    let mut hogs: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        get(server.addr, "/healthz", Duration::from_millis(700)),
        None,
        "a third connection is not served while two are open"
    );
    drop(hogs.pop());
    let status = get(server.addr, "/healthz", Duration::from_secs(5));
    assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
}

/// Regression: a request whose body trickled in was answered 503 with an empty body at the
/// request timeout, as if the server were at fault; it is the client's: 408, saying so.
#[test]
fn a_request_whose_body_trickles_in_gets_408_at_the_request_timeout() {
    let app = TestApp::new();
    let server = start(&app, limits(), Shared::default());
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut s, started);
    assert!(answer.text.starts_with("HTTP/1.1 408"), "{}", answer.text);
    assert!(answer.text.contains("did not arrive"), "{}", answer.text);
    assert!(answer.first_byte < Duration::from_secs(3), "{answer:?}");
}

#[derive(Debug)]
struct Answer {
    text: String,
    /// From the given start to the answer's first byte.
    first_byte: Duration,
}

/// What the server sends on `s` until it closes the connection or stops sending for 5 s.
fn read_answer(s: &mut TcpStream, started: Instant) -> Answer {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let mut first_byte = None;
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                first_byte.get_or_insert_with(|| started.elapsed());
                bytes.extend_from_slice(&buf[..n]);
            }
        }
    }
    Answer {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        first_byte: first_byte.unwrap_or(Duration::MAX),
    }
}

/// POSTs a sign-in over a new connection; the status code and `Retry-After`.
fn login(addr: SocketAddr, user: &str, password: &str) -> (u16, Option<String>) {
    let body = format!("username={user}&password={password}&csrf=t");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: hubstats_login_csrf=t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let retry = text
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .map(str::to_owned);
    (status, retry)
}

/// Regression: every sign-in ran argon2 at once; 250 in parallel took 6.7 GiB.
#[test]
fn a_login_flood_beyond_the_hashing_queue_gets_503_with_retry_after() {
    let app = TestApp::new();
    app.user("alice");
    let shared = Shared {
        hashing: Arc::new(HashingPool::new(1, 2)),
        ..Shared::default()
    };
    let limits = ServerLimits {
        request_timeout: Duration::from_secs(30),
        ..limits()
    };
    let server = start(&app, limits, shared);
    let addr = server.addr;
    let flood: Vec<_> = (0..16)
        .map(|i| std::thread::spawn(move || login(addr, &format!("user{i}"), "wrong-password")))
        .collect();
    let results: Vec<(u16, Option<String>)> =
        flood.into_iter().map(|t| t.join().unwrap()).collect();
    let busy: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!busy.is_empty(), "{results:?}");
    assert!(
        busy.iter().all(|(_, r)| r.as_deref() == Some("1")),
        "{results:?}"
    );
    assert!(
        results.iter().all(|(s, _)| *s == 503 || *s == 401),
        "{results:?}"
    );
    // Afterwards the right password gets through.
    let (status, _) = login(addr, "alice", &password_of("alice"));
    assert_eq!(status, 303);
}

/// Limits that cut no slow client short within a test's time: what holds a request up in the
/// tests below is then the server's own scheduling, not a timeout.
fn patient_limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_secs(60),
        ..limits()
    }
}

/// Records `repos` repositories of `org` with `days` days of downloads each, in one batch.
fn many_rows(app: &TestApp, org: &str, repos: u32, days: i32) {
    let mut batch = Batch::new(
        SourceId::parse(&format!("rows-{org}")).unwrap(),
        WriteMode::Replace,
    );
    for r in 0..repos {
        let key = RepoKey {
            repo_type: RepoType::Model,
            name: RepoName::parse(&format!("{org}/model-{r:06}")).unwrap(),
        };
        for d in 0..days {
            batch.days.push((
                key.clone(),
                Day::from_epoch_days(19_000 + d),
                1_000 + d as u64,
            ));
        }
    }
    batch.apply(app.store.as_ref()).unwrap();
}

/// Sends a GET of `path` with a bearer token over a new connection.
fn send_get(addr: SocketAddr, path: &str, token: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    s
}

fn csv_path(org: &str) -> String {
    format!("/organizations/{org}/settings/publisher-analytics/download-breakdown")
}

/// Regression: with one export slot, a client reading its (large) export at 5 KiB/s held the
/// slot for as long as it read, and another organization's small export waited for all of
/// it (48 s in the report, for a 289 KB file).
#[test]
fn a_slow_reader_of_one_export_does_not_hold_up_another_organizations() {
    let app = TestApp::new();
    for (org, user) in [("big", "mallory"), ("small", "alice")] {
        app.org(org, Plan::Team);
        app.user(user);
        app.member(org, user, Role::Read);
    }
    // About 40 MB of CSV: far more than the export's buffer and both sockets' buffers hold.
    many_rows(&app, "big", 700, 1000);
    many_rows(&app, "small", 20, 100);
    let (mallory, alice) = (app.token("mallory"), app.token("alice"));
    let shared = Shared {
        exports: Arc::new(ExportSlots::new(1)),
        ..Shared::default()
    };
    let server = start(&app, patient_limits(), shared);

    let mut slow = send_get(server.addr, &csv_path("big"), &mallory);
    let mut buf = [0u8; 1024];
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.read_exact(&mut buf).unwrap();
    assert!(
        buf.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf)
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            // 1 KiB every 200 ms: never idle, never done.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if slow.read(&mut buf).map_or(true, |n| n == 0) {
                    return false;
                }
            }
            true
        })
    };
    // Give the big export time to fill every buffer on its way and wait on its reader.
    std::thread::sleep(Duration::from_secs(2));

    let started = Instant::now();
    let mut other = send_get(server.addr, &csv_path("small"), &alice);
    other
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut text = String::new();
    let read = other.read_to_string(&mut text);
    let took = started.elapsed();
    eprintln!("the small export took {took:?} beside the slow reader");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reader_still_reading = reader.join().unwrap();
    assert!(read.is_ok(), "{read:?} after {took:?}");
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(200)]
    );
    assert_eq!(text.matches("small/model-").count(), 20 * 100);
    assert!(
        took < Duration::from_secs(5),
        "the small export took {took:?}"
    );
    assert!(reader_still_reading, "the slow reader's export ended early");
}

/// A POST of a one-line `jsonl` batch over a new connection; the status line, or what went
/// wrong.
fn post_one_line(addr: SocketAddr, key: &str, wait: Duration) -> String {
    let body = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/bert","path":"config.json"}"#;
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    write!(
        s,
        "POST /api/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/x-ndjson\r\nIdempotency-Key: one-line\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    match s.read_to_string(&mut text) {
        Ok(_) => text.lines().next().unwrap_or("").to_owned(),
        Err(e) => format!("no answer: {e}"),
    }
}

/// Regression: four uploads sending a byte a second held every ingest body slot, and a
/// one-line batch waited for the request timeout to cut them (28 s in the report).
#[test]
fn slow_uploads_do_not_hold_up_a_one_line_batch() {
    let app = TestApp::new();
    app.org("acme", Plan::Team);
    let key = hubstats::accounts::create_ingest_key(
        app.store.as_ref(),
        &IngestKeyName::parse("shipper").unwrap(),
    )
    .unwrap();
    let server = start(&app, patient_limits(), Shared::default());
    let addr = server.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let uploads: Vec<_> = (0..6)
        .map(|i| {
            let (key, stop) = (key.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                write!(
                    s,
                    "POST /api/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/x-ndjson\r\nIdempotency-Key: slow-{i}\r\nContent-Length: 100000\r\n\r\n"
                )
                .unwrap();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if s.write_all(b" ").is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        })
        .collect();
    // Every slow upload has sent its headers and is trickling its body.
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let status = post_one_line(addr, &key, Duration::from_secs(20));
    let took = started.elapsed();
    eprintln!("the one-line batch took {took:?} beside the slow uploads: {status}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for upload in uploads {
        upload.join().unwrap();
    }
    assert_eq!(status, "HTTP/1.1 200 OK", "after {took:?}");
    assert!(took < Duration::from_secs(5), "the batch took {took:?}");
}

/// A stand-in for a frozen ClickHouse server (`kill -STOP`): connections are accepted (by
/// the kernel, as for a stopped process) and never answered. Dropping it closes them.
struct Frozen {
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Frozen {
    fn new() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut held = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok((s, _)) = listener.accept() {
                        held.push(s);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        Frozen {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A store whose accounts answer (SQLite) and whose counts are on ClickHouse at `port`, with
/// `acme` (Team), its member alice, and her API token.
fn counts_on_clickhouse(port: u16) -> (SharedStore, String) {
    let location = Location::parse(&format!("clickhouse://127.0.0.1:{port}/db?timeout=60"))
        .unwrap()
        .unwrap();
    let store = Stores {
        accounts: Arc::new(SqliteAccounts::memory().unwrap()),
        counts: Arc::new(ClickHouseCounts::new(Arc::new(Client::new(&location)))),
    };
    store.create_org(&org_name("acme"), Plan::Team).unwrap();
    hubstats::accounts::create_user(&store, &common::username("alice"), "pw").unwrap();
    store
        .set_member(&org_name("acme"), &common::username("alice"), Role::Read)
        .unwrap();
    let token = hubstats::accounts::create_token(&store, &common::username("alice")).unwrap();
    (Arc::new(store), token)
}

/// The status line, `Retry-After` and JSON `error` of an answer.
fn status_retry_error(answer: &str) -> (String, Option<String>, Option<String>) {
    let status = answer.lines().next().unwrap_or("").to_owned();
    let retry = answer
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .map(str::to_owned);
    let error = answer
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .and_then(|v| v["error"].as_str().map(str::to_owned));
    (status, retry, error)
}

/// Regression: with its ClickHouse frozen (`kill -STOP`), the API answered 503 at the
/// request timeout with an empty body and no `Retry-After`; now exactly as when ClickHouse
/// refuses connections: 503, `Retry-After` and the message saying the database is not
/// answering.
#[test]
fn a_frozen_clickhouse_is_answered_as_an_unreachable_one() {
    let path = "/api/organizations/acme/analytics";
    let limits = ServerLimits {
        request_timeout: Duration::from_secs(2),
        ..patient_limits()
    };
    let config = TestApp::new().config;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let (store, token) = counts_on_clickhouse(closed_port);
    let server = start_on(store, config.clone(), limits, Shared::default());
    let mut s = send_get(server.addr, path, &token);
    let unreachable = read_answer(&mut s, Instant::now());
    drop(server);
    let (status, retry, error) = status_retry_error(&unreachable.text);
    assert!(status.starts_with("HTTP/1.1 503"), "{}", unreachable.text);
    assert_eq!(retry.as_deref(), Some("10"), "{}", unreachable.text);
    assert!(error.is_some(), "{}", unreachable.text);

    let frozen = Frozen::new();
    let (store, token) = counts_on_clickhouse(frozen.port);
    let server = start_on(store, config, limits, Shared::default());
    let started = Instant::now();
    let mut s = send_get(server.addr, path, &token);
    let answer = read_answer(&mut s, started);
    // The frozen server's sockets close first, so that the store read stuck on one ends
    // and the server can stop.
    drop(frozen);
    drop(server);
    assert!(
        answer.first_byte < Duration::from_secs(10),
        "{:?}",
        answer.first_byte
    );
    assert_eq!(
        status_retry_error(&answer.text),
        (status, retry, error),
        "{}",
        answer.text
    );
}
