//! Signing in and out through the router: cookies, CSRF, redirects, the index page.

use crate::common;

use crate::common::{input_value, password_of, Auth, TestApp, TestResponse};
use hubstats::domain::{Plan, Role};

fn app_with_alice(app: TestApp) -> TestApp {
    app.org("acme", Plan::Team);
    app.org("other", Plan::Team);
    app.org("freebie", Plan::Free);
    app.user("alice");
    app.member("acme", "alice", Role::Read);
    app.member("freebie", "alice", Role::Admin);
    app
}

/// GET /login: the form's CSRF token and the cookie that must accompany it.
async fn login_form(app: &TestApp, query: &str) -> (String, String) {
    let res = app.get_html(&format!("/login{query}"), &Auth::None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let cookie = res
        .cookie_value("hubstats_login_csrf")
        .expect("a CSRF cookie");
    let field = input_value(&res.text(), "csrf").expect("a csrf field");
    assert_eq!(cookie, field);
    (cookie, res.text())
}

async fn post_login(
    app: &TestApp,
    csrf_cookie: &str,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> TestResponse {
    let auth = Auth::Cookie(format!("hubstats_login_csrf={csrf_cookie}"));
    app.post_form_with("/login", &auth, fields, headers).await
}

async fn sign_in(app: &TestApp, next: &str, headers: &[(&str, &str)]) -> TestResponse {
    let (csrf, _) = login_form(app, "").await;
    let pw = password_of("alice");
    let fields = [
        ("username", "alice"),
        ("password", pw.as_str()),
        ("csrf", csrf.as_str()),
        ("next", next),
    ];
    post_login(app, &csrf, &fields, headers).await
}

fn flags(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|f| f.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn sign_in_sets_a_strict_session_cookie_and_follows_a_local_next() {
    let app = app_with_alice(TestApp::new());
    let next = "/organizations/acme/settings/publisher-analytics?period=all-time";
    let res = sign_in(&app, next, &[]).await;
    assert_eq!(res.status, 303, "{}", res.text());
    assert_eq!(res.header("location"), Some(next));
    let cookie = res
        .set_cookie("hubstats_session")
        .expect("a session cookie");
    let f = flags(&cookie);
    for flag in ["httponly", "samesite=lax", "path=/"] {
        assert!(f.contains(&flag.to_owned()), "{flag} missing in {cookie}");
    }
    assert!(
        !f.contains(&"secure".to_owned()),
        "not Secure over plain HTTP: {cookie}"
    );
    assert!(f.iter().any(|x| x.starts_with("max-age=")), "{cookie}");

    // The cookie signs the user in: the index lists their organizations only.
    let session = res.cookie_value("hubstats_session").unwrap();
    let page = app
        .get_html("/", &Auth::Cookie(format!("hubstats_session={session}")))
        .await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("href=\"/organizations/acme/settings/publisher-analytics\""),
        "{html}"
    );
    assert!(!html.contains("/organizations/other/"), "{html}");
    assert!(
        html.contains("freebie") && !html.contains("/organizations/freebie/"),
        "free plans get no link: {html}"
    );
    assert!(
        html.contains("alice") && html.contains("action=\"/logout\""),
        "{html}"
    );
}

#[tokio::test]
async fn next_outside_the_site_goes_home() {
    let app = app_with_alice(TestApp::new());
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
    ] {
        let res = sign_in(&app, next, &[]).await;
        assert_eq!(
            (res.status.as_u16(), res.header("location")),
            (303, Some("/")),
            "{next}"
        );
    }
}

#[tokio::test]
async fn cookies_are_secure_when_configured_or_forwarded_over_https() {
    let app = app_with_alice(TestApp::with_config(|c| c.secure_cookies = true));
    let res = sign_in(&app, "/", &[]).await;
    assert!(flags(&res.set_cookie("hubstats_session").unwrap()).contains(&"secure".to_owned()));

    let app = app_with_alice(TestApp::new());
    let res = sign_in(&app, "/", &[("x-forwarded-proto", "https")]).await;
    assert!(flags(&res.set_cookie("hubstats_session").unwrap()).contains(&"secure".to_owned()));
    let res = sign_in(&app, "/", &[("x-forwarded-proto", "http")]).await;
    assert!(!flags(&res.set_cookie("hubstats_session").unwrap()).contains(&"secure".to_owned()));
}

#[tokio::test]
async fn sign_in_rejects_missing_or_wrong_csrf_tokens() {
    let app = app_with_alice(TestApp::new());
    let (csrf, _) = login_form(&app, "").await;
    let pw = password_of("alice");
    let creds = [("username", "alice"), ("password", pw.as_str())];
    let without = post_login(&app, &csrf, &creds, &[]).await;
    let wrong = post_login(&app, &csrf, &[creds[0], creds[1], ("csrf", "0000")], &[]).await;
    let no_cookie = app
        .post_form(
            "/login",
            &Auth::None,
            &[creds[0], creds[1], ("csrf", csrf.as_str())],
        )
        .await;
    for res in [without, wrong, no_cookie] {
        assert_eq!(res.status, 403, "{}", res.text());
        assert_eq!(res.set_cookie("hubstats_session"), None);
    }
}

#[tokio::test]
async fn wrong_password_shows_the_form_again() {
    let app = app_with_alice(TestApp::new());
    let (csrf, _) = login_form(&app, "").await;
    for (user, pw) in [("alice", "nope"), ("nobody", "nope"), ("not a name", "x")] {
        let fields = [
            ("username", user),
            ("password", pw),
            ("csrf", csrf.as_str()),
            ("next", "/"),
        ];
        // As a browser sends it (regression: the sign-in redirect for signed-out browsers
        // answered the form's own 401 with a redirect, losing the alert).
        let browser = [("accept", "text/html,*/*;q=0.8")];
        let res = post_login(&app, &csrf, &fields, &browser).await;
        assert_eq!(res.status, 401, "{user}");
        assert!(
            res.text().contains("Wrong user name or password"),
            "{}",
            res.text()
        );
        assert_eq!(res.set_cookie("hubstats_session"), None);
    }
}

#[tokio::test]
async fn sign_out_needs_the_sessions_csrf_token() {
    let app = app_with_alice(TestApp::new());
    let session = app.session("alice");
    let auth = Auth::Session(session.clone());
    let page = app.get_html("/", &auth).await;
    let token = input_value(&page.text(), "csrf").expect("the sign-out form's token");

    // Another session's token, a made-up one, or none: refused, and still signed in.
    let other = hubstats::web::session::csrf_token_for(&app.session("alice"));
    for fields in [
        vec![],
        vec![("csrf", "forged")],
        vec![("csrf", other.as_str())],
    ] {
        let res = app.post_form("/logout", &auth, &fields).await;
        assert_eq!(res.status, 403, "{fields:?}");
        assert_eq!(app.get_html("/", &auth).await.status, 200);
    }

    let res = app
        .post_form("/logout", &auth, &[("csrf", token.as_str())])
        .await;
    assert_eq!(
        (res.status.as_u16(), res.header("location")),
        (303, Some("/login"))
    );
    let cleared = res
        .set_cookie("hubstats_session")
        .expect("the cookie is cleared");
    assert!(
        cleared.starts_with("hubstats_session=;") || cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let after = app.get_html("/", &auth).await;
    assert_eq!(
        (after.status.as_u16(), after.header("location")),
        (303, Some("/login")),
        "the session is gone"
    );
}

#[tokio::test]
async fn anonymous_index_redirects_to_sign_in_and_health_is_public() {
    let app = TestApp::new();
    let res = app.get_html("/", &Auth::None).await;
    assert_eq!(
        (res.status.as_u16(), res.header("location")),
        (303, Some("/login"))
    );
    let res = app.get("/healthz", &Auth::None).await;
    assert_eq!((res.status.as_u16(), res.text().as_str()), (200, "ok"));
}

#[tokio::test]
async fn stylesheet_is_served_with_cache_headers() {
    let app = TestApp::new();
    let (_, html) = login_form(&app, "").await;
    let href = html
        .split("href=\"/static/app.css")
        .nth(1)
        .map(|r| &r[..r.find('"').unwrap()])
        .unwrap();
    let res = app
        .get(&format!("/static/app.css{href}"), &Auth::None)
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(res.header("cache-control").unwrap().contains("max-age="));
    assert!(res.text().contains(".site-header"));
}

#[tokio::test]
async fn error_pages_show_who_is_signed_in() {
    let app = app_with_alice(TestApp::new());
    let auth = Auth::Session(app.session("alice"));
    let res = app
        .get_html(
            "/organizations/freebie/settings/publisher-analytics/download-breakdown",
            &auth,
        )
        .await;
    assert_eq!(res.status, 403);
    let html = res.text();
    assert!(
        html.contains("not on a paid plan") && html.contains("<span class=\"user\">alice</span>"),
        "{html}"
    );
}

#[tokio::test]
async fn signed_in_users_skip_the_sign_in_form() {
    let app = app_with_alice(TestApp::new());
    let auth = Auth::Session(app.session("alice"));
    let res = app
        .get_html(
            "/login?next=/organizations/acme/settings/publisher-analytics",
            &auth,
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/organizations/acme/settings/publisher-analytics")
    );
    let res = app
        .get_html("/login?next=https://evil.example/", &auth)
        .await;
    assert_eq!(res.header("location"), Some("/"));
}

#[tokio::test]
async fn expired_sessions_sign_nobody_in() {
    let app = app_with_alice(TestApp::new());
    let yesterday = time::OffsetDateTime::now_utc().unix_timestamp() - 86_400;
    let hash = hubstats::accounts::secret_hash("stale-session");
    app.store
        .create_session(&hash, &common::username("alice"), yesterday)
        .unwrap();
    let auth = Auth::Cookie("hubstats_session=stale-session".into());
    let res = app.get_html("/", &auth).await;
    assert_eq!(
        (res.status.as_u16(), res.header("location")),
        (303, Some("/login"))
    );
    let csv = "/organizations/acme/settings/publisher-analytics/download-breakdown";
    assert_eq!(app.get(csv, &auth).await.status, 401);
}

#[tokio::test]
async fn pages_refuse_framing_and_sniffing() {
    let app = TestApp::new();
    let res = app.get_html("/login", &Auth::None).await;
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
}

/// The index listed capitalised organizations first ("Northwind-Labs" before "acme-ai").
#[tokio::test]
async fn index_sorts_orgs_case_insensitively_acme_ai_before_northwind_labs() {
    let app = TestApp::new();
    app.user("alice");
    let orgs = ["Northwind-Labs", "acme-ai", "Zeta", "beta"];
    for org in orgs {
        app.org(org, Plan::Team);
        app.member(org, "alice", Role::Read);
    }
    let html = app
        .get_html("/", &Auth::Session(app.session("alice")))
        .await
        .text();
    let link = |org: &str| {
        let href = format!("href=\"/organizations/{org}/settings/publisher-analytics\"");
        html.find(&href)
            .unwrap_or_else(|| panic!("{org} missing: {html}"))
    };
    let mut listed = orgs.to_vec();
    listed.sort_by_key(|org| link(org));
    assert_eq!(listed, ["acme-ai", "beta", "Northwind-Labs", "Zeta"]);
}
