//! Counting repository-days from their kept events: after an ingest (the days a file touched),
//! after a rules change ([`recount_all`]), and after a repository's library changed (all its
//! days; [`set_library`], or an ingest whose events name a new library).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{self, Receiver};

use super::{retention, IngestError, Rules, LOGS_SOURCE};
use crate::domain::{Day, LibraryName, LogEvent, OrgName, RepoKey, RepoType};
use crate::store::{LogEvents, RepoLibrary, SourceId, Store, StoreError, StoreResult, WriteMode};

/// Adds every day of each repository whose library changed since it was last counted (of
/// `org` only, when given) to `touched`; returns those repositories.
pub(super) fn add_library_changes(
    events: &dyn LogEvents,
    org: Option<&OrgName>,
    touched: &mut BTreeMap<RepoKey, BTreeSet<Day>>,
) -> Result<BTreeSet<RepoKey>, StoreError> {
    let mut changed = BTreeSet::new();
    events.library_changes(org, &mut |repo| {
        changed.insert(repo);
        Ok(())
    })?;
    for repo in &changed {
        let days = touched.entry(repo.clone()).or_default();
        events.days_of(repo, &mut |day| {
            days.insert(day);
            Ok(())
        })?;
    }
    Ok(changed)
}

/// The library a repository is counted under (datasets: none).
pub(super) fn library_of(
    events: &dyn LogEvents,
    repo: &RepoKey,
) -> Result<Option<LibraryName>, StoreError> {
    match repo.repo_type {
        RepoType::Model => Ok(events.library(repo)?.effective().cloned()),
        RepoType::Dataset => Ok(None),
    }
}

/// Repositories read at once by a recount: each reader reads and counts every `READERS`th
/// repository while the write goes on, so the store's answers and the counting overlap.
const READERS: usize = 2;

/// Repositories whose events a reader asks the store for at once (`LogEvents::events_of_repos`:
/// on ClickHouse one query, where a query per repository cost ~10 ms each).
const REPOS_AT_ONCE: usize = 128;

/// What a reader found of one repository: the library it is counted under and the downloads
/// of each of its touched days that has events.
type Counted = StoreResult<RepoCounts>;

/// The library a repository is counted under, and the downloads of its days.
type RepoCounts = (Option<LibraryName>, BTreeMap<Day, u64>);

/// Sets the `logs` downloads of each repository-day from every event kept for it, under the
/// repository's library, in one write; then clears the library change of each repository in
/// `changed` (all of whose days are in `touched`). Returns how many repository-days were
/// recounted and the downloads they now hold from logs.
///
/// Libraries and events are read after the write began (no other write can change a library
/// meanwhile), by [`READERS`] threads, each [`REPOS_AT_ONCE`] repositories at a time, ahead
/// of the write, which takes their counts in `touched`'s order. Memory stays one
/// repository-day's events per reader plus a few hundred repositories' day counts.
pub(super) fn recount(
    store: &dyn Store,
    events: &dyn LogEvents,
    rules: &Rules,
    touched: &BTreeMap<RepoKey, BTreeSet<Day>>,
    changed: &BTreeSet<RepoKey>,
) -> Result<Recounted, StoreError> {
    let source = SourceId::parse(LOGS_SOURCE)?;
    let mut write = store.write(&source, WriteMode::Merge)?;
    let repos: Vec<(&RepoKey, &BTreeSet<Day>)> = touched.iter().collect();
    let mut recounted = Recounted::default();
    let mut counted_under = BTreeMap::new();
    std::thread::scope(|scope| -> Result<(), StoreError> {
        let readers: Vec<Receiver<Counted>> = (0..READERS)
            .map(|first| {
                let (counts, taken) = mpsc::sync_channel(4);
                let repos = &repos;
                scope.spawn(move || {
                    let mine: Vec<_> = repos.iter().skip(first).step_by(READERS).collect();
                    for chunk in mine.chunks(REPOS_AT_ONCE) {
                        let counted = match count_repos(events, rules, chunk) {
                            Ok(counted) => counted.into_iter().map(Ok).collect(),
                            Err(e) => vec![Err(e)],
                        };
                        for one in counted {
                            let failed = one.is_err();
                            if counts.send(one).is_err() || failed {
                                return; // the write stopped, or must
                            }
                        }
                    }
                });
                taken
            })
            .collect();
        for (i, (repo, days)) in repos.iter().enumerate() {
            let (library, counts) = readers[i % READERS]
                .recv()
                .map_err(|_| StoreError::Backend("a recount reader stopped".into()))??;
            // A day that counts nothing (now, under these rules) may have counted before:
            // clear it, unless the repository has no counts at all (nothing to clear, and
            // writing would create it).
            let mut repo_exists: Option<bool> = None;
            for day in *days {
                let downloads = counts.get(day).copied().unwrap_or(0);
                let write_it = downloads > 0
                    || match repo_exists {
                        Some(exists) => exists,
                        None => *repo_exists.insert(store.repo(repo)?.is_some()),
                    };
                if write_it {
                    write.set(repo, *day, downloads)?;
                }
                recounted.repo_days += 1;
                recounted.downloads = recounted.downloads.saturating_add(downloads);
            }
            if changed.contains(*repo) {
                counted_under.insert(*repo, library);
            }
        }
        Ok(())
    })?;
    write.commit()?;
    for (repo, library) in counted_under {
        events.library_counted(repo, library.as_ref())?;
    }
    Ok(recounted)
}

/// The library of each repository of `chunk` and the downloads of each of its days (those
/// that have events), counted under that library, in `chunk`'s order. The events of each
/// repository type are read in one pass (`LogEvents::events_of_repos`), one repository-day in
/// memory at a time.
fn count_repos(
    events: &dyn LogEvents,
    rules: &Rules,
    chunk: &[&(&RepoKey, &BTreeSet<Day>)],
) -> StoreResult<Vec<RepoCounts>> {
    // Models are counted under their library (read for all of the chunk's at once), datasets
    // under none.
    let models: Vec<&RepoKey> = chunk
        .iter()
        .map(|(repo, _)| *repo)
        .filter(|repo| repo.repo_type == RepoType::Model)
        .collect();
    let of_models = events.libraries_of(&models)?;
    if of_models.len() != models.len() {
        return Err(StoreError::Backend(
            "the store answered for another number of repositories' libraries".into(),
        ));
    }
    let mut of_models = of_models.into_iter();
    let libraries: Vec<Option<LibraryName>> = chunk
        .iter()
        .map(|(repo, _)| match repo.repo_type {
            RepoType::Model => of_models.next().and_then(|l| l.effective().cloned()),
            RepoType::Dataset => None,
        })
        .collect();
    let mut counts: Vec<BTreeMap<Day, u64>> = vec![BTreeMap::new(); chunk.len()];
    for repo_type in [RepoType::Model, RepoType::Dataset] {
        // (A repository whose library changed may have no days: nothing to read.)
        let (of_type, ranges): (Vec<usize>, Vec<(&RepoKey, Day, Day)>) = (0..chunk.len())
            .filter_map(|i| {
                let (repo, days) = chunk[i];
                let range = (*repo, *days.first()?, *days.last()?);
                (repo.repo_type == repo_type).then_some((i, range))
            })
            .unzip();
        if ranges.is_empty() {
            continue;
        }
        let mut current: Option<(usize, Day)> = None;
        let mut day_events: Vec<LogEvent> = Vec::new();
        let mut finish = |at: Option<(usize, Day)>, day_events: &mut Vec<LogEvent>| {
            if let Some((j, day)) = at {
                let i = of_type[j];
                if chunk[i].1.contains(&day) {
                    let library = libraries[i].as_ref().map(LibraryName::as_str);
                    counts[i].insert(day, rules.downloads(repo_type, library, day_events));
                }
            }
            day_events.clear();
        };
        let fields = rules.fields(repo_type);
        events.events_of_repos(&ranges, fields, &mut |j, day, event| {
            if current != Some((j, day)) {
                finish(current, &mut day_events);
                current = Some((j, day));
            }
            day_events.push(event);
            Ok(())
        })?;
        finish(current, &mut day_events);
    }
    Ok(libraries.into_iter().zip(counts).collect())
}

/// The repository-days one recount wrote and the downloads they hold from logs afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Recounted {
    pub repo_days: u64,
    pub downloads: u64,
}

/// What a recount did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecountReport {
    pub repo_days: u64,
    pub orgs: u64,
    /// Set when the range asked for starts before the first kept day (retention): the days
    /// before it had their events dropped, keep their counts and were not recounted.
    pub not_recounted_before: Option<Day>,
}

/// Recomputes the `logs` downloads of every repository-day with kept events (of `org` only,
/// and on or after `from`, when given) under `rules`, in one write: afterwards those counts
/// equal a fresh ingest of the same files under those rules. A repository whose library
/// changed since it was last counted is recounted whole, whatever `from`.
pub fn recount_all(
    store: &dyn Store,
    rules: &Rules,
    org: Option<&OrgName>,
    from: Option<Day>,
) -> Result<RecountReport, IngestError> {
    recount_within(store, rules, org, from, None)
}

/// [`recount_all`] of the days on or after `first_kept` (retention) and the store's horizon;
/// the report says when the range asked for started before them.
pub fn recount_within(
    store: &dyn Store,
    rules: &Rules,
    org: Option<&OrgName>,
    from: Option<Day>,
    first_kept: Option<Day>,
) -> Result<RecountReport, IngestError> {
    let store_err = |source| IngestError::Store {
        file: "the kept events".to_owned(),
        source,
    };
    let events = store.log_events().ok_or(IngestError::Unsupported)?;
    let first_kept = retention::effective(events, first_kept).map_err(store_err)?;
    let not_recounted_before = first_kept.filter(|first| from.is_none_or(|f| f < *first));
    let mut touched: BTreeMap<RepoKey, BTreeSet<Day>> = BTreeMap::new();
    events
        .event_days(org, from.max(first_kept), &mut |repo, day| {
            touched.entry(repo).or_default().insert(day);
            Ok(())
        })
        .map_err(store_err)?;
    let changed = add_library_changes(events, org, &mut touched).map_err(store_err)?;
    retention::keep_from(&mut touched, first_kept);
    let recounted = recount(store, events, rules, &touched, &changed).map_err(store_err)?;
    let orgs: BTreeSet<OrgName> = touched.keys().map(|r| r.name.org()).collect();
    Ok(RecountReport {
        repo_days: recounted.repo_days,
        orgs: orgs.len() as u64,
        not_recounted_before,
    })
}

/// Sets a model repository's library by hand (`None` removes it: its logs' library, if any,
/// applies again) and recounts all its days under `rules` when that changes the library it is
/// counted under. Returns the library now and the repository-days recounted.
pub fn set_library(
    store: &dyn Store,
    rules: &Rules,
    repo: &RepoKey,
    library: Option<&LibraryName>,
) -> Result<(RepoLibrary, u64), IngestError> {
    let store_err = |source| IngestError::Store {
        file: "the kept events".to_owned(),
        source,
    };
    let events = store.log_events().ok_or(IngestError::Unsupported)?;
    let now = events.set_library(repo, library).map_err(store_err)?;
    let mut touched = BTreeMap::new();
    let changed =
        add_library_changes(events, Some(&repo.name.org()), &mut touched).map_err(store_err)?;
    retention::keep_from(&mut touched, events.horizon().map_err(store_err)?);
    let recounted = recount(store, events, rules, &touched, &changed).map_err(store_err)?;
    Ok((now, recounted.repo_days))
}
