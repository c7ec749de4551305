//! Who may see what, through the router: every org route × every kind of caller.

use crate::common::{Auth, TestApp};
use hubstats::domain::{Plan, RepoType, Role};

/// Routes under test. `{org}` is replaced by the case's organization. Adding a route is one line:
/// an organization route takes `ORG_ROUTE`.
const ROUTES: &[(&str, Expected)] = &[
    (
        "/organizations/{org}/settings/publisher-analytics/download-breakdown",
        ORG_ROUTE,
    ),
    ("/organizations/{org}/settings/publisher-analytics", ORG_ROUTE),
    (
        "/organizations/{org}/settings/publisher-analytics?period=last-month&q=secret&sort=name",
        ORG_ROUTE,
    ),
    (
        "/organizations/{org}/settings/publisher-analytics?fragment=table&q=secret",
        ORG_ROUTE,
    ),
    (
        "/organizations/{org}/settings/publisher-analytics/models/{org}-secret-model",
        ORG_ROUTE,
    ),
    ("/api/organizations/{org}/analytics", ORG_ROUTE),
    ("/api/organizations/{org}/analytics?period=7d", ORG_ROUTE),
    ("/api/organizations/{org}/analytics/repos", ORG_ROUTE),
    ("/api/organizations/{org}/analytics/repos?q=secret&period=365d", ORG_ROUTE),
    (
        "/api/organizations/{org}/analytics/repos/model/{org}/{org}-secret-model",
        ORG_ROUTE,
    ),
    (
        "/api/organizations/{org}/analytics/repos/model/{org}%2F{org}-secret-model?granularity=week",
        ORG_ROUTE,
    ),
    ("/", INDEX),
];

/// Expected status per case, in the order of [`CASES`].
type Expected = [u16; 9];
const ORG_ROUTE: Expected = [401, 401, 403, 200, 200, 200, 401, 403, 404];
const INDEX: Expected = [303, 303, 200, 200, 200, 200, 303, 200, 200];

struct Case {
    name: &'static str,
    /// Who calls (a key of [`Fixture::auth`]).
    caller: &'static str,
    /// The organization in the URL.
    org: &'static str,
    /// Organizations whose repositories the caller may see.
    sees: &'static [&'static str],
}

const CASES: [Case; 9] = [
    Case {
        name: "anonymous",
        caller: "anonymous",
        org: "acme",
        sees: &[],
    },
    Case {
        name: "garbage bearer token",
        caller: "garbage",
        org: "acme",
        sees: &[],
    },
    Case {
        name: "member of another org",
        caller: "outsider",
        org: "acme",
        sees: &["rival"],
    },
    Case {
        name: "read member",
        caller: "reader",
        org: "acme",
        sees: &["acme"],
    },
    Case {
        name: "admin",
        caller: "admin",
        org: "acme",
        sees: &["acme"],
    },
    Case {
        name: "valid token",
        caller: "token",
        org: "acme",
        sees: &["acme"],
    },
    Case {
        name: "revoked token",
        caller: "revoked",
        org: "acme",
        sees: &[],
    },
    Case {
        name: "member of a free-plan org",
        caller: "freeloader",
        org: "freeco",
        sees: &[],
    },
    Case {
        name: "unknown org",
        caller: "reader",
        org: "ghost",
        sees: &["acme"],
    },
];

/// Every organization's repositories (names are unique to their organization).
const REPOS: &[(&str, RepoType, &str)] = &[
    ("acme", RepoType::Model, "acme/acme-secret-model"),
    ("acme", RepoType::Dataset, "acme/acme-secret-data"),
    ("rival", RepoType::Model, "rival/rival-secret-model"),
    ("freeco", RepoType::Dataset, "freeco/freeco-secret-data"),
];

struct Fixture {
    app: TestApp,
    token: String,
    revoked: String,
    sessions: Vec<(&'static str, Auth)>,
}

impl Fixture {
    fn new() -> Self {
        let app = TestApp::new();
        app.org("acme", Plan::Team);
        app.org("rival", Plan::Enterprise);
        app.org("freeco", Plan::Free);
        let members = [
            ("reader", "acme", Role::Read),
            ("admin", "acme", Role::Admin),
            ("tokenuser", "acme", Role::Read),
            ("revokeduser", "acme", Role::Admin),
            ("outsider", "rival", Role::Admin),
            ("freeloader", "freeco", Role::Admin),
        ];
        for (user, org, role) in members {
            app.user(user);
            app.member(org, user, role);
        }
        let token = app.token("tokenuser");
        let revoked = app.token("revokeduser");
        assert!(hubstats::accounts::revoke_token(app.store.as_ref(), &revoked).unwrap());
        let sessions = ["reader", "admin", "outsider", "freeloader"]
            .into_iter()
            .map(|u| (u, Auth::Session(app.session(u))))
            .collect();
        Fixture {
            app,
            token,
            revoked,
            sessions,
        }
    }

    /// Gives every organization its repositories of [`REPOS`].
    fn with_repos(self) -> Self {
        for (_, repo_type, name) in REPOS {
            self.app.downloads(*repo_type, name, "2024-05-01", 7);
        }
        self
    }

    fn auth(&self, caller: &str) -> Auth {
        match caller {
            "anonymous" => Auth::None,
            "garbage" => Auth::Bearer("hs_not-a-token".into()),
            "token" => Auth::Bearer(self.token.clone()),
            "revoked" => Auth::Bearer(self.revoked.clone()),
            user => self
                .sessions
                .iter()
                .find(|(u, _)| *u == user)
                .map(|(_, a)| a.clone())
                .unwrap(),
        }
    }
}

#[tokio::test]
async fn access_table() {
    let fx = Fixture::new().with_repos();
    let failures = run_table(&fx).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Requests every route as every case; returns what was wrong: unexpected statuses and bodies
/// that show repositories the caller may not see.
async fn run_table(fx: &Fixture) -> Vec<String> {
    let mut failures = Vec::new();
    for (route, expected) in ROUTES {
        for (case, want) in CASES.iter().zip(expected) {
            let path = route.replace("{org}", case.org);
            let res = fx.app.get(&path, &fx.auth(case.caller)).await;
            if res.status.as_u16() != *want {
                let got = res.status;
                failures.push(format!(
                    "{path} as {}: got {got}, want {want}: {}",
                    case.name,
                    res.text()
                ));
            }
            let body = res.text();
            for (org, _, repo) in REPOS.iter().filter(|(org, _, _)| !case.sees.contains(org)) {
                if body.contains(repo) {
                    failures.push(format!(
                        "{path} as {} leaks {org}'s repository {repo}",
                        case.name
                    ));
                }
            }
        }
    }
    failures
}

#[tokio::test]
async fn csv_endpoint_streams_the_orgs_breakdown() {
    let fx = Fixture::new().with_repos();
    let path = "/organizations/acme/settings/publisher-analytics/download-breakdown";
    let res = fx.app.get(path, &fx.auth("token")).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        res.header("content-disposition"),
        Some("attachment; filename=\"acme-download-breakdown.csv\"")
    );
    let body = res.text();
    assert!(
        body.starts_with("repoType,repoName,total,timestamp,downloads\n"),
        "{body}"
    );
    assert!(
        body.contains("model,acme/acme-secret-model,7,2024-05-01T00:00:00.000Z,7\n"),
        "{body}"
    );
    assert!(
        body.contains("dataset,acme/acme-secret-data,7,2024-05-01T00:00:00.000Z,7\n"),
        "{body}"
    );
    assert_eq!(body.lines().count(), 3, "{body}");
}

#[tokio::test]
async fn errors_are_json_for_scripts_and_pages_for_browsers() {
    let fx = Fixture::new();
    let csv =
        |org: &str| format!("/organizations/{org}/settings/publisher-analytics/download-breakdown");
    let free = fx.auth("freeloader");

    let res = fx.app.get(&csv("freeco"), &free).await;
    assert_eq!(res.status, 403);
    assert!(res
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let json: serde_json::Value = serde_json::from_slice(res.body.as_ref().unwrap()).unwrap();
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("not on a paid plan"),
        "{json}"
    );

    let res = fx.app.get_html(&csv("freeco"), &free).await;
    assert_eq!(res.status, 403);
    assert!(res.header("content-type").unwrap().starts_with("text/html"));
    assert!(res.text().contains("not on a paid plan"), "{}", res.text());

    let res = fx.app.get_html(&csv("ghost"), &free).await;
    assert_eq!(res.status, 404);
    assert!(
        // Pages show the message as a sentence.
        res.text().contains("Organization ghost does not exist."),
        "{}",
        res.text()
    );

    let res = fx.app.get(&csv("ghost"), &free).await;
    let json: serde_json::Value = serde_json::from_slice(res.body.as_ref().unwrap()).unwrap();
    assert_eq!(json["error"], "organization ghost does not exist");

    let res = fx.app.get(&csv("acme"), &Auth::None).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    // A signed-out browser is sent to sign in, and back here afterwards.
    let res = fx.app.get_html(&csv("acme"), &Auth::None).await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.header("location"),
        Some("/login?next=/organizations/acme/settings/publisher-analytics/download-breakdown")
    );
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_other_schemes_are_refused() {
    use axum::body::Body;
    use axum::http::{header, Request};
    let fx = Fixture::new();
    let csv = "/organizations/acme/settings/publisher-analytics/download-breakdown";
    let with = |value: String| {
        Request::get("/")
            .header(header::AUTHORIZATION, value)
            .body(Body::empty())
            .unwrap()
    };
    let res = fx.app.send(with(format!("bearer {}", fx.token))).await;
    assert_eq!(res.status, 200, "{}", res.text());
    for value in [
        format!("Basic {}", fx.token),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ] {
        let req = Request::get(csv)
            .header(header::AUTHORIZATION, value.as_str())
            .body(Body::empty())
            .unwrap();
        assert_eq!(fx.app.send(req).await.status, 401, "{value:?}");
    }
}

// Callers without valid credentials learn nothing about an organization: an unknown name and a
// name that cannot exist answer 401 as a real organization does, whether the credential was
// missing, malformed, unknown or revoked.
#[tokio::test]
async fn callers_without_credentials_learn_nothing_about_organization_names() {
    let fx = Fixture::new();
    for caller in ["anonymous", "garbage", "revoked"] {
        for org in ["acme", "ghost", "not%20a%20name"] {
            let res = fx
                .app
                .get(
                    &format!("/api/organizations/{org}/analytics"),
                    &fx.auth(caller),
                )
                .await;
            assert_eq!(res.status, 401, "{caller} on {org}: {}", res.text());
        }
        let malformed = axum::http::Request::get("/api/organizations/ghost/analytics")
            .header(axum::http::header::AUTHORIZATION, "Basic x")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(fx.app.send(malformed).await.status, 401);
    }
    // With valid credentials the names are told apart.
    for (org, status) in [("ghost", 404), ("not%20a%20name", 404)] {
        let res = fx
            .app
            .get(
                &format!("/api/organizations/{org}/analytics"),
                &fx.auth("token"),
            )
            .await;
        assert_eq!(res.status, status, "{org}: {}", res.text());
    }
}
