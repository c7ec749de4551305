use super::*;
use crate::analytics::series::SeriesBuilder;
use crate::domain::DayRange;

fn series(from: &str, to: &str, g: Granularity, values: &[(&str, u64)]) -> Series {
    let range = DayRange::new(from.parse().unwrap(), to.parse().unwrap()).unwrap();
    let mut b = SeriesBuilder::new(range, g);
    for (d, n) in values {
        b.add(d.parse().unwrap(), *n);
    }
    b.finish()
}

fn week_series() -> Series {
    series(
        "2023-12-27",
        "2024-01-16",
        Granularity::Week,
        &[
            ("2023-12-28", 1200),
            ("2024-01-02", 3400),
            ("2024-01-15", 80),
        ],
    )
}

#[test]
fn line_chart_snapshot() {
    insta::assert_snapshot!(line_chart(&week_series(), "org-chart", "Downloads of acme"));
}

#[test]
fn sparkline_snapshot() {
    insta::assert_snapshot!(sparkline(&week_series(), "Trend of acme/bert"));
}

#[test]
fn hover_layer_has_one_point_per_bucket_with_exact_values() {
    let s = week_series();
    let svg = line_chart(&s, "c", "x");
    assert_eq!(svg.matches(r#"class="hit""#).count(), s.points.len());
    assert!(
        svg.contains(r#"data-date="2024-01-01" data-downloads="3400""#),
        "{svg}"
    );
    assert!(
        svg.contains("<title>Jan 1 \u{2013} Jan 7, 2024: 3,400 downloads</title>"),
        "{svg}"
    );
    assert!(
        svg.contains(
            "<title>Dec 27 \u{2013} Dec 31, 2023 \u{b7} partial week (5 of 7 days): 1,200 downloads</title>"
        ),
        "{svg}"
    );
    assert!(svg.contains(r#"role="img""#) && svg.contains(r#"aria-labelledby="c-title""#));
}

#[test]
fn empty_and_single_point_charts_render() {
    let empty = Series::empty(Granularity::Day);
    assert!(line_chart(&empty, "c", "x").contains("No downloads recorded yet"));
    assert!(sparkline(&empty, "x").contains(r#"data-points="0""#));
    let one = series(
        "2024-02-29",
        "2024-02-29",
        Granularity::Day,
        &[("2024-02-29", 7)],
    );
    let svg = line_chart(&one, "c", "x");
    assert!(
        svg.contains(r#"class="dot""#) && svg.contains("Feb 29, 2024: 7 downloads"),
        "{svg}"
    );
}

#[test]
fn labels_are_escaped_and_months_are_named() {
    let s = series(
        "2023-11-15",
        "2024-02-10",
        Granularity::Month,
        &[("2024-01-03", 5)],
    );
    let svg = line_chart(&s, "a\"b", "<x>");
    assert!(svg.contains("id=\"a&quot;b\"") && svg.contains("&lt;x&gt;"));
    assert!(
        svg.contains("<title>Jan 2024: 5 downloads</title>"),
        "{svg}"
    );
    assert!(
        svg.contains(
            "<title>Nov 15 \u{2013} Nov 30, 2023 \u{b7} partial month (16 of 30 days): 0 downloads</title>"
        ),
        "{svg}"
    );
    assert!(
        svg.contains(
            "<title>Feb 1 \u{2013} Feb 10, 2024 \u{b7} partial month (10 of 29 days): 0 downloads</title>"
        ),
        "{svg}"
    );
}

// Regression: a week or month the period cuts short read as a collapse at the chart's ends.
#[test]
fn partial_buckets_are_dashed_and_say_how_many_days_they_hold() {
    let s = week_series();
    for svg in [line_chart(&s, "c", "x"), sparkline(&s, "x")] {
        // Dec 27 – Dec 31 (5 days) and Jan 15 – Jan 16 (2 days) are partial; Jan 1 – 14 whole.
        assert_eq!(svg.matches(r#"class="line partial""#).count(), 2, "{svg}");
        assert_eq!(svg.matches(r#"class="line""#).count(), 1, "{svg}");
        assert_eq!(svg.matches(r#"class="area partial""#).count(), 2, "{svg}");
        assert!(
            svg.contains("the last bucket is a partial week (2 of 7 days)"),
            "{svg}"
        );
    }
    let svg = line_chart(&s, "c", "x");
    assert_eq!(svg.matches(r#"data-partial="true""#).count(), 2, "{svg}");
    assert!(svg.contains("partial week (2 of 7 days): 80 downloads</title>"));
    // Whole buckets only: one solid line, nothing partial.
    let whole = series(
        "2024-01-01",
        "2024-01-14",
        Granularity::Week,
        &[("2024-01-02", 5)],
    );
    let svg = line_chart(&whole, "c", "x");
    assert!(!svg.contains("partial"), "{svg}");
    // Days are never partial.
    let days = series("2024-01-03", "2024-01-05", Granularity::Day, &[]);
    assert!(!line_chart(&days, "c", "x").contains("partial"));
}

/// The `<text>`s of the chart's date labels.
fn x_labels(svg: &str) -> Vec<String> {
    let axis = svg.split(r#"<g class="xlabels""#).nth(1).unwrap();
    let axis = &axis[..axis.find("</g>").unwrap()];
    axis.split("\">")
        .skip(2)
        .map(|t| t[..t.find('<').unwrap()].to_owned())
        .collect()
}

// Regression: 365 days of weeks labelled every sixth bucket ("Mar 4", "Apr 15", ...) collided
// on a phone, and Last Month's first label lost its year when the one before it was dropped.
#[test]
fn date_labels_fall_on_calendar_steps_with_the_year_once() {
    let days = series(
        "2025-06-01",
        "2025-06-30",
        Granularity::Day,
        &[("2025-06-10", 5)],
    );
    let labels = x_labels(&line_chart(&days, "c", "x"));
    assert_eq!(labels, ["Jun 9, 2025", "Jun 16", "Jun 23"]);
    let weeks = series(
        "2024-07-01",
        "2025-06-30",
        Granularity::Week,
        &[("2025-01-10", 5)],
    );
    let labels = x_labels(&line_chart(&weeks, "c", "x"));
    assert!(labels.len() >= 3, "{labels:?}");
    assert!(labels
        .iter()
        .all(|l| l.split(' ').next().is_some_and(|m| MONTHS.contains(&m))));
    let with_year: Vec<&String> = labels.iter().filter(|l| l.contains(" 20")).collect();
    assert_eq!(
        with_year.len(),
        2,
        "the first label and January: {labels:?}"
    );
    assert_eq!(with_year[1], "Jan 2025");
}

// Days whose downloads were spread between snapshots of a hub's counters are hatched and said
// to be estimated; a chart without such days is drawn as before.
#[test]
fn estimated_buckets_are_hatched_and_titled() {
    let days = [
        ("2024-03-01", 5),
        ("2024-03-02", 10),
        ("2024-03-03", 10),
        ("2024-03-04", 10),
        ("2024-03-05", 7),
    ];
    let s = series("2024-03-01", "2024-03-05", Granularity::Day, &days);
    let gap = DayRange::new("2024-03-02".parse().unwrap(), "2024-03-04".parse().unwrap()).unwrap();
    let svg = line_chart_marked(&s, "c", "x", "", &[gap]);
    assert_eq!(svg.matches(r#"<g class="estimated""#).count(), 1, "{svg}");
    assert_eq!(svg.matches(r##"fill="url(#c-hatch)""##).count(), 1, "{svg}");
    assert_eq!(svg.matches(r#"data-estimated="true""#).count(), 3, "{svg}");
    assert!(
        svg.contains("Mar 3, 2024 \u{b7} estimated: 10 downloads</title>"),
        "{svg}"
    );
    assert_eq!(
        line_chart_marked(&s, "c", "x", "", &[]),
        line_chart(&s, "c", "x")
    );
    assert!(!line_chart(&s, "c", "x").contains("hatch"));
}
