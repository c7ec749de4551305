//! The dashboard in a real browser (headless Chromium): sign-in through the form, the pages,
//! their JavaScript enhancements and their no-JavaScript fallbacks, the CSV button, and
//! screenshots in light and dark mode (`target/screenshots/`).
//!
//! Needs Chromium (`apt-get install -y chromium`): `cargo test -- --include-ignored browser`
//! (every test's name starts with `browser_`).
//! `HUBSTATS_CHROMIUM` names another browser binary; `HUBSTATS_UPDATE_DOCS_SCREENSHOT=1` copies
//! the light Last Month dashboard of the demo data to `docs/screenshot.png` (the README's).

use crate::chromium;
use crate::common;

use crate::chromium::fixture::{self, Totals, LAST_MONTH_FROM, ORG, TODAY, USER};
use crate::chromium::{
    click, eval, sign_in, text, wait_for_location, wait_until, Chromium, Server,
};
use crate::common::TestApp;
use chromiumoxide::Page;
use hubstats::analytics::DEFAULT_PER_PAGE;
use hubstats::breakdown::export::write_breakdown;
use hubstats::demo;

/// A service over the fixture's store, with today pinned to [`TODAY`].
async fn start() -> (TestApp, Server) {
    let app = TestApp::with_config(|c| c.today = Some(TODAY.parse().expect("TODAY")));
    fixture::populate(&app);
    let server = Server::start(&app).await;
    (app, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_signs_in_through_the_form_and_lists_the_organizations() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = chromium.page(&server.url("/")).await;
    wait_for_location(&page, "/login").await;
    // On the form itself, the header does not offer to sign in again.
    let header_link: bool = eval(
        &page,
        "!!document.querySelector('.account a[href=\"/login\"]').offsetParent",
    )
    .await;
    assert!(
        !header_link,
        "the header's Sign in link shows on the sign-in page"
    );

    sign_in(&page, &server, USER, None).await;

    assert_eq!(text(&page, ".site-header .user").await, USER);
    let orgs: Vec<String> = eval(
        &page,
        "[...document.querySelectorAll('.org-list a')].map(a => a.textContent.trim())",
    )
    .await;
    assert_eq!(orgs, [ORG]);
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_a_wrong_password_keeps_the_form_with_an_alert() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = chromium.page(&server.url("/login")).await;

    chromium::type_into(&page, "input[name=username]", USER).await;
    chromium::type_into(&page, "input[name=password]", "not-the-password").await;
    click(&page, "form[action='/login'] button[type=submit]").await;

    chromium::wait_until(&page, "document.querySelector('[role=alert]')").await;
    assert_eq!(
        text(&page, "[role=alert]").await,
        "Wrong user name or password."
    );
    let typed: String = eval(
        &page,
        "document.querySelector('input[name=username]').value",
    )
    .await;
    assert_eq!(typed, USER);
    chromium.close().await;
}

const DASHBOARD: &str = "/organizations/acme/settings/publisher-analytics";

/// A signed-in browser on the dashboard (All Time).
async fn on_dashboard() -> (TestApp, Server, Chromium, Page) {
    let (app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    sign_in(&page, &server, USER, Some(DASHBOARD)).await;
    wait_until(&page, "document.querySelector('[data-testid=dashboard]')").await;
    (app, server, chromium, page)
}

/// Digits of a formatted figure (`1,234` → 1234).
fn figure(text: &str) -> u64 {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("not a figure: {text:?}"))
}

/// The three headline cards, as their exact visible figures; each must agree with the card's
/// `data-value`.
async fn shown_totals(page: &Page) -> Totals {
    let card = |id: &'static str| async move {
        let value: String = eval(
            page,
            &format!("document.querySelector('[data-testid={id}]').dataset.value"),
        )
        .await;
        let shown = figure(&text(page, &format!("[data-testid={id}] .exact")).await);
        assert_eq!(value.parse::<u64>().ok(), Some(shown), "card {id}");
        shown
    };
    Totals {
        all: card("total-all").await,
        model: card("total-model").await,
        dataset: card("total-dataset").await,
    }
}

/// Clicks a link and waits for the page it leads to.
async fn follow(page: &Page, selector: &str) {
    let href: String = eval(
        page,
        &format!(
            "document.querySelector({:?}).getAttribute('href')",
            selector
        ),
    )
    .await;
    click(page, selector).await;
    wait_for_location(page, &href).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_totals_follow_the_period_toggle() {
    let (app, _server, chromium, page) = on_dashboard().await;
    let rows = fixture::csv_rows(&fixture::breakdown_csv(&app));
    let all_time = fixture::all_time_totals(app.store.as_ref(), ORG);
    let last_month = fixture::range_totals(&rows, LAST_MONTH_FROM, TODAY);
    assert_ne!(
        all_time, last_month,
        "the fixture must tell the periods apart"
    );

    assert_eq!(shown_totals(&page).await, all_time);
    assert!(text(&page, "[data-testid=period-caption]")
        .await
        .starts_with("All Time"));

    follow(&page, "[data-testid=period-last-month]").await;
    assert_eq!(shown_totals(&page).await, last_month);
    let caption = text(&page, "[data-testid=period-caption]").await;
    assert!(caption.contains("Jun 1, 2025"), "{caption}");
    assert!(caption.contains("Jun 30, 2025"), "{caption}");

    follow(&page, "[data-testid=period-all-time]").await;
    assert_eq!(shown_totals(&page).await, all_time);

    // The other presets: the N days ending today.
    for (period, from) in [
        ("7d", "2025-06-24"),
        ("90d", "2025-04-02"),
        ("365d", "2024-07-01"),
    ] {
        follow(&page, &format!("[data-testid=period-{period}]")).await;
        let expected = fixture::range_totals(&rows, from, TODAY);
        assert_eq!(shown_totals(&page).await, expected, "period {period}");
    }
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_a_custom_range_is_chosen_with_the_date_form() {
    let (app, _server, chromium, page) = on_dashboard().await;
    let rows = fixture::csv_rows(&fixture::breakdown_csv(&app));

    click(&page, "[data-testid=custom-range-toggle]").await;
    // Date inputs take keyboard input in a locale-dependent order; set them as a picker would.
    eval::<bool>(
        &page,
        "(document.querySelector('[data-testid=custom-from]').value = '2025-03-10', \
          document.querySelector('[data-testid=custom-to]').value = '2025-05-20', true)",
    )
    .await;
    click(&page, "[data-testid=custom-apply]").await;
    wait_until(&page, "location.search.includes('period=custom')").await;
    wait_until(&page, "document.querySelector('[data-testid=total-all]')").await;

    let expected = fixture::range_totals(&rows, "2025-03-10", "2025-05-20");
    assert_eq!(shown_totals(&page).await, expected);
    chromium.close().await;
}

/// The rows of the table: `data-repo-name` of each.
async fn table_rows(page: &Page) -> Vec<String> {
    eval(
        page,
        "[...document.querySelectorAll('[data-testid=repo-row]')].map(r => r.dataset.repoName)",
    )
    .await
}

/// Checks every row has exactly one sparkline and the count line agrees with the rows.
async fn assert_table_consistent(page: &Page) {
    let per_row: Vec<u32> = eval(
        page,
        "[...document.querySelectorAll('[data-testid=repo-row]')].map(r => r.querySelectorAll('svg').length)",
    )
    .await;
    assert!(
        per_row.iter().all(|&n| n == 1),
        "sparklines per row: {per_row:?}"
    );
    let sparks: usize = eval(
        page,
        "document.querySelectorAll('#repo-table svg.spark').length",
    )
    .await;
    assert_eq!(sparks, per_row.len());
    let count: String = eval(
        page,
        "document.querySelector('[data-testid=repo-count]').dataset.count",
    )
    .await;
    assert_eq!(count.parse::<usize>().ok(), Some(per_row.len()));
}

fn matching(query: &str) -> Vec<&'static str> {
    fixture::acme_repos()
        .into_iter()
        .filter(|n| n.contains(query))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_search_filters_the_table_as_you_type() {
    let (_app, _server, chromium, page) = on_dashboard().await;
    let mut all = table_rows(&page).await;
    all.sort();
    let mut expected_all = fixture::acme_repos();
    expected_all.sort();
    assert_eq!(all, expected_all);
    assert_table_consistent(&page).await;

    // A marker that a page load would wipe out: the table must change without one.
    eval::<bool>(&page, "(window.stillThisPage = true)").await;
    chromium::type_into(&page, "#q", "bert").await;
    let expected = matching("bert");
    assert_eq!(expected.len(), 3, "fixture");
    wait_until(
        &page,
        &format!(
            "document.querySelectorAll('[data-testid=repo-row]').length === {}",
            expected.len()
        ),
    )
    .await;
    let mut shown = table_rows(&page).await;
    shown.sort();
    let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
    expected.sort();
    assert_eq!(shown, expected);
    assert_table_consistent(&page).await;
    assert!(
        eval::<bool>(&page, "window.stillThisPage === true").await,
        "the page reloaded"
    );
    // The address keeps the search, so the view can be shared.
    wait_until(
        &page,
        "new URLSearchParams(location.search).get('q') === 'bert'",
    )
    .await;

    // Typing on narrows further; a query nothing matches says so.
    chromium::type_into(&page, "#q", "-l").await;
    wait_until(
        &page,
        "document.querySelectorAll('[data-testid=repo-row]').length === 1",
    )
    .await;
    assert_eq!(table_rows(&page).await, ["acme/bert-large"]);
    chromium::type_into(&page, "#q", "zzz").await;
    wait_until(
        &page,
        "document.querySelector('[data-testid=empty-no-match]')",
    )
    .await;
    assert!(
        eval::<bool>(&page, "window.stillThisPage === true").await,
        "the page reloaded"
    );
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_slash_focuses_the_search_box() {
    let (_app, _server, chromium, page) = on_dashboard().await;
    let focused = "document.activeElement && document.activeElement.id";
    assert_ne!(
        eval::<Option<String>>(&page, focused).await.as_deref(),
        Some("q")
    );

    // Keys go to the focused element; a heading cannot take the focus, so this is the page.
    chromium::press(&page, "h1", "/").await;

    wait_until(&page, "document.activeElement.id === 'q'").await;
    let typed: String = eval(&page, "document.getElementById('q').value").await;
    assert_eq!(typed, "", "the slash itself is not typed into the box");
    // In the box, a slash is just a character.
    chromium::type_into(&page, "#q", "a/b").await;
    let typed: String = eval(&page, "document.getElementById('q').value").await;
    assert_eq!(typed, "a/b");
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_search_and_periods_work_without_javascript() {
    let (app, server) = start().await;
    let rows = fixture::csv_rows(&fixture::breakdown_csv(&app));
    let chromium = Chromium::launch().await;
    let page = chromium.page_without_scripts().await;
    sign_in(&page, &server, USER, Some(DASHBOARD)).await;

    follow(&page, "[data-testid=period-last-month]").await;
    let last_month = fixture::range_totals(&rows, LAST_MONTH_FROM, TODAY);
    assert_eq!(shown_totals(&page).await, last_month);

    eval::<bool>(&page, "(window.stillThisPage = true)").await;
    chromium::type_into(&page, "#q", "small").await;
    // Without the script nothing happens as you type...
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert_eq!(table_rows(&page).await.len(), fixture::acme_repos().len());
    // ...and Enter submits the search form.
    chromium::press(&page, "#q", "Enter").await;
    wait_until(
        &page,
        "new URLSearchParams(location.search).get('q') === 'small' && document.readyState === 'complete'",
    )
    .await;
    assert!(
        eval::<bool>(&page, "window.stillThisPage === undefined").await,
        "no page load"
    );
    let mut shown = table_rows(&page).await;
    shown.sort();
    assert_eq!(shown, ["acme/images-small", "acme/whisper-small"]);
    assert_eq!(shown.len(), matching("small").len());
    // The period survives the search.
    assert_eq!(shown_totals(&page).await, last_month);
    assert_table_consistent(&page).await;
    chromium.close().await;
}

/// The drill-down chart's granularity and number of points, and the series table's values.
async fn shown_series(page: &Page) -> (String, usize, Vec<u64>) {
    let (granularity, points): (String, String) = eval(
        page,
        "(c => [c.dataset.granularity, c.dataset.points])(document.querySelector('[data-testid=repo-chart-card] svg.chart'))",
    )
    .await;
    let cells: Vec<String> = eval(
        page,
        "[...document.querySelectorAll('[data-testid=repo-series-table] tbody td')].map(td => td.textContent)",
    )
    .await;
    let points = points.parse().expect("data-points");
    (
        granularity,
        points,
        cells.iter().map(|c| figure(c)).collect(),
    )
}

async fn chart_markup(page: &Page) -> String {
    eval(
        page,
        "document.querySelector('[data-testid=repo-chart-card] svg.chart').outerHTML",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_drill_down_switches_the_chart_granularity() {
    let (app, _server, chromium, page) = on_dashboard().await;
    let rows = fixture::csv_rows(&fixture::breakdown_csv(&app));
    let repo = "acme/bert-base";
    let bert: Vec<_> = rows.iter().filter(|r| r.repo_name == repo).collect();

    follow(
        &page,
        &format!("[data-repo-name='{repo}'] [data-testid=repo-link]"),
    )
    .await;
    wait_until(&page, "document.querySelector('[data-testid=repo-page]')").await;
    assert_eq!(text(&page, "[data-testid=repo-name]").await, repo);
    let total = figure(
        &eval::<String>(
            &page,
            "document.querySelector('[data-testid=repo-total]').dataset.value",
        )
        .await,
    );
    assert_eq!(total, bert[0].total);

    follow(&page, "[data-testid=period-last-month]").await;
    let june: u64 = bert
        .iter()
        .filter(|r| r.day.as_str() >= LAST_MONTH_FROM && r.day.as_str() <= TODAY)
        .map(|r| r.downloads)
        .sum();
    // 2025-06-01 is a Sunday: weeks (from Monday) clipped to the period start on Jun 1, 2, 9,
    // 16, 23 and 30; the month is one bucket.
    let mut charts = Vec::new();
    for (granularity, buckets) in [("day", 30), ("week", 6), ("month", 1)] {
        follow(&page, &format!("[data-testid=granularity-{granularity}]")).await;
        assert!(
            eval::<bool>(&page, "location.search.includes('period=last-month')").await,
            "the granularity link keeps the period"
        );
        let (shown, points, values) = shown_series(&page).await;
        assert_eq!((shown.as_str(), points), (granularity, buckets));
        assert_eq!(
            values.len(),
            buckets,
            "{granularity}: rows of the numbers table"
        );
        assert_eq!(
            values.iter().sum::<u64>(),
            june,
            "{granularity}: sum of the buckets"
        );
        charts.push(chart_markup(&page).await);
    }
    assert_ne!(charts[0], charts[1]);
    assert_ne!(charts[1], charts[2]);
    let downloads: String = eval(
        &page,
        "document.querySelector('[data-testid=repo-downloads]').dataset.value",
    )
    .await;
    assert_eq!(downloads.parse::<u64>().ok(), Some(june));
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_the_csv_button_downloads_the_breakdown() {
    let (app, _server, chromium, page) = on_dashboard().await;
    let expected = fixture::breakdown_csv(&app);
    let downloads = tempfile::tempdir().expect("download directory");
    chromium.allow_downloads(downloads.path()).await;

    click(&page, "[data-testid=csv-download]").await;
    let (name, bytes) = chromium::downloaded_file(downloads.path()).await;
    assert!(name.ends_with(".csv"), "file name {name:?}");
    assert!(
        bytes == expected,
        "the downloaded CSV differs from the export ({} vs {} bytes)",
        bytes.len(),
        expected.len()
    );

    // The same through the page's session with fetch: headers as the browser sees them.
    let (content_type, body): (String, Vec<u8>) = eval(
        &page,
        "fetch(document.querySelector('[data-testid=csv-download]').href)\
           .then(r => r.arrayBuffer().then(b => [r.headers.get('content-type'), Array.from(new Uint8Array(b))]))",
    )
    .await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(body == expected, "fetched CSV differs from the export");
    chromium.close().await;
}

/// The page's computed background colour (`rgb(...)`).
async fn background(page: &Page) -> String {
    eval(
        page,
        "getComputedStyle(document.documentElement).backgroundColor",
    )
    .await
}

/// The WCAG contrast ratio of an element's text colour against its background colour.
async fn contrast(page: &Page, selector: &str) -> f64 {
    let js = format!(
        "(() => {{
           const s = getComputedStyle(document.querySelector({selector:?}));
           const lum = c => {{
             const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {{
               v = v / 255;
               return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
             }});
             return 0.2126 * r + 0.7152 * g + 0.0722 * b;
           }};
           const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
           return (a + 0.05) / (b + 0.05);
         }})()"
    );
    eval(page, &js).await
}

/// Full-page screenshots of `page` in the light and dark schemes, as `{name}-{scheme}.png`;
/// checks the accent buttons' contrast and records the page background of each scheme.
async fn shoot(page: &Page, name: &str, backgrounds: &mut Vec<(String, String, String)>) {
    for scheme in ["light", "dark"] {
        chromium::color_scheme(page, scheme).await;
        let path = chromium::screenshot(page, &format!("{name}-{scheme}")).await;
        let png = std::fs::read(&path).expect("screenshot file");
        assert!(png.starts_with(b"\x89PNG"), "{}", path.display());
        backgrounds.push((name.to_owned(), scheme.to_owned(), background(page).await));
        // Regression: white text on the light accent of the dark scheme was unreadable.
        for selector in [".segmented a.current", ".button:not(.secondary)"] {
            if eval::<bool>(page, &format!("!!document.querySelector({selector:?})")).await {
                let ratio = contrast(page, selector).await;
                assert!(
                    ratio >= 4.5,
                    "{name} {scheme}: `{selector}` contrast {ratio:.2}:1"
                );
            }
        }
    }
}

/// Repositories of the demo's largest organization in the screenshots (`hubstats demo`'s
/// default), and the rows the screenshots show of them.
const DEMO_REPOS: usize = 300;
const SHOWN_ROWS: usize = 12;

/// A service over the demo data (`hubstats demo`'s generator), today pinned to [`TODAY`].
async fn start_demo(repos: usize) -> (TestApp, Server, String) {
    let app = TestApp::with_config(|c| c.today = Some(TODAY.parse().expect("TODAY")));
    let orgs = demo::demo_orgs(repos);
    let today = app.config.reference_day();
    let filled = demo::fill(app.store.as_ref(), &orgs, today, &mut |_| {}).expect("demo fill");
    demo::prepare_login(app.store.as_ref(), &orgs).expect("demo user");
    let server = Server::start(&app).await;
    (app, server, filled[0].org.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_screenshots_in_light_and_dark_mode() {
    let (app, server, org) = start_demo(DEMO_REPOS).await;
    let chromium = Chromium::launch().await;
    let page = chromium.page(&server.url("/login")).await;
    let mut backgrounds = Vec::new();
    shoot(&page, "login", &mut backgrounds).await;
    let dashboard = format!("/organizations/{org}/settings/publisher-analytics");
    chromium::sign_in_as(
        &page,
        &server,
        demo::DEMO_USER,
        demo::DEMO_PASSWORD,
        Some(&dashboard),
    )
    .await;
    wait_until(&page, "document.querySelector('[data-testid=dashboard]')").await;

    // The demo's figures agree with its CSV too (many repositories, history before daily).
    let mut csv = Vec::new();
    write_breakdown(app.store.as_ref(), &common::org_name(&org), &mut csv).expect("export");
    let rows = fixture::csv_rows(&csv);
    follow(&page, "[data-testid=period-last-month]").await;
    let last_month = fixture::range_totals(&rows, LAST_MONTH_FROM, TODAY);
    assert_eq!(shown_totals(&page).await, last_month);
    follow(&page, "[data-testid=period-all-time]").await;
    let all_time = fixture::all_time_totals(app.store.as_ref(), &org);
    assert_eq!(shown_totals(&page).await, all_time);
    assert_eq!(table_rows(&page).await.len(), DEFAULT_PER_PAGE as usize);
    let count: String = eval(
        &page,
        "document.querySelector('[data-testid=repo-count]').dataset.count",
    )
    .await;
    assert_eq!(count.parse::<usize>().ok(), Some(DEMO_REPOS));
    // Regression: the Custom button stood 3.4 px shorter than the period buttons beside it.
    let (toggle, custom): (f64, f64) = eval(
        &page,
        "[document.querySelector('[data-testid=period-toggle] .segmented'), \
          document.querySelector('[data-testid=custom-range-toggle]')] \
          .map(e => e.getBoundingClientRect().height)",
    )
    .await;
    assert!(
        (toggle - custom).abs() < 0.5,
        "toggle {toggle} px, Custom {custom} px"
    );

    let repo_href: String = eval(
        &page,
        "document.querySelector('[data-testid=repo-link]').getAttribute('href')",
    )
    .await;
    let rows = format!("per_page={SHOWN_ROWS}");
    let pages = [
        ("organizations", "/".to_owned()),
        ("dashboard", format!("{dashboard}?{rows}")),
        (
            "dashboard-last-month",
            format!("{dashboard}?period=last-month&{rows}"),
        ),
        ("dashboard-365d", format!("{dashboard}?period=365d&{rows}")),
        ("drill-down", repo_href),
        // A Free organization's dashboard: the refusal page.
        (
            "error-free-plan",
            "/organizations/tinker.garage/settings/publisher-analytics".to_owned(),
        ),
    ];
    for (name, href) in pages {
        chromium::goto(&page, &server.url(&href)).await;
        shoot(&page, name, &mut backgrounds).await;
    }
    // The dark scheme really applies, to every page alike.
    let of = |scheme: &str| -> Vec<&str> {
        let matching = backgrounds.iter().filter(|(_, s, _)| s == scheme);
        matching.map(|(_, _, bg)| bg.as_str()).collect()
    };
    let (light, dark) = (of("light"), of("dark"));
    assert_eq!((light.len(), dark.len()), (7, 7));
    assert!(light.iter().all(|bg| *bg == light[0]), "{backgrounds:?}");
    assert!(dark.iter().all(|bg| *bg == dark[0]), "{backgrounds:?}");
    assert_ne!(light[0], dark[0]);
    // The README's screenshot: refreshed on request, after looking at the new one.
    if std::env::var_os("HUBSTATS_UPDATE_DOCS_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).expect("create docs/");
        let light = chromium::screenshot_dir().join("dashboard-last-month-light.png");
        std::fs::copy(light, docs.join("screenshot.png")).expect("copy the screenshot to docs/");
    }
    chromium.close().await;
}

/// A phone's window, in CSS pixels (iPhone 12 to 15).
const PHONE: (u32, u32) = (390, 844);

/// Checks the page fits a phone: nothing wider than the window, whole period buttons of one
/// line each, pager labels on one line, and repository names broken only at `-`, `_`, `/`.
async fn assert_fits_the_phone(page: &Page, name: &str) {
    let (scroll, inner): (f64, f64) = eval(
        page,
        "[document.documentElement.scrollWidth, window.innerWidth]",
    )
    .await;
    assert!(
        scroll <= inner,
        "{name}: {scroll} px wide in a {inner} px window"
    );
    // The repository table fits too (its wrapper would scroll, hiding the Change column).
    let tables: Vec<(f64, f64)> = eval(
        page,
        "[...document.querySelectorAll('.table-wrap')].filter(w => w.offsetParent) \
           .map(w => [w.scrollWidth, w.clientWidth])",
    )
    .await;
    assert!(
        tables.iter().all(|(scroll, client)| scroll <= client),
        "{name}: tables {tables:?}"
    );
    // Every period button whole, inside the window, its label on one line (they may wrap
    // onto a second row; none is cut off).
    let buttons: Vec<(f64, f64, f64)> = eval(
        page,
        "[...document.querySelectorAll('[data-testid=period-toggle] .segmented a')] \
           .map(a => { const r = a.getBoundingClientRect(); \
              return [r.left, r.right, r.height]; })",
    )
    .await;
    let width = inner;
    assert!(
        buttons
            .iter()
            .all(|(l, r, h)| *l >= 0.0 && *r <= width && (h - buttons[0].2).abs() < 0.5),
        "{name}: period buttons {buttons:?}"
    );
    // Each text node of a label or name lies on one line (a <wbr> ends a text node).
    let broken: Vec<String> = eval(
        page,
        "[...document.querySelectorAll('[data-testid=repo-link], [data-testid=repo-name], \
              .pager > a, .pager > .disabled')] \
           .flatMap(e => { const w = document.createTreeWalker(e, NodeFilter.SHOW_TEXT); \
              const out = []; while (w.nextNode()) { const r = document.createRange(); \
              r.selectNodeContents(w.currentNode); \
              const lines = new Set([...r.getClientRects()].map(x => Math.round(x.top))); \
              if (lines.size > 1) out.push(w.currentNode.textContent); } return out; })",
    )
    .await;
    assert!(broken.is_empty(), "{name}: broken inside {broken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_dashboard_and_drill_down_fit_a_phone() {
    let (_app, server, org) = start_demo(60).await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    let dashboard = format!("/organizations/{org}/settings/publisher-analytics?period=365d");
    chromium::sign_in_as(
        &page,
        &server,
        demo::DEMO_USER,
        demo::DEMO_PASSWORD,
        Some(&dashboard),
    )
    .await;
    // The drill-down of the longest name on the first page.
    let repo_href: String = eval(
        &page,
        "[...document.querySelectorAll('[data-testid=repo-link]')] \
           .sort((a, b) => b.textContent.length - a.textContent.length)[0].getAttribute('href')",
    )
    .await;
    for (name, href) in [
        ("phone-dashboard", dashboard),
        ("phone-drill-down", repo_href),
    ] {
        for scheme in ["light", "dark"] {
            chromium::emulate_window(&page, PHONE.0, PHONE.1).await;
            chromium::color_scheme(&page, scheme).await;
            chromium::goto(&page, &server.url(&href)).await;
            assert_fits_the_phone(&page, name).await;
            chromium::screenshot(&page, &format!("{name}-{scheme}")).await;
        }
    }
    chromium.close().await;
}
