//! The dashboard's finish in headless Chromium (issue 9): instant chart tooltips and a
//! keyboard walk through chart points, the table after an update (scroll, focus, announced
//! count), date labels that never collide, the phone layout, the contrast of the table's
//! change text, and screenshots of the changed views (`target/screenshots/polish-*.png`).
//! Needs Chromium: `cargo test --test it -- --include-ignored browser_polish::`.
//! `HUBSTATS_UPDATE_DOCS_SCREENSHOT=1` copies the screenshots to `docs/screenshots/`.

use crate::chromium;

use crate::chromium::fixture::{self, ORG, TODAY, USER};
use crate::chromium::{click, eval, sign_in, wait_for_location, wait_until, Chromium, Server};
use crate::common::TestApp;
use chromiumoxide::Page;

const DASHBOARD: &str = "/organizations/acme/settings/publisher-analytics";

async fn start() -> (TestApp, Server) {
    let app = TestApp::with_config(|c| c.today = Some(TODAY.parse().expect("TODAY")));
    fixture::populate(&app);
    let server = Server::start(&app).await;
    (app, server)
}

async fn signed_in(server: &Server, chromium: &Chromium, path: &str) -> Page {
    let page = chromium.page("about:blank").await;
    sign_in(&page, server, USER, Some(path)).await;
    wait_until(
        &page,
        "document.querySelector('[data-testid=dashboard], [data-testid=repo-page]')",
    )
    .await;
    page
}

/// The tooltip's date and downloads, once it shows.
async fn tooltip(page: &Page) -> (String, u64) {
    wait_until(page, "document.querySelector('.chart-tip:not([hidden])')").await;
    let (date, n): (String, String) = eval(
        page,
        "(t => [t.dataset.date, t.dataset.downloads])(document.querySelector('.chart-tip:not([hidden])'))",
    )
    .await;
    (date, n.parse().expect("downloads"))
}

/// Sends one key press to whatever has the focus.
async fn key(page: &Page, key: &str) {
    use chromiumoxide::cdp::browser_protocol::input::{
        DispatchKeyEventParams, DispatchKeyEventType,
    };
    for kind in [DispatchKeyEventType::KeyDown, DispatchKeyEventType::KeyUp] {
        let params = DispatchKeyEventParams::builder()
            .r#type(kind)
            .key(key)
            .code(key)
            .build()
            .expect("key event");
        chromium::within(format!("pressing {key}"), page.execute(params))
            .await
            .expect("Input.dispatchKeyEvent");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_chart_points_show_at_once_on_hover_and_with_the_keyboard() {
    let (app, server) = start().await;
    let rows = fixture::csv_rows(&fixture::breakdown_csv(&app));
    let day = |d: &str| fixture::range_totals(&rows, d, d).all;
    let chromium = Chromium::launch().await;
    let page = signed_in(
        &server,
        &chromium,
        &format!("{DASHBOARD}?period=last-month"),
    )
    .await;

    // Keyboard only: Tab until the chart has the focus, then walk its points.
    let mut focused = String::new();
    for _ in 0..60 {
        key(&page, "Tab").await;
        focused = eval(
            &page,
            "document.activeElement.id || document.activeElement.tagName",
        )
        .await;
        if focused == "org-chart" {
            break;
        }
    }
    assert_eq!(focused, "org-chart", "the chart is reachable with Tab");
    let (date, n) = tooltip(&page).await;
    assert_eq!(
        (date.as_str(), n),
        (TODAY, day(TODAY)),
        "focus shows the last point"
    );
    key(&page, "ArrowLeft").await;
    wait_until(
        &page,
        "document.querySelector('.chart-tip').dataset.date === '2025-06-29'",
    )
    .await;
    assert_eq!(
        tooltip(&page).await,
        ("2025-06-29".to_owned(), day("2025-06-29"))
    );
    key(&page, "Home").await;
    wait_until(
        &page,
        "document.querySelector('.chart-tip').dataset.date === '2025-06-01'",
    )
    .await;
    assert_eq!(tooltip(&page).await.1, day("2025-06-01"));
    key(&page, "ArrowRight").await;
    wait_until(
        &page,
        "document.querySelector('.chart-tip').dataset.date === '2025-06-02'",
    )
    .await;
    assert_eq!(tooltip(&page).await.1, day("2025-06-02"));

    // Hover: the point under the pointer, at once (no native tooltip delay).
    let (x, y): (f64, f64) = eval(
        &page,
        "(r => [r.left + r.width / 2, r.top + r.height / 2])(document.querySelectorAll('#org-chart g.hit rect')[9].getBoundingClientRect())",
    )
    .await;
    page.move_mouse(chromiumoxide::layout::Point { x, y })
        .await
        .expect("move the mouse");
    wait_until(
        &page,
        "document.querySelector('.chart-tip').dataset.date === '2025-06-10'",
    )
    .await;
    assert_eq!(tooltip(&page).await.1, day("2025-06-10"));

    // A sparkline: the day under the pointer, with its value from the CSV.
    let (x, y): (f64, f64) = eval(
        &page,
        "(s => { s.scrollIntoView({ block: 'center' }); const r = s.getBoundingClientRect(); return [r.left + r.width * (2 + 116 * 10 / 29) / 120, r.top + r.height / 2]; })(document.querySelector('[data-repo-name=\"acme/bert-base\"] svg.spark'))",
    )
    .await;
    page.move_mouse(chromiumoxide::layout::Point { x, y })
        .await
        .expect("move the mouse");
    wait_until(
        &page,
        "document.querySelector('.chart-tip.floating:not([hidden])')",
    )
    .await;
    let (date, n): (String, String) = eval(
        &page,
        "(t => [t.dataset.date, t.dataset.downloads])(document.querySelector('.chart-tip.floating'))",
    )
    .await;
    let bert: u64 = rows
        .iter()
        .filter(|r| r.repo_name == "acme/bert-base" && r.day == "2025-06-11")
        .map(|r| r.downloads)
        .sum();
    assert_eq!(
        (date.as_str(), n.parse::<u64>().ok()),
        ("2025-06-11", Some(bert))
    );

    // The organization chart shows its numbers too, right-aligned.
    let (cells, align): (usize, String) = eval(
        &page,
        "(t => [t.querySelectorAll('tbody td').length, getComputedStyle(t.querySelector('tbody td')).textAlign])(document.querySelector('[data-testid=org-series-table]'))",
    )
    .await;
    assert_eq!((cells, align.as_str()), (30, "right"));
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_a_table_update_keeps_focus_scrolls_and_announces_the_count() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = signed_in(
        &server,
        &chromium,
        &format!("{DASHBOARD}?period=last-month&per_page=3"),
    )
    .await;
    // Only the count is announced.
    let live: Vec<String> = eval(
        &page,
        "[...document.querySelectorAll('[aria-live]')].map(e => e.id)",
    )
    .await;
    assert_eq!(live, ["table-status"]);

    // Sort by name from the keyboard: the focus stays on the header.
    eval::<bool>(
        &page,
        "(document.querySelector('[data-testid=sort-name]').focus(), true)",
    )
    .await;
    key(&page, "Enter").await;
    wait_until(&page, "location.search.includes('sort=name')").await;
    wait_until(
        &page,
        "document.activeElement && document.activeElement.dataset.sort === 'name'",
    )
    .await;
    let status: String = eval(&page, "document.getElementById('table-status').textContent").await;
    assert!(
        status.starts_with(&format!("{} repositories", fixture::acme_repos().len())),
        "{status}"
    );

    // From the bottom of the page, Next brings the table's top back into view.
    eval::<bool>(
        &page,
        "(window.scrollTo(0, document.body.scrollHeight), true)",
    )
    .await;
    let before: f64 = eval(
        &page,
        "document.getElementById('repos').getBoundingClientRect().top",
    )
    .await;
    click(&page, "[data-testid=page-next]").await;
    wait_until(&page, "location.search.includes('page=2')").await;
    wait_until(
        &page,
        "document.activeElement && document.activeElement.dataset.testid === 'page-next'",
    )
    .await;
    let top: f64 = eval(
        &page,
        "document.getElementById('repos').getBoundingClientRect().top",
    )
    .await;
    let height: f64 = eval(&page, "window.innerHeight").await;
    assert!(
        (0.0..height).contains(&top),
        "the table's top at {top} px (was {before} px), window {height} px"
    );
    // Searching announces the new count.
    chromium::type_into(&page, "[data-testid=search-input]", "bert").await;
    wait_until(
        &page,
        "document.getElementById('table-status').textContent.includes('matching')",
    )
    .await;
    let bert = fixture::acme_repos()
        .iter()
        .filter(|n| n.contains("bert"))
        .count();
    let status: String = eval(&page, "document.getElementById('table-status').textContent").await;
    assert!(
        status.starts_with(&format!("{bert} repositories matching")),
        "{status}"
    );
    chromium.close().await;
}

/// The boxes of a chart's date labels: `[left, right]` in CSS pixels, and the chart's box.
async fn label_boxes(page: &Page, chart: &str) -> (Vec<(f64, f64)>, (f64, f64)) {
    eval(
        page,
        &format!(
            "(svg => [[...svg.querySelectorAll('.xlabels text')].filter(t => t.getBBox().width > 0 && getComputedStyle(t).display !== 'none')\
               .map(t => {{ const r = t.getBoundingClientRect(); return [r.left, r.right]; }}),\
               (r => [r.left, r.right])(svg.getBoundingClientRect())])(document.querySelector('{chart}'))"
        ),
    )
    .await
}

/// Checks that no two labels overlap and that every label lies within the chart.
fn assert_apart(name: &str, labels: &[(f64, f64)], chart: (f64, f64)) {
    assert!(labels.len() >= 2, "{name}: {labels:?}");
    for w in labels.windows(2) {
        assert!(w[0].1 + 2.0 <= w[1].0, "{name}: labels overlap: {labels:?}");
    }
    for l in labels {
        assert!(
            l.0 >= chart.0 - 1.0 && l.1 <= chart.1 + 1.0,
            "{name}: {l:?} outside {chart:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_axis_labels_never_collide() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = signed_in(&server, &chromium, DASHBOARD).await;
    let views = [
        ("365 days", format!("{DASHBOARD}?period=365d"), "#org-chart"),
        ("90 days", format!("{DASHBOARD}?period=90d"), "#org-chart"),
        ("all time", DASHBOARD.to_owned(), "#org-chart"),
        (
            "last month",
            format!("{DASHBOARD}?period=last-month"),
            "#org-chart",
        ),
        (
            "weekly drill-down",
            format!("{DASHBOARD}/models/bert-base?period=365d&granularity=week"),
            "#repo-chart",
        ),
        (
            "daily drill-down",
            format!("{DASHBOARD}/models/bert-base?granularity=day"),
            "#repo-chart",
        ),
    ];
    for (width, height) in [(1280, 900), (390, 844)] {
        for (name, href, chart) in &views {
            chromium::emulate_window(&page, width, height).await;
            chromium::goto(&page, &server.url(href)).await;
            let (labels, bounds) = label_boxes(&page, chart).await;
            assert_apart(&format!("{name} at {width} px"), &labels, bounds);
            // The year is written where it changes only.
            let texts: Vec<String> = eval(
                &page,
                &format!("[...document.querySelectorAll('{chart} .xlabels text')].map(t => t.textContent)"),
            )
            .await;
            let with_year = texts.iter().filter(|t| t.contains("20")).count();
            let years: std::collections::BTreeSet<&str> = texts
                .iter()
                .filter_map(|t| t.rsplit(' ').next().filter(|y| y.starts_with("20")))
                .collect();
            assert!(with_year <= years.len() + 1, "{name}: {texts:?}");
        }
    }
    chromium.close().await;
}

/// WCAG contrast of `selector`'s text against the colour actually behind it (the nearest
/// ancestor with a background), with the opacity of the element and its ancestors applied.
async fn effective_contrast(page: &Page, selector: &str) -> f64 {
    let js = format!(
        "(() => {{
           const el = document.querySelector({selector:?});
           const rgba = c => c.match(/[\\d.]+/g).map(Number).concat([1]).slice(0, 4);
           let bg = null, opacity = 1;
           for (let e = el; e; e = e.parentElement) {{
             const s = getComputedStyle(e);
             opacity *= Number(s.opacity);
             const c = rgba(s.backgroundColor);
             if (!bg && c[3] > 0) bg = c;
           }}
           bg = bg || rgba(getComputedStyle(document.documentElement).backgroundColor);
           const fg = rgba(getComputedStyle(el).color);
           const a = fg[3] * opacity;
           const mixed = [0, 1, 2].map(i => fg[i] * a + bg[i] * (1 - a));
           const lum = c => {{
             const [r, g, b] = c.map(v => {{ v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }});
             return 0.2126 * r + 0.7152 * g + 0.0722 * b;
           }};
           const [x, y] = [lum(mixed), lum(bg)].sort((p, q) => q - p);
           return (x + 0.05) / (y + 0.05);
         }})()"
    );
    eval(page, &js).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_the_phone_layout_keeps_everything_legible() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = signed_in(&server, &chromium, DASHBOARD).await;
    for scheme in ["light", "dark"] {
        chromium::emulate_window(&page, 390, 844).await;
        chromium::color_scheme(&page, scheme).await;
        chromium::goto(
            &page,
            &server.url(&format!("{DASHBOARD}?period=last-month")),
        )
        .await;
        // The three totals in one row.
        let tops: Vec<f64> = eval(
            &page,
            "[...document.querySelectorAll('[data-testid=totals] .stat')].map(c => c.getBoundingClientRect().top)",
        )
        .await;
        assert_eq!(tops.len(), 3);
        assert!(
            tops.iter().all(|t| (t - tops[0]).abs() < 0.5),
            "{scheme}: {tops:?}"
        );
        // Every period button whole and inside the window, its label on one line.
        let buttons: Vec<(f64, f64, f64)> = eval(
            &page,
            "[...document.querySelectorAll('[data-testid=period-toggle] .segmented a, [data-testid=custom-range-toggle]')]\
               .map(a => { const r = a.getBoundingClientRect(); return [r.left, r.right, a.scrollWidth - a.clientWidth]; })",
        )
        .await;
        assert!(
            buttons
                .iter()
                .all(|(l, r, clipped)| *l >= 0.0 && *r <= 390.0 && *clipped <= 0.0),
            "{scheme}: {buttons:?}"
        );
        // Sparklines and changes stay, and badges stay legible.
        let (sparks, changes, smallest): (usize, usize, f64) = eval(
            &page,
            "[[...document.querySelectorAll('svg.spark')].filter(s => s.getBoundingClientRect().width > 20).length,\
              [...document.querySelectorAll('.col-change')].filter(c => c.offsetParent).length,\
              Math.min(...[...document.querySelectorAll('.type-badge')].map(b => parseFloat(getComputedStyle(b).fontSize)))]",
        )
        .await;
        let rows: usize = eval(
            &page,
            "document.querySelectorAll('[data-testid=repo-row]').length",
        )
        .await;
        assert_eq!(
            (sparks, changes),
            (rows, rows + 1),
            "{scheme}: sparklines and change cells"
        );
        assert!(smallest >= 11.0, "{scheme}: badge font {smallest} px");
        let (scroll, inner): (f64, f64) = eval(
            &page,
            "[document.documentElement.scrollWidth, window.innerWidth]",
        )
        .await;
        assert!(scroll <= inner, "{scheme}: {scroll} px wide");
        chromium::screenshot(&page, &format!("polish-phone-dashboard-{scheme}")).await;
    }
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_the_change_text_meets_contrast_aa() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = signed_in(
        &server,
        &chromium,
        &format!("{DASHBOARD}?period=last-month"),
    )
    .await;
    for scheme in ["light", "dark"] {
        chromium::color_scheme(&page, scheme).await;
        for selector in [
            ".col-change .change.up small",
            ".col-change .change.down small",
            ".col-change .change",
            ".col-change .muted",
            "[data-testid=repo-count]",
        ] {
            if !eval::<bool>(&page, &format!("!!document.querySelector({selector:?})")).await {
                continue;
            }
            let ratio = effective_contrast(&page, selector).await;
            assert!(ratio >= 4.5, "{scheme}: `{selector}` {ratio:.2}:1");
        }
    }
    chromium.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_screenshots_of_the_changed_views() {
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = signed_in(&server, &chromium, DASHBOARD).await;
    let views = [
        ("dashboard", format!("{DASHBOARD}?period=last-month&q=bert")),
        (
            "custom-range",
            format!("{DASHBOARD}?period=custom&from=2025-05-01&to=2025-07-15"),
        ),
        (
            "custom-range-invalid",
            format!("{DASHBOARD}?period=custom&from=2025-07-01&to=2025-07-15"),
        ),
        ("drill-down", format!("{DASHBOARD}/datasets/wiki-dump")),
    ];
    let mut shots = Vec::new();
    for (name, href) in &views {
        for (width, suffix) in [(1280, ""), (390, "phone-")] {
            for scheme in ["light", "dark"] {
                chromium::emulate_window(&page, width, 844).await;
                chromium::color_scheme(&page, scheme).await;
                chromium::goto(&page, &server.url(href)).await;
                let path =
                    chromium::screenshot(&page, &format!("polish-{suffix}{name}-{scheme}")).await;
                shots.push(path);
            }
        }
    }
    // The clipped range says so in its caption.
    chromium::goto(&page, &server.url(&views[1].1)).await;
    let caption: String = eval(
        &page,
        "document.querySelector('[data-testid=period-caption]').textContent",
    )
    .await;
    assert!(
        caption.contains("clipped to today (Jun 30, 2025)"),
        "{caption}"
    );
    if std::env::var_os("HUBSTATS_UPDATE_DOCS_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&docs).expect("create docs/screenshots");
        for shot in &shots {
            let name = shot
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .replace("polish-", "");
            std::fs::copy(shot, docs.join(name)).expect("copy a screenshot to docs/");
        }
    }
    let _ = ORG;
    let _ = wait_for_location;
    chromium.close().await;
}

// Regression: with the session gone, a table swap followed the redirect to sign-in and put
// the sign-in page inside the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium"]
async fn browser_a_table_update_after_the_session_ended_goes_to_sign_in() {
    use chromiumoxide::cdp::browser_protocol::network::ClearBrowserCookiesParams;
    let (_app, server) = start().await;
    let chromium = Chromium::launch().await;
    let page = signed_in(&server, &chromium, DASHBOARD).await;
    chromium::within(
        "clearing cookies",
        page.execute(ClearBrowserCookiesParams::default()),
    )
    .await
    .expect("Network.clearBrowserCookies");
    chromium::type_into(&page, "[data-testid=search-input]", "bert").await;
    wait_until(
        &page,
        "location.pathname === '/login' && document.readyState === 'complete'",
    )
    .await;
    let next: String = eval(&page, "document.querySelector('input[name=next]').value").await;
    assert!(
        next.starts_with(DASHBOARD) && next.contains("q=bert"),
        "{next}"
    );
    chromium.close().await;
}
