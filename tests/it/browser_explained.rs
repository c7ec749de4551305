//! The dashboard explains its numbers, in headless Chromium through the real server: one URL
//! per view whichever control leads to it, and the custom range opening on the range shown.
//! Needs Chromium: `cargo test --test it -- --include-ignored browser_explained::`.

use crate::analytics;

use crate::chromium::fixture;
use crate::chromium::{self, click, eval, goto, sign_in, type_into, wait_until, Chromium, Server};
use chromiumoxide::Page;

const PAGE: &str = "/organizations/acme/settings/publisher-analytics";

/// Waits until the address bar shows `search` (`?…`, or empty), then checks that it is the
/// URL the server gives the table it shows.
async fn wait_for_search(page: &Page, search: &str) {
    wait_until(page, &format!("location.search === {search:?}")).await;
    let shown: String = eval(
        page,
        "document.querySelector('[data-testid=repo-count]').dataset.url",
    )
    .await;
    assert_eq!(shown, format!("{PAGE}{search}"));
}

async fn choose(page: &Page, select: &str, value: &str) {
    let js = format!(
        "(() => {{ const s = document.querySelector('[data-testid={select}]'); \
         s.value = '{value}'; s.dispatchEvent(new Event('change', {{bubbles: true}})); \
         return true; }})()"
    );
    eval::<bool>(page, &js).await;
}

// Regression: live search wrote `period=all-time&sort=downloads&order=desc` into the URL,
// which the sort links leave out: one view, two URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_every_control_leads_to_the_views_one_url() {
    let f = analytics::fixture();
    let server = Server::start(&f.app).await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    sign_in(&page, &server, "alice", Some(PAGE)).await;
    eval::<bool>(&page, "(window.__noReload = true)").await;

    type_into(&page, "#q", "alp").await;
    wait_for_search(&page, "?q=alp").await;
    click(&page, "[data-testid=sort-name]").await;
    wait_for_search(&page, "?q=alp&sort=name").await;
    click(&page, "[data-testid=sort-name]").await;
    wait_for_search(&page, "?q=alp&sort=name&order=desc").await;
    // Typing again keeps the sort, in the URL's order.
    type_into(&page, "#q", "ha").await;
    wait_for_search(&page, "?q=alpha&sort=name&order=desc").await;
    click(&page, "[data-testid=sort-downloads]").await;
    wait_for_search(&page, "?q=alpha").await;
    choose(&page, "per-page", "25").await;
    wait_for_search(&page, "?q=alpha&per_page=25").await;
    choose(&page, "type-filter", "model").await;
    wait_for_search(&page, "?q=alpha&type=model&per_page=25").await;
    choose(&page, "type-filter", "").await;
    wait_for_search(&page, "?q=alpha&per_page=25").await;
    assert!(eval::<bool>(&page, "window.__noReload === true").await);

    // The period links and the custom range lead to the same kind of URL.
    let link: String = eval(
        &page,
        "document.querySelector('[data-testid=period-7d]').getAttribute('href')",
    )
    .await;
    assert_eq!(link, format!("{PAGE}?period=7d&q=alpha&per_page=25"));
    let link: String = eval(
        &page,
        "document.querySelector('[data-testid=period-all-time]').getAttribute('href')",
    )
    .await;
    assert_eq!(link, format!("{PAGE}?q=alpha&per_page=25"));
    click(&page, "[data-testid=custom-range-toggle]").await;
    eval::<bool>(
        &page,
        "(document.querySelector('[data-testid=custom-from]').value = '2024-02-01', \
          document.querySelector('[data-testid=custom-to]').value = '2024-02-20', true)",
    )
    .await;
    click(&page, "[data-testid=custom-apply]").await;
    wait_until(
        &page,
        "location.search === '?period=custom&from=2024-02-01&to=2024-02-20&q=alpha&per_page=25'",
    )
    .await;
    chromium.close().await;
}

// Regression: the Custom popover opened with empty dates instead of the range shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_the_custom_range_opens_on_the_range_shown() {
    let f = analytics::fixture();
    let server = Server::start(&f.app).await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    sign_in(
        &page,
        &server,
        "alice",
        Some(&format!("{PAGE}?period=last-month")),
    )
    .await;
    click(&page, "[data-testid=custom-range-toggle]").await;
    let dates = "[...document.querySelectorAll('[data-testid=custom-from], [data-testid=custom-to]')].map(i => i.value)";
    let (from, to): (String, String) = eval(&page, &format!("({dates})")).await;
    assert_eq!((from.as_str(), to.as_str()), ("2024-02-01", "2024-03-01"));
    // Moving only the start keeps the end shown.
    eval::<bool>(
        &page,
        "(document.querySelector('[data-testid=custom-from]').value = '2024-02-15', true)",
    )
    .await;
    click(&page, "[data-testid=custom-apply]").await;
    wait_until(
        &page,
        "location.search === '?period=custom&from=2024-02-15&to=2024-03-01'",
    )
    .await;
    chromium.close().await;
}

// Regression: an organization's address in another case than its name was a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_an_address_in_another_case_leads_to_the_organization() {
    let f = analytics::fixture();
    let server = Server::start(&f.app).await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    let asked = "/organizations/ACME/settings/publisher-analytics?period=7d";
    sign_in(&page, &server, "alice", Some(PAGE)).await;
    goto(&page, &server.url(asked)).await;
    wait_until(
        &page,
        &format!("location.pathname + location.search === '{PAGE}?period=7d'"),
    )
    .await;
    let org: String = eval(
        &page,
        "document.querySelector('[data-testid=org-name]').textContent",
    )
    .await;
    assert_eq!(org, "acme");
    chromium.close().await;
}

// Days before the first data are not zeros: a sparkline's point there and the chart's say
// "no data"; today's point says it is in progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_points_without_data_say_so_and_today_is_in_progress() {
    let f = analytics::fixture();
    let server = Server::start(&f.app).await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    sign_in(&page, &server, "alice", Some(&format!("{PAGE}?period=90d"))).await;
    // acme/Alpha's data starts Feb 28: the left end of its sparkline has none.
    let hover = "(() => { const s = document.querySelector('[data-repo-name=\"acme/Alpha\"] svg.spark'); \
        const b = s.getBoundingClientRect(); \
        s.dispatchEvent(new PointerEvent('pointermove', {clientX: b.left + 3, clientY: b.top + 5, bubbles: true, pointerType: 'mouse'})); \
        return true; })()";
    eval::<bool>(&page, hover).await;
    wait_until(
        &page,
        "document.querySelector('.chart-tip.floating:not([hidden])')",
    )
    .await;
    let tip: String = eval(
        &page,
        "document.querySelector('.chart-tip.floating strong').textContent",
    )
    .await;
    assert_eq!(tip, "no data");
    // The chart: its first point (Dec 3, before acme's Dec 31) and its last (today).
    eval::<bool>(
        &page,
        "(document.getElementById('org-chart').focus(), true)",
    )
    .await;
    wait_until(
        &page,
        "document.querySelector('.chart-tip:not(.floating):not([hidden])')",
    )
    .await;
    let last: String = eval(
        &page,
        "document.querySelector('.chart-tip:not(.floating)').textContent",
    )
    .await;
    assert!(last.contains("today, in progress"), "{last}");
    eval::<bool>(
        &page,
        "(document.getElementById('org-chart').dispatchEvent(new KeyboardEvent('keydown', {key: 'Home', bubbles: true})), true)",
    )
    .await;
    wait_until(
        &page,
        "document.querySelector('.chart-tip:not(.floating)').dataset.date === '2023-12-03'",
    )
    .await;
    let first: String = eval(
        &page,
        "document.querySelector('.chart-tip:not(.floating) strong').textContent",
    )
    .await;
    assert_eq!(first, "no data");
    chromium.close().await;
}

/// The chromium fixture (`acme`'s data ends Jun 30, 2025), with a repository whose
/// downloads are all from before daily history, served on `today`.
async fn stale_store(today: &str) -> (crate::common::TestApp, Server) {
    use hubstats::domain::{RepoKey, RepoName, RepoType};
    use hubstats::store::{SourceId, WriteMode};
    let app = crate::common::TestApp::with_config(|c| c.today = Some(today.parse().unwrap()));
    fixture::populate(&app);
    let key = RepoKey {
        repo_type: RepoType::Model,
        name: RepoName::parse("acme/legacy-model").unwrap(),
    };
    let mut w = app.store.write(&SourceId::hub(), WriteMode::Merge).unwrap();
    w.set_total(&key, 12_000).unwrap();
    w.commit().unwrap();
    let server = Server::start(&app).await;
    (app, server)
}

// The views that explain their numbers, light and dark, desktop and phone: where the data
// comes from and how far it goes, a period past its end, days before the first data, today in
// progress, the CSV's note, and the page on what a download is. Nothing overflows a phone.
// `HUBSTATS_UPDATE_DOCS_SCREENSHOT=1` copies them to `docs/screenshots/`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_screenshots_of_the_explained_views() {
    let (_app, server) = stale_store("2025-07-13").await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    let dashboard = "/organizations/acme/settings/publisher-analytics";
    sign_in(&page, &server, fixture::USER, Some(dashboard)).await;
    let views = [
        ("data-stops", format!("{dashboard}?period=last-month")),
        ("data-stops-7d", format!("{dashboard}?period=7d")),
        (
            "before-first-data",
            format!("{dashboard}/datasets/chat-logs?period=365d&granularity=week"),
        ),
        ("about-downloads", "/about/downloads".to_owned()),
    ];
    let mut shots = Vec::new();
    for (name, href) in &views {
        for (width, prefix) in [(1280, ""), (390, "phone-")] {
            for scheme in ["light", "dark"] {
                chromium::emulate_window(&page, width, 844).await;
                chromium::color_scheme(&page, scheme).await;
                goto(&page, &server.url(href)).await;
                let (scroll, inner): (f64, f64) = eval(
                    &page,
                    "[document.documentElement.scrollWidth, window.innerWidth]",
                )
                .await;
                assert!(scroll <= inner + 0.5, "{prefix}{name}: {scroll} > {inner}");
                shots.push(
                    chromium::screenshot(&page, &format!("explained-{prefix}{name}-{scheme}"))
                        .await,
                );
            }
        }
    }
    // What the stale store's page says, as a person reads it.
    goto(&page, &server.url(&views[0].1)).await;
    let note: String = eval(
        &page,
        "document.querySelector('[data-testid=figures-note]').textContent",
    )
    .await;
    assert!(
        note.starts_with(
            "Data through Jun 30, 2025 (breakdown CSV imported just now). Days are UTC."
        ),
        "{note}"
    );
    let card: String = eval(
        &page,
        "document.querySelector('[data-testid=total-all] .change').textContent",
    )
    .await;
    assert_eq!(card.trim(), "no downloads recorded after Jun 30, 2025");
    let csv: String = eval(
        &page,
        "document.querySelector('[data-testid=csv-note]').textContent",
    )
    .await;
    assert!(csv.contains("12,000 less than All Time"), "{csv}");
    if std::env::var_os("HUBSTATS_UPDATE_DOCS_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("create docs/screenshots");
        for shot in &shots {
            let name = shot
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .replace("explained-", "");
            std::fs::copy(shot, docs.join(name)).expect("copy a screenshot to docs/");
        }
    }
    chromium.close().await;
}
