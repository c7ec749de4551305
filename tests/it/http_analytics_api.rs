//! The analytics JSON API through the router: responses (snapshots, reference day pinned),
//! their agreement with the OpenAPI document, parameter errors and access.

use crate::common;

use crate::analytics::{fixture, json, validate};
use crate::common::Auth;
use serde_json::Value;

const API: &str = "/api/organizations/acme/analytics";

#[tokio::test]
async fn overview_for_all_time_and_last_month() {
    let f = fixture();
    let all = json(&f.app.get(API, &f.auth).await);
    assert_eq!(
        all["totals"],
        serde_json::json!({"all": 1013 + 53 + 4 + 2, "model": 1066, "dataset": 6})
    );
    assert_eq!(all["previous"], Value::Null);
    insta::assert_snapshot!("overview_all_time", pretty(&all));
    let month = json(
        &f.app
            .get(&format!("{API}?period=last-month"), &f.auth)
            .await,
    );
    insta::assert_snapshot!("overview_last_month", pretty(&month));
}

#[tokio::test]
async fn repos_page_search_and_sort() {
    let f = fixture();
    let res = json(
        &f.app
            .get(
                &format!("{API}/repos?period=last-month&q=ALPHA&sort=name"),
                &f.auth,
            )
            .await,
    );
    insta::assert_snapshot!("repos_alpha_by_name", pretty(&res));
    let res = json(
        &f.app
            .get(
                &format!("{API}/repos?per_page=2&page=2&sort=total&order=asc"),
                &f.auth,
            )
            .await,
    );
    assert_eq!(
        (
            res["count"].as_u64(),
            res["page"].as_u64(),
            res["per_page"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    let names: Vec<&str> = res["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repoName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme/beta", "acme/Alpha"]);
}

#[tokio::test]
async fn repo_detail_by_either_path_form() {
    let f = fixture();
    let q = "period=custom&from=2023-12-31&to=2024-02-29&granularity=month";
    let two = json(
        &f.app
            .get(&format!("{API}/repos/model/acme/beta?{q}"), &f.auth)
            .await,
    );
    let encoded = json(
        &f.app
            .get(&format!("{API}/repos/model/acme%2Fbeta?{q}"), &f.auth)
            .await,
    );
    assert_eq!(two, encoded);
    insta::assert_snapshot!("repo_beta_custom_month", pretty(&two));
    let all = json(
        &f.app
            .get(&format!("{API}/repos/model/acme/Alpha"), &f.auth)
            .await,
    );
    assert_eq!(
        (
            all["total"].as_u64(),
            all["downloads"].as_u64(),
            all["adjustment"].as_i64()
        ),
        (Some(1013), Some(1013), Some(1000))
    );
}

#[tokio::test]
async fn responses_match_the_openapi_document() {
    let f = fixture();
    let doc = json(&f.app.get("/api/openapi.json", &Auth::None).await);
    assert_eq!(doc["openapi"], "3.1.0");
    let cases = [
        (
            "/api/organizations/{org}/analytics",
            "/api/organizations/acme/analytics".to_owned(),
        ),
        (
            "/api/organizations/{org}/analytics",
            format!("{API}?period=7d"),
        ),
        (
            "/api/organizations/{org}/analytics",
            format!("{API}?period=custom&from=2024-02-01&to=2024-02-29"),
        ),
        (
            "/api/organizations/{org}/analytics/repos",
            format!("{API}/repos"),
        ),
        (
            "/api/organizations/{org}/analytics/repos",
            format!("{API}/repos?period=90d&type=dataset"),
        ),
        (
            "/api/organizations/{org}/analytics/repos/{repoType}/{repoName}",
            format!("{API}/repos/model/acme/beta"),
        ),
        (
            "/api/organizations/{org}/analytics/repos/{repoType}/{repoName}",
            format!("{API}/repos/dataset/acme/gamma?period=7d&granularity=week"),
        ),
    ];
    for (path, url) in cases {
        let op = &doc["paths"][path]["get"];
        let value = json(&f.app.get(&url, &f.auth).await);
        let errors = validate(
            &doc,
            &op["responses"]["200"]["content"]["application/json"]["schema"],
            &value,
            "$",
        );
        assert!(errors.is_empty(), "{url}: {errors:#?}");
        // Every documented query parameter is one the handler knows (it answers 400 to a bad value).
        for p in op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
        {
            let name = p["name"].as_str().unwrap();
            let bad = f
                .app
                .get(
                    &format!(
                        "{url}{}{name}=%00bad",
                        if url.contains('?') { "&" } else { "?" }
                    ),
                    &f.auth,
                )
                .await;
            if name == "q" {
                assert_eq!(bad.status, 200, "{name}");
                continue;
            }
            if matches!(name, "from" | "to") && !url.contains("custom") {
                continue; // ignored unless the period is custom
            }
            assert_eq!(bad.status, 400, "{url} {name}: {}", bad.text());
            assert!(bad.text().contains(&format!("`{name}`")), "{}", bad.text());
            let errors = validate(
                &doc,
                &op["responses"]["400"]["content"]["application/json"]["schema"],
                &json_any(&bad),
                "$",
            );
            assert!(errors.is_empty(), "{errors:?}");
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

fn json_any(res: &common::TestResponse) -> Value {
    serde_json::from_str(&res.text()).unwrap()
}

#[tokio::test]
async fn bad_parameters_are_400s_that_name_them() {
    let f = fixture();
    for (query, name) in [
        ("period=fortnight", "period"),
        ("period=custom&from=2024-02-10", "to"),
        ("period=custom&from=2024-02-10&to=2024-02-01", "from"),
        ("per_page=501", "per_page"),
        ("page=0", "page"),
        ("sort=stars", "sort"),
        ("order=sideways", "order"),
        ("type=space", "type"),
    ] {
        let res = f.app.get(&format!("{API}/repos?{query}"), &f.auth).await;
        assert_eq!(res.status, 400, "{query}");
        assert!(
            res.text().contains(&format!("`{name}`")),
            "{query}: {}",
            res.text()
        );
    }
    let res = f.app.get(&format!("{API}/repos/model/acme/beta?period=custom&from=2000-01-01&to=2024-01-01&granularity=day"), &f.auth).await;
    assert_eq!(res.status, 400);
    assert!(res.text().contains("`granularity`"), "{}", res.text());
}

#[tokio::test]
async fn other_organizations_and_unknown_repositories_are_404() {
    let f = fixture();
    for path in [
        format!("{API}/repos/model/rival/alpha-secret"),
        format!("{API}/repos/model/acme/nope"),
        format!("{API}/repos/space/acme/beta"),
        "/api/organizations/rival/analytics".to_owned(),
    ] {
        let res = f.app.get(&path, &f.auth).await;
        assert!(
            matches!(res.status.as_u16(), 403 | 404),
            "{path}: {}",
            res.status
        );
        assert!(!res.text().contains("5000"), "{path}");
    }
    let all = json(&f.app.get(&format!("{API}/repos?q=alpha"), &f.auth).await);
    assert_eq!(all["count"], 2, "rival/alpha-secret never shows");
    assert_eq!(f.app.get(API, &Auth::None).await.status, 401);
    assert_eq!(
        f.app
            .get(API, &Auth::Bearer("hs_wrong".into()))
            .await
            .status,
        401
    );
}
