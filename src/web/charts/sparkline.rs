//! The table's sparklines: a small area and line, no axes, the last point marked.

use std::fmt::Write;

use super::{describe, draw_runs, escape, is_missing, num, Marks};
use crate::analytics::Series;

const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 28.0;
const PAD: f64 = 2.0;

/// A sparkline of `series`; `what` names it for assistive technology.
pub fn sparkline(series: &Series, what: &str) -> String {
    sparkline_noted(series, what, "")
}

/// [`sparkline`] whose description ends with `note` (e.g. how it relates to the row's total).
pub fn sparkline_noted(series: &Series, what: &str, note: &str) -> String {
    sparkline_marked(series, what, note, &Marks::default())
}

/// [`sparkline_noted`] with `marks` (see [`line_chart_with`](super::line_chart_with)): buckets
/// no data covers are not drawn and have no value (empty in `data-values`), today's is drawn
/// as in progress.
pub fn sparkline_marked(series: &Series, what: &str, note: &str, marks: &Marks) -> String {
    let label = escape(&describe(series, what, note));
    // The values, the first bucket's date and the granularity let the page's script show any
    // point's date and value at once (dates of later buckets follow from the granularity).
    let values: Vec<String> = (0..series.points.len())
        .map(|i| match is_missing(series, i, marks) {
            true => String::new(),
            false => series.points[i].downloads.to_string(),
        })
        .collect();
    let start = series
        .points
        .first()
        .map(|p| p.date.to_string())
        .unwrap_or_default();
    let mut svg = format!(
        r#"<svg class="spark" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{label}" data-points="{}" data-start="{start}" data-granularity="{}" data-values="{}"><title>{label}</title>"#,
        series.points.len(),
        series.granularity.as_str(),
        values.join(","),
    );
    let max = series.points.iter().map(|p| p.downloads).max().unwrap_or(0);
    let n = series.points.len();
    if n == 0 {
        let _ = write!(
            svg,
            r#"<line class="baseline" x1="0" x2="{WIDTH}" y1="{y}" y2="{y}"/></svg>"#,
            y = HEIGHT - PAD
        );
        return svg;
    }
    let x = |i: usize| {
        if n == 1 {
            WIDTH / 2.0
        } else {
            PAD + (WIDTH - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| HEIGHT - PAD - (HEIGHT - 2.0 * PAD) * v as f64 / max.max(1) as f64;
    draw_runs(
        &mut svg,
        series,
        |i| (x(i), y(series.points[i].downloads)),
        HEIGHT - PAD,
        marks,
    );
    // The last drawn point is marked.
    if let Some(last) = (0..n).rev().find(|&i| !is_missing(series, i, marks)) {
        let _ = write!(
            svg,
            r#"<circle class="dot" cx="{}" cy="{}" r="2"/>"#,
            num(x(last)),
            num(y(series.points[last].downloads)),
        );
    }
    svg.push_str("</svg>");
    svg
}
