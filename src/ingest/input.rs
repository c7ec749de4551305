//! How a log's bytes are read: decoded when they are gzip data ([`text_of`]), hashed into the
//! text's identity ([`Tap`]), with progress over the bytes as stored ([`Progress`]), and, for
//! a regular file, checked against the files already ingested while it is parsed
//! ([`KnownCheck`]).
//!
//! The check exists because operators re-run `hubstats ingest logs/*` over a whole folder:
//! each file ingested before would otherwise be parsed again in full before its digest (computed
//! while parsing) shows it was. A second thread hashes the file alone (a SHA-256 pass, some
//! twenty times faster than parsing) and, when the store has recorded that digest, stops the
//! parse. It never decides what is counted: the parse still hashes exactly the bytes it read
//! and records that digest, so a file that changes while it is read is counted as read.
//!
//! Most files are new, and for them that second pass is waste (a fifth of a `jsonl` ingest's
//! CPU, with both cores busy). So each file is also recorded with its head: the digest of its
//! text's first MiB. Once the check has hashed that much it asks the store whether any file
//! recorded may have this head; when none may, it stops.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::fields::RowError;
use super::{Failure, Format};
use crate::breakdown::import::limit::{too_long_io, LineLimit};
use crate::breakdown::import::MAX_LINE;
use crate::store::{LogEvents, LogFileInfo};

/// Calls `each` with the number (from 1) and the bytes (with their line end) of every line of
/// `input` that is not blank, for the formats of one event per line; a line longer than
/// [`MAX_LINE`] is an error of its row, found before it is buffered whole.
pub(super) fn for_each_line(
    input: impl Read,
    mut each: impl FnMut(u64, &[u8]) -> Result<(), Failure>,
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
                None => Failure::Read(e),
            })?;
        if n == 0 {
            return Ok(());
        }
        if !buf.trim_ascii().is_empty() {
            each(line, &buf)?;
        }
    }
}

/// How much of a file's text its head digest covers.
pub(super) const HEAD_BYTES: usize = 1 << 20;

/// A text's identity: the SHA-256 (hex) of the whole text and of its first [`HEAD_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Digests {
    pub(super) whole: String,
    pub(super) head: String,
}

/// Hashes what is read: the identity of a file's text.
pub(super) struct Tap<R> {
    inner: R,
    hasher: Sha256,
    /// Bytes hashed so far.
    hashed: usize,
    /// The hasher's state once it had taken the first [`HEAD_BYTES`]: the head digest is the
    /// whole digest's prefix, so one pass makes both.
    head: Option<Sha256>,
}

impl<R: Read> Tap<R> {
    pub(super) fn new(inner: R) -> Self {
        Tap {
            inner,
            hasher: Sha256::new(),
            hashed: 0,
            head: None,
        }
    }

    /// Reads to the end (a parser may stop before the last bytes) and returns the digests.
    pub(super) fn finish(mut self) -> Digests {
        let mut rest = [0u8; 8192];
        while let Ok(n) = self.read(&mut rest) {
            if n == 0 {
                break;
            }
        }
        Digests {
            head: hex::encode(
                self.head
                    .as_ref()
                    .unwrap_or(&self.hasher)
                    .clone()
                    .finalize(),
            ),
            whole: hex::encode(self.hasher.finalize()),
        }
    }

    /// The head digest, once the head was read (or the text ended before its end).
    fn head_digest(&self, ended: bool) -> Option<String> {
        let head = self.head.as_ref().or(ended.then_some(&self.hasher))?;
        Some(hex::encode(head.clone().finalize()))
    }
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut data = &buf[..n];
        let to_head = HEAD_BYTES.saturating_sub(self.hashed);
        if self.head.is_none() && data.len() >= to_head {
            let (head, rest) = data.split_at(to_head);
            self.hasher.update(head);
            self.head = Some(self.hasher.clone());
            data = rest;
        }
        self.hasher.update(data);
        self.hashed += n;
        Ok(n)
    }
}

/// Reports the bytes read from a file, every 64 KiB or so (of the file as stored: a gzip
/// file's progress runs to its own size); ends the read once `stop` is set.
pub(super) struct Progress<'p, R> {
    inner: R,
    bytes: u64,
    reported: u64,
    progress: &'p mut (dyn FnMut(u64) + Send),
    stop: Option<&'p AtomicBool>,
}

const PROGRESS_EVERY: u64 = 1 << 16;

impl<'p, R: Read> Progress<'p, R> {
    pub(super) fn new(
        inner: R,
        progress: &'p mut (dyn FnMut(u64) + Send),
        stop: Option<&'p AtomicBool>,
    ) -> Self {
        Progress {
            inner,
            bytes: 0,
            reported: 0,
            progress,
            stop,
        }
    }
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            return Err(io::Error::other(Known));
        }
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        if self.bytes - self.reported >= PROGRESS_EVERY || n == 0 {
            self.reported = self.bytes;
            (self.progress)(self.bytes);
        }
        Ok(n)
    }
}

/// The read error that ends a parse once [`KnownCheck`] found the file ingested before.
#[derive(Debug, thiserror::Error)]
#[error("ingested before")]
pub(super) struct Known;

/// Whether `e` is the end of a read stopped by [`KnownCheck`].
pub(super) fn is_known(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Known>())
}

/// The text of `input`: itself, or decoded when it is gzip data (its first bytes are gzip's
/// magic number), as rotated logs (`access.log.2.gz`) are. One file or several members.
pub(super) fn text_of<'a>(
    mut input: impl Read + Send + 'a,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match input.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = io::Cursor::new(head).take(n as u64).chain(input);
    Ok(if head[..n] == GZIP_MAGIC {
        Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 16, whole),
        ))
    } else {
        Box::new(whole)
    })
}

/// The name a fully ingested file is recorded under: its format and its text's digest.
pub(super) fn file_record(format: Format, digest: &str) -> String {
    format!("{format}:{digest}")
}

/// The early check of a regular file against the files already ingested (see the module
/// documentation): `found` is set when the store has recorded the file's text.
pub(super) struct KnownCheck {
    /// Set by the check when the file was ingested before: the parse stops.
    pub(super) found: AtomicBool,
    /// Set by the parse when it is over: the check stops.
    pub(super) over: AtomicBool,
    /// Bytes of text the check hashed.
    pub(super) hashed: AtomicU64,
}

impl KnownCheck {
    pub(super) fn new() -> Self {
        KnownCheck {
            found: AtomicBool::new(false),
            over: AtomicBool::new(false),
            hashed: AtomicU64::new(0),
        }
    }

    /// Hashes the text of the file at `path` (unless the parse ends first, or its head shows
    /// it is new) and looks its digest up; sets `found` and returns the record when it was
    /// ingested before. Any problem ends the check quietly: the parse reports it, or does
    /// not meet it.
    pub(super) fn run(
        &self,
        events: &dyn LogEvents,
        path: &Path,
        format: Format,
    ) -> Option<LogFileInfo> {
        let file = File::open(path).ok()?;
        let mut tap = Tap::new(text_of(file).ok()?);
        let mut buf = vec![0u8; 1 << 18];
        let mut head_asked = false;
        loop {
            if self.over.load(Ordering::Relaxed) {
                return None;
            }
            let n = match tap.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return None,
            };
            self.hashed.fetch_add(n as u64, Ordering::Relaxed);
            if !head_asked {
                if let Some(head) = tap.head_digest(n == 0) {
                    head_asked = true;
                    let head = file_record(format, &head);
                    let prefix = file_record(format, "");
                    if !events.may_know_log_file(&prefix, &head).ok()? {
                        return None;
                    }
                }
            }
            if n == 0 {
                break;
            }
        }
        let digest = tap.finish().whole;
        let info = events.log_file(&file_record(format, &digest)).ok()??;
        self.found.store(true, Ordering::Relaxed);
        Some(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One pass gives the digest of the whole text and of its first [`HEAD_BYTES`] (all of a
    /// shorter text), however the reads fall around the head's end.
    #[test]
    fn a_tap_digests_the_whole_text_and_its_head() {
        let sha = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
        let text: Vec<u8> = (0..3 * HEAD_BYTES + 7).map(|i| (i % 251) as u8).collect();
        for len in [
            0,
            100,
            HEAD_BYTES - 1,
            HEAD_BYTES,
            HEAD_BYTES + 1,
            text.len(),
        ] {
            for chunk in [1000, 4096, HEAD_BYTES] {
                let mut tap = Tap::new(&text[..len]);
                let mut buf = vec![0u8; chunk];
                let mut head_seen = None;
                loop {
                    let n = tap.read(&mut buf).unwrap();
                    head_seen = head_seen.or(tap.head_digest(n == 0));
                    if n == 0 {
                        break;
                    }
                }
                let head = sha(&text[..len.min(HEAD_BYTES)]);
                assert_eq!(head_seen.as_ref(), Some(&head), "{len} bytes by {chunk}");
                let digests = tap.finish();
                assert_eq!(
                    digests,
                    Digests {
                        whole: sha(&text[..len]),
                        head
                    },
                    "{len} by {chunk}"
                );
            }
        }
    }
}
