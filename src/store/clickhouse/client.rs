//! A blocking client of ClickHouse's HTTP interface: statements and queries in the request
//! body, results as `TabSeparated` text read line by line, inserts as `TabSeparated` bodies.
//! One `ureq::Agent` per store keeps its connections alive between requests.
//!
//! ClickHouse 18.16 (Debian's) has no server-side query parameters, so every value put into
//! SQL goes through [`quote`]; values put into an insert body go through [`tsv_field`].

use std::io::{BufRead, BufReader};
use std::time::Duration;

use base64::Engine as _;

use crate::store::{StoreError, StoreResult};

/// Where a ClickHouse store lives: `clickhouse://[user[:password]@]host:port/database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: String,
}

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
                "store location {:?}: {why} (expected clickhouse://[user[:password]@]host:port/database)",
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
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("unexpected query or fragment"));
        }
        let decode = |part: &str| {
            percent_decode(part).ok_or_else(|| invalid("bad percent-encoding in user or password"))
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        Ok(Location {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            user,
            password,
            database: database.to_owned(),
        })
    }
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

/// The connection to one database of one server.
pub struct Client {
    agent: ureq::Agent,
    url: String,
    auth: Option<String>,
    pub database: String,
}

/// Inserts larger than ClickHouse's default block (about a million rows) would be split into
/// several parts, each visible on its own; one block per insert keeps a write all-or-nothing.
const ONE_BLOCK: &str = "1000000000";

impl Client {
    pub fn new(location: &Location) -> Self {
        // A read or write that waits longer than this for the next byte fails rather than
        // holding a request's thread for ever (ClickHouse streams results block by block).
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(300))
            .timeout_write(Duration::from_secs(300))
            .max_idle_connections_per_host(16)
            .build();
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
            auth,
            database: location.database.clone(),
        }
    }

    fn request(&self, database: bool) -> ureq::Request {
        let mut req = self.agent.post(&self.url);
        if database {
            req = req.query("database", &self.database);
        }
        if let Some(auth) = &self.auth {
            req = req.set("Authorization", auth);
        }
        req
    }

    fn send(&self, req: ureq::Request, body: &[u8], what: &str) -> StoreResult<ureq::Response> {
        req.send_bytes(body).map_err(|e| match e {
            ureq::Error::Status(code, response) => {
                let text = response.into_string().unwrap_or_default();
                backend(format!(
                    "ClickHouse answered {code} to {what}: {}",
                    text.trim()
                ))
            }
            ureq::Error::Transport(t) => backend(format!("ClickHouse: {t}")),
        })
    }

    /// Runs a statement that returns nothing (DDL, `ALTER`, `INSERT … SELECT`).
    pub fn execute(&self, sql: &str) -> StoreResult<()> {
        let response = self.send(self.request(true), sql.as_bytes(), &describe(sql))?;
        std::io::copy(&mut response.into_reader(), &mut std::io::sink())
            .map_err(|e| backend(format!("reading ClickHouse's answer: {e}")))?;
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
        let response = self.send(self.request(database), body.as_bytes(), &describe(sql))?;
        let mut reader = BufReader::with_capacity(1 << 16, response.into_reader());
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(|e| backend(format!("reading ClickHouse's answer: {e}")))?;
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
        let req = self
            .request(true)
            .query("query", &sql)
            .query("max_insert_block_size", ONE_BLOCK);
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
    use super::*;

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
                database: "hubstats".into()
            }
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
