//! The large line/area chart: y gridlines with compact labels, date labels along x, and a hover
//! layer (one column per bucket, with a `<title>` tooltip and a highlighted point).

use std::fmt::Write;

use super::{
    axis, bucket_label, describe, draw_runs, escape, is_missing, num, partial_note, point_note,
    scale, Marks,
};
use crate::analytics::Series;
use crate::domain::DayRange;
use crate::web::format::{compact, thousands};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// At most this many hover targets (about one per 4 units of plot): a longer series gets one
/// target per group of consecutive buckets, so a daily All Time chart stays a few hundred DOM
/// nodes; the exact values stay in the numbers table beside the chart.
pub const MAX_HITS: usize = 160;

/// Where things go on the canvas.
struct Frame {
    points: usize,
    top_value: u64,
}

impl Frame {
    fn x(&self, i: usize) -> f64 {
        let plot = WIDTH - LEFT - RIGHT;
        if self.points <= 1 {
            return LEFT + plot / 2.0;
        }
        LEFT + plot * i as f64 / (self.points - 1) as f64
    }

    fn y(&self, value: u64) -> f64 {
        let plot = HEIGHT - TOP - BOTTOM;
        HEIGHT - BOTTOM - plot * value as f64 / self.top_value.max(1) as f64
    }

    /// Width of one bucket's hover column.
    fn column(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.points.max(1) as f64
    }
}

/// The chart of `series` as an `<svg>` element; `id` must be unique in the page, `what` names
/// the series for assistive technology ("Downloads of acme/bert").
pub fn line_chart(series: &Series, id: &str, what: &str) -> String {
    line_chart_noted(series, id, what, "")
}

/// [`line_chart`] whose description ends with `note` (e.g. how it relates to a total).
pub fn line_chart_noted(series: &Series, id: &str, what: &str, note: &str) -> String {
    line_chart_marked(series, id, what, note, &[])
}

/// [`line_chart_noted`] with the buckets that hold a day of `estimated` (downloads spread
/// between snapshots of a hub's counters) hatched behind the line, and said so in their hover
/// titles (`data-estimated` on their hover group).
pub fn line_chart_marked(
    series: &Series,
    id: &str,
    what: &str,
    note: &str,
    estimated: &[DayRange],
) -> String {
    let marks = Marks {
        estimated,
        ..Marks::default()
    };
    line_chart_with(series, id, what, note, &marks)
}

/// [`line_chart_noted`] with `marks`: estimated days hatched, buckets no data covers left
/// undrawn (their hover title says so, `data-missing`), today's bucket drawn as in progress
/// (`data-today`).
pub fn line_chart_with(series: &Series, id: &str, what: &str, note: &str, marks: &Marks) -> String {
    let id = escape(id);
    let description = escape(&describe(series, what, note));
    let mut svg = format!(
        r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title" data-points="{n}" data-granularity="{g}" tabindex="0"><title id="{id}-title">{description}</title>"#,
        n = series.points.len(),
        g = series.granularity.as_str(),
    );
    if series.points.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="empty" x="{}" y="{}" text-anchor="middle">No downloads recorded yet</text></svg>"#,
            num(WIDTH / 2.0),
            num(HEIGHT / 2.0)
        );
        return svg;
    }
    let ticks = scale::ticks(
        series.points.iter().map(|p| p.downloads).max().unwrap_or(0),
        4,
    );
    let frame = Frame {
        points: series.points.len(),
        top_value: ticks.last().copied().unwrap_or(1),
    };
    let estimated = estimated_flags(series, marks.estimated);
    grid(&mut svg, &frame, &ticks);
    estimated_bands(&mut svg, &frame, &id, &estimated);
    x_labels(&mut svg, &frame, series);
    area_and_line(&mut svg, &frame, series, marks);
    hover_layer(&mut svg, &frame, series, &estimated, marks);
    svg.push_str("</svg>");
    svg
}

/// For each point, whether its bucket holds a day of `ranges`.
fn estimated_flags(series: &Series, ranges: &[DayRange]) -> Vec<bool> {
    (0..series.points.len())
        .map(|i| {
            let from = series.points[i].date;
            let to = series.bucket_end(i).unwrap_or(from);
            ranges.iter().any(|r| r.from <= to && from <= r.to)
        })
        .collect()
}

/// A hatched band behind each run of estimated buckets (nothing when there is none).
fn estimated_bands(svg: &mut String, frame: &Frame, id: &str, estimated: &[bool]) {
    if !estimated.contains(&true) {
        return;
    }
    let _ = write!(
        svg,
        r#"<defs><pattern id="{id}-hatch" class="hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6"/></pattern></defs><g class="estimated" aria-hidden="true">"#
    );
    let half = frame.column() / 2.0;
    let mut i = 0;
    while i < estimated.len() {
        if !estimated[i] {
            i += 1;
            continue;
        }
        let first = i;
        while i + 1 < estimated.len() && estimated[i + 1] {
            i += 1;
        }
        let x0 = (frame.x(first) - half).max(LEFT);
        let x1 = (frame.x(i) + half).min(WIDTH - RIGHT);
        let _ = write!(
            svg,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="url(#{id}-hatch)"/>"#,
            num(x0),
            num(TOP),
            num((x1 - x0).max(1.0)),
            num(HEIGHT - BOTTOM - TOP)
        );
        i += 1;
    }
    svg.push_str("</g>");
}

fn grid(svg: &mut String, frame: &Frame, ticks: &[u64]) {
    svg.push_str(r#"<g class="grid" aria-hidden="true">"#);
    for &t in ticks {
        let y = num(frame.y(t));
        let _ = write!(
            svg,
            r#"<line x1="{}" x2="{}" y1="{y}" y2="{y}"/><text class="ylabel" x="{}" y="{y}" dy="0.32em" text-anchor="end">{}</text>"#,
            num(LEFT),
            num(WIDTH - RIGHT),
            num(LEFT - 8.0),
            compact(t),
        );
    }
    svg.push_str("</g>");
}

/// The date labels along x (see [`super::axis`]).
fn x_labels(svg: &mut String, frame: &Frame, series: &Series) {
    svg.push_str(r#"<g class="xlabels" aria-hidden="true">"#);
    for (x, text) in axis::date_labels(series, &|i| frame.x(i), WIDTH) {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            num(x),
            num(HEIGHT - 8.0),
            escape(&text)
        );
    }
    svg.push_str("</g>");
}

fn area_and_line(svg: &mut String, frame: &Frame, series: &Series, marks: &Marks) {
    let at = |i: usize| (frame.x(i), frame.y(series.points[i].downloads));
    draw_runs(svg, series, at, frame.y(0), marks);
    if series.points.len() == 1 && !is_missing(series, 0, marks) {
        let _ = write!(
            svg,
            r#"<circle class="dot" cx="{}" cy="{}" r="3"/>"#,
            num(frame.x(0)),
            num(frame.y(series.points[0].downloads))
        );
    }
}

fn hover_layer(
    svg: &mut String,
    frame: &Frame,
    series: &Series,
    estimated: &[bool],
    marks: &Marks,
) {
    let n = series.points.len();
    let group = n.div_ceil(MAX_HITS).max(1);
    let (top, bottom) = (num(TOP), num(HEIGHT - BOTTOM));
    let _ = write!(svg, r#"<g class="hover" data-group="{group}">"#);
    for first in (0..n).step_by(group) {
        let last = (first + group).min(n) - 1;
        let (x0, x1) = (frame.x(first), frame.x(last));
        let cx = (x0 + x1) / 2.0;
        let downloads: u64 = series.points[first..=last]
            .iter()
            .map(|p| p.downloads)
            .sum();
        let note = partial_note(series, first).or_else(|| partial_note(series, last));
        let partial = if note.is_some() {
            r#" data-partial="true""#
        } else {
            ""
        };
        let mut note = note.map(|n| format!(" \u{b7} {n}")).unwrap_or_default();
        let is_estimated = estimated[first..=last].contains(&true);
        if is_estimated {
            note.push_str(" \u{b7} estimated");
        }
        let mut partial = match is_estimated {
            true => format!(r#"{partial} data-estimated="true""#),
            false => partial.to_owned(),
        };
        // No data for the whole group: no figure, said so; today: still counting.
        let missing = (first..=last).all(|i| is_missing(series, i, marks));
        let mark = point_note(series, last, marks).filter(|_| missing || last + 1 == n);
        if let Some(m) = &mark {
            note.push_str(&format!(" \u{b7} {m}"));
            partial.push_str(match missing {
                true => r#" data-missing="true""#,
                false => r#" data-today="true""#,
            });
        }
        let label = if first == last {
            bucket_label(series, first)
        } else {
            let end = series.bucket_end(last).unwrap_or(series.points[last].date);
            let start = series.points[first].date;
            format!(
                "{} \u{2013} {}",
                super::long_date(start),
                super::long_date(end)
            )
        };
        let width = frame.column() * (last - first + 1) as f64;
        let dot = if first == last && !missing {
            format!(
                r#"<circle cx="{}" cy="{}" r="4"/>"#,
                num(cx),
                num(frame.y(downloads))
            )
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            r#"<g class="hit" data-date="{date}" data-downloads="{downloads}"{partial}><rect x="{rx}" y="{top}" width="{w}" height="{h}"/><line x1="{cx}" x2="{cx}" y1="{top}" y2="{bottom}"/>{dot}<title>{label}{note}: {count}</title></g>"#,
            date = series.points[first].date,
            rx = num((cx - width / 2.0).max(LEFT - 4.0)),
            w = num(width.max(1.0)),
            h = num(HEIGHT - BOTTOM - TOP),
            cx = num(cx),
            label = escape(&label),
            count = match missing {
                true => "no data".to_owned(),
                false => format!("{} downloads", thousands(downloads)),
            },
        );
    }
    svg.push_str("</g>");
}
