//! Where the table's period figures come from. Sorting by downloads or change needs every
//! matching repository's figures before paging: they come from the store's organization-wide
//! `period_sums`, which backends cache per write (so typing in the search box, paging and
//! sorting reuse one read). Sorting by name or total needs no figures before paging: the
//! page's rows take theirs from their series.

use std::collections::HashMap;

use super::super::{Analytics, AnalyticsResult};
use super::SortKey;
use crate::domain::{OrgName, Period, RepoKey};

/// Downloads per repository in the period and in the previous period (`None` when not read).
#[derive(Default)]
pub(super) struct PeriodFigures {
    pub now: Option<HashMap<RepoKey, u64>>,
    pub before: Option<HashMap<RepoKey, u64>>,
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
        let sums = |r| -> AnalyticsResult<HashMap<RepoKey, u64>> {
            Ok(self.counts.period_sums(org, r)?.into_iter().collect())
        };
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
