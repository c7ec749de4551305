//! The large line/area chart: y gridlines with compact labels, date labels along x, and a hover
//! layer (one column per bucket, with a `<title>` tooltip and a highlighted point).

use std::fmt::Write;

use super::{axis_label, bucket_label, describe, draw_runs, escape, num, partial_note, scale};
use crate::analytics::Series;
use crate::web::format::{compact, thousands};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
const X_LABELS: usize = 6;

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
    let id = escape(id);
    let description = escape(&describe(series, what));
    let mut svg = format!(
        r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title" data-points="{n}" data-granularity="{g}"><title id="{id}-title">{description}</title>"#,
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
    grid(&mut svg, &frame, &ticks);
    x_labels(&mut svg, &frame, series);
    area_and_line(&mut svg, &frame, series);
    hover_layer(&mut svg, &frame, series);
    svg.push_str("</svg>");
    svg
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

fn x_labels(svg: &mut String, frame: &Frame, series: &Series) {
    let n = series.points.len();
    let step = n.div_ceil(X_LABELS).max(1);
    let mut last_year = None;
    svg.push_str(r#"<g class="xlabels" aria-hidden="true">"#);
    for i in (0..n).step_by(step) {
        let day = series.points[i].date;
        let year = day.date().year();
        let label = axis_label(series.granularity, day, last_year != Some(year));
        last_year = Some(year);
        let anchor = match i {
            0 if n > 1 => "start",
            i if i + 1 == n && n > 1 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="{anchor}">{}</text>"#,
            num(frame.x(i)),
            num(HEIGHT - 8.0),
            escape(&label)
        );
    }
    svg.push_str("</g>");
}

fn area_and_line(svg: &mut String, frame: &Frame, series: &Series) {
    let at = |i: usize| (frame.x(i), frame.y(series.points[i].downloads));
    draw_runs(svg, series, at, frame.y(0));
    if series.points.len() == 1 {
        let _ = write!(
            svg,
            r#"<circle class="dot" cx="{}" cy="{}" r="3"/>"#,
            num(frame.x(0)),
            num(frame.y(series.points[0].downloads))
        );
    }
}

fn hover_layer(svg: &mut String, frame: &Frame, series: &Series) {
    let width = frame.column();
    let (top, bottom) = (num(TOP), num(HEIGHT - BOTTOM));
    svg.push_str(r#"<g class="hover">"#);
    for (i, p) in series.points.iter().enumerate() {
        let x = frame.x(i);
        let note = partial_note(series, i);
        let partial = if note.is_some() {
            r#" data-partial="true""#
        } else {
            ""
        };
        let note = note.map(|n| format!(" \u{b7} {n}")).unwrap_or_default();
        let _ = write!(
            svg,
            r#"<g class="hit" data-date="{date}" data-downloads="{n}"{partial}><rect x="{rx}" y="{top}" width="{w}" height="{h}"/><line x1="{cx}" x2="{cx}" y1="{top}" y2="{bottom}"/><circle cx="{cx}" cy="{cy}" r="4"/><title>{label}{note}: {count} downloads</title></g>"#,
            date = p.date,
            n = p.downloads,
            rx = num((x - width / 2.0).max(LEFT - 4.0)),
            w = num(width.max(1.0)),
            h = num(HEIGHT - BOTTOM - TOP),
            cx = num(x),
            cy = num(frame.y(p.downloads)),
            label = escape(&bucket_label(series, i)),
            count = thousands(p.downloads),
        );
    }
    svg.push_str("</g>");
}
