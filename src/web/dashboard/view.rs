//! View models of the dashboard pages: everything a template shows, already formatted, with
//! every link built from the [`ViewState`] so URLs always carry the whole state.

use crate::analytics::{Order, RepoRow, RepoTable, SortKey, Totals};
use crate::domain::{DayRange, Period, PeriodKind, RepoType};
use crate::web::charts::{long_date, sparkline};
use crate::web::format::{compact, percent_change, signed, thousands};
use crate::web::params::ViewState;

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

/// The headline cards; `outside_history` is how much of the All Time total is not in daily
/// history (the repositories' adjustments; 0 for any other period).
pub fn cards(totals: Totals, previous: Option<Totals>, outside_history: i64) -> Vec<Card> {
    let card = |id, label, t: Option<RepoType>| {
        let value = totals.of(t);
        let note = match (t, outside_history) {
            (None, n) if n > 0 => format!(
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
            change: previous.map(|p| Change::new(value, p.of(t))),
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
    pub fn new(adjustment: i64) -> Self {
        let n = thousands(adjustment.unsigned_abs());
        let (downloads, total) = match adjustment {
            0 => (
                "all in daily history".to_owned(),
                "all in daily history".to_owned(),
            ),
            a if a > 0 => (
                format!("including {n} before daily history"),
                format!("{n} counted before daily history"),
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

/// `Feb 1, 2024 – Mar 1, 2024`.
pub fn range_text(range: DayRange) -> String {
    if range.from == range.to {
        return long_date(range.from);
    }
    format!("{} \u{2013} {}", long_date(range.from), long_date(range.to))
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

/// A sortable column header.
pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none` (the `aria-sort` value).
    pub aria_sort: &'static str,
    pub numeric: bool,
}

/// One table row.
pub struct Row {
    pub repo_type: &'static str,
    pub full_name: String,
    pub owner: String,
    /// The name after `owner/`, in [`name_parts`].
    pub short_parts: Vec<String>,
    pub href: String,
    pub downloads: u64,
    pub downloads_text: String,
    pub total: u64,
    pub total_text: String,
    /// Empty for All Time.
    pub previous: String,
    pub change: Option<Change>,
    pub spark: String,
}

pub struct Pager {
    pub page: u32,
    pub pages: u32,
    pub first: usize,
    pub last: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// Which empty state the table shows, if any.
#[derive(PartialEq, Eq)]
pub enum Empty {
    /// The organization has no repositories at all.
    NoRepos,
    /// The search or type filter matches nothing.
    NoMatch,
    /// Repositories match but none was downloaded in the period.
    NothingInPeriod,
    None,
}

/// The table section (also served alone, as a fragment, to the search-as-you-type script).
pub struct TableView {
    pub count: usize,
    pub count_text: String,
    pub q: String,
    pub period_title: String,
    pub empty: Empty,
    pub columns: Vec<Column>,
    /// Not All Time: the table adds the all-time total and the change to the period's
    /// downloads (in All Time the total is the downloads, and there is no previous period).
    pub bounded: bool,
    pub rows: Vec<Row>,
    pub pager: Pager,
}

impl TableView {
    pub fn new(state: &ViewState, table: &RepoTable, base: &str) -> Self {
        let href = |s: &ViewState| format!("{base}{}", s.query());
        let rows: Vec<Row> = table.rows.iter().map(|r| row(state, r, base)).collect();
        let empty = match () {
            _ if table.repo_count == 0 => Empty::NoRepos,
            _ if table.count == 0 => Empty::NoMatch,
            _ if state.period.range.is_some()
                && rows.iter().all(|r| r.downloads == 0)
                && table.page == 1 =>
            {
                Empty::NothingInPeriod
            }
            _ => Empty::None,
        };
        let noun = if table.count == 1 {
            "repository"
        } else {
            "repositories"
        };
        TableView {
            count: table.count,
            count_text: format!("{} {noun}", thousands(table.count as u64)),
            q: state.table.q.clone().unwrap_or_default(),
            period_title: period_title(state.period),
            empty,
            columns: columns(state, &href),
            bounded: state.period.range.is_some(),
            rows,
            pager: pager(state, table, &href),
        }
    }
}

fn columns(state: &ViewState, href: &impl Fn(&ViewState) -> String) -> Vec<Column> {
    let spec = [
        (SortKey::Name, "Repository", false),
        (SortKey::Downloads, "Downloads", true),
        (SortKey::Total, "All-time total", true),
        (SortKey::Change, "Change", true),
    ];
    spec.into_iter()
        .filter(|(key, _, _)| {
            state.period.range.is_some() || !matches!(key, SortKey::Change | SortKey::Total)
        })
        .map(|(key, label, numeric)| {
            let current = state.table.sort == key;
            let mut s = state.first_page();
            s.table.sort = key;
            s.table.order = if current {
                state.table.order.reverse()
            } else {
                key.default_order()
            };
            let aria_sort = match (current, state.table.order) {
                (false, _) => "none",
                (true, Order::Asc) => "ascending",
                (true, Order::Desc) => "descending",
            };
            Column {
                key: key.as_str(),
                label,
                href: href(&s),
                aria_sort,
                numeric,
            }
        })
        .collect()
}

fn row(state: &ViewState, r: &RepoRow, base: &str) -> Row {
    let full_name = r.key.name.to_string();
    Row {
        repo_type: r.key.repo_type.as_str(),
        owner: r.key.name.org().to_string(),
        short_parts: name_parts(r.key.name.short()),
        href: format!(
            "{base}/{}/{}{}",
            r.key.repo_type.plural(),
            r.key.name.short(),
            state.period_query()
        ),
        downloads: r.downloads,
        downloads_text: thousands(r.downloads),
        total: r.total,
        total_text: thousands(r.total),
        previous: r
            .previous_downloads
            .map(|p| p.to_string())
            .unwrap_or_default(),
        change: r.previous_downloads.map(|p| Change::new(r.downloads, p)),
        spark: sparkline(&r.series, &format!("Downloads of {full_name}")),
        full_name,
    }
}

fn pager(state: &ViewState, table: &RepoTable, href: &impl Fn(&ViewState) -> String) -> Pager {
    let per_page = table.per_page.max(1) as usize;
    let pages = table.count.div_ceil(per_page).max(1) as u32;
    let at = |page: u32| {
        let mut s = state.clone();
        s.table.page = page;
        href(&s)
    };
    let first = (table.page as usize - 1) * per_page + 1;
    Pager {
        page: table.page,
        pages,
        first: first.min(table.count),
        last: (first + table.rows.len()).saturating_sub(1),
        prev: (table.page > 1).then(|| at((table.page - 1).min(pages))),
        next: (table.page < pages).then(|| at(table.page + 1)),
    }
}
