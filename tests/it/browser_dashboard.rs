//! The dashboard's table in headless Chromium: sorting and the type filter swap only the table
//! (no page load), the URL follows, and a sort survives a new search. Needs Chromium:
//! `cargo test -- --include-ignored browser`.

use crate::analytics;

use crate::chromium::{click, eval, sign_in, type_into, wait_until, Chromium, Server};

const PAGE: &str = "/organizations/acme/settings/publisher-analytics";
const COUNT: &str = "document.querySelector('[data-testid=repo-count]').dataset.count";
const FIRST_ROW: &str = "document.querySelector('[data-testid=repo-row]').dataset.repoName";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_sorting_and_type_filter_swap_only_the_table() {
    let f = analytics::fixture();
    let server = Server::start(&f.app).await;
    let chromium = Chromium::launch().await;
    let page = chromium.page("about:blank").await;
    sign_in(&page, &server, "alice", Some(PAGE)).await;
    assert_eq!(eval::<String>(&page, COUNT).await, "4");
    // A marker that a full page load would erase.
    eval::<bool>(&page, "(window.__noReload = true)").await;

    type_into(&page, "#q", "ALP").await;
    wait_until(&page, &format!("{COUNT} === '2'")).await;
    wait_until(
        &page,
        "new URLSearchParams(location.search).get('q') === 'ALP'",
    )
    .await;

    click(&page, "[data-testid=sort-name]").await;
    wait_until(&page, "document.querySelector('[data-testid=sort-name]').closest('th').getAttribute('aria-sort') === 'ascending'").await;
    assert_eq!(eval::<String>(&page, FIRST_ROW).await, "acme/Alpha");
    wait_until(
        &page,
        "new URLSearchParams(location.search).get('sort') === 'name'",
    )
    .await;

    let choose_datasets = "(() => { const s = document.querySelector('[data-testid=type-filter]'); \
        s.value = 'dataset'; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()";
    eval::<bool>(&page, choose_datasets).await;
    wait_until(&page, &format!("{COUNT} === '1'")).await;
    assert_eq!(eval::<String>(&page, FIRST_ROW).await, "acme/alpha");
    let search: String = eval(&page, "location.search").await;
    assert!(
        search.contains("sort=name") && search.contains("type=dataset"),
        "{search}"
    );
    assert!(
        eval::<bool>(&page, "window.__noReload === true").await,
        "no full page load"
    );
    // The period links now carry the search, the filter and the sort.
    let link: String = eval(
        &page,
        "document.querySelector('[data-testid=period-7d]').getAttribute('href')",
    )
    .await;
    for part in ["period=7d", "q=ALP", "type=dataset", "sort=name"] {
        assert!(link.contains(part), "{link}");
    }
    let custom_q: String = eval(
        &page,
        "document.querySelector('[data-testid=custom-range-form] input[name=q]').value",
    )
    .await;
    assert_eq!(custom_q, "ALP");
    chromium.close().await;
}
