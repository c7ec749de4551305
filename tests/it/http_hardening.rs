//! Production hardening through the router in-process: security headers and the CSP, request
//! ids on responses and on 500 pages, `/readyz`, `/metrics` and who may read it, and parameter
//! errors that used to slip through.

use crate::analytics;

use std::net::SocketAddr;

use crate::analytics::fixture;
use crate::common::{Auth, TestApp};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use hubstats::web::{router_with, AppState, Shared};
use tower::ServiceExt;

const DASHBOARD: &str = "/organizations/acme/settings/publisher-analytics";
const API: &str = "/api/organizations/acme/analytics";

/// Breaks the store under the running app: queries of repositories fail from now on.
fn break_store(app: &TestApp, table: &str) {
    let conn = rusqlite::Connection::open(&app.store_path).unwrap();
    conn.execute_batch(&format!("PRAGMA foreign_keys = OFF; DROP TABLE {table}"))
        .unwrap();
}

#[tokio::test]
async fn pages_and_api_answers_carry_the_security_headers_and_are_not_cached() {
    let f = fixture();
    let session = Auth::Session(f.app.session("alice"));
    for (path, auth) in [
        (DASHBOARD.to_owned(), &session),
        (format!("{DASHBOARD}/models/Alpha"), &session),
        (API.to_owned(), &f.auth),
        (format!("{API}/repos"), &f.auth),
        ("/login".to_owned(), &Auth::None),
        ("/".to_owned(), &session),
    ] {
        let res = f.app.get_html(&path, auth).await;
        assert_eq!(res.status, 200, "{path}");
        let csp = res.header("content-security-policy").unwrap_or_default();
        for directive in [
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "default-src 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(res.header("referrer-policy"), Some("same-origin"), "{path}");
        assert_eq!(
            res.header("cache-control"),
            Some("private, no-store"),
            "{path}"
        );
    }
    // The versioned static assets keep their long-lived public caching.
    let css = f.app.get("/static/dashboard.css", &Auth::None).await;
    assert!(css.header("cache-control").unwrap().contains("immutable"));
}

/// The CSP forbids inline script and style, so no page may carry any.
#[tokio::test]
async fn no_page_has_inline_script_style_or_event_handlers() {
    let f = fixture();
    let session = Auth::Session(f.app.session("alice"));
    for (path, auth) in [
        (DASHBOARD.to_owned(), &session),
        (format!("{DASHBOARD}?period=last-month&q=a"), &session),
        (format!("{DASHBOARD}?fragment=table"), &session),
        (format!("{DASHBOARD}/models/Alpha"), &session),
        ("/login".to_owned(), &Auth::None),
        ("/".to_owned(), &session),
        (
            "/organizations/nope/settings/publisher-analytics".to_owned(),
            &session,
        ),
    ] {
        let html = f.app.get_html(&path, auth).await.text().to_lowercase();
        for (at, _) in html.match_indices("<script") {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{path}: inline script {tag}");
        }
        assert!(!html.contains("<style"), "{path}: inline <style>");
        assert!(!html.contains(" style="), "{path}: a style attribute");
        for handler in [
            " onclick=",
            " onload=",
            " onchange=",
            " onsubmit=",
            " oninput=",
        ] {
            assert!(!html.contains(handler), "{path}: {handler}");
        }
        assert!(!html.contains("javascript:"), "{path}");
    }
}

#[tokio::test]
async fn every_response_names_its_request_id_and_a_500_page_shows_it() {
    let f = fixture();
    let res = f.app.get(API, &f.auth).await;
    let id = res
        .header("x-request-id")
        .expect("an x-request-id")
        .to_owned();
    assert_eq!(id.len(), 16, "{id}");
    // A proxy's id is kept when it is plain, replaced when it is not.
    let req = |id: &str| {
        Request::get("/healthz")
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap()
    };
    let kept = f.app.send(req("edge-42.a_b")).await;
    assert_eq!(kept.header("x-request-id"), Some("edge-42.a_b"));
    let replaced = f.app.send(req("<script>")).await;
    assert_ne!(replaced.header("x-request-id"), Some("<script>"));

    break_store(&f.app, "count_orgs");
    let session = Auth::Session(f.app.session("alice"));
    let page = f.app.get_html(DASHBOARD, &session).await;
    assert_eq!(page.status, 500, "{}", page.text());
    let id = page.header("x-request-id").unwrap().to_owned();
    assert!(
        page.text()
            .contains(&format!("data-testid=\"request-id\">{id}<")),
        "{}",
        page.text()
    );
    let api = f.app.get(API, &f.auth).await;
    assert_eq!(api.status, 500);
    let body: serde_json::Value = serde_json::from_str(&api.text()).unwrap();
    assert_eq!(body["request_id"], api.header("x-request-id").unwrap());
}

#[tokio::test]
async fn readyz_checks_the_store() {
    let app = TestApp::new();
    let res = app.get("/readyz", &Auth::None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    break_store(&app, "count_orgs");
    let res = app.get("/readyz", &Auth::None).await;
    assert_eq!(res.status, 503, "{}", res.text());
}

/// `GET /metrics` from `peer` with an optional bearer token, on `router`.
async fn metrics(router: &axum::Router, peer: &str, token: Option<&str>) -> (u16, String) {
    let mut req = Request::get("/metrics");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req.body(Body::empty()).unwrap();
    let addr: SocketAddr = peer.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn metrics_are_prometheus_text_for_allowed_addresses_or_the_token_only() {
    let f = fixture();
    let mut config = f.app.config.clone();
    config.metrics_allow = vec![hubstats::config::parse_net("10.0.0.0/8").unwrap()];
    config.metrics_token = Some("scrape-secret".to_owned());
    // The fixture's store file opened again with a budget of its own, so the budget shown is
    // the one the store was opened with.
    let location = f.app.store_path.to_string_lossy().into_owned();
    let store = hubstats::store::open_with_index_budget(&location, 12_345_678).unwrap();
    let state = AppState {
        store,
        config: std::sync::Arc::new(config),
    };
    let shared = Shared {
        metrics: std::sync::Arc::new(hubstats::web::metrics::Metrics::with_store_path(
            &f.app.store_path.to_string_lossy(),
        )),
        ..Shared::default()
    };
    let router = router_with(state, shared);
    let req = Request::get(API)
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", token_of(&f.auth)),
        )
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    drop(res.into_body().collect().await.unwrap());

    assert_eq!(metrics(&router, "127.0.0.1:1", None).await.0, 403);
    assert_eq!(
        metrics(&router, "203.0.113.1:1", Some("wrong")).await.0,
        403
    );
    let (status, text) = metrics(&router, "10.1.2.3:1", None).await;
    assert_eq!(status, 200, "{text}");
    let (status, by_token) = metrics(&router, "203.0.113.1:1", Some("scrape-secret")).await;
    assert_eq!(status, 200, "{by_token}");
    for line in [
        "# TYPE hubstats_http_requests counter",
        "hubstats_http_requests_total{method=\"GET\",route=\"/api/organizations/{org}/analytics\",status=\"200\"} 1",
        "# TYPE hubstats_http_request_duration_seconds histogram",
        "hubstats_http_request_duration_seconds_count{route=\"/api/organizations/{org}/analytics\"} 1",
        "hubstats_http_requests_in_flight 1",
        "# TYPE hubstats_store_bytes gauge",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // The store's figures, counted here from the imported CSV: its repository-days with
    // downloads (all in the `breakdown` source) and its distinct repositories.
    let data: Vec<Vec<&str>> = (analytics::SMALL_CSV.lines().skip(1))
        .map(|l| l.split(',').collect())
        .collect();
    let days = data.iter().filter(|f| f[4] != "0").count();
    let repos: std::collections::BTreeSet<(&str, &str)> =
        data.iter().map(|f| (f[0], f[1])).collect();
    for line in [
        format!("hubstats_store_rows{{source=\"breakdown\"}} {days}"),
        format!("hubstats_store_repositories {}", repos.len()),
        "hubstats_index_budget_bytes 12345678".to_owned(),
    ] {
        assert!(text.contains(&line), "missing {line:?} in\n{text}");
    }
    // The analytics request above built the organization's index.
    let index_bytes: u64 = (text.lines())
        .find_map(|l| l.strip_prefix("hubstats_index_bytes "))
        .and_then(|v| v.parse().ok())
        .expect("the indexes' memory");
    assert!(index_bytes > 0, "{text}");
    assert!(
        text.contains("hubstats_store_source_applied_timestamp_seconds{source=\"breakdown\"} 1")
    );
    // The import's time: this test's fixture imported the CSV within the last hour.
    let prefix = "hubstats_store_source_applied_timestamp_seconds{source=\"breakdown\"} ";
    let applied: u64 = (text.lines())
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|v| v.parse().ok())
        .expect("an applied time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        applied <= now && now - applied < 3600,
        "{applied} vs now {now}"
    );
}

fn token_of(auth: &Auth) -> String {
    match auth {
        Auth::Bearer(t) => t.clone(),
        other => panic!("not a token: {other:?}"),
    }
}

/// Regression: `granularity=hour` was accepted (and ignored) by the overview and the table.
#[tokio::test]
async fn an_unknown_granularity_is_refused_by_every_endpoint() {
    let f = fixture();
    for path in [
        format!("{API}?granularity=hour"),
        format!("{API}/repos?granularity=hour"),
        format!("{API}/repos/model/acme/Alpha?granularity=hour"),
    ] {
        let res = f.app.get(&path, &f.auth).await;
        assert_eq!(res.status, 400, "{path}: {}", res.text());
        assert!(
            res.text().contains("`granularity`"),
            "{path}: {}",
            res.text()
        );
    }
}

/// Regression: the overview's error for a long range talked about a `granularity` parameter
/// the overview does not have.
#[tokio::test]
async fn the_longest_overview_period_is_clipped_and_answered() {
    // Ranges end on the reference day at the latest, so the longest custom range the product
    // accepts (2000-01-01 to 2999-12-31) is about 300 monthly points: answered, not refused
    // with a message about a `granularity` parameter the overview does not have.
    let f = fixture();
    let res = f
        .app
        .get(
            &format!("{API}?period=custom&from=2000-01-01&to=2999-12-31"),
            &f.auth,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    let json: serde_json::Value = serde_json::from_str(&res.text()).unwrap();
    assert_eq!(json["period"]["to"], "2024-03-01");
    assert_eq!(json["granularity"], "month");
}
