//! Realistic, deterministic demo data: organizations of model and dataset repositories with
//! heavy-tailed popularity, launches, release spikes, weekly seasonality, slow trends,
//! downloads counted before daily history and repositories that stopped being downloaded.
//!
//! - [`names`]: plausible repository names;
//! - [`generator`]: one repository's download model and daily series;
//! - [`orgs`]: the demo organizations and their repositories;
//! - [`fill`]: writing them into a store, idempotently, up to the reference day;
//! - [`logs`]: request logs of the demo's repositories, in every log format;
//! - [`log_org`]: the organization filled from those logs through the ingest path;
//! - [`hub_org`]: the organization whose history is built from simulated daily snapshots of a
//!   hub's public counters, through `hubstats collect`'s path;
//! - [`login`]: the demo user and its API token.
//!
//! This module writes only through the `Store` traits; it knows nothing of the CLI or HTTP.

pub mod fill;
pub mod generator;
pub mod hub_org;
pub mod log_org;
pub mod login;
pub mod logs;
pub mod names;
pub mod orgs;

pub use fill::{ensure_demo_store, fill, OrgFill};
pub use hub_org::{fill_from_snapshots, SnapshotFill};
pub use log_org::{fill_from_logs, LogFill, LOG_DAYS, LOG_ROWS_PER_DAY};
pub use login::{prepare_login, DemoLogin, DEMO_PASSWORD, DEMO_USER};
pub use orgs::{
    demo_orgs, hub_org, log_org, DemoOrg, DemoRepo, DEFAULT_LARGE_REPOS, DEMO_ORG_NAMES,
    HUB_ORG_NAME, LOG_ORG_NAME,
};

use crate::accounts::AccountError;
use crate::domain::NameError;
use crate::ingest::IngestError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "this store holds organizations that are not demo organizations ({}); demo data is \
         never mixed with real data: point --store (or HUBSTATS_STORE) at a new file, or leave \
         it unset to use ./hubstats-demo.db",
        orgs.join(", ")
    )]
    NotADemoStore { orgs: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("demo name")]
    Name(#[from] NameError),
    #[error("demo user")]
    Account(#[from] AccountError),
    #[error("ingesting the demo's request logs")]
    Ingest(#[from] IngestError),
    #[error("generating the demo's request logs")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests;
