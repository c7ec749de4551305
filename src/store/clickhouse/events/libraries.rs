//! Repository libraries on ClickHouse, in three small tables whose rows are only inserted:
//! `library_set` (the library set by hand, latest by `version`; `''` once removed),
//! `library_namings` (each write's latest naming per repository, counted once the write's
//! commit marker is in `log_writes`; the latest `(at_ms, library)` is the library from logs,
//! whatever the order of writes), and `library_counted` (the library a repository was last
//! recounted under). A repository is marked for a recount while the library it is counted
//! under differs from the one it was last recounted under (none, before any recount).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::client::{backend, tsv_field, Client};
use super::super::{mutations, next_version, Table};
use super::{of_repo, repo_key, type_code};
use crate::domain::{LibraryName, RepoKey};
use crate::store::{LibraryRecord, RepoLibrary, StoreResult};

pub(super) const SET: Table = Table {
    name: "library_set",
    columns: "org String, repo_type UInt8, repo String, library String, version UInt64",
    engine: "ReplacingMergeTree(version) ORDER BY (org, repo_type, repo)",
    shard_by: "sipHash64(org)",
};
pub(super) const NAMINGS: Table = Table {
    name: "library_namings",
    columns: "org String, repo_type UInt8, repo String, at_ms Int64, library String, \
              write_id UInt64",
    engine: "ReplacingMergeTree ORDER BY (org, repo_type, repo, at_ms, library, write_id)",
    shard_by: "sipHash64(org)",
};
pub(super) const COUNTED: Table = Table {
    name: "library_counted",
    columns: "org String, repo_type UInt8, repo String, library String, version UInt64",
    engine: "ReplacingMergeTree(version) ORDER BY (org, repo_type, repo)",
    shard_by: "sipHash64(org)",
};

/// What the three tables say of one repository (`''`: no library).
#[derive(Default)]
struct State {
    set: Option<String>,
    from_logs: Option<String>,
    /// The instant of the naming `from_logs` comes from.
    named_at: i64,
    counted: String,
}

impl State {
    fn effective(&self) -> &str {
        match self.set.as_deref() {
            Some(set) if !set.is_empty() => set,
            _ => self.from_logs.as_deref().unwrap_or(""),
        }
    }
}

/// The state of every repository `condition` selects, in export order.
fn states(client: &Client, condition: &str) -> StoreResult<BTreeMap<(u64, String), State>> {
    let mut out: BTreeMap<(u64, String), State> = BTreeMap::new();
    let queries = [
        format!(
            "SELECT repo_type, repo, argMax(library, version) FROM library_set \
             WHERE {condition} GROUP BY repo_type, repo"
        ),
        format!(
            "SELECT repo_type, repo, argMax(library, (at_ms, library)), max(at_ms) \
             FROM library_namings \
             WHERE {condition} AND write_id GLOBAL IN (SELECT write_id FROM log_writes) \
             GROUP BY repo_type, repo"
        ),
        format!(
            "SELECT repo_type, repo, argMax(library, version) FROM library_counted \
             WHERE {condition} GROUP BY repo_type, repo"
        ),
    ];
    for (i, sql) in queries.iter().enumerate() {
        client.query_each(sql, &mut |r| {
            let state = out.entry((r.u64(0)?, r.str(1)?)).or_default();
            let library = r.str(2)?;
            match i {
                0 => state.set = Some(library),
                1 => {
                    state.from_logs = Some(library);
                    state.named_at = r.i64(3)?;
                }
                _ => state.counted = library,
            }
            Ok(())
        })?;
    }
    Ok(out)
}

fn library_name(stored: Option<&str>) -> StoreResult<Option<LibraryName>> {
    stored
        .filter(|s| !s.is_empty())
        .map(|s| LibraryName::parse(s).map_err(|e| backend(format!("stored library: {e}"))))
        .transpose()
}

pub(super) fn library(client: &Client, repo: &RepoKey) -> StoreResult<RepoLibrary> {
    let mut one = libraries_of(client, &of_repo(repo), &[repo])?;
    Ok(one.pop().unwrap_or_default())
}

/// The library of each of `repos` (all of one type), which `condition` selects, in order.
pub(super) fn libraries_of(
    client: &Client,
    condition: &str,
    repos: &[&RepoKey],
) -> StoreResult<Vec<RepoLibrary>> {
    let states = states(client, condition)?;
    repos
        .iter()
        .map(|repo| {
            let key = (
                u64::from(type_code(repo.repo_type)),
                repo.name.as_str().to_owned(),
            );
            let Some(state) = states.get(&key) else {
                return Ok(RepoLibrary::default());
            };
            Ok(RepoLibrary {
                set: library_name(state.set.as_deref())?,
                from_logs: library_name(state.from_logs.as_deref())?,
            })
        })
        .collect()
}

/// Inserts one row of `table` for `repo` with `library` and a new version.
fn insert_versioned(
    client: &Client,
    table: &str,
    repo: &RepoKey,
    library: Option<&LibraryName>,
) -> StoreResult<()> {
    let mut body = String::new();
    tsv_field(&mut body, repo.name.org().as_str());
    let _ = write!(body, "\t{}\t", type_code(repo.repo_type));
    tsv_field(&mut body, repo.name.as_str());
    body.push('\t');
    tsv_field(&mut body, library.map_or("", LibraryName::as_str));
    let _ = writeln!(body, "\t{}", next_version());
    client.insert(table, "org, repo_type, repo, library, version", &body)
}

pub(super) fn set(
    client: &Client,
    repo: &RepoKey,
    library: Option<&LibraryName>,
) -> StoreResult<RepoLibrary> {
    insert_versioned(client, "library_set", repo, library)?;
    self::library(client, repo)
}

pub(super) fn counted(
    client: &Client,
    repo: &RepoKey,
    library: Option<&LibraryName>,
) -> StoreResult<()> {
    insert_versioned(client, "library_counted", repo, library)
}

pub(super) fn changes(
    client: &Client,
    condition: &str,
    f: &mut dyn FnMut(RepoKey) -> StoreResult<()>,
) -> StoreResult<()> {
    for ((code, name), state) in states(client, condition)? {
        if state.effective() != state.counted {
            f(repo_key(code, &name)?)?;
        }
    }
    Ok(())
}

/// Every repository with a library set by hand or named by its logs, in export order.
pub(super) fn records(
    client: &Client,
    f: &mut dyn FnMut(RepoKey, LibraryRecord) -> StoreResult<()>,
) -> StoreResult<()> {
    for ((code, name), state) in states(client, "1")? {
        let record = LibraryRecord {
            set: library_name(state.set.as_deref())?,
            named: library_name(state.from_logs.as_deref())?.map(|l| (state.named_at, l)),
        };
        if record != LibraryRecord::default() {
            f(repo_key(code, &name)?, record)?;
        }
    }
    Ok(())
}

/// Inserts a write's namings under its id (not counted before its commit marker).
pub(super) fn insert_namings(
    client: &Client,
    write_id: u64,
    namings: &BTreeMap<RepoKey, (i64, LibraryName)>,
) -> StoreResult<()> {
    let mut body = String::new();
    for (repo, (at_ms, library)) in namings {
        tsv_field(&mut body, repo.name.org().as_str());
        let _ = write!(body, "\t{}\t", type_code(repo.repo_type));
        tsv_field(&mut body, repo.name.as_str());
        let _ = write!(body, "\t{at_ms}\t");
        tsv_field(&mut body, library.as_str());
        let _ = writeln!(body, "\t{write_id}");
    }
    client.insert(
        "library_namings",
        "org, repo_type, repo, at_ms, library, write_id",
        &body,
    )
}

/// Removes the libraries of the repositories `condition` selects.
pub(super) fn remove_org(client: &Client, condition: &str) -> StoreResult<()> {
    for table in ["library_set", "library_namings", "library_counted"] {
        mutations::delete(client, table, condition)?;
    }
    Ok(())
}
