//! The dashboard's finish (issue 9): paging, the custom-range form, signed-out browsers and
//! unknown pages, the drill-down's links, the CSV of a view, the table's names and order, and
//! compression. Expected figures come from the CSV text or the store.

use crate::analytics;
use crate::common;

use crate::analytics::{fixture, fixture_with, json, SMALL_CSV, TODAY};
use crate::common::Auth;
use axum::body::Body;
use axum::http::{header, Request};
use hubstats::breakdown::export::write_breakdown;

const PAGE: &str = "/organizations/acme/settings/publisher-analytics";
const API: &str = "/api/organizations/acme/analytics";

async fn html(f: &analytics::Fixture, path: &str) -> String {
    let res = f.app.get_html(path, &f.auth).await;
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res.text()
}

/// The values of attribute `name` in `html`, in order.
fn attrs(html: &str, name: &str) -> Vec<String> {
    html.split(&format!(" {name}=\""))
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

// Regression: `page=99` showed "300–4900 of 300" and an empty table.
#[tokio::test]
async fn a_page_past_the_end_shows_the_last_page() {
    let f = fixture();
    let repos = 4; // acme's repositories in SMALL_CSV
    let t = json(
        &f.app
            .get(&format!("{API}/repos?per_page=3&page=99"), &f.auth)
            .await,
    );
    assert_eq!(
        (t["page"].as_u64(), t["count"].as_u64()),
        (Some(2), Some(repos))
    );
    assert_eq!(t["repos"].as_array().unwrap().len(), 1);
    let page = html(&f, &format!("{PAGE}?per_page=3&page=99&fragment=table")).await;
    assert!(page.contains(r#"data-page="2" data-pages="2""#));
    assert!(page.contains("4–4 of 4 repositories"), "{page}");
    assert_eq!(page.matches("data-testid=\"repo-row\"").count(), 1);
    // Numbered pages, the current one marked, each link keeping the view.
    let page = html(&f, &format!("{PAGE}?per_page=1&page=2&q=a&fragment=table")).await;
    let numbers: Vec<String> = page
        .split("data-testid=\"page-number\">")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect();
    assert_eq!(numbers, ["1", "2", "3", "4"]);
    assert!(page.contains(r#"aria-current="page" class="current" data-testid="page-number">2<"#));
    assert!(page.contains("?q=a&#38;page=3&#38;per_page=1\""), "{page}");
    // Per-page choices, the current one selected.
    let page = html(&f, &format!("{PAGE}?per_page=100")).await;
    for n in [25, 50, 100, 500] {
        assert!(page.contains(&format!("<option value=\"{n}\"")), "{n}");
    }
    assert!(page.contains("<option value=\"100\" selected>"));
}

#[tokio::test]
async fn the_custom_range_has_one_caption_bounds_and_keeps_the_view() {
    let f = fixture();
    let page = html(
        &f,
        &format!("{PAGE}?period=custom&from=2024-02-01&to=2024-02-20&q=al&type=model&sort=name"),
    )
    .await;
    let caption = page.split("data-testid=\"period-caption\"").nth(1).unwrap();
    let caption = &caption[..caption.find("</p>").unwrap()];
    assert_eq!(caption.matches("Feb 1, 2024").count(), 1, "{caption}");
    // The date inputs stop at the first day with data and at the reference day.
    assert!(
        page.contains(r#"min="2023-12-31" max="2024-03-01""#),
        "{page}"
    );
    let form = page
        .split("data-testid=\"custom-range-form\"")
        .nth(1)
        .unwrap();
    let form = &form[..form.find("</form>").unwrap()];
    for (name, value) in [("q", "al"), ("type", "model"), ("sort", "name")] {
        assert!(
            form.contains(&format!(r#"name="{name}" value="{value}""#)),
            "{name}: {form}"
        );
    }
    // Bad dates come back on the page, in words, with the form as it was.
    let res = f
        .app
        .get_html(
            &format!("{PAGE}?period=custom&from=2024-02-30&to=2024-02-01"),
            &f.auth,
        )
        .await;
    assert_eq!(res.status, 400);
    let text = res.text();
    assert!(text.contains("data-testid=\"dashboard\""));
    assert!(text.contains("“2024-02-30” is not a date"), "{text}");
    assert!(text.contains(r#"name="from" value="2024-02-30""#));
    let res = f
        .app
        .get_html(
            &format!("{PAGE}?period=custom&from=2024-02-10&to=2024-02-01"),
            &f.auth,
        )
        .await;
    assert!(res
        .text()
        .contains("The start (Feb 10, 2024) is after the end (Feb 1, 2024)"));
}

#[tokio::test]
async fn signed_out_browsers_go_to_sign_in_and_unknown_pages_are_styled() {
    let f = fixture();
    let asked = format!("{PAGE}?period=last-month&q=a");
    let res = f.app.get_html(&asked, &Auth::None).await;
    assert_eq!(res.status, 303);
    let to = res.header("location").unwrap().to_owned();
    assert_eq!(
        to,
        "/login?next=/organizations/acme/settings/publisher-analytics%3Fperiod%3Dlast-month%26q%3Da"
    );
    // The sign-in form carries `next` and leads back to the page asked for.
    let form = f.app.get_html(&to, &Auth::None).await;
    let next = common::input_value(&form.text(), "next")
        .unwrap()
        .replace("&#38;", "&");
    assert_eq!(next, asked);
    // API and CSV clients keep their 401.
    for path in [API.to_owned(), format!("{PAGE}/download-breakdown")] {
        let res = f.app.get(&path, &Auth::None).await;
        assert_eq!(res.status, 401, "{path}");
    }
    let res = f.app.get_html(&format!("{API}/repos"), &Auth::None).await;
    assert_eq!(res.status, 401);
    // Unknown pages.
    let res = f.app.get_html("/no/such/page", &f.auth).await;
    assert_eq!(res.status, 404);
    assert!(
        res.text().contains("<html") && res.text().contains("There is no page at /no/such/page.")
    );
    let res = f.app.get("/no/such/page", &Auth::None).await;
    assert_eq!(res.status, 404);
    assert!(res.text().starts_with("{\"error\""));
    // A favicon, linked from every page.
    let icon = f.app.get("/favicon.ico", &Auth::None).await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(html(&f, PAGE)
        .await
        .contains(r#"<link rel="icon" href="/static/favicon.svg""#));
}

#[tokio::test]
async fn the_drill_down_links_back_to_the_view_to_the_hub_and_to_its_csv() {
    let f = fixture();
    let view = "?period=last-month&q=alpha&sort=name&page=1&per_page=25";
    let table = html(&f, &format!("{PAGE}{view}&fragment=table")).await;
    let links = attrs(&table, "href");
    let state = "?period=last-month&#38;q=alpha&#38;sort=name&#38;per_page=25";
    let drill = format!("{PAGE}/models/Alpha{state}");
    assert!(links.contains(&drill), "{links:?}");
    let page = html(&f, &drill.replace("&#38;", "&")).await;
    assert!(
        page.contains(&format!(r#"href="{PAGE}{state}" data-testid="back-link""#)),
        "{page}"
    );
    assert!(page.contains(
        r#"href="https://huggingface.co/acme/Alpha" rel="noopener" data-testid="hub-link""#
    ));
    let page = html(&f, &format!("{PAGE}/datasets/alpha")).await;
    assert!(page.contains(r#"href="https://huggingface.co/datasets/acme/alpha""#));
    // The hub is configurable.
    let custom = analytics_app_with_hub("https://hub.example.org/").await;
    assert!(
        custom.contains(r#"href="https://hub.example.org/acme/Alpha""#),
        "{custom}"
    );

    // The repository's CSV: only its rows, only the period's days.
    let page = html(&f, &format!("{PAGE}/models/beta?period=last-month")).await;
    let csv_href = attrs(&page, "href")
        .into_iter()
        .find(|h| h.contains("download-breakdown"))
        .unwrap()
        .replace("&#38;", "&");
    assert_eq!(
        csv_href,
        format!("{PAGE}/download-breakdown?period=last-month&type=model&repo=acme%2Fbeta")
    );
    let csv = f.app.get(&csv_href, &f.auth).await.text();
    let expected: String = SMALL_CSV
        .lines()
        .filter(|l| {
            l.starts_with("model,acme/beta,") && l.split(',').nth(3).unwrap() >= "2024-02-01"
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        csv,
        format!("repoType,repoName,total,timestamp,downloads\n{expected}")
    );
}

/// The drill-down of acme/Alpha on an app whose hub URL is `hub`.
async fn analytics_app_with_hub(hub: &str) -> String {
    let today: hubstats::domain::Day = TODAY.parse().unwrap();
    let app = common::TestApp::with_config(|c| {
        c.today = Some(today);
        c.hub_url = hub.to_owned();
    });
    hubstats::breakdown::import::import_reader(
        app.store.as_ref(),
        "fixture.csv",
        SMALL_CSV.as_bytes(),
        &mut |_| {},
    )
    .unwrap();
    let acme = common::org_name("acme");
    app.store
        .set_plan(&acme, hubstats::domain::Plan::Team)
        .unwrap();
    app.user("alice");
    app.member("acme", "alice", hubstats::domain::Role::Read);
    let auth = Auth::Bearer(app.token("alice"));
    app.get_html(&format!("{PAGE}/models/Alpha"), &auth)
        .await
        .text()
}

#[tokio::test]
async fn the_csv_of_a_view_has_only_its_repositories_and_days() {
    let f = fixture();
    let csv = format!("{PAGE}/download-breakdown");
    let mut full = Vec::new();
    write_breakdown(f.app.store.as_ref(), &common::org_name("acme"), &mut full).unwrap();
    // Without parameters: byte for byte the Hub-compatible export.
    let res = f.app.get(&csv, &f.auth).await;
    assert_eq!(res.body.as_ref().unwrap(), &full);
    assert_eq!(
        res.header("content-disposition"),
        Some("attachment; filename=\"acme-download-breakdown.csv\"")
    );
    let full = String::from_utf8(full).unwrap();
    for (query, keep) in [
        (
            "period=last-month&q=ALPHA&type=model",
            Box::new(|t: &str, n: &str, d: &str| {
                t == "model" && n.to_lowercase().contains("alpha") && d >= "2024-02-01"
            }) as Box<dyn Fn(&str, &str, &str) -> bool>,
        ),
        ("q=a", Box::new(|_: &str, n: &str, _: &str| n.contains('a'))),
        (
            "period=custom&from=2024-01-01&to=2024-01-31",
            Box::new(|_: &str, _: &str, d: &str| ("2024-01-01"..="2024-01-31").contains(&d)),
        ),
        (
            "type=dataset&q=nothing-like-this",
            Box::new(|_: &str, _: &str, _: &str| false),
        ),
    ] {
        let expected: String = full
            .lines()
            .enumerate()
            .filter(|(i, l)| {
                let f: Vec<&str> = l.split(',').collect();
                *i == 0 || keep(f[0], f[1], &f[3][..10])
            })
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        let res = f.app.get(&format!("{csv}?{query}"), &f.auth).await;
        assert_eq!(res.status, 200, "{query}");
        assert_eq!(res.text(), expected, "{query}");
        assert_eq!(
            res.header("content-disposition"),
            Some("attachment; filename=\"acme-download-breakdown-view.csv\"")
        );
    }
    // The dashboard links the view's CSV and tells the full export's size.
    let page = html(&f, &format!("{PAGE}?period=7d&q=alpha&sort=name&page=1")).await;
    assert!(page.contains(&format!(
        r#"href="{csv}?period=7d&#38;q=alpha" download data-testid="csv-view-download""#
    )));
    let size = attrs(&page, "data-size").remove(0);
    assert!(size.ends_with(" B") || size.ends_with(" kB"), "{size}");
}

// Regression: `acme/Zeta` sorted before `acme/alpha` (byte order), and every row repeated
// `acme/`.
#[tokio::test]
async fn names_sort_as_people_read_them_without_the_org_prefix() {
    let csv = "repoType,repoName,total,timestamp,downloads
model,acme/Zeta,1,2024-02-01T00:00:00.000Z,1
model,acme/alpha,1,2024-02-01T00:00:00.000Z,1
model,acme/beta,1,2024-02-01T00:00:00.000Z,1
";
    let f = fixture_with(TODAY, csv);
    let t = json(&f.app.get(&format!("{API}/repos?sort=name"), &f.auth).await);
    let names: Vec<&str> = t["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repoName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme/alpha", "acme/beta", "acme/Zeta"]);
    // The CSV keeps byte order.
    let export = f
        .app
        .get(&format!("{PAGE}/download-breakdown"), &f.auth)
        .await
        .text();
    let order: Vec<&str> = export
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert_eq!(order, ["acme/Zeta", "acme/alpha", "acme/beta"]);
    let page = html(&f, &format!("{PAGE}?fragment=table")).await;
    assert!(!page.contains("<span class=\"owner\">"), "{page}");
    assert!(page.contains(r#"title="acme/Zeta">Zeta</a>"#), "{page}");
}

async fn get_encoded(f: &analytics::Fixture, path: &str, encoding: &str) -> common::TestResponse {
    let req = f
        .auth
        .apply(Request::get(path))
        .header(header::ACCEPT_ENCODING, encoding)
        .body(Body::empty())
        .unwrap();
    f.app.send(req).await
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let f = fixture();
    let css = attrs(&html(&f, PAGE).await, "href")
        .into_iter()
        .find(|h| h.starts_with("/static/dashboard.css"))
        .unwrap();
    let js = css.replace("dashboard.css", "dashboard.js");
    for path in [
        PAGE.to_owned(),
        API.to_owned(),
        css,
        js,
        format!("{PAGE}/download-breakdown"),
    ] {
        for encoding in ["gzip", "br"] {
            let res = get_encoded(&f, &path, encoding).await;
            assert_eq!(res.status, 200, "{path}");
            assert_eq!(res.header("content-encoding"), Some(encoding), "{path}");
        }
        let plain = get_encoded(&f, &path, "identity").await;
        assert_eq!(plain.header("content-encoding"), None, "{path}");
    }
}

// Regression: the All Time daily drill-down of a long-lived repository shipped a hover target
// per day (about 10,000 DOM nodes).
#[tokio::test]
async fn a_long_daily_chart_has_hover_targets_for_the_pixels_available() {
    let mut csv = String::from("repoType,repoName,total,timestamp,downloads\n");
    let start: hubstats::domain::Day = "2021-09-01".parse().unwrap();
    let today: hubstats::domain::Day = TODAY.parse().unwrap();
    let days = start.days_until(today) + 1;
    let total: u64 = (0..days).map(|i| 1 + (i % 7) as u64).sum();
    for i in 0..days {
        csv.push_str(&format!(
            "model,acme/old,{total},{}T00:00:00.000Z,{}\n",
            start.add_days(i),
            1 + i % 7
        ));
    }
    let f = fixture_with(TODAY, &csv);
    let page = html(&f, &format!("{PAGE}/models/old?granularity=day")).await;
    let hits = page.matches("<g class=\"hit\"").count();
    assert!(hits <= 160, "{hits} hover targets");
    assert!(hits >= 100, "{hits} hover targets");
    let sum: u64 = attrs(&page, "data-downloads")
        .iter()
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(sum, total, "the targets cover every day once");
    // The numbers table keeps every day's exact value.
    let table = page
        .split("data-testid=\"repo-series-table\"")
        .nth(1)
        .unwrap();
    assert_eq!(
        table.matches("<tr><th scope=\"row\">").count(),
        days as usize
    );
    let elements = page.matches('<').count() - page.matches("</").count();
    assert!(elements < 4_000, "{elements} elements");
}

// Regression: the pager said "of 20000" where the count said "20,000 repositories".
#[tokio::test]
async fn counts_are_formatted_the_same_everywhere() {
    let mut csv = String::from("repoType,repoName,total,timestamp,downloads\n");
    for i in 0..1001 {
        csv.push_str(&format!(
            "model,acme/m{i:04},1,2024-02-01T00:00:00.000Z,1\n"
        ));
    }
    let f = fixture_with(TODAY, &csv);
    let page = html(&f, &format!("{PAGE}?page=3")).await;
    assert!(page.contains(">1,001 repositories<"), "count");
    assert!(page.contains("101–150 of 1,001 repositories"), "pager");
    let index = html(&f, "/").await;
    assert!(index.contains("read · 1,001 repositories"), "{index}");
}
