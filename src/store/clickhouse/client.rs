//! A blocking client of ClickHouse's HTTP interface: statements and queries in the request
//! body, results as `TabSeparated` text read line by line, inserts as `TabSeparated` bodies.
//! One `ureq::Agent` per store keeps its connections alive between requests.
//!
//! ClickHouse 18.16 (Debian's) has no server-side query parameters, so every value put into
//! SQL goes through [`quote`]; values put into an insert body go through [`tsv_field`].

use std::io::{BufRead, BufReader};
use std::time::Duration;

use base64::Engine as _;

use crate::store::{Outage, StoreError, StoreResult};

/// Where a ClickHouse store lives:
/// `clickhouse://[user[:password]@]host:port/database[?option=value&…]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
    /// How long to wait for a connection (`connect_timeout`, seconds).
    pub connect_timeout: Duration,
    /// How long a request may wait for the next byte of an answer, or to send the next byte
    /// of its body (`timeout`, seconds).
    pub timeout: Duration,
    /// The cluster (a name in the servers' `remote_servers`) whose shards hold the tables
    /// (`cluster`); `None`: this one server holds them.
    pub cluster: Option<String>,
    /// The HTTP addresses of the cluster's servers (`nodes=host:port,host:port`); empty: each
    /// shard's host (from `system.clusters`) on this location's port.
    pub nodes: Vec<(String, u16)>,
}

/// Default of `connect_timeout`: a server that is up accepts within milliseconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default of `timeout`: ClickHouse sends nothing until an insert is written or a query's first
/// block is ready, so this bounds the longest single statement (a large import's insert).
pub const TIMEOUT: Duration = Duration::from_secs(120);

impl Location {
    /// Parses a `clickhouse://` location (`None` for anything else, such as a file path).
    pub fn parse(s: &str) -> Option<StoreResult<Self>> {
        if !s.starts_with("clickhouse://") {
            return None;
        }
        Some(Self::parse_url(s))
    }

    fn parse_url(s: &str) -> StoreResult<Self> {
        let invalid = |why: &str| {
            StoreError::Invalid(format!(
                "store location {:?}: {why} (expected clickhouse://[user[:password]@]host:port/database[?option=value&…])",
                redact(s)
            ))
        };
        let url = url::Url::parse(s).map_err(|e| invalid(&e.to_string()))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| invalid("no host"))?;
        let port = url.port().ok_or_else(|| invalid("no port"))?;
        let database = url.path().trim_start_matches('/');
        let plain = !database.is_empty()
            && database.len() <= 64
            && database
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !database.as_bytes()[0].is_ascii_digit();
        if !plain {
            return Err(invalid(
                "the database name must be letters, digits and underscores, not starting with a digit",
            ));
        }
        if url.fragment().is_some() {
            return Err(invalid("unexpected fragment"));
        }
        let decode = |part: &str| {
            percent_decode(part).ok_or_else(|| invalid("bad percent-encoding in user or password"))
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        let mut location = Location {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            user,
            password,
            database: database.to_owned(),
            connect_timeout: CONNECT_TIMEOUT,
            timeout: TIMEOUT,
            cluster: None,
            nodes: Vec::new(),
        };
        for (name, value) in url.query_pairs() {
            location
                .set_option(&name, &value)
                .map_err(|why| invalid(&why))?;
        }
        if !location.nodes.is_empty() && location.cluster.is_none() {
            return Err(invalid("nodes without cluster"));
        }
        Ok(location)
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), String> {
        let seconds = || match value.parse::<u64>() {
            Ok(n) if (1..=86_400).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(format!(
                "{name} must be a number of seconds from 1 to 86400"
            )),
        };
        match name {
            "connect_timeout" => self.connect_timeout = seconds()?,
            "timeout" => self.timeout = seconds()?,
            "cluster" => {
                let plain = !value.is_empty()
                    && value.len() <= 64
                    && (value.bytes()).all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
                if !plain {
                    return Err("the cluster name must be letters, digits, '_', '-' or '.'".into());
                }
                self.cluster = Some(value.to_owned());
            }
            "nodes" => {
                self.nodes = (value.split(','))
                    .map(parse_address)
                    .collect::<Option<_>>()
                    .ok_or("nodes must be host:port addresses separated by commas")?;
            }
            _ => {
                return Err(format!(
                    "unknown option {name:?} (known: connect_timeout, timeout, cluster, nodes)"
                ))
            }
        }
        Ok(())
    }

    /// The same location on another server (another server of its cluster).
    pub fn at(&self, host: &str, port: u16) -> Location {
        Location {
            host: host.to_owned(),
            port,
            ..self.clone()
        }
    }
}

/// `host:port` (an IPv6 host in brackets).
fn parse_address(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.trim().rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.parse().ok()?))
}

/// A `--store` value as messages and logs show it: a ClickHouse location's password replaced
/// by `***` (anything else unchanged).
pub fn redact(s: &str) -> String {
    if !s.starts_with("clickhouse://") {
        return s.to_owned();
    }
    match url::Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => s.to_owned(),
    }
}

/// `%XX` escapes of a user or password decoded (`url` hands them out encoded); `None` when
/// the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
    Some(decoded.into_owned())
}

/// A value as an SQL string literal: quoted, with backslashes, quotes and control characters
/// escaped, so no value can end the literal or change the statement.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A value as one field of a `TabSeparated` insert body (backslash, tab and newline escaped).
pub fn tsv_field(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
}

/// A `TabSeparated` field of a result back to its value (`None` for `\N`, a NULL).
pub fn tsv_value(field: &str) -> Option<String> {
    if field == "\\N" {
        return None;
    }
    if !field.contains('\\') {
        return Some(field.to_owned());
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('a') => out.push('\u{7}'),
            Some('v') => out.push('\u{b}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Some(out)
}

/// One result row: its `TabSeparated` fields.
pub struct Row<'a> {
    fields: Vec<&'a str>,
}

impl Row<'_> {
    fn field(&self, i: usize) -> StoreResult<&str> {
        self.fields.get(i).copied().ok_or_else(|| {
            backend(format!(
                "ClickHouse returned {} columns, expected more",
                self.fields.len()
            ))
        })
    }

    pub fn str(&self, i: usize) -> StoreResult<String> {
        tsv_value(self.field(i)?).ok_or_else(|| backend("unexpected NULL from ClickHouse"))
    }

    /// A `Nullable(String)` field (`None` for NULL).
    pub fn opt_str(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(tsv_value(self.field(i)?))
    }

    pub fn opt_i64(&self, i: usize) -> StoreResult<Option<i64>> {
        match self.field(i)? {
            "\\N" => Ok(None),
            f => f.parse().map(Some).map_err(|_| number(f)),
        }
    }

    pub fn u64(&self, i: usize) -> StoreResult<u64> {
        let f = self.field(i)?;
        f.parse().map_err(|_| number(f))
    }

    pub fn i64(&self, i: usize) -> StoreResult<i64> {
        let f = self.field(i)?;
        f.parse().map_err(|_| number(f))
    }
}

fn number(f: &str) -> StoreError {
    backend(format!(
        "ClickHouse returned {:?} where a number was expected",
        f.chars().take(40).collect::<String>()
    ))
}

pub fn backend(msg: impl Into<String>) -> StoreError {
    StoreError::Backend(msg.into().into())
}

/// An error reading an answer: the server went away or stopped sending mid-answer.
fn cut_off(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(Outage(format!("reading ClickHouse's answer: {e}")))
}

/// The connection to one database of one server; in cluster mode, to the server that
/// `Distributed` queries and inserts go through, holding clients of every shard's server.
pub struct Client {
    agent: ureq::Agent,
    url: String,
    /// `host:port`, for messages.
    address: String,
    auth: Option<String>,
    pub database: String,
    cluster: Option<String>,
    /// In cluster mode, a client of each shard's server, by shard number.
    shards: Vec<Client>,
}

/// Inserts larger than ClickHouse's default block (about a million rows) would be split into
/// several parts, each visible on its own; one block per insert keeps a write all-or-nothing.
/// The parser cuts blocks at `max_insert_block_size` rows, and ClickHouse 24 and later also
/// at `min_insert_block_size_rows` rows or `min_insert_block_size_bytes` bytes whatever the
/// first says: [`ONE_BLOCK_SETTINGS`] raises all three (each exists on 18.16 too).
const ONE_BLOCK: &str = "1000000000";

/// The settings of an insert that must become one part (see [`ONE_BLOCK`]).
const ONE_BLOCK_SETTINGS: [(&str, &str); 3] = [
    ("max_insert_block_size", ONE_BLOCK),
    ("min_insert_block_size_rows", ONE_BLOCK),
    ("min_insert_block_size_bytes", "1000000000000"),
];

impl Client {
    pub fn new(location: &Location) -> Self {
        // A read or write that waits longer than the timeout for the next byte fails rather
        // than holding a request's thread for ever (ClickHouse streams results block by block).
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(location.connect_timeout))
            .timeout_per_read(Some(location.timeout))
            .timeout_per_write(Some(location.timeout))
            .max_idle_connections(100)
            .max_idle_connections_per_host(16)
            // A refusal's body is ClickHouse's message: [`Client::send`] reads it.
            .http_status_as_error(false)
            // The server is reached directly, whatever proxy the environment names.
            .proxy(None)
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let auth = location.user.as_ref().map(|user| {
            let pair = format!("{user}:{}", location.password.as_deref().unwrap_or(""));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        let host = if location.host.contains(':') {
            format!("[{}]", location.host)
        } else {
            location.host.clone()
        };
        Client {
            agent,
            url: format!("http://{host}:{}/", location.port),
            address: format!("{host}:{}", location.port),
            auth,
            database: location.database.clone(),
            cluster: location.cluster.clone(),
            shards: Vec::new(),
        }
    }

    pub(super) fn set_shards(&mut self, shards: Vec<Client>) {
        self.shards = shards;
    }

    /// Whether the tables are spread over a cluster's shards.
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }

    /// The cluster's name, in cluster mode.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The servers holding the tables' rows: every shard's in cluster mode, else this one.
    pub fn servers(&self) -> Vec<&Client> {
        if self.shards.is_empty() {
            vec![self]
        } else {
            self.shards.iter().collect()
        }
    }

    /// The name of `table`'s local table on each server (the table itself on one server).
    pub fn local_table(&self, table: &str) -> String {
        if self.is_cluster() {
            super::cluster::local_table(table)
        } else {
            table.to_owned()
        }
    }

    /// `host:port` of the server, for messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn request(&self, database: bool) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut req = self.agent.post(&self.url);
        if database {
            req = req.query("database", &self.database);
        }
        if self.is_cluster() {
            // An insert into a `Distributed` table returns once every shard wrote its rows
            // (not when they are queued on this server), and a subquery reads the local table
            // of the shard it runs on (an organization's rows are all on one shard).
            req = req
                .query("insert_distributed_sync", "1")
                .query("distributed_product_mode", "local");
        }
        if let Some(auth) = &self.auth {
            req = req.header("Authorization", auth);
        }
        req
    }

    /// Sends a request. No answer (refused, timed out, cut off) and a server error (5xx but
    /// 501: an overloaded server, a shard of a cluster down) are [`StoreError::Unavailable`];
    /// other refusals (4xx: a wrong password, a missing table; 501) are errors of the store.
    fn send(
        &self,
        req: ureq::RequestBuilder<ureq::typestate::WithBody>,
        body: &[u8],
        what: &str,
    ) -> StoreResult<ureq::Body> {
        let response = req.send(body).map_err(|e| {
            StoreError::Unavailable(Outage(format!(
                "ClickHouse at {} did not answer {what}: {e}",
                self.address
            )))
        })?;
        let code = response.status().as_u16();
        let mut body = response.into_body();
        if code < 400 {
            return Ok(body);
        }
        let text = body.read_to_string().unwrap_or_default();
        let message = format!(
            "ClickHouse at {} answered {code} to {what}: {}",
            self.address,
            text.trim()
        );
        // 501: a statement the server does not implement, which retrying will not fix.
        if code >= 500 && code != 501 {
            Err(StoreError::Unavailable(Outage(message)))
        } else {
            Err(backend(message))
        }
    }

    /// Runs a statement that returns nothing (DDL, `ALTER`, `INSERT … SELECT`).
    pub fn execute(&self, sql: &str) -> StoreResult<()> {
        let body = self.send(self.request(true), sql.as_bytes(), &describe(sql))?;
        std::io::copy(&mut body.into_reader(), &mut std::io::sink()).map_err(cut_off)?;
        Ok(())
    }

    /// Runs a statement outside the database (creating it, for one).
    pub fn execute_server(&self, sql: &str) -> StoreResult<()> {
        self.send(self.request(false), sql.as_bytes(), &describe(sql))?;
        Ok(())
    }

    /// Runs a query and calls `f` with each row, streamed (`FORMAT TabSeparated` is added).
    pub fn query_each(
        &self,
        sql: &str,
        f: &mut dyn FnMut(&Row<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.query_rows(true, sql, f)
    }

    /// [`Client::query`] outside the database (which may not exist).
    pub fn query_server<T>(
        &self,
        sql: &str,
        mut f: impl FnMut(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        self.query_rows(false, sql, &mut |row| {
            out.push(f(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    fn query_rows(
        &self,
        database: bool,
        sql: &str,
        f: &mut dyn FnMut(&Row<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let body = format!("{sql} FORMAT TabSeparated");
        let answer = self.send(self.request(database), body.as_bytes(), &describe(sql))?;
        let mut reader = BufReader::with_capacity(1 << 16, answer.into_reader());
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(cut_off)?;
            if n == 0 {
                return Ok(());
            }
            let text = line.strip_suffix('\n').unwrap_or(&line);
            let row = Row {
                fields: text.split('\t').collect(),
            };
            f(&row)?;
        }
    }

    /// Runs a query and collects its rows with `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        mut f: impl FnMut(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, &mut |row| {
            out.push(f(row)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Inserts a `TabSeparated` body (one line per row, fields escaped with [`tsv_field`])
    /// into `table (columns)` as one block, so all of it becomes visible at once or none.
    pub fn insert(&self, table: &str, columns: &str, body: &str) -> StoreResult<()> {
        if body.is_empty() {
            return Ok(());
        }
        let sql = format!("INSERT INTO {table} ({columns}) FORMAT TabSeparated");
        let mut req = self.request(true).query("query", &sql);
        for (name, value) in ONE_BLOCK_SETTINGS {
            req = req.query(name, value);
        }
        self.send(req, body.as_bytes(), &describe(&sql))?;
        Ok(())
    }
}

/// The start of a statement, for error messages.
fn describe(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = one_line.chars().take(80).collect();
    if short.len() < one_line.len() {
        short.push('…');
    }
    format!("\"{short}\"")
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    fn client_on(port: u16, options: &str) -> Client {
        let location = format!("clickhouse://127.0.0.1:{port}/db{options}");
        Client::new(&Location::parse(&location).unwrap().unwrap())
    }

    /// Reads one request from `stream` up to the end of its body, which ends with `end`.
    fn read_request(stream: &mut std::net::TcpStream, end: &[u8]) -> Vec<u8> {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.ends_with(end) {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the client closed before sending its request");
            request.extend_from_slice(&buf[..n]);
        }
        request
    }

    /// A server on a free port that reads one request and answers it with `status` (or does
    /// not answer, for `None`, until the client gives up).
    fn answering(status: Option<u16>) -> (u16, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // The request line, headers and the short body arrive before the answer is due.
            read_request(&mut stream, b"SELECT 1");
            let mut buf = [0u8; 4096];
            match status {
                Some(code) => {
                    let body = "Code: 999, e.displayText() = DB::Exception: failed";
                    let answer = format!(
                        "HTTP/1.1 {code} Failed\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(answer.as_bytes()).unwrap();
                }
                // Holds the connection until the client's timeout closes it.
                None => while stream.read(&mut buf).is_ok_and(|n| n > 0) {},
            }
        });
        (port, server)
    }

    #[test]
    fn no_answer_and_server_errors_are_unavailable_other_refusals_are_not() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = client_on(port, "").execute("SELECT 1").unwrap_err();
        assert!(matches!(refused, StoreError::Unavailable(_)), "{refused:?}");
        assert!(StoreError::is_unavailable(&refused));
        for (status, unavailable) in [(Some(500), true), (Some(503), true), (None, true)] {
            let (port, server) = answering(status);
            let err = client_on(port, "?timeout=1")
                .execute("SELECT 1")
                .unwrap_err();
            assert_eq!(
                StoreError::is_unavailable(&err),
                unavailable,
                "{status:?}: {err:?}"
            );
            server.join().unwrap();
        }
        for code in [404, 501] {
            let (port, server) = answering(Some(code));
            let err = client_on(port, "").execute("SELECT 1").unwrap_err();
            assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
            let message = err.source().unwrap().to_string();
            assert!(message.contains(&format!("answered {code}")), "{message}");
            assert!(message.contains("DB::Exception: failed"), "{message}");
            server.join().unwrap();
        }
    }

    /// A location's user and password go as HTTP basic authentication.
    #[test]
    fn credentials_are_sent_as_basic_authentication() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let request = read_request(&mut stream, b"SELECT 1");
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let location = format!("clickhouse://ann:p%40ss@127.0.0.1:{port}/db");
        Client::new(&Location::parse(&location).unwrap().unwrap())
            .execute("SELECT 1")
            .unwrap();
        let request = server.join().unwrap();
        let authorization = request.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("authorization")
                .then(|| value.trim())
        });
        // base64("ann:p@ss")
        assert_eq!(authorization, Some("Basic YW5uOnBAc3M="), "{request}");
    }

    /// `timeout` bounds the wait for each next byte, not the whole answer: rows streamed
    /// slower than it in total, but each sooner, are all read.
    #[test]
    fn the_timeout_is_per_read_not_for_the_whole_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            read_request(&mut stream, b"FORMAT TabSeparated");
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
                .unwrap();
            for row in [b"1\n", b"2\n", b"3\n"] {
                std::thread::sleep(Duration::from_millis(600));
                stream.write_all(row).unwrap();
            }
        });
        let rows = client_on(port, "?timeout=1")
            .query("SELECT 1", |r| r.u64(0))
            .unwrap();
        assert_eq!(rows, [1, 2, 3]);
        server.join().unwrap();
    }

    /// Requests one after the other go over one kept-alive connection: the server below
    /// accepts a single connection and answers two requests on it.
    #[test]
    fn requests_reuse_a_kept_alive_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            for _ in 0..2 {
                read_request(&mut stream, b"SELECT 1");
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n1\n")
                    .unwrap();
            }
        });
        let client = client_on(port, "?timeout=2");
        for _ in 0..2 {
            client.execute("SELECT 1").unwrap();
        }
        server.join().unwrap();
    }

    #[test]
    fn quote_escapes_everything_that_could_end_or_change_a_literal() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote(r"back\slash"), r"'back\\slash'");
        assert_eq!(quote(r"\'"), r"'\\\''");
        assert_eq!(quote("a\nb\tc\rd\0e"), r"'a\nb\tc\rd\0e'");
        assert_eq!(quote("\u{1b}"), r"'\x1B'");
        assert_eq!(quote("'; DROP TABLE x; --"), r"'\'; DROP TABLE x; --'");
        assert_eq!(quote("naïve"), "'naïve'");
    }

    #[test]
    fn tsv_fields_round_trip() {
        for value in [
            "plain",
            "tab\there",
            "new\nline",
            r"back\slash",
            "\\N",
            "it's",
            "\r\0",
        ] {
            let mut field = String::new();
            tsv_field(&mut field, value);
            assert!(!field.contains('\t') && !field.contains('\n'), "{field:?}");
            assert_eq!(tsv_value(&field).as_deref(), Some(value), "{field:?}");
        }
        assert_eq!(tsv_value("\\N"), None, "a NULL");
    }

    #[test]
    fn locations_parse_with_and_without_credentials() {
        assert!(Location::parse("hubstats.db").is_none());
        let l = Location::parse("clickhouse://127.0.0.1:8123/hubstats")
            .unwrap()
            .unwrap();
        assert_eq!(
            l,
            Location {
                host: "127.0.0.1".into(),
                port: 8123,
                user: None,
                password: None,
                database: "hubstats".into(),
                connect_timeout: CONNECT_TIMEOUT,
                timeout: TIMEOUT,
                cluster: None,
                nodes: Vec::new(),
            }
        );
        let l = Location::parse("clickhouse://h:1/db?cluster=pair&nodes=h:1,[::1]:8124")
            .unwrap()
            .unwrap();
        assert_eq!(l.cluster.as_deref(), Some("pair"));
        assert_eq!(l.nodes, [("h".to_owned(), 1), ("::1".to_owned(), 8124)]);
        let l = Location::parse("clickhouse://h:1/db?connect_timeout=2&timeout=600")
            .unwrap()
            .unwrap();
        assert_eq!(
            (l.connect_timeout, l.timeout),
            (Duration::from_secs(2), Duration::from_secs(600))
        );
        let l = Location::parse("clickhouse://ann:p%40ss@db.example:9123/stats_1")
            .unwrap()
            .unwrap();
        assert_eq!(
            (l.user.as_deref(), l.password.as_deref(), l.port),
            (Some("ann"), Some("p@ss"), 9123)
        );
        for bad in [
            "clickhouse://127.0.0.1/hubstats",
            "clickhouse://127.0.0.1:8123/",
            "clickhouse://127.0.0.1:8123/a-b",
            "clickhouse://127.0.0.1:8123/db?x=1",
            "clickhouse://127.0.0.1:8123/db?timeout=0",
            "clickhouse://127.0.0.1:8123/db?connect_timeout=soon",
            "clickhouse://127.0.0.1:8123/db?cluster=a'b",
            "clickhouse://127.0.0.1:8123/db?cluster=pair&nodes=h",
            "clickhouse://127.0.0.1:8123/db?nodes=h:1",
        ] {
            assert!(
                matches!(Location::parse(bad), Some(Err(StoreError::Invalid(_)))),
                "{bad}"
            );
        }
        let err = Location::parse("clickhouse://u:secret@h:1/a-b")
            .unwrap()
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        assert_eq!(
            redact("clickhouse://u:secret@h:1/db"),
            "clickhouse://u:***@h:1/db"
        );
        assert_eq!(redact("store.db"), "store.db");
    }
}
