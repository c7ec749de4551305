//! Counts without some user-agent classes: how many of the `logs` downloads of an
//! organization's repository-days the events of those classes account for, recomputed from the
//! kept events under the same rules (so a dataset window with events of an excluded class and
//! of another still counts once).

use std::collections::{BTreeMap, BTreeSet};

use super::{recount::library_of, Rules, OTHER_AGENT};
use crate::domain::{Day, DayRange, LibraryName, OrgName, RepoKey, RepoType};
use crate::store::{Store, StoreError};

/// Downloads per day and repository type.
pub type DayDownloads = BTreeMap<(Day, RepoType), u64>;

/// The class names `exclude` accepts: the rules' classes and `other`.
pub fn class_names(rules: &Rules) -> Vec<&str> {
    let mut names: Vec<&str> = rules
        .agent_classes
        .iter()
        .map(|c| c.class.as_str())
        .collect();
    names.push(OTHER_AGENT);
    names
}

/// For each day of `range` and repository type, the downloads counted from `org`'s kept
/// events that are gone when the events of `classes` are left out. Events kept before classes
/// were (no class) are never left out; days without kept events (imported, or pruned) lose
/// nothing.
pub fn downloads_of_classes(
    store: &dyn Store,
    rules: &Rules,
    org: &OrgName,
    range: DayRange,
    classes: &BTreeSet<String>,
) -> Result<DayDownloads, StoreError> {
    let mut less = DayDownloads::new();
    let Some(events) = store.log_events() else {
        return Ok(less);
    };
    let mut days: BTreeMap<RepoKey, Vec<Day>> = BTreeMap::new();
    events.event_days(Some(org), Some(range.from), &mut |repo, day| {
        if day <= range.to {
            days.entry(repo).or_default().push(day);
        }
        Ok(())
    })?;
    let (mut all, mut kept) = (Vec::new(), Vec::new());
    for (repo, days) in days {
        let library: Option<LibraryName> = library_of(events, &repo)?;
        let library = library.as_ref().map(LibraryName::as_str);
        for day in days {
            all.clear();
            kept.clear();
            events.classified_events_of(&repo, day, &mut |e, class| {
                if !class.is_some_and(|c| classes.contains(&c)) {
                    kept.push(e.clone());
                }
                all.push(e);
                Ok(())
            })?;
            let gone = rules
                .downloads(repo.repo_type, library, &all)
                .saturating_sub(rules.downloads(repo.repo_type, library, &kept));
            if gone > 0 {
                let slot = less.entry((day, repo.repo_type)).or_default();
                *slot = slot.saturating_add(gone);
            }
        }
    }
    Ok(less)
}
