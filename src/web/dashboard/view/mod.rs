//! View models of the dashboard pages: everything a template shows, already formatted, with
//! every link built from the [`ViewState`] so URLs always carry the whole state. The table
//! section's are in `table.rs`.

use crate::analytics::Totals;
use crate::domain::{Day, DayRange, Period, PeriodKind, RepoType};
use crate::web::charts::{long_date, Marks};
use crate::web::format::{compact, percent_change, signed, thousands};
use crate::web::params::ViewState;

mod freshness;
mod table;

pub use freshness::Freshness;
pub use table::{Empty, TableView, PER_PAGE_CHOICES};

/// A link in a toggle group (periods, granularities).
pub struct Toggle {
    pub label: &'static str,
    pub value: &'static str,
    pub href: String,
    pub current: bool,
}

/// `+1,234 (+12.5%)` against the previous period.
pub struct Change {
    pub absolute: String,
    pub percent: Option<String>,
    /// `up`, `down` or `flat`, for colour.
    pub direction: &'static str,
    pub previous: String,
}

impl Change {
    pub fn new(now: u64, previous: u64) -> Self {
        let diff = now as i64 - previous as i64;
        Change {
            absolute: signed(diff),
            percent: percent_change(now, previous),
            direction: match diff {
                0 => "flat",
                d if d > 0 => "up",
                _ => "down",
            },
            previous: thousands(previous),
        }
    }
}

/// A headline figure.
pub struct Card {
    pub id: &'static str,
    pub label: &'static str,
    pub compact: String,
    pub exact: String,
    pub value: u64,
    pub change: Option<Change>,
    /// The caption when there is no change to show (All Time).
    pub note: String,
}

/// What a figure is compared with: the previous period's figures, when data covers all of it
/// and the period itself.
#[derive(Clone, Copy)]
pub struct Comparison<T> {
    pub previous: Option<T>,
    pub complete: bool,
    /// The first day with data, for the note when the previous period is not complete.
    pub first_day: Option<Day>,
    /// The organization's last day with downloads, when its data stops short of the period
    /// ([`data_stops`]): a fall to zero would be the data's end, not the downloads'.
    pub stops: Option<Day>,
}

impl<T: Copy> Comparison<T> {
    /// The previous figures, if a change against them means something.
    pub fn usable(self) -> Option<T> {
        self.previous
            .filter(|_| self.complete && self.stops.is_none())
    }

    /// "no downloads recorded after Dec 7, 2026" when the data stops short of the period; "no
    /// full previous period (data starts Jun 7, 2025)" when there is a previous period that
    /// data does not cover.
    pub fn gap_note(self) -> Option<String> {
        if let (Some(_), Some(last)) = (self.previous, self.stops) {
            return Some(format!("no downloads recorded after {}", long_date(last)));
        }
        if self.previous.is_none() || self.complete {
            return None;
        }
        Some(match self.first_day {
            Some(d) => format!("no full previous period (data starts {})", long_date(d)),
            None => "no previous period with data".to_owned(),
        })
    }
}

/// The organization's last day with downloads when it falls short of `range` (the chart's),
/// else `None`. Today is still counting: data through yesterday covers a range ending today.
/// A store whose logs end on Dec 7 served on Dec 20 has 7 days of nothing to show: saying so
/// beats a fall to zero, −100% in red.
pub fn data_stops(last: Option<Day>, range: Option<DayRange>, today: Day) -> Option<Day> {
    let r = range?;
    let expected = if r.to >= today {
        today.add_days(-1)
    } else {
        r.to
    };
    last.filter(|l| *l < expected)
}

/// What a chart of `range` marks: the days from `first` (the first day with data) on, up to
/// the last day with data when the data stops short of the range; today, when the range holds
/// it.
pub fn chart_marks(
    first: Option<Day>,
    last: Option<Day>,
    range: Option<DayRange>,
    today: Day,
) -> Marks<'static> {
    let data = match (first, range) {
        (Some(from), Some(r)) => Some(DayRange {
            from,
            to: data_stops(last, range, today).unwrap_or(r.to.max(from)),
        }),
        // No day with data at all (a repository with only downloads from before daily
        // history): nothing to draw.
        (None, Some(r)) => Some(DayRange {
            from: r.to.add_days(1),
            to: r.to,
        }),
        (_, None) => None,
    };
    Marks {
        data,
        today: range.filter(|r| r.contains(today)).map(|_| today),
        estimated: &[],
    }
}

/// The headline cards; `outside_history` is how much of the All Time total is not in daily
/// history (the repositories' adjustments; 0 for any other period).
pub fn cards(totals: Totals, before: Comparison<Totals>, outside_history: i64) -> Vec<Card> {
    let card = |id, label, t: Option<RepoType>| {
        let value = totals.of(t);
        let note = match (t, outside_history, before.gap_note()) {
            (_, _, Some(gap)) => gap,
            (None, n, None) if n > 0 => format!(
                "all time, incl. {} before daily history",
                thousands(n as u64)
            ),
            _ => "all time".to_owned(),
        };
        Card {
            id,
            label,
            compact: compact(value),
            exact: thousands(value),
            value,
            change: before.usable().map(|p| Change::new(value, p.of(t))),
            note,
        }
    };
    vec![
        card("total-all", "All downloads", None),
        card("total-model", "Models", Some(RepoType::Model)),
        card("total-dataset", "Datasets", Some(RepoType::Dataset)),
    ]
}

/// What the drill-down's cards say about downloads outside daily history (the repository's
/// `total` adjustment): one sentence per case, so the two cards never contradict each other.
pub struct HistoryNote {
    /// Under the period's downloads, for All Time (which includes the adjustment).
    pub downloads: String,
    /// Under the all-time total.
    pub total: String,
}

impl HistoryNote {
    pub fn new(total: u64, adjustment: i64) -> Self {
        let n = thousands(adjustment.unsigned_abs());
        let total = thousands(total);
        let (downloads, total) = match adjustment {
            0 => (
                "all in daily history".to_owned(),
                "all in daily history".to_owned(),
            ),
            a if a > 0 => (
                format!("{total} all time, of which {n} before daily history"),
                format!("of which {n} before daily history"),
            ),
            _ => (
                format!("{n} less than daily history adds up to"),
                format!("{n} less than daily history adds up to"),
            ),
        };
        HistoryNote { downloads, total }
    }
}

/// A repository name cut after each `-`, `_` and `/`, and after a `.` between letters
/// (`mpt.translation`, not `1.3b`): templates join the parts with `<wbr>`, so a long name
/// wraps at its separators on a narrow screen, never inside a word.
pub fn name_parts(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut parts = vec![String::new()];
    for (i, &c) in chars.iter().enumerate() {
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
        let letters_around = |j: usize| chars.get(j).is_some_and(|c| c.is_alphabetic());
        let dot_between_letters =
            c == '.' && i > 0 && letters_around(i - 1) && letters_around(i + 1);
        if matches!(c, '-' | '_' | '/') || dot_between_letters {
            parts.push(String::new());
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// `Feb 1, 2024 – Mar 1, 2024`.
pub fn range_text(range: DayRange) -> String {
    if range.from == range.to {
        return long_date(range.from);
    }
    format!("{} \u{2013} {}", long_date(range.from), long_date(range.to))
}

/// What the caption says after the period's name: the range of a preset, nothing more for a
/// custom range (its name is its range) unless it was clipped to the reference day.
pub fn caption_detail(state: &ViewState, chart_range: Option<DayRange>) -> String {
    match (state.period.kind, state.requested_to, state.period.range) {
        (PeriodKind::Custom, Some(asked), Some(r)) => format!(
            "clipped to today ({}): {} has not happened yet",
            long_date(r.to),
            long_date(asked)
        ),
        (PeriodKind::Custom, _, _) => String::new(),
        _ => chart_range.map(range_text).unwrap_or_default(),
    }
}

/// What the period is called on the page ("Last Month", or the custom range).
pub fn period_title(period: Period) -> String {
    match (period.kind, period.range) {
        (PeriodKind::Custom, Some(r)) => range_text(r),
        (kind, _) => kind.label().to_owned(),
    }
}

/// "vs the previous 30 days".
pub fn previous_text(period: Period) -> String {
    match period.range {
        Some(r) if r.len() == 1 => "vs the day before".to_owned(),
        Some(r) => format!("vs the previous {} days", r.len()),
        None => String::new(),
    }
}

/// The period toggle: every preset; `href` builds a URL for a state.
pub fn period_toggles(state: &ViewState, href: impl Fn(&ViewState) -> String) -> Vec<Toggle> {
    PeriodKind::ALL
        .into_iter()
        .filter(|k| *k != PeriodKind::Custom)
        .map(|kind| {
            let mut s = state.first_page();
            // Only the name goes into the URL; the server resolves the range again.
            s.period = Period { kind, range: None };
            Toggle {
                label: kind.label(),
                value: kind.as_str(),
                href: href(&s),
                current: state.period.kind == kind,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::name_parts;

    #[test]
    fn names_break_after_separators_only() {
        assert_eq!(
            name_parts("stable-diffusion-1.3b-distilled_mlx"),
            ["stable-", "diffusion-", "1.3b-", "distilled_", "mlx"]
        );
        assert_eq!(
            name_parts("mpt.translation-125m"),
            ["mpt.", "translation-", "125m"]
        );
        assert_eq!(name_parts("openwebtext.v2"), ["openwebtext.", "v2"]);
        assert_eq!(name_parts("bert"), ["bert"]);
        assert_eq!(name_parts("a/b-"), ["a/", "b-"]);
    }
}
