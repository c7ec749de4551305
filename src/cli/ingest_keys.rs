//! `ingest-key create|list|revoke`: the credentials of `POST /api/ingest`.

use anyhow::{bail, Context, Result};

use super::admin::{open, when};
use super::output;
use super::IngestKeyCommand;
use crate::accounts;
use crate::config::Config;
use crate::domain::IngestKeyName;

fn key_name(s: &str) -> Result<IngestKeyName> {
    IngestKeyName::parse(s).context("ingest key name")
}

pub fn ingest_key(config: &Config, c: IngestKeyCommand) -> Result<()> {
    let store = open(config)?;
    match c {
        IngestKeyCommand::Create { name } => {
            let name = key_name(&name)?;
            let key = accounts::create_ingest_key(store.as_ref(), &name)?;
            output::lines([
                format!("created ingest key {name}; it is shown only this once:"),
                key,
            ])?;
        }
        IngestKeyCommand::List => {
            let row = |name: &str, prefix: &str, created: &str, used: &str, status: &str| {
                format!("{name:<32} {prefix:<12} {created:<16} {used:<16} {status}")
            };
            let header = row(
                "NAME",
                "PREFIX",
                "CREATED (UTC)",
                "LAST USED (UTC)",
                "STATUS",
            );
            let rows = store.ingest_keys()?.into_iter().map(|k| {
                row(
                    k.name.as_str(),
                    &k.prefix,
                    &when(k.created_unix),
                    &k.last_used_unix.map_or_else(|| "never".to_owned(), when),
                    &k.revoked_unix
                        .map_or_else(|| "live".to_owned(), |r| format!("revoked {}", when(r))),
                )
            });
            output::lines(std::iter::once(header).chain(rows))?;
        }
        IngestKeyCommand::Revoke { name } => {
            let name = key_name(&name)?;
            if !store.revoke_ingest_key(&name, crate::accounts::now_unix())? {
                bail!("no live ingest key named {name}");
            }
            output::line(format_args!("revoked ingest key {name}"))?;
        }
    }
    Ok(())
}
