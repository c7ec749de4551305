//! What to collect and when: the config file's `[collect]` table (organizations, hub, token
//! file, UTC time of day) and `HF_TOKEN`, and the loop `serve` runs to take each day's
//! snapshots itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{collect, HubClient, DEFAULT_WORKERS};
use crate::domain::{Day, OrgName};
use crate::store::SharedStore;

/// The `[collect]` table of a config file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectFile {
    orgs: Option<Vec<String>>,
    hub: Option<String>,
    token_file: Option<String>,
    /// `HH:MM`, UTC.
    at: Option<String>,
}

/// What `collect` and the schedule of `serve` collect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectConfig {
    /// Organizations collected by `serve` and by `collect` without names.
    pub orgs: Vec<OrgName>,
    /// The hub; `None`: the config's `hub_url`.
    pub hub: Option<String>,
    /// A file holding the token (relative paths from the config file's folder).
    pub token_file: Option<PathBuf>,
    /// `HF_TOKEN`: the token itself (a token file wins).
    pub token: Option<String>,
    /// When `serve` collects each day (UTC); `None`: it does not.
    pub at: Option<TimeOfDay>,
}

/// A UTC time of day, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub minutes: u32,
}

impl std::str::FromStr for TimeOfDay {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let parsed = s.split_once(':').and_then(|(h, m)| {
            let digits = (1..=2).contains(&h.len()) && m.len() == 2;
            let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
            (digits && h < 24 && m < 60).then_some(h * 60 + m)
        });
        match parsed {
            Some(minutes) => Ok(TimeOfDay { minutes }),
            None => bail!("{s:?} is not a UTC time of day HH:MM (e.g. 03:30)"),
        }
    }
}

impl std::fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

impl CollectConfig {
    /// From the file's table (`folder`: the config file's) and the environment.
    pub fn load(
        file: Option<CollectFile>,
        folder: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let file = file.unwrap_or_default();
        let orgs = (file.orgs.unwrap_or_default().iter())
            .map(|o| OrgName::parse(o).with_context(|| format!("collect.orgs: {o:?}")))
            .collect::<Result<Vec<_>>>()?;
        let at = (file.at.as_deref())
            .map(|s| s.parse().context("collect.at"))
            .transpose()?;
        if at.is_some() && orgs.is_empty() {
            bail!("collect.at is set but collect.orgs names no organization");
        }
        let token_file = file.token_file.map(|t| match folder {
            Some(f) => f.join(t),
            None => PathBuf::from(t),
        });
        Ok(CollectConfig {
            orgs,
            hub: file.hub,
            token_file,
            token: env("HF_TOKEN").filter(|t| !t.trim().is_empty()),
            at,
        })
    }

    /// The token to send: the token file's first line, else `HF_TOKEN`.
    pub fn read_token(&self, token_file: Option<&Path>) -> Result<Option<String>> {
        let Some(path) = token_file.or(self.token_file.as_deref()) else {
            return Ok(self.token.clone());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?;
        match text.lines().next().map(str::trim).filter(|t| !t.is_empty()) {
            Some(token) => Ok(Some(token.to_owned())),
            None => bail!("the token file {} is empty", path.display()),
        }
    }
}

/// The minutes from `now` (minutes into the UTC day) to the next `at`.
pub fn minutes_until(now: u32, at: TimeOfDay) -> u32 {
    (at.minutes + 24 * 60 - now) % (24 * 60)
}

/// Collects the configured organizations every day at the configured time, on a thread of its
/// own, until the returned flag is set. A day whose time has passed without a snapshot of every
/// organization (a server started late, or down at that time) is collected at once.
pub fn spawn(
    store: SharedStore,
    client: HubClient,
    config: CollectConfig,
    today: impl Fn() -> Day + Send + 'static,
) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let handle = std::thread::spawn(move || {
        let Some(at) = config.at else { return };
        while !stopping.load(Ordering::Relaxed) {
            let now = time::OffsetDateTime::now_utc();
            let minute = u32::from(now.hour()) * 60 + u32::from(now.minute());
            let day = today();
            if minute >= at.minutes && !collected(&store, &config.orgs, day) {
                run_once(&store, &client, &config.orgs, day);
            }
            let wait = u64::from(minutes_until(minute, at).max(1)) * 60 - u64::from(now.second());
            sleep_unless(&stopping, Duration::from_secs(wait.max(1)));
        }
    });
    Running { stop, handle }
}

/// The schedule's thread.
pub struct Running {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<()>,
}

impl Running {
    /// Stops the schedule, waiting for a collection under way to end.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
    }
}

/// Whether every organization has a snapshot of `day`.
fn collected(store: &SharedStore, orgs: &[OrgName], day: Day) -> bool {
    let Some(s) = store.hub_snapshots() else {
        return true;
    };
    orgs.iter().all(|org| {
        s.snapshots(org)
            .map(|list| list.iter().any(|i| i.day == day))
            .unwrap_or(false)
    })
}

fn run_once(store: &SharedStore, client: &HubClient, orgs: &[OrgName], day: Day) {
    let results = collect(store.as_ref(), client, orgs, day, DEFAULT_WORKERS, &|_| {});
    for (org, result) in orgs.iter().zip(results) {
        match result {
            Ok(r) => tracing::info!(
                %org, %day, models = r.models, datasets = r.datasets,
                days_written = r.days_written, "collected the hub's counters"
            ),
            Err(e) => tracing::warn!(%org, %day, error = %e, "collecting the hub's counters"),
        }
    }
}

/// Sleeps for `wait`, waking early when `stop` is set (checked every second).
fn sleep_unless(stop: &AtomicBool, wait: Duration) {
    let until = std::time::Instant::now() + wait;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_secs(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_of_day_is_hh_mm_utc() {
        assert_eq!("03:30".parse::<TimeOfDay>().unwrap().minutes, 210);
        assert_eq!("0:05".parse::<TimeOfDay>().unwrap().to_string(), "00:05");
        for bad in ["24:00", "3", "03:60", "a:b", "03:005"] {
            assert!(bad.parse::<TimeOfDay>().is_err(), "{bad}");
        }
        let at = "03:00".parse().unwrap();
        assert_eq!(minutes_until(170, at), 10);
        assert_eq!(minutes_until(180, at), 0);
        assert_eq!(minutes_until(190, at), 24 * 60 - 10);
    }

    #[test]
    fn the_table_is_read_relative_to_the_config_file() {
        let file: CollectFile = toml::from_str(
            "orgs = [\"acme\"]\nat = \"04:15\"\ntoken_file = \"hf-token\"\nhub = \"http://h\"",
        )
        .unwrap();
        let env = |k: &str| (k == "HF_TOKEN").then(|| "hf_x".to_owned());
        let c = CollectConfig::load(Some(file), Some(Path::new("/etc/hubstats")), &env).unwrap();
        assert_eq!(c.orgs, vec![OrgName::parse("acme").unwrap()]);
        assert_eq!(
            c.token_file.as_deref(),
            Some(Path::new("/etc/hubstats/hf-token"))
        );
        assert_eq!(c.token.as_deref(), Some("hf_x"));
        assert_eq!(c.at.unwrap().to_string(), "04:15");
        let no_orgs: CollectFile = toml::from_str("at = \"04:15\"").unwrap();
        assert!(CollectConfig::load(Some(no_orgs), None, &|_| None).is_err());
    }
}
