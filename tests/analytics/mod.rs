//! Fixtures of the analytics tests: an app with a Team organization `acme` (member `alice`,
//! with a token), data imported from breakdown CSV text, the demo organizations, and a
//! small JSON-schema checker for the OpenAPI document.

use hubstats::breakdown::import::import_reader;
use hubstats::domain::{Day, Plan, Role};

use crate::common::{Auth, TestApp};

/// The reference day the analytics tests pin.
pub const TODAY: &str = "2024-03-01";

/// A small breakdown: adjustments (totals above and below the days), a leap day, a year
/// boundary, an uppercase name, and a second organization that must never show.
pub const SMALL_CSV: &str = "repoType,repoName,total,timestamp,downloads
model,acme/Alpha,1013,2024-02-28T00:00:00.000Z,5
model,acme/Alpha,1013,2024-02-29T00:00:00.000Z,7
model,acme/Alpha,1013,2024-03-01T00:00:00.000Z,1
model,acme/beta,53,2023-12-31T00:00:00.000Z,20
model,acme/beta,53,2024-01-30T00:00:00.000Z,20
model,acme/beta,53,2024-02-29T00:00:00.000Z,13
model,rival/alpha-secret,5000,2024-02-29T00:00:00.000Z,5000
dataset,acme/alpha,4,2024-02-01T00:00:00.000Z,5
dataset,acme/alpha,4,2024-02-29T00:00:00.000Z,1
dataset,acme/gamma,2,2024-01-01T00:00:00.000Z,2
";

pub struct Fixture {
    pub app: TestApp,
    pub auth: Auth,
}

/// An app whose reference day is `today`, with `csv` imported and `acme` on the Team plan.
pub fn fixture_with(today: &str, csv: &str) -> Fixture {
    let today: Day = today.parse().unwrap();
    let app = TestApp::with_config(|c| c.today = Some(today));
    import_reader(
        app.store.as_ref(),
        "fixture.csv",
        csv.as_bytes(),
        &mut |_| {},
    )
    .unwrap();
    let acme = crate::common::org_name("acme");
    match app.store.org(&acme).unwrap() {
        Some(_) => app.store.set_plan(&acme, Plan::Team).unwrap(),
        None => app.org("acme", Plan::Team),
    }
    app.user("alice");
    app.member("acme", "alice", Role::Read);
    let auth = Auth::Bearer(app.token("alice"));
    Fixture { app, auth }
}

pub fn fixture() -> Fixture {
    fixture_with(TODAY, SMALL_CSV)
}

/// The demo data through `today` with `repos` repositories in the large demo organization,
/// whose name is returned with a token of the demo user (an admin of every demo organization).
pub fn demo_fixture(today: &str, repos: usize) -> (Fixture, String) {
    let today: Day = today.parse().unwrap();
    let app = TestApp::with_config(|c| c.today = Some(today));
    let orgs = hubstats::demo::demo_orgs(repos);
    hubstats::demo::fill(app.store.as_ref(), &orgs, today, &mut |_| {}).unwrap();
    let login = hubstats::demo::prepare_login(app.store.as_ref(), &orgs).unwrap();
    let org = orgs[0].name.to_owned();
    (
        Fixture {
            app,
            auth: Auth::Bearer(login.token),
        },
        org,
    )
}

pub fn json(res: &crate::common::TestResponse) -> serde_json::Value {
    assert_eq!(res.status, 200, "{}", res.text());
    serde_json::from_str(&res.text()).unwrap()
}

/// Checks `value` against a schema of the OpenAPI document (the subset it uses: `$ref`, `type`
/// (one or several), `enum`, `format: date`, `minimum`/`maximum`, `properties`, `required`,
/// `additionalProperties: false`, `items`, `oneOf`). Returns every violation with its path.
pub fn validate(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Vec<String> {
    use serde_json::Value;
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return validate(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = options
            .iter()
            .filter(|o| validate(doc, o, value, at).is_empty())
            .count();
        return if passing == 1 {
            vec![]
        } else {
            vec![format!("{at}: matches {passing} of oneOf")]
        };
    }
    let mut errors = Vec::new();
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let type_ok = |t: &str| match t {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    };
    if !types.is_empty() && !types.iter().any(|t| type_ok(t)) {
        return vec![format!("{at}: {value} is not of type {types:?}")];
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} not in {allowed:?}"));
        }
    }
    if schema["format"] == "date" {
        if let Some(s) = value.as_str() {
            if s.parse::<Day>().is_err() {
                errors.push(format!("{at}: {s:?} is not a date"));
            }
        }
    }
    if let (Some(min), Some(v)) = (
        schema.get("minimum").and_then(Value::as_i64),
        value.as_i64(),
    ) {
        if v < min {
            errors.push(format!("{at}: {v} < {min}"));
        }
    }
    if let (Some(max), Some(v)) = (
        schema.get("maximum").and_then(Value::as_i64),
        value.as_i64(),
    ) {
        if v > max {
            errors.push(format!("{at}: {v} > {max}"));
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema["properties"].as_object();
        for req in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(req) {
                errors.push(format!("{at}: missing {req}"));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => errors.extend(validate(doc, s, v, &format!("{at}.{k}"))),
                None if schema["additionalProperties"] == Value::Bool(false) => {
                    errors.push(format!("{at}: undocumented property {k}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            errors.extend(validate(doc, items, v, &format!("{at}[{i}]")));
        }
    }
    errors
}
