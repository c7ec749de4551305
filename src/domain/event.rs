//! One request from a log, as hubstats keeps it: the repository, the UTC instant, the method
//! and status, the file path when the log knows it, and the hashed downloader ids. Raw
//! addresses are never part of an event.

use sha2::{Digest, Sha256};

use super::{Day, RepoKey, RepoType};

/// A request for a file of a model or dataset repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogEvent {
    pub repo: RepoKey,
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub at_ms: i64,
    /// Upper-case ASCII letters (`GET`, `HEAD`, …).
    pub method: String,
    pub status: u16,
    /// The file's path inside the repository, when the log knows it (no leading `/`).
    pub path: Option<String>,
    pub user: Option<String>,
    pub ip: Option<String>,
}

const MS_PER_DAY: i64 = 86_400_000;

impl LogEvent {
    /// The UTC day of the request.
    pub fn day(&self) -> Day {
        Day::from_epoch_days(self.at_ms.div_euclid(MS_PER_DAY) as i32)
    }

    /// The event's identity: the first 16 bytes of SHA-256 over every field, each
    /// length-prefixed. The same request read from two files has the same key, so a store
    /// keyed by it holds the set of events ingested, whatever the files.
    pub fn key(&self) -> [u8; 16] {
        let mut h = Sha256::new();
        let type_code = match self.repo.repo_type {
            RepoType::Model => b"m",
            RepoType::Dataset => b"d",
        };
        h.update(type_code);
        field(&mut h, Some(self.repo.name.as_str()));
        h.update(self.at_ms.to_be_bytes());
        field(&mut h, Some(&self.method));
        h.update(self.status.to_be_bytes());
        field(&mut h, self.path.as_deref());
        field(&mut h, self.user.as_deref());
        field(&mut h, self.ip.as_deref());
        let digest = h.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }
}

/// A field in the key: absent (0xFF) or its length then its bytes, so no two different events
/// hash the same bytes.
fn field(h: &mut Sha256, value: Option<&str>) {
    match value {
        None => h.update([0xFF]),
        Some(v) => {
            h.update([0x00]);
            h.update((v.len() as u64).to_be_bytes());
            h.update(v.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RepoName;

    fn event() -> LogEvent {
        LogEvent {
            repo: RepoKey {
                repo_type: RepoType::Model,
                name: RepoName::parse("acme/m").unwrap(),
            },
            at_ms: 1_700_000_000_123,
            method: "GET".into(),
            status: 200,
            path: None,
            user: Some("u".into()),
            ip: None,
        }
    }

    #[test]
    fn key_tells_absent_from_empty_and_moved_fields() {
        let a = event();
        let mut b = event();
        b.path = Some(String::new());
        let mut c = event();
        c.user = None;
        c.ip = Some("u".into());
        assert_ne!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
        assert_eq!(a.key(), event().key());
    }

    #[test]
    fn day_is_the_utc_day() {
        assert_eq!(event().day(), Day::from_ymd(2023, 11, 14).unwrap());
    }
}
