//! `hf-csv`: Hugging Face's granular request logs. Columns are found by name in the header, in
//! any order; `userAgent`, when present, is handed over for the event's class; others
//! (`country`, `region`, `requestType`, `isInternal`, …) are ignored. Rows carry no file path. Streams with the `csv` crate (CRLF, BOM, quotes),
//! lines bounded while reading. Every record must end with a line end: a text that ends inside
//! its last record may have been cut short, and a cut field (a `hashedIp`, a `userAgent`) still
//! reads as a valid one, another downloader or client, so that record is an error.

use std::io::Read;

use csv::ByteRecord;

use super::fields::{self, RepoNames, RowError};
use super::{Failure, Parsed, Request};
use crate::breakdown::import::limit::{too_long_line, LineLimit};
use crate::breakdown::import::MAX_LINE;
use crate::domain::{LogEvent, RepoKey};

/// Where each column the counting needs sits in a row.
struct Columns {
    timestamp: usize,
    status: usize,
    method: usize,
    repo_name: usize,
    repo_type: usize,
    user: Option<usize>,
    ip: Option<usize>,
    agent: Option<usize>,
    width: usize,
}

impl Columns {
    fn find(header: &ByteRecord) -> Result<Self, RowError> {
        let names: Vec<&[u8]> = header
            .iter()
            .enumerate()
            .map(|(i, f)| match i {
                0 => f.strip_prefix("\u{feff}".as_bytes()).unwrap_or(f),
                _ => f,
            })
            .collect();
        let find = |name: &str| names.iter().position(|n| n.trim_ascii() == name.as_bytes());
        let need = |name: &'static str| find(name).ok_or(RowError::MissingColumn(name));
        Ok(Columns {
            timestamp: need("timestamp")?,
            status: need("status")?,
            method: need("method")?,
            repo_name: need("repoName")?,
            repo_type: need("repoType")?,
            user: find("hashedUserId"),
            ip: find("hashedIp"),
            agent: find("userAgent"),
            width: names.len(),
        })
    }

    fn parse(&self, record: &ByteRecord, names: &mut RepoNames) -> Result<Parsed, RowError> {
        if record.len() < self.width {
            return Err(RowError::FieldCount {
                found: record.len(),
                expected: self.width,
            });
        }
        // One UTF-8 check of the whole record (its fields end to end) instead of one per
        // field; a field of valid text starts and ends on character boundaries, which `get`
        // checks. Text that is not valid anywhere falls back to the check per field, so a
        // column that is not read, or an unreadable user-agent, still fails nothing.
        let whole = std::str::from_utf8(record.as_slice()).ok();
        let text = |i: usize| match whole {
            // Not `ok_or`: that would make (and drop) an error for every field read.
            Some(whole) => match record.range(i).and_then(|r| whole.get(r)) {
                Some(field) => Ok(field),
                None => Err(RowError::Utf8),
            },
            None => std::str::from_utf8(&record[i]).map_err(|_| RowError::Utf8),
        };
        let Some(repo_type) = fields::repo_type(text(self.repo_type)?)? else {
            return Ok(Parsed::Space);
        };
        let optional = |field, column: Option<usize>| match column {
            Some(i) => fields::hashed_id(field, text(i)?),
            None => Ok(None),
        };
        // A user-agent only classifies the request: an unreadable one is no agent.
        let agent = self
            .agent
            .and_then(|i| text(i).ok())
            .filter(|a| !a.is_empty())
            .map(str::to_owned);
        let event = LogEvent {
            repo: RepoKey {
                repo_type,
                name: names.parse(text(self.repo_name)?)?,
            },
            at_ms: fields::timestamp(text(self.timestamp)?)?,
            method: fields::method(text(self.method)?)?,
            status: fields::status(text(self.status)?)?,
            path: None,
            user: optional("hashedUserId", self.user)?,
            ip: optional("hashedIp", self.ip)?,
        };
        Ok(Parsed::Event(Request {
            event,
            library: None,
            agent,
        }))
    }
}

/// Reads every row of `input`, calling `each` with its line number and what it holds.
pub(super) fn read(
    input: impl Read,
    each: &mut dyn FnMut(u64, Parsed) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(LineLimit::new(input, MAX_LINE));
    let mut record = ByteRecord::new();
    if !next(&mut reader, &mut record)? {
        return Err(Failure::Row(1, RowError::Empty));
    }
    let columns = Columns::find(&record).map_err(|e| Failure::Row(line_of(&record), e))?;
    let mut names = RepoNames::default();
    while next(&mut reader, &mut record)? {
        let line = line_of(&record);
        let parsed = columns
            .parse(&record, &mut names)
            .map_err(|e| Failure::Row(line, e))?;
        each(line, parsed)?;
    }
    Ok(())
}

fn next<R: Read>(
    reader: &mut csv::Reader<LineLimit<R>>,
    record: &mut ByteRecord,
) -> Result<bool, Failure> {
    let read = reader.read_byte_record(record).map_err(|e| {
        if let Some(line) = too_long_line(&e) {
            return Failure::Row(line, RowError::LineTooLong { max: MAX_LINE });
        }
        let line = e.position().map_or(reader.position().line(), |p| p.line());
        if e.is_io_error() {
            let csv::ErrorKind::Io(e) = e.into_kind() else {
                unreachable!("an I/O error")
            };
            return Failure::Read(e);
        }
        Failure::Row(line, RowError::Csv(e.to_string()))
    })?;
    if read && reader.get_ref().ended_inside_a_line() {
        return Err(Failure::Row(line_of(record), RowError::NoLineEnd));
    }
    Ok(read)
}

fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RepoType;

    /// Each row's line and event (`None` for a space).
    type Rows = Vec<(u64, Option<LogEvent>)>;

    fn parse(text: &str) -> Result<Rows, (u64, RowError)> {
        parse_bytes(text.as_bytes())
    }

    /// Each row's line, event and user-agent.
    fn parse_bytes(text: &[u8]) -> Result<Rows, (u64, RowError)> {
        Ok(read_agents(text)?
            .into_iter()
            .map(|(l, e, _)| (l, e))
            .collect())
    }

    type Agents = Vec<(u64, Option<LogEvent>, Option<String>)>;

    fn read_agents(text: &[u8]) -> Result<Agents, (u64, RowError)> {
        let mut out = Vec::new();
        let result = read(text, &mut |line, p| {
            out.push(match p {
                Parsed::Space | Parsed::Other => (line, None, None),
                Parsed::Event(r) => (line, Some(r.event), r.agent),
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
    fn both_header_layouts_read_the_same_events() {
        let old = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,requestType,isInternal\n\
                   2024-05-01T10:00:00.000Z,200,GET,acme/m,model,u1,ip1,FR,IDF,file,false\n";
        let new = "\u{feff}userAgent,repoType,repoName,method,status,timestamp,hashedIp,hashedUserId,region,country\r\n\
                   hf_hub/0.20,model,acme/m,GET,200,2024-05-01T12:00:00+02:00,ip1,u1,IDF,FR\r\n";
        let a = parse(old).unwrap();
        let b = parse(new).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].1, b[0].1);
        let e = a[0].1.clone().unwrap();
        assert_eq!(e.repo.repo_type, RepoType::Model);
        assert_eq!(
            (e.user.as_deref(), e.ip.as_deref()),
            (Some("u1"), Some("ip1"))
        );
    }

    #[test]
    fn spaces_are_read_and_empty_ids_are_absent() {
        let csv = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp\n\
                   2024-05-01T10:00:00Z,200,GET,acme/s,space,,\n\
                   2024-05-01T10:00:00Z,200,GET,acme/d,dataset,,ip\n";
        let rows = parse(csv).unwrap();
        assert_eq!(rows[0], (2, None));
        let e = rows[1].1.clone().unwrap();
        assert_eq!((e.user, e.ip.as_deref()), (None, Some("ip")));
    }

    /// A text that ends inside its last record may be cut short in its last field: refused at
    /// that record's line, before its fields are read.
    #[test]
    fn the_last_record_needs_its_line_end() {
        let header = "timestamp,status,method,repoName,repoType,hashedIp";
        let row = "2024-05-01T10:00:00Z,200,GET,acme/m,model,ip1";
        for (text, refused_at) in [
            (format!("{header}\n{row}\n"), None),
            (format!("{header}\r\n{row}\r\n"), None),
            (format!("{header}\n{row}\r"), None),
            (format!("{header}\n{row}\n\n"), None),
            (format!("{header}\n{row}"), Some(2)),
            (
                format!("{header}\n{row}\n{}", &row[..row.len() - 2]),
                Some(3),
            ),
            (format!("{header}\n{row}\n{}", &row[..12]), Some(3)),
            (format!("{header}\n{row}\n{row},\"a\nb"), Some(3)),
            (header.to_owned(), Some(1)),
        ] {
            let read = parse(&text);
            match refused_at {
                None => assert_eq!(read.map(|rows| rows.len()), Ok(1), "{text:?}"),
                Some(line) => assert_eq!(read, Err((line, RowError::NoLineEnd)), "{text:?}"),
            }
        }
    }

    #[test]
    fn errors_name_line_and_field() {
        let csv = "timestamp,status,method,repoName,repoType\n\
                   2024-05-01T10:00:00Z,200,GET,acme/m,model\n\
                   2024-05-01T10:00:00Z,2OO,GET,acme/m,model\n";
        let (line, e) = parse(csv).unwrap_err();
        assert_eq!(line, 3);
        assert!(e.to_string().contains("field status"), "{e}");
        let (_, e) = parse("timestamp,status,method,repoName\n").unwrap_err();
        assert_eq!(e, RowError::MissingColumn("repoType"));
        let (line, e) = parse("timestamp,status,method,repoName,repoType\nx\n").unwrap_err();
        assert_eq!(
            (line, e),
            (
                2,
                RowError::FieldCount {
                    found: 1,
                    expected: 5
                }
            )
        );
    }

    /// The record's text is checked once as a whole; a field is read only when it is valid
    /// text by itself, as when each field was checked alone.
    #[test]
    fn each_field_read_must_be_text_by_itself() {
        let header = b"repoName,repoType,timestamp,status,method,hashedUserId,region,userAgent\n";
        let row = |fields: &[&[u8]]| [&header[..], &fields.join(&b',')[..], b"\n"].concat();
        let ok: [&[u8]; 8] = [
            b"acme/m",
            b"model",
            b"2024-05-01T10:00:00Z",
            b"200",
            b"GET",
            b"u1",
            "\u{ce}le-de-France".as_bytes(),
            b"hf_hub/0.20",
        ];
        let read = read_agents(&row(&ok)).unwrap();
        assert_eq!(read[0].1.as_ref().unwrap().repo.name.as_str(), "acme/m");
        assert_eq!(read[0].2.as_deref(), Some("hf_hub/0.20"));

        // Two fields that are text only together ("\u{e9}" split between them).
        let mut split = ok;
        split[0] = b"acme/m\xc3";
        split[1] = b"\xa9model";
        assert_eq!(parse_bytes(&row(&split)), Err((2, RowError::Utf8)));
        let mut split = ok;
        split[5] = b"u1\xc3";
        split[6] = b"\xa9";
        assert_eq!(parse_bytes(&row(&split)), Err((2, RowError::Utf8)));

        // Bytes that are not text in a column not read, or in the user-agent: still counted,
        // the agent unread.
        let mut unread = ok;
        unread[6] = b"\xff";
        assert_eq!(parse_bytes(&row(&unread)), parse_bytes(&row(&ok)));
        let mut agent = ok;
        agent[7] = b"hf_hub\xff";
        let read = read_agents(&row(&agent)).unwrap();
        assert_eq!(read[0].1, parse_bytes(&row(&ok)).unwrap()[0].1);
        assert_eq!(read[0].2, None);

        // Not text in a field read: an error, wherever else the record is text.
        let mut id = ok;
        id[5] = b"u\xff";
        assert_eq!(parse_bytes(&row(&id)), Err((2, RowError::Utf8)));
    }
}
