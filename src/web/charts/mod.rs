//! SVG charts drawn on the server: a line/area chart with axes, gridlines and a hover layer
//! ([`line_chart`]) and the table's sparklines ([`sparkline`]). Output is a string of SVG that
//! templates insert as is; colours come from CSS classes so that dark mode and themes apply.
//! Every chart is an image to assistive technology (`role="img"`, `<title>`, `aria-label`);
//! pages put the numbers in text or a table beside it.

mod axis;
mod line;
mod scale;
mod sparkline;

pub use line::{line_chart, line_chart_marked, line_chart_noted, line_chart_with};
pub use sparkline::{sparkline, sparkline_marked, sparkline_noted};

use std::fmt::Write;

use crate::analytics::{Granularity, Series};
use crate::domain::{Day, DayRange};

/// Escapes text for SVG/HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_name(day: Day) -> &'static str {
    MONTHS[day.date().month() as usize - 1]
}

/// `Jan 5, 2024`.
pub fn long_date(day: Day) -> String {
    let d = day.date();
    format!("{} {}, {}", month_name(day), d.day(), d.year())
}

/// What one bucket covers, for hover text: `Jan 5, 2024`, `Jan 1 – Jan 7, 2024`, `Jan 2024`.
pub fn bucket_label(series: &Series, index: usize) -> String {
    let start = series.points[index].date;
    let end = series.bucket_end(index).unwrap_or(start);
    match series.granularity {
        Granularity::Day => long_date(start),
        Granularity::Month
            if start.month_start() == start && end.add_days(1).month_start() == end.add_days(1) =>
        {
            format!("{} {}", month_name(start), start.date().year())
        }
        _ if start == end => long_date(start),
        _ => format!(
            "{} {} \u{2013} {}",
            month_name(start),
            start.date().day(),
            long_date(end)
        ),
    }
}

/// "partial week (3 of 7 days)" for a bucket the range cuts short, else `None`. The unit
/// agrees with the bucket's length ("1 of 7 days"), which a partial bucket never has as 1.
pub fn partial_note(series: &Series, index: usize) -> Option<String> {
    let c = series.bucket_coverage(index).filter(|c| c.is_partial())?;
    let unit = if c.of == 1 { "day" } else { "days" };
    Some(format!(
        "partial {} ({} of {} {unit})",
        series.granularity.as_str(),
        c.days,
        c.of
    ))
}

/// What a chart shows beyond its series' values: the days data covers (a bucket wholly
/// outside is not drawn: before the first day with data, or after the last one when the data
/// stops short of the range), the reference day (its bucket is drawn as in progress), and
/// the days whose downloads are estimated (hatched; the large chart only).
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks<'a> {
    pub data: Option<DayRange>,
    pub today: Option<Day>,
    pub estimated: &'a [DayRange],
}

/// How a point is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Full,
    /// A bucket the range cuts short, or one still counting (today): dashed and lighter.
    Partial,
    /// No data covers the bucket: not drawn, not a zero.
    Missing,
}

/// The first and last day of a point's bucket.
fn bucket_days(series: &Series, index: usize) -> (Day, Day) {
    let start = series.points[index].date;
    (start, series.bucket_end(index).unwrap_or(start))
}

/// Whether no data covers the point's bucket.
pub fn is_missing(series: &Series, index: usize, marks: &Marks) -> bool {
    let (start, end) = bucket_days(series, index);
    marks.data.is_some_and(|d| end < d.from || start > d.to)
}

/// Why a point is drawn apart, in words for its hover title and the numbers table: "before
/// the first data", "no data yet", "today, in progress", or `None`.
pub fn point_note(series: &Series, index: usize, marks: &Marks) -> Option<String> {
    let (start, end) = bucket_days(series, index);
    match marks.data {
        Some(d) if end < d.from => return Some("before the first data".to_owned()),
        Some(d) if start > d.to => return Some("no data yet".to_owned()),
        _ => {}
    }
    let today = marks.today.filter(|t| start <= *t && *t <= end)?;
    Some(match start == today && end == today {
        true => "today, in progress".to_owned(),
        false => "includes today, in progress".to_owned(),
    })
}

/// How each point is drawn.
fn looks(series: &Series, marks: &Marks) -> Vec<Look> {
    (0..series.points.len())
        .map(|i| {
            let (start, end) = bucket_days(series, i);
            let today = marks.today.is_some_and(|t| start <= t && t <= end);
            let partial = series.bucket_coverage(i).is_some_and(|c| c.is_partial());
            match () {
                _ if is_missing(series, i, marks) => Look::Missing,
                _ if partial || today => Look::Partial,
                _ => Look::Full,
            }
        })
        .collect()
}

/// The line cut into runs of consecutive drawn points `(first, last, partial)`: a segment that
/// touches a partial bucket is drawn apart (dashed, lighter), so that a short last week does
/// not read as a collapse in downloads; missing points break the line, and a drawn point
/// alone between them is a run of one (a dot).
fn runs(looks: &[Look]) -> Vec<(usize, usize, bool)> {
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    let mut i = 0;
    while i < looks.len() {
        if looks[i] == Look::Missing {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < looks.len() && looks[j + 1] != Look::Missing {
            j += 1;
        }
        if i == j {
            runs.push((i, i, looks[i] == Look::Partial));
        }
        for k in i..j {
            let kind = looks[k] == Look::Partial || looks[k + 1] == Look::Partial;
            match runs.last_mut() {
                Some((_, last, same)) if *last == k && *same == kind => *last = k + 1,
                _ => runs.push((k, k + 1, kind)),
            }
        }
        i = j + 1;
    }
    runs
}

/// The area and line paths of the points `first..=last`, at the given coordinates.
fn run_paths(
    first: usize,
    last: usize,
    at: impl Fn(usize) -> (f64, f64),
    base: f64,
) -> (String, String) {
    let mut line = String::new();
    for i in first..=last {
        let (x, y) = at(i);
        let cmd = if i == first { 'M' } else { 'L' };
        let _ = write!(line, "{cmd}{},{}", num(x), num(y));
    }
    let (x0, x1) = (num(at(first).0), num(at(last).0));
    let base = num(base);
    let area = format!("M{x0},{base}{}L{x1},{base}Z", line.replacen('M', "L", 1));
    (area, line)
}

/// Draws the area and the line of every run; partial runs get the `partial` class; a point
/// alone between missing ones is a dot (a series of one point draws its own).
fn draw_runs(
    svg: &mut String,
    series: &Series,
    at: impl Fn(usize) -> (f64, f64),
    base: f64,
    marks: &Marks,
) {
    let (runs, lone): (Vec<_>, Vec<_>) = runs(&looks(series, marks))
        .into_iter()
        .partition(|(f, l, _)| f != l);
    for &(i, _, _) in lone.iter().filter(|_| series.points.len() > 1) {
        let (x, y) = at(i);
        let _ = write!(
            svg,
            r#"<circle class="dot" aria-hidden="true" cx="{}" cy="{}" r="2"/>"#,
            num(x),
            num(y)
        );
    }
    for &(first, last, is_partial) in &runs {
        let (area, _) = run_paths(first, last, &at, base);
        let class = if is_partial { "area partial" } else { "area" };
        let _ = write!(
            svg,
            r#"<path class="{class}" aria-hidden="true" d="{area}"/>"#
        );
    }
    for &(first, last, is_partial) in &runs {
        let (_, line) = run_paths(first, last, &at, base);
        let class = if is_partial { "line partial" } else { "line" };
        let _ = write!(
            svg,
            r#"<path class="{class}" aria-hidden="true" d="{line}"/>"#
        );
    }
}

/// Where a bucket sits in a sentence: `on Jan 5, 2024`, `in the week of Jan 1, 2024`,
/// `in Jan 2024` (a month is not its first day), `in Jan 29 – Jan 31, 2024` (a cut bucket).
fn bucket_phrase(series: &Series, index: usize) -> String {
    let start = series.points[index].date;
    let end = series.bucket_end(index).unwrap_or(start);
    let full = series
        .bucket_coverage(index)
        .is_none_or(|c| !c.is_partial());
    match series.granularity {
        _ if start == end => format!("on {}", long_date(start)),
        Granularity::Week if full => format!("in the week of {}", long_date(start)),
        _ => format!("in {}", bucket_label(series, index)),
    }
}

/// A one-sentence description of a series for screen readers; `note` (may be empty) is added
/// before the full stop, e.g. how the chart relates to an all-time total beside it.
fn describe(series: &Series, what: &str, note: &str) -> String {
    let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
        return format!("{what}: no downloads recorded.");
    };
    let peak = series
        .points
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| (p.downloads, std::cmp::Reverse(p.date)));
    let mut text = format!(
        "{what}, {} to {}, by {}: {} downloads in all",
        long_date(first.date),
        long_date(series.range.map_or(last.date, |r| r.to)),
        series.granularity.as_str(),
        super::format::thousands(series.sum()),
    );
    if let Some((i, p)) = peak.filter(|(_, p)| p.downloads > 0) {
        let _ = write!(
            text,
            "; peak {} {}",
            super::format::thousands(p.downloads),
            bucket_phrase(series, i)
        );
    }
    if let Some(note) = partial_note(series, series.points.len() - 1) {
        let _ = write!(text, "; the last bucket is a {note}");
    }
    if !note.is_empty() {
        let _ = write!(text, "; {note}");
    }
    text.push('.');
    text
}

/// Formats a coordinate with at most one decimal.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests;
