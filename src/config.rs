//! The one typed configuration, loaded once from defaults < config file < environment < flags.
//! A setting with a flag comes in [`Overrides`] with its variable already read: clap's `env`
//! takes the flag, else `HUBSTATS_…` (and `--help` lists them). The loader lays those over the
//! config file, and reads the settings without a flag from the environment it is given (a
//! parameter, so it is unit-testable); nothing else in the program reads environment variables.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ipnet::IpNet;

use crate::domain::Day;
use crate::ingest::Rules;
use crate::store::index::DEFAULT_INDEX_BUDGET;

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
    /// Peers whose `X-Forwarded-For` names the client (addresses or CIDRs; default none).
    pub trusted_proxies: Vec<IpNet>,
    /// Client addresses that may read `/metrics` without a token (default none).
    pub metrics_allow: Vec<IpNet>,
    /// A bearer token that may read `/metrics` from anywhere (default none).
    pub metrics_token: Option<String>,
    /// How `serve` and `demo` write their log lines.
    pub log_format: LogFormat,
    /// `RUST_LOG`: which log lines to write (tracing's `EnvFilter` syntax).
    pub log_filter: Option<String>,
    /// Connection and request bounds of the server.
    pub limits: ServerLimits,
    /// The largest body `POST /api/ingest` accepts (bytes); larger ones get 413.
    pub ingest_max_body_bytes: usize,
    /// Kept log events older than this many days (by event day, counting the reference day
    /// as the last) are dropped; `None` keeps everything.
    pub retention_days: Option<u32>,
    /// The counting rules of `ingest`, `recount` and `POST /api/ingest`: the `rules` file's,
    /// or the Hub's defaults (`ingest --rules` overrides it).
    pub rules: Rules,
    /// The memory the store's cached organization indexes may take (bytes, approximately;
    /// least recently read organizations are dropped past it).
    pub index_budget_bytes: usize,
    /// What `collect` and `serve`'s schedule collect from a hub (`[collect]`, `HF_TOKEN`).
    pub collect: crate::hub::schedule::CollectConfig,
}

/// `ingest_max_body_bytes`' default: 32 MiB, some 200,000 `jsonl` events of 170 bytes.
pub const DEFAULT_INGEST_MAX_BODY_BYTES: usize = 32 << 20;

/// `--log-format`: human-readable lines or one JSON object per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Bounds that keep slow or numerous clients from exhausting the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request's headers must arrive within this long (also how long an idle keep-alive
    /// connection stays open).
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed.
    pub idle_timeout: Duration,
    /// Every route but the CSV download must answer within this long (then 503).
    pub request_timeout: Duration,
    /// At most this many open connections; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// On SIGTERM/SIGINT, in-flight requests get this long to finish.
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Values given on the command line, or else in the flag's `HUBSTATS_…` variable (clap reads
/// those); all optional, they win over the config file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<String>,
    pub store: Option<String>,
    pub today: Option<Day>,
    pub listen: Option<SocketAddr>,
    pub log_format: Option<LogFormat>,
    pub retention_days: Option<u32>,
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
    trusted_proxies: Option<Vec<String>>,
    metrics_allow: Option<Vec<String>>,
    metrics_token: Option<String>,
    log_format: Option<LogFormat>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    shutdown_timeout_secs: Option<u64>,
    ingest_max_body_bytes: Option<usize>,
    retention_days: Option<u32>,
    index_budget_mib: Option<u64>,
    /// A rules file, relative to the config file's folder.
    rules: Option<String>,
    collect: Option<crate::hub::schedule::CollectFile>,
}

/// An address (`10.0.0.1`, a network of one) or a CIDR (`10.0.0.0/8`).
pub fn parse_net(s: &str) -> Result<IpNet> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    match s.parse::<IpAddr>() {
        Ok(ip) => Ok(IpNet::from(ip)),
        Err(_) => bail!("{s:?} is neither an IP address nor a CIDR (e.g. 10.0.0.0/8)"),
    }
}

fn parse_nets<'a>(items: impl IntoIterator<Item = &'a str>, what: &str) -> Result<Vec<IpNet>> {
    items
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_net(s).context(what.to_owned()))
        .collect()
}

/// A list from the environment (comma-separated) or else the file.
fn nets(env: Option<String>, file: Option<Vec<String>>, name: &str) -> Result<Vec<IpNet>> {
    match (env, file) {
        (Some(v), _) => parse_nets(v.split(','), name),
        (None, Some(v)) => parse_nets(v.iter().map(String::as_str), name),
        (None, None) => Ok(Vec::new()),
    }
}

fn limits(file: &FileConfig) -> Result<ServerLimits> {
    let d = ServerLimits::default();
    let secs = |v: Option<u64>, default: Duration, key: &str| match v {
        Some(0) => bail!("{key} must be at least 1 second"),
        Some(n) => Ok(Duration::from_secs(n)),
        None => Ok(default),
    };
    Ok(ServerLimits {
        header_read_timeout: secs(
            file.header_read_timeout_secs,
            d.header_read_timeout,
            "header_read_timeout_secs",
        )?,
        idle_timeout: secs(file.idle_timeout_secs, d.idle_timeout, "idle_timeout_secs")?,
        request_timeout: secs(
            file.request_timeout_secs,
            d.request_timeout,
            "request_timeout_secs",
        )?,
        max_connections: match file.max_connections {
            Some(0) => bail!("max_connections must be at least 1"),
            Some(n) => n,
            None => d.max_connections,
        },
        shutdown_timeout: secs(
            file.shutdown_timeout_secs,
            d.shutdown_timeout,
            "shutdown_timeout_secs",
        )?,
    })
}

impl Config {
    /// Loads the configuration. `env` looks up an environment variable.
    pub fn load(flags: &Overrides, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let file_path = flags.config_file.clone();
        let file = match &file_path {
            Some(p) => read_file(Path::new(p))?,
            None => FileConfig::default(),
        };
        // Settings without a flag: clap's `env` reads into an argument, and these have none
        // (the server's, set where it runs; a token on the command line would show in `ps`).
        let env_secure = env("HUBSTATS_SECURE_COOKIES").map(|s| matches!(s.as_str(), "1" | "true"));
        let default_listen: SocketAddr = DEFAULT_LISTEN.parse()?;
        let trusted_proxies = nets(
            env("HUBSTATS_TRUSTED_PROXIES"),
            file.trusted_proxies.clone(),
            "trusted_proxies",
        )?;
        let metrics_allow = nets(
            env("HUBSTATS_METRICS_ALLOW"),
            file.metrics_allow.clone(),
            "metrics_allow",
        )?;
        let limits = limits(&file)?;
        let ingest_max_body_bytes = match env("HUBSTATS_INGEST_MAX_BODY_BYTES") {
            Some(v) => Some(v.trim().parse().context("HUBSTATS_INGEST_MAX_BODY_BYTES")?),
            None => file.ingest_max_body_bytes,
        };
        let ingest_max_body_bytes = match ingest_max_body_bytes {
            Some(0) => bail!("ingest_max_body_bytes must be at least 1"),
            Some(n) => n,
            None => DEFAULT_INGEST_MAX_BODY_BYTES,
        };
        let index_budget_mib = match env("HUBSTATS_INDEX_BUDGET_MIB") {
            Some(v) => Some(v.trim().parse().context("HUBSTATS_INDEX_BUDGET_MIB")?),
            None => file.index_budget_mib,
        };
        let index_budget_bytes = match index_budget_mib {
            Some(0) => bail!("index_budget_mib must be at least 1"),
            Some(mib) => usize::try_from(mib)
                .ok()
                .and_then(|mib| mib.checked_mul(1 << 20))
                .context("index_budget_mib is larger than this machine's memory")?,
            None => DEFAULT_INDEX_BUDGET,
        };
        let retention_days = flags.retention_days.or(file.retention_days);
        if retention_days == Some(0) {
            bail!("retention_days must be at least 1 (leave it unset to keep every event)");
        }
        let rules_file = match env("HUBSTATS_RULES") {
            Some(v) => Some(v.into()),
            None => file.rules.as_deref().map(|r| {
                let folder = file_path.as_deref().map(Path::new).and_then(Path::parent);
                folder.map_or_else(|| r.into(), |f| f.join(r))
            }),
        };
        let rules = match rules_file {
            Some(path) => load_rules(&path)?,
            None => Rules::default(),
        };
        let config_folder = file_path.as_deref().map(Path::new).and_then(Path::parent);
        let collect = crate::hub::schedule::CollectConfig::load(file.collect, config_folder, &env)?;
        Ok(Config {
            store: flags.store.clone().or(file.store),
            today: flags.today.or(file.today),
            listen: flags.listen.or(file.listen).unwrap_or(default_listen),
            secure_cookies: env_secure.or(file.secure_cookies).unwrap_or(false),
            hub_url: env("HUBSTATS_HUB_URL")
                .or(file.hub_url)
                .unwrap_or_else(|| DEFAULT_HUB_URL.to_owned()),
            trusted_proxies,
            metrics_allow,
            metrics_token: env("HUBSTATS_METRICS_TOKEN")
                .or(file.metrics_token)
                .filter(|t| !t.is_empty()),
            log_format: flags.log_format.or(file.log_format).unwrap_or_default(),
            log_filter: env("RUST_LOG").filter(|f| !f.trim().is_empty()),
            limits,
            ingest_max_body_bytes,
            retention_days,
            rules,
            index_budget_bytes,
            collect,
        })
    }

    /// The first day whose log events are kept under the retention, relative to the
    /// reference day (`None`: keep every event).
    pub fn first_kept_day(&self) -> Option<Day> {
        crate::ingest::first_kept_day(self.retention_days, self.reference_day())
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

/// A TOML rules file's rules (any key missing keeps the Hub's default).
pub fn load_rules(path: &Path) -> Result<Rules> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the rules file {}", path.display()))?;
    Rules::parse_toml(&text).with_context(|| format!("{}", path.display()))
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

    /// `--config`'s help names every key a config file may set, and no other.
    #[test]
    fn the_help_lists_the_config_keys() {
        use clap::CommandFactory;
        let e = toml::from_str::<FileConfig>("no_such_key = 1").unwrap_err();
        let message = e.to_string();
        let (_, expected) = message.split_once("expected one of ").expect(&message);
        let mut accepted: Vec<&str> = expected
            .split(", ")
            .map(|k| k.trim().trim_matches('`'))
            .collect();
        let command = crate::cli::Cli::command();
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == "config")
            .unwrap();
        let help = arg.get_help().unwrap().to_string();
        let (_, keys) = help.split_once("keys: ").expect(&help);
        let (keys, _) = keys.split_once(')').expect(&help);
        let mut listed: Vec<&str> = keys.split(',').map(str::trim).collect();
        accepted.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, accepted);
    }

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

    /// Flags (or their variables, which clap reads into the same [`Overrides`]) beat the file;
    /// `tests/it/cli_operator.rs` checks the whole order through the command line.
    #[test]
    fn flags_beat_the_file() {
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
        assert_eq!(c.listen.port(), 1);
    }

    #[test]
    fn trusted_proxies_take_addresses_and_cidrs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hubstats.toml");
        std::fs::write(
            &file,
            "trusted_proxies = [\"127.0.0.1\", \"10.1.2.3/8\"]\nmax_connections = 7\n",
        )
        .unwrap();
        let flags = Overrides {
            config_file: Some(file.to_string_lossy().into_owned()),
            ..Default::default()
        };
        let c = Config::load(&flags, env(&[])).unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8"]);
        assert_eq!(c.limits.max_connections, 7);
        let c = Config::load(
            &flags,
            env(&[("HUBSTATS_TRUSTED_PROXIES", "::1, 192.168.0.0/16")]),
        )
        .unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["::1/128", "192.168.0.0/16"]);
        assert!(Config::load(&Overrides::default(), env(&[]))
            .unwrap()
            .trusted_proxies
            .is_empty());
        let err =
            Config::load(&flags, env(&[("HUBSTATS_TRUSTED_PROXIES", "localhost")])).unwrap_err();
        assert!(format!("{err:#}").contains("trusted_proxies"), "{err:#}");
    }

    #[test]
    fn the_ingest_body_limit_has_a_default_and_can_be_set() {
        let c = Config::load(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c.ingest_max_body_bytes, 32 * 1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hubstats.toml");
        std::fs::write(&file, "ingest_max_body_bytes = 1000\n").unwrap();
        let flags = Overrides {
            config_file: Some(file.to_string_lossy().into_owned()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(&flags, env(&[]))
                .unwrap()
                .ingest_max_body_bytes,
            1000
        );
        let by_env = env(&[("HUBSTATS_INGEST_MAX_BODY_BYTES", "2000")]);
        assert_eq!(
            Config::load(&flags, by_env).unwrap().ingest_max_body_bytes,
            2000
        );
        let zero = env(&[("HUBSTATS_INGEST_MAX_BODY_BYTES", "0")]);
        assert!(Config::load(&flags, zero).is_err());
    }

    #[test]
    fn the_index_budget_has_a_default_and_can_be_set_in_mib() {
        let c = Config::load(&Overrides::default(), env(&[])).unwrap();
        assert_eq!(c.index_budget_bytes, 1 << 30);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hubstats.toml");
        std::fs::write(&file, "index_budget_mib = 64\n").unwrap();
        let flags = Overrides {
            config_file: Some(file.to_string_lossy().into_owned()),
            ..Default::default()
        };
        let from_file = Config::load(&flags, env(&[])).unwrap();
        assert_eq!(from_file.index_budget_bytes, 64 << 20);
        let by_env = env(&[("HUBSTATS_INDEX_BUDGET_MIB", "200")]);
        assert_eq!(
            Config::load(&flags, by_env).unwrap().index_budget_bytes,
            200 << 20
        );
        for bad in ["0", "-1", "lots", "99999999999999999999"] {
            let err = Config::load(&flags, env(&[("HUBSTATS_INDEX_BUDGET_MIB", bad)])).unwrap_err();
            assert!(
                format!("{err:#}").contains("index_budget_mib")
                    || format!("{err:#}").contains("HUBSTATS_INDEX_BUDGET_MIB"),
                "{bad}: {err:#}"
            );
        }
    }

    #[test]
    fn retention_and_rules_come_from_the_file_env_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.toml"), "statuses = [200]\n").unwrap();
        let file = dir.path().join("hubstats.toml");
        std::fs::write(&file, "retention_days = 90\nrules = \"rules.toml\"\n").unwrap();
        let flags = Overrides {
            config_file: Some(file.to_string_lossy().into_owned()),
            today: "2024-05-31".parse().ok(),
            ..Default::default()
        };
        let c = Config::load(&flags, env(&[])).unwrap();
        assert_eq!(c.retention_days, Some(90));
        assert_eq!(c.first_kept_day(), "2024-03-03".parse().ok());
        assert_eq!(c.rules.statuses, [200]);
        let by_flag = Overrides {
            retention_days: Some(1),
            ..flags.clone()
        };
        let c = Config::load(&by_flag, env(&[])).unwrap();
        assert_eq!(c.first_kept_day(), "2024-05-31".parse().ok());
        let zero = dir.path().join("zero.toml");
        std::fs::write(&zero, "retention_days = 0\n").unwrap();
        let zero = Overrides {
            config_file: Some(zero.to_string_lossy().into_owned()),
            ..Default::default()
        };
        let err = Config::load(&zero, env(&[])).unwrap_err();
        assert!(format!("{err:#}").contains("retention_days"), "{err:#}");
        let missing = env(&[("HUBSTATS_RULES", "/nonexistent/rules.toml")]);
        let err = Config::load(&flags, missing).unwrap_err();
        assert!(format!("{err:#}").contains("rules file"), "{err:#}");
        assert_eq!(
            Config::load(&Overrides::default(), env(&[])).unwrap().rules,
            Rules::default()
        );
    }

    #[test]
    fn bad_env_names_the_variable() {
        let err = Config::load(
            &Overrides::default(),
            env(&[("HUBSTATS_INGEST_MAX_BODY_BYTES", "lots")]),
        )
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("HUBSTATS_INGEST_MAX_BODY_BYTES"), "{err}");
    }
}
