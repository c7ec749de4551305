//! What the pages say of figures taken from a hub's public counters (`hubstats collect`): where
//! they come from, what such counters cannot tell, and which days are estimated.

use super::DataRow;
use crate::analytics::Series;
use crate::domain::{Day, DayRange};
use crate::hub::provenance::{OrgHub, RepoHub};
use crate::web::charts::long_date;
use crate::web::format::thousands;

/// What hub counters cannot tell, after where the figures come from.
const LIMITS: &str = "Hub counters have no split by client or country, and daily figures \
                      start at the first snapshot: what came before is counted in All Time \
                      as before daily history.";

fn days(n: i64) -> String {
    format!("{n} {}", if n == 1 { "day" } else { "days" })
}

fn estimated_days(ranges: &[DayRange]) -> i64 {
    ranges.iter().map(|r| i64::from(r.len())).sum()
}

/// The organization page's sentence on where its figures come from (the snapshots do not
/// record which hub they were taken from: `collect --hub` may name another than `hub_url`).
pub(super) fn org_note(h: &OrgHub) -> String {
    let mut s = format!(
        "Figures from the hub's public download counters: {} snapshots from {} to {}.",
        thousands(h.snapshots),
        long_date(h.first),
        long_date(h.last)
    );
    let n = estimated_days(&h.estimated);
    if n > 0 {
        s.push_str(&format!(
            " {} between snapshots more than a day apart are estimated (their growth spread evenly).",
            days(n)
        ));
    }
    s.push(' ');
    s.push_str(LIMITS);
    s
}

/// The repository page's sentence on where its figures come from.
pub(super) fn repo_note(h: &RepoHub) -> String {
    let mut s = format!(
        "Figures from the hub's public download counter: first snapshot {}, last {} ({}).",
        long_date(h.first),
        long_date(h.last),
        thousands(h.counter)
    );
    if !h.listed {
        s.push_str(" The hub no longer lists it (deleted, renamed or made private).");
    }
    let n = estimated_days(&h.estimated);
    if n > 0 {
        s.push_str(&format!(" {} estimated.", days(n)));
    }
    for c in &h.corrections {
        s.push_str(&format!(
            " On {} the counter went down from {} to {} (the hub recounted): no downloads then.",
            long_date(c.day),
            thousands(c.from),
            thousands(c.to)
        ));
    }
    s.push(' ');
    s.push_str(LIMITS);
    s
}

/// Adds "estimated" to the note of each row whose bucket holds an estimated day.
pub(super) fn mark_estimated(rows: &mut [DataRow], series: &Series, ranges: &[DayRange]) {
    let Some(range) = series.range else { return };
    for (i, row) in rows.iter_mut().enumerate() {
        let from = series.points[i].date;
        let to: Day = series
            .points
            .get(i + 1)
            .map_or(range.to, |p| p.date.add_days(-1));
        if ranges.iter().any(|r| r.from <= to && from <= r.to) {
            row.note = match row.note.is_empty() {
                true => "estimated".to_owned(),
                false => format!("{}, estimated", row.note),
            };
        }
    }
}
