//! Retention of kept events: how long events are kept, by day, relative to the reference day.
//! Dropping events never changes a count: the days before the first kept day keep the counts
//! they had and are no longer recounted.

use std::collections::{BTreeMap, BTreeSet};

use super::IngestError;
use crate::domain::{Day, RepoKey};
use crate::store::{LogEvents, Store, StoreResult};

/// The first day kept under a retention of `days` days ending on `today` (inclusive): with 30,
/// the same 30 days as Last Month. `None` without a retention (keep everything).
pub fn first_kept_day(days: Option<u32>, today: Day) -> Option<Day> {
    let days = i32::try_from(days?).unwrap_or(i32::MAX);
    let back = days.saturating_sub(1);
    let earliest = Day::MIN.days_until(today);
    Some(today.add_days(-back.min(earliest.max(0))))
}

/// The later of the store's horizon and `first_kept`.
pub(super) fn effective(
    events: &dyn LogEvents,
    first_kept: Option<Day>,
) -> StoreResult<Option<Day>> {
    Ok(events.horizon()?.max(first_kept))
}

/// Removes the days before `first_kept` from `touched`: their events were (or are being)
/// dropped, so they keep their counts.
pub(super) fn keep_from(touched: &mut BTreeMap<RepoKey, BTreeSet<Day>>, first_kept: Option<Day>) {
    let Some(first) = first_kept else {
        return;
    };
    for days in touched.values_mut() {
        *days = days.split_off(&first);
    }
    touched.retain(|_, days| !days.is_empty());
}

/// What [`prune_events`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneReport {
    /// Events dropped.
    pub dropped: u64,
    /// The first day whose events are kept, now.
    pub first_kept: Day,
}

/// Drops every kept event of a day before `first_kept` and records the horizon (which never
/// moves back: a later prune with an earlier day only reports the horizon kept).
pub fn prune_events(store: &dyn Store, first_kept: Day) -> Result<PruneReport, IngestError> {
    let store_err = |source| IngestError::Store {
        file: "the kept events".to_owned(),
        source,
    };
    let events = store.log_events().ok_or(IngestError::Unsupported)?;
    let dropped = events.prune_before(first_kept).map_err(store_err)?;
    let first_kept = events
        .horizon()
        .map_err(store_err)?
        .map_or(first_kept, |h| h.max(first_kept));
    Ok(PruneReport {
        dropped,
        first_kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retention_of_n_days_keeps_the_n_days_ending_today() {
        let today: Day = "2024-05-31".parse().unwrap();
        assert_eq!(first_kept_day(None, today), None);
        assert_eq!(first_kept_day(Some(1), today), Some(today));
        assert_eq!(
            first_kept_day(Some(30), today),
            "2024-05-02".parse::<Day>().ok()
        );
        // A retention longer than the calendar keeps everything from the first day on.
        assert_eq!(first_kept_day(Some(u32::MAX), today), Some(Day::MIN));
    }
}
