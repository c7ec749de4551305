//! One chunk: a source's downloads of one repository over one span of [`SPAN_DAYS`] days,
//! stored as one BLOB. A year of daily rows is ~1 KB in one row instead of 365 rows, so an
//! import writes a few rows per repository, correcting a day rewrites one chunk (O(1) rows,
//! whatever the history's length), and reading an organization's 8 million days is a scan of
//! 60,000 small blobs.
//!
//! Encoding, for days ascending: the day's offset in the span (one byte, 0–255), then the
//! downloads as an unsigned LEB128 varint (1–8 bytes). Zero days are not stored.
//! Hand-written because it is the storage format itself: 20 lines, property-tested below.

use crate::store::{StoreError, StoreResult};

pub(super) const SPAN_DAYS: i32 = 256;

/// The span a day falls in.
pub(super) fn span_of(day: i32) -> i32 {
    day.div_euclid(SPAN_DAYS)
}

/// Encodes `(day, downloads)` pairs of one span, days ascending, zero days skipped.
pub(super) fn encode(span: i32, days: &[(i32, u64)], out: &mut Vec<u8>) {
    out.clear();
    for &(day, mut n) in days.iter().filter(|(_, n)| *n > 0) {
        debug_assert_eq!(span_of(day), span);
        out.push((day - span * SPAN_DAYS) as u8);
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
}

/// Decodes a chunk, appending its `(day, downloads)` pairs to `out`.
pub(super) fn decode(span: i32, data: &[u8], out: &mut Vec<(i32, u64)>) -> StoreResult<()> {
    let corrupt = || StoreError::Backend("a stored chunk of daily counts is corrupt".into());
    let base = span * SPAN_DAYS;
    let mut i = 0;
    while i < data.len() {
        let day = base + i32::from(data[i]);
        i += 1;
        let (mut n, mut shift) = (0u64, 0u32);
        loop {
            let byte = *data.get(i).ok_or_else(corrupt)?;
            i += 1;
            n |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .ok_or_else(corrupt)?;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(corrupt());
            }
        }
        out.push((day, n));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(span in 40..1400i32, values in prop::collection::btree_map(0..256i32, 1..u64::MAX, 0..60)) {
            let days: Vec<(i32, u64)> = values.into_iter().map(|(o, n)| (span * SPAN_DAYS + o, n)).collect();
            let mut blob = Vec::new();
            encode(span, &days, &mut blob);
            let mut back = Vec::new();
            decode(span, &blob, &mut back).unwrap();
            prop_assert_eq!(back, days);
        }

        #[test]
        fn never_panics_on_garbage(data in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(100, &data, &mut Vec::new());
        }
    }

    #[test]
    fn a_year_of_small_counts_is_about_two_bytes_a_day() {
        let days: Vec<(i32, u64)> = (0..256).map(|o| (25_600 + o, 50 + o as u64 % 70)).collect();
        let mut blob = Vec::new();
        encode(100, &days, &mut blob);
        assert_eq!(blob.len(), 512);
    }
}
