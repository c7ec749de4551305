//! Batches sent over HTTP (`POST /api/ingest`): log text like a file, identified by the
//! client's idempotency key rather than by its bytes alone.
//!
//! Idempotency keys belong to the ingest key that sent them: two shippers may use the same
//! one without meeting, and none can learn of another's batches through it.
//!
//! A batch is ingested like a file (all or nothing; its repository-days recounted from every
//! kept event), then recorded twice among the ingested files:
//! `http-batch:{format}:{sha256}:{sender}:{key}` (this sender's key with these bytes) and
//! `http:{sender}:{key}` (the key is taken; `sender` is the ingest key's name, which holds
//! no `:`). A batch under a taken key
//! is only hashed, not parsed: with the same bytes it is a retry, answered with the recorded
//! figures and `duplicate` (nothing stored); with other bytes it is refused
//! ([`BatchError::KeyReused`]). A refused batch
//! (a bad row) records nothing, so its key may carry the corrected batch.
//!
//! As for a file, the events are committed before the recount and the records after it: a
//! process stopped in between leaves the counts as they were and the key free, and the retry
//! completes the batch. The content record is written first: a process stopped between the two writes leaves a
//! key whose retry is still recognised as a duplicate. Even without the records nothing would
//! count twice, since events are kept as a set; the records make a retry cheap and say so.

use std::fmt;
use std::io::Read;

use super::{read_events, retention, DayBounds, Format, IngestError, IngestReport, Rules, Tap};
use crate::domain::IngestKeyName;
use crate::store::Store;

/// How errors name a batch: "batch, line 3: field status: …".
const BATCH: &str = "batch";

/// The client's name for one batch (the `Idempotency-Key` header): 1 to
/// [`IdempotencyKey::MAX_LEN`] visible ASCII characters (no spaces or control characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "expected 1 to {} visible ASCII characters (no spaces), e.g. a UUID",
                Self::MAX_LEN
            ));
        }
        Ok(IdempotencyKey(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("Idempotency-Key {:?} was already used for a batch with other content; send each new batch under a new key", .0.as_str())]
    KeyReused(IdempotencyKey),
}

/// Ingests one batch of `format` log text sent by `sender` under `key` (see the module docs).
/// A retry of a batch already counted answers its report with `duplicate: true` and changes
/// nothing.
pub fn ingest_batch(
    store: &dyn Store,
    sender: &IngestKeyName,
    key: &IdempotencyKey,
    input: impl Read + Send,
    format: Format,
    rules: &Rules,
) -> Result<IngestReport, BatchError> {
    ingest_batch_within(
        store,
        sender,
        key,
        input,
        format,
        rules,
        DayBounds::default(),
    )
}

/// [`ingest_batch`] within `days`: the events of days before `days.first_kept` are dropped
/// (retention), one after the day after `days.today` refuses the batch.
pub fn ingest_batch_within(
    store: &dyn Store,
    sender: &IngestKeyName,
    key: &IdempotencyKey,
    input: impl Read + Send,
    format: Format,
    rules: &Rules,
    days: DayBounds,
) -> Result<IngestReport, BatchError> {
    let store_err = |source| IngestError::Store {
        file: BATCH.to_owned(),
        source,
    };
    let events = store.log_events().ok_or(IngestError::Unsupported)?;
    let key_record = format!("http:{sender}:{key}");
    let content_record = |digest: &str| format!("http-batch:{format}:{digest}:{sender}:{key}");
    if events.log_file(&key_record).map_err(store_err)?.is_some() {
        // A retry, or a mistake: the bytes' digest tells, without parsing or locking anything.
        let digest = Tap::new(input).finish().whole;
        return match events
            .log_file(&content_record(&digest))
            .map_err(store_err)?
        {
            Some(info) => Ok(IngestReport {
                rows: info.rows,
                counted: info.events,
                duplicate: true,
                ..IngestReport::default()
            }),
            None => Err(BatchError::KeyReused(key.clone())),
        };
    }
    let secret = match format {
        Format::Nginx => events.downloader_secret().map_err(store_err)?,
        Format::HfCsv | Format::Jsonl => Vec::new(),
    };
    let first_kept = retention::effective(events, days.first_kept).map_err(store_err)?;
    let days = DayBounds { first_kept, ..days };
    let mut write = events.add_events().map_err(store_err)?;
    let tap = Tap::new(input);
    let (mut read, digests) =
        read_events(BATCH, tap, format, rules, days, &secret, write.as_mut())?;
    let content_record = content_record(&digests.whole);
    // Recorded since the first check (by another process, or half-recorded by one stopped
    // between its two records): decided as above.
    if events
        .log_file(&content_record)
        .map_err(store_err)?
        .is_some()
    {
        return Ok(IngestReport {
            new_events: 0,
            duplicate: true,
            ..read.report
        }); // `write` is dropped: nothing of the batch is stored again
    }
    if events.log_file(&key_record).map_err(store_err)?.is_some() {
        return Err(BatchError::KeyReused(key.clone()));
    }
    read.name_libraries(write.as_mut()).map_err(store_err)?;
    read.report.new_events = write.commit().map_err(store_err)?;
    let report = read
        .count(
            store,
            events,
            rules,
            &[(&content_record, None), (&key_record, None)],
        )
        .map_err(store_err)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("3f2b9c1e-7a44-4c1b-9a51-0e2d2f6c8b11").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(IdempotencyKey::MAX_LEN)).is_ok());
        for bad in [
            String::new(),
            "k".repeat(IdempotencyKey::MAX_LEN + 1),
            "two words".to_owned(),
            "tab\there".to_owned(),
            "é".to_owned(),
        ] {
            assert!(IdempotencyKey::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
