//! Figures a person can trust at a glance (issue 9, points 1–5), through the router: no change
//! against a previous period the data does not cover, ranges clipped to the reference day,
//! ranges before the data, All Time reconciled with daily history, and totals of a filter.
//! Expected figures come from the imported CSV text, never from the rendering code.

use crate::analytics;
use crate::common;

use crate::analytics::{fixture, fixture_with, json, SMALL_CSV, TODAY};

const PAGE: &str = "/organizations/acme/settings/publisher-analytics";
const API: &str = "/api/organizations/acme/analytics";

/// One row of a breakdown CSV text.
struct Row {
    repo_type: String,
    name: String,
    day: String,
    downloads: u64,
}

fn rows(csv: &str) -> Vec<Row> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                repo_type: f[0].to_owned(),
                name: f[1].to_owned(),
                day: f[3][..10].to_owned(),
                downloads: f[4].parse().unwrap(),
            }
        })
        .filter(|r| r.name.starts_with("acme/"))
        .collect()
}

/// Downloads of the rows `keep` selects on the days `from..=to`.
fn sum(csv: &str, from: &str, to: &str, keep: impl Fn(&Row) -> bool) -> u64 {
    rows(csv)
        .iter()
        .filter(|r| keep(r) && r.day.as_str() >= from && r.day.as_str() <= to)
        .map(|r| r.downloads)
        .sum()
}

/// The first day with downloads of the rows `keep` selects.
fn first_day(csv: &str, keep: impl Fn(&Row) -> bool) -> String {
    rows(csv)
        .iter()
        .filter(|r| keep(r))
        .map(|r| r.day.clone())
        .min()
        .unwrap()
}

async fn html(f: &analytics::Fixture, path: &str) -> (u16, String) {
    let res = f.app.get_html(path, &f.auth).await;
    (res.status.as_u16(), res.text())
}

/// The element of `html` that carries `data-testid="{testid}"`, up to the end of its line.
fn testid<'a>(html: &'a str, testid: &str) -> Option<&'a str> {
    let at = html.find(&format!("data-testid=\"{testid}\""))?;
    let start = html[..at].rfind('<')?;
    let end = html[at..].find('\n').map_or(html.len(), |e| at + e);
    Some(&html[start..end])
}

// Regression: Northwind-Labs (data from 2025-06-07) showed "+159.3% vs the previous 365 days".
#[tokio::test]
async fn no_change_against_a_previous_period_before_the_data() {
    let f = fixture();
    let first = first_day(SMALL_CSV, |_| true);
    assert_eq!(first, "2023-12-31");
    // 90 days ending 2024-03-01 start on 2023-12-03; the 90 before start on 2023-09-04.
    let o = json(&f.app.get(&format!("{API}?period=90d"), &f.auth).await);
    assert_eq!(o["previousComplete"], false);
    assert!(o["previous"]["all"].is_u64(), "the API keeps `previous`");
    // Last Month's previous period starts on 2024-01-02, after the first day.
    let o = json(
        &f.app
            .get(&format!("{API}?period=last-month"), &f.auth)
            .await,
    );
    assert_eq!(o["previousComplete"], true);
    let o = json(&f.app.get(API, &f.auth).await);
    assert_eq!(
        o["previousComplete"], false,
        "All Time has no previous period"
    );

    let (_, page) = html(&f, &format!("{PAGE}?period=90d")).await;
    assert!(
        page.contains("no full previous period (data starts Dec 31, 2023)"),
        "{page}"
    );
    assert!(!page.contains("data-testid=\"total-all-change\""));
    assert!(!page.contains('%'), "no percentage anywhere on the page");
    let (_, page) = html(&f, &format!("{PAGE}?period=last-month")).await;
    assert!(page.contains("data-testid=\"total-all-change\""));

    // The table: per repository. acme/Alpha starts on 2024-02-28, acme/beta on 2023-12-31.
    let t = json(
        &f.app
            .get(&format!("{API}/repos?period=last-month&sort=name"), &f.auth)
            .await,
    );
    for row in t["repos"].as_array().unwrap() {
        let (t, name) = (
            row["repoType"].as_str().unwrap(),
            row["repoName"].as_str().unwrap(),
        );
        let first = first_day(SMALL_CSV, |r| r.name == name && r.repo_type == t);
        let complete = first.as_str() <= "2024-01-02";
        assert_eq!(row["previousComplete"], complete, "{t} {name}");
        assert!(row["previousDownloads"].is_u64(), "{name}");
    }
    let (_, page) = html(&f, &format!("{PAGE}?period=last-month&fragment=table")).await;
    let alpha = page
        .split("data-repo-name=\"acme/Alpha\"")
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap();
    assert!(
        alpha.contains("data-previous-complete=\"false\""),
        "{alpha}"
    );
    assert!(
        alpha.contains("title=\"no full previous period (data starts Feb 28, 2024)\">—<"),
        "{alpha}"
    );
    let beta = page.split("data-repo-name=\"acme/beta\"").nth(1).unwrap();
    let beta = beta.split("</tr>").next().unwrap();
    assert!(beta.contains("class=\"change down\""), "{beta}");
    // The drill-down says the same.
    let (_, page) = html(&f, &format!("{PAGE}/models/Alpha?period=last-month")).await;
    assert!(page.contains("no full previous period (data starts Feb 28, 2024)"));
    assert!(!page.contains("data-testid=\"repo-change\""));
}

// Regression: a custom range past the reference day drew the future as a crash to zero.
#[tokio::test]
async fn ranges_are_clipped_to_the_reference_day() {
    let f = fixture();
    let query = "period=custom&from=2024-02-20&to=2024-03-20";
    let o = json(&f.app.get(&format!("{API}?{query}"), &f.auth).await);
    assert_eq!(o["period"]["to"], TODAY);
    let points = o["series"].as_array().unwrap();
    assert_eq!(points.len(), 11, "Feb 20 ..= Mar 1");
    assert_eq!(points.last().unwrap()["date"], TODAY);
    assert_eq!(
        o["totals"]["all"].as_u64().unwrap(),
        sum(SMALL_CSV, "2024-02-20", TODAY, |_| true)
    );
    // The previous period has the clipped range's length (11 days).
    assert_eq!(
        o["previous"]["all"].as_u64().unwrap(),
        sum(SMALL_CSV, "2024-02-09", "2024-02-19", |_| true)
    );
    let (status, page) = html(&f, &format!("{PAGE}?{query}")).await;
    assert_eq!(status, 200);
    let caption = testid(&page, "period-caption").unwrap();
    assert!(
        caption.contains("clipped to today (Mar 1, 2024)"),
        "{caption}"
    );

    // A range that starts after the reference day: the API names the parameter...
    let future = "period=custom&from=2024-03-05&to=2024-03-09";
    let res = f.app.get(&format!("{API}?{future}"), &f.auth).await;
    assert_eq!(res.status, 400);
    assert!(res.text().contains("`from`"), "{}", res.text());
    // ... the page answers on itself, with the form kept.
    let (status, page) = html(&f, &format!("{PAGE}?{future}&q=alpha")).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("data-testid=\"dashboard\""),
        "the dashboard, not an error page"
    );
    let problem = testid(&page, "custom-range-problem").unwrap();
    assert!(problem.contains("after today (Mar 1, 2024)"), "{problem}");
    assert!(!problem.contains('`'), "no parameter names: {problem}");
    assert!(page.contains("<details class=\"custom-range\" open>"));
    assert_eq!(
        common::input_value(&page, "from").as_deref(),
        Some("2024-03-05")
    );
    assert!(page.contains(r#"name="to" value="2024-03-09""#));
    assert!(page.contains(r#"<input type="hidden" name="q" value="alpha">"#));
}

// Regression: a range before the data drew a flat chart up to 1 over hundreds of zero rows.
#[tokio::test]
async fn a_range_before_the_data_says_when_data_starts() {
    let f = fixture();
    let before = "period=custom&from=2023-01-01&to=2023-01-31";
    assert_eq!(sum(SMALL_CSV, "2023-01-01", "2023-01-31", |_| true), 0);
    let (_, page) = html(&f, &format!("{PAGE}?{before}")).await;
    assert!(
        testid(&page, "chart-empty")
            .unwrap()
            .contains("No downloads in this range: data starts Dec 31, 2023."),
        "{page}"
    );
    assert!(!page.contains("<svg class=\"chart\""));
    assert!(page.contains("data-testid=\"empty-before-data\""));
    assert!(!page.contains("data-testid=\"repo-row\""));
    let (_, page) = html(&f, &format!("{PAGE}/models/Alpha?{before}")).await;
    assert!(testid(&page, "chart-empty")
        .unwrap()
        .contains("data starts Feb 28, 2024"));
}

// Regression: the drill-down said "including 1,000 before daily history" under a figure the
// sparkline contradicted ("13 downloads in all"), and months read "on Jan 1, 2024".
#[tokio::test]
async fn all_time_figures_say_what_predates_daily_history() {
    let f = fixture();
    // acme/Alpha: total 1013, 13 downloads in daily history.
    let daily = sum(SMALL_CSV, "2000-01-01", "2999-12-31", |r| {
        r.name == "acme/Alpha"
    });
    assert_eq!(daily, 13);
    let (_, page) = html(&f, &format!("{PAGE}/models/Alpha")).await;
    let note = testid(&page, "repo-downloads-note").unwrap();
    assert!(
        note.contains("1,013 all time, of which 1,000 before daily history"),
        "{note}"
    );
    let (_, table) = html(&f, &format!("{PAGE}?fragment=table")).await;
    let row = table.split("data-repo-name=\"acme/Alpha\"").nth(1).unwrap();
    let row = row.split("</tr>").next().unwrap();
    assert!(row.contains(">1,013<"), "the row shows the total");
    assert!(row.contains("13 downloads in all;"), "{row}");
    assert!(
        row.contains(
            "; daily history only: the all-time total, 1,013, includes 1,000 counted before it."
        ),
        "{row}"
    );

    // Months are named as months.
    let months = "period=custom&from=2024-01-01&to=2024-02-29&granularity=month";
    let (_, page) = html(&f, &format!("{PAGE}/models/beta?{months}")).await;
    let jan = sum(SMALL_CSV, "2024-01-01", "2024-01-31", |r| {
        r.name == "acme/beta"
    });
    assert!(page.contains(&format!("peak {jan} in Jan 2024")), "{page}");
    assert!(page.contains("<th scope=\"row\">Jan 2024</th>"), "{page}");
    assert!(!page.contains("on Jan 1, 2024"));
}

// Regression: with a search, the only figures were organization-wide.
#[tokio::test]
async fn a_search_shows_the_matching_repositories_total() {
    let f = fixture();
    let alpha = |r: &Row| r.name.to_ascii_lowercase().contains("alpha");
    let now = sum(SMALL_CSV, "2024-02-01", TODAY, alpha);
    let before = sum(SMALL_CSV, "2024-01-02", "2024-01-31", alpha);
    assert_eq!((now, before), (19, 0));
    for path in [
        format!("{PAGE}?period=last-month&q=alpha"),
        format!("{PAGE}?period=last-month&q=alpha&fragment=table"),
    ] {
        let (_, page) = html(&f, &path).await;
        let count = testid(&page, "repo-count").unwrap();
        assert!(
            count.contains(&format!(
                "data-testid=\"matched-total\" data-value=\"{now}\""
            )),
            "{count}"
        );
        assert!(
            count.contains("2 repositories matching “alpha”</span>"),
            "{count}"
        );
        assert!(
            count.contains(&format!(
                ": <strong title=\"{now} downloads\">{now} downloads</strong> in Last Month"
            )),
            "{count}"
        );
        // Both matching repositories start after the previous period's first day.
        assert!(
            count.contains("no full previous period (data starts Feb 1, 2024)"),
            "{count}"
        );
    }
    let (_, page) = html(&f, &format!("{PAGE}?period=last-month&q=alpha")).await;
    let all = sum(SMALL_CSV, "2024-02-01", TODAY, |_| true);
    assert!(page.contains(&format!("data-testid=\"total-all\" data-value=\"{all}\"")));
    assert!(!testid(&page, "totals-scope").unwrap().contains(" hidden"));
    let (_, page) = html(&f, &format!("{PAGE}?period=last-month")).await;
    assert!(testid(&page, "totals-scope").unwrap().contains(" hidden"));
    assert!(!page.contains("data-testid=\"matched-total\""));

    // A type filter, All Time: the totals (adjustments included), from the store.
    let models: u64 = f
        .app
        .store
        .repos(&common::org_name("acme"))
        .unwrap()
        .iter()
        .filter(|r| r.key.repo_type == hubstats::domain::RepoType::Model)
        .map(|r| r.total)
        .sum();
    let (_, page) = html(&f, &format!("{PAGE}?type=model&fragment=table")).await;
    assert!(page.contains(&format!(
        "data-testid=\"matched-total\" data-value=\"{models}\""
    )));
    // And with a change, over a complete previous period.
    let f = fixture_with(TODAY, SMALL_CSV);
    let beta = |r: &Row| r.name == "acme/beta";
    let (now, before) = (
        sum(SMALL_CSV, "2024-02-01", TODAY, beta),
        sum(SMALL_CSV, "2024-01-02", "2024-01-31", beta),
    );
    let (_, page) = html(
        &f,
        &format!("{PAGE}?period=last-month&q=beta&fragment=table"),
    )
    .await;
    let change = testid(&page, "matched-change").unwrap();
    let expected = format!("\u{2212}{}", before - now);
    assert!(change.contains(&expected), "{change}");
}

// Regression: one stored day in 2460 made All Time a 400 ("a period of 159095 days is too long
// to chart") on the overview, the table and the dashboard; a day in 2100 stretched the chart to
// 2100. Ingest now refuses such days, but a store may hold some from before it did.
#[tokio::test]
async fn future_days_already_stored_leave_all_time_ending_on_the_reference_day() {
    use hubstats::domain::RepoType;
    let f = fixture();
    // Written through the store, past the ingest's check.
    f.app
        .downloads(RepoType::Model, "acme/Alpha", "2460-01-01", 7);
    f.app
        .downloads(RepoType::Dataset, "acme/alpha", "2100-06-01", 3);
    f.app
        .downloads(RepoType::Model, "acme/later", "2460-01-01", 2);
    let last_date = |series: &serde_json::Value| {
        let points = series.as_array().unwrap();
        points.last().unwrap()["date"].as_str().unwrap().to_owned()
    };

    let o = json(&f.app.get(API, &f.auth).await);
    assert_eq!(last_date(&o["series"]), TODAY, "{o}");
    assert_eq!(o["granularity"], "day", "Dec 31, 2023 ..= Mar 1, 2024");
    let charted: u64 = (o["series"].as_array().unwrap().iter())
        .map(|p| p["downloads"].as_u64().unwrap())
        .sum();
    assert_eq!(charted, sum(SMALL_CSV, "2000-01-01", TODAY, |_| true));

    let table = json(&f.app.get(&format!("{API}/repos"), &f.auth).await);
    let rows = table["repos"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{table}");
    for row in rows {
        assert_eq!(last_date(&row["series"]), TODAY, "{row}");
    }

    // A repository whose only day is in the future: a chart of the reference day alone.
    for repo in ["model/acme/later", "model/acme/Alpha"] {
        let d = json(&f.app.get(&format!("{API}/repos/{repo}"), &f.auth).await);
        assert_eq!(last_date(&d["series"]), TODAY, "{d}");
    }

    for path in [
        PAGE.to_owned(),
        format!("{PAGE}?fragment=table"),
        format!("{PAGE}/models/later"),
        format!("{PAGE}/models/Alpha"),
    ] {
        let (status, page) = html(&f, &path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(!page.contains("too long to chart"), "{path}");
    }
}
