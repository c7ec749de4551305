//! `serve` and `demo` through the built binary: fill a demo store, export it, serve it as a
//! child process on port 0 and talk to it over HTTP.

use std::process::Command;

use crate::child::{http_get, Server};

const TODAY: &str = "2026-11-27";

/// `hubstats --store STORE --today TODAY`, ignoring the caller's environment.
fn hubstats(store: &std::path::Path) -> Command {
    hubstats_on(store, TODAY)
}

fn hubstats_on(store: &std::path::Path, today: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hubstats"));
    cmd.env_remove("HUBSTATS_STORE")
        .env_remove("HUBSTATS_TODAY")
        .env_remove("HUBSTATS_CONFIG");
    cmd.arg("--store").arg(store).arg("--today").arg(today);
    cmd
}

#[test]
fn serve_prints_its_address_and_answers_http() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("hubstats.db");
    run_ok(hubstats(&store).args(["org", "create", "acme"]));
    let mut cmd = hubstats(&store);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    let response = http_get(server.addr(), "/healthz", None);
    assert_eq!(response.status, 200, "{}", response.head);
}

/// Runs a command to completion; returns its standard output, failing with its error text.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run hubstats");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{cmd:?} failed: {stderr}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `(repoType, repoName, total, timestamp, downloads)` of every CSV row.
fn rows(csv: &str) -> Vec<[String; 5]> {
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("repoType,repoName,total,timestamp,downloads")
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 5, "{l}");
            [f[0], f[1], f[2], f[3], f[4]].map(str::to_owned)
        })
        .collect()
}

fn export(store: &std::path::Path, today: &str, org: &str) -> String {
    run_ok(hubstats_on(store, today).args(["export", "--org", org]))
}

#[test]
fn demo_fills_a_store_whose_export_ends_on_the_reference_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("demo.db");
    let printed = run_ok(hubstats(&store).args(["demo", "--no-serve", "--repos", "30"]));
    assert!(
        printed.contains("acme-ai (enterprise): 30 repositories"),
        "{printed}"
    );
    let csv = export(&store, TODAY, "acme-ai");
    let rows = rows(&csv);
    let last = rows.iter().map(|r| r[3].as_str()).max().unwrap();
    assert_eq!(last, format!("{TODAY}T00:00:00.000Z"));
    let repos: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert!(repos.len() > 20 && repos.len() <= 30, "{}", repos.len());
    assert!(repos.iter().all(|r| r.starts_with("acme-ai/")));
    let models_first = rows
        .iter()
        .position(|r| r[0] == "dataset")
        .unwrap_or(rows.len());
    assert!(rows[models_first..].iter().all(|r| r[0] == "dataset"));
    // Some repositories had downloads before daily history: total > sum of their rows.
    let mut sums = std::collections::BTreeMap::<&str, (u64, u64)>::new();
    for r in &rows {
        let e = sums
            .entry(r[1].as_str())
            .or_insert((r[2].parse().unwrap(), 0));
        e.1 += r[4].parse::<u64>().unwrap();
    }
    assert!(sums.values().any(|(total, sum)| total > sum));
    assert!(sums.values().all(|(total, sum)| total >= sum));

    // Running it again changes nothing.
    run_ok(hubstats(&store).args(["demo", "--no-serve", "--repos", "30"]));
    assert_eq!(export(&store, TODAY, "acme-ai"), csv);
}

#[test]
fn demo_rerun_on_another_day_adds_or_removes_only_those_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("demo.db");
    run_ok(hubstats(&store).args(["demo", "--no-serve", "--repos", "12"]));
    let first = export(&store, TODAY, "Northwind-Labs");
    let before = rows(&first);
    let later = "2026-12-05";
    run_ok(hubstats_on(&store, later).args(["demo", "--no-serve", "--repos", "12"]));
    let after = rows(&export(&store, later, "Northwind-Labs"));
    let days = |rows: &[[String; 5]], through: &str| -> Vec<(String, String, String)> {
        let mut v: Vec<_> = rows
            .iter()
            .filter(|r| r[3].as_str() <= through)
            .map(|r| (r[1].clone(), r[3].clone(), r[4].clone()))
            .collect();
        v.sort();
        v
    };
    let cutoff = format!("{TODAY}T23");
    assert_eq!(days(&after, &cutoff), days(&before, &cutoff));
    assert!(after.len() > before.len());
    assert_eq!(
        after.iter().map(|r| r[3].as_str()).max(),
        Some("2026-12-05T00:00:00.000Z")
    );

    // Back to the first reference day: the later days go and every total is as before.
    run_ok(hubstats(&store).args(["demo", "--no-serve", "--repos", "12"]));
    assert_eq!(export(&store, TODAY, "Northwind-Labs"), first);
}

#[test]
fn demo_refuses_a_store_with_real_organizations() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("real.db");
    run_ok(hubstats(&store).args(["org", "create", "realco", "--plan", "team"]));
    let out = hubstats(&store)
        .args(["demo", "--no-serve", "--repos", "5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("not demo organizations (realco)"),
        "{stderr}"
    );
    assert_eq!(
        run_ok(hubstats(&store).args(["org", "list"]))
            .matches("acme-ai")
            .count(),
        0
    );
}

#[test]
fn demo_serves_the_csv_to_the_printed_curl_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = hubstats(&dir.path().join("demo.db"));
    cmd.args(["demo", "--repos", "10", "--listen", "127.0.0.1:0"]);
    let server = Server::start(cmd);
    let curl = server
        .lines
        .iter()
        .find(|l| l.starts_with("curl "))
        .expect("a curl line");
    let token = curl
        .split("Bearer ")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let url = curl
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap();
    let path = &url[url.find("/organizations/").unwrap()..];
    assert!(
        server.lines.iter().any(|l| l.contains("demo-password")),
        "{:#?}",
        server.lines
    );

    assert_eq!(http_get(server.addr(), "/healthz", None).status, 200);
    let response = http_get(server.addr(), path, Some(token));
    assert_eq!(response.status, 200, "{}", response.head);
    let csv = String::from_utf8(response.body).unwrap();
    let rows = rows(&csv);
    assert_eq!(rows.last().map(|r| r[0].as_str()), Some("dataset"));
    assert_eq!(
        rows.iter().map(|r| r[3].as_str()).max(),
        Some(format!("{TODAY}T00:00:00.000Z").as_str())
    );
    assert_eq!(http_get(server.addr(), path, Some("hs_wrong")).status, 401);
}

/// `(repoName, day) → downloads` of an export.
fn by_repo_day(csv: &str) -> std::collections::BTreeMap<(String, String), u64> {
    rows(csv)
        .into_iter()
        .map(|r| ((r[1].clone(), r[3].clone()), r[4].parse().unwrap()))
        .collect()
}

#[test]
fn demo_counts_one_organization_from_generated_logs_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("demo.db");
    let printed = run_ok(hubstats(&store).args(["demo", "--no-serve", "--repos", "5"]));
    assert!(
        printed.contains("streamline-ml (team): 40 repositories, counted from 60000 request-log rows since 2026-10-29"),
        "{printed}"
    );
    let first = export(&store, TODAY, "streamline-ml");
    let counts = by_repo_day(&first);
    let days: std::collections::BTreeSet<&str> = counts.keys().map(|k| k.1.as_str()).collect();
    assert_eq!(days.len(), 30, "{days:?}");
    assert_eq!(days.last().copied(), Some("2026-11-27T00:00:00.000Z"));
    let downloads: u64 = counts.values().sum();
    assert!((5_000..60_000).contains(&downloads), "{downloads}");
    assert!(rows(&first).iter().any(|r| r[0] == "dataset"));

    // The same day again: the same log, already ingested.
    let again = run_ok(hubstats(&store).args(["demo", "--no-serve", "--repos", "5"]));
    assert!(again.contains("(already ingested)"), "{again}");
    assert_eq!(export(&store, TODAY, "streamline-ml"), first);

    // Two days later the log shares 28 days with the first one: those count once.
    let later = "2026-11-29";
    run_ok(hubstats_on(&store, later).args(["demo", "--no-serve", "--repos", "5"]));
    let after = by_repo_day(&export(&store, later, "streamline-ml"));
    let shared = |c: &std::collections::BTreeMap<(String, String), u64>| {
        c.iter()
            .filter(|(k, _)| k.1.as_str() >= "2026-10-31")
            .filter(|(k, _)| k.1.as_str() <= "2026-11-27T23")
            .map(|(k, v)| (k.clone(), *v))
            .collect::<Vec<_>>()
    };
    assert_eq!(shared(&after), shared(&counts));
    assert!(after.keys().any(|k| k.1.starts_with(later)));
}
