//! A whole store copied into an empty one (`hubstats migrate`), between any two backends:
//! organizations and plans, users with their password hashes, memberships, API tokens and
//! ingest keys (by hash, revoked ones revoked), every source's daily counts and every
//! repository's total, the kept events with their user-agent classes, the events' horizon,
//! libraries (set by hand, named by logs, and which repositories await a recount), the log
//! files ingested and the downloader secret. Sign-in sessions are not copied (users sign in
//! again); times of creation and last use become the copy's.
//!
//! Everything goes through the store traits, so the copy is the same whatever the backends.

use std::collections::{BTreeSet, HashSet};

use super::{HubSnapshots, Store, StoreError, StoreResult, WriteMode};
use crate::domain::{Day, OrgName, RepoKey};

/// What was copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub orgs: u64,
    pub users: u64,
    pub credentials: u64,
    pub sources: u64,
    pub values: u64,
    pub events: u64,
    pub libraries: u64,
    pub log_files: u64,
    /// Snapshots of a hub's counters (`hubstats collect`).
    pub snapshots: u64,
}

/// Where a copy is: the part being copied, how much of it is done, out of how much.
#[derive(Debug, Clone, Copy)]
pub struct CopyProgress<'a> {
    pub part: &'a str,
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the destination is not empty ({0}); copy into a new store")]
    NotEmpty(&'static str),
    #[error("the source keeps request-log events and the destination cannot")]
    NoEvents,
    #[error("the source keeps hub snapshots and the destination cannot")]
    NoSnapshots,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Copies everything of `from` into `to`, which must be empty.
pub fn copy_store(
    from: &dyn Store,
    to: &dyn Store,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> Result<CopyReport, CopyError> {
    require_empty(to)?;
    let mut report = CopyReport::default();
    let mut orgs = copy_accounts(from, to, &mut report)?;
    copy_counts(from, to, &mut orgs, &mut report, progress)?;
    if let Some(events) = from.log_events() {
        let target = to.log_events().ok_or(CopyError::NoEvents)?;
        copy_events(events, target, &mut report, progress)?;
    }
    if let Some(snapshots) = from.hub_snapshots() {
        let target = to.hub_snapshots().ok_or(CopyError::NoSnapshots)?;
        copy_snapshots(snapshots, target, &mut report)?;
    }
    Ok(report)
}

/// Copies every organization's hub snapshots, one at a time (their daily downloads are the
/// source `hub`, copied with the counts).
fn copy_snapshots(
    from: &dyn HubSnapshots,
    to: &dyn HubSnapshots,
    report: &mut CopyReport,
) -> StoreResult<()> {
    for org in from.snapshot_orgs()? {
        for info in from.snapshots(&org)? {
            let readings = from.snapshot(&org, info.day)?;
            to.put_snapshot(&org, info.day, info.taken_unix, &readings)?;
            report.snapshots += 1;
        }
    }
    Ok(())
}

fn require_empty(to: &dyn Store) -> Result<(), CopyError> {
    if !to.orgs()?.is_empty() {
        return Err(CopyError::NotEmpty("it has organizations"));
    }
    if !to.users()?.is_empty() {
        return Err(CopyError::NotEmpty("it has users"));
    }
    let stats = to.stats()?;
    if stats.repositories > 0 || !stats.sources.is_empty() {
        return Err(CopyError::NotEmpty("it has counts"));
    }
    if let Some(events) = to.log_events() {
        let mut any = false;
        events.event_days(None, None, &mut |_, _| {
            any = true;
            Ok(())
        })?;
        if any {
            return Err(CopyError::NotEmpty("it has log events"));
        }
    }
    Ok(())
}

/// Copies the accounts; returns the organizations' names.
fn copy_accounts(
    from: &dyn Store,
    to: &dyn Store,
    report: &mut CopyReport,
) -> StoreResult<BTreeSet<OrgName>> {
    let orgs = from.orgs()?;
    for org in &orgs {
        to.create_org(&org.name, org.plan)?;
    }
    for user in from.users()? {
        let hash = from.password_hash(&user.name)?.ok_or_else(|| {
            StoreError::Backend(format!("user {} has no password hash", user.name).into())
        })?;
        to.create_user(&user.name, &hash, user.created_unix)?;
        report.users += 1;
    }
    for org in &orgs {
        for (user, role) in from.members(&org.name)? {
            to.set_member(&org.name, &user, role)?;
        }
    }
    // Each credential with the instants it was made, last used and revoked.
    for token in from.token_records()? {
        let prefix = token.prefix.as_deref().unwrap_or("");
        to.create_token(&token.owner, &token.hash, prefix, token.created_unix)?;
        if let Some(used) = token.last_used_unix {
            to.touch_token(&token.hash, used)?;
        }
        if let Some(revoked) = token.revoked_unix {
            to.revoke_token(&token.hash, revoked)?;
        }
        report.credentials += 1;
    }
    // Revoked keys first: a live key's name may be one a revoked key had.
    let mut keys = from.ingest_key_records()?;
    keys.sort_by_key(|k| k.revoked_unix.is_none());
    for key in keys {
        let prefix = key.prefix.as_deref().unwrap_or("");
        to.create_ingest_key(&key.owner, &key.hash, prefix, key.created_unix)?;
        if let Some(used) = key.last_used_unix {
            to.touch_ingest_key(&key.hash, used)?;
        }
        if let Some(revoked) = key.revoked_unix {
            to.revoke_ingest_key(&key.owner, revoked)?;
        }
        report.credentials += 1;
    }
    report.orgs = orgs.len() as u64;
    Ok(orgs.into_iter().map(|o| o.name).collect())
}

/// Copies every source's values, one write per source, then every repository's total (in
/// a write of the last source that sets no value, so only the adjustments change).
fn copy_counts(
    from: &dyn Store,
    to: &dyn Store,
    orgs: &mut BTreeSet<OrgName>,
    report: &mut CopyReport,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> StoreResult<()> {
    let sources = from.stats()?.sources;
    let total: u64 = sources.iter().map(|s| s.rows).sum();
    for info in &sources {
        let mut write = to.write(&info.source, WriteMode::Merge)?;
        from.source_days(&info.source, &mut |repo, day, n| {
            orgs.insert(repo.name.org());
            write.set(repo, day, n)?;
            report.values += 1;
            if report.values.is_multiple_of(4096) {
                progress(CopyProgress {
                    part: "counts",
                    done: report.values,
                    total,
                });
            }
            Ok(())
        })?;
        write.commit()?;
        report.sources += 1;
    }
    let Some(last) = sources.last() else {
        return Ok(());
    };
    let mut write = to.write(&last.source, WriteMode::Merge)?;
    for org in orgs.iter() {
        for repo in from.repos(org)?.iter() {
            write.set_total(&repo.key, repo.total)?;
        }
    }
    write.commit()?;
    Ok(())
}

fn copy_events(
    from: &dyn super::LogEvents,
    to: &dyn super::LogEvents,
    report: &mut CopyReport,
    progress: &mut dyn FnMut(CopyProgress<'_>),
) -> StoreResult<()> {
    to.set_downloader_secret(&from.downloader_secret()?)?;
    let mut days: Vec<(RepoKey, Day)> = Vec::new();
    from.event_days(None, None, &mut |repo, day| {
        days.push((repo, day));
        Ok(())
    })?;
    let mut write = to.add_events()?;
    for (i, (repo, day)) in days.iter().enumerate() {
        from.classified_events_of(repo, *day, &mut |event, class| {
            report.events += 1;
            write.push(event, class.as_deref())
        })?;
        progress(CopyProgress {
            part: "events (repository-days)",
            done: i as u64 + 1,
            total: days.len() as u64,
        });
    }
    write.commit()?;
    if let Some(horizon) = from.horizon()? {
        to.prune_before(horizon)?;
    }
    copy_libraries(from, to, report)?;
    from.log_files(&mut |name, info| {
        to.record_log_file(name, info.rows, info.events, info.head.as_deref())?;
        report.log_files += 1;
        Ok(())
    })
}

/// Libraries set by hand and named by logs; a repository awaiting a recount in the source
/// awaits one in the copy, the others are marked counted under their library.
fn copy_libraries(
    from: &dyn super::LogEvents,
    to: &dyn super::LogEvents,
    report: &mut CopyReport,
) -> StoreResult<()> {
    let mut records = Vec::new();
    from.libraries(&mut |repo, record| {
        records.push((repo, record));
        Ok(())
    })?;
    let mut marked = HashSet::new();
    from.library_changes(None, &mut |repo| {
        marked.insert(repo);
        Ok(())
    })?;
    let mut write = to.add_events()?;
    for (repo, record) in &records {
        if let Some((at_ms, library)) = &record.named {
            write.name_library(repo, *at_ms, library)?;
        }
    }
    write.commit()?;
    for (repo, record) in &records {
        if let Some(library) = &record.set {
            to.set_library(repo, Some(library))?;
        }
        if !marked.contains(repo) {
            let counted_under = record.set.as_ref().or(record.named.as_ref().map(|n| &n.1));
            to.library_counted(repo, counted_under)?;
        }
        report.libraries += 1;
    }
    Ok(())
}
