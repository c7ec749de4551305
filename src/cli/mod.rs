//! The command line: parses arguments into a [`Command`] and dispatches to library code. Each
//! group of commands lives in its own file; none holds product logic of its own.

mod admin;
mod collect;
mod data;
mod generate;
mod ingest_keys;
mod logging;
mod logs;
mod migrate;
mod next_steps;
mod output;
mod repo;
mod serve;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, LogFormat, Overrides, DEFAULT_STORE};
use crate::domain::{Day, Plan, Role};

#[derive(Debug, Parser)]
#[command(
    name = "hubstats",
    version,
    about = "Publisher analytics for model and dataset hubs"
)]
pub struct Cli {
    /// Store location: a SQLite file path [default: ./hubstats.db; for demo:
    /// ./hubstats-demo.db]
    // The variable's value is not shown: a ClickHouse location may hold a password.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        env = "HUBSTATS_STORE",
        hide_env_values = true
    )]
    pub store: Option<String>,
    /// Pin the reference day ("today") of serve and demo (also accepted after them); ingest
    /// and import refuse days after the day after it [default: the current UTC date]
    #[arg(long, value_name = "YYYY-MM-DD", env = "HUBSTATS_TODAY")]
    pub today: Option<Day>,
    /// TOML config file (keys: store, today, listen, secure_cookies, hub_url, trusted_proxies,
    /// metrics_allow, metrics_token, log_format, header_read_timeout_secs, idle_timeout_secs,
    /// request_timeout_secs, max_connections, shutdown_timeout_secs, ingest_max_body_bytes,
    /// retention_days, rules, index_budget_mib, collect)
    #[arg(long, global = true, value_name = "FILE", env = "HUBSTATS_CONFIG")]
    pub config: Option<String>,
    /// Keep log events of this many days, ending on the reference day; older ones are not
    /// stored by ingest, not recounted, and dropped by `events prune` [default: keep every
    /// event]
    #[arg(long, global = true, value_name = "DAYS", env = "HUBSTATS_RETENTION_DAYS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,
    #[command(subcommand)]
    pub command: Command,
}

/// `--plan` and `set-plan`'s values, listed in `--help`.
fn plan_parser() -> impl TypedValueParser<Value = Plan> {
    PossibleValuesParser::new(["free", "team", "enterprise"]).try_map(|s| s.parse::<Plan>())
}

/// `ingest --format`'s values, listed in `--help`.
fn format_parser() -> impl TypedValueParser<Value = crate::ingest::Format> {
    PossibleValuesParser::new(crate::ingest::Format::NAMES)
        .try_map(|s| s.parse::<crate::ingest::Format>())
}

/// `repo set-library`'s repository types, listed in `--help` (only models have a library).
fn model_type_parser() -> impl TypedValueParser<Value = crate::domain::RepoType> {
    PossibleValuesParser::new(["model"]).try_map(|s| s.parse::<crate::domain::RepoType>())
}

/// `--role`'s values, listed in `--help`.
fn role_parser() -> impl TypedValueParser<Value = Role> {
    PossibleValuesParser::new(["read", "admin"]).try_map(|s| s.parse::<Role>())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import Hugging Face breakdown CSV files (repoType,repoName,total,timestamp,downloads);
    /// creates the store if it does not exist
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Count downloads from request logs (creates the store if it does not exist); `-` reads
    /// standard input. The same bytes ingested again count nothing
    Ingest {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Log format: hf-csv (Hugging Face's request logs), jsonl (hubstats' events) or nginx
        /// (combined access logs of Hub-style URLs)
        #[arg(long, value_parser = format_parser())]
        format: crate::ingest::Format,
        /// TOML rules file (keys: methods, statuses, model_root_files, model_extensions,
        /// dataset_window_secs, [libraries], [[agent_classes]]) [default: the config's rules,
        /// else the Hub's]
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
    /// Take one snapshot of organizations' public download counters on a hub (models and
    /// datasets, `downloadsAllTime`); the differences between snapshots become daily downloads
    /// (source `hub`). Creates the store if it does not exist
    Collect {
        /// Organizations, as the hub spells them [default: the config's [collect] orgs]
        orgs: Vec<String>,
        /// The hub's address [default: the config's [collect] hub, else hub_url:
        /// https://huggingface.co]
        #[arg(long, value_name = "URL")]
        hub: Option<String>,
        /// A file whose first line is a hub token (private and gated repositories of your own
        /// organizations are listed too) [default: the config's [collect] token_file, else the
        /// token in HF_TOKEN]
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// The snapshot's day: the reference day [default: the current UTC date]
        #[arg(long, value_name = "YYYY-MM-DD", env = "HUBSTATS_TODAY")]
        today: Option<Day>,
        /// Retries of a page the hub answers with 429, 5xx or not at all (waiting as
        /// Retry-After says, else 1 s, 2 s, 4 s, …)
        #[arg(long, default_value_t = 4, value_name = "N")]
        max_retries: u32,
        /// Organizations read from the hub at once
        #[arg(long, default_value_t = crate::hub::DEFAULT_WORKERS, value_name = "N",
              value_parser = clap::value_parser!(u64).range(1..=16).map(|n| n as usize))]
        concurrency: usize,
    },
    /// The kept log events
    #[command(subcommand)]
    Events(EventsCommand),
    /// Copy a whole store (accounts, counts with their sources, kept events, libraries, log
    /// files, the downloader secret) into a new one, e.g. from SQLite to ClickHouse or back;
    /// sign-in sessions are not copied
    Migrate {
        /// The store to copy: a SQLite file path or a clickhouse:// location
        #[arg(long)]
        from: String,
        /// The store to create (it must not hold anything yet)
        #[arg(long)]
        to: String,
    },
    /// Recompute the downloads counted from logs from the kept events, under the current
    /// rules (run it after changing the rules file)
    Recount {
        /// Only this organization
        #[arg(long)]
        org: Option<String>,
        /// Only days from this one on
        #[arg(long, value_name = "YYYY-MM-DD")]
        from: Option<Day>,
        /// TOML rules file, as for ingest [default: the config's rules, else the Hub's]
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
    /// Export an organization's daily records as the breakdown CSV
    Export {
        #[arg(long)]
        org: String,
        /// Write here (atomically) instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Manage organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// A model repository's library (which files count as its downloads)
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organization memberships
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manage personal API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the keys that may send request logs to POST /api/ingest
    #[command(subcommand)]
    IngestKey(IngestKeyCommand),
    /// Serve the dashboard, API and CSV endpoint from an existing store (stops on SIGTERM or
    /// SIGINT after finishing in-flight requests)
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long, env = "HUBSTATS_LISTEN")]
        listen: Option<SocketAddr>,
        /// Pin the reference day ("today") [default: the current UTC date]
        #[arg(long, value_name = "YYYY-MM-DD", env = "HUBSTATS_TODAY")]
        today: Option<Day>,
        /// Log line format on standard error; RUST_LOG filters (default: info) [default: text]
        #[arg(long, value_enum, env = "HUBSTATS_LOG_FORMAT")]
        log_format: Option<LogFormat>,
    },
    /// Write realistic request logs of the demo's repositories to standard output, for
    /// `hubstats ingest` (deterministic: the same arguments give the same bytes)
    DemoLogs {
        /// Rows to write (header excluded), spread evenly over the days
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Log format: hf-csv, jsonl or nginx, as for ingest
        #[arg(long, value_parser = format_parser())]
        format: crate::ingest::Format,
        /// Random seed: another seed, other requests
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Days covered, ending on the reference day
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
        /// Number of repositories of the large demo organization
        #[arg(long, default_value_t = 300)]
        repos: usize,
        /// The last day of the log [default: the current UTC date]
        #[arg(long, value_name = "YYYY-MM-DD", env = "HUBSTATS_TODAY")]
        today: Option<Day>,
    },
    /// Fill a separate demo store (./hubstats-demo.db unless --store) with realistic data ending
    /// today, and serve it
    Demo {
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long, env = "HUBSTATS_LISTEN")]
        listen: Option<SocketAddr>,
        /// Pin the reference day ("today") [default: the current UTC date]
        #[arg(long, value_name = "YYYY-MM-DD", env = "HUBSTATS_TODAY")]
        today: Option<Day>,
        /// Generate only; do not serve
        #[arg(long)]
        no_serve: bool,
        /// Number of repositories of the large demo organization
        #[arg(long, default_value_t = 300)]
        repos: usize,
        /// Log line format on standard error; RUST_LOG filters (default: info) [default: text]
        #[arg(long, value_enum, env = "HUBSTATS_LOG_FORMAT")]
        log_format: Option<LogFormat>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization (creates the store if it does not exist)
    Create {
        org: String,
        #[arg(long, default_value = "free", value_parser = plan_parser())]
        plan: Plan,
    },
    /// Change an organization's plan
    SetPlan {
        org: String,
        #[arg(value_parser = plan_parser())]
        plan: Plan,
    },
    /// List organizations with their plans and repository counts
    List,
    /// Delete an organization with its memberships, repositories and download counts
    Delete {
        org: String,
        /// Confirm the deletion (nothing is deleted without it)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Set the library a model repository is counted under (its rule replaces the default
    /// query files) and recount its days; --clear removes it
    SetLibrary {
        /// Repository type (only models have a library)
        #[arg(value_name = "TYPE", value_parser = model_type_parser())]
        repo_type: crate::domain::RepoType,
        /// ORG/NAME
        repo: String,
        /// A library `repo libraries` lists (e.g. peft, timm)
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        library: Option<String>,
        /// Remove the library set by hand (the one the repository's logs name, if any,
        /// applies again)
        #[arg(long)]
        clear: bool,
        /// TOML rules file, as for ingest [default: the Hub's rules]
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
    /// List the libraries the counting rules know, with their rules
    Libraries {
        /// TOML rules file, as for ingest [default: the Hub's rules]
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is asked twice on a terminal (not shown), or read from
    /// standard input with --password-stdin
    Create {
        user: String,
        /// Read the password from standard input (up to the end; one final line break is
        /// dropped)
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with their number of organizations and creation day
    List,
    /// Change a user's password (asked twice on a terminal, or --password-stdin); signs the
    /// user out everywhere
    SetPassword {
        user: String,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete a user with their memberships, tokens and sessions
    Delete { user: String },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a user to an organization (or change their role)
    Add {
        org: String,
        user: String,
        #[arg(long, default_value = "read", value_parser = role_parser())]
        role: Role,
    },
    /// Remove a user from an organization
    Remove { org: String, user: String },
    /// List an organization's members and their roles
    List { org: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a personal API token; it is shown once
    Create { user: String },
    /// List a user's tokens: prefix, created, last used (never the token itself)
    List { user: String },
    /// Revoke a token (give the whole token)
    Revoke { token: String },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Drop the kept events of days before the retention (--retention-days or the config's
    /// retention_days); counts are kept, and those days are no longer recounted
    Prune,
}

#[derive(Debug, Subcommand)]
pub enum IngestKeyCommand {
    /// Create an ingest key named NAME (e.g. after the log shipper that uses it); it is shown
    /// once, as the last word of the last line
    Create { name: String },
    /// List ingest keys: name, prefix, created, last used, status (never the key itself)
    List,
    /// Revoke the live ingest key named NAME; requests with it get 401 at once
    Revoke { name: String },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::from_env_and_args().unwrap_or_else(|e| e.exit());
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Cli {
    /// The command line, with each flag that is not given read from its `HUBSTATS_*` variable
    /// (clap's `env`). `--today` is read at the top and by the subcommands that take it too,
    /// each from HUBSTATS_TODAY: one given before such a subcommand beats the variable.
    pub fn from_env_and_args() -> Result<Cli, clap::Error> {
        let mut command = Cli::command();
        let matches = (command.try_get_matches_from_mut(std::env::args_os()))
            .map_err(|e| name_the_variable(e, &command))?;
        let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        let source = |m: &ArgMatches| {
            (m.ids().any(|id| id == "today"))
                .then(|| m.value_source("today"))
                .flatten()
        };
        let inner = matches.subcommand().and_then(|(_, m)| source(m));
        if source(&matches) == Some(ValueSource::CommandLine)
            && inner == Some(ValueSource::EnvVariable)
        {
            if let Command::Serve { today, .. }
            | Command::Demo { today, .. }
            | Command::DemoLogs { today, .. }
            | Command::Collect { today, .. } = &mut cli.command
            {
                *today = None;
            }
        }
        Ok(cli)
    }
}

/// clap's error for a bad value names the flag even when the value came from the flag's
/// variable (clap-rs/clap#5202); this adds which variable it was.
fn name_the_variable(mut e: clap::Error, command: &clap::Command) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
    ) {
        return e;
    }
    let (Some(ContextValue::String(flag)), Some(ContextValue::String(value))) = (
        e.get(ContextKind::InvalidArg),
        e.get(ContextKind::InvalidValue),
    ) else {
        return e;
    };
    // `--today <YYYY-MM-DD>`, read from the variable when the flag is not given.
    let Some(long) = flag
        .strip_prefix("--")
        .and_then(|f| f.split([' ', '=']).next())
    else {
        return e;
    };
    let is_flag = |a: &str| a == format!("--{long}") || a.starts_with(&format!("--{long}="));
    if std::env::args_os().any(|a| a.to_str().is_some_and(is_flag)) {
        return e;
    }
    let commands = std::iter::once(command).chain(command.get_subcommands());
    let variable = (commands.flat_map(|c| c.get_arguments()))
        .filter(|a| a.get_long() == Some(long))
        .filter_map(|a| a.get_env())
        .find(|name| std::env::var_os(name).is_some_and(|v| v == value.as_str()));
    if let Some(name) = variable {
        let tip = format!("the value comes from {}", name.to_string_lossy());
        e.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![tip.into()]),
        );
    }
    e
}

pub fn run(cli: Cli) -> Result<()> {
    let (listen, today, log_format) = match &cli.command {
        Command::Serve {
            listen,
            today,
            log_format,
        }
        | Command::Demo {
            listen,
            today,
            log_format,
            ..
        } => (*listen, *today, *log_format),
        Command::DemoLogs { today, .. } | Command::Collect { today, .. } => (None, *today, None),
        _ => (None, None, None),
    };
    let flags = Overrides {
        config_file: cli.config,
        store: cli.store,
        today: today.or(cli.today),
        listen,
        log_format,
        retention_days: cli.retention_days,
    };
    let config = Config::load(&flags, |k| std::env::var(k).ok())?;
    let serving = matches!(cli.command, Command::Serve { .. } | Command::Demo { .. });
    logging::init(&config, if serving { "info" } else { "warn" });
    if !creates_store(&cli.command)
        && !matches!(
            cli.command,
            Command::Repo(RepoCommand::Libraries { .. })
                | Command::DemoLogs { .. }
                | Command::Migrate { .. }
        )
    {
        require_store(config.store_or(DEFAULT_STORE))?;
    }
    match cli.command {
        Command::Import { files } => data::import(&config, &files),
        Command::Ingest {
            files,
            format,
            rules,
        } => logs::ingest(&config, &files, format, rules.as_deref()),
        Command::Recount { org, from, rules } => {
            logs::recount(&config, org.as_deref(), from, rules.as_deref())
        }
        Command::Collect {
            orgs,
            hub,
            token_file,
            max_retries,
            concurrency,
            ..
        } => collect::collect(
            &config,
            &collect::CollectArgs {
                orgs: &orgs,
                hub: hub.as_deref(),
                token_file: token_file.as_deref(),
                max_retries,
                concurrency,
            },
        ),
        Command::Events(EventsCommand::Prune) => logs::prune(&config),
        Command::Migrate { from, to } => {
            require_store(&from)?;
            migrate::migrate(&from, &to)
        }
        Command::Export { org, output } => data::export(&config, &org, output.as_deref()),
        Command::Org(c) => admin::org(&config, c),
        Command::Repo(c) => repo::repo(&config, c),
        Command::User(c) => admin::user(&config, c),
        Command::Member(c) => admin::member(&config, c),
        Command::Token(c) => admin::token(&config, c),
        Command::IngestKey(c) => ingest_keys::ingest_key(&config, c),
        Command::Serve { .. } => serve::serve(&config),
        Command::Demo {
            no_serve, repos, ..
        } => serve::demo(&config, repos, !no_serve),
        Command::DemoLogs {
            rows,
            format,
            seed,
            days,
            repos,
            ..
        } => generate::demo_logs(&config, format, rows, seed, days, repos),
    }
}

/// Only these commands may create a new store; the others need an existing one, so that a
/// mistyped `--store` is an error rather than a new empty store. `ingest-key create` is the
/// first command of a hub that only sends its logs over HTTP.
fn creates_store(command: &Command) -> bool {
    matches!(
        command,
        Command::Import { .. }
            | Command::Ingest { .. }
            | Command::Collect { .. }
            | Command::Demo { .. }
            | Command::Org(OrgCommand::Create { .. })
            | Command::IngestKey(IngestKeyCommand::Create { .. })
    )
}

/// What to do about a missing store, after "no store at …".
const CREATE_ONE: &str = "use --store, or create it with `hubstats import`, `ingest`, \
                          `collect`, `org create` or `ingest-key create`";

fn require_store(location: &str) -> Result<()> {
    if let Some(parsed) = crate::store::clickhouse::Location::parse(location) {
        let parsed = parsed?;
        if !crate::store::clickhouse::database_exists(&parsed)? {
            bail!(
                "no store at {}:{}, database {} ({CREATE_ONE})",
                parsed.host,
                parsed.port,
                parsed.database
            );
        }
        return Ok(());
    }
    if !Path::new(location).exists() {
        bail!("no store at {location} ({CREATE_ONE})");
    }
    Ok(())
}
