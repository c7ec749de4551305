//! The operator's commands through the built binary: no store is created by accident, output
//! into a closed pipe, help texts, the password prompt, and the user, member, token and
//! organization commands.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{Auth, TestApp};
use hubstats::domain::{OrgName, Plan, Role};

fn hubstats(store: &Path) -> Command {
    common::hubstats_command(store)
}

fn run(store: &Path, args: &[&str], stdin: &str) -> Output {
    common::run_hubstats(store, args, stdin)
}

fn ok(store: &Path, args: &[&str], stdin: &str) -> String {
    let out = run(store, args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn fails(store: &Path, args: &[&str], stdin: &str) -> String {
    let out = run(store, args, stdin);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// Regression: every command created an empty store where `--store` pointed, typo or not.
#[test]
fn commands_that_need_a_store_refuse_a_missing_one_without_creating_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("typo.db");
    let shown = store.display().to_string();
    for args in [
        &["org", "list"][..],
        &["org", "set-plan", "acme", "team"],
        &["org", "delete", "acme", "--yes"],
        &["user", "list"],
        &["user", "create", "alice", "--password-stdin"],
        &["member", "list", "acme"],
        &["token", "list", "alice"],
        &["export", "--org", "acme"],
        &["serve", "--listen", "127.0.0.1:0"],
        &["ingest-key", "list"],
    ] {
        let err = fails(&store, args, "long enough pw\n");
        assert!(
            err.contains(&format!(
                "no store at {shown} (use --store, or create it with `hubstats import`"
            )),
            "{args:?}: {err}"
        );
        assert!(!store.exists(), "{args:?} created the store");
    }
    ok(&store, &["org", "create", "acme"], "");
    assert!(store.exists());
    assert!(ok(&store, &["org", "list"], "").contains("acme"));
    // A hub that sends its logs over HTTP starts with an ingest key.
    let live = dir.path().join("live.db");
    ok(&live, &["ingest-key", "create", "shipper"], "");
    assert!(ok(&live, &["ingest-key", "list"], "").contains("shipper"));
}

/// Regression: `hubstats org list | head -1` panicked on the broken pipe.
#[test]
fn listing_into_a_closed_pipe_ends_quietly() {
    let app = TestApp::new();
    for i in 0..3000 {
        let name = OrgName::parse(&format!("org-{i:05}")).unwrap();
        app.store.create_org(&name, Plan::Free).unwrap();
    }
    let mut child = hubstats(&app.store_path)
        .args(["org", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("ORGANIZATION"), "{first}");
    drop(stdout); // like `head -1`
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_names_allowed_values_and_real_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("x.db");
    let help = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--help");
        ok(&store, &all, "")
    };
    let org_create = help(&["org", "create"]);
    assert!(org_create.contains("[default: free]"), "{org_create}");
    assert!(
        org_create.contains("[possible values: free, team, enterprise]"),
        "{org_create}"
    );
    assert!(help(&["org", "set-plan"]).contains("[possible values: free, team, enterprise]"));
    let member_add = help(&["member", "add"]);
    assert!(
        member_add.contains("[possible values: read, admin]"),
        "{member_add}"
    );
    assert!(member_add.contains("[default: read]"), "{member_add}");
    let serve = help(&["serve"]);
    assert!(serve.contains("[possible values: text, json]"), "{serve}");
    assert!(serve.contains("[default: 127.0.0.1:8080]"), "{serve}");
    let top = help(&[]);
    assert!(top.contains("./hubstats-demo.db"), "{top}");
    assert!(top.contains("./hubstats.db"), "{top}");
    assert!(help(&["demo"]).contains("./hubstats-demo.db"));
    // `--today` means something to serve and demo only: it is not offered everywhere.
    assert!(!help(&["org", "list"]).contains("--today"));
    assert!(serve.contains("--today"), "{serve}");
    // Flags name the variables they are read from when not given.
    assert!(top.contains("[env: HUBSTATS_STORE]"), "{top}");
    for var in ["HUBSTATS_LISTEN", "HUBSTATS_TODAY", "HUBSTATS_LOG_FORMAT"] {
        assert!(serve.contains(&format!("[env: {var}=")), "{var}: {serve}");
    }
}

/// Each setting comes from its flag, else its `HUBSTATS_*` variable, else the config file,
/// else its default: the store (a flag of every command) and the reference day (read before
/// the subcommand and again by those that take `--today`).
#[test]
fn flags_beat_variables_beat_the_config_file_beat_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = d.join("hubstats.toml");
    std::fs::write(&config, "store = \"file.db\"\ntoday = \"2024-01-01\"\n").unwrap();
    let config = config.to_str().unwrap();
    let stderr = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hubstats"));
        for var in [
            "HUBSTATS_STORE",
            "HUBSTATS_TODAY",
            "HUBSTATS_CONFIG",
            "HUBSTATS_RETENTION_DAYS",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        let out = cmd.current_dir(d).envs(vars.iter().copied()).args(args);
        String::from_utf8(out.output().unwrap().stderr).unwrap()
    };
    let file = [("HUBSTATS_CONFIG", config)];
    let env = [("HUBSTATS_CONFIG", config), ("HUBSTATS_STORE", "env.db")];
    for (vars, flags, store) in [
        (&[][..], &[][..], "./hubstats.db"),
        (&file, &[], "file.db"),
        (&env, &[], "env.db"),
        (&env, &["--store", "flag.db"], "flag.db"),
    ] {
        let err = stderr(vars, &[flags, &["org", "list"]].concat());
        assert!(err.contains(&format!("no store at {store} (")), "{err}");
    }
    let env = [
        ("HUBSTATS_CONFIG", config),
        ("HUBSTATS_TODAY", "2024-02-02"),
    ];
    let logs = ["--rows", "1", "--days", "1", "--format", "jsonl"];
    for (vars, before, after, day) in [
        (&file[..], &[][..], &[][..], "2024-01-01"),
        (&env, &[], &[], "2024-02-02"),
        (&env, &["--today", "2024-03-03"], &[], "2024-03-03"),
        (&env, &[], &["--today", "2024-04-04"], "2024-04-04"),
        (
            &env,
            &["--today", "2024-03-03"],
            &["--today", "2024-04-04"],
            "2024-04-04",
        ),
    ] {
        let err = stderr(vars, &[before, &["demo-logs"], after, &logs].concat());
        assert!(
            err.contains(&format!("through {day}")),
            "{before:?} {after:?}: {err}"
        );
    }
    // A bad value names the variable it came from.
    let err = stderr(&[("HUBSTATS_TODAY", "yesterday")], &["org", "list"]);
    assert!(err.contains("HUBSTATS_TODAY"), "{err}");
}

#[test]
fn user_create_needs_a_terminal_or_password_stdin_and_a_long_enough_password() {
    let app = TestApp::new();
    let err = fails(
        &app.store_path,
        &["user", "create", "carol"],
        "long enough pw\n",
    );
    assert!(err.contains("--password-stdin"), "{err}");
    let err = fails(
        &app.store_path,
        &["user", "create", "carol", "--password-stdin"],
        "short\n",
    );
    assert!(
        err.contains("too short") && err.contains("at least 8"),
        "{err}"
    );
}

/// Runs `hubstats ARGS` on a pseudo-terminal (util-linux `script`), typing `typed`.
fn on_a_terminal(store: &Path, args: &str, typed: &str) -> (bool, String) {
    let bin = env!("CARGO_BIN_EXE_hubstats");
    let line = format!("{bin} --store '{}' {args}", store.display());
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux script");
    let mut stdin = child.stdin.take().unwrap();
    for part in typed.split_inclusive('\n') {
        // One line at a time, as a person types after each prompt.
        std::thread::sleep(std::time::Duration::from_millis(300));
        stdin.write_all(part.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn user_create_on_a_terminal_asks_twice_without_echo() {
    let app = TestApp::new();
    let (ok_, screen) = on_a_terminal(
        &app.store_path,
        "user create carol",
        "typed-secret-1\ntyped-secret-1\n",
    );
    assert!(ok_, "{screen}");
    assert!(screen.contains("Password: "), "{screen}");
    assert!(screen.contains("Password again: "), "{screen}");
    assert!(!screen.contains("typed-secret-1"), "echoed: {screen}");
    let hash = app
        .store
        .password_hash(&common::username("carol"))
        .unwrap()
        .unwrap();
    assert!(hubstats::accounts::verify_password(&hash, "typed-secret-1"));

    let (ok_, screen) = on_a_terminal(
        &app.store_path,
        "user create dave",
        "typed-secret-1\ntyped-secret-2\n",
    );
    assert!(!ok_ && screen.contains("differ"), "{screen}");
    assert!(app
        .store
        .password_hash(&common::username("dave"))
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn users_members_tokens_and_organizations_are_listed_changed_and_deleted() {
    let app = TestApp::new();
    let store = &app.store_path;
    app.org("acme", Plan::Team);
    app.org("zeta", Plan::Team);
    ok(
        store,
        &["user", "create", "alice", "--password-stdin"],
        "first password\n",
    );
    ok(
        store,
        &["user", "create", "bob", "--password-stdin"],
        "bobs password\n",
    );
    ok(
        store,
        &["member", "add", "acme", "alice", "--role", "admin"],
        "",
    );
    ok(store, &["member", "add", "acme", "bob"], "");
    ok(store, &["member", "add", "zeta", "alice"], "");

    let users = ok(store, &["user", "list"], "");
    let lines: Vec<&str> = users.lines().collect();
    assert!(lines[0].starts_with("USER"), "{users}");
    assert!(
        lines[1].starts_with("alice") && lines[1].contains(" 2 "),
        "{users}"
    );
    assert!(
        lines[2].starts_with("bob") && lines[2].contains(" 1 "),
        "{users}"
    );

    let members = ok(store, &["member", "list", "acme"], "");
    let rows: Vec<Vec<&str>> = members
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [vec!["alice", "admin"], vec!["bob", "read"]],
        "{members}"
    );

    // token list: the prefix, and when the token was last used over HTTP.
    let created = ok(store, &["token", "create", "bob"], "");
    let token = created.lines().last().unwrap().trim().to_owned();
    let listed = ok(store, &["token", "list", "bob"], "");
    let row = listed.lines().nth(1).unwrap_or_else(|| panic!("{listed}"));
    assert!(row.starts_with(&token[..11]), "{row}");
    assert!(!row.contains(&token[11..]), "only the prefix: {row}");
    assert!(row.contains("never") && row.contains("live"), "{row}");
    let res = app
        .get(
            "/api/organizations/acme/analytics",
            &Auth::Bearer(token.clone()),
        )
        .await;
    assert_eq!(res.status, 200);
    let listed = ok(store, &["token", "list", "bob"], "");
    assert!(!listed.contains("never"), "used just now: {listed}");
    ok(store, &["token", "revoke", &token], "");
    assert!(ok(store, &["token", "list", "bob"], "").contains("revoked"));

    // set-password: the new one works, the old one no longer, sessions end.
    let session = app.session("alice");
    ok(
        store,
        &["user", "set-password", "alice", "--password-stdin"],
        "second password\n",
    );
    let hash = app
        .store
        .password_hash(&common::username("alice"))
        .unwrap()
        .unwrap();
    assert!(hubstats::accounts::verify_password(
        &hash,
        "second password"
    ));
    assert!(!hubstats::accounts::verify_password(
        &hash,
        "first password"
    ));
    let res = app
        .get("/api/organizations/acme/analytics", &Auth::Session(session))
        .await;
    assert_eq!(res.status, 401, "the old session ended");
    assert!(fails(
        store,
        &["user", "set-password", "nobody", "--password-stdin"],
        "whatever pw\n"
    )
    .contains("not found"));

    // user delete: gone with memberships.
    ok(store, &["user", "delete", "bob"], "");
    assert!(!ok(store, &["user", "list"], "").contains("bob"));
    assert!(!ok(store, &["member", "list", "acme"], "").contains("bob"));

    // org delete: refused without --yes, then everything of it goes.
    app.downloads(
        hubstats::domain::RepoType::Model,
        "acme/bert",
        "2024-01-01",
        5,
    );
    let err = fails(store, &["org", "delete", "acme"], "");
    assert!(
        err.contains("--yes") && err.contains("1 repositories"),
        "{err}"
    );
    assert!(ok(store, &["org", "list"], "").contains("acme"));
    ok(store, &["org", "delete", "acme", "--yes"], "");
    let orgs = ok(store, &["org", "list"], "");
    assert!(!orgs.contains("acme") && orgs.contains("zeta"), "{orgs}");
    assert!(fails(store, &["export", "--org", "acme"], "").contains("unknown organization"));
    assert_eq!(
        app.store
            .role(&common::org_name("zeta"), &common::username("alice"))
            .unwrap(),
        Some(Role::Read)
    );
    // A new organization of the same name starts empty.
    ok(store, &["org", "create", "acme", "--plan", "team"], "");
    assert!(app
        .store
        .repos(&common::org_name("acme"))
        .unwrap()
        .is_empty());
}
