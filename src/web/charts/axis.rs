//! The date axis of the line chart: which days get a label, and what each label says.

use super::month_name;
use crate::analytics::{Granularity, Series};
use crate::domain::Day;

/// The widest a label's character is drawn, in chart units: on a phone the labels are 26px in
/// a chart drawn about half size (see `static/dashboard.css`), so wider than on a desktop.
const CHAR_WIDTH: f64 = 15.0;
/// The least space between two date labels, in chart units.
const LABEL_GAP: f64 = 12.0;

/// Date labels at regular calendar steps (days, Mondays, every other Monday, months, quarters,
/// half years, years), the finest step whose labels fit without touching; the year is written
/// on the first label and where it changes. Labels that would still collide are dropped.
/// `x` places bucket `i` along a chart `width` units wide; returns `(x, text)` per label.
pub fn date_labels(series: &Series, x: &dyn Fn(usize) -> f64, width: f64) -> Vec<(f64, String)> {
    let (Some(first), Some(range_end)) = (series.points.first(), series.range.map(|r| r.to)) else {
        return Vec::new();
    };
    let frame = &Frame { x, width };
    let (from, to) = (first.date, range_end.max(first.date));
    let labels = STEPS
        .iter()
        .filter(|step| step.suits(series.granularity))
        .map(|&step| {
            inside(
                frame,
                step,
                place(frame, series, step, step.ticks(from, to)),
            )
        })
        .find(|labels| fits(labels))
        .unwrap_or_else(|| {
            let years = Step::Months(12);
            drop_colliding(frame, place(frame, series, years, years.ticks(from, to)))
        });
    labels.into_iter().map(|l| (l.x, l.text)).collect()
}

/// Where buckets sit along x, and the chart's width.
struct Frame<'a> {
    x: &'a dyn Fn(usize) -> f64,
    width: f64,
}

impl Frame<'_> {
    fn x(&self, i: usize) -> f64 {
        (self.x)(i)
    }
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
fn inside(frame: &Frame, step: Step, mut labels: Vec<Label>) -> Vec<Label> {
    let fits = |l: &Label| l.x - l.half_width() >= 0.0 && l.x + l.half_width() <= frame.width;
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
fn drop_colliding(frame: &Frame, labels: Vec<Label>) -> Vec<Label> {
    let mut kept: Vec<Label> = Vec::new();
    for l in labels {
        let inside = l.x - l.half_width() >= 0.0 && l.x + l.half_width() <= frame.width;
        let clear = kept
            .last()
            .is_none_or(|k| k.x + k.half_width() + LABEL_GAP <= l.x - l.half_width());
        if inside && clear {
            kept.push(l);
        }
    }
    kept
}
