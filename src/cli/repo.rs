//! `repo`: a model repository's library (`set-library`), and the libraries the counting rules
//! know (`libraries`).

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::data::{counted, open_store};
use super::logs::load_rules;
use super::output;
use super::RepoCommand;
use crate::config::Config;
use crate::domain::{LibraryName, RepoKey, RepoName, RepoType};
use crate::ingest::{self, Rules};
use crate::store::{RepoLibrary, Store};

pub fn repo(config: &Config, c: RepoCommand) -> Result<()> {
    match c {
        RepoCommand::SetLibrary {
            repo_type,
            repo,
            library,
            clear,
            rules,
        } => set_library(
            config,
            repo_type,
            &repo,
            library.as_deref(),
            clear,
            rules.as_deref(),
        ),
        RepoCommand::Libraries { rules } => libraries(&load_rules(config, rules.as_deref())?),
    }
}

fn set_library(
    config: &Config,
    repo_type: RepoType,
    repo: &str,
    library: Option<&str>,
    clear: bool,
    rules: Option<&Path>,
) -> Result<()> {
    if repo_type == RepoType::Dataset {
        bail!("only models have a library (datasets are counted per downloader and window)");
    }
    let repo = RepoKey {
        repo_type,
        name: RepoName::parse(repo).context("repository name")?,
    };
    let rules = load_rules(config, rules)?;
    let library = match (library, clear) {
        (Some(name), false) => Some(known_library(&rules, name)?),
        (None, true) => None,
        _ => bail!("give a LIBRARY or --clear"),
    };
    let store = open_store(config)?;
    let (now, repo_days) = ingest::set_library(store.as_ref(), &rules, &repo, library.as_ref())?;
    output::line(format!(
        "{}: {}; {} recounted",
        repo.name,
        describe(&now, &rules),
        counted(repo_days, "repository-day", "repository-days")
    ))?;
    // Setting a library before a repository's logs come is allowed; a misspelt name looks
    // the same, so say that the store knows nothing of it.
    if repo_days == 0 && !is_known(store.as_ref(), &repo)? {
        eprintln!(
            "warning: the store has no counts or kept events of {}; its library applies to \
             its logs once they are ingested (check the name if it should have some)",
            repo.name
        );
    }
    Ok(())
}

/// Whether the store has counts or kept events of `repo`.
fn is_known(store: &dyn Store, repo: &RepoKey) -> Result<bool> {
    if store.repo(repo)?.is_some() {
        return Ok(true);
    }
    let mut kept = false;
    if let Some(events) = store.log_events() {
        events.days_of(repo, &mut |_| {
            kept = true;
            Ok(())
        })?;
    }
    Ok(kept)
}

/// The library named, if the rules know it.
fn known_library(rules: &Rules, name: &str) -> Result<LibraryName> {
    let library = LibraryName::parse(name)?;
    if rules.libraries.get(name).is_none() {
        bail!(
            "unknown library {name:?}: `hubstats repo libraries` lists the known ones; \
             a rules file's [libraries] table (--rules) adds others"
        );
    }
    Ok(library)
}

/// `counted under peft (set by hand): path:"adapter_config.json"`.
fn describe(library: &RepoLibrary, rules: &Rules) -> String {
    let Some(name) = library.effective() else {
        return "no library: counted by the default query files".to_owned();
    };
    let how = if library.set.is_some() {
        "set by hand"
    } else {
        "named by its logs"
    };
    let rule = match rules.library_query(Some(name.as_str())) {
        Some(query) => one_line(query.as_str()),
        None => "the default query files".to_owned(),
    };
    format!("counted under {name} ({how}): {rule}")
}

/// A query on one line (published queries may span several).
fn one_line(query: &str) -> String {
    query.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every known library and its rule, one per line.
fn libraries(rules: &Rules) -> Result<()> {
    output::lines(rules.libraries.iter().map(|(name, library)| {
        let rule = match &library.query {
            Some(query) => one_line(query.as_str()),
            None => "(the default query files)".to_owned(),
        };
        format!("{name}\t{rule}")
    }))
}
