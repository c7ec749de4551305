//! `collect`: one snapshot of organizations' public download counters on a hub.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use super::data::{counted, open_store};
use crate::config::Config;
use crate::domain::OrgName;
use crate::hub::{self, HubClient, OrgReport, Progress};

/// The options of `collect` beyond the configuration.
pub struct CollectArgs<'a> {
    pub orgs: &'a [String],
    pub hub: Option<&'a str>,
    pub token_file: Option<&'a Path>,
    pub max_retries: u32,
    pub concurrency: usize,
}

pub fn collect(config: &Config, args: &CollectArgs<'_>) -> Result<()> {
    let orgs: Vec<OrgName> = if args.orgs.is_empty() {
        config.collect.orgs.clone()
    } else {
        (args.orgs.iter())
            .map(|o| OrgName::parse(o).with_context(|| format!("organization {o:?}")))
            .collect::<Result<_>>()?
    };
    if orgs.is_empty() {
        bail!("name the organizations to collect (or list them as orgs in the config's [collect])");
    }
    let client = client(config, args.hub, args.token_file, args.max_retries)?;
    let store = open_store(config)?;
    let day = config.reference_day();
    let bar = Bar::new(orgs.len());
    let results = hub::collect(
        store.as_ref(),
        &client,
        &orgs,
        day,
        args.concurrency,
        &|p| bar.update(p),
    );
    bar.finish();
    let mut failed = 0;
    for (org, result) in orgs.iter().zip(results) {
        match result {
            Ok(report) => println!("{org}: {}", describe(&report)),
            Err(e) => {
                failed += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} not collected on {day} (nothing of {} was stored; run it again)",
            counted(orgs.len() as u64, "organization", "organizations"),
            if failed == 1 { "it" } else { "them" }
        );
    }
    Ok(())
}

/// The client of the hub `--hub`, the config's `[collect] hub` or `hub_url` names.
pub(super) fn client(
    config: &Config,
    hub: Option<&str>,
    token_file: Option<&Path>,
    max_retries: u32,
) -> Result<HubClient> {
    let base = (hub.or(config.collect.hub.as_deref())).unwrap_or(&config.hub_url);
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        bail!("--hub {base:?}: expected an http:// or https:// URL");
    }
    let token = config.collect.read_token(token_file)?;
    let mut client = HubClient::new(base, token);
    client.max_retries = max_retries;
    Ok(client)
}

/// `12 models, 3 datasets on 2024-03-05 (previous snapshot 2024-03-02, 3 days estimated;
/// 1 new, 1 gone, 1 counter went down); 14 repository-days written`.
fn describe(r: &OrgReport) -> String {
    let mut out = format!(
        "{}, {}",
        counted(r.models, "model", "models"),
        counted(r.datasets, "dataset", "datasets")
    );
    if let Some(day) = r.day {
        out.push_str(&format!(" on {day}"));
    }
    let mut notes = Vec::new();
    match (r.previous, r.day) {
        (Some(p), Some(d)) if p.days_until(d) > 1 => notes.push(format!(
            "previous snapshot {p}, {} days estimated",
            p.days_until(d)
        )),
        (Some(p), _) => notes.push(format!("previous snapshot {p}")),
        (None, _) => {
            notes.push("first snapshot: its counters are history before daily data".into())
        }
    }
    if r.appeared > 0 {
        notes.push(format!("{} new", r.appeared));
    }
    if r.disappeared > 0 {
        notes.push(format!("{} gone", r.disappeared));
    }
    if r.corrections > 0 {
        notes.push(counted(
            r.corrections,
            "counter went down (a correction)",
            "counters went down (corrections)",
        ));
    }
    if r.org_created {
        notes.push("new organization, on the free plan".into());
    }
    out.push_str(&format!(" ({})", notes.join("; ")));
    out.push_str(&format!(
        "; {} written",
        counted(r.days_written, "repository-day", "repository-days")
    ));
    out
}

/// One bar for the whole collection, on standard error when it is a terminal.
struct Bar {
    bar: ProgressBar,
    listed: Mutex<std::collections::HashMap<OrgName, u64>>,
    done: AtomicU64,
    orgs: usize,
}

impl Bar {
    fn new(orgs: usize) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        Bar {
            bar,
            listed: Mutex::default(),
            done: AtomicU64::new(0),
            orgs,
        }
    }

    fn update(&self, p: Progress) {
        match p {
            Progress::Listed { org, repos } => {
                let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
                listed.insert(org, repos);
            }
            Progress::Done { .. } => {
                self.done.fetch_add(1, Ordering::Relaxed);
            }
        }
        let repos: u64 = (self.listed.lock().unwrap_or_else(|p| p.into_inner()))
            .values()
            .sum();
        self.bar.set_message(format!(
            "collecting: {}/{} organizations, {repos} repositories listed",
            self.done.load(Ordering::Relaxed),
            self.orgs
        ));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
