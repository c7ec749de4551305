//! hubstats: self-hostable publisher analytics for model and dataset hubs.
//!
//! Read top-down: [`domain`] (the data contract's types), [`store`] (storage behind one trait),
//! [`config`], and [`cli`] (the binary's commands). See `docs/ARCHITECTURE.md`.

pub mod accounts;
pub mod analytics;
pub mod breakdown;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod hub;
pub mod ingest;
pub mod store;
pub mod web;
