//! The dashboard explains its numbers, through the router: the table's order and URLs, the
//! organization's address in any case, sizes and partial buckets in words, where figures come
//! from and how fresh they are (reference day pinned). Expected figures come from the CSV text.

use crate::analytics;

use crate::analytics::{fixture, json};

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
