//! Realistic, deterministic demo data: organizations of model and dataset repositories with
//! heavy-tailed popularity, launches, release spikes, weekly seasonality, slow trends,
//! downloads counted before daily history and repositories that stopped being downloaded.
//!
//! - [`names`]: plausible repository names;
//! - [`generator`]: one repository's download model and daily series;
//! - [`orgs`]: the demo organizations and their repositories;
//! - [`fill`]: writing them into a store, idempotently, up to the reference day;
//! - [`login`]: the demo user and its API token.
//!
//! This module writes only through the `Store` traits; it knows nothing of the CLI or HTTP.

pub mod fill;
pub mod generator;
pub mod login;
pub mod names;
pub mod orgs;

pub use fill::{ensure_demo_store, fill, OrgFill};
pub use login::{prepare_login, DemoLogin, DEMO_PASSWORD, DEMO_USER};
pub use orgs::{demo_orgs, DemoOrg, DemoRepo, DEFAULT_LARGE_REPOS, DEMO_ORG_NAMES};

use crate::accounts::AccountError;
use crate::domain::NameError;
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
    #[error("demo name: {0}")]
    Name(#[from] NameError),
    #[error("demo user: {0}")]
    Account(#[from] AccountError),
}

#[cfg(test)]
mod tests;
