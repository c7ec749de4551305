//! Where the table's period figures come from. The organization-wide `period_sums` is the
//! dashboard's most expensive read, so it is avoided when it can be:
//! - sorting by name or total needs no figures before paging (the page's rows take theirs from
//!   their series);
//! - a search or filter that leaves few repositories reads just their days (one
//!   `for_each_daily` over the matches, covering the period and the one before).

use std::collections::HashMap;

use super::super::{Analytics, AnalyticsResult};
use super::SortKey;
use crate::domain::{DayRange, OrgName, Period, RepoKey, RepoType};
use crate::store::{DailyFilter, RepoSummary};

/// Matches read day by day rather than through `period_sums`: at most this many, and at most
/// an eighth of the organization's repositories.
const MAX_STREAMED: usize = 2_000;

/// Downloads per repository in the period and in the previous period (`None` when not read).
#[derive(Default)]
pub(super) struct PeriodFigures {
    pub now: Option<HashMap<RepoKey, u64>>,
    pub before: Option<HashMap<RepoKey, u64>>,
}

impl Analytics<'_> {
    /// The figures sorting by `sort` needs for the `matching` repositories out of `repo_count`.
    pub(super) fn period_figures(
        &self,
        org: &OrgName,
        period: Period,
        sort: SortKey,
        matching: &[&RepoSummary],
        repo_count: usize,
    ) -> AnalyticsResult<PeriodFigures> {
        let (Some(range), Some(previous)) = (period.range, period.previous()) else {
            return Ok(PeriodFigures::default());
        };
        if !matches!(sort, SortKey::Downloads | SortKey::Change) {
            return Ok(PeriodFigures::default());
        }
        if matching.len() <= MAX_STREAMED && matching.len() * 8 <= repo_count {
            return self.streamed_figures(org, range, previous, matching);
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

    /// Both periods' figures of a few repositories, from their days.
    fn streamed_figures(
        &self,
        org: &OrgName,
        range: DayRange,
        previous: DayRange,
        matching: &[&RepoSummary],
    ) -> AnalyticsResult<PeriodFigures> {
        let keys: Vec<RepoKey> = matching.iter().map(|r| r.key.clone()).collect();
        let mut now = vec![0u64; keys.len()];
        let mut before = vec![0u64; keys.len()];
        if !keys.is_empty() {
            let index: HashMap<(RepoType, &str), usize> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| ((k.repo_type, k.name.as_str()), i))
                .collect();
            let read = DayRange {
                from: previous.from,
                to: range.to,
            };
            let filter = DailyFilter {
                repos: Some(&keys),
                range: Some(read),
            };
            self.counts.for_each_daily(org, filter, &mut |row| {
                if let Some(&i) = index.get(&(row.repo_type, row.repo_name)) {
                    if range.contains(row.day) {
                        now[i] += row.downloads;
                    } else if previous.contains(row.day) {
                        before[i] += row.downloads;
                    }
                }
                Ok(())
            })?;
        }
        let map = |values: Vec<u64>| keys.iter().cloned().zip(values).collect();
        Ok(PeriodFigures {
            now: Some(map(now)),
            before: Some(map(before)),
        })
    }
}
