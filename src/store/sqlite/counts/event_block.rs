//! One block of kept events: some events of one repository-day, stored as two BLOBs — their
//! keys (16 bytes each, ascending) and the events themselves in the same order. A
//! repository-day holds a few blocks (see `events.rs`); a file of a million requests is
//! stored as some ten thousand rows instead of a million, which is what makes an ingest
//! cheap, and a recount reads a repository's days as a few contiguous BLOBs.
//!
//! Encoding of one event (the repository and day are the block's):
//! - the instant: milliseconds since the day's start, `u32` little-endian;
//! - the method: one byte, 0 `GET`, 1 `HEAD`, 2 another (followed by it as a string);
//! - the status: `u16` little-endian;
//! - the path, the user, the address and the user-agent class, each a string field: one tag
//!   byte — 0 absent, 1 bytes (LEB128 length, then the UTF-8 bytes), 2 lower-case hex (LEB128
//!   length of the binary, then the binary: hashed ids take half the space), 3 the same as
//!   the previous event's value of the field (classes and paths repeat).
//!
//! Hand-written because it is the storage format itself; the round trip and garbage input
//! are property-tested below.

use crate::domain::{LogEvent, RepoKey};
use crate::store::{EventFields, StoreError, StoreResult};

pub(super) const MS_PER_DAY: i64 = 86_400_000;
pub(super) const KEY_LEN: usize = 16;

const GET: u8 = 0;
const HEAD: u8 = 1;
const OTHER: u8 = 2;

const ABSENT: u8 = 0;
const BYTES: u8 = 1;
const HEX: u8 = 2;
const SAME: u8 = 3;

/// An event as a block keeps it: the event, its key and its user-agent class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Kept {
    pub key: [u8; KEY_LEN],
    pub event: LogEvent,
    pub agent: Option<String>,
}

fn corrupt() -> StoreError {
    StoreError::Backend("a stored block of log events is corrupt".into())
}

/// Appends the keys of `events` (ascending by key) to `keys` and their encoding to `data`;
/// every event is of the day starting at `day_ms`.
pub(super) fn encode<'a>(
    day_ms: i64,
    events: impl IntoIterator<Item = (&'a LogEvent, Option<&'a str>, &'a [u8; KEY_LEN])>,
    keys: &mut Vec<u8>,
    data: &mut Vec<u8>,
) {
    let mut previous: [Option<&str>; 4] = [None; 4];
    for (e, agent, key) in events {
        keys.extend_from_slice(key);
        let offset = e.at_ms - day_ms;
        debug_assert!((0..MS_PER_DAY).contains(&offset));
        data.extend_from_slice(&(offset as u32).to_le_bytes());
        match e.method.as_str() {
            "GET" => data.push(GET),
            "HEAD" => data.push(HEAD),
            other => {
                data.push(OTHER);
                put_bytes(data, other.as_bytes());
            }
        }
        data.extend_from_slice(&e.status.to_le_bytes());
        let fields = [e.path.as_deref(), e.user.as_deref(), e.ip.as_deref(), agent];
        for (value, previous) in fields.into_iter().zip(previous.iter_mut()) {
            put_field(data, value, previous);
        }
    }
}

fn put_field<'a>(data: &mut Vec<u8>, value: Option<&'a str>, previous: &mut Option<&'a str>) {
    let Some(v) = value else {
        data.push(ABSENT);
        return;
    };
    if *previous == Some(v) {
        data.push(SAME);
        return;
    }
    data.push(HEX);
    let tag = data.len() - 1;
    put_varint(data, v.len() / 2);
    if !v.is_empty() && v.len() % 2 == 0 && put_lower_hex(data, v.as_bytes()) {
        // Only a value stored as bytes can be repeated by SAME (the reader keeps it borrowed).
        *previous = None;
    } else {
        data.truncate(tag);
        data.push(BYTES);
        put_bytes(data, v.as_bytes());
        *previous = Some(v);
    }
}

/// The value of each lower-case hex digit; 0xFF for any other byte.
const HEX_VALUE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 16 {
        table[b"0123456789abcdef"[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Appends the binary of `text` (lower-case hex digits, even length) and says `true`; leaves
/// `data` as it was and says `false` when `text` is not that. Written into place with one
/// check at the end: hashed ids are most of an event's bytes, and a `push` per byte (each
/// checking the capacity, each digit checked on its own) was a fifth of a block's encoding.
fn put_lower_hex(data: &mut Vec<u8>, text: &[u8]) -> bool {
    let start = data.len();
    data.resize(start + text.len() / 2, 0);
    // Digits' values are below 0x10; any other byte's (0xFF) sets a higher bit.
    let mut seen = 0u8;
    for (byte, pair) in data[start..].iter_mut().zip(text.chunks_exact(2)) {
        let (high, low) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
        seen |= high | low;
        *byte = high << 4 | low;
    }
    if seen > 0x0F {
        data.truncate(start);
        return false;
    }
    true
}

/// `bytes` as lower-case hex.
fn lower_hex(bytes: &[u8]) -> String {
    let mut text = vec![0; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut text).expect("twice the bytes' length");
    String::from_utf8(text).expect("hex digits are ASCII")
}

fn put_bytes(data: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(data, bytes.len());
    data.extend_from_slice(bytes);
}

fn put_varint(data: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        data.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    data.push(n as u8);
}

/// Reads a block back: calls `f` with each event (of `repo`, on the day starting at
/// `day_ms`) and its class, in key order. With [`EventFields::Request`] only the method,
/// status and path are read (the instant is 0, ids and class `None`).
pub(super) fn decode(
    repo: &RepoKey,
    day_ms: i64,
    data: &[u8],
    fields: EventFields,
    f: &mut dyn FnMut(LogEvent, Option<String>) -> StoreResult<()>,
) -> StoreResult<()> {
    let all = fields == EventFields::All;
    let mut r = Reader { data, at: 0 };
    let mut previous: [Option<&str>; 4] = [None; 4];
    while r.at < data.len() {
        let offset = u32::from_le_bytes(r.array()?);
        if i64::from(offset) >= MS_PER_DAY {
            return Err(corrupt());
        }
        let method = match r.byte()? {
            GET => "GET".to_owned(),
            HEAD => "HEAD".to_owned(),
            OTHER => {
                let len = r.varint()?;
                r.str(len)?.to_owned()
            }
            _ => return Err(corrupt()),
        };
        let status = u16::from_le_bytes(r.array()?);
        let mut values: [Option<String>; 4] = [None, None, None, None];
        for (i, (value, previous)) in values.iter_mut().zip(previous.iter_mut()).enumerate() {
            let wanted = all || i == 0;
            *value = r.field(previous, wanted)?;
        }
        let [path, user, ip, agent] = values;
        let event = LogEvent {
            repo: repo.clone(),
            at_ms: if all { day_ms + i64::from(offset) } else { 0 },
            method,
            status,
            path,
            user,
            ip,
        };
        f(event, agent)?;
    }
    Ok(())
}

/// Reads a block's keys (16 bytes each).
pub(super) fn keys(blob: &[u8]) -> StoreResult<&[[u8; KEY_LEN]]> {
    let (keys, rest) = blob.as_chunks::<KEY_LEN>();
    if rest.is_empty() {
        Ok(keys)
    } else {
        Err(corrupt())
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> StoreResult<&'a [u8]> {
        let end = self.at.checked_add(len).ok_or_else(corrupt)?;
        let bytes = self.data.get(self.at..end).ok_or_else(corrupt)?;
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> StoreResult<[u8; N]> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("took N bytes"))
    }

    fn byte(&mut self) -> StoreResult<u8> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> StoreResult<usize> {
        let (mut n, mut shift) = (0usize, 0u32);
        loop {
            let byte = self.byte()?;
            n |= usize::from(byte & 0x7f)
                .checked_shl(shift)
                .ok_or_else(corrupt)?;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
            shift += 7;
            if shift >= usize::BITS {
                return Err(corrupt());
            }
        }
    }

    fn str(&mut self, len: usize) -> StoreResult<&'a str> {
        std::str::from_utf8(self.take(len)?).map_err(|_| corrupt())
    }

    /// One string field; `previous` is the last value of the field read as bytes (hex values
    /// are kept as their binary and encoded again when repeated).
    fn field(
        &mut self,
        previous: &mut Option<&'a str>,
        wanted: bool,
    ) -> StoreResult<Option<String>> {
        match self.byte()? {
            ABSENT => Ok(None),
            BYTES => {
                let len = self.varint()?;
                let v = self.str(len)?;
                *previous = Some(v);
                Ok(wanted.then(|| v.to_owned()))
            }
            HEX => {
                let len = self.varint()?;
                let bytes = self.take(len)?;
                // Only a value stored as bytes can be repeated by SAME.
                *previous = None;
                Ok(wanted.then(|| lower_hex(bytes)))
            }
            SAME => {
                let v = previous.ok_or_else(corrupt)?;
                Ok(wanted.then(|| v.to_owned()))
            }
            _ => Err(corrupt()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RepoName, RepoType};
    use proptest::prelude::*;

    fn repo() -> RepoKey {
        RepoKey {
            repo_type: RepoType::Dataset,
            name: RepoName::parse("acme/d").unwrap(),
        }
    }

    /// Strings that hit every encoding: absent, empty, lower-case hex (even and odd length),
    /// upper-case hex, hex but for one byte, anything else.
    fn text() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some(String::new())),
            "[0-9a-f]{1,8}".prop_map(Some),
            "[0-9A-F]{2,4}".prop_map(Some),
            // Mostly hex, with a byte that is not a digit anywhere in it.
            "[0-9a-g]{2,12}".prop_map(Some),
            Just(Some("config.json".to_owned())),
            any::<String>().prop_map(Some),
        ]
    }

    fn event(day_ms: i64) -> impl Strategy<Value = (LogEvent, Option<String>)> {
        (
            0..MS_PER_DAY,
            prop_oneof![
                Just("GET".to_owned()),
                Just("HEAD".to_owned()),
                "[A-Z]{0,7}"
            ],
            any::<u16>(),
            (text(), text(), text(), text()),
        )
            .prop_map(move |(offset, method, status, (path, user, ip, agent))| {
                let event = LogEvent {
                    repo: repo(),
                    at_ms: day_ms + offset,
                    method,
                    status,
                    path,
                    user,
                    ip,
                };
                (event, agent)
            })
    }

    fn decode_all(
        day_ms: i64,
        data: &[u8],
        fields: EventFields,
    ) -> Vec<(LogEvent, Option<String>)> {
        let mut back = Vec::new();
        decode(&repo(), day_ms, data, fields, &mut |e, a| {
            back.push((e, a));
            Ok(())
        })
        .unwrap();
        back
    }

    proptest! {
        #[test]
        fn round_trips(day in -800..30_000i64, events in prop::collection::vec(event(0), 0..40)) {
            let day_ms = day * MS_PER_DAY;
            let events: Vec<(LogEvent, Option<String>)> = events
                .into_iter()
                .map(|(mut e, a)| { e.at_ms += day_ms; (e, a) })
                .collect();
            let keys: Vec<[u8; KEY_LEN]> = (0..events.len()).map(|i| [i as u8; KEY_LEN]).collect();
            let (mut key_blob, mut data) = (Vec::new(), Vec::new());
            encode(
                day_ms,
                events.iter().zip(&keys).map(|((e, a), k)| (e, a.as_deref(), k)),
                &mut key_blob,
                &mut data,
            );
            prop_assert_eq!(super::keys(&key_blob).unwrap(), &keys[..]);
            prop_assert_eq!(&decode_all(day_ms, &data, EventFields::All), &events);
            let requests: Vec<_> = events
                .iter()
                .map(|(e, _)| {
                    let e = LogEvent { at_ms: 0, user: None, ip: None, ..e.clone() };
                    (e, None)
                })
                .collect();
            prop_assert_eq!(decode_all(day_ms, &data, EventFields::Request), requests);
        }

        #[test]
        fn never_panics_on_garbage(data in prop::collection::vec(any::<u8>(), 0..96)) {
            let _ = decode(&repo(), 0, &data, EventFields::All, &mut |_, _| Ok(()));
            let _ = keys(&data);
        }
    }

    #[test]
    fn hashed_ids_take_half_their_text() {
        let e = LogEvent {
            repo: repo(),
            at_ms: 1_000,
            method: "GET".into(),
            status: 200,
            path: None,
            user: Some("d544ab5354d69b12339461724e8267b8".into()),
            ip: Some("39618d3cc5eda2a464837be4c9be5c91".into()),
        };
        let (mut keys, mut data) = (Vec::new(), Vec::new());
        encode(
            0,
            [(&e, Some("huggingface_hub"), &[0; KEY_LEN])],
            &mut keys,
            &mut data,
        );
        // instant 4, method 1, status 2, path 1, ids 2 × (1 + 1 + 16), class 1 + 1 + 15
        assert_eq!(data.len(), 4 + 1 + 2 + 1 + 36 + 17);
    }
}
