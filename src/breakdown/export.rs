//! Writes an organization's breakdown CSV, streaming from the store.

use std::io::{self, BufWriter, Write};

use crate::domain::{Day, OrgName};
use crate::store::{Counts, DailyFilter, DailyRow, RepoSummary, StoreError};

use super::HEADER;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the CSV")]
    Io(#[from] io::Error),
}

/// Writes the CSV (header included) for `org` to `out`; returns the number of data rows.
/// Memory use does not depend on the number of rows.
pub fn write_breakdown(
    store: &dyn Counts,
    org: &OrgName,
    out: &mut dyn io::Write,
) -> Result<u64, ExportError> {
    write_breakdown_filtered(store, org, DailyFilter::default(), out)
}

/// [`write_breakdown`] of only the rows `filter` selects (the "CSV of this view": some
/// repositories, some days), in the same format and order; `total` stays the all-time total.
pub fn write_breakdown_filtered(
    store: &dyn Counts,
    org: &OrgName,
    filter: DailyFilter<'_>,
    out: &mut dyn io::Write,
) -> Result<u64, ExportError> {
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    out.write_all(HEADER.as_bytes())?;
    out.write_all(b"\n")?;
    let mut rows = 0u64;
    let mut line = RowWriter::default();
    // The store wraps a callback's error; keep ours to report it as the I/O error it is.
    let mut write_error = None;
    if filter.repos.is_some_and(|r| r.is_empty()) {
        out.flush()?;
        return Ok(0);
    }
    let streamed = store.for_each_daily(org, filter, &mut |row| {
        rows += 1;
        out.write_all(line.format(&row)).map_err(|e| {
            let stand_in = io::Error::new(e.kind(), e.to_string());
            write_error = Some(e);
            stand_in
        })
    });
    if let Some(e) = write_error {
        return Err(ExportError::Io(e));
    }
    streamed?;
    out.flush()?;
    Ok(rows)
}

/// About how many bytes the full breakdown of `repos` takes, without reading a row. A
/// repository has a row per day with downloads between its first and last day: with `n`
/// downloads over `d` days spread at random, about `d·(1 − e^(−n/d))` of them (every day when
/// downloads are many, one per download when they are few). Each row's length is known but
/// for its downloads, taken from the repository's average per row.
pub fn estimated_size(repos: &[RepoSummary]) -> u64 {
    let digits = |n: u64| n.checked_ilog10().map_or(1, |d| u64::from(d) + 1);
    let body: f64 = repos
        .iter()
        .map(|r| {
            let (Some(first), Some(last)) = (r.first_day, r.last_day) else {
                return 0.0;
            };
            let downloads = (r.total as i64 - r.adjustment).max(0) as f64;
            let days = f64::from(first.days_until(last) + 1);
            let rows = (days * (1.0 - (-downloads / days).exp())).max(1.0);
            let average = (downloads / rows).round() as u64;
            let fixed = r.key.repo_type.as_str().len() + r.key.name.as_str().len() + 24 + 5;
            rows * (fixed as u64 + digits(r.total) + digits(average)) as f64
        })
        .sum();
    HEADER.len() as u64 + 1 + body.round() as u64
}

/// Formats CSV rows into a reused buffer; remembers the last day's timestamp, since
/// consecutive rows are often consecutive days of different repositories or the same day.
#[derive(Default)]
struct RowWriter {
    buf: Vec<u8>,
    numbers: itoa::Buffer,
    stamp_day: Option<Day>,
    stamp: [u8; 24],
}

impl RowWriter {
    fn format(&mut self, row: &DailyRow<'_>) -> &[u8] {
        if self.stamp_day != Some(row.day) {
            self.stamp = row.day.timestamp();
            self.stamp_day = Some(row.day);
        }
        self.buf.clear();
        self.buf
            .extend_from_slice(row.repo_type.as_str().as_bytes());
        self.buf.push(b',');
        self.buf.extend_from_slice(row.repo_name.as_bytes());
        self.buf.push(b',');
        self.buf
            .extend_from_slice(self.numbers.format(row.total).as_bytes());
        self.buf.push(b',');
        self.buf.extend_from_slice(&self.stamp);
        self.buf.push(b',');
        self.buf
            .extend_from_slice(self.numbers.format(row.downloads).as_bytes());
        self.buf.push(b'\n');
        &self.buf
    }
}
