//! The demo organization tracked from a hub's public counters: its history is built the way
//! `hubstats collect` builds one, from simulated daily snapshots of all-time counters through
//! [`crate::hub::apply_snapshot`], so its dashboard shows what collecting gives: days before
//! the first snapshot as history before daily data, missed snapshots whose days are estimated,
//! a counter the hub recounted (a correction), a repository that appears and one that goes.
//!
//! The counters follow the same download model as the other demo organizations (each
//! repository's downloads up to a day, plus what it had before the first snapshot). Which days
//! have a snapshot depends on the day alone, so a re-run writes only the snapshots of days it
//! has not taken yet.

use super::orgs::{hub_org, DemoRepo};
use super::DemoError;
use crate::domain::{Day, OrgName, Plan};
use crate::hub::{apply_snapshot, Listed};
use crate::store::Store;

/// What the snapshot-fed organization received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFill {
    pub org: OrgName,
    pub plan: Plan,
    pub repos: usize,
    pub first_day: Day,
    /// Snapshots it holds, and those taken by this run.
    pub snapshots: usize,
    pub taken_now: usize,
}

/// Days after the first snapshot on which the hub recounts a repository (its counter goes
/// down by a twentieth), one repository is first listed (made public) and another is last
/// listed (deleted).
const RECOUNT_AFTER: usize = 50;
const APPEARS: usize = 60;
const GOES: usize = 90;

/// Whether the simulated collector missed `day`: one day in nineteen or so, and three days
/// in a row every 45 days (never the first day or `today`).
fn missed(day: Day) -> bool {
    let d = day.epoch_days();
    split_mix(d as u64).is_multiple_of(19) || (20..=22).contains(&d.rem_euclid(45))
}

fn split_mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// One repository's all-time counter on each day from `first` through `today`, as the hub
/// shows it (`None`: not listed that day).
fn counters(repo: &DemoRepo, first: Day, today: Day) -> Vec<Option<u64>> {
    let days = first.days_until(today) + 1;
    let mut daily = vec![0u64; days.max(0) as usize];
    let sums = repo.profile.for_each_day(first, today, |d, n| {
        daily[first.days_until(d) as usize] += n;
    });
    let mut counter = sums.before_history;
    let mut launched = counter > 0;
    (0..days)
        .map(|k| {
            counter += daily[k as usize];
            launched |= counter > 0;
            launched.then_some(counter)
        })
        .collect()
}

/// What happens on the hub: the first repository with at least 20 downloads on day
/// `RECOUNT_AFTER` loses a twentieth of them from then on (a recount); the last one listed on
/// day `GOES` is not listed after it (deleted); the last other one listed on the first day is
/// not listed before day `APPEARS` (private until then).
fn hub_events(series: &mut [Vec<Option<u64>>]) {
    let at = |s: &[Option<u64>], k: usize| s.get(k).copied().flatten();
    let recounted = (0..series.len()).find(|&i| at(&series[i], RECOUNT_AFTER) >= Some(20));
    if let Some(i) = recounted {
        let lost = at(&series[i], RECOUNT_AFTER).unwrap_or(0) / 20;
        for c in series[i][RECOUNT_AFTER..].iter_mut().flatten() {
            *c = c.saturating_sub(lost);
        }
    }
    let others = |series: &[Vec<Option<u64>>], k: usize, not: &[Option<usize>]| {
        (0..series.len())
            .rev()
            .find(|&i| !not.contains(&Some(i)) && at(&series[i], k).is_some())
    };
    let goes = others(series, GOES, &[recounted]);
    if let Some(i) = goes {
        series[i].iter_mut().skip(GOES + 1).for_each(|c| *c = None);
    }
    if let Some(i) = others(series, 0, &[recounted, goes]) {
        series[i].iter_mut().take(APPEARS).for_each(|c| *c = None);
    }
}

/// Takes the organization's missing snapshots from its first day through `today`.
pub fn fill_from_snapshots(store: &dyn Store, today: Day) -> Result<SnapshotFill, DemoError> {
    let org = hub_org();
    let name = org.org_name()?;
    match store.org(&name)? {
        None => store.create_org(&name, org.plan)?,
        Some(info) if info.plan != org.plan => store.set_plan(&name, org.plan)?,
        Some(_) => {}
    }
    let snapshots = store.hub_snapshots().ok_or_else(|| {
        crate::store::StoreError::Invalid("this store does not keep hub snapshots".to_owned())
    })?;
    let taken: Vec<Day> = snapshots.snapshots(&name)?.iter().map(|s| s.day).collect();
    let first =
        (taken.first().copied()).unwrap_or_else(|| today.add_days(1 - org.shape.history_days));
    let repos = org.draw_repos()?;
    let mut series: Vec<Vec<Option<u64>>> =
        repos.iter().map(|r| counters(r, first, today)).collect();
    hub_events(&mut series);
    let mut taken_now = 0;
    for k in 0..=first.days_until(today).max(-1) {
        let day = first.add_days(k);
        let skip = missed(day) && day != first && day != today;
        if skip || taken.contains(&day) {
            continue;
        }
        let listed: Vec<Listed> = (repos.iter().zip(&series))
            .filter_map(|(r, s)| {
                s[k as usize].map(|n| Listed {
                    key: r.key.clone(),
                    downloads_all_time: n,
                })
            })
            .collect();
        let noon = i64::from(day.epoch_days()) * 86_400 + 43_200;
        apply_snapshot(store, &name, day, noon, &listed)?;
        taken_now += 1;
    }
    Ok(SnapshotFill {
        org: name.clone(),
        plan: org.plan,
        repos: org.repos,
        first_day: first,
        snapshots: snapshots.snapshots(&name)?.len(),
        taken_now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RepoKey;
    use crate::hub::provenance;
    use crate::store::{Counts, Stores};

    #[test]
    fn snapshots_give_estimates_a_correction_and_repositories_that_come_and_go() {
        let store = Stores::memory().unwrap();
        let today: Day = "2026-11-27".parse().unwrap();
        let fill = fill_from_snapshots(&store, today).unwrap();
        assert_eq!(fill.first_day, today.add_days(-119));
        assert!(fill.snapshots > 100 && fill.snapshots < 120, "{fill:?}");
        assert_eq!(fill.taken_now, fill.snapshots);
        let org = provenance::of_org(&store, &fill.org).unwrap().unwrap();
        assert_eq!((org.first, org.last), (fill.first_day, today));
        assert!(
            org.estimated.iter().any(|r| r.len() == 4),
            "{:?}",
            org.estimated
        );

        let repos: Vec<RepoKey> = hub_org()
            .draw_repos()
            .unwrap()
            .into_iter()
            .map(|r| r.key)
            .collect();
        let hubs: Vec<_> = (repos.iter())
            .filter_map(|r| provenance::of_repo(&store, r).unwrap())
            .collect();
        let recounted: Vec<_> = hubs.iter().filter(|h| !h.corrections.is_empty()).collect();
        assert_eq!(recounted.len(), 1, "{hubs:?}");
        assert_eq!(recounted[0].corrections.len(), 1, "{recounted:?}");
        // On the recount's day, or the next snapshot after it.
        let days = |n: usize| fill.first_day.add_days(n as i32);
        let on = recounted[0].corrections[0].day;
        assert!(
            on >= days(RECOUNT_AFTER) && on <= days(RECOUNT_AFTER + 4),
            "{recounted:?}"
        );
        // One repository made public on day 60 (or the next snapshot), one deleted after day 90.
        let appeared =
            |h: &&provenance::RepoHub| h.first >= days(APPEARS) && h.first <= days(APPEARS + 4);
        assert!(hubs.iter().any(|h| appeared(&h)), "{hubs:?}");
        let gone: Vec<_> = hubs.iter().filter(|h| !h.listed).collect();
        assert_eq!(gone.len(), 1, "{hubs:?}");
        assert!(gone[0].last <= days(GOES));
        // The total is the latest counter, whatever came before.
        for repo in &repos {
            if let Some(h) = provenance::of_repo(&store, repo).unwrap() {
                assert_eq!(store.repo(repo).unwrap().unwrap().total, h.counter);
            }
        }

        // The same day again takes nothing; three days later, only the new days' snapshots.
        assert_eq!(fill_from_snapshots(&store, today).unwrap().taken_now, 0);
        let later = fill_from_snapshots(&store, today.add_days(3)).unwrap();
        assert!((1..=3).contains(&later.taken_now), "{later:?}");
        assert_eq!(later.first_day, fill.first_day);
    }
}
