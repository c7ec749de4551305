//! The repository table's view: columns, rows, the filtered total, empty states and pager.

use super::{chart_marks, data_stops, name_parts, period_title, previous_text, Change, Comparison};
use crate::analytics::{MatchedTotals, Order, RepoRow, RepoTable, SortKey};
use crate::domain::Day;
use crate::web::charts::{long_date, sparkline_marked};
use crate::web::format::thousands;
use crate::web::params::ViewState;

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
    /// The name after `owner/`, in [`name_parts`].
    pub short_parts: Vec<String>,
    pub href: String,
    pub downloads: u64,
    pub downloads_text: String,
    pub total: u64,
    pub total_text: String,
    /// Empty for All Time.
    pub previous: String,
    /// `true`, `false`, or empty for All Time.
    pub previous_complete: &'static str,
    pub change: Option<Change>,
    /// Why there is no change (a previous period data does not cover), else empty.
    pub change_note: String,
    pub spark: String,
}

pub struct Pager {
    pub page: u32,
    pub pages: u32,
    pub first: String,
    pub last: String,
    pub prev: Option<String>,
    pub next: Option<String>,
    /// Page numbers around the current one, the first and the last; `None` for a gap (…).
    pub links: Vec<Option<PageLink>>,
}

pub struct PageLink {
    pub number: u32,
    pub href: String,
    pub current: bool,
}

/// The per-page choices of the table.
pub const PER_PAGE_CHOICES: [u32; 4] = [25, 50, 100, 500];

/// Which empty state the table shows, if any.
#[derive(PartialEq, Eq)]
pub enum Empty {
    /// The organization has no repositories at all.
    NoRepos,
    /// The search or type filter matches nothing.
    NoMatch,
    /// The period ends before the organization's first day with data.
    BeforeData(String),
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
    /// The view's one URL ([`ViewState::query`]): what the script writes into the address bar
    /// after swapping the table in.
    pub url: String,
    /// With a search or type filter: the matching repositories' figures together.
    pub matched: Option<MatchedView>,
    /// The period ends today, which is still counting.
    pub in_progress: bool,
    /// The organization's last day with downloads when its data stops short of the period
    /// ("Jun 30, 2025"), else empty.
    pub stops: String,
}

/// What every row of a table shares.
struct RowContext<'a> {
    state: &'a ViewState,
    base: &'a str,
    today: Day,
    /// The organization's last day with downloads when its data stops short of the period.
    stops: Option<Day>,
    last_day: Option<Day>,
}

/// "16 repositories matching llama: 1.2M downloads (+4.1% vs the previous 30 days)".
pub struct MatchedView {
    pub value: u64,
    pub exact: String,
    pub change: Option<Change>,
    /// "in Last Month", "all time".
    pub note: String,
    /// "no full previous period (data starts …)", else empty.
    pub gap: String,
    pub previous_text: String,
}

impl MatchedView {
    fn new(state: &ViewState, m: MatchedTotals, stops: Option<Day>) -> Self {
        let before = Comparison {
            previous: m.previous,
            complete: m.previous_complete,
            first_day: m.first_day,
            stops,
        };
        let note = match state.period.range {
            None => "all time".to_owned(),
            Some(_) => format!("in {}", period_title(state.period)),
        };
        MatchedView {
            value: m.downloads,
            exact: thousands(m.downloads),
            change: before.usable().map(|p| Change::new(m.downloads, p)),
            note,
            gap: before.gap_note().unwrap_or_default(),
            previous_text: previous_text(state.period),
        }
    }
}

impl TableView {
    /// The table of `state` on the reference day `today`.
    pub fn new(state: &ViewState, table: &RepoTable, base: &str, today: Day) -> Self {
        let href = |s: &ViewState| format!("{base}{}", s.query());
        let stops = data_stops(table.last_day, state.period.range, today);
        let context = RowContext {
            state,
            base,
            today,
            stops,
            last_day: table.last_day,
        };
        let rows: Vec<Row> = table.rows.iter().map(|r| row(&context, r)).collect();
        let before_data = match (state.period.range, table.first_day) {
            (Some(r), Some(first)) if r.to < first => Some(first),
            _ => None,
        };
        let empty = match () {
            _ if table.repo_count == 0 => Empty::NoRepos,
            _ if table.count == 0 => Empty::NoMatch,
            _ if before_data.is_some() => {
                Empty::BeforeData(before_data.map(long_date).unwrap_or_default())
            }
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
            matched: table.matched.map(|m| MatchedView::new(state, m, stops)),
            in_progress: state.period.range.is_some_and(|r| r.to == today),
            stops: stops.map(long_date).unwrap_or_default(),
            q: state.table.q.clone().unwrap_or_default(),
            period_title: period_title(state.period),
            empty,
            columns: columns(state, &href),
            bounded: state.period.range.is_some(),
            rows,
            url: {
                let mut shown = state.clone();
                shown.table.page = table.page.min(pages_of(table));
                href(&shown)
            },
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

fn row(c: &RowContext, r: &RepoRow) -> Row {
    let (state, base) = (c.state, c.base);
    let full_name = r.key.name.to_string();
    let before = Comparison {
        previous: r.previous_downloads,
        complete: r.previous_complete,
        first_day: r.first_day,
        stops: c.stops,
    };
    // Days before the repository's first data, or after the organization's data stops, are
    // not drawn as zeros.
    let marks = chart_marks(r.first_day, c.last_day, r.series.range, c.today);
    // All Time: the row shows the total, which may include downloads before daily history.
    let spark_note = match (state.period.range, r.total as i64 - r.series.sum() as i64) {
        (None, d) if d > 0 => format!(
            "daily history only: the all-time total, {}, includes {} counted before it",
            thousands(r.total),
            thousands(d as u64)
        ),
        (None, d) if d < 0 => format!(
            "the all-time total, {}, is {} less than daily history adds up to",
            thousands(r.total),
            thousands(d.unsigned_abs())
        ),
        _ => String::new(),
    };
    Row {
        repo_type: r.key.repo_type.as_str(),
        short_parts: name_parts(r.key.name.short()),
        href: format!(
            "{base}/{}/{}{}",
            r.key.repo_type.plural(),
            r.key.name.short(),
            state.table_query()
        ),
        downloads: r.downloads,
        downloads_text: thousands(r.downloads),
        total: r.total,
        total_text: thousands(r.total),
        previous: r
            .previous_downloads
            .map(|p| p.to_string())
            .unwrap_or_default(),
        previous_complete: match r.previous_downloads {
            None => "",
            Some(_) if r.previous_complete => "true",
            Some(_) => "false",
        },
        change: before.usable().map(|p| Change::new(r.downloads, p)),
        change_note: before.gap_note().unwrap_or_default(),
        spark: sparkline_marked(
            &r.series,
            &format!("Downloads of {full_name}"),
            &spark_note,
            &marks,
        ),
        full_name,
    }
}

/// How many pages the table has (at least one).
fn pages_of(table: &RepoTable) -> u32 {
    let per_page = table.per_page.max(1) as usize;
    table.count.div_ceil(per_page).max(1) as u32
}

fn pager(state: &ViewState, table: &RepoTable, href: &impl Fn(&ViewState) -> String) -> Pager {
    let per_page = table.per_page.max(1) as usize;
    let pages = pages_of(table);
    let at = |page: u32| {
        let mut s = state.clone();
        s.table.page = page;
        href(&s)
    };
    let page = table.page.min(pages);
    let first = (page as usize - 1) * per_page + 1;
    let last = (first + table.rows.len()).saturating_sub(1);
    Pager {
        page,
        pages,
        first: thousands(first.min(table.count) as u64),
        last: thousands(last as u64),
        prev: (page > 1).then(|| at(page - 1)),
        next: (page < pages).then(|| at(page + 1)),
        links: page_numbers(page, pages)
            .into_iter()
            .map(|n| {
                n.map(|number| PageLink {
                    number,
                    href: at(number),
                    current: number == page,
                })
            })
            .collect(),
    }
}

/// The page numbers a pager shows: the first, the last, and two either side of `page`, with
/// `None` where numbers are left out (1 … 7 8 9 10 11 … 400). A gap of one number shows it.
pub fn page_numbers(page: u32, pages: u32) -> Vec<Option<u32>> {
    let mut out = Vec::new();
    let mut previous = 0;
    for n in 1..=pages {
        let near = n + 2 >= page && n <= page + 2;
        if n == 1 || n == pages || near {
            if n > previous + 2 {
                out.push(None);
            } else if n == previous + 2 {
                out.push(Some(previous + 1));
            }
            out.push(Some(n));
            previous = n;
        }
    }
    out
}

#[cfg(test)]
mod pager_tests {
    use super::page_numbers;

    #[test]
    fn page_numbers_jump_over_the_middle() {
        let shown = |page, pages| -> String {
            page_numbers(page, pages)
                .iter()
                .map(|n| n.map_or("…".to_owned(), |n| n.to_string()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(shown(1, 1), "1");
        assert_eq!(shown(1, 6), "1 2 3 … 6");
        assert_eq!(shown(9, 400), "1 … 7 8 9 10 11 … 400");
        assert_eq!(shown(4, 400), "1 2 3 4 5 6 … 400");
        assert_eq!(shown(400, 400), "1 … 398 399 400");
    }
}
