//! The breakdown CSV of `docs/DATA.md` (`repoType,repoName,total,timestamp,downloads`): reading it
//! into the store ([`import`]) and writing it from the store ([`export`]), byte for byte.

pub mod export;
pub mod import;

pub const HEADER: &str = "repoType,repoName,total,timestamp,downloads";
