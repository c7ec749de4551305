//! The command line: parses arguments into a [`Command`] and dispatches to library code. Each
//! group of commands lives in its own file; none holds product logic of its own.

mod admin;
mod data;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::{Config, Overrides};
use crate::domain::{Day, Plan, Role};

#[derive(Debug, Parser)]
#[command(
    name = "hubstats",
    version,
    about = "Publisher analytics for model and dataset hubs"
)]
pub struct Cli {
    /// Store location: a SQLite file path [env: HUBSTATS_STORE] [default: ./hubstats.db]
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<String>,
    /// Pin the reference day ("today") [env: HUBSTATS_TODAY] [default: current UTC date]
    #[arg(long, global = true, value_name = "YYYY-MM-DD")]
    pub today: Option<Day>,
    /// TOML config file with keys store, today, listen, secure_cookies [env: HUBSTATS_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import Hugging Face breakdown CSV files (repoType,repoName,total,timestamp,downloads)
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Export an organization's daily records as the breakdown CSV
    Export {
        #[arg(long)]
        org: String,
        /// Write here instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Manage organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage organization memberships
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manage personal API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Serve the dashboard, API and CSV endpoint from an existing store
    Serve {
        /// Address to listen on [env: HUBSTATS_LISTEN] [default: 127.0.0.1:8080]
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Fill a separate demo store with realistic data ending today, and serve it
    Demo {
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Generate only; do not serve
        #[arg(long)]
        no_serve: bool,
        /// Number of repositories of the large demo organization
        #[arg(long, default_value_t = 300)]
        repos: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization
    Create {
        org: String,
        #[arg(long, default_value = "free")]
        plan: Plan,
    },
    /// Change an organization's plan
    SetPlan { org: String, plan: Plan },
    /// List organizations
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input
    Create {
        user: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a user to an organization (or change their role)
    Add {
        org: String,
        user: String,
        #[arg(long, default_value = "read")]
        role: Role,
    },
    /// Remove a user from an organization
    Remove { org: String, user: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a personal API token; it is shown once
    Create { user: String },
    /// Revoke a token
    Revoke { token: String },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen } | Command::Demo { listen, .. } => *listen,
        _ => None,
    };
    let flags = Overrides {
        config_file: cli.config,
        store: cli.store,
        today: cli.today,
        listen,
    };
    let config = Config::load(&flags, |k| std::env::var(k).ok())?;
    match cli.command {
        Command::Import { files } => data::import(&config, &files),
        Command::Export { org, output } => data::export(&config, &org, output.as_deref()),
        Command::Org(c) => admin::org(&config, c),
        Command::User(c) => admin::user(&config, c),
        Command::Member(c) => admin::member(&config, c),
        Command::Token(c) => admin::token(&config, c),
        Command::Serve { .. } => serve::serve(&config),
        Command::Demo {
            no_serve, repos, ..
        } => serve::demo(&config, repos, !no_serve),
    }
}
