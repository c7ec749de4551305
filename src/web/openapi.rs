//! `GET /api/openapi.json`: the OpenAPI 3.1 description of the JSON API, written by hand next
//! to the views it describes (`super::api`). Schemas forbid undocumented properties, and a
//! test validates real responses against them, so the document cannot drift from the code.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::AppState;
use crate::analytics::MAX_PER_PAGE;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

async fn openapi_json() -> impl IntoResponse {
    static BODY: OnceLock<String> = OnceLock::new();
    let body = BODY.get_or_init(|| document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn path(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn period_params() -> Vec<Value> {
    vec![
        query(
            "period",
            "All Time (default), Last Month (the 30 days ending on the reference day), the last 7, 90 or 365 days, or a custom range.",
            json!({ "type": "string", "enum": ["all-time", "last-month", "7d", "90d", "365d", "custom"], "default": "all-time" }),
        ),
        query("from", "First day of a custom period (inclusive).", json!({ "type": "string", "format": "date" })),
        query("to", "Last day of a custom period (inclusive). A day after the reference day is clipped to it (the response's `period.to`); a `from` after the reference day is a 400.", json!({ "type": "string", "format": "date" })),
    ]
}

fn table_params() -> Vec<Value> {
    vec![
        query(
            "q",
            "Case-insensitive substring of the repository name (`org/name`).",
            json!({ "type": "string" }),
        ),
        query(
            "type",
            "Only models or only datasets.",
            json!({ "type": "string", "enum": ["model", "dataset"] }),
        ),
        query(
            "sort",
            "Sort column; ties break by type (models first), then name.",
            json!({ "type": "string", "enum": ["downloads", "name", "total", "change"], "default": "downloads" }),
        ),
        query(
            "order",
            "Sort order; `asc` by default for `name`, `desc` otherwise.",
            json!({ "type": "string", "enum": ["asc", "desc"] }),
        ),
        query(
            "page",
            "1-based page number.",
            json!({ "type": "integer", "minimum": 1, "default": 1 }),
        ),
        query(
            "per_page",
            "Rows per page.",
            json!({ "type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 50 }),
        ),
    ]
}

fn responses(schema: &str, what: &str) -> Value {
    let error = json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let with = |description: &str| {
        let mut e = error.clone();
        e["description"] = json!(description);
        e
    };
    json!({
        "200": { "description": what, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } },
        "400": with("A query parameter is invalid; the message names it."),
        "401": with("No valid credentials (Bearer token or session)."),
        "403": with("Not a member of the organization, or the organization's plan has no analytics."),
        "404": with("No such organization or repository."),
    })
}

fn operation(id: &str, summary: &str, params: Vec<Value>, schema: &str, what: &str) -> Value {
    json!({ "get": { "operationId": id, "summary": summary, "parameters": params, "responses": responses(schema, what) } })
}

fn nullable(schema: Value) -> Value {
    let mut s = schema;
    let t = s["type"].clone();
    s["type"] = json!([t, "null"]);
    s
}

fn schemas() -> Value {
    let date = json!({ "type": "string", "format": "date" });
    let count = json!({ "type": "integer", "minimum": 0 });
    let repo_type = json!({ "type": "string", "enum": ["model", "dataset"] });
    let granularity = json!({ "type": "string", "enum": ["day", "week", "month"] });
    let series =
        json!({ "type": "array", "items": { "$ref": "#/components/schemas/SeriesPoint" } });
    let object = |required: &[&str], properties: Value| json!({ "type": "object", "additionalProperties": false, "required": required, "properties": properties });
    json!({
        "Error": object(&["error"], json!({
            "error": { "type": "string" },
            "request_id": { "type": "string", "description": "On a 5xx: the id under which the server logged the details (also in X-Request-Id)." },
        })),
        "Period": object(&["name", "from", "to"], json!({
            "name": { "type": "string", "enum": ["all-time", "last-month", "7d", "90d", "365d", "custom"] },
            "from": nullable(date.clone()), "to": nullable(date.clone()),
        })),
        "Totals": object(&["all", "model", "dataset"], json!({ "all": count, "model": count, "dataset": count })),
        "SeriesPoint": object(&["date", "downloads"], json!({
            "date": { "type": "string", "format": "date", "description": "First day of the bucket (clipped to the period)." },
            "downloads": count,
        })),
        "Overview": object(&["org", "period", "totals", "previous", "previousComplete", "granularity", "series"], json!({
            "org": { "type": "string" },
            "period": { "$ref": "#/components/schemas/Period" },
            "totals": { "$ref": "#/components/schemas/Totals" },
            "previous": { "oneOf": [{ "$ref": "#/components/schemas/Totals" }, { "type": "null" }], "description": "The period just before, of the same length; null for All Time." },
            "previousComplete": { "type": "boolean", "description": "Whether the organization has data for the whole previous period (it starts on or after the first day with downloads). When false, a change against `previous` compares with part of a period; the dashboard shows none. Always false for All Time." },
            "granularity": granularity,
            "hub": { "$ref": "#/components/schemas/HubOrg" },
            "series": series,
        })),
        "DayRange": object(&["from", "to"], json!({ "from": date, "to": date })),
        "HubOrg": object(&["firstSnapshot", "lastSnapshot", "snapshots", "repositories", "estimated"], json!({
            "firstSnapshot": date, "lastSnapshot": date,
            "snapshots": { "type": "integer", "minimum": 1, "description": "Snapshots of the hub's counters (`hubstats collect`), one a day at most." },
            "repositories": { "type": "integer", "minimum": 0, "description": "Repositories listed in the last snapshot." },
            "estimated": { "type": "array", "items": { "$ref": "#/components/schemas/DayRange" }, "description": "Days between snapshots more than a day apart: the counters' growth is spread evenly over them." },
        })),
        "HubRepo": object(&["firstSnapshot", "lastSnapshot", "counter", "listed", "estimated", "corrections"], json!({
            "firstSnapshot": { "type": "string", "format": "date", "description": "Its counter then is the part of the total before daily history." },
            "lastSnapshot": date,
            "counter": { "type": "integer", "minimum": 0, "description": "The latest all-time counter: the total." },
            "listed": { "type": "boolean", "description": "Whether the organization's last snapshot lists it (else deleted, renamed or made private)." },
            "estimated": { "type": "array", "items": { "$ref": "#/components/schemas/DayRange" } },
            "corrections": { "type": "array", "items": object(&["date", "from", "to"], json!({ "date": date, "from": count, "to": count })), "description": "Snapshots whose counter was below the one before (the hub recounted): those days count nothing." },
        })),
        "RepoRow": object(&["repoType", "repoName", "downloads", "total", "previousDownloads", "previousComplete", "series"], json!({
            "repoType": repo_type,
            "repoName": { "type": "string" },
            "downloads": { "type": "integer", "minimum": 0, "description": "Downloads in the period; for All Time the total." },
            "total": { "type": "integer", "minimum": 0, "description": "All-time downloads, including those counted before daily history." },
            "previousDownloads": nullable(count.clone()),
            "previousComplete": { "type": "boolean", "description": "Whether the repository has data for the whole previous period (its first day with downloads is on or before the previous period's first day); false for All Time." },
            "series": series,
        })),
        "RepoTable": object(&["period", "count", "page", "per_page", "granularity", "repos"], json!({
            "period": { "$ref": "#/components/schemas/Period" },
            "count": { "type": "integer", "minimum": 0, "description": "Repositories matching the search and type filter." },
            "page": { "type": "integer", "minimum": 1 },
            "per_page": { "type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE },
            "granularity": granularity,
            "repos": { "type": "array", "items": { "$ref": "#/components/schemas/RepoRow" } },
        })),
        "IngestBatch": object(&["rows", "counted", "duplicate"], json!({
            "rows": { "type": "integer", "minimum": 0, "description": "Rows read (header and blank lines excluded)." },
            "counted": { "type": "integer", "minimum": 0, "description": "Model and dataset events among them (space rows are read and ignored)." },
            "duplicate": { "type": "boolean", "description": "The batch had been counted under this Idempotency-Key: nothing changed." },
            "expired": { "type": "integer", "minimum": 1, "description": "Events of days before the server's retention (retention_days), read but not kept or counted; present only when there were some, and not repeated in a retry's answer." },
        })),
        "RepoDetail": object(&["repoType", "repoName", "period", "total", "adjustment", "downloads", "previousDownloads", "previousComplete", "firstDay", "lastDay", "granularity", "series"], json!({
            "repoType": repo_type,
            "repoName": { "type": "string" },
            "period": { "$ref": "#/components/schemas/Period" },
            "total": count,
            "adjustment": { "type": "integer", "description": "total minus the sum of daily downloads (downloads counted before daily history; may be negative)." },
            "downloads": count,
            "previousDownloads": nullable(count.clone()),
            "previousComplete": { "type": "boolean", "description": "Whether the repository has data for the whole previous period (its first day with downloads is on or before the previous period's first day); false for All Time." },
            "firstDay": nullable(date.clone()),
            "lastDay": nullable(date),
            "granularity": granularity,
            "hub": { "$ref": "#/components/schemas/HubRepo" },
            "series": series,
        })),
    })
}

/// `POST /api/ingest`: request logs from a log shipper, with an ingest key.
fn ingest_operation() -> Value {
    let error = |description: &str| json!({ "description": description, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let body =
        |description: &str| json!({ "schema": { "type": "string" }, "description": description });
    json!({ "post": {
        "operationId": "ingestBatch",
        "summary": "Count the downloads in one batch of request logs, all or nothing. A retry under the same Idempotency-Key counts nothing and answers `duplicate: true`. The body may be sent with `Content-Encoding: gzip`.",
        "security": [{ "ingestKey": [] }],
        "parameters": [{
            "name": "Idempotency-Key", "in": "header", "required": true,
            "description": "The client's name for this batch (e.g. a UUID): 1 to 128 visible ASCII characters. Send it unchanged when retrying.",
            "schema": { "type": "string", "minLength": 1, "maxLength": crate::ingest::IdempotencyKey::MAX_LEN },
        }],
        "requestBody": { "required": true, "content": {
            "application/x-ndjson": body("`jsonl` events: one JSON object per line (timestamp, method, status, repoType, repoName; optionally path, hashedUserId, hashedIp)."),
            "text/csv": body("Hugging Face's request logs (`hf-csv`): a header naming the columns, then one request per row."),
        } },
        "responses": {
            "200": { "description": "The batch was counted, or had been under this key.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/IngestBatch" } } } },
            "400": error("A bad row (the message names the line and field), a missing or malformed Idempotency-Key, or a gzip body that is not gzip data; nothing was counted."),
            "401": error("No ingest key, or an unknown or revoked one (API tokens are not ingest keys)."),
            "413": error("The body, as sent or decoded from gzip, is larger than ingest_max_body_bytes (32 MiB by default)."),
            "415": error("Another Content-Type than application/x-ndjson or text/csv, or another Content-Encoding than gzip."),
            "422": error("The Idempotency-Key was already used for a batch with other content."),
            "408": error("The body had not arrived when the request timeout (30 s by default) ran out; nothing was counted."),
            "503": error("The store is not answering (Retry-After: 10; a batch cut by the request timeout after its body arrived may have been counted), or the server is receiving as many bodies as it holds at once (Retry-After: 1; nothing was counted). Send the batch again under the same Idempotency-Key."),
        },
    } })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let org = path("org", "Organization name.");
    let mut table = period_params();
    table.extend(table_params());
    let mut detail = period_params();
    detail.push(query(
        "granularity",
        "Bucket width of the series; chosen from the period's length by default.",
        json!({ "type": "string", "enum": ["day", "week", "month"] }),
    ));
    let mut overview = period_params();
    overview.push(query(
        "exclude",
        "User-agent classes to leave out, comma-separated (e.g. `ci,bot`; the rules' classes and `other`). The period's counts are then recomputed from the kept request-log events under the same rules: slower, and only log-counted downloads change (imported counts and days whose events were dropped are kept as they are). An unknown class is a 400.",
        json!({ "type": "string" }),
    ));
    let with = |mut ps: Vec<Value>, extra: Vec<Value>| {
        let mut all = extra;
        all.append(&mut ps);
        all
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "hubstats publisher analytics API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Download analytics of an organization's models and datasets. Authenticate with `Authorization: Bearer <token>` (see `hubstats token create`) or a dashboard session. Days are UTC; `total` includes downloads counted before daily history began.",
        },
        "security": [{ "bearer": [] }],
        "paths": {
            "/api/organizations/{org}/analytics": operation(
                "getOverview", "Totals for a period, the previous period's totals and the organization's chart.",
                with(overview, vec![org.clone()]), "Overview", "The organization's overview."),
            "/api/organizations/{org}/analytics/repos": operation(
                "listRepos", "One page of the per-repository table, each row with its sparkline series.",
                with(table, vec![org.clone()]), "RepoTable", "A page of repositories."),
            "/api/organizations/{org}/analytics/repos/{repoType}/{repoName}": operation(
                "getRepo", "One repository's figures and chart. `repoName` is `org/name` (its `/` may be sent as is or as `%2F`).",
                with(detail, vec![org, path("repoType", "`model` or `dataset`."), path("repoName", "Full name `org/name`.")]),
                "RepoDetail", "The repository."),
            "/api/ingest": ingest_operation(),
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "ingestKey": { "type": "http", "scheme": "bearer", "description": "An ingest key (`hubstats ingest-key create NAME`), not a user's API token." },
            },
            "schemas": schemas(),
        },
    })
}
