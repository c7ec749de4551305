//! Every figure the dashboard and the API show for the demo organization equals an independent
//! computation from its exported breakdown CSV: totals, previous totals, table values and every sparkline point,
//! for periods that span a year boundary and a leap day; search counts; stable sort and paging.

use std::collections::BTreeMap;

use crate::analytics::{demo_fixture, json, Fixture};
use time::{Date, Duration};

const TODAY: &str = "2024-03-01";

/// The demo app, its large organization's page and API paths.
struct Demo {
    f: Fixture,
    page: String,
    api: String,
}

fn setup() -> Demo {
    let (f, org) = demo_fixture(TODAY, 80);
    let page = format!("/organizations/{org}/settings/publisher-analytics");
    let api = format!("/api/organizations/{org}/analytics");
    Demo { f, page, api }
}

/// One repository as read back from the CSV export.
#[derive(Debug, Clone)]
struct Repo {
    repo_type: String,
    name: String,
    total: u64,
    days: BTreeMap<Date, u64>,
}

fn date(s: &str) -> Date {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &f).unwrap()
}

async fn exported(d: &Demo) -> Vec<Repo> {
    let url = format!("{}/download-breakdown", d.page);
    let res = d.f.app.get(&url, &d.f.auth).await;
    assert_eq!(res.status, 200);
    let mut repos: Vec<Repo> = Vec::new();
    for line in res.text().lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        if repos
            .last()
            .is_none_or(|r| r.repo_type != c[0] || r.name != c[1])
        {
            repos.push(Repo {
                repo_type: c[0].into(),
                name: c[1].into(),
                total: c[2].parse().unwrap(),
                days: BTreeMap::new(),
            });
        }
        let day = date(&c[3][..10]);
        repos
            .last_mut()
            .unwrap()
            .days
            .insert(day, c[4].parse().unwrap());
    }
    repos.extend(without_daily_rows(d, &repos).await);
    repos
}

/// Repositories the CSV cannot show: those without a single day of downloads (their whole
/// total was counted before daily history). Each must really have no daily row; only its total
/// is taken from the API.
async fn without_daily_rows(d: &Demo, in_csv: &[Repo]) -> Vec<Repo> {
    let all = json(
        &d.f.app
            .get(&format!("{}/repos?per_page=500", d.api), &d.f.auth)
            .await,
    );
    let mut missing = Vec::new();
    for r in all["repos"].as_array().unwrap() {
        let (t, name) = (
            r["repoType"].as_str().unwrap(),
            r["repoName"].as_str().unwrap(),
        );
        if in_csv.iter().any(|c| c.repo_type == t && c.name == name) {
            continue;
        }
        let url = format!("{}/repos/{t}/{name}", d.api);
        let detail = json(&d.f.app.get(&url, &d.f.auth).await);
        assert_eq!(
            detail["firstDay"],
            serde_json::Value::Null,
            "{name} has days but is not in the CSV"
        );
        let total = r["total"].as_u64().unwrap();
        missing.push(Repo {
            repo_type: t.into(),
            name: name.into(),
            total,
            days: BTreeMap::new(),
        });
    }
    missing
}

fn sum(r: &Repo, from: Date, to: Date) -> u64 {
    r.days.range(from..=to).map(|(_, n)| n).sum()
}

/// Bucket starts of `from..=to`, independently of the crate: the first bucket starts on `from`,
/// the next ones on Mondays (weeks) or on the 1st (months).
fn buckets(from: Date, to: Date) -> (&'static str, Vec<Date>) {
    let len = (to - from).whole_days() + 1;
    let g = if len > 731 {
        "month"
    } else if len > 120 {
        "week"
    } else {
        "day"
    };
    let mut starts = vec![from];
    let mut d = from + Duration::days(1);
    while d <= to {
        let new_bucket = match g {
            "day" => true,
            "week" => d.weekday() == time::Weekday::Monday,
            _ => d.day() == 1,
        };
        if new_bucket {
            starts.push(d);
        }
        d += Duration::days(1);
    }
    (g, starts)
}

fn series(r: &Repo, starts: &[Date], to: Date) -> Vec<(String, u64)> {
    starts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let end = starts.get(i + 1).map_or(to, |n| *n - Duration::days(1));
            (s.to_string(), sum(r, *s, end))
        })
        .collect()
}

/// The periods checked: (query, Some((from, to))) or None for All Time.
fn periods() -> Vec<(&'static str, Option<(Date, Date)>)> {
    vec![
        ("period=all-time", None),
        (
            "period=last-month",
            Some((date("2024-02-01"), date("2024-03-01"))),
        ), // has Feb 29
        ("period=7d", Some((date("2024-02-24"), date("2024-03-01")))),
        ("period=90d", Some((date("2023-12-03"), date("2024-03-01")))), // over New Year
        (
            "period=365d",
            Some((date("2023-03-03"), date("2024-03-01"))),
        ),
        (
            "period=custom&from=2023-12-20&to=2024-01-10",
            Some((date("2023-12-20"), date("2024-01-10"))),
        ),
        (
            "period=custom&from=2021-06-15&to=2024-02-29",
            Some((date("2021-06-15"), date("2024-02-29"))),
        ),
    ]
}

/// A JSON series as `(date, downloads)` pairs.
fn points(series: &serde_json::Value) -> Vec<(String, u64)> {
    series
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["date"].as_str().unwrap().to_owned(),
                p["downloads"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn attr(html: &str, name: &str) -> Vec<String> {
    let key = format!("{name}=\"");
    html.split(&key)
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn every_figure_matches_the_export() {
    let d = setup();
    let repos = exported(&d).await;
    let (f, api, page) = (&d.f, d.api.as_str(), d.page.as_str());
    assert!(repos.len() > 40);
    let first = repos
        .iter()
        .filter_map(|r| r.days.keys().next().copied())
        .min()
        .unwrap();
    for (query, range) in periods() {
        let prev = range.map(|(a, b)| {
            let len = (b - a).whole_days() + 1;
            (a - Duration::days(len), a - Duration::days(1))
        });
        let downloads = |r: &Repo| range.map_or(r.total, |(a, b)| sum(r, a, b));
        let previous = |r: &Repo| prev.map(|(a, b)| sum(r, a, b));
        // All Time: from the first day with data to the reference day, never past it.
        let (chart_from, chart_to) = range.unwrap_or((first.min(date(TODAY)), date(TODAY)));
        let (granularity, starts) = buckets(chart_from, chart_to);

        // Totals and previous totals, API and page.
        let overview = json(&f.app.get(&format!("{api}?{query}"), &f.auth).await);
        let html = f
            .app
            .get_html(&format!("{page}?{query}&per_page=500"), &f.auth)
            .await
            .text();
        for (key, t) in [
            ("all", None),
            ("model", Some("model")),
            ("dataset", Some("dataset")),
        ] {
            let of_type = || repos.iter().filter(|r| t.is_none_or(|t| r.repo_type == t));
            let expected: u64 = of_type().map(downloads).sum();
            assert_eq!(
                overview["totals"][key].as_u64(),
                Some(expected),
                "{query} {key}"
            );
            assert!(
                html.contains(&format!(
                    r#"data-testid="total-{key}" data-value="{expected}""#
                )),
                "{query} {key} page"
            );
            let expected_prev = prev.map(|_| of_type().map(|r| previous(r).unwrap()).sum::<u64>());
            assert_eq!(
                overview["previous"][key].as_u64(),
                expected_prev,
                "{query} previous {key}"
            );
        }
        // The org chart: every bucket.
        let org_series: Vec<(String, u64)> = starts
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let end = starts
                    .get(i + 1)
                    .map_or(chart_to, |n| *n - Duration::days(1));
                (s.to_string(), repos.iter().map(|r| sum(r, *s, end)).sum())
            })
            .collect();
        assert_eq!(overview["granularity"], granularity, "{query}");
        let api_series = points(&overview["series"]);
        assert_eq!(api_series, org_series, "{query} org chart");
        let hits: Vec<(String, u64)> = attr(&html, "data-date")
            .into_iter()
            .zip(attr(&html, "data-downloads"))
            .map(|(d, n)| (d, n.parse().unwrap()))
            .take(org_series.len())
            .collect();
        assert_eq!(hits, org_series, "{query} org chart on the page");

        // The table: every row, every sparkline point.
        let table = json(
            &f.app
                .get(&format!("{api}/repos?{query}&per_page=500"), &f.auth)
                .await,
        );
        assert_eq!(table["count"].as_u64(), Some(repos.len() as u64));
        for row in table["repos"].as_array().unwrap() {
            let name = row["repoName"].as_str().unwrap();
            let r = repos
                .iter()
                .find(|r| r.name == name && r.repo_type == row["repoType"])
                .unwrap();
            assert_eq!(
                row["downloads"].as_u64(),
                Some(downloads(r)),
                "{query} {name}"
            );
            assert_eq!(row["total"].as_u64(), Some(r.total), "{query} {name}");
            assert_eq!(
                row["previousDownloads"].as_u64(),
                previous(r),
                "{query} {name}"
            );
            let sparkline = points(&row["series"]);
            assert_eq!(
                sparkline,
                series(r, &starts, chart_to),
                "{query} {name} sparkline"
            );
            let prev_attr = previous(r).map(|p| p.to_string()).unwrap_or_default();
            let row_html = format!(
                r#"data-repo-type="{}" data-repo-name="{name}" data-downloads="{}" data-total="{}" data-previous="{prev_attr}""#,
                r.repo_type,
                downloads(r),
                r.total
            );
            assert!(html.contains(&row_html), "{query} {name} row on the page");
            let spark_sum: u64 = sparkline.iter().map(|p| p.1).sum();
            let spark_label = format!("Downloads of {name}, ");
            let label = html.split(&spark_label).nth(1).unwrap();
            let label = &label[..label.find('"').unwrap()];
            assert!(
                label.contains(&format!(": {} downloads in all", thousands(spark_sum))),
                "{query} {name}: {label}"
            );
        }
        // The same figures whatever the sort (each sort reads them differently).
        for sort in ["name", "total", "change"] {
            let url = format!("{api}/repos?{query}&per_page=500&sort={sort}");
            let sorted = json(&f.app.get(&url, &f.auth).await);
            for row in sorted["repos"].as_array().unwrap() {
                let name = row["repoName"].as_str().unwrap();
                let r = repos
                    .iter()
                    .find(|r| r.name == name && r.repo_type == row["repoType"])
                    .unwrap();
                let figures = (row["downloads"].as_u64(), row["previousDownloads"].as_u64());
                assert_eq!(
                    figures,
                    (Some(downloads(r)), previous(r)),
                    "{query} sort={sort} {name}"
                );
            }
        }
        // One drill-down per period.
        let r = &repos[repos.len() / 2];
        let detail = json(
            &f.app
                .get(
                    &format!("{api}/repos/{}/{}?{query}", r.repo_type, r.name),
                    &f.auth,
                )
                .await,
        );
        assert_eq!(
            detail["downloads"].as_u64(),
            Some(downloads(r)),
            "{query} detail"
        );
        assert_eq!(
            detail["previousDownloads"].as_u64(),
            previous(r),
            "{query} detail"
        );
        assert_eq!(
            detail["firstDay"].as_str(),
            r.days.keys().next().map(|d| d.to_string()).as_deref()
        );
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::test]
async fn search_returns_exactly_the_matching_repositories() {
    let d = setup();
    let repos = exported(&d).await;
    let (f, api, page) = (&d.f, d.api.as_str(), d.page.as_str());
    // Substrings of real names (also in another case), a character many names share, the
    // organization prefix, and nothing.
    let short = |i: usize| {
        repos[i % repos.len()]
            .name
            .split('/')
            .nth(1)
            .unwrap()
            .to_owned()
    };
    let queries = [
        short(0)[..3.min(short(0).len())].to_owned(),
        short(7).to_uppercase(),
        short(13)[1..].to_owned(),
        "-".to_owned(),
        format!("{}/", repos[0].name.split('/').next().unwrap()),
        "zzz-nothing".to_owned(),
    ];
    for q in &queries {
        let mut expected: Vec<String> = repos
            .iter()
            .filter(|r| r.name.to_lowercase().contains(&q.to_lowercase()))
            .map(|r| format!("{}:{}", r.repo_type, r.name))
            .collect();
        let res = json(
            &f.app
                .get(
                    &format!("{api}/repos?q={q}&per_page=500&sort=name"),
                    &f.auth,
                )
                .await,
        );
        let mut got: Vec<String> = res["repos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["repoType"].as_str().unwrap(),
                    r["repoName"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(res["count"].as_u64(), Some(expected.len() as u64), "{q}");
        let html = f
            .app
            .get_html(&format!("{page}?q={q}&per_page=500"), &f.auth)
            .await
            .text();
        let count = attr(&html, "data-count");
        assert_eq!(count, [expected.len().to_string()], "{q} page count");
        let mut on_page: Vec<String> = attr(&html, "data-repo-type")
            .into_iter()
            .zip(attr(&html, "data-repo-name"))
            .map(|(t, n)| format!("{t}:{n}"))
            .collect();
        expected.sort();
        got.sort();
        on_page.sort();
        assert_eq!(got, expected, "{q}");
        assert_eq!(on_page, expected, "{q} page rows");
        // A narrow search reads its figures differently from the whole table: same answers.
        let (range, prev) = (
            (date("2023-12-03"), date("2024-03-01")),
            (date("2023-09-04"), date("2023-12-02")),
        );
        for sort in ["downloads", "change"] {
            let url = format!("{api}/repos?period=90d&q={q}&sort={sort}&per_page=500");
            let res = json(&f.app.get(&url, &f.auth).await);
            for row in res["repos"].as_array().unwrap() {
                let name = row["repoName"].as_str().unwrap();
                let r = repos
                    .iter()
                    .find(|r| r.name == name && r.repo_type == row["repoType"])
                    .unwrap();
                let expected = (Some(sum(r, range.0, range.1)), Some(sum(r, prev.0, prev.1)));
                let figures = (row["downloads"].as_u64(), row["previousDownloads"].as_u64());
                assert_eq!(figures, expected, "{q} {sort} {name}");
            }
        }
    }
}

#[tokio::test]
async fn sorting_is_stable_and_pages_partition_the_table() {
    let d = setup();
    let repos = exported(&d).await;
    let (f, api) = (&d.f, d.api.as_str());
    let range = (date("2023-12-03"), date("2024-03-01"));
    let prev = (date("2023-09-04"), date("2023-12-02"));
    for (sort, order) in [
        ("downloads", "desc"),
        ("downloads", "asc"),
        ("name", "asc"),
        ("name", "desc"),
        ("total", "desc"),
        ("change", "desc"),
        ("change", "asc"),
    ] {
        // A change needs data over the whole previous period: without it there is none, and
        // such rows sort below every change, in either order.
        let key = |r: &Repo| -> Option<i128> {
            let now = sum(r, range.0, range.1) as i128;
            match sort {
                "downloads" => Some(now),
                "total" => Some(r.total as i128),
                _ => r
                    .days
                    .keys()
                    .next()
                    .filter(|first| **first <= prev.0)
                    .map(|_| now - sum(r, prev.0, prev.1) as i128),
            }
        };
        let type_rank = |r: &Repo| if r.repo_type == "model" { 0 } else { 1 };
        let mut expected = repos.clone();
        expected.sort_by(|a, b| {
            // Names sort ignoring case, for people (the CSV keeps byte order).
            let directed = |o: std::cmp::Ordering| if order == "desc" { o.reverse() } else { o };
            let primary = match (sort, key(a), key(b)) {
                ("name", _, _) => directed(a.name.to_lowercase().cmp(&b.name.to_lowercase())),
                (_, Some(x), Some(y)) => directed(x.cmp(&y)),
                (_, x, y) => x.is_none().cmp(&y.is_none()),
            };
            primary
                .then(type_rank(a).cmp(&type_rank(b)))
                .then(a.name.cmp(&b.name))
        });
        let expected: Vec<String> = expected
            .iter()
            .map(|r| format!("{}:{}", r.repo_type, r.name))
            .collect();
        let mut paged = Vec::new();
        for page in 1..=expected.len().div_ceil(7) {
            let url =
                format!("{api}/repos?period=90d&sort={sort}&order={order}&per_page=7&page={page}");
            let res = json(&f.app.get(&url, &f.auth).await);
            for r in res["repos"].as_array().unwrap() {
                paged.push(format!(
                    "{}:{}",
                    r["repoType"].as_str().unwrap(),
                    r["repoName"].as_str().unwrap()
                ));
            }
        }
        assert_eq!(paged, expected, "{sort} {order}");
    }
}

/// `data-value` of the element with `data-testid="{testid}"`, if the page has one.
fn testid_value(html: &str, testid: &str) -> Option<u64> {
    let rest = html
        .split(&format!(r#"data-testid="{testid}" data-value=""#))
        .nth(1)?;
    rest[..rest.find('"')?].parse().ok()
}

#[tokio::test]
async fn filtered_totals_completeness_and_the_view_csv_match_the_export() {
    let d = setup();
    let repos = exported(&d).await;
    let (f, api, page) = (&d.f, d.api.as_str(), d.page.as_str());
    let full = f
        .app
        .get(&format!("{page}/download-breakdown"), &f.auth)
        .await
        .text();
    let first = repos
        .iter()
        .filter_map(|r| r.days.keys().next().copied())
        .min()
        .unwrap();
    let needle = repos[3].name.split('/').nth(1).unwrap()[..3].to_lowercase();
    let filters: [(String, Option<&str>); 4] = [
        (needle.clone(), None),
        (needle.to_uppercase(), Some("model")),
        (String::new(), Some("dataset")),
        ("-".to_owned(), Some("model")),
    ];
    for (query, range) in periods() {
        let prev = range.map(|(a, b)| {
            let len = (b - a).whole_days() + 1;
            (a - Duration::days(len), a - Duration::days(1))
        });
        // The organization's previous period is complete when data covers it.
        let overview = json(&f.app.get(&format!("{api}?{query}"), &f.auth).await);
        assert_eq!(
            overview["previousComplete"],
            prev.is_some_and(|(from, _)| from >= first),
            "{query}"
        );
        for (q, t) in &filters {
            let matching: Vec<&Repo> = repos
                .iter()
                .filter(|r| t.is_none_or(|t| r.repo_type == t))
                .filter(|r| r.name.to_lowercase().contains(&q.to_lowercase()))
                .collect();
            let filter = format!("q={q}&type={}", t.unwrap_or(""));
            // The matching repositories' total above the table.
            let html = f
                .app
                .get_html(&format!("{page}?{query}&{filter}&fragment=table"), &f.auth)
                .await
                .text();
            let expected: u64 = matching
                .iter()
                .map(|r| range.map_or(r.total, |(a, b)| sum(r, a, b)))
                .sum();
            assert_eq!(
                testid_value(&html, "matched-total"),
                Some(expected),
                "{query} {filter}"
            );
            let matching_first = matching
                .iter()
                .filter_map(|r| r.days.keys().next().copied())
                .min();
            let complete =
                matches!((prev, matching_first), (Some((from, _)), Some(f)) if from >= f);
            let change = html.contains(r#"data-testid="matched-change""#);
            assert_eq!(
                change, complete,
                "{query} {filter}: a change only when complete"
            );
            // The CSV of this view: the export's rows of those repositories and days.
            let expected_csv: String = full
                .lines()
                .enumerate()
                .filter(|(i, line)| {
                    let c: Vec<&str> = line.split(',').collect();
                    *i == 0
                        || (matching
                            .iter()
                            .any(|r| r.repo_type == c[0] && r.name == c[1])
                            && range.is_none_or(|(a, b)| {
                                let day = date(&c[3][..10]);
                                a <= day && day <= b
                            }))
                })
                .map(|(_, line)| format!("{line}\n"))
                .collect();
            let csv = f
                .app
                .get(
                    &format!("{page}/download-breakdown?{query}&{filter}"),
                    &f.auth,
                )
                .await
                .text();
            assert_eq!(csv, expected_csv, "{query} {filter} view CSV");
        }
    }
}
