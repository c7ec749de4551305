//! The large line/area chart: y gridlines with compact labels, date labels along x, and a hover
//! layer (one column per bucket, with a `<title>` tooltip and a highlighted point).

use std::fmt::Write;

use super::{bucket_label, describe, draw_runs, escape, month_name, num, partial_note, scale};
use crate::analytics::{Granularity, Series};
use crate::domain::Day;
use crate::web::format::{compact, thousands};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;
/// The widest a label's character is drawn, in chart units: on a phone the labels are 26px in
/// a chart drawn about half size (see `static/dashboard.css`), so wider than on a desktop.
const CHAR_WIDTH: f64 = 15.0;
/// The least space between two date labels, in chart units.
const LABEL_GAP: f64 = 12.0;
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

/// Date labels at regular calendar steps (days, Mondays, every other Monday, months, quarters,
/// half years, years), the finest step whose labels fit without touching; the year is written
/// on the first label and where it changes. Labels that would still collide are dropped.
fn x_labels(svg: &mut String, frame: &Frame, series: &Series) {
    let (Some(first), Some(range_end)) = (series.points.first(), series.range.map(|r| r.to)) else {
        return;
    };
    let (from, to) = (first.date, range_end.max(first.date));
    let labels = STEPS
        .iter()
        .filter(|step| step.suits(series.granularity))
        .map(|&step| inside(step, place(frame, series, step, step.ticks(from, to))))
        .find(|labels| fits(labels))
        .unwrap_or_else(|| {
            let years = Step::Months(12);
            drop_colliding(place(frame, series, years, years.ticks(from, to)))
        });
    svg.push_str(r#"<g class="xlabels" aria-hidden="true">"#);
    for label in labels {
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            num(label.x),
            num(HEIGHT - 8.0),
            escape(&label.text)
        );
    }
    svg.push_str("</g>");
}

/// A calendar step between date labels.
#[derive(Clone, Copy)]
enum Step {
    Days(i32),
    Mondays(i32),
    Months(u8),
}

const STEPS: [Step; 8] = [
    Step::Days(1),
    Step::Days(2),
    Step::Mondays(1),
    Step::Mondays(2),
    Step::Months(1),
    Step::Months(3),
    Step::Months(6),
    Step::Months(12),
];

impl Step {
    /// Steps finer than the buckets would label points that are not there.
    fn suits(self, granularity: Granularity) -> bool {
        match (self, granularity) {
            (Step::Days(_), g) => g == Granularity::Day,
            (Step::Mondays(_), g) => g != Granularity::Month,
            (Step::Months(_), _) => true,
        }
    }

    /// The labelled days from `from` to `to`.
    fn ticks(self, from: Day, to: Day) -> Vec<Day> {
        let days = (from.epoch_days()..=to.epoch_days()).map(Day::from_epoch_days);
        match self {
            Step::Days(n) => days.step_by(n as usize).collect(),
            Step::Mondays(n) => {
                let monday = if from.week_start() == from {
                    from
                } else {
                    from.week_start().add_days(7)
                };
                (0..)
                    .map(|i| monday.add_days(7 * n * i))
                    .take_while(|d| *d <= to)
                    .collect()
            }
            Step::Months(n) => days
                .filter(|d| {
                    let date = d.date();
                    date.day() == 1 && (date.month() as u8 - 1).is_multiple_of(n)
                })
                .collect(),
        }
    }

    /// `Jan 5` (`Jan 5, 2024` with the year) for day steps, `Feb` (`Jan 2024`) for months.
    fn text(self, day: Day, with_year: bool) -> String {
        let d = day.date();
        match (self, with_year) {
            (Step::Months(_), true) => format!("{} {}", month_name(day), d.year()),
            (Step::Months(_), false) => month_name(day).to_owned(),
            (_, true) => format!("{} {}, {}", month_name(day), d.day(), d.year()),
            (_, false) => format!("{} {}", month_name(day), d.day()),
        }
    }
}

struct Label {
    x: f64,
    day: Day,
    text: String,
}

impl Label {
    fn half_width(&self) -> f64 {
        self.text.chars().count() as f64 * CHAR_WIDTH / 2.0
    }
}

/// The labels of `step` at their places along x (a day inside a week or month bucket sits
/// proportionally between the bucket's point and the next).
fn place(frame: &Frame, series: &Series, step: Step, ticks: Vec<Day>) -> Vec<Label> {
    let labels = ticks
        .into_iter()
        .map(|day| Label {
            x: x_of_day(frame, series, day),
            day,
            text: String::new(),
        })
        .collect();
    with_years(step, labels)
}

/// Writes the labels' texts, with the year on the first and where it changes.
fn with_years(step: Step, mut labels: Vec<Label>) -> Vec<Label> {
    let mut last_year = None;
    for label in &mut labels {
        let year = label.day.date().year();
        label.text = step.text(label.day, last_year != Some(year));
        last_year = Some(year);
    }
    labels
}

fn x_of_day(frame: &Frame, series: &Series, day: Day) -> f64 {
    let points = &series.points;
    let i = points.partition_point(|p| p.date <= day).saturating_sub(1);
    let start = points[i].date;
    let next = points.get(i + 1).map(|p| p.date);
    match next {
        Some(next) if next > start => {
            let frac = f64::from(start.days_until(day)) / f64::from(start.days_until(next));
            frame.x(i) + (frame.x(i + 1) - frame.x(i)) * frac
        }
        _ => frame.x(i),
    }
}

/// The labels that lie wholly inside the chart (one at an edge is dropped, not cut); the year
/// moves to the first label left.
fn inside(step: Step, mut labels: Vec<Label>) -> Vec<Label> {
    let fits = |l: &Label| l.x - l.half_width() >= 0.0 && l.x + l.half_width() <= WIDTH;
    // Dropping the first label can give the next one a year, and a wider text: settle.
    for _ in 0..3 {
        let before = labels.len();
        labels = with_years(step, labels.into_iter().filter(fits).collect());
        if labels.len() == before {
            break;
        }
    }
    labels
}

/// Whether there are at least two labels, each clear of its neighbours.
fn fits(labels: &[Label]) -> bool {
    let apart = labels
        .windows(2)
        .all(|w| w[0].x + w[0].half_width() + LABEL_GAP <= w[1].x - w[1].half_width());
    labels.len() >= 2 && apart
}

/// The labels left when each one that would overlap the one kept before it is dropped.
fn drop_colliding(labels: Vec<Label>) -> Vec<Label> {
    let mut kept: Vec<Label> = Vec::new();
    for l in labels {
        let inside = l.x - l.half_width() >= 0.0 && l.x + l.half_width() <= WIDTH;
        let clear = kept
            .last()
            .is_none_or(|k| k.x + k.half_width() + LABEL_GAP <= l.x - l.half_width());
        if inside && clear {
            kept.push(l);
        }
    }
    kept
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
        let note = note.map(|n| format!(" \u{b7} {n}")).unwrap_or_default();
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
        let dot = if first == last {
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
            r#"<g class="hit" data-date="{date}" data-downloads="{downloads}"{partial}><rect x="{rx}" y="{top}" width="{w}" height="{h}"/><line x1="{cx}" x2="{cx}" y1="{top}" y2="{bottom}"/>{dot}<title>{label}{note}: {count} downloads</title></g>"#,
            date = series.points[first].date,
            rx = num((cx - width / 2.0).max(LEFT - 4.0)),
            w = num(width.max(1.0)),
            h = num(HEIGHT - BOTTOM - TOP),
            cx = num(cx),
            label = escape(&label),
            count = thousands(downloads),
        );
    }
    svg.push_str("</g>");
}
