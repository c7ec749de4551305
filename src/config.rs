//! The one typed configuration, loaded once from defaults < config file < environment < flags.
//! The loader takes the environment as a parameter so it is unit-testable; nothing else in the
//! program reads environment variables.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};

use crate::domain::Day;

pub const DEFAULT_STORE: &str = "./hubstats.db";
pub const DEFAULT_DEMO_STORE: &str = "./hubstats-demo.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Where the drill-down links a repository to: its page on this hub.
pub const DEFAULT_HUB_URL: &str = "https://huggingface.co";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `--store`: a SQLite file path.
    pub store: Option<String>,
    /// `--today`: the pinned reference day; `None` means the current UTC date.
    pub today: Option<Day>,
    /// Address `serve` and `demo` listen on.
    pub listen: SocketAddr,
    /// Mark session cookies `Secure` (set when serving behind TLS).
    pub secure_cookies: bool,
    /// The hub whose repositories these are (`{hub_url}/{org}/{name}` is a model's page).
    pub hub_url: String,
}

/// Values given on the command line (all optional; they win over everything else).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<String>,
    pub store: Option<String>,
    pub today: Option<Day>,
    pub listen: Option<SocketAddr>,
}

/// The keys a config file may set (TOML).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    store: Option<String>,
    today: Option<Day>,
    listen: Option<SocketAddr>,
    secure_cookies: Option<bool>,
    hub_url: Option<String>,
}

impl Config {
    /// Loads the configuration. `env` looks up an environment variable.
    pub fn load(flags: &Overrides, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let file_path = flags.config_file.clone().or_else(|| env("HUBSTATS_CONFIG"));
        let file = match &file_path {
            Some(p) => read_file(Path::new(p))?,
            None => FileConfig::default(),
        };
        let env_today = env("HUBSTATS_TODAY")
            .map(|s| s.parse::<Day>().context("HUBSTATS_TODAY"))
            .transpose()?;
        let env_listen = env("HUBSTATS_LISTEN")
            .map(|s| s.parse::<SocketAddr>().context("HUBSTATS_LISTEN"))
            .transpose()?;
        let env_secure = env("HUBSTATS_SECURE_COOKIES").map(|s| matches!(s.as_str(), "1" | "true"));
        let default_listen: SocketAddr = DEFAULT_LISTEN.parse()?;
        Ok(Config {
            store: flags
                .store
                .clone()
                .or_else(|| env("HUBSTATS_STORE"))
                .or(file.store),
            today: flags.today.or(env_today).or(file.today),
            listen: flags
                .listen
                .or(env_listen)
                .or(file.listen)
                .unwrap_or(default_listen),
            secure_cookies: env_secure.or(file.secure_cookies).unwrap_or(false),
            hub_url: env("HUBSTATS_HUB_URL")
                .or(file.hub_url)
                .unwrap_or_else(|| DEFAULT_HUB_URL.to_owned()),
        })
    }

    /// The store location, or `default` when none was configured.
    pub fn store_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.store.as_deref().unwrap_or(default)
    }

    /// The reference day: pinned, or today's UTC date (evaluated on every call, so a
    /// long-running server moves on at midnight).
    pub fn reference_day(&self) -> Day {
        self.today.unwrap_or_else(Day::today_utc)
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults() {
        let c = Config::load(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c.store_or(DEFAULT_STORE), DEFAULT_STORE);
        assert_eq!(c.today, None);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.hub_url, DEFAULT_HUB_URL);
        let c = Config::load(
            &Overrides::default(),
            env(&[("HUBSTATS_HUB_URL", "https://hub.example")]),
        )
        .unwrap();
        assert_eq!(c.hub_url, "https://hub.example");
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hubstats.toml");
        std::fs::write(
            &file,
            "store = \"file.db\"\ntoday = \"2024-01-01\"\nlisten = \"127.0.0.1:1\"\n",
        )
        .unwrap();
        let file = file.to_string_lossy().into_owned();
        let flags = Overrides {
            config_file: Some(file.clone()),
            ..Default::default()
        };
        let c = Config::load(&flags, env(&[])).unwrap();
        assert_eq!(
            (c.store.as_deref(), c.today.unwrap().to_string()),
            (Some("file.db"), "2024-01-01".into())
        );
        let c = Config::load(
            &flags,
            env(&[
                ("HUBSTATS_STORE", "env.db"),
                ("HUBSTATS_TODAY", "2024-02-02"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.store.as_deref(), c.today.unwrap().to_string()),
            (Some("env.db"), "2024-02-02".into())
        );
        assert_eq!(c.listen.port(), 1);
        let flags = Overrides {
            store: Some("flag.db".into()),
            today: "2024-03-03".parse().ok(),
            ..flags
        };
        let c = Config::load(&flags, env(&[("HUBSTATS_STORE", "env.db")])).unwrap();
        assert_eq!(
            (c.store.as_deref(), c.reference_day().to_string()),
            (Some("flag.db"), "2024-03-03".into())
        );
    }

    #[test]
    fn bad_env_names_the_variable() {
        let err = Config::load(
            &Overrides::default(),
            env(&[("HUBSTATS_TODAY", "yesterday")]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("HUBSTATS_TODAY"), "{err:#}");
    }
}
