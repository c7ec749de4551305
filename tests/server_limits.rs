//! The server's bounds on a real socket (127.0.0.1:0, in-process): slow and idle clients are
//! cut off, connections are capped, non-streaming requests time out, and password hashing is
//! a bounded pool that answers 503 with `Retry-After` beyond its queue.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{password_of, TestApp};
use hubstats::config::ServerLimits;
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
    let mut config = app.config.clone();
    config.limits = limits;
    let state = AppState {
        store: app.store.clone(),
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

/// A request whose body trickles in is answered 503 at the request timeout.
#[test]
fn a_non_streaming_request_times_out() {
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
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(started.elapsed() < Duration::from_secs(3));
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
