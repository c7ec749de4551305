//! Where the table's period figures come from. Sorting by downloads or change needs every
//! matching repository's figures before paging: they come from the store's organization-wide
//! `period_sums`, which a backend may keep per data version (the embedded one keeps its last
//! ranges, so typing in the search box, paging and sorting reuse one read). Sorting by name or total needs no figures before paging: the
//! page's rows take theirs from their series.

use super::super::{Analytics, AnalyticsResult};
use super::SortKey;
use crate::domain::{OrgName, Period, RepoKey};
use crate::store::{PeriodSums, RepoSummary};

/// Downloads per repository in the period and in the previous period (`None` when not read).
#[derive(Default)]
pub(super) struct PeriodFigures {
    pub now: Option<Sums>,
    pub before: Option<Sums>,
}

/// Per-repository sums of a period (as `Counts::period_sums` returns them).
pub(super) struct Sums(PeriodSums);

impl Sums {
    pub fn new(sums: PeriodSums) -> Self {
        Sums(sums)
    }

    /// The sums of some of `repos` (the organization's list, as read), given by position and
    /// key in export order: by position when the sums were read for that very list (no name
    /// compared), else one merge walk by key (no hashing).
    pub fn aligned<'k>(
        &self,
        repos: &[RepoSummary],
        picked: impl Iterator<Item = (usize, &'k RepoKey)>,
    ) -> Vec<u64> {
        if let Some(sums) = self.0.aligned_with(repos) {
            return picked.map(|(at, _)| sums[at]).collect();
        }
        let mut next = self.0.iter().peekable();
        picked
            .map(|(_, key)| {
                while next.next_if(|(k, _)| *k < key).is_some() {}
                next.next_if(|(k, _)| *k == key).map_or(0, |(_, n)| n)
            })
            .collect()
    }
}

impl Analytics<'_> {
    /// The figures sorting by `sort` needs.
    pub(super) fn period_figures(
        &self,
        org: &OrgName,
        period: Period,
        sort: SortKey,
    ) -> AnalyticsResult<PeriodFigures> {
        let (Some(range), Some(previous)) = (period.range, period.previous()) else {
            return Ok(PeriodFigures::default());
        };
        if !matches!(sort, SortKey::Downloads | SortKey::Change) {
            return Ok(PeriodFigures::default());
        }
        let sums = |r| -> AnalyticsResult<Sums> { Ok(Sums::new(self.counts.period_sums(org, r)?)) };
        let before = match sort {
            SortKey::Change => Some(sums(previous)?),
            _ => None,
        };
        Ok(PeriodFigures {
            now: Some(sums(range)?),
            before,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Sums;
    use crate::domain::{RepoKey, RepoName, RepoType};
    use crate::store::{PeriodSums, RepoSummaries, RepoSummary};

    fn summary(name: &str) -> RepoSummary {
        RepoSummary {
            key: RepoKey {
                repo_type: RepoType::Model,
                name: RepoName::parse(name).expect("a repository name"),
            },
            total: 0,
            adjustment: 0,
            first_day: None,
            last_day: None,
        }
    }

    /// By position for the list the sums were read for, by key for any other (a list read at
    /// another version): the same figures either way.
    #[test]
    fn aligned_by_position_and_by_key_agree() {
        let repos: RepoSummaries = ["acme/a", "acme/b", "acme/c", "acme/d"]
            .map(summary)
            .into_iter()
            .collect();
        let sums = Sums::new(PeriodSums::new(repos.clone(), Arc::from([5, 0, 7, 1])));
        let picked = |list: &[RepoSummary]| {
            let keys: Vec<(usize, &RepoKey)> = [1, 2, 3].map(|i| (i, &list[i].key)).to_vec();
            sums.aligned(list, keys.into_iter())
        };
        let copy: Vec<RepoSummary> = repos.to_vec();
        assert_eq!(picked(&repos), [0, 7, 1]);
        assert_eq!(picked(&copy), [0, 7, 1]);
        // A list with one more repository (another version): positions differ, keys agree.
        let mut grown = copy.clone();
        grown.insert(0, summary("acme/0"));
        let keys: Vec<(usize, &RepoKey)> = [2, 3].map(|i| (i, &grown[i].key)).to_vec();
        assert_eq!(sums.aligned(&grown, keys.into_iter()), [0, 7]);
    }
}
