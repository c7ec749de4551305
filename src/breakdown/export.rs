//! Writes an organization's breakdown CSV, streaming from the store.

use std::io;

use crate::domain::OrgName;
use crate::store::{Counts, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the CSV: {0}")]
    Io(#[from] io::Error),
}

/// Writes the CSV (header included) for `org` to `out`; returns the number of data rows.
/// Memory use does not depend on the number of rows.
pub fn write_breakdown(
    _store: &dyn Counts,
    _org: &OrgName,
    _out: &mut dyn io::Write,
) -> Result<u64, ExportError> {
    Err(io::Error::other("export is not written yet").into())
}
