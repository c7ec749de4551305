//! `nginx`: the `combined` access-log format of a hub that serves Hub-style URLs,
//! `/{org}/{name}/resolve/{revision}/{path}` (models) and `/datasets/{org}/{name}/resolve/…`
//! (datasets; `/spaces/…` are space rows). The downloader is `$remote_user` when it is not
//! `-`, else the address, hashed with the store's secret *before* the event exists: raw
//! addresses are never kept. Lines whose URL is not a repository file are skipped; a line not
//! in the combined format is an error. The last field (the user-agent) is handed over for the
//! event's class. Parsed by hand (no regex): a few splits per line.

use std::io::Read;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::fields::{self, RepoNames, RowError};
use super::{input, Failure, Parsed, Request};
use crate::domain::{Day, LogEvent, RepoKey, RepoName, RepoType};

/// Reads every line of `input`, calling `each` with its line number and what it holds.
pub(super) fn read(
    input: impl Read,
    secret: &[u8],
    each: &mut dyn FnMut(u64, Parsed) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut names = RepoNames::default();
    input::for_each_line(input, |line, bytes| {
        let text = std::str::from_utf8(bytes).map_err(|_| Failure::Row(line, RowError::Utf8))?;
        let text = text.trim_end_matches(['\n', '\r']);
        let parsed = parse_line(text, secret, &mut names).map_err(|e| Failure::Row(line, e))?;
        each(line, parsed)
    })
}

/// The fields of a combined line that counting uses.
struct Combined<'a> {
    addr: &'a str,
    user: &'a str,
    time: &'a str,
    request: &'a str,
    status: &'a str,
    agent: &'a str,
}

fn not_combined(text: &str) -> RowError {
    RowError::Invalid {
        field: "line",
        found: fields::quote(text),
        expected: "in nginx's combined format",
    }
}

/// `addr - user [time] "request" status bytes "referer" "agent"`.
fn split(text: &str) -> Option<Combined<'_>> {
    let (addr, rest) = text.split_once(' ')?;
    let (_ident, rest) = rest.split_once(' ')?;
    let (user, rest) = rest.split_once(' ')?;
    let (time, rest) = rest.strip_prefix('[')?.split_once("] \"")?;
    let (request, rest) = rest.split_once("\" ")?;
    let (status, rest) = rest.split_once(' ')?;
    let (bytes, rest) = rest.split_once(' ')?;
    let quoted = rest.starts_with('"') && rest.ends_with('"') && rest.contains("\" \"");
    if addr.is_empty() || !bytes.bytes().all(|b| b.is_ascii_digit() || b == b'-') || !quoted {
        return None;
    }
    let (_referer, agent) = rest.strip_suffix('"')?.rsplit_once("\" \"")?;
    Some(Combined {
        addr,
        user,
        time,
        request,
        status,
        agent,
    })
}

fn parse_line(text: &str, secret: &[u8], names: &mut RepoNames) -> Result<Parsed, RowError> {
    let c = split(text).ok_or_else(|| not_combined(text))?;
    let at_ms = time_local(c.time)?;
    let status = fields::status(c.status)?;
    let mut parts = c.request.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(Parsed::Other);
    };
    let Ok(method) = fields::method(method) else {
        return Ok(Parsed::Other);
    };
    let Some((repo_type, name, path)) = repo_file(target, names) else {
        return Ok(Parsed::Other);
    };
    let Some(repo_type) = repo_type else {
        return Ok(Parsed::Space);
    };
    let (user, ip) = match c.user {
        "-" | "" => (None, Some(hashed(secret, "ip", c.addr))),
        user => (Some(hashed(secret, "user", user)), None),
    };
    let event = LogEvent {
        repo: RepoKey { repo_type, name },
        at_ms,
        method,
        status,
        path: Some(path),
        user,
        ip,
    };
    let agent = match c.agent {
        "-" | "" => None,
        agent => Some(agent.to_owned()),
    };
    Ok(Parsed::Event(Request {
        event,
        library: None,
        agent,
    }))
}

/// `10/Oct/2024:13:55:36 +0200` as milliseconds since the epoch, UTC.
fn time_local(text: &str) -> Result<i64, RowError> {
    let format = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
    );
    let invalid = || RowError::Invalid {
        field: "time_local",
        found: fields::quote(text),
        expected: "a time like 10/Oct/2024:13:55:36 +0000 from 2000 to 2999",
    };
    let at = OffsetDateTime::parse(text, format).map_err(|_| invalid())?;
    let ms = at.unix_timestamp() * 1000;
    let day = Day::from_epoch_days(ms.div_euclid(86_400_000) as i32);
    if !(Day::MIN..=Day::MAX).contains(&day) {
        return Err(invalid());
    }
    Ok(ms)
}

/// The repository (`None` type for a space) and file path a URL names, if it names one.
fn repo_file(target: &str, names: &mut RepoNames) -> Option<(Option<RepoType>, RepoName, String)> {
    let path = target.split(['?', '#']).next()?.strip_prefix('/')?;
    let (repo_type, rest) = match path.split_once('/')? {
        ("datasets", rest) => (Some(RepoType::Dataset), rest),
        ("spaces", rest) => (None, rest),
        _ => (Some(RepoType::Model), path),
    };
    let mut segments = rest.splitn(5, '/');
    let (org, name) = (segments.next()?, segments.next()?);
    if segments.next()? != "resolve" || segments.next()?.is_empty() {
        return None;
    }
    let file = percent_decode(segments.next()?)?;
    // `org/name` as the URL writes it.
    let name = names.parse(&rest[..org.len() + 1 + name.len()]).ok()?;
    let file = fields::path(&file).ok()?;
    Some((repo_type, name, file))
}

/// `%XX` escapes decoded; `None` when an escape is malformed (a `%` not followed by two hex
/// digits, which `percent_decode_str` would keep as it is) or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let well_formed = |escape: &str| {
        escape
            .as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    };
    if !text.split('%').skip(1).all(well_formed) {
        return None;
    }
    let decoded = percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()?;
    Some(decoded.into_owned())
}

/// A downloader id: 16 bytes of SHA-256 over the store's secret, the kind, and the value.
fn hashed(secret: &[u8], kind: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update([0]);
    h.update(kind.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Parsed>, (u64, RowError)> {
        let mut out = Vec::new();
        let result = read(text.as_bytes(), b"secret", &mut |_, p| {
            out.push(p);
            Ok(())
        });
        match result {
            Ok(()) => Ok(out),
            Err(Failure::Row(line, e)) => Err((line, e)),
            Err(Failure::Read(e)) => panic!("{e}"),
            Err(Failure::Store(e)) => panic!("{e}"),
        }
    }

    const LINE: &str = r#"203.0.113.9 - - [01/May/2024:12:00:00 +0200] "GET /acme/bert/resolve/main/sub%20dir/config.json?download=1 HTTP/1.1" 200 512 "-" "curl/8""#;

    #[test]
    fn reads_model_dataset_space_and_other_urls() {
        let text = [
            LINE.to_owned(),
            LINE.replace("/acme/bert/", "/datasets/acme/data/")
                .replace(" - - ", " - alice "),
            LINE.replace("/acme/bert/", "/spaces/acme/app/"),
            LINE.replace("/acme/bert/resolve/main/", "/acme/bert/blob/main/"),
            LINE.replace(
                "/acme/bert/resolve/main/sub%20dir/config.json",
                "/api/models",
            ),
        ]
        .join("\n");
        let rows = parse(&text).unwrap();
        let Parsed::Event(Request { event: model, .. }) = &rows[0] else {
            panic!("expected an event");
        };
        assert_eq!(model.repo.name.as_str(), "acme/bert");
        assert_eq!(model.path.as_deref(), Some("sub dir/config.json"));
        assert_eq!(
            model.at_ms,
            fields::timestamp("2024-05-01T10:00:00Z").unwrap()
        );
        let ip = model.ip.as_deref().unwrap();
        assert!(model.user.is_none() && !ip.contains("203.0.113.9") && ip.len() == 32);
        let Parsed::Event(Request { event: dataset, .. }) = &rows[1] else {
            panic!("expected an event");
        };
        assert_eq!(dataset.repo.repo_type, RepoType::Dataset);
        assert!(dataset.user.is_some() && dataset.ip.is_none());
        assert!(matches!(rows[2], Parsed::Space));
        assert!(matches!(rows[3], Parsed::Other));
        assert!(matches!(rows[4], Parsed::Other));
    }

    #[test]
    fn escapes_decode_and_malformed_ones_are_refused() {
        assert_eq!(percent_decode("a%20b%2fc%C3%A9").as_deref(), Some("a b/cé"));
        assert_eq!(percent_decode("plain.bin").as_deref(), Some("plain.bin"));
        for bad in ["a%2", "a%", "%zz", "%+1", "%%41", "%FF", "%C3"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_line_not_in_combined_format_is_an_error() {
        let text = format!("{LINE}\nthis is not an access log line\n");
        let (line, e) = parse(&text).err().unwrap();
        assert_eq!(line, 2);
        assert!(e.to_string().contains("combined format"), "{e}");
        let bad_time = LINE.replace("01/May/2024", "2024-05-01");
        let (_, e) = parse(&bad_time).err().unwrap();
        assert!(e.to_string().contains("time_local"), "{e}");
    }
}
