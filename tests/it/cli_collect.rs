//! `hubstats collect` against a stand-in hub: an HTTP server in the test that serves the
//! public listing API's JSON shape (`GET /api/models?author=…&expand[]=downloadsAllTime…`, a
//! JSON array, the next page in `Link: <…>; rel="next"`), two repositories a page, with 429s
//! and `Retry-After`, 5xx, malformed JSON, a counter that goes down, repositories that appear
//! and disappear, and a gap of several days. The daily figures, estimated days, corrections
//! and All Time totals are checked with figures computed by hand, through the CLI's export and
//! the HTTP API, on SQLite and (ignored unless a `clickhouse-server` is installed) ClickHouse.

use crate::child;
use crate::common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

use hubstats::config::{Config, Overrides};
use hubstats::domain::{OrgName, Plan, Role, Username};
use hubstats::web::{router_with_throttle, AppState};

/// What the stand-in hub answers instead of a page, once.
#[derive(Debug, Clone)]
enum Fault {
    /// A status with an optional `Retry-After`.
    Status(u16, Option<&'static str>),
    /// A 200 whose body is not the expected JSON.
    Malformed,
}

/// The hub's state: each organization's repositories by listing (`models`, `datasets`), with
/// their all-time counters; faults to answer to a (listing, author, page); requests seen.
#[derive(Default)]
struct HubState {
    repos: BTreeMap<(String, String), Vec<(String, u64)>>,
    faults: HashMap<(String, String, u32), VecDeque<Fault>>,
    requests: Vec<Seen>,
}

#[derive(Debug, Clone)]
struct Seen {
    target: String,
    user_agent: String,
    authorization: Option<String>,
}

struct StandInHub {
    url: String,
    state: Arc<Mutex<HubState>>,
}

const PAGE: usize = 2;

impl StandInHub {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(HubState::default()));
        let (shared, base) = (state.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (shared, base) = (shared.clone(), base.clone());
                std::thread::spawn(move || serve_connection(stream, &shared, &base));
            }
        });
        StandInHub { url, state }
    }

    /// Sets what `listing` (`models`, `datasets`) lists for `org`: `(name, downloadsAllTime)`.
    fn set(&self, listing: &str, org: &str, repos: &[(&str, u64)]) {
        let repos = repos
            .iter()
            .map(|(n, c)| (format!("{org}/{n}"), *c))
            .collect();
        let mut s = self.state.lock().unwrap();
        s.repos.insert((listing.to_owned(), org.to_owned()), repos);
    }

    fn fault(&self, listing: &str, org: &str, page: u32, fault: Fault) {
        let mut s = self.state.lock().unwrap();
        let key = (listing.to_owned(), org.to_owned(), page);
        s.faults.entry(key).or_default().push_back(fault);
    }

    fn requests(&self) -> Vec<Seen> {
        std::mem::take(&mut self.state.lock().unwrap().requests)
    }
}

fn serve_connection(stream: TcpStream, state: &Mutex<HubState>, base: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let (status, extra, body) = answer(state, base, &target, &headers);
        let reason = if status == 200 { "OK" } else { "Error" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{extra}\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// The page `target` asks for: (status, extra header lines, body).
fn answer(
    state: &Mutex<HubState>,
    base: &str,
    target: &str,
    headers: &HashMap<String, String>,
) -> (u16, String, String) {
    let mut s = state.lock().unwrap();
    s.requests.push(Seen {
        target: target.to_owned(),
        user_agent: headers.get("user-agent").cloned().unwrap_or_default(),
        authorization: headers.get("authorization").cloned(),
    });
    let target = target.replace("%5B", "[").replace("%5D", "]");
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let listing = path.trim_start_matches("/api/").to_owned();
    let params: HashMap<&str, &str> = query.split('&').filter_map(|p| p.split_once('=')).collect();
    let author = params.get("author").copied().unwrap_or("").to_owned();
    let expands: Vec<&str> = query
        .split('&')
        .filter_map(|p| p.strip_prefix("expand[]="))
        .collect();
    assert_eq!(expands, ["downloads", "downloadsAllTime"], "{target}");
    let page: u32 = params.get("cursor").map_or(1, |c| c.parse().unwrap());
    if let Some(fault) =
        (s.faults.get_mut(&(listing.clone(), author.clone(), page))).and_then(VecDeque::pop_front)
    {
        return match fault {
            Fault::Status(status, retry_after) => {
                let extra = retry_after.map_or(String::new(), |r| format!("Retry-After: {r}\r\n"));
                (status, extra, "{\"error\":\"stand-in fault\"}".to_owned())
            }
            Fault::Malformed => (200, String::new(), "[{\"id\": \"acme/alpha\",".to_owned()),
        };
    }
    let all = s
        .repos
        .get(&(listing.clone(), author.clone()))
        .cloned()
        .unwrap_or_default();
    let start = (page as usize - 1) * PAGE;
    let items: Vec<String> = (all.iter().skip(start).take(PAGE))
        .map(|(id, n)| {
            format!(
                "{{\"_id\":\"x\",\"id\":\"{id}\",\"downloads\":{},\"downloadsAllTime\":{n},\"likes\":0}}",
                n / 10
            )
        })
        .collect();
    let next = if start + PAGE < all.len() {
        format!(
            "Link: <{base}/api/{listing}?author={author}&expand[]=downloads&expand[]=downloadsAllTime&limit=1000&cursor={}>; rel=\"next\"\r\n",
            page + 1
        )
    } else {
        String::new()
    };
    (200, next, format!("[{}]", items.join(",")))
}

fn collect(dir: &Path, store: &str, hub: &StandInHub, today: &str, orgs: &[&str]) -> Output {
    let mut cmd = common::hubstats_command(store);
    cmd.env_remove("HF_TOKEN")
        .current_dir(dir)
        .args(["collect", "--today", today, "--hub", &hub.url]);
    cmd.args(orgs).output().unwrap()
}

fn collected(dir: &Path, store: &str, hub: &StandInHub, today: &str) -> String {
    let out = collect(dir, store, hub, today, &["acme"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "collect on {today} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Repositories of one listing: (name, downloadsAllTime).
type Listing = &'static [(&'static str, u64)];

/// The hub on each day of the scenario, with the figures the test expects computed by hand.
fn hub_on(hub: &StandInHub, day: &str) {
    let (models, datasets): (Listing, Listing) = match day {
        "2024-03-01" => (
            &[("alpha", 1000), ("beta", 50), ("gamma", 10)],
            &[("data", 200)],
        ),
        // delta appears.
        "2024-03-02" => (
            &[("alpha", 1100), ("beta", 50), ("delta", 7), ("gamma", 12)],
            &[("data", 230)],
        ),
        // Three days later; beta went down (a correction), gamma is gone.
        "2024-03-05" => (
            &[("alpha", 1400), ("beta", 45), ("delta", 10)],
            &[("data", 260)],
        ),
        // gamma is back.
        "2024-03-06" => (
            &[("alpha", 1450), ("beta", 47), ("delta", 10), ("gamma", 20)],
            &[("data", 261)],
        ),
        other => panic!("no hub for {other}"),
    };
    hub.set("models", "acme", models);
    hub.set("datasets", "acme", datasets);
}

/// The breakdown CSV the four snapshots give, computed by hand (see `hub_on`):
/// - alpha: +100 on 03-02; +300 over 03-03..05 (100 a day, estimated); +50 on 03-06.
/// - beta: nothing until 03-05 (50 → 45, a correction); +2 on 03-06; total 47.
/// - delta: first seen 03-02 (7, before daily history); +3 over 03-03..05; nothing on 03-06.
/// - gamma: +2 on 03-02; gone on 03-05; back on 03-06 at 20: +8 over 03-03..06, 2 a day.
/// - data: +30 on 03-02; +30 over 03-03..05; +1 on 03-06.
const EXPECTED_CSV: &str = "\
repoType,repoName,total,timestamp,downloads
model,acme/alpha,1450,2024-03-02T00:00:00.000Z,100
model,acme/alpha,1450,2024-03-03T00:00:00.000Z,100
model,acme/alpha,1450,2024-03-04T00:00:00.000Z,100
model,acme/alpha,1450,2024-03-05T00:00:00.000Z,100
model,acme/alpha,1450,2024-03-06T00:00:00.000Z,50
model,acme/beta,47,2024-03-06T00:00:00.000Z,2
model,acme/delta,10,2024-03-03T00:00:00.000Z,1
model,acme/delta,10,2024-03-04T00:00:00.000Z,1
model,acme/delta,10,2024-03-05T00:00:00.000Z,1
model,acme/gamma,20,2024-03-02T00:00:00.000Z,2
model,acme/gamma,20,2024-03-03T00:00:00.000Z,2
model,acme/gamma,20,2024-03-04T00:00:00.000Z,2
model,acme/gamma,20,2024-03-05T00:00:00.000Z,2
model,acme/gamma,20,2024-03-06T00:00:00.000Z,2
dataset,acme/data,261,2024-03-02T00:00:00.000Z,30
dataset,acme/data,261,2024-03-03T00:00:00.000Z,10
dataset,acme/data,261,2024-03-04T00:00:00.000Z,10
dataset,acme/data,261,2024-03-05T00:00:00.000Z,10
dataset,acme/data,261,2024-03-06T00:00:00.000Z,1
";

/// Runs the scenario on `store`; returns the export after it.
fn run_scenario(dir: &Path, store: &str, hub: &StandInHub) {
    hub_on(hub, "2024-03-01");
    // The second page of models is refused once with a 429 (wait 1 s), the first page of
    // datasets once with a 503 (backed off): both are retried and the snapshot is whole.
    hub.fault("models", "acme", 2, Fault::Status(429, Some("1")));
    hub.fault("datasets", "acme", 1, Fault::Status(503, None));
    let out = collected(dir, store, hub, "2024-03-01");
    assert!(
        out.contains("acme: 3 models, 1 dataset on 2024-03-01 (first snapshot"),
        "{out}"
    );
    let seen = hub.requests();
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.iter().all(|r| r.user_agent.starts_with("hubstats/")));
    assert!(seen.iter().all(|r| r.authorization.is_none()));
    assert!(seen[0].target.starts_with("/api/models?author=acme&"));

    hub_on(hub, "2024-03-02");
    let out = collected(dir, store, hub, "2024-03-02");
    assert!(out.contains("previous snapshot 2024-03-01; 1 new"), "{out}");

    hub_on(hub, "2024-03-05");
    let out = collected(dir, store, hub, "2024-03-05");
    assert!(
        out.contains("previous snapshot 2024-03-02, 3 days estimated; 1 gone; 1 counter went down"),
        "{out}"
    );

    hub_on(hub, "2024-03-06");
    let out = collected(dir, store, hub, "2024-03-06");
    assert!(out.contains("1 new"), "{out}");

    // A collection the hub breaks stores nothing of that organization; another organization
    // of the same command is stored.
    hub.set("models", "zeta", &[("one", 5)]);
    hub.fault("datasets", "acme", 1, Fault::Malformed);
    let out = collect(dir, store, hub, "2024-03-07", &["acme", "zeta"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("acme: datasets, page 1: the answer is not the expected JSON"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 organizations not collected on 2024-03-07"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("zeta: 1 model, 0 datasets"));

    // A hub that keeps failing: the error names the organization, page and status.
    for _ in 0..2 {
        hub.fault("models", "acme", 2, Fault::Status(500, None));
    }
    let mut cmd = common::hubstats_command(store);
    let out = cmd
        .current_dir(dir)
        .args(["collect", "--today", "2024-03-07", "--max-retries", "1"])
        .args(["--hub", &hub.url, "acme"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("acme: models, page 2: the hub answered 500: {\"error\":\"stand-in fault\"}"),
        "{stderr}"
    );
    // An organization the hub lists nothing of (a misspelt name) is refused, not created.
    let out = collect(dir, store, hub, "2024-03-07", &["acmee"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("acmee: the hub lists no model or dataset of it"),
        "{stderr}"
    );
    let orgs = common::hubstats_ok(dir, store, "2024-03-07", &["org", "list"]);
    assert!(!orgs.contains("acmee"), "{orgs}");
    let export = common::hubstats_ok(dir, store, "2024-03-07", &["export", "--org", "acme"]);
    assert_eq!(export, EXPECTED_CSV);
}

/// A router over `store`, with acme on the Team plan and a token of its member alice.
fn serve(store_location: &str) -> (Router, String) {
    let flags = Overrides {
        store: Some(store_location.to_owned()),
        ..Default::default()
    };
    let mut config = Config::load(&flags, |_| None).unwrap();
    config.today = Some("2024-03-07".parse().unwrap());
    let store = hubstats::store::open(store_location).unwrap();
    let (org, alice) = (
        OrgName::parse("acme").unwrap(),
        Username::parse("alice").unwrap(),
    );
    store.set_plan(&org, Plan::Team).unwrap();
    hubstats::accounts::create_user(store.as_ref(), &alice, "password-alice").unwrap();
    store.set_member(&org, &alice, Role::Read).unwrap();
    let token = hubstats::accounts::create_token(store.as_ref(), &alice).unwrap();
    let state = AppState {
        store,
        config: Arc::new(config),
    };
    (router_with_throttle(state, Arc::default()), token)
}

async fn get_page(router: &Router, token: &str, path: &str) -> String {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    text
}

async fn get_json(router: &Router, token: &str, path: &str) -> serde_json::Value {
    let req = Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// What the API says of the scenario's figures and where they come from.
async fn check_api(store: &str) {
    let (router, token) = serve(store);
    let base = "/api/organizations/acme/analytics";
    let overview = get_json(&router, &token, &format!("{base}?period=all-time")).await;
    assert_eq!(overview["totals"]["all"], 1450 + 47 + 10 + 20 + 261);
    let hub = &overview["hub"];
    assert_eq!(hub["firstSnapshot"], "2024-03-01");
    assert_eq!(hub["lastSnapshot"], "2024-03-06");
    assert_eq!(hub["snapshots"], 4);
    assert_eq!(hub["repositories"], 5);
    assert_eq!(
        hub["estimated"],
        serde_json::json!([{"from": "2024-03-03", "to": "2024-03-05"}])
    );

    let alpha = get_json(&router, &token, &format!("{base}/repos/model/acme/alpha")).await;
    assert_eq!(
        (alpha["total"].as_u64(), alpha["adjustment"].as_i64()),
        (Some(1450), Some(1000))
    );
    assert_eq!(alpha["hub"]["firstSnapshot"], "2024-03-01");
    assert_eq!(alpha["hub"]["counter"], 1450);
    assert_eq!(alpha["hub"]["listed"], true);
    assert_eq!(
        alpha["hub"]["estimated"],
        serde_json::json!([{"from": "2024-03-03", "to": "2024-03-05"}])
    );
    assert_eq!(alpha["hub"]["corrections"], serde_json::json!([]));

    let beta = get_json(&router, &token, &format!("{base}/repos/model/acme/beta")).await;
    assert_eq!(
        (beta["total"].as_u64(), beta["adjustment"].as_i64()),
        (Some(47), Some(45))
    );
    assert_eq!(
        beta["hub"]["corrections"],
        serde_json::json!([{"date": "2024-03-05", "from": 50, "to": 45}])
    );

    // The pages say where the figures come from, and which days are estimated.
    let pages = "/organizations/acme/settings/publisher-analytics";
    let dashboard = get_page(&router, &token, &format!("{pages}?period=7d")).await;
    assert!(
        dashboard.contains("public download counters: 4 snapshots from"),
        "{dashboard}"
    );
    assert!(dashboard.contains("3 days between snapshots more than a day apart are estimated"));
    assert!(dashboard.contains("· estimated</span>"), "{dashboard}");
    // The chart hatches the estimated days (03-03 to 03-05 of the last 7 days).
    assert_eq!(
        dashboard.matches(r#"data-estimated="true""#).count(),
        3,
        "{dashboard}"
    );
    assert!(dashboard.contains(r##"fill="url(#org-chart-hatch)""##));
    let beta_page = get_page(&router, &token, &format!("{pages}/models/beta")).await;
    assert!(
        beta_page.contains("the counter went down from 50 to 45"),
        "{beta_page}"
    );

    // The answers with `hub` objects are what the OpenAPI document describes.
    let doc: serde_json::Value = hubstats::web::openapi::document();
    let checks = [
        ("/api/organizations/{org}/analytics", &overview),
        (
            "/api/organizations/{org}/analytics/repos/{repoType}/{repoName}",
            &beta,
        ),
    ];
    for (path, value) in checks {
        let op = &doc["paths"][path]["get"];
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let errors = crate::analytics::validate(&doc, schema, value, "$");
        assert!(errors.is_empty(), "{path}: {errors:#?}");
    }

    let gamma = get_json(&router, &token, &format!("{base}/repos/model/acme/gamma")).await;
    assert_eq!(
        gamma["hub"]["estimated"],
        serde_json::json!([{"from": "2024-03-03", "to": "2024-03-06"}])
    );
}

#[test]
fn snapshots_become_daily_history_on_sqlite() {
    let hub = StandInHub::start();
    let dir = tempfile::tempdir().unwrap();
    let store = dir
        .path()
        .join("hubstats.db")
        .to_string_lossy()
        .into_owned();
    run_scenario(dir.path(), &store, &hub);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(check_api(&store));
}

#[test]
#[ignore = "needs clickhouse-server"]
fn snapshots_become_daily_history_on_clickhouse() {
    let server = hubstats::store::clickhouse::testing::ClickHouseServer::start();
    let hub = StandInHub::start();
    let dir = tempfile::tempdir().unwrap();
    let store = server.location();
    run_scenario(dir.path(), &store, &hub);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(check_api(&store));
}

#[test]
fn a_token_is_sent_only_to_the_hub() {
    let hub = StandInHub::start();
    hub.set("models", "acme", &[("a", 1), ("b", 2), ("c", 3)]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir
        .path()
        .join("hubstats.db")
        .to_string_lossy()
        .into_owned();
    std::fs::write(dir.path().join("token"), "hf_secret\n").unwrap();
    let mut cmd = common::hubstats_command(&store);
    let out = cmd
        .current_dir(dir.path())
        .args(["collect", "--today", "2024-03-01", "--token-file", "token"])
        .args(["--hub", &hub.url, "acme"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = hub.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen
        .iter()
        .all(|r| r.authorization.as_deref() == Some("Bearer hf_secret")));
}

// `serve` with a `[collect]` schedule takes the day's snapshot itself: started after the
// configured time with no snapshot of the day, it collects at once.
#[test]
fn serve_collects_on_its_schedule() {
    let hub = StandInHub::start();
    hub.set("models", "acme", &[("a", 10), ("b", 20), ("c", 30)]);
    hub.set("datasets", "acme", &[("d", 5)]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir
        .path()
        .join("hubstats.db")
        .to_string_lossy()
        .into_owned();
    let config = dir.path().join("hubstats.toml");
    std::fs::write(
        &config,
        format!(
            "[collect]\norgs = [\"acme\"]\nhub = \"{}\"\nat = \"00:00\"\n",
            hub.url
        ),
    )
    .unwrap();
    common::hubstats_ok(dir.path(), &store, "2024-03-01", &["org", "create", "acme"]);
    let mut cmd = common::hubstats_command(&store);
    cmd.env_remove("HF_TOKEN")
        .arg("--config")
        .arg(&config)
        .args(["serve", "--today", "2024-03-01", "--listen", "127.0.0.1:0"]);
    let server = child::Server::start(cmd);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let listed = loop {
        let out = common::hubstats_ok(dir.path(), &store, "2024-03-01", &["org", "list"]);
        let counted = |l: &str| l.starts_with("acme ") && l.trim_end().ends_with(" 4");
        if out.lines().any(counted) || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    drop(server);
    assert!(
        listed.lines().any(|l| l.trim_end().ends_with(" 4")),
        "{listed}"
    );
    let seen = hub.requests();
    assert_eq!(
        seen.len(),
        3,
        "two pages of models, one of datasets, once: {seen:?}"
    );
    // The first snapshot is history before daily data: totals, no daily rows.
    let export = common::hubstats_ok(
        dir.path(),
        &store,
        "2024-03-01",
        &["export", "--org", "acme"],
    );
    assert_eq!(export, "repoType,repoName,total,timestamp,downloads\n");
}
