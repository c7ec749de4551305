//! The dashboard in headless Chromium: `/` focuses the search box, typing filters the table
//! without a page load (and the URL follows), sorting swaps only the table, and the type filter
//! works. Needs `/usr/bin/chromium` (scripts/test installs it).

mod analytics;
mod common;

use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::network::CookieParam;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;

use analytics::fixture;

const PAGE: &str = "/organizations/acme/settings/publisher-analytics";

async fn eval(page: &Page, js: &str) -> String {
    let value: serde_json::Value = page.evaluate(js).await.unwrap().into_value().unwrap();
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Polls `js` until it returns `expected` (the table is swapped asynchronously).
async fn wait_for(page: &Page, js: &str, expected: &str) {
    let mut last = String::new();
    for _ in 0..100 {
        last = eval(page, js).await;
        if last == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{js}: expected {expected:?}, still {last:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium"]
async fn search_sort_and_filter_without_page_loads() {
    let f = fixture();
    let session = f.app.session("alice");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = f.app.router();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable("/usr/bin/chromium")
        .disable_default_args()
        .no_sandbox()
        .args([
            "disable-gpu",
            "disable-background-networking",
            "disable-component-update",
            "disable-sync",
            "no-first-run",
        ])
        .user_data_dir(profile.path())
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.unwrap();
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });

    let page = browser.new_page("about:blank").await.unwrap();
    let cookie = CookieParam::builder()
        .name("hubstats_session")
        .value(session.secret())
        .url(base.clone())
        .build()
        .unwrap();
    page.set_cookie(cookie).await.unwrap();
    page.goto(format!("{base}{PAGE}")).await.unwrap();
    page.wait_for_navigation().await.unwrap();
    let count = "document.querySelector('[data-testid=repo-count]').dataset.count";
    assert_eq!(eval(&page, count).await, "4");
    // A marker that a full page load would erase.
    page.evaluate("window.__noReload = 'yes'").await.unwrap();

    page.find_element("h1")
        .await
        .unwrap()
        .press_key("/")
        .await
        .unwrap();
    assert_eq!(eval(&page, "document.activeElement.id").await, "q");

    page.find_element("#q")
        .await
        .unwrap()
        .type_str("ALP")
        .await
        .unwrap();
    wait_for(&page, count, "2").await;
    wait_for(
        &page,
        "String(new URLSearchParams(location.search).get('q'))",
        "ALP",
    )
    .await;

    page.find_element("[data-testid=sort-name]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let first_row = "document.querySelector('[data-testid=repo-row]').dataset.repoName";
    wait_for(
        &page,
        "document.querySelector('[data-testid=sort-name]').closest('th').getAttribute('aria-sort')",
        "ascending",
    )
    .await;
    assert_eq!(eval(&page, first_row).await, "acme/Alpha");

    page.evaluate("(() => { const s = document.querySelector('[data-testid=type-filter]'); s.value = 'dataset'; s.dispatchEvent(new Event('change', {bubbles: true})); })()")
        .await
        .unwrap();
    wait_for(&page, count, "1").await;
    assert_eq!(eval(&page, first_row).await, "acme/alpha");
    assert!(
        eval(&page, "location.search").await.contains("sort=name"),
        "the sort survives a new search"
    );
    assert_eq!(
        eval(&page, "window.__noReload").await,
        "yes",
        "no full page load happened"
    );

    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
}
