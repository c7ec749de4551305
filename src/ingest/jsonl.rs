//! `jsonl`: hubstats' own event format, one JSON object per line: `timestamp`, `method`,
//! `status` (a number, or a string of its digits), `repoType` (`model`|`dataset`|`space`), `repoName`, and optionally
//! `path`, `hashedUserId`, `hashedIp`, `library` (a model repository's library, e.g. `peft`:
//! the latest event naming one sets the library the repository is counted under),
//! `userAgent` (for the event's class), `country`, `region` (not used yet). Unknown keys are
//! ignored; blank lines are skipped.

use std::borrow::Cow;
use std::io::Read;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::fields::{self, RepoNames, RowError};
use super::{input, Failure, Parsed, Request};
use crate::domain::{LibraryName, LogEvent, RepoKey};

/// Reads every line of `input`, calling `each` with its line number and what it holds.
pub(super) fn read(
    input: impl Read,
    each: &mut dyn FnMut(u64, Parsed) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut names = RepoNames::default();
    input::for_each_line(input, |line, text| {
        let parsed = parse_line(text, &mut names).map_err(|e| Failure::Row(line, e))?;
        each(line, parsed)
    })
}

fn parse_line(line: &[u8], names: &mut RepoNames) -> Result<Parsed, RowError> {
    // The whole line must be text, wherever its bad bytes are (serde_json reading bytes does
    // not check the strings it skips: an unknown key's value). Checked once, the line's
    // strings are not checked again one by one (serde_json validates each string it reads
    // from bytes, not from text): a tenth of the parse.
    let text = std::str::from_utf8(line).map_err(|_| RowError::Utf8)?;
    // `Line` would also read an array, field by field in order.
    if !text.trim_ascii_start().starts_with('{') {
        return Err(RowError::Json("expected a JSON object".to_owned()));
    }
    let object: Line<'_> = serde_json::from_str(text).map_err(|e| RowError::Json(e.to_string()))?;
    let Some(repo_type) = fields::repo_type(required(&object.repo_type, "repoType")?)? else {
        return Ok(Parsed::Space);
    };
    let status = match &object.status {
        None => return Err(RowError::Missing { field: "status" }),
        // A string of the digits too: nginx's JSON log formats (`escape=json`) write one.
        Some(Field::Number(n)) => fields::status(n)?,
        Some(Field::Text(t)) => fields::status(t)?,
        Some(other) => fields::status(&other.json())?,
    };
    let event = LogEvent {
        repo: RepoKey {
            repo_type,
            name: names.parse(required(&object.repo_name, "repoName")?)?,
        },
        at_ms: fields::timestamp(required(&object.timestamp, "timestamp")?)?,
        method: fields::method(required(&object.method, "method")?)?,
        status,
        path: optional(&object.path, "path")?
            .map(fields::path)
            .transpose()?,
        user: hashed(&object.hashed_user_id, "hashedUserId")?,
        ip: hashed(&object.hashed_ip, "hashedIp")?,
    };
    let library = match optional(&object.library, "library")? {
        None | Some("") => None,
        Some(name) => Some(LibraryName::parse(name).map_err(|_| RowError::Invalid {
            field: "library",
            found: fields::quote(name),
            expected: "a library name (letters, digits, '-', '_', '.')",
        })?),
    };
    let agent = optional(&object.user_agent, "userAgent")?
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    Ok(Parsed::Event(Request {
        event,
        library,
        agent,
    }))
}

/// The fields of a line that are read (absent or `null`: `None`), borrowed from the line
/// when they hold no escapes; other keys are skipped without being kept. Reading into this
/// rather than a map of values takes no allocation per key.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    timestamp: Option<Field<'a>>,
    #[serde(borrow, default)]
    method: Option<Field<'a>>,
    #[serde(borrow, default)]
    status: Option<Field<'a>>,
    #[serde(borrow, default, rename = "repoType")]
    repo_type: Option<Field<'a>>,
    #[serde(borrow, default, rename = "repoName")]
    repo_name: Option<Field<'a>>,
    #[serde(borrow, default)]
    path: Option<Field<'a>>,
    #[serde(borrow, default, rename = "hashedUserId")]
    hashed_user_id: Option<Field<'a>>,
    #[serde(borrow, default, rename = "hashedIp")]
    hashed_ip: Option<Field<'a>>,
    #[serde(borrow, default)]
    library: Option<Field<'a>>,
    #[serde(borrow, default, rename = "userAgent")]
    user_agent: Option<Field<'a>>,
}

/// A field's value, of whatever JSON type: fields say which they accept.
enum Field<'a> {
    Text(Cow<'a, str>),
    /// An integer, as written.
    Number(String),
    /// Anything else, as JSON (an object or array: `{…}`, `[…]`).
    Other(String),
}

impl Field<'_> {
    /// The value as JSON, for an error.
    fn json(&self) -> String {
        match self {
            Field::Text(text) => Value::from(text.as_ref()).to_string(),
            Field::Number(n) | Field::Other(n) => n.clone(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Any;
        impl<'de> Visitor<'de> for Any {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Field::Text(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Field::Number(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Field::Number(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Field::Other(Value::from(v).to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Field::Other(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Field::Other("null".to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other("{…}".to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other("[…]".to_owned()))
            }
        }
        deserializer.deserialize_any(Any)
    }
}

fn required<'a>(value: &'a Option<Field<'_>>, field: &'static str) -> Result<&'a str, RowError> {
    // Not `ok_or`: that would make (and drop) an error for every field read.
    match optional(value, field)? {
        Some(text) => Ok(text),
        None => Err(RowError::Missing { field }),
    }
}

/// A string field; absent or `null` is `None`, any other type an error.
fn optional<'a>(
    value: &'a Option<Field<'_>>,
    field: &'static str,
) -> Result<Option<&'a str>, RowError> {
    match value {
        None => Ok(None),
        Some(Field::Text(text)) => Ok(Some(text)),
        Some(other) => Err(RowError::Invalid {
            field,
            found: fields::quote(&other.json()),
            expected: "a string",
        }),
    }
}

fn hashed(value: &Option<Field<'_>>, field: &'static str) -> Result<Option<String>, RowError> {
    match optional(value, field)? {
        Some(text) => fields::hashed_id(field, text),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Option<LogEvent>>, (u64, RowError)> {
        parse_bytes(text.as_bytes())
    }

    fn parse_bytes(text: &[u8]) -> Result<Vec<Option<LogEvent>>, (u64, RowError)> {
        let mut out = Vec::new();
        let result = read(text, &mut |_, p| {
            out.push(match p {
                Parsed::Space | Parsed::Other => None,
                Parsed::Event(r) => Some(r.event),
            });
            Ok(())
        });
        match result {
            Ok(()) => Ok(out),
            Err(Failure::Row(line, e)) => Err((line, e)),
            Err(Failure::Read(e)) => panic!("{e}"),
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
    fn text_beyond_ascii_is_read_and_bytes_that_are_not_text_are_an_error() {
        let line = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m","path":"donn\u00e9es/café.json","userAgent":"🤗"}"#;
        let rows = parse(&format!("{line}\n")).unwrap();
        assert_eq!(
            rows[0].as_ref().unwrap().path.as_deref(),
            Some("données/café.json")
        );
        // `text` with its byte 0x01 made `byte`, which is no text.
        let with = |text: String, byte: u8| -> Vec<u8> {
            text.bytes()
                .map(|b| if b == 1 { byte } else { b })
                .collect()
        };
        // "é" cut short inside a string; a byte that is no text outside one, before the
        // object; in a key that is ignored, and in its value; in the user-agent.
        let cut = with(line.replace("café", "caf\u{1}"), 0xc3);
        let stray = with(line.replacen('{', "{\u{1}", 1), 0xff);
        let before = with(format!("\u{1}{line}"), 0xff);
        let ignored = r#"{"country":"FR","#;
        let key = with(
            line.replacen('{', &ignored.replace("country", "c\u{1}"), 1),
            0xff,
        );
        let value = with(
            line.replacen('{', &ignored.replace("FR", "F\u{1}"), 1),
            0xff,
        );
        let agent = with(line.replace("🤗", "\u{1}"), 0xff);
        let bad = [
            ("cut", cut),
            ("stray", stray),
            ("before", before),
            ("key", key),
            ("value", value),
            ("agent", agent),
        ];
        let read: Vec<_> = (bad.iter())
            .map(|(name, bad)| {
                let text = [line.as_bytes(), b"\n", bad, b"\n", line.as_bytes()].concat();
                (*name, parse_bytes(&text).map(|rows| rows.len()))
            })
            .collect();
        let refused: Vec<_> = (bad.iter())
            .map(|(name, _)| (*name, Err((2, RowError::Utf8))))
            .collect();
        assert_eq!(read, refused);
        // The same lines with text in place of the bad bytes are read.
        let ignored = line.replacen('{', ignored, 1);
        assert_eq!(parse(&ignored).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_line_and_field() {
        let good = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m"}"#;
        let text = format!("{good}\n{}\n", good.replace("200", "\"20x\""));
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
    fn fields_of_any_json_type_are_told_apart() {
        let good = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m"}"#;
        // Escapes, unknown keys of every type, null optional fields.
        let escaped = good.replace(
            r#""repoName":"acme/m""#,
            r#""repoName":"acme\/m","x":{"a":[1,{"b":null}]},"y":[true,2.5],"path":null,"hashedIp":"i\u0070""#,
        );
        let e = parse(&escaped).unwrap()[0].clone().unwrap();
        assert_eq!(e.repo.name.as_str(), "acme/m");
        assert_eq!(e.ip.as_deref(), Some("ip"));
        assert_eq!(e.path, None);
        // A status written as a string of its digits, as nginx's JSON logs write it.
        let quoted = parse(&good.replace("200", r#""304""#)).unwrap()[0]
            .clone()
            .unwrap();
        assert_eq!(quoted.status, 304);
        for (bad, field) in [
            (good.replace("200", r#""2000""#), "status"),
            (good.replace("200", r#""OK""#), "status"),
            (good.replace("200", "200.0"), "status"),
            (good.replace("200", "true"), "status"),
            (good.replace(r#""GET""#, "7"), "method"),
            (good.replace(r#""acme/m""#, r#"{"org":"acme"}"#), "repoName"),
            (good.replace(r#""acme/m""#, r#"["acme"]"#), "repoName"),
            (good.replace("200", "null"), "status"),
        ] {
            let (_, e) = parse(&bad).unwrap_err();
            assert!(
                e.to_string().contains(&format!("field {field}")),
                "{bad}: {e}"
            );
        }
        for bad in [
            r#"["2024-05-01T10:00:00Z","GET",200,"model","acme/m"]"#.to_owned(),
            "\"text\"".to_owned(),
            good.replace(r#""method":"GET""#, r#""method":"GET","method":"HEAD""#),
        ] {
            let (_, e) = parse(&bad).unwrap_err();
            assert!(matches!(e, RowError::Json(_)), "{bad}: {e}");
        }
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
