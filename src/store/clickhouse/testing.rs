//! A private ClickHouse server for tests: started from a temporary directory with a copy of
//! the system's configuration (`/etc/clickhouse-server/config.xml`) whose data and log paths
//! are moved into that directory, listening on 127.0.0.1 only, on free ports of its own. It is
//! killed (by its process id) when dropped. Each [`ClickHouseServer::location`] names a fresh
//! database, so every test store starts empty. [`ClickHouseServer::stop`] and
//! [`ClickHouseServer::restart`] take it down and bring it back on the same data and ports,
//! for tests of what hubstats does while its store is away. [`ClickHouseCluster`] starts
//! two such servers whose `remote_servers` name both as the shards of [`TEST_CLUSTER`] (one
//! server per shard, no replicas).
//!
//! With `HUBSTATS_TEST_CLICKHOUSE=chdb` in the environment, [`ClickHouseServer`] is a current
//! ClickHouse engine instead: PyPI's `chdb` behind `tests/tools/chdb_http.py`, which serves
//! the HTTP interface the same way (same data directory, ports, stop and restart). Clusters
//! always run on clickhouse-server (chdb has none).
//!
//! A missing `clickhouse-server` is an error, not a skip: the tests that use this are
//! marked `#[ignore = "needs clickhouse-server"]` so that a plain `cargo test` passes without
//! it, and fail when asked to run.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{connect, Location};

const SYSTEM_CONFIG: &str = "/etc/clickhouse-server/config.xml";

/// Where Debian puts the server (`/usr/sbin`), or where other packages do.
fn server_binary() -> Result<PathBuf, String> {
    let candidates = ["/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"];
    if let Some(found) = candidates.iter().map(Path::new).find(|p| p.is_file()) {
        return Ok(found.to_path_buf());
    }
    let in_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("clickhouse-server"))
            .find(|p| p.is_file())
    });
    in_path.ok_or_else(|| {
        "clickhouse-server is not installed (apt-get install clickhouse-server clickhouse-client; \
         scripts/test installs it)"
            .to_owned()
    })
}

/// What a [`ClickHouseServer`] runs.
enum Engine {
    /// `clickhouse-server`, at this path.
    Server(PathBuf),
    /// `tests/tools/chdb_http.py` (a current ClickHouse engine in process).
    Chdb,
}

/// The environment variable choosing the engine of single test servers, and its one value
/// other than the default.
pub const ENGINE_VARIABLE: &str = "HUBSTATS_TEST_CLICKHOUSE";

impl Engine {
    /// The engine of a single server (`clusters` empty) or of a cluster's server.
    fn chosen(clusters: &str) -> Result<Self, String> {
        let chdb = std::env::var(ENGINE_VARIABLE).is_ok_and(|v| v == "chdb");
        if chdb && clusters.is_empty() {
            Ok(Engine::Chdb)
        } else {
            server_binary().map(Engine::Server)
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Engine::Server(_) => "clickhouse-server",
            Engine::Chdb => "chdb_http.py",
        }
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Where the first opening tag of the element `tag` is in `config` (`<tag>`, or with
/// attributes: `<tag incl="…">`), outside comments, which may name elements too.
fn open_tag(config: &str, tag: &str) -> Option<std::ops::Range<usize>> {
    let mut from = 0;
    loop {
        let at = from + config[from..].find('<')?;
        let rest = &config[at..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            from = at + 4 + comment.find("-->")? + 3;
            continue;
        }
        let named = rest[1..].strip_prefix(tag);
        if named.is_some_and(|after| after.starts_with(|c: char| c == '>' || c.is_whitespace())) {
            return Some(at..at + rest.find('>')? + 1);
        }
        from = at + 1;
    }
}

/// Replaces the content of the first element `tag` with `value`.
fn set_tag(config: &str, tag: &str, value: &str) -> Result<String, String> {
    let open = open_tag(config, tag).ok_or_else(|| format!("no <{tag}> in {SYSTEM_CONFIG}"))?;
    let end = open.end
        + config[open.end..]
            .find(&format!("</{tag}>"))
            .ok_or_else(|| format!("no </{tag}> in {SYSTEM_CONFIG}"))?;
    Ok(format!("{}{value}{}", &config[..open.end], &config[end..]))
}

/// `config` with `clusters` (XML elements) added first in its `remote_servers` section: a
/// plain `<remote_servers>` in current packages, `<remote_servers incl="…" >` in older ones.
fn add_clusters(config: &str, clusters: &str) -> Result<String, String> {
    let open = open_tag(config, "remote_servers")
        .filter(|open| !config[open.clone()].ends_with("/>"))
        .ok_or_else(|| format!("no <remote_servers> section in {SYSTEM_CONFIG}"))?;
    Ok(format!(
        "{}{clusters}{}",
        &config[..open.end],
        &config[open.end..]
    ))
}

pub struct ClickHouseServer {
    /// The running server; `None` while stopped.
    child: Option<Child>,
    dir: tempfile::TempDir,
    engine: Engine,
    pub http_port: u16,
}

static DATABASES: AtomicU32 = AtomicU32::new(0);

impl ClickHouseServer {
    /// Starts a server and waits until it answers `SELECT 1`; panics when it cannot.
    pub fn start() -> Self {
        with_fresh_ports(Self::try_start)
            .unwrap_or_else(|e| panic!("cannot start a test ClickHouse: {e}"))
    }

    pub fn try_start() -> Result<Self, String> {
        Self::try_start_with(Ports::free()?, "")
    }

    /// Starts a server on `ports` with `clusters` (XML elements) added to its `remote_servers`.
    fn try_start_with(ports: Ports, clusters: &str) -> Result<Self, String> {
        let engine = Engine::chosen(clusters)?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        if let Engine::Chdb = engine {
            let mut server = ClickHouseServer {
                child: None,
                dir,
                engine,
                http_port: ports.http,
            };
            server.spawn()?;
            return Ok(server);
        }
        let root = dir.path();
        let system = std::fs::read_to_string(SYSTEM_CONFIG)
            .map_err(|e| format!("reading {SYSTEM_CONFIG}: {e}"))?;
        let data = format!("{}/data/", root.display());
        let logs = format!("{}/log/", root.display());
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        let http_port = ports.http;
        let mut config = system
            .replace("/var/lib/clickhouse/", &data)
            .replace("/var/log/clickhouse-server/", &logs)
            .replace("<listen_host>::1</listen_host>", "");
        config = set_tag(&config, "http_port", &http_port.to_string())?;
        config = set_tag(&config, "tcp_port", &ports.tcp.to_string())?;
        config = set_tag(
            &config,
            "interserver_http_port",
            &ports.interserver.to_string(),
        )?;
        if !clusters.is_empty() {
            config = add_clusters(&config, clusters)?;
        }
        let config_path = root.join("config.xml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let users = Path::new(SYSTEM_CONFIG).with_file_name("users.xml");
        std::fs::copy(&users, root.join("users.xml"))
            .map_err(|e| format!("copying {}: {e}", users.display()))?;
        let mut server = ClickHouseServer {
            child: None,
            dir,
            engine,
            http_port,
        };
        server.spawn()?;
        Ok(server)
    }

    /// Starts the server on the configuration in its directory and waits until it answers.
    fn spawn(&mut self) -> Result<(), String> {
        let root = self.dir.path();
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("server.out"))
            .map_err(|e| e.to_string())?;
        let mut command = match &self.engine {
            Engine::Server(binary) => {
                let mut command = Command::new(binary);
                command.arg(format!(
                    "--config-file={}",
                    root.join("config.xml").display()
                ));
                command
            }
            Engine::Chdb => {
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/chdb_http.py");
                let mut command = Command::new("python3");
                command
                    .arg(script)
                    .arg(format!("--port={}", self.http_port))
                    .arg(format!("--path={}", root.join("data").display()));
                command
            }
        };
        let child = command
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(output.try_clone().map_err(|e| e.to_string())?)
            .stderr(output)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.engine.name()))?;
        self.child = Some(child);
        self.wait_until_ready()
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (SIGKILL to its process id: no clean shut-down) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL to this child's process id, and only to it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same data directory and ports; panics when it
    /// does not come up.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn()
            .unwrap_or_else(|e| panic!("cannot restart the test ClickHouse: {e}"));
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(2)))
                .proxy(None)
                .build(),
        );
        let url = format!("http://127.0.0.1:{}/", self.http_port);
        let started = Instant::now();
        loop {
            let exited = match self.child.as_mut() {
                Some(child) => child.try_wait().ok().flatten(),
                None => return Err("the server is not running".to_owned()),
            };
            if let Some(status) = exited {
                return Err(format!(
                    "{} exited ({status}) before answering: {}",
                    self.engine.name(),
                    self.log_tail()
                ));
            }
            let answer = agent
                .post(&url)
                .send("SELECT 1")
                .ok()
                .and_then(|r| r.into_body().read_to_string().ok());
            if answer.as_deref().map(str::trim) == Some("1") {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "{} did not answer within 60 s: {}",
                    self.engine.name(),
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The end of the server's own output and error log, for failure messages.
    fn log_tail(&self) -> String {
        let mut text = String::new();
        for file in ["server.out", "log/clickhouse-server.err.log"] {
            if let Ok(s) = std::fs::read_to_string(self.dir.path().join(file)) {
                let tail: Vec<&str> = s.lines().rev().take(15).collect();
                text.push_str(&tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
                text.push('\n');
            }
        }
        text
    }

    /// A `clickhouse://` location naming a database no one used before.
    pub fn location(&self) -> String {
        format!(
            "clickhouse://127.0.0.1:{}/{}",
            self.http_port,
            fresh_database()
        )
    }

    /// A connected, migrated client of a fresh database.
    pub fn client(&self) -> std::sync::Arc<super::Client> {
        connected(&self.location())
    }
}

/// A database name no test used before.
fn fresh_database() -> String {
    let n = DATABASES.fetch_add(1, Ordering::Relaxed);
    format!("test_{}_{n}", std::process::id())
}

/// A connected, migrated client of `location` (a `clickhouse://` location).
pub fn connected(location: &str) -> std::sync::Arc<super::Client> {
    let parsed = Location::parse(location)
        .expect("a clickhouse location")
        .expect("a valid location");
    connect(&parsed).unwrap_or_else(|e| panic!("connecting to {location}: {e:?}"))
}

/// Runs `start` up to three times: a port found free can be taken (by another test's server,
/// or as the local port of a connection) before the server binds it, and the next attempt
/// picks new ones.
fn with_fresh_ports<T>(start: impl Fn() -> Result<T, String>) -> Result<T, String> {
    let mut failures = Vec::new();
    for _ in 0..3 {
        match start() {
            Ok(started) => return Ok(started),
            Err(e) => failures.push(e),
        }
    }
    Err(failures.join("\n--- then ---\n"))
}

/// A server's free loopback ports.
#[derive(Clone, Copy)]
struct Ports {
    http: u16,
    tcp: u16,
    interserver: u16,
}

impl Ports {
    fn free() -> Result<Self, String> {
        Ok(Ports {
            http: free_port()?,
            tcp: free_port()?,
            interserver: free_port()?,
        })
    }
}

/// The cluster every [`ClickHouseCluster`] server knows: shard 1 on the first, shard 2 on the
/// second.
pub const TEST_CLUSTER: &str = "hubstats_test";

/// Two test servers, each a shard of [`TEST_CLUSTER`].
pub struct ClickHouseCluster {
    pub servers: Vec<ClickHouseServer>,
}

impl ClickHouseCluster {
    /// Starts both servers and waits until they answer; panics when they cannot.
    pub fn start() -> Self {
        with_fresh_ports(Self::try_start)
            .unwrap_or_else(|e| panic!("cannot start a test ClickHouse cluster: {e}"))
    }

    fn try_start() -> Result<Self, String> {
        let ports = [Ports::free()?, Ports::free()?];
        let shards: String = (ports.iter())
            .map(|p| {
                format!(
                    "<shard><replica><host>127.0.0.1</host><port>{}</port></replica></shard>",
                    p.tcp
                )
            })
            .collect();
        let clusters = format!("<{TEST_CLUSTER}>{shards}</{TEST_CLUSTER}>");
        let servers = (ports.iter())
            .map(|p| ClickHouseServer::try_start_with(*p, &clusters))
            .collect::<Result<_, _>>()?;
        Ok(ClickHouseCluster { servers })
    }

    /// A `clickhouse://` location of a fresh database on the cluster, through the first server,
    /// listing both servers' HTTP addresses (they differ in port only).
    pub fn location(&self) -> String {
        let nodes: Vec<String> = (self.servers.iter())
            .map(|s| format!("127.0.0.1:{}", s.http_port))
            .collect();
        format!(
            "clickhouse://127.0.0.1:{}/{}?cluster={TEST_CLUSTER}&nodes={}",
            self.servers[0].http_port,
            fresh_database(),
            nodes.join(",")
        )
    }

    /// A connected client of a fresh database, its tables created on both servers.
    pub fn client(&self) -> std::sync::Arc<super::Client> {
        connected(&self.location())
    }
}

impl Drop for ClickHouseServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP proxy on a free loopback port in front of a server's HTTP port, which can hold every
/// answer back for a while ([`DelayingProxy::delay`]): a request reaches the server at once,
/// its answer reaches the client late, so a test can make a read's result stale by the time
/// it is used (the window of a race made wide).
pub struct DelayingProxy {
    pub port: u16,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl DelayingProxy {
    /// Starts a proxy to `127.0.0.1:upstream`, passing answers on without delay.
    pub fn start(upstream: u16) -> Self {
        use std::io::{Read, Write};
        use std::net::TcpStream;
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port for the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let delay = std::sync::Arc::clone(&delay_ms);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n @ 1..) = c_read.read(&mut buf) {
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_read, mut c_write) = (server, client);
                let delay = std::sync::Arc::clone(&delay);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n @ 1..) = s_read.read(&mut buf) {
                        let ms = delay.load(Ordering::Relaxed);
                        if ms > 0 {
                            std::thread::sleep(Duration::from_millis(ms));
                        }
                        if c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        DelayingProxy { port, delay_ms }
    }

    /// Holds every answer (each piece of one read from the server) back for `delay` from now on.
    pub fn delay(&self, delay: Duration) {
        (self.delay_ms).store(delay.as_millis() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTERS: &str = "<hubstats_test><shard/></hubstats_test>";

    /// The system configuration's sections, as ClickHouse packages write them: `remote_servers`
    /// with `incl` (older ones) or without (current ones), after comments naming the elements.
    fn system_config(remote_servers: &str) -> String {
        format!(
            "<clickhouse>\n\
             <!-- <http_port>8443</http_port> and <remote_servers> are set below -->\n\
             <http_port>8123</http_port>\n\
             <remote_servers_note>not the section</remote_servers_note>\n\
             {remote_servers}\n\
             <default><shard><replica><port>9000</port></replica></shard></default>\n\
             </remote_servers>\n\
             </clickhouse>\n"
        )
    }

    #[test]
    fn clusters_are_added_to_remote_servers_with_or_without_incl() {
        for open in [
            "<remote_servers incl=\"clickhouse_remote_servers\" >",
            "<remote_servers>",
            "<remote_servers replace=\"true\">",
        ] {
            let config = system_config(open);
            let filled = add_clusters(&config, CLUSTERS).unwrap_or_else(|e| panic!("{open}: {e}"));
            assert_eq!(
                filled,
                config.replacen(&format!("{open}\n"), &format!("{open}{CLUSTERS}\n"), 1),
                "{open}"
            );
        }
        for none in [
            "<clickhouse><!-- <remote_servers> --></clickhouse>",
            "<clickhouse><remote_servers incl=\"clickhouse_remote_servers\" /></clickhouse>",
        ] {
            assert!(add_clusters(none, CLUSTERS).is_err(), "{none}");
        }
    }

    #[test]
    fn set_tag_sets_the_element_not_a_comment_naming_it() {
        let config = system_config("<remote_servers>");
        let set = set_tag(&config, "http_port", "18123").unwrap();
        assert_eq!(
            set,
            config.replace(
                "<http_port>8123</http_port>",
                "<http_port>18123</http_port>"
            )
        );
        assert!(set_tag(&config, "tcp_port", "19000").is_err());
    }
}
