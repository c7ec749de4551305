//! Bounds line lengths while reading, before the CSV reader buffers a line: a file holding a
//! 1 GB line is refused after reading [`MAX_LINE`] bytes of it, with its line number, instead
//! of growing a record to the line's size. Also tells whether the text ended inside a line
//! ([`LineLimit::ended_inside_a_line`]): a CSV record without its line end may be cut short.

use std::io::{self, Read};

/// The longest line accepted. A breakdown row is under 300 bytes (two 96-byte name parts,
/// three numbers and a timestamp); 64 KiB leaves room for anything quoted or padded.
pub const MAX_LINE: usize = 64 * 1024;

/// The error a [`LineLimit`] reader returns: the number of the line that is too long.
#[derive(Debug)]
struct TooLong(u64);

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is too long", self.0)
    }
}

impl std::error::Error for TooLong {}

pub(crate) struct LineLimit<R> {
    inner: R,
    max: usize,
    /// Line number (from 1) and length so far of the line being read.
    line: u64,
    len: usize,
    /// The last byte read (`\n` before any), and whether the text has ended.
    last: u8,
    ended: bool,
}

impl<R> LineLimit<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        LineLimit {
            inner,
            max,
            line: 1,
            len: 0,
            last: b'\n',
            ended: false,
        }
    }

    /// Whether the text has ended, and not with a line end (`\n`, or `\r` as CSV's line ends
    /// may be). A CSV reader gives its last record only once the text ended, so a record read
    /// while this holds is the last one, without its line end: a file cut short in its last
    /// field would still read as a record of valid values (a shorter id or count).
    pub(crate) fn ended_inside_a_line(&self) -> bool {
        self.ended && !matches!(self.last, b'\n' | b'\r')
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match buf[..n].last() {
            Some(&last) => self.last = last,
            None => self.ended |= !buf.is_empty(),
        }
        let mut rest = &buf[..n];
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if self.len + i > self.max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    TooLong(self.line),
                ));
            }
            self.line += 1;
            self.len = 0;
            rest = &rest[i + 1..];
        }
        self.len += rest.len();
        if self.len > self.max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TooLong(self.line),
            ));
        }
        Ok(n)
    }
}

/// The line an I/O error from a [`LineLimit`] reports as too long, if that is the error.
pub(crate) fn too_long_io(e: &io::Error) -> Option<u64> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<TooLong>())
        .map(|t| t.0)
}

/// The line a CSV error reports as too long, if that is the error.
pub(crate) fn too_long_line(e: &csv::Error) -> Option<u64> {
    match e.kind() {
        csv::ErrorKind::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TooLong>())
            .map(|t| t.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_the_first_long_line_by_number() {
        let text = format!("a\nbb\n{}\nc\n", "x".repeat(10));
        let mut out = Vec::new();
        let mut r = LineLimit::new(text.as_bytes(), 9);
        let e = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.to_string(), "line 3 is too long");
        let mut ok = LineLimit::new(text.as_bytes(), 10);
        ok.read_to_end(&mut out).unwrap();
    }
}
