//! The dashboard pages through the router: what they show, their links, empty states, the table
//! fragment, the drill-down page and parameter errors (reference day pinned).

use crate::analytics;

use crate::analytics::{fixture, fixture_with};
use crate::common::Auth;

const PAGE: &str = "/organizations/acme/settings/publisher-analytics";

async fn page(f: &analytics::Fixture, query: &str) -> String {
    let res = f.app.get_html(&format!("{PAGE}{query}"), &f.auth).await;
    assert_eq!(res.status, 200, "{query}: {}", res.text());
    res.text()
}

/// The `data-repo-name`s of the table's rows, in order.
fn row_names(html: &str) -> Vec<String> {
    html.split("data-testid=\"repo-row\"")
        .skip(1)
        .map(|row| {
            let v = row.split("data-repo-name=\"").nth(1).unwrap();
            v[..v.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn dashboard_shows_totals_chart_table_and_csv_button() {
    let f = fixture();
    let html = page(&f, "").await;
    for needle in [
        r#"data-testid="total-all" data-value="1072""#,
        r#"data-testid="total-model" data-value="1066""#,
        r#"data-testid="total-dataset" data-value="6""#,
        r#"title="1,072 downloads">1.07k<"#,
        r#"<svg class="chart" id="org-chart""#,
        r#"href="/organizations/acme/settings/publisher-analytics/download-breakdown""#,
        r#"data-testid="repo-count" data-count="4""#,
        r#"aria-current="page" class="current">All Time<"#,
        r#"<th scope="col" aria-sort="descending" class="col-downloads num">"#,
        "/static/dashboard.js?v=",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    assert_eq!(
        row_names(&html),
        ["acme/Alpha", "acme/beta", "acme/alpha", "acme/gamma"]
    );
    assert!(!html.contains("rival"));
}

#[tokio::test]
async fn table_fragment_snapshot() {
    let f = fixture();
    let html = page(&f, "?period=last-month&fragment=table&sort=change").await;
    assert!(!html.contains("<html"), "a fragment, not a page");
    insta::assert_snapshot!("table_last_month_by_change", html);
}

#[tokio::test]
async fn last_month_shows_changes_against_the_previous_month() {
    let f = fixture();
    let html = page(&f, "?period=last-month").await;
    // acme/beta: 13 in 2024-02-01..=2024-03-01, 20 in 2024-01-02..=2024-01-31.
    assert!(html.contains(
        r#"data-repo-name="acme/beta" data-downloads="13" data-total="53" data-previous="20""#
    ));
    assert!(
        html.contains("\u{2212}7 <small>\u{2212}35.0%</small>"),
        "beta's change"
    );
    assert!(html.contains("vs the previous 30 days"));
    assert!(html.contains("Feb 1, 2024 \u{2013} Mar 1, 2024"));
}

#[tokio::test]
async fn links_carry_the_whole_state() {
    let f = fixture();
    let html = page(
        &f,
        "?period=90d&q=alp&type=model&sort=name&order=desc&page=1",
    )
    .await;
    // sorting by the current column flips the order and keeps period, search and filter
    assert!(html.contains(r#"href="/organizations/acme/settings/publisher-analytics?period=90d&#38;q=alp&#38;type=model&#38;sort=name" data-sort="name""#), "name header");
    // the period toggle keeps the search
    assert!(html.contains(r#"href="/organizations/acme/settings/publisher-analytics?period=7d&#38;q=alp&#38;type=model&#38;sort=name&#38;order=desc""#));
    // drill-down links keep the whole view, so the way back does too
    assert!(html.contains(
        r#"href="/organizations/acme/settings/publisher-analytics/models/Alpha?period=90d&#38;q=alp&#38;type=model&#38;sort=name&#38;order=desc""#
    ));
    assert!(html.contains(r#"<input type="search" name="q" id="q" value="alp""#));
    assert!(html.contains(r#"<option value="model" selected>"#));
}

#[tokio::test]
async fn paging_is_stable_and_counts_every_match() {
    let f = fixture();
    let mut seen = Vec::new();
    for p in 1..=3 {
        let html = page(
            &f,
            &format!("?per_page=1&page={p}&sort=downloads&period=7d"),
        )
        .await;
        assert!(html.contains(r#"data-testid="repo-count" data-count="4""#));
        assert!(html.contains(&format!(r#"data-page="{p}" data-pages="4""#)));
        seen.extend(row_names(&html));
    }
    assert_eq!(seen, ["acme/Alpha", "acme/beta", "acme/alpha"]);
}

#[tokio::test]
async fn empty_states() {
    let f = fixture();
    assert!(page(&f, "?q=zzz")
        .await
        .contains(r#"data-testid="empty-no-match""#));
    let html = page(&f, "?period=custom&from=2022-01-01&to=2022-01-31").await;
    assert!(
        html.contains(r#"data-testid="empty-before-data""#),
        "Jan 2022 is before the data"
    );
    let html = page(&f, "?period=custom&from=2024-01-05&to=2024-01-10").await;
    assert!(
        html.contains(r#"data-testid="empty-period""#),
        "no downloads on Jan 5-10, 2024"
    );
    let empty = fixture_with(
        analytics::TODAY,
        "repoType,repoName,total,timestamp,downloads\n",
    );
    let html = page(&empty, "").await;
    assert!(html.contains(r#"data-testid="empty-no-repos""#));
    assert!(html.contains("No downloads recorded yet"));
}

#[tokio::test]
async fn drill_down_page() {
    let f = fixture();
    let res = f
        .app
        .get_html(
            &format!("{PAGE}/models/Alpha?period=last-month&granularity=week"),
            &f.auth,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let html = res.text();
    for needle in [
        r#"data-testid="repo-downloads" data-value="13""#,
        r#"data-testid="repo-total" data-value="1013""#,
        r#"data-testid="repo-adjustment" data-value="1000""#,
        "of which 1,000 before daily history",
        r#"data-testid="repo-first-day">Feb 28, 2024<"#,
        r#"data-testid="repo-last-day">Mar 1, 2024<"#,
        r#"<svg class="chart" id="repo-chart""#,
        r#"data-granularity="week""#,
        // Last Month ends on Friday Mar 1, 2024: its last week holds 5 days.
        "partial week (5 of 7 days)",
        r#"data-testid="granularity-week" aria-current="true""#,
        r#"href="/organizations/acme/settings/publisher-analytics?period=last-month" data-testid="back-link""#,
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
    for missing in ["/models/nope", "/spaces/Alpha", "/datasets/Alpha"] {
        let res = f.app.get_html(&format!("{PAGE}{missing}"), &f.auth).await;
        assert_eq!(res.status, 404, "{missing}");
    }
}

// Regression: a repository with nothing before its daily history said "including downloads
// before daily history" beside "all in daily history".
#[tokio::test]
async fn drill_down_explains_the_adjustment_the_same_way_on_both_cards() {
    let f = fixture();
    for (path, adjustment, sentence) in [
        (
            "models/Alpha",
            "1000",
            "of which 1,000 before daily history",
        ),
        ("models/beta", "0", "all in daily history"),
        (
            "datasets/alpha",
            "-2",
            "2 less than daily history adds up to",
        ),
    ] {
        let res = f.app.get_html(&format!("{PAGE}/{path}"), &f.auth).await;
        assert_eq!(res.status, 200, "{path}");
        let html = res.text();
        assert!(
            html.contains(&format!(r#"data-value="{adjustment}">{sentence}</p>"#)),
            "{path}: {html}"
        );
        if adjustment == "0" {
            assert!(!html.contains("before daily history"), "{path}: {html}");
        } else {
            // All Time: the downloads card speaks of the same amount.
            let amount = sentence
                .split(' ')
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .unwrap_or_default();
            let downloads_card = html
                .split(r#"data-testid="repo-downloads""#)
                .nth(1)
                .and_then(|rest| rest.split("</article>").next())
                .unwrap_or_default();
            assert!(downloads_card.contains(amount), "{path}: {downloads_card}");
        }
    }
}

#[tokio::test]
async fn bad_parameters_give_a_400_page_naming_them() {
    let f = fixture();
    let res = f.app.get_html(&format!("{PAGE}?sort=stars"), &f.auth).await;
    assert_eq!(res.status, 400);
    assert!(
        res.text().contains("`sort`") && res.text().contains("<html"),
        "{}",
        res.text()
    );
    let res = f
        .app
        .get_html(&format!("{PAGE}/models/Alpha?granularity=hour"), &f.auth)
        .await;
    assert_eq!(res.status, 400);
    assert!(res.text().contains("`granularity`"));
}

#[tokio::test]
async fn pages_need_access() {
    let f = fixture();
    // A signed-out browser goes to sign in; a script gets 401.
    assert_eq!(f.app.get_html(PAGE, &Auth::None).await.status, 303);
    assert_eq!(f.app.get(PAGE, &Auth::None).await.status, 401);
    f.app.user("mallory");
    let mallory = Auth::Bearer(f.app.token("mallory"));
    assert_eq!(f.app.get_html(PAGE, &mallory).await.status, 403);
    assert_eq!(
        f.app
            .get_html(&format!("{PAGE}/models/Alpha"), &mallory)
            .await
            .status,
        403
    );
    let session = Auth::Session(f.app.session("alice"));
    assert_eq!(f.app.get_html(PAGE, &session).await.status, 200);
}

#[tokio::test]
async fn assets_are_served() {
    let f = fixture();
    let js = f.app.get("/static/dashboard.js", &Auth::None).await;
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    let css = f.app.get("/static/dashboard.css", &Auth::None).await;
    assert!(css.text().contains("prefers-color-scheme: dark"));
}

// All Time has no previous period and its downloads are the totals: Change and All-time total
// columns would hold only dashes and a copy of Downloads.
#[tokio::test]
async fn change_and_total_columns_are_shown_only_beside_a_bounded_period() {
    let f = fixture();
    let all_time = page(&f, "?fragment=table").await;
    for column in ["change", "total"] {
        assert!(!all_time.contains(&format!(r#"data-testid="sort-{column}""#)));
        assert!(!all_time.contains(&format!("col-{column}")));
    }
    let last_month = page(&f, "?period=last-month&fragment=table").await;
    let rows = last_month.matches(r#"data-testid="repo-row""#).count();
    for column in ["change", "total"] {
        assert!(last_month.contains(&format!(r#"data-testid="sort-{column}""#)));
        let cells = format!(r#"<td class="num col-{column}">"#);
        assert_eq!(last_month.matches(&cells).count(), rows, "{column}");
    }
}
