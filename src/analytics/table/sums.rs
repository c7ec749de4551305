//! Where the table's period figures come from. Sorting by downloads or change needs every
//! matching repository's figures before paging: they come from the store's organization-wide
//! `period_sums`, which a backend may keep per data version (the embedded one keeps its last
//! ranges, so typing in the search box, paging and sorting reuse one read). Sorting by name or total needs no figures before paging: the
//! page's rows take theirs from their series.

use super::super::{Analytics, AnalyticsResult};
use super::SortKey;
use crate::domain::{OrgName, Period, RepoKey};
use crate::store::PeriodSums;

/// Downloads per repository in the period and in the previous period (`None` when not read).
#[derive(Default)]
pub(super) struct PeriodFigures {
    pub now: Option<Sums>,
    pub before: Option<Sums>,
}

/// Per-repository sums in export order, repositories without downloads left out (as
/// `Counts::period_sums` returns them).
pub(super) struct Sums(PeriodSums);

impl Sums {
    pub fn new(sums: PeriodSums) -> Self {
        Sums(sums)
    }

    /// The sums of `keys`, which must come in export order too: one merge walk, no hashing.
    pub fn aligned<'k>(&self, keys: impl Iterator<Item = &'k RepoKey>) -> Vec<u64> {
        let mut next = self.0.iter().peekable();
        keys.map(|key| {
            while next.next_if(|(k, _)| k < key).is_some() {}
            next.next_if(|(k, _)| k == key).map_or(0, |(_, n)| *n)
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
