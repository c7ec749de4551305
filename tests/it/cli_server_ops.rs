//! Operating `hubstats serve` through the built binary: request logs (text and JSON) with the
//! request id the response names, a graceful stop on SIGTERM and SIGINT that checkpoints the
//! store, and memory under a sign-in flood.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn hubstats(store: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hubstats"));
    for var in [
        "HUBSTATS_STORE",
        "HUBSTATS_TODAY",
        "HUBSTATS_CONFIG",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("--store").arg(store);
    cmd
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `serve` child whose standard error goes to `log`.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Served {
    fn start(store: &Path, log: &Path, extra: &[&str]) -> Served {
        let mut cmd = hubstats(store);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(extra);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines.next().expect("a Listening line").unwrap();
            if let Some(a) = line.strip_prefix("Listening on http://") {
                break a.trim().parse().unwrap();
            }
        };
        Served { child, addr }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait(&mut self, within: Duration) -> ExitStatus {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "still running after {within:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill(); // this child only, by its PID
        let _ = self.child.wait();
    }
}

/// A GET with `X-Request-Id: id`; the response head.
fn get_with_id(addr: SocketAddr, path: &str, id: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nX-Request-Id: {id}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

fn store_with_org(dir: &Path) -> std::path::PathBuf {
    let store = dir.join("hubstats.db");
    run_ok(hubstats(&store).args(["org", "create", "acme", "--plan", "team"]));
    store
}

/// Regression: nothing was logged at all, and SIGTERM killed the server with data in `-wal`.
#[test]
fn json_request_logs_and_a_graceful_sigterm_that_checkpoints_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_org(dir.path());
    let log = dir.path().join("serve.log");
    let mut served = Served::start(&store, &log, &["--log-format", "json"]);
    let res = get_with_id(served.addr, "/readyz", "probe-1");
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(
        res.to_lowercase().contains("x-request-id: probe-1"),
        "{res}"
    );
    let res = get_with_id(
        served.addr,
        "/organizations/acme/settings/publisher-analytics",
        "probe-2",
    );
    assert!(res.starts_with("HTTP/1.1 401"), "{res}");
    // A write while serving: a token, so the write-ahead log has something to checkpoint.
    run_ok(
        hubstats(&store)
            .args(["user", "create", "bob", "--password-stdin"])
            .stdin(
                std::fs::File::open({
                    let p = dir.path().join("pw");
                    std::fs::write(&p, "long enough pw\n").unwrap();
                    p
                })
                .unwrap(),
            ),
    );
    served.signal("TERM");
    let status = served.wait(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    let wal = dir.path().join("hubstats.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the write-ahead log was checkpointed"
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let request = |id: &str| {
        lines
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no line for {id} in\n{text}"))
            .clone()
    };
    let ready = request("probe-1");
    assert_eq!(ready["method"], "GET");
    assert_eq!(ready["route"], "/readyz");
    assert_eq!(ready["status"], 200);
    assert!(ready["latency_ms"].as_f64().is_some(), "{ready}");
    assert_eq!(ready["bytes"], 6);
    let denied = request("probe-2");
    assert_eq!(
        denied["route"],
        "/organizations/{org}/settings/publisher-analytics"
    );
    assert_eq!(denied["status"], 401);
    assert!(text.contains("SIGTERM received"), "{text}");
}

#[test]
fn sigint_stops_after_the_request_in_flight_and_logs_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_org(dir.path());
    let log = dir.path().join("serve.log");
    let mut served = Served::start(&store, &log, &[]);
    // A request whose body is still coming when the signal arrives is served to the end.
    let mut s = TcpStream::connect(served.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    served.signal("INT");
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(b"X-Request-Id: late-1\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(served.wait(Duration::from_secs(20)).success());
    // Nobody is accepted any more.
    assert!(TcpStream::connect(served.addr).is_err());
    let log = std::fs::read_to_string(&log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("request_id=late-1"))
        .unwrap_or_else(|| panic!("{log}"));
    for field in [
        "method=GET",
        "route=/readyz",
        "status=200",
        "bytes=6",
        "latency_ms=",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
}

/// The peak resident memory of a process, from `/proc`.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kib / 1024
}

/// Regression: 250 parallel sign-ins took the server to 6.7 GiB. The issue asks for under
/// 300 MB; this build stays near 50 MiB, so 150 catches a regression early.
#[test]
#[ignore = "slow: 250 parallel sign-ins against the built binary"]
fn a_login_flood_keeps_memory_under_150_mib() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_org(dir.path());
    let log = dir.path().join("serve.log");
    let served = Served::start(&store, &log, &[]);
    let addr = served.addr;
    let flood: Vec<_> = (0..250)
        .map(|i| {
            std::thread::spawn(move || {
                let body = format!("username=user{i}&password=wrong-password&csrf=t");
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                write!(
                    s,
                    "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: hubstats_login_csrf=t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                let mut text = String::new();
                let _ = s.read_to_string(&mut text);
                text.split_whitespace().nth(1).unwrap_or("none").to_owned()
            })
        })
        .collect();
    let statuses: Vec<String> = flood.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().any(|s| s == "503"), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| ["401", "429", "503"].contains(&s.as_str())),
        "{statuses:?}"
    );
    let peak = peak_rss_mib(served.child.id());
    eprintln!(
        "peak RSS {peak} MiB; statuses: {} x 503",
        statuses.iter().filter(|s| *s == "503").count()
    );
    assert!(peak < 150, "peak RSS {peak} MiB");
}
