//! The days a repository had so far in one file, to find a repeated day and the line where it
//! first appeared.
//!
//! Rows usually come grouped by repository in day order, mostly on consecutive days, so the
//! days are kept as runs of consecutive days on consecutive lines: a year of daily rows is one
//! run of 16 bytes. A repository whose rows go back in time is indexed by a hash map from then on.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use crate::domain::Day;

#[derive(Debug, Default)]
pub(super) struct SeenDays {
    runs: Vec<Run>,
    index: Option<HashMap<i32, u64>>,
}

/// `len` consecutive days from `start`, on `len` consecutive lines from `line`.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: i32,
    len: u32,
    line: u64,
}

impl Run {
    fn last(&self) -> i32 {
        self.start + self.len as i32 - 1
    }
}

impl SeenDays {
    /// Records a day; returns the line where it already appeared.
    pub(super) fn insert(&mut self, day: Day, line: u64) -> Option<u64> {
        let day = day.epoch_days();
        if self.index.is_none() {
            match self.runs.last_mut() {
                Some(run) if day == run.last() => return Some(run.line + u64::from(run.len) - 1),
                Some(run) if day < run.last() => {
                    self.index = Some(expand(&std::mem::take(&mut self.runs)))
                }
                Some(run)
                    if day == run.last() + 1
                        && line == run.line + u64::from(run.len)
                        && run.len < u32::MAX =>
                {
                    run.len += 1;
                    return None;
                }
                _ => {
                    self.runs.push(Run {
                        start: day,
                        len: 1,
                        line,
                    });
                    return None;
                }
            }
        }
        match self.index.get_or_insert_with(HashMap::new).entry(day) {
            Entry::Occupied(e) => Some(*e.get()),
            Entry::Vacant(e) => {
                e.insert(line);
                None
            }
        }
    }
}

fn expand(runs: &[Run]) -> HashMap<i32, u64> {
    runs.iter()
        .flat_map(|r| (0..r.len).map(move |i| (r.start + i as i32, r.line + u64::from(i))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Finds exactly the repeated days, with the line of their first appearance.
        #[test]
        fn finds_repeats_like_a_map(days in prop::collection::vec(0..40i32, 0..60), start in 0..3u64) {
            let mut seen = SeenDays::default();
            let mut first: HashMap<i32, u64> = HashMap::new();
            for (i, d) in days.into_iter().enumerate() {
                let line = start + i as u64 * (1 + start % 2); // grouped lines, or every other line
                let expected = first.get(&d).copied();
                prop_assert_eq!(seen.insert(Day::from_epoch_days(d), line), expected);
                first.entry(d).or_insert(line);
            }
        }
    }

    #[test]
    fn consecutive_days_on_consecutive_lines_make_one_run() {
        let mut seen = SeenDays::default();
        for i in 0..365 {
            assert_eq!(
                seen.insert(Day::from_epoch_days(20_000 + i), 2 + i as u64),
                None
            );
        }
        assert_eq!(seen.runs.len(), 1);
        assert_eq!(seen.insert(Day::from_epoch_days(20_100), 999), Some(102));
    }
}
