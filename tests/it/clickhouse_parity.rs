//! Acceptance tests of the ClickHouse backend against SQLite and across processes.
//!
//! - Parity: the same breakdown CSV (a few dozen models and datasets over ~400 days, with
//!   `total` adjustments) and the same request logs (`ingest` of a jsonl and an hf-csv file),
//!   loaded through the built binary into a SQLite store and a ClickHouse store, answer every
//!   analytics API call alike (overview for every period and granularity, with and without
//!   `exclude`; the repository table for every sort, order, search, type filter and page; the
//!   drill-down of several repositories) and export the same bytes (`hubstats export` and the
//!   CSV download, whole and per view). Once more on a two-shard cluster with the breakdown
//!   CSV alone (a cluster keeps no request-log events).
//! - Stateless application servers: two `hubstats serve` processes on one ClickHouse database
//!   answer alike, see a token created or revoked by the CLI on their next request, and see
//!   counts imported by the CLI or posted to one of them within a second on the other.
//!
//! Marked `#[ignore = "needs clickhouse-server"]`: each test starts its own `clickhouse-server`
//! (see `hubstats::store::clickhouse::testing`) and fails without one.

use crate::child;
use crate::common;

use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use hubstats::config::{Config, Overrides};
use hubstats::domain::{OrgName, Plan, Role, Username};
use hubstats::store::clickhouse::testing::{ClickHouseCluster, ClickHouseServer};
use hubstats::web::{router_with_throttle, AppState};

const TODAY: &str = "2024-05-31";
/// The organization of the generated breakdown CSV; the demo logs also have requests of it.
const ORG: &str = "acme-ai";

fn ok(dir: &Path, store: &str, args: &[&str]) -> String {
    common::hubstats_ok(dir, store, TODAY, args)
}

/// A deterministic breakdown CSV of `ORG`: 36 repositories (models and datasets, names in
/// mixed case), each with its own first and last day between 2023-04-20 and `TODAY` (~400
/// days), gaps, and a `total` above its days' sum for most (an adjustment).
fn breakdown_csv() -> String {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let first = "2023-04-20".parse::<hubstats::domain::Day>().unwrap();
    let mut csv = String::from("repoType,repoName,total,timestamp,downloads\n");
    let mut rows = Vec::new();
    for i in 0..36u64 {
        let repo_type = if i % 3 == 2 { "dataset" } else { "model" };
        let stem = ["Bert", "llama", "Whisper", "t5", "CLIP", "mistral"][(i % 6) as usize];
        let name = format!("{ORG}/{stem}-{i:02}");
        let start = next(200);
        let length = 30 + next(380 - start.min(370));
        let scale = 1 + next(500);
        let mut days = Vec::new();
        for d in start..=(start + length).min(407) {
            if next(10) == 0 {
                continue; // a day without downloads
            }
            let day = first.add_days(d as i32);
            days.push((day, next(scale) + 1));
        }
        let sum: u64 = days.iter().map(|(_, n)| n).sum();
        let total = sum + if i % 4 == 0 { 0 } else { next(100_000) };
        for (day, n) in days {
            rows.push((repo_type, name.clone(), total, day, n));
        }
    }
    // Models first, names in byte order, days ascending: the export's order.
    rows.sort_by(|a, b| (a.0 != "model", &a.1, a.3).cmp(&(b.0 != "model", &b.1, b.3)));
    for (t, name, total, day, n) in rows {
        writeln!(csv, "{t},{name},{total},{day}T00:00:00.000Z,{n}").unwrap();
    }
    csv
}

/// Writes the breakdown CSV and two request logs (demo logs in jsonl and hf-csv) into `d`.
fn write_inputs(d: &Path) {
    std::fs::write(d.join("breakdown.csv"), breakdown_csv()).unwrap();
    let logs = |format: &str, seed: &str| {
        ok(
            d,
            &d.join("unused.db").to_string_lossy(),
            &[
                "demo-logs",
                "--format",
                format,
                "--rows",
                "3000",
                "--days",
                "60",
                "--repos",
                "8",
                "--seed",
                seed,
            ],
        )
    };
    std::fs::write(d.join("app.jsonl"), logs("jsonl", "1")).unwrap();
    std::fs::write(d.join("hub.csv"), logs("hf-csv", "2")).unwrap();
}

/// Loads the inputs into the store at `location` through the binary; returns what each
/// command printed.
fn load(d: &Path, location: &str, with_logs: bool) -> Vec<String> {
    let mut out = vec![ok(d, location, &["import", "breakdown.csv"])];
    if with_logs {
        out.push(ok(
            d,
            location,
            &["ingest", "--format", "jsonl", "app.jsonl"],
        ));
        out.push(ok(
            d,
            location,
            &["ingest", "--format", "hf-csv", "hub.csv"],
        ));
    }
    out
}

fn config() -> Config {
    let mut config = Config::load(&Overrides::default(), |_| None).unwrap();
    config.today = Some(TODAY.parse().unwrap());
    config
}

/// The router of a server on `location`, with every organization in `orgs` on the Team plan
/// and a token of their member alice.
fn serve(location: &str, orgs: &[String]) -> (Router, String) {
    let store = hubstats::store::open(location).unwrap();
    let alice = Username::parse("alice").unwrap();
    hubstats::accounts::create_user(store.as_ref(), &alice, "password-alice").unwrap();
    for org in orgs {
        let org = OrgName::parse(org).unwrap();
        store.set_plan(&org, Plan::Team).unwrap();
        store.set_member(&org, &alice, Role::Read).unwrap();
    }
    let token = hubstats::accounts::create_token(store.as_ref(), &alice).unwrap();
    let state = AppState {
        store,
        config: Arc::new(config()),
    };
    (router_with_throttle(state, Arc::default()), token)
}

/// `GET path` with the token: the status, the content type and the body.
async fn get(router: &Router, token: &str, path: &str) -> (u16, String, Vec<u8>) {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, kind, body)
}

/// What an answer says, comparable across stores: JSON as a value (an error's request id
/// left out), anything else as bytes.
#[derive(Debug, PartialEq)]
enum Answer {
    Json(u16, serde_json::Value),
    Bytes(u16, String, Vec<u8>),
}

fn answer((status, kind, body): (u16, String, Vec<u8>)) -> Answer {
    if kind.starts_with("application/json") {
        let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if let Some(o) = json.as_object_mut() {
            o.remove("request_id");
        }
        Answer::Json(status, json)
    } else {
        Answer::Bytes(status, kind, body)
    }
}

/// The API paths compared for `org`, whose repositories (type, full name) are `repos`.
fn api_paths(org: &str, repos: &[(String, String)], exclude: &[&str]) -> Vec<String> {
    let base = format!("/api/organizations/{org}/analytics");
    let periods = [
        "",
        "period=all-time",
        "period=last-month",
        "period=7d",
        "period=90d",
        "period=365d",
        "period=custom&from=2023-06-01&to=2023-12-31",
        "period=custom&from=2024-05-01&to=2024-05-31",
        "period=custom&from=2020-01-01&to=2020-02-01",
    ];
    let mut paths = Vec::new();
    for p in periods {
        paths.push(format!("{base}?{p}"));
        for g in ["day", "week", "month"] {
            paths.push(format!("{base}?{p}&granularity={g}"));
        }
    }
    // `exclude` on ClickHouse reads the kept events with a query per repository-day (seconds
    // per answer at a few thousand events), so a few: one class over a month, every class
    // over a week, and an unknown class (a 400 on both).
    paths.push(format!("{base}?period=last-month&exclude={}", exclude[0]));
    paths.push(format!("{base}?period=7d&exclude={}", exclude.join(",")));
    paths.push(format!(
        "{base}?period=custom&from=2024-05-25&to=2024-05-31&exclude=no-such-class"
    ));
    for p in [
        "period=all-time",
        "period=last-month",
        "period=90d",
        "period=custom&from=2023-06-01&to=2023-12-31",
    ] {
        for sort in ["downloads", "name", "total", "change"] {
            for order in ["", "&order=asc", "&order=desc"] {
                paths.push(format!("{base}/repos?{p}&sort={sort}{order}"));
                paths.push(format!(
                    "{base}/repos?{p}&sort={sort}{order}&per_page=7&page=2"
                ));
            }
        }
        for filter in [
            "q=bert",
            "q=BERT",
            "q=-0",
            "q=no-such-repository",
            "type=model",
            "type=dataset",
            "type=dataset&q=llama",
            "q=a&type=model&sort=name&order=desc&per_page=5&page=3",
            "per_page=5&page=1",
            "per_page=5&page=4",
            "per_page=5&page=999",
            "granularity=week",
            "granularity=month",
            "granularity=day",
        ] {
            paths.push(format!("{base}/repos?{p}&{filter}"));
        }
    }
    for (i, (repo_type, name)) in repos.iter().enumerate() {
        let (owner, short) = name.split_once('/').unwrap();
        let plural = format!("{repo_type}s");
        for p in [
            "",
            "period=last-month",
            "period=7d",
            "period=365d",
            "period=custom&from=2023-05-01&to=2023-08-31",
        ] {
            paths.push(format!("{base}/repos/{repo_type}/{owner}/{short}?{p}"));
            if i % 2 == 0 {
                paths.push(format!(
                    "{base}/repos/{plural}/{owner}%2F{short}?{p}&granularity=week"
                ));
                paths.push(format!(
                    "{base}/repos/{repo_type}/{owner}/{short}?{p}&granularity=month"
                ));
            }
        }
    }
    paths.push(format!("{base}/repos/model/{org}/no-such-repository"));
    paths.push(format!("{base}?period=nonsense"));
    let csv = format!("/organizations/{org}/settings/publisher-analytics/download-breakdown");
    paths.push(csv.clone());
    for view in [
        "period=last-month",
        "period=365d&type=dataset",
        "q=llama",
        "q=nothing-matches",
        "period=custom&from=2023-06-01&to=2023-06-30&type=model",
    ] {
        paths.push(format!("{csv}?{view}"));
    }
    if let Some((_, name)) = repos.first() {
        paths.push(format!("{csv}?repo={name}&period=90d"));
    }
    paths
}

/// Every repository of `org` (type, full name), through the API.
async fn repos_of(router: &Router, token: &str, org: &str) -> Vec<(String, String)> {
    let path = format!("/api/organizations/{org}/analytics/repos?sort=name&per_page=100");
    let (status, _, body) = get(router, token, &path).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    json["repos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_owned();
            (s("repoType"), s("repoName"))
        })
        .collect()
}

/// Every API answer and CSV download of `orgs` on `stores` (SQLite first): equal. Returns how
/// many paths were compared and how many of them answered 200.
async fn compare(stores: [&(Router, String); 2], orgs: &[String]) -> (usize, usize) {
    let classes: Vec<String> = hubstats::ingest::class_names(&config().rules)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let classes: Vec<&str> = classes.iter().map(String::as_str).collect();
    let (mut compared, mut fine) = (0, 0);
    let mut differences = Vec::new();
    for org in orgs {
        let [(a, ta), (b, tb)] = stores;
        let all = repos_of(a, ta, org).await;
        assert_eq!(repos_of(b, tb, org).await, all, "{org}: the repositories");
        assert!(!all.is_empty(), "{org}");
        // Several repositories: the first, the last and a few between.
        let step = (all.len() / 4).max(1);
        let picked: Vec<_> = all
            .iter()
            .step_by(step)
            .chain(all.last())
            .cloned()
            .collect();
        // The dashboard names the same sources and the same last day with data.
        let dashboard = format!("/organizations/{org}/settings/publisher-analytics");
        let on_sqlite = freshness(&get(a, ta, &dashboard).await.2);
        assert!(
            on_sqlite.iter().any(|s| s.starts_with("source ")),
            "{org}: {on_sqlite:?}"
        );
        let on_clickhouse = freshness(&get(b, tb, &dashboard).await.2);
        assert_eq!(
            on_clickhouse, on_sqlite,
            "{org}: where the figures come from"
        );
        for path in api_paths(org, &picked, &classes) {
            let on_sqlite = answer(get(a, ta, &path).await);
            let on_clickhouse = answer(get(b, tb, &path).await);
            compared += 1;
            if matches!(on_sqlite, Answer::Json(200, _) | Answer::Bytes(200, _, _)) {
                fine += 1;
            }
            if on_clickhouse != on_sqlite {
                differences.push(format!(
                    "{path}\n  sqlite:     {}\n  clickhouse: {}",
                    short(&on_sqlite),
                    short(&on_clickhouse)
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {compared} answers differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    (compared, fine)
}

/// What a dashboard page says of where its figures come from: its last day with data and its
/// sources (`day 2024-05-31`, `source breakdown`, …).
fn freshness(page: &[u8]) -> Vec<String> {
    let page = String::from_utf8_lossy(page);
    let values = |attr: &str, label: &str| -> Vec<String> {
        page.split(&format!(" {attr}=\""))
            .skip(1)
            .map(|v| format!("{label} {}", &v[..v.find('"').unwrap()]))
            .collect()
    };
    let mut out = values("data-day", "day");
    out.extend(values("data-source", "source"));
    out
}

fn short(a: &Answer) -> String {
    let s = match a {
        Answer::Json(status, v) => format!("{status} {v}"),
        Answer::Bytes(status, kind, b) => {
            format!("{status} {kind} {}", String::from_utf8_lossy(b))
        }
    };
    s.chars().take(600).collect()
}

/// The organizations of the store at `location`.
fn orgs_of(d: &Path, location: &str) -> Vec<String> {
    let list = ok(d, location, &["org", "list"]);
    list.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|o| OrgName::parse(o).is_ok())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
#[ignore = "needs clickhouse-server"]
async fn clickhouse_answers_every_api_call_and_export_as_sqlite_does() {
    let server = ClickHouseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_inputs(d);
    let sqlite = d.join("store.db").to_string_lossy().into_owned();
    let clickhouse = server.location();
    let loaded = load(d, &sqlite, true);
    assert_eq!(load(d, &clickhouse, true), loaded, "the commands' reports");

    let orgs = orgs_of(d, &sqlite);
    assert_eq!(orgs_of(d, &clickhouse), orgs);
    assert!(
        orgs.len() >= 4 && orgs.contains(&ORG.to_owned()),
        "{orgs:?}"
    );
    for org in &orgs {
        let exported = ok(d, &sqlite, &["export", "--org", org]);
        assert!(exported.lines().count() > 1, "{org}");
        assert_eq!(
            ok(d, &clickhouse, &["export", "--org", org]),
            exported,
            "{org}: export byte for byte"
        );
    }
    let stores = [serve(&sqlite, &orgs), serve(&clickhouse, &orgs)];
    let (compared, fine) = compare([&stores[0], &stores[1]], &orgs).await;
    assert!(
        fine * 10 > compared * 8,
        "{fine} of {compared} answered 200"
    );
}

#[tokio::test]
#[ignore = "needs clickhouse-server"]
async fn clickhouse_cluster_answers_every_api_call_and_export_as_sqlite_does() {
    let cluster = ClickHouseCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("breakdown.csv"), breakdown_csv()).unwrap();
    let sqlite = d.join("store.db").to_string_lossy().into_owned();
    let location = cluster.location();
    assert_eq!(load(d, &location, false), load(d, &sqlite, false));
    let orgs = vec![ORG.to_owned()];
    let exported = ok(d, &sqlite, &["export", "--org", ORG]);
    assert_eq!(exported, breakdown_csv(), "import then export");
    assert_eq!(ok(d, &location, &["export", "--org", ORG]), exported);
    let stores = [serve(&sqlite, &orgs), serve(&location, &orgs)];
    let (compared, fine) = compare([&stores[0], &stores[1]], &orgs).await;
    // Without events, `exclude` leaves every answer as it is, and still answers 200.
    assert!(
        fine * 10 > compared * 8,
        "{fine} of {compared} answered 200"
    );
}

// ---- Two application servers on one ClickHouse database ----

/// A plain HTTP/1.0 request: its status and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let answer = child::http_request(addr, method, path, headers, body);
    (
        answer.status,
        String::from_utf8_lossy(&answer.body).into_owned(),
    )
}

fn api(addr: SocketAddr, token: &str, path: &str) -> (u16, String) {
    http(
        addr,
        "GET",
        path,
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Accept", "application/json"),
        ],
        "",
    )
}

/// `hubstats serve` on `location` in `dir`, listening on a free port of 127.0.0.1.
fn serve_process(dir: &Path, location: &str) -> child::Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hubstats"));
    cmd.current_dir(dir)
        .env_remove("HUBSTATS_STORE")
        .env_remove("HUBSTATS_CONFIG")
        .env("RUST_LOG", "warn")
        .args(["--store", location, "--today", TODAY])
        .args(["serve", "--listen", "127.0.0.1:0"]);
    child::Server::start(cmd)
}

/// Polls `path` on `addr` until `done` holds of its answer, for at most one second after
/// `since`; returns the last answer.
fn within_a_second(
    since: Instant,
    addr: SocketAddr,
    token: &str,
    path: &str,
    done: impl Fn(&(u16, String)) -> bool,
) -> (u16, String) {
    loop {
        let answer = api(addr, token, path);
        if done(&answer) || since.elapsed() > Duration::from_secs(1) {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn all_time(body: &str) -> u64 {
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["totals"]["all"].as_u64().unwrap()
}

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_two_serve_processes_on_one_database_answer_alike() {
    let server = ClickHouseServer::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let location = server.location();
    std::fs::write(d.join("breakdown.csv"), breakdown_csv()).unwrap();
    ok(d, &location, &["import", "breakdown.csv"]);
    ok(d, &location, &["org", "set-plan", ORG, "team"]);
    let mut create = Command::new(env!("CARGO_BIN_EXE_hubstats"));
    create
        .current_dir(d)
        .args([
            "--store",
            &location,
            "user",
            "create",
            "alice",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped());
    let mut created = create.spawn().unwrap();
    created
        .stdin
        .take()
        .unwrap()
        .write_all(b"password-alice")
        .unwrap();
    assert!(created.wait().unwrap().success());
    ok(
        d,
        &location,
        &["member", "add", ORG, "alice", "--role", "read"],
    );
    let token = ok(d, &location, &["token", "create", "alice"]);
    let token = token
        .split_whitespace()
        .find(|w| w.starts_with("hs_"))
        .unwrap_or_else(|| panic!("no token in {token}"))
        .to_owned();

    let (process_a, process_b) = (serve_process(d, &location), serve_process(d, &location));
    let (a, b) = (process_a.addr(), process_b.addr());
    for addr in [a, b] {
        assert_eq!(child::http_get(addr, "/healthz", None).status, 200);
    }
    let base = format!("/api/organizations/{ORG}/analytics");
    let paths = [
        base.clone(),
        format!("{base}?period=last-month"),
        format!("{base}?period=365d&granularity=month"),
        format!("{base}/repos?sort=name&per_page=50"),
        format!("{base}/repos?sort=change&q=bert"),
        format!("{base}/repos/model/{ORG}/Bert-00?period=90d"),
    ];
    for path in &paths {
        let on_a = api(a, &token, path);
        assert_eq!(on_a.0, 200, "{path}: {}", on_a.1);
        assert_eq!(api(b, &token, path), on_a, "{path}");
    }

    // A token created by the CLI: accepted by both on their next request.
    let second = ok(d, &location, &["token", "create", "alice"]);
    let second = second
        .split_whitespace()
        .find(|w| w.starts_with("hs_"))
        .unwrap()
        .to_owned();
    assert_eq!(api(a, &second, &base).0, 200);
    assert_eq!(api(b, &second, &base).0, 200);
    // Revoked: both refuse it on their next request (each had accepted it just before).
    ok(d, &location, &["token", "revoke", &second]);
    assert_eq!(api(a, &second, &base).0, 401, "A accepts a revoked token");
    assert_eq!(api(b, &second, &base).0, 401, "B accepts a revoked token");
    assert_eq!(api(a, &token, &base).0, 200);

    // Counts imported by the CLI: visible on both within one second.
    let before = all_time(&api(a, &token, &base).1);
    assert_eq!(all_time(&api(b, &token, &base).1), before);
    std::fs::write(
        d.join("more.csv"),
        format!(
            "repoType,repoName,total,timestamp,downloads\n\
             model,{ORG}/fresh,1000,2024-05-30T00:00:00.000Z,1000\n"
        ),
    )
    .unwrap();
    ok(d, &location, &["import", "more.csv"]);
    let written = Instant::now();
    for addr in [b, a] {
        let (status, body) = within_a_second(written, addr, &token, &base, |(_, body)| {
            all_time(body) == before + 1000
        });
        assert_eq!(
            (status, all_time(&body)),
            (200, before + 1000),
            "{addr} after the import"
        );
    }

    // Counts posted to A's `POST /api/ingest`: visible on B within one second.
    let secret = ok(d, &location, &["ingest-key", "create", "shipper"]);
    let secret = secret
        .split_whitespace()
        .find(|w| w.starts_with("hsi_"))
        .unwrap_or_else(|| panic!("no key in {secret}"))
        .to_owned();
    let batch = format!(
        r#"{{"timestamp":"2024-05-31T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"{ORG}/fresh","path":"config.json"}}"#
    );
    let (status, body) = http(
        a,
        "POST",
        "/api/ingest",
        &[
            ("Authorization", &format!("Bearer {secret}")),
            ("Content-Type", "application/x-ndjson"),
            ("Idempotency-Key", "batch-1"),
        ],
        &batch,
    );
    let written = Instant::now();
    assert_eq!(status, 200, "{body}");
    let (status, body) = within_a_second(written, b, &token, &base, |(_, body)| {
        all_time(body) == before + 1001
    });
    assert_eq!(
        (status, all_time(&body)),
        (200, before + 1001),
        "B after A's ingest"
    );
    for path in &paths {
        assert_eq!(api(b, &token, path), api(a, &token, path), "{path}");
    }
    // Each child is killed by its PID.
    drop((process_a, process_b));
}
