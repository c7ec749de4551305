//! `POST /api/ingest` through the router in-process: batches change what the API and the CSV
//! export show, retries count once, and every refusal (401, 400, 413, 415, 422) counts
//! nothing. The ingest keys come from `hubstats ingest-key` (the built binary) or the library.

use crate::analytics;

use std::sync::Arc;

use crate::analytics::validate;
use crate::common::{run_hubstats, Auth, TestApp, TestResponse};
use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use hubstats::config::{Config, Overrides};
use hubstats::domain::{IngestKeyName, Plan, Role};
use hubstats::web::metrics::Metrics;
use hubstats::web::{router_with, AppState, Shared};
use serde_json::{json, Value};
use tower::ServiceExt;

const INGEST: &str = "/api/ingest";
const CSV: &str = "/organizations/acme/settings/publisher-analytics/download-breakdown";
const OVERVIEW: &str = "/api/organizations/acme/analytics";
const NDJSON: &str = "application/x-ndjson";
const HEADER: &str = "repoType,repoName,total,timestamp,downloads\n";

/// An app with `acme` on the Team plan, a member's API token and an ingest key.
struct Ingest {
    app: TestApp,
    token: Auth,
    key: String,
}

fn setup_with(f: impl FnOnce(&mut hubstats::config::Config)) -> Ingest {
    let app = TestApp::with_config(f);
    app.org("acme", Plan::Team);
    app.user("alice");
    app.member("acme", "alice", Role::Read);
    let token = Auth::Bearer(app.token("alice"));
    let key = new_key(&app, "shipper");
    Ingest { app, token, key }
}

fn setup() -> Ingest {
    setup_with(|_| {})
}

fn new_key(app: &TestApp, name: &str) -> String {
    let name = IngestKeyName::parse(name).unwrap();
    hubstats::accounts::create_ingest_key(app.store.as_ref(), &name).unwrap()
}

/// A batch request: `auth`, `content_type` and `idempotency_key` are sent when given.
fn batch(
    auth: &Auth,
    content_type: Option<&str>,
    idempotency_key: Option<&str>,
    body: Body,
) -> Request<Body> {
    let mut req = auth.apply(Request::post(INGEST));
    if let Some(t) = content_type {
        req = req.header(header::CONTENT_TYPE, t);
    }
    if let Some(k) = idempotency_key {
        req = req.header("idempotency-key", k);
    }
    req.body(body).unwrap()
}

impl Ingest {
    async fn post(&self, content_type: &str, key: &str, body: &str) -> TestResponse {
        let auth = Auth::Bearer(self.key.clone());
        let req = batch(
            &auth,
            Some(content_type),
            Some(key),
            Body::from(body.to_owned()),
        );
        self.app.send(req).await
    }

    async fn export(&self) -> String {
        let res = self.app.get(CSV, &self.token).await;
        assert_eq!(res.status, 200, "{}", res.text());
        res.text()
    }

    async fn totals(&self) -> Value {
        let res = self.app.get(OVERVIEW, &self.token).await;
        analytics::json(&res)["totals"].clone()
    }
}

fn body_json(res: &TestResponse) -> Value {
    serde_json::from_str(&res.text()).unwrap_or_else(|_| panic!("not JSON: {}", res.text()))
}

/// Checks a response against the OpenAPI document's schema for its status.
async fn assert_documented(app: &TestApp, res: &TestResponse) {
    let doc = analytics::json(&app.get("/api/openapi.json", &Auth::None).await);
    let status = res.status.as_str().to_owned();
    let schema = &doc["paths"][INGEST]["post"]["responses"][&status]["content"]["application/json"]
        ["schema"];
    assert!(!schema.is_null(), "status {status} is not documented");
    let errors = validate(&doc, schema, &body_json(res), "$");
    assert!(errors.is_empty(), "{status}: {errors:#?}");
}

const EVENT: &str = r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/bert","path":"config.json"}"#;

fn jsonl_batch() -> String {
    [
        EVENT,
        // Not a file the default rules count for a model: kept, counts nothing.
        r#"{"timestamp":"2024-05-01T10:00:01Z","method":"GET","status":200,"repoType":"model","repoName":"acme/bert","path":"model.safetensors"}"#,
        // One downloader, one dataset, one 5-minute window: one download.
        r#"{"timestamp":"2024-05-01T10:01:00Z","method":"GET","status":200,"repoType":"dataset","repoName":"acme/data","hashedUserId":"u1"}"#,
        r#"{"timestamp":"2024-05-01T10:03:00Z","method":"HEAD","status":302,"repoType":"dataset","repoName":"acme/data","hashedUserId":"u1"}"#,
        r#"{"timestamp":"2024-05-01T10:03:00Z","method":"GET","status":200,"repoType":"space","repoName":"acme/app"}"#,
    ]
    .join("\n")
}

#[tokio::test]
async fn a_jsonl_batch_is_counted_once_however_often_it_is_retried() {
    let t = setup();
    let res = t.post(NDJSON, "batch-1", &jsonl_batch()).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        body_json(&res),
        json!({"rows": 5, "counted": 4, "duplicate": false})
    );
    assert_documented(&t.app, &res).await;
    let first = format!(
        "{HEADER}model,acme/bert,1,2024-05-01T00:00:00.000Z,1\n\
         dataset,acme/data,1,2024-05-01T00:00:00.000Z,1\n"
    );
    assert_eq!(t.export().await, first);
    assert_eq!(
        t.totals().await,
        json!({"all": 2, "model": 1, "dataset": 1})
    );

    // A retry (the answer was lost): the same key and bytes count nothing and say so.
    let retry = t.post(NDJSON, "batch-1", &jsonl_batch()).await;
    assert_eq!(
        body_json(&retry),
        json!({"rows": 5, "counted": 4, "duplicate": true})
    );
    assert_documented(&t.app, &retry).await;
    assert_eq!(t.export().await, first);

    // The next batch continues the dataset window (still one download) and adds a day.
    let next = [
        r#"{"timestamp":"2024-05-01T10:04:59Z","method":"GET","status":200,"repoType":"dataset","repoName":"acme/data","hashedUserId":"u1"}"#,
        &EVENT.replace("2024-05-01", "2024-05-02"),
    ]
    .join("\n");
    // Its bytes under the first batch's key are refused whole.
    let reused = t.post(NDJSON, "batch-1", &next).await;
    assert_eq!(reused.status, 422, "{}", reused.text());
    let message = body_json(&reused)["error"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("Idempotency-Key \"batch-1\" was already used"),
        "{message}"
    );
    assert_documented(&t.app, &reused).await;
    assert_eq!(t.export().await, first);

    let res = t.post(NDJSON, "batch-2", &next).await;
    assert_eq!(
        body_json(&res),
        json!({"rows": 2, "counted": 2, "duplicate": false})
    );
    assert_eq!(
        t.export().await,
        format!(
            "{HEADER}model,acme/bert,2,2024-05-01T00:00:00.000Z,1\n\
             model,acme/bert,2,2024-05-02T00:00:00.000Z,1\n\
             dataset,acme/data,1,2024-05-01T00:00:00.000Z,1\n"
        )
    );
}

/// Idempotency keys belong to the ingest key that sends them: another shipper's batch under
/// the same key is its own (counted, not a duplicate, not refused), and cannot tell whether the
/// first shipper used that key.
#[tokio::test]
async fn idempotency_keys_of_two_ingest_keys_do_not_meet() {
    let t = setup();
    let res = t.post(NDJSON, "batch-1", &jsonl_batch()).await;
    assert_eq!(body_json(&res)["duplicate"], json!(false), "{}", res.text());
    let send = |key: &str, body: String| {
        let auth = Auth::Bearer(key.to_owned());
        batch(&auth, Some(NDJSON), Some("batch-1"), Body::from(body))
    };
    // Other bytes from another shipper under that key: counted, not refused.
    let second = new_key(&t.app, "second-shipper");
    let next = EVENT.replace("2024-05-01", "2024-05-02");
    let res = t.app.send(send(&second, next)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        body_json(&res),
        json!({"rows": 1, "counted": 1, "duplicate": false})
    );
    // The first batch's bytes from a third: a batch of its own (counting nothing new), not
    // the first shipper's retry.
    let third = new_key(&t.app, "third-shipper");
    let same = t.app.send(send(&third, jsonl_batch())).await;
    assert_eq!(same.status, 200, "{}", same.text());
    assert_eq!(body_json(&same)["duplicate"], json!(false));
    assert_eq!(t.totals().await["model"], json!(2));
}

/// Two copies of one batch sent at once: one is counted, the other is its retry.
#[tokio::test]
async fn a_batch_sent_twice_at_once_is_counted_once() {
    let t = setup();
    let body = jsonl_batch();
    let (a, b) = tokio::join!(
        t.post(NDJSON, "twice", &body),
        t.post(NDJSON, "twice", &body)
    );
    let mut duplicates = [
        body_json(&a)["duplicate"].clone(),
        body_json(&b)["duplicate"].clone(),
    ];
    duplicates.sort_by_key(|d| d.as_bool());
    assert_eq!(duplicates, [json!(false), json!(true)]);
    assert_eq!(
        t.totals().await,
        json!({"all": 2, "model": 1, "dataset": 1})
    );
}

const OLD_LAYOUT: &str = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,requestType,isInternal\n\
    2024-05-01T10:00:00.000Z,200,GET,acme/bert,model,u1,ip1,FR,IDF,file,false\n\
    2024-05-01T10:01:00.000Z,206,GET,acme/bert,model,u1,ip1,FR,IDF,file,false\n\
    2024-05-01T10:02:00.000Z,200,GET,acme/data,dataset,u1,ip1,FR,IDF,file,false\n\
    2024-05-01T10:03:00.000Z,200,GET,acme/app,space,u1,ip1,FR,IDF,file,false\n";
const NEW_LAYOUT: &str =
    "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,userAgent\n\
    2024-05-01T12:04:00+02:00,302,HEAD,acme/data,dataset,u1,ip2,FR,IDF,hf_hub\n\
    2024-05-02T09:00:00Z,200,GET,acme/bert,model,,ip9,US,CA,curl/8\n";

#[tokio::test]
async fn hf_csv_batches_in_both_header_layouts_are_counted() {
    let t = setup();
    let res = t.post("text/csv", "old", OLD_LAYOUT).await;
    assert_eq!(
        body_json(&res),
        json!({"rows": 4, "counted": 3, "duplicate": false})
    );
    // A charset parameter is fine.
    let res = t.post("text/csv; charset=utf-8", "new", NEW_LAYOUT).await;
    assert_eq!(
        body_json(&res),
        json!({"rows": 2, "counted": 2, "duplicate": false})
    );
    // The 206 does not count; the dataset window spans both batches: one download.
    assert_eq!(
        t.export().await,
        format!(
            "{HEADER}model,acme/bert,2,2024-05-01T00:00:00.000Z,1\n\
             model,acme/bert,2,2024-05-02T00:00:00.000Z,1\n\
             dataset,acme/data,1,2024-05-01T00:00:00.000Z,1\n"
        )
    );
    assert_eq!(
        t.totals().await,
        json!({"all": 3, "model": 2, "dataset": 1})
    );
    assert!(t
        .post("text/csv", "old", OLD_LAYOUT)
        .await
        .text()
        .contains("\"duplicate\":true"));
}

#[tokio::test]
async fn only_a_live_ingest_key_may_send_batches() {
    let t = setup();
    let send = |auth: Auth, key: &'static str| {
        let req = batch(&auth, Some(NDJSON), Some(key), Body::from(EVENT));
        t.app.send(req)
    };
    let refused = [
        (Auth::None, "send an ingest key"),
        (Auth::Bearer("hsi_0123".into()), "unknown or revoked"),
        (t.token.clone(), "API token is not an ingest key"),
        (Auth::Session(t.app.session("alice")), "send an ingest key"),
    ];
    for (auth, message) in refused {
        let res = send(auth.clone(), "k1").await;
        assert_eq!(res.status, 401, "{auth:?}: {}", res.text());
        assert!(res.text().contains(message), "{auth:?}: {}", res.text());
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
        assert_documented(&t.app, &res).await;
    }
    assert_eq!(t.export().await, HEADER, "nothing counted");

    let second = new_key(&t.app, "second");
    assert_eq!(send(Auth::Bearer(second.clone()), "k2").await.status, 200);
    let name = IngestKeyName::parse("second").unwrap();
    assert!(t
        .app
        .store
        .revoke_ingest_key(&name, hubstats::accounts::now_unix())
        .unwrap());
    let res = send(Auth::Bearer(second), "k3").await;
    assert_eq!(res.status, 401, "{}", res.text());
    assert!(res.text().contains("revoked"), "{}", res.text());
    // The other key still works.
    assert_eq!(send(Auth::Bearer(t.key.clone()), "k4").await.status, 200);
}

#[tokio::test]
async fn a_bad_row_is_a_400_naming_line_and_field_and_counts_nothing() {
    let t = setup();
    let bad = format!("{EVENT}\n\n{}\n", EVENT.replace("200", "\"OK\""));
    let res = t.post(NDJSON, "fix-me", &bad).await;
    assert_eq!(res.status, 400, "{}", res.text());
    let message = body_json(&res)["error"].as_str().unwrap().to_owned();
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("field status"), "{message}");
    assert_documented(&t.app, &res).await;
    assert_eq!(t.export().await, HEADER);
    assert_eq!(
        t.totals().await,
        json!({"all": 0, "model": 0, "dataset": 0})
    );

    let csv = OLD_LAYOUT.replace("acme/data", "acme/da ta");
    let res = t.post("text/csv", "fix-me-too", &csv).await;
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.text().contains("line 4"), "{}", res.text());
    assert!(res.text().contains("repoName"), "{}", res.text());
    assert_eq!(t.export().await, HEADER);

    // A refused batch does not take its key: the corrected batch is sent under it.
    let res = t.post(NDJSON, "fix-me", EVENT).await;
    assert_eq!(
        body_json(&res),
        json!({"rows": 1, "counted": 1, "duplicate": false})
    );
}

// Regression: an event dated 2460 was counted, and All Time then answered 400 for the whole
// organization ("a period of 159095 days is too long to chart").
#[tokio::test]
async fn an_event_dated_after_the_day_after_the_reference_day_is_a_400_counting_nothing() {
    let t = setup_with(|c| c.today = "2024-05-31".parse().ok());
    let far = EVENT.replace("2024-05-01", "2460-01-01");
    let res = t.post(NDJSON, "late", &[EVENT, &far].join("\n")).await;
    assert_eq!(res.status, 400, "{}", res.text());
    let message = body_json(&res)["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("line 2") && message.contains("field timestamp"),
        "{message}"
    );
    assert!(
        message.contains("2460-01-01") && message.contains("2024-05-31"),
        "{message}"
    );
    assert_documented(&t.app, &res).await;
    assert_eq!(t.export().await, HEADER);

    // In UTC, the second day after the reference day starts at midnight.
    let csv = format!(
        "{}2024-06-02T00:00:00Z,200,GET,acme/bert,model,,ip9,US,CA,curl/8\n",
        NEW_LAYOUT
    );
    let res = t.post("text/csv", "late-csv", &csv).await;
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.text().contains("line 4"), "{}", res.text());
    assert_eq!(t.export().await, HEADER);
    assert_eq!(
        t.totals().await,
        json!({"all": 0, "model": 0, "dataset": 0})
    );

    // The day after the reference day is accepted (clocks ahead), here as a time east of UTC
    // on the day after that; the refused batches took no key.
    let tomorrow = EVENT.replace("2024-05-01T10:00:00Z", "2024-06-02T00:30:00+02:00");
    let res = t.post(NDJSON, "late", &[EVENT, &tomorrow].join("\n")).await;
    assert_eq!(
        body_json(&res),
        json!({"rows": 2, "counted": 2, "duplicate": false})
    );
    assert_eq!(
        t.export().await,
        format!(
            "{HEADER}model,acme/bert,2,2024-05-01T00:00:00.000Z,1\n\
             model,acme/bert,2,2024-06-01T00:00:00.000Z,1\n"
        )
    );
}

#[tokio::test]
async fn the_idempotency_key_is_required_and_bounded() {
    let t = setup();
    let auth = Auth::Bearer(t.key.clone());
    let long = "k".repeat(129);
    for key in [None, Some(""), Some("two words"), Some(long.as_str())] {
        let res = t
            .app
            .send(batch(&auth, Some(NDJSON), key, Body::from(EVENT)))
            .await;
        assert_eq!(res.status, 400, "{key:?}: {}", res.text());
        assert!(res.text().contains("Idempotency-Key"), "{}", res.text());
        assert_documented(&t.app, &res).await;
    }
    assert_eq!(t.export().await, HEADER);
    let longest = "k".repeat(128);
    assert_eq!(t.post(NDJSON, &longest, EVENT).await.status, 200);
}

#[tokio::test]
async fn other_content_types_are_415() {
    let t = setup();
    let auth = Auth::Bearer(t.key.clone());
    for content_type in [Some("application/json"), Some("text/plain"), None] {
        let req = batch(&auth, content_type, Some("k"), Body::from(EVENT));
        let res = t.app.send(req).await;
        assert_eq!(res.status, 415, "{content_type:?}: {}", res.text());
        assert!(
            res.text().contains("application/x-ndjson"),
            "{}",
            res.text()
        );
        assert_documented(&t.app, &res).await;
    }
    assert_eq!(t.export().await, HEADER);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_whether_or_not_its_length_is_announced() {
    let t = setup_with(|c| c.ingest_max_body_bytes = 1000);
    let auth = Auth::Bearer(t.key.clone());
    let lines = |n: usize| {
        (0..n)
            .map(|i| EVENT.replace("10:00:00", &format!("10:00:{:02}", i % 60)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let big = lines(10);
    assert!(big.len() > 1000);
    // Announced: refused before reading.
    let res = t.post(NDJSON, "big", &big).await;
    assert_eq!(res.status, 413, "{}", res.text());
    assert!(res.text().contains("1000 bytes"), "{}", res.text());
    assert_documented(&t.app, &res).await;
    // Streamed without a length: refused once it passes the limit.
    let chunks: Vec<Result<String, std::io::Error>> =
        big.lines().map(|l| Ok(format!("{l}\n"))).collect();
    let streamed = Body::from_stream(futures_util::stream::iter(chunks));
    let res = t
        .app
        .send(batch(&auth, Some(NDJSON), Some("big"), streamed))
        .await;
    assert_eq!(res.status, 413, "{}", res.text());
    assert_eq!(t.export().await, HEADER);
    // At the limit's side: accepted.
    let small = lines(5);
    assert!(small.len() <= 1000);
    assert_eq!(t.post(NDJSON, "small", &small).await.status, 200);
}

fn gzip(text: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_decoded_within_the_limit_and_other_encodings_are_415() {
    let t = setup_with(|c| c.ingest_max_body_bytes = 2000);
    let auth = Auth::Bearer(t.key.clone());
    let send = |key: &str, encoding: Option<&str>, body: Vec<u8>| {
        let mut req = batch(&auth, Some(NDJSON), Some(key), Body::from(body));
        if let Some(e) = encoding {
            req.headers_mut()
                .insert(header::CONTENT_ENCODING, e.parse().unwrap());
        }
        t.app.send(req)
    };
    let text = jsonl_batch();
    let res = send("gz", Some("gzip"), gzip(text.as_bytes())).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        body_json(&res),
        json!({"rows": 5, "counted": 4, "duplicate": false})
    );
    let counted = format!(
        "{HEADER}model,acme/bert,1,2024-05-01T00:00:00.000Z,1\n\
         dataset,acme/data,1,2024-05-01T00:00:00.000Z,1\n"
    );
    assert_eq!(t.export().await, counted);
    // Retries of the same text, sent plain or as two gzip members: counted once.
    let (head, tail) = text.split_at(text.len() / 2);
    let members = [gzip(head.as_bytes()), gzip(tail.as_bytes())].concat();
    for (encoding, body) in [(None, text.clone().into_bytes()), (Some("GZIP"), members)] {
        let res = send("gz", encoding, body).await;
        assert_eq!(res.status, 200, "{encoding:?}: {}", res.text());
        assert_eq!(body_json(&res)["duplicate"], json!(true), "{encoding:?}");
    }

    // A small body that decodes past the limit (here 2,000 bytes): 413.
    let bomb = gzip(&EVENT.repeat(100).into_bytes());
    assert!(bomb.len() < 2000, "{}", bomb.len());
    let res = send("bomb", Some("gzip"), bomb).await;
    assert_eq!(res.status, 413, "{}", res.text());
    assert!(res.text().contains("2000 bytes"), "{}", res.text());
    assert_documented(&t.app, &res).await;
    // Not gzip data: 400. Another encoding: 415 naming it.
    let res = send("bad", Some("gzip"), text.clone().into_bytes()).await;
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(
        res.text().contains("Content-Encoding gzip"),
        "{}",
        res.text()
    );
    assert_documented(&t.app, &res).await;
    let res = send("br", Some("br"), text.clone().into_bytes()).await;
    assert_eq!(res.status, 415, "{}", res.text());
    assert!(
        res.text().contains("Content-Encoding \\\"br\\\""),
        "{}",
        res.text()
    );
    assert_documented(&t.app, &res).await;
    assert_eq!(t.export().await, counted);
}

#[tokio::test]
async fn metrics_count_batches_by_result_rows_and_events() {
    let t = setup();
    let mut config = t.app.config.clone();
    config.metrics_token = Some("scrape".to_owned());
    let state = AppState {
        store: t.app.store.clone(),
        config: Arc::new(config),
    };
    let shared = Shared {
        metrics: Arc::new(Metrics::default()),
        ..Shared::default()
    };
    let router = router_with(state, shared);
    let send = |req: Request<Body>| {
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            let status = res.status().as_u16();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let key = Auth::Bearer(t.key.clone());
    let jsonl = || Body::from(jsonl_batch());
    assert_eq!(
        send(batch(&key, Some(NDJSON), Some("a"), jsonl())).await.0,
        200
    );
    assert_eq!(
        send(batch(&key, Some(NDJSON), Some("a"), jsonl())).await.0,
        200
    );
    assert_eq!(
        send(batch(&Auth::None, Some(NDJSON), Some("b"), jsonl()))
            .await
            .0,
        401
    );
    assert_eq!(
        send(batch(&key, Some("text/plain"), Some("b"), jsonl()))
            .await
            .0,
        415
    );
    let bad = Body::from("{not json");
    assert_eq!(send(batch(&key, Some(NDJSON), Some("b"), bad)).await.0, 400);

    let scrape = Request::get("/metrics")
        .header(header::AUTHORIZATION, "Bearer scrape")
        .body(Body::empty())
        .unwrap();
    let (status, text) = send(scrape).await;
    assert_eq!(status, 200, "{text}");
    for line in [
        "# TYPE hubstats_ingest_batches counter",
        "hubstats_ingest_batches_total{result=\"counted\"} 1",
        "hubstats_ingest_batches_total{result=\"duplicate\"} 1",
        "hubstats_ingest_batches_total{result=\"unauthorized\"} 1",
        "hubstats_ingest_batches_total{result=\"unsupported_type\"} 1",
        "hubstats_ingest_batches_total{result=\"invalid\"} 1",
        "hubstats_ingest_batches_total{result=\"too_large\"} 0",
        "hubstats_ingest_rows_total 5",
        "hubstats_ingest_events_total 4",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

fn hubstats_ok(app: &TestApp, args: &[&str]) -> String {
    let out = run_hubstats(&app.store_path, args, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn hubstats_fails(app: &TestApp, args: &[&str]) -> String {
    let out = run_hubstats(&app.store_path, args, "");
    assert!(!out.status.success(), "hubstats {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The row of `ingest-key list` for the key named `name` whose prefix `key` starts with.
fn listed(app: &TestApp, key: &str) -> String {
    let list = hubstats_ok(app, &["ingest-key", "list"]);
    assert!(list.starts_with("NAME"), "{list}");
    assert!(
        !list.contains(key),
        "the key itself is never listed: {list}"
    );
    list.lines()
        .find(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|p| key.starts_with(p))
        })
        .unwrap_or_else(|| panic!("no row for the key in {list}"))
        .to_owned()
}

#[tokio::test]
async fn ingest_key_commands_create_list_and_revoke() {
    let t = setup();
    let created = hubstats_ok(&t.app, &["ingest-key", "create", "cdn-eu"]);
    let key = created.split_whitespace().last().unwrap().to_owned();
    assert!(key.starts_with("hsi_") && key.len() > 40, "{created}");
    let row = listed(&t.app, &key);
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((words[0], words[1]), ("cdn-eu", &key[..12]), "{row}");
    assert!(row.contains("never") && row.ends_with("live"), "{row}");

    let res = t.post_with(&key, "cli-1").await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(!listed(&t.app, &key).contains("never"), "last use recorded");

    let err = hubstats_fails(&t.app, &["ingest-key", "create", "cdn-eu"]);
    assert!(err.contains("cdn-eu"), "{err}");
    let err = hubstats_fails(&t.app, &["ingest-key", "create", "no/slash"]);
    assert!(err.contains("ingest key name"), "{err}");

    let out = hubstats_ok(&t.app, &["ingest-key", "revoke", "cdn-eu"]);
    assert!(out.contains("revoked ingest key cdn-eu"), "{out}");
    assert!(listed(&t.app, &key).contains("revoked"));
    assert_eq!(t.post_with(&key, "cli-2").await.status, 401);
    let err = hubstats_fails(&t.app, &["ingest-key", "revoke", "cdn-eu"]);
    assert!(err.contains("no live ingest key named cdn-eu"), "{err}");

    // The name can be given to a new key; the old one stays refused.
    let created = hubstats_ok(&t.app, &["ingest-key", "create", "cdn-eu"]);
    let replacement = created.split_whitespace().last().unwrap().to_owned();
    assert_eq!(t.post_with(&replacement, "cli-3").await.status, 200);
    assert_eq!(t.post_with(&key, "cli-4").await.status, 401);
}

impl Ingest {
    async fn post_with(&self, ingest_key: &str, idempotency_key: &str) -> TestResponse {
        let auth = Auth::Bearer(ingest_key.to_owned());
        let req = batch(
            &auth,
            Some(NDJSON),
            Some(idempotency_key),
            Body::from(EVENT),
        );
        self.app.send(req).await
    }
}

/// The configuration as the server loads it from a config file naming a rules file.
fn config_with_rules_file(rules: &str, extra: &str) -> (tempfile::TempDir, Config) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.toml"), rules).unwrap();
    let file = dir.path().join("hubstats.toml");
    std::fs::write(&file, format!("rules = \"rules.toml\"\n{extra}")).unwrap();
    let flags = Overrides {
        config_file: Some(file.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let config = Config::load(&flags, |_| None).unwrap();
    (dir, config)
}

#[tokio::test]
async fn batches_are_counted_under_the_config_files_rules() {
    // Only 302 answers count: the model's 200s do not, the dataset's HEAD 302 does.
    let (_dir, loaded) = config_with_rules_file("statuses = [302]\n", "");
    let t = setup_with(|c| c.rules = loaded.rules);
    let res = t.post(NDJSON, "batch-1", &jsonl_batch()).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        t.totals().await,
        json!({"all": 1, "model": 0, "dataset": 1})
    );
    // The same batch under the Hub's defaults counts the model too.
    let defaults = setup();
    defaults.post(NDJSON, "batch-1", &jsonl_batch()).await;
    assert_eq!(
        defaults.totals().await,
        json!({"all": 2, "model": 1, "dataset": 1})
    );
}

#[tokio::test]
async fn batches_keep_no_events_before_the_configured_retention() {
    let (_dir, loaded) =
        config_with_rules_file("", "retention_days = 30\ntoday = \"2024-05-31\"\n");
    let t = setup_with(|c| {
        c.retention_days = loaded.retention_days;
        c.today = loaded.today;
    });
    // 2024-05-01 is the 31st day back: dropped; 2024-05-02 is kept.
    let body = [EVENT, &EVENT.replace("2024-05-01", "2024-05-02")].join("\n");
    let res = t.post(NDJSON, "batch-1", &body).await;
    assert_eq!(
        body_json(&res),
        json!({"rows": 2, "counted": 1, "duplicate": false, "expired": 1})
    );
    assert_documented(&t.app, &res).await;
    assert_eq!(
        t.export().await,
        format!("{HEADER}model,acme/bert,1,2024-05-02T00:00:00.000Z,1\n")
    );
}

fn event(day: &str, repo_type: &str, name: &str, user: &str, agent: &str) -> String {
    json!({
        "timestamp": format!("{day}T10:00:00Z"), "method": "GET", "status": 200,
        "repoType": repo_type, "repoName": name, "path": "config.json",
        "hashedUserId": user, "userAgent": agent,
    })
    .to_string()
}

#[tokio::test]
async fn the_overview_leaves_out_excluded_user_agent_classes_from_log_counts_only() {
    let t = setup_with(|c| c.today = "2024-05-31".parse().ok());
    let body = [
        event(
            "2024-05-10",
            "model",
            "acme/bert",
            "u1",
            "GitHub-Actions/2.0",
        ),
        event("2024-05-10", "model", "acme/bert", "u2", "curl/8.0"),
        event("2024-05-11", "model", "acme/bert", "u3", "Googlebot/2.1"),
        // One window, one downloader: still one download without its CI request.
        event(
            "2024-05-10",
            "dataset",
            "acme/data",
            "u1",
            "GitHub-Actions/2.0",
        ),
        event("2024-05-10", "dataset", "acme/data", "u1", "datasets/2.19"),
        // A window with CI requests only: gone.
        event("2024-05-10", "dataset", "acme/data", "u9", "gitlab-ci"),
    ]
    .join("\n");
    let res = t.post(NDJSON, "batch-1", &body).await;
    assert_eq!(res.status, 200, "{}", res.text());
    // Imported counts have no classes: kept as they are.
    let csv = format!("{HEADER}model,acme/old,5,2024-05-12T00:00:00.000Z,5\n");
    let path = t.app.dir.path().join("old.csv");
    std::fs::write(&path, csv).unwrap();
    run_hubstats(&t.app.store_path, &["import", path.to_str().unwrap()], "");

    let overview = |q: &'static str| {
        let t = &t;
        async move {
            let res = t.app.get(&format!("{OVERVIEW}?{q}"), &t.token).await;
            assert_eq!(res.status, 200, "{q}: {}", res.text());
            assert_documented_get(&t.app, &res).await;
            analytics::json(&res)
        }
    };
    let all = overview("period=last-month").await;
    assert_eq!(all["totals"], json!({"all": 10, "model": 8, "dataset": 2}));
    let less = overview("period=last-month&exclude=ci,bot").await;
    assert_eq!(less["totals"], json!({"all": 7, "model": 6, "dataset": 1}));
    let day = |o: &Value, d: &str| {
        o["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["date"] == d)
            .map(|p| p["downloads"].clone())
    };
    assert_eq!(day(&less, "2024-05-10"), Some(json!(2)));
    assert_eq!(day(&less, "2024-05-11"), Some(json!(0)));
    assert_eq!(day(&less, "2024-05-12"), Some(json!(5)));
    let all_time = overview("period=all-time&exclude=bot").await;
    assert_eq!(
        all_time["totals"],
        json!({"all": 9, "model": 7, "dataset": 2})
    );
    // Nothing left out: the same as without the parameter.
    assert_eq!(overview("period=last-month&exclude=").await, all);

    let res = t
        .app
        .get(&format!("{OVERVIEW}?exclude=ci,robots"), &t.token)
        .await;
    assert_eq!(res.status, 400, "{}", res.text());
    let message = body_json(&res)["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("`exclude`") && message.contains("\"robots\""),
        "{message}"
    );
    // The table and a repository do not take it yet: refused, not ignored.
    for path in ["/repos", "/repos/model/acme/bert"] {
        let url = format!("{OVERVIEW}{path}?exclude=ci");
        let res = t.app.get(&url, &t.token).await;
        assert_eq!(res.status, 400, "{path}: {}", res.text());
        assert!(res.text().contains("`exclude`"), "{}", res.text());
    }
}

/// Checks a GET response of the overview against the OpenAPI document.
async fn assert_documented_get(app: &TestApp, res: &TestResponse) {
    let doc = analytics::json(&app.get("/api/openapi.json", &Auth::None).await);
    let schema = &doc["paths"][OVERVIEW.replace("acme", "{org}")]["get"]["responses"]["200"]
        ["content"]["application/json"]["schema"];
    assert!(!schema.is_null(), "the overview is not documented");
    let errors = validate(&doc, schema, &body_json(res), "$");
    assert!(errors.is_empty(), "{errors:#?}");
    let params = doc["paths"][OVERVIEW.replace("acme", "{org}")]["get"]["parameters"].to_string();
    assert!(params.contains("\"exclude\""), "{params}");
}
