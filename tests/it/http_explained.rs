//! The dashboard explains its numbers, through the router: the table's order and URLs, the
//! organization's address in any case, sizes and partial buckets in words, where figures come
//! from and how fresh they are (reference day pinned). Expected figures come from the CSV text.

use crate::analytics;

use crate::analytics::{fixture, json};
use crate::common::Auth;
use hubstats::domain::{Plan, Role};

const PAGE: &str = "/organizations/acme/settings/publisher-analytics";
const API: &str = "/api/organizations/acme/analytics";

async fn html(f: &analytics::Fixture, path: &str) -> String {
    let res = f.app.get_html(path, &f.auth).await;
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    res.text()
}

/// The values of attribute `name` on the table's rows, in order.
fn row_attrs(html: &str, name: &str) -> Vec<String> {
    html.split("data-testid=\"repo-row\"")
        .skip(1)
        .map(|row| {
            let v = row.split(&format!(" {name}=\"")).nth(1).unwrap();
            v[..v.find('"').unwrap()].to_owned()
        })
        .collect()
}

// Regression: `sort=change&order=asc` listed the repositories without a change ("—") first.
#[tokio::test]
async fn rows_without_a_change_come_last_in_either_order() {
    let f = fixture();
    // Last Month (Feb 1 – Mar 1, 2024): acme/beta (data from Dec 31) and acme/gamma (Jan 1)
    // cover the previous 30 days: −7 and −2; the two others have no change.
    for (order, first) in [
        ("asc", ["acme/beta", "acme/gamma"]),
        ("desc", ["acme/gamma", "acme/beta"]),
    ] {
        let page = html(
            &f,
            &format!("{PAGE}?period=last-month&sort=change&order={order}&fragment=table"),
        )
        .await;
        let complete = row_attrs(&page, "data-previous-complete");
        assert_eq!(complete, ["true", "true", "false", "false"], "{order}");
        assert_eq!(row_attrs(&page, "data-repo-name")[..2], first, "{order}");
        let t = json(
            &f.app
                .get(
                    &format!("{API}/repos?period=last-month&sort=change&order={order}"),
                    &f.auth,
                )
                .await,
        );
        assert_eq!(t["repos"][0]["repoName"], first[0], "{order}: {t}");
        assert_eq!(t["repos"][3]["previousComplete"], false, "{order}: {t}");
    }
}

// Regression: `/organizations/northwind-labs/…` answered 404 while `Northwind-Labs` exists
// (names are unique ignoring case).
#[tokio::test]
async fn an_organization_in_another_case_redirects_to_its_stored_spelling() {
    let f = fixture();
    f.app.org("Northwind-Labs", Plan::Team);
    f.app.member("Northwind-Labs", "alice", Role::Read);
    let cases = [
        (
            "/organizations/northwind-labs/settings/publisher-analytics?period=7d&q=a%20b",
            "/organizations/Northwind-Labs/settings/publisher-analytics?period=7d&q=a%20b",
        ),
        (
            "/organizations/ACME/settings/publisher-analytics/models/Alpha",
            "/organizations/acme/settings/publisher-analytics/models/Alpha",
        ),
        (
            "/organizations/Acme/settings/publisher-analytics/download-breakdown",
            "/organizations/acme/settings/publisher-analytics/download-breakdown",
        ),
        (
            "/api/organizations/aCmE/analytics/repos?sort=name",
            "/api/organizations/acme/analytics/repos?sort=name",
        ),
    ];
    for (asked, stored) in cases {
        for res in [
            f.app.get_html(asked, &f.auth).await,
            f.app.get(asked, &f.auth).await,
        ] {
            assert_eq!(res.status, 308, "{asked}: {}", res.text());
            assert_eq!(res.header("location"), Some(stored), "{asked}");
        }
        let res = f.app.get(stored, &f.auth).await;
        assert_eq!(res.status, 200, "{stored}: {}", res.text());
    }
    // An organization that exists in no case is still a 404, and signed-out callers learn
    // nothing (sign in first).
    let res = f
        .app
        .get_html(
            "/organizations/acme-labs/settings/publisher-analytics",
            &f.auth,
        )
        .await;
    assert_eq!(res.status, 404);
    let res = f
        .app
        .get(
            "/organizations/ACME/settings/publisher-analytics",
            &Auth::None,
        )
        .await;
    assert_eq!(res.status, 401);
}

// Regression: a week cut to its first day said "partial week (1 of 7 day)".
#[tokio::test]
async fn a_bucket_cut_to_one_day_says_days() {
    let f = fixture();
    // Jan 1 – Feb 26, 2024 by week: the last week is Monday Feb 26 alone.
    let page = html(
        &f,
        &format!("{PAGE}/models/beta?period=custom&from=2024-01-01&to=2024-02-26&granularity=week"),
    )
    .await;
    assert!(page.contains("partial week (1 of 7 days)"), "{page}");
    assert!(!page.contains("of 7 day)"), "{page}");
}

/// The custom-range form's `from` and `to` values.
fn custom_values(page: &str) -> (String, String) {
    let value = |testid: &str| {
        let input = page
            .split(&format!("data-testid=\"{testid}\""))
            .next()
            .unwrap();
        let input = &input[input.rfind("<input").unwrap()..];
        let v = input.split(" value=\"").nth(1).unwrap();
        v[..v.find('"').unwrap()].to_owned()
    };
    (value("custom-from"), value("custom-to"))
}

// Regression: the Custom range popover opened empty instead of with the range shown.
#[tokio::test]
async fn the_custom_range_form_opens_on_the_range_shown() {
    let f = fixture();
    for (query, from, to) in [
        ("?period=last-month", "2024-02-01", "2024-03-01"),
        ("?period=7d&q=a", "2024-02-24", "2024-03-01"),
        // All Time: from the first day with data (acme/beta's Dec 31, 2023).
        ("", "2023-12-31", "2024-03-01"),
        (
            "?period=custom&from=2024-01-05&to=2024-01-09",
            "2024-01-05",
            "2024-01-09",
        ),
    ] {
        let page = html(&f, &format!("{PAGE}{query}")).await;
        assert_eq!(custom_values(&page), (from.into(), to.into()), "{query}");
        let page = html(&f, &format!("{PAGE}/models/beta{query}")).await;
        assert_eq!(custom_values(&page), (from.into(), to.into()), "{query}");
    }
}

/// The `name="…" value="…"` pairs of the hidden inputs of the form marked `testid`.
fn hidden_inputs(page: &str, testid: &str) -> Vec<(String, String)> {
    let form = page
        .split(&format!("data-testid=\"{testid}\""))
        .nth(1)
        .unwrap();
    let form = &form[..form.find("</form>").unwrap()];
    form.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|s| {
            let name = &s[..s.find('"').unwrap()];
            let value = s.split("value=\"").nth(1).unwrap();
            (
                name.to_owned(),
                value[..value.find('"').unwrap()].to_owned(),
            )
        })
        .collect()
}

// Regression: live search wrote the defaults its form carried (`period=all-time&sort=downloads
// &order=desc`) into the URL, which the sort links leave out: one view, two URLs.
#[tokio::test]
async fn every_way_to_a_view_writes_its_one_url() {
    let f = fixture();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    // The search form keeps only what is not a default, in the URL's order: the period before
    // the search box, the sort after the type filter.
    let page = html(&f, PAGE).await;
    assert_eq!(hidden_inputs(&page, "search-form"), pairs(&[]));
    assert!(page.contains(&format!(r#"<link rel="canonical" href="{PAGE}">"#)));
    let page = html(&f, &format!("{PAGE}?period=7d&sort=name&order=asc&page=1")).await;
    assert_eq!(
        hidden_inputs(&page, "search-form"),
        pairs(&[("period", "7d"), ("sort", "name")])
    );
    let form = page.split("data-testid=\"search-form\"").nth(1).unwrap();
    let (q, sort) = (
        form.find("name=\"q\"").unwrap(),
        form.find("name=\"sort\"").unwrap(),
    );
    assert!(q < sort, "the search box comes before the sort's input");
    assert!(page.contains(&format!(
        r#"<link rel="canonical" href="{PAGE}?period=7d&#38;sort=name">"#
    )));
    // The custom range's hidden inputs come after its dates.
    assert_eq!(
        hidden_inputs(&page, "custom-range-form"),
        pairs(&[("period", "custom"), ("sort", "name")])
    );
    let custom = page
        .split("data-testid=\"custom-range-form\"")
        .nth(1)
        .unwrap();
    assert!(custom.find("name=\"to\"").unwrap() < custom.find("name=\"sort\"").unwrap());
    // The table says which URL it shows, whatever spelling asked for it: the script writes
    // that one into the address bar.
    for (asked, url) in [
        (
            "?q=%20alp&type=&per_page=50&period=all-time&sort=downloads&order=desc",
            "?q=alp",
        ),
        (
            "?sort=name&order=asc&page=1&q=a%20b",
            "?q=a%20b&#38;sort=name",
        ),
        ("?per_page=1&page=99", "?page=4&#38;per_page=1"),
    ] {
        let fragment = html(&f, &format!("{PAGE}{asked}&fragment=table")).await;
        assert!(
            fragment.contains(&format!(r#" data-url="{PAGE}{url}""#)),
            "{asked}: {fragment}"
        );
    }
}

// Regression: the CSV button's size ("~7.9 MB") gave no unit convention, and the CLI's
// progress bars counted in binary units: one convention (decimal), said on the button.
#[tokio::test]
async fn the_csv_button_gives_its_size_in_decimal_units() {
    let (f, org) = analytics::demo_fixture("2025-06-30", 300);
    let page = html(
        &f,
        &format!("/organizations/{org}/settings/publisher-analytics"),
    )
    .await;
    let button = page.split("data-testid=\"csv-download\"").nth(1).unwrap();
    let button = &button[..button.find("</a>").unwrap()];
    let attr = |name: &str| {
        let v = button.split(&format!(" {name}=\"")).nth(1).unwrap();
        v[..v.find('"').unwrap()].to_owned()
    };
    let bytes: u64 = attr("data-bytes").parse().unwrap();
    let size = attr("data-size");
    let (value, unit) = size.split_once(' ').unwrap();
    let scale = match unit {
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other}: {button}"),
    };
    let value: f64 = value.parse().unwrap();
    assert!(
        (value * scale - bytes as f64).abs() <= 0.05 * scale,
        "{size} for {bytes} bytes"
    );
    assert!(button.contains(&format!("~{size}</span>")), "{button}");
    assert!(button.contains("1 MB = 1,000,000 bytes"), "{button}");
}

// The page that says what the figures count: UTC days, today in progress, the rules this
// server applies (its rules file's), the client classes; linked once from each page.
#[tokio::test]
async fn the_dashboard_links_once_to_what_a_download_is() {
    let f = fixture();
    for path in [PAGE.to_owned(), format!("{PAGE}/models/Alpha?period=7d")] {
        let page = html(&f, &path).await;
        assert_eq!(
            page.matches(r#"href="/about/downloads""#).count(),
            1,
            "{path}"
        );
        assert!(page.contains("Days are UTC."), "{path}");
    }
    // Public: it holds no organization's data.
    let res = f.app.get_html("/about/downloads", &Auth::None).await;
    assert_eq!(res.status, 200);
    let about = res.text();
    for needle in [
        "UTC calendar day",
        "reference day (Mar 1, 2024)",
        "<code>GET</code> or <code>HEAD</code> answered <code>200</code>, <code>302</code>, <code>304</code> or <code>307</code>",
        "<code>config.json</code>",
        "<code>*.gguf</code>",
        "within one fixed 5-minute window (:00, :05, :10, … UTC)",
        "<code>huggingface_hub</code>",
        "<code>other</code>",
        "before daily history",
    ] {
        assert!(about.contains(needle), "missing {needle}: {about}");
    }
    // A rules file's rules are the ones shown.
    let app = crate::common::TestApp::with_config(|c| {
        c.rules = hubstats::ingest::Rules::parse_toml(
            "dataset_window_secs = 3600\nmethods = [\"GET\"]\n",
        )
        .unwrap();
    });
    let about = app.get_html("/about/downloads", &Auth::None).await.text();
    assert!(about.contains("within one fixed 1-hour window"), "{about}");
    assert!(about.contains("<code>GET</code> answered"), "{about}");
}

/// The text of the element marked `testid` (tags dropped).
fn text_of(page: &str, testid: &str) -> String {
    let at = page.find(&format!("data-testid=\"{testid}\"")).unwrap();
    let open = at + page[at..].find('>').unwrap() + 1;
    let end = open + page[open..].find("</p>").unwrap();
    let mut text = String::new();
    let mut in_tag = false;
    for c in page[open..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

// The organization's page says how far its data goes and from which sources (and when each
// last wrote), then that days are UTC.
#[tokio::test]
async fn the_page_says_how_far_the_data_goes_and_where_it_comes_from() {
    let f = fixture();
    let page = html(&f, PAGE).await;
    // SMALL_CSV's last day of acme is Mar 1, 2024 (acme/Alpha).
    assert!(page.contains(r#"data-testid="data-through" data-day="2024-03-01""#));
    let note = text_of(&page, "figures-note");
    assert!(
        note.starts_with(
            "Data through Mar 1, 2024 (breakdown CSV imported just now). Days are UTC."
        ),
        "{note}"
    );
    assert!(page.contains(r#"data-source="breakdown">breakdown CSV imported <time datetime=""#));
    // Request logs of acme: a second source, named with its last ingest.
    let log = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region\n\
               2024-02-10T10:00:00.000Z,200,GET,acme/beta,model,u1,ip1,FR,IDF\n";
    hubstats::ingest::ingest_reader(
        f.app.store.as_ref(),
        "logs.csv",
        log.as_bytes(),
        hubstats::ingest::Format::HfCsv,
        &hubstats::ingest::Rules::default(),
        &mut |_| {},
    )
    .unwrap();
    let note = text_of(&html(&f, PAGE).await, "figures-note");
    assert!(
        note.starts_with(
            "Data through Mar 1, 2024 (breakdown CSV imported just now; request logs, last \
             ingest just now). Days are UTC."
        ),
        "{note}"
    );
    // Another organization's sources are not this one's.
    let rival = "repoType,repoName,total,timestamp,downloads\n\
                 model,rival/x,1,2024-03-01T00:00:00.000Z,1\n";
    let other = analytics::fixture_with(analytics::TODAY, rival);
    let note = text_of(&html(&other, PAGE).await, "figures-note");
    assert!(
        note.starts_with("Days are UTC."),
        "acme has no data: {note}"
    );
}

/// The chart's hover groups (`<g class="hit" …>…</g>`) of the element with id `chart`.
fn hover_groups(page: &str, chart: &str) -> Vec<String> {
    let svg = (page.split(&format!("<svg class=\"chart\" id=\"{chart}\"")))
        .nth(1)
        .unwrap();
    let svg = &svg[..svg.find("</svg>").unwrap()];
    svg.split("<g class=\"hit\"")
        .skip(1)
        .map(|g| g[..g.find("</g>").unwrap()].to_owned())
        .collect()
}

// Regression: on a store whose data ends on Mar 1, served on Mar 14, Last 7 days showed
// "0 … −N (−100.0%)" in red; the chart a fall to zero.
#[tokio::test]
async fn a_period_past_the_last_data_says_so_instead_of_a_fall_to_zero() {
    let f = analytics::fixture_with("2024-03-14", analytics::SMALL_CSV);
    let page = html(&f, &format!("{PAGE}?period=7d")).await;
    let cards = page.split("data-testid=\"totals\"").nth(1).unwrap();
    let cards = &cards[..cards.find("</section>").unwrap()];
    assert!(!cards.contains("change down"), "{cards}");
    assert!(!cards.contains("100.0%"), "{cards}");
    assert_eq!(
        cards
            .matches("no downloads recorded after Mar 1, 2024")
            .count(),
        3,
        "{cards}"
    );
    assert!(page.contains(
        r#"data-testid="chart-empty">No downloads recorded after Mar 1, 2024: this range has no data yet."#
    ));
    // The table's rows have no change either, and say why.
    let table = html(&f, &format!("{PAGE}?period=7d&fragment=table")).await;
    assert!(!table.contains("change down"), "{table}");
    assert!(table.contains(r#"title="no downloads recorded after Mar 1, 2024">—<"#));
    assert!(table.contains(
        r#"data-testid="empty-period">No downloads recorded after Mar 1, 2024: nothing in this period yet.<"#
    ));
    // Last Month reaches back into the data: the days after Mar 1 are not drawn as zeros.
    let page = html(&f, &format!("{PAGE}?period=last-month")).await;
    let hits = hover_groups(&page, "org-chart");
    assert_eq!(hits.len(), 30);
    let missing: Vec<&String> = hits.iter().filter(|h| h.contains("data-missing")).collect();
    assert_eq!(missing.len(), 13, "Mar 2 – Mar 14");
    assert!(missing[0].contains(r#"data-date="2024-03-02""#));
    assert!(
        missing[0].contains("Mar 2, 2024 · no data yet: no data</title>"),
        "{}",
        missing[0]
    );
    assert!(!page.contains("change down"));
    // The same store served on Mar 2: data through yesterday covers a period ending today.
    let f = analytics::fixture_with("2024-03-02", analytics::SMALL_CSV);
    let page = html(&f, &format!("{PAGE}?period=7d")).await;
    assert!(!page.contains("no downloads recorded after"), "{page}");
}

// Regression: 90 days of an organization whose data starts 62 days ago drew a flat line at 0
// for the first 28; a repository's sparkline likewise before its first day.
#[tokio::test]
async fn days_before_the_first_data_are_not_drawn_as_zeros() {
    let f = fixture();
    // 90 days: Dec 3, 2023 – Mar 1, 2024; acme's data starts Dec 31.
    let page = html(&f, &format!("{PAGE}?period=90d")).await;
    let hits = hover_groups(&page, "org-chart");
    let missing: Vec<&String> = hits.iter().filter(|h| h.contains("data-missing")).collect();
    assert_eq!(missing.len(), 28, "Dec 3 – Dec 30");
    assert!(missing[0].contains("Dec 3, 2023 · before the first data: no data</title>"));
    assert!(!hits[28].contains("data-missing"), "{}", hits[28]);
    // The numbers table says it too, without a zero.
    assert!(page.contains("Dec 3, 2023 <span class=\"muted\">· before the first data</span></th><td class=\"num\">—</td>"), "{page}");
    // acme/Alpha's data starts Feb 28: its sparkline has no value before.
    let table = html(&f, &format!("{PAGE}?period=last-month&fragment=table")).await;
    let alpha = table.split("data-repo-name=\"acme/Alpha\"").nth(1).unwrap();
    let values = alpha.split("data-values=\"").nth(1).unwrap();
    let values: Vec<&str> = values[..values.find('"').unwrap()].split(',').collect();
    assert_eq!(values.len(), 30);
    assert!(values[..27].iter().all(|v| v.is_empty()), "{values:?}");
    assert_eq!(values[27..], ["5", "7", "1"]);
    // The drill-down's chart likewise.
    let page = html(&f, &format!("{PAGE}/models/Alpha?period=last-month")).await;
    let hits = hover_groups(&page, "repo-chart");
    assert_eq!(
        hits.iter().filter(|h| h.contains("data-missing")).count(),
        27
    );
}

// Today is still counting: its point on a daily chart is drawn as in progress and says so,
// and so do the caption and the table when the period ends today.
#[tokio::test]
async fn today_is_marked_as_in_progress() {
    let f = fixture();
    let page = html(&f, &format!("{PAGE}?period=last-month")).await;
    let hits = hover_groups(&page, "org-chart");
    let last = hits.last().unwrap();
    assert!(last.contains(r#"data-date="2024-03-01""#) && last.contains("data-today"));
    assert!(
        last.contains("Mar 1, 2024 · today, in progress: 1 downloads</title>"),
        "{last}"
    );
    assert_eq!(hits.iter().filter(|h| h.contains("data-today")).count(), 1);
    assert!(page.contains(r#"data-testid="today-in-progress">today is still counting<"#));
    assert!(page.contains("Last Month includes today, still counting"));
    assert!(page.contains("Mar 1, 2024 <span class=\"muted\">· today, in progress</span>"));
    let drill = html(&f, &format!("{PAGE}/models/Alpha?period=7d")).await;
    assert!(hover_groups(&drill, "repo-chart")
        .last()
        .unwrap()
        .contains("data-today"));
    // A range that ends before today has nothing in progress.
    let page = html(
        &f,
        &format!("{PAGE}?period=custom&from=2024-02-01&to=2024-02-29"),
    )
    .await;
    assert!(
        !page.contains("in progress") && !page.contains("still counting"),
        "{page}"
    );
}

// Regression: the full CSV's totals did not add up to the All downloads card when a
// repository had only downloads from before daily history (it has no row), and nothing said
// why.
#[tokio::test]
async fn the_page_says_why_the_csv_totals_fall_short_of_all_time() {
    use hubstats::domain::{RepoKey, RepoName, RepoType};
    use hubstats::store::{SourceId, WriteMode};
    let f = fixture();
    let page = html(&f, PAGE).await;
    assert!(
        !page.contains("data-testid=\"csv-note\""),
        "every repository has rows"
    );
    // A repository a hub's first snapshot counted 500 before any day.
    let old = RepoKey {
        repo_type: RepoType::Model,
        name: RepoName::parse("acme/old-model").unwrap(),
    };
    let mut w = f
        .app
        .store
        .write(&SourceId::hub(), WriteMode::Merge)
        .unwrap();
    w.set_total(&old, 500).unwrap();
    w.commit().unwrap();
    let page = html(&f, PAGE).await;
    let card: u64 = {
        let v = page
            .split(r#"data-testid="total-all" data-value=""#)
            .nth(1)
            .unwrap();
        v[..v.find('"').unwrap()].parse().unwrap()
    };
    let csv = f
        .app
        .get(&format!("{PAGE}/download-breakdown"), &f.auth)
        .await
        .text();
    let mut totals = std::collections::BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        totals.insert(f[1].to_owned(), f[2].parse::<u64>().unwrap());
    }
    let in_csv: u64 = totals.values().sum();
    assert_eq!(card - in_csv, 500, "{csv}");
    assert!(
        page.contains(
            "The CSV&#39;s totals add up to 500 less than All Time: 1 repository has only \
             downloads from before daily history, and no day to give a row."
        ),
        "{page}"
    );
}
