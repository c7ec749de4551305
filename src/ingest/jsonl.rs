//! `jsonl`: hubstats' own event format, one JSON object per line: `timestamp`, `method`,
//! `status` (a number), `repoType` (`model`|`dataset`|`space`), `repoName`, and optionally
//! `path`, `hashedUserId`, `hashedIp`, `library` (a model repository's library, e.g. `peft`:
//! the latest event naming one sets the library the repository is counted under),
//! `userAgent` (for the event's class), `country`, `region` (not used yet). Unknown keys are
//! ignored; blank lines are skipped.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use super::fields::{self, RowError};
use super::{Failure, Parsed, Request};
use crate::breakdown::import::limit::{too_long_io, LineLimit};
use crate::breakdown::import::MAX_LINE;
use crate::domain::{LibraryName, LogEvent, RepoKey};

/// Reads every line of `input`, calling `each` with its line number and what it holds.
pub(super) fn read(
    input: impl Read,
    each: &mut dyn FnMut(u64, Parsed) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut reader = BufReader::new(LineLimit::new(input, MAX_LINE));
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        line += 1;
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| match too_long_io(&e) {
                Some(l) => Failure::Row(l, RowError::LineTooLong { max: MAX_LINE }),
                None => Failure::Row(line, RowError::Csv(e.to_string())),
            })?;
        if n == 0 {
            return Ok(());
        }
        if buf.trim_ascii().is_empty() {
            continue;
        }
        let parsed = parse_line(&buf).map_err(|e| Failure::Row(line, e))?;
        each(line, parsed)?;
    }
}

fn parse_line(line: &[u8]) -> Result<Parsed, RowError> {
    let object: Map<String, Value> =
        serde_json::from_slice(line).map_err(|e| RowError::Json(e.to_string()))?;
    let Some(repo_type) = fields::repo_type(required(&object, "repoType")?)? else {
        return Ok(Parsed::Space);
    };
    let status = match object.get("status") {
        None | Some(Value::Null) => return Err(RowError::Missing { field: "status" }),
        Some(Value::Number(n)) => fields::status(&n.to_string())?,
        Some(other) => fields::status(&other.to_string())?,
    };
    let event = LogEvent {
        repo: RepoKey {
            repo_type,
            name: fields::repo_name(required(&object, "repoName")?)?,
        },
        at_ms: fields::timestamp(required(&object, "timestamp")?)?,
        method: fields::method(required(&object, "method")?)?,
        status,
        path: optional(&object, "path")?.map(fields::path).transpose()?,
        user: hashed(&object, "hashedUserId")?,
        ip: hashed(&object, "hashedIp")?,
    };
    let library = match optional(&object, "library")? {
        None | Some("") => None,
        Some(name) => Some(LibraryName::parse(name).map_err(|_| RowError::Invalid {
            field: "library",
            found: fields::quote(name),
            expected: "a library name (letters, digits, '-', '_', '.')",
        })?),
    };
    let agent = optional(&object, "userAgent")?
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    Ok(Parsed::Event(Request {
        event,
        library,
        agent,
    }))
}

fn required<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, RowError> {
    optional(object, field)?.ok_or(RowError::Missing { field })
}

/// A string field; absent or `null` is `None`, any other type an error.
fn optional<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, RowError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(RowError::Invalid {
            field,
            found: fields::quote(&other.to_string()),
            expected: "a string",
        }),
    }
}

fn hashed(object: &Map<String, Value>, field: &'static str) -> Result<Option<String>, RowError> {
    match optional(object, field)? {
        Some(text) => fields::hashed_id(field, text),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Option<LogEvent>>, (u64, RowError)> {
        let mut out = Vec::new();
        let result = read(text.as_bytes(), &mut |_, p| {
            out.push(match p {
                Parsed::Space | Parsed::Other => None,
                Parsed::Event(r) => Some(r.event),
            });
            Ok(())
        });
        match result {
            Ok(()) => Ok(out),
            Err(Failure::Row(line, e)) => Err((line, e)),
            Err(Failure::Store(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn reads_events_spaces_and_paths() {
        let text = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m","path":"/config.json","hashedIp":"ip","extra":1}

{"timestamp":"2024-05-01T10:00:00Z","method":"HEAD","status":302,"repoType":"space","repoName":"acme/s"}
"#;
        let rows = parse(text).unwrap();
        assert_eq!(rows.len(), 2);
        let e = rows[0].clone().unwrap();
        assert_eq!(e.path.as_deref(), Some("config.json"));
        assert_eq!(e.ip.as_deref(), Some("ip"));
        assert_eq!(rows[1], None);
    }

    #[test]
    fn errors_name_line_and_field() {
        let good = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m"}"#;
        let text = format!("{good}\n{}\n", good.replace("200", "\"200\""));
        let (line, e) = parse(&text).unwrap_err();
        assert_eq!(line, 2);
        assert!(e.to_string().contains("field status"), "{e}");
        let (line, e) = parse(&format!("{good}\n{good}\n{{not json\n")).unwrap_err();
        assert_eq!(line, 3);
        assert!(matches!(e, RowError::Json(_)));
        let missing = good.replace(r#""method":"GET","#, "");
        let (_, e) = parse(&missing).unwrap_err();
        assert_eq!(e, RowError::Missing { field: "method" });
        let bad_library = good.replace('}', r#","library":"peft adapters"}"#);
        let (_, e) = parse(&bad_library).unwrap_err();
        assert!(e.to_string().starts_with("field library:"), "{e}");
    }

    #[test]
    fn a_library_field_names_the_repositorys_library() {
        let line = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m","library":"peft"}"#;
        let mut named = None;
        read(line.as_bytes(), &mut |_, p| {
            if let Parsed::Event(r) = p {
                named = r.library;
            }
            Ok(())
        })
        .ok()
        .unwrap();
        assert_eq!(named.unwrap().as_str(), "peft");
    }
}
