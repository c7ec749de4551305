//! The admin commands through the built binary, and their effect over HTTP on the same store.

use crate::common;

use std::process::Output;

use crate::common::{org_name, username, Auth, TestApp};
use hubstats::domain::Role;

/// Runs `hubstats --store <app's store> args...` with `stdin` as standard input.
fn hubstats(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    common::run_hubstats(&app.store_path, args, stdin)
}

fn ok(app: &TestApp, args: &[&str]) -> String {
    ok_with_stdin(app, args, "")
}

fn ok_with_stdin(app: &TestApp, args: &[&str], stdin: &str) -> String {
    let out = hubstats(app, args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; returns its standard error.
fn fails(app: &TestApp, args: &[&str], stdin: &str) -> String {
    let out = hubstats(app, args, stdin);
    assert!(!out.status.success(), "hubstats {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn orgs_are_created_listed_and_replanned() {
    let app = TestApp::new();
    ok(&app, &["org", "create", "acme", "--plan", "team"]);
    ok(&app, &["org", "create", "zeta", "--plan", "free"]);
    assert!(
        fails(&app, &["org", "create", "acme", "--plan", "free"], "").contains("already exists")
    );
    assert!(
        fails(&app, &["org", "create", "bad name", "--plan", "free"], "").contains("invalid name")
    );
    ok(&app, &["org", "set-plan", "zeta", "enterprise"]);
    assert!(fails(&app, &["org", "set-plan", "ghost", "team"], "")
        .contains("organization ghost not found"));
    let list = ok(&app, &["org", "list"]);
    let rows: Vec<Vec<&str>> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [vec!["acme", "team", "0"], vec!["zeta", "enterprise", "0"]],
        "{list}"
    );
}

#[test]
fn users_need_a_password_on_stdin() {
    let app = TestApp::new();
    ok_with_stdin(
        &app,
        &["user", "create", "alice", "--password-stdin"],
        "s3cret pass\n",
    );
    let hash = app
        .store
        .password_hash(&username("alice"))
        .unwrap()
        .unwrap();
    assert!(hubstats::accounts::verify_password(&hash, "s3cret pass"));
    assert!(fails(&app, &["user", "create", "bob", "--password-stdin"], "\n").contains("empty"));
    assert!(fails(&app, &["user", "create", "bob", "--password-stdin"], "").contains("empty"));
    assert!(fails(
        &app,
        &["user", "create", "alice", "--password-stdin"],
        "another pass\n"
    )
    .contains("already exists"));
}

#[test]
fn members_are_added_changed_and_removed() {
    let app = TestApp::new();
    ok(&app, &["org", "create", "acme", "--plan", "team"]);
    ok_with_stdin(
        &app,
        &["user", "create", "alice", "--password-stdin"],
        "long enough pw\n",
    );
    ok(&app, &["member", "add", "acme", "alice", "--role", "read"]);
    let role = || {
        app.store
            .role(&org_name("acme"), &username("alice"))
            .unwrap()
    };
    assert_eq!(role(), Some(Role::Read));
    ok(&app, &["member", "add", "acme", "alice", "--role", "admin"]);
    assert_eq!(role(), Some(Role::Admin));
    assert!(fails(
        &app,
        &["member", "add", "ghost", "alice", "--role", "read"],
        ""
    )
    .contains("organization ghost not found"));
    assert!(fails(
        &app,
        &["member", "add", "acme", "bob", "--role", "read"],
        ""
    )
    .contains("user bob not found"));
    assert!(fails(
        &app,
        &["member", "add", "acme", "alice", "--role", "owner"],
        ""
    )
    .contains("owner"));
    ok(&app, &["member", "remove", "acme", "alice"]);
    assert_eq!(role(), None);
    assert!(fails(&app, &["member", "remove", "acme", "alice"], "").contains("not found"));
}

#[tokio::test]
async fn a_created_token_works_over_http_until_revoked() {
    let app = TestApp::new();
    ok(&app, &["org", "create", "acme", "--plan", "team"]);
    ok_with_stdin(
        &app,
        &["user", "create", "alice", "--password-stdin"],
        "long enough pw\n",
    );
    ok(&app, &["member", "add", "acme", "alice", "--role", "read"]);
    assert!(fails(&app, &["token", "create", "bob"], "").contains("user bob not found"));
    let out = ok(&app, &["token", "create", "alice"]);
    let token = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("hs_"), "{out}");

    ok(&app, &["import", csv_file(&app).as_str()]);
    let csv = "/organizations/acme/settings/publisher-analytics/download-breakdown";
    let bearer = Auth::Bearer(token.clone());
    let res = app.get(csv, &bearer).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.text(), BREAKDOWN);

    ok(&app, &["token", "revoke", &token]);
    assert_eq!(app.get(csv, &bearer).await.status, 401);
    assert!(fails(&app, &["token", "revoke", &token], "").contains("no live token"));
}

const BREAKDOWN: &str = "repoType,repoName,total,timestamp,downloads
model,acme/bert,12,2024-05-01T00:00:00.000Z,5
model,acme/bert,12,2024-05-02T00:00:00.000Z,7
";

/// Writes [`BREAKDOWN`] next to the store; returns its path.
fn csv_file(app: &TestApp) -> String {
    let path = app.dir.path().join("acme.csv");
    std::fs::write(&path, BREAKDOWN).unwrap();
    path.to_string_lossy().into_owned()
}

/// `org list` printed capitalised names first ("Northwind-Labs" before "acme-ai").
#[test]
fn org_list_sorts_case_insensitively_acme_ai_before_northwind_labs() {
    let app = TestApp::new();
    for org in ["Northwind-Labs", "acme-ai", "Zeta", "beta"] {
        ok(&app, &["org", "create", org, "--plan", "team"]);
    }
    let list = ok(&app, &["org", "list"]);
    let names: Vec<&str> = list
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        ["acme-ai", "beta", "Northwind-Labs", "Zeta"],
        "{list}"
    );
}

// Organization names are unique ignoring case, as on the Hub.
#[test]
fn an_organization_differing_only_in_case_is_refused() {
    let app = TestApp::new();
    ok(&app, &["org", "create", "acme-ai", "--plan", "team"]);
    let out = hubstats(&app, &["org", "create", "Acme-AI", "--plan", "team"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("differs only in case"), "{err}");
}
