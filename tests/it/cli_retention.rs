//! Retention of kept log events through the built binary: `ingest` does not keep events
//! before it, `events prune` drops them, `recount` says which days it could not recount, and
//! no count changes on the way.

use crate::common;

use std::path::Path;

fn ok(store: &Path, args: &[&str]) -> String {
    let out = common::run_hubstats(store, args, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn fails(store: &Path, args: &[&str]) -> String {
    let out = common::run_hubstats(store, args, "");
    assert!(!out.status.success(), "hubstats {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

const HEADER: &str = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp";

fn log(dir: &Path, name: &str, rows: &[&str]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    path.to_string_lossy().into_owned()
}

fn export(store: &Path) -> String {
    ok(store, &["export", "--org", "acme"])
}

/// acme/bert's downloads per day, as exported.
fn days(store: &Path) -> Vec<String> {
    export(store)
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{} {}", &f[3][..10], f[4])
        })
        .collect()
}

#[test]
fn events_before_the_retention_are_not_kept_pruned_or_recounted_and_counts_stay() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("hubstats.db");
    let first = log(
        d,
        "first.csv",
        &[
            "2024-05-01T10:00:00Z,200,GET,acme/bert,model,u1,",
            "2024-05-01T11:00:00Z,200,GET,acme/bert,model,u2,",
            "2024-05-20T11:00:00Z,200,GET,acme/bert,model,u2,",
        ],
    );
    ok(&store, &["ingest", "--format", "hf-csv", &first]);
    assert_eq!(days(&store), ["2024-05-01 2", "2024-05-20 1"]);

    // 15 days ending 2024-05-31: from 2024-05-17 on.
    let retention = ["--today", "2024-05-31", "--retention-days", "15"];
    let late = log(
        d,
        "late.csv",
        &[
            "2024-05-01T12:00:00Z,200,GET,acme/bert,model,u3,",
            "2024-05-25T12:00:00Z,200,GET,acme/bert,model,u3,",
        ],
    );
    let out = ok(
        &store,
        &[&retention[..], &["ingest", "--format", "hf-csv", &late]].concat(),
    );
    assert!(
        out.contains("2 rows: 1 request of models and datasets (events), 0 of Spaces (not counted), 1 before the retention (not kept); 1 new event; 1 repository-day recounted"),
        "{out}"
    );
    assert_eq!(
        days(&store),
        ["2024-05-01 2", "2024-05-20 1", "2024-05-25 1"]
    );

    let err = fails(&store, &["events", "prune"]);
    assert!(err.contains("no retention is set"), "{err}");
    let out = ok(&store, &[&retention[..], &["events", "prune"]].concat());
    assert_eq!(
        out,
        "dropped 2 events of days before 2024-05-17; counts are unchanged\n"
    );
    let before = export(&store);
    // A longer retention later does not bring the horizon back.
    let out = ok(
        &store,
        &[
            "--today",
            "2024-05-31",
            "--retention-days",
            "100",
            "events",
            "prune",
        ],
    );
    assert_eq!(
        out,
        "dropped 0 events of days before 2024-05-17; counts are unchanged\n"
    );

    // Recounting from before the horizon says so and leaves those days' counts alone.
    let out = ok(&store, &["recount", "--from", "2024-05-01"]);
    assert_eq!(
        out,
        "recounted 2 repository-days in 1 organization\n\
         events before 2024-05-17 were dropped (retention): those days keep their counts and \
         were not recounted\n"
    );
    let out = ok(&store, &["recount"]);
    assert!(
        out.contains("events before 2024-05-17 were dropped"),
        "{out}"
    );
    assert_eq!(export(&store), before);
    let out = ok(&store, &["recount", "--from", "2024-05-20"]);
    assert_eq!(out, "recounted 2 repository-days in 1 organization\n");

    // An old file ingested again after the prune adds nothing before the horizon.
    let old = log(
        d,
        "old.csv",
        &["2024-05-02T10:00:00Z,200,GET,acme/bert,model,u9,"],
    );
    let out = ok(&store, &["ingest", "--format", "hf-csv", &old]);
    assert!(
        out.contains("1 before the retention (not kept); 0 new events"),
        "{out}"
    );
    assert_eq!(export(&store), before);
}

#[test]
fn a_retention_of_zero_days_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("hubstats.db");
    let err = fails(&store, &["--retention-days", "0", "events", "prune"]);
    assert!(err.contains("--retention-days"), "{err}");
}

#[test]
fn recount_of_an_unknown_organization_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("hubstats.db");
    let file = log(
        d,
        "a.csv",
        &["2024-05-01T10:00:00Z,200,GET,acme/bert,model,u1,"],
    );
    ok(&store, &["ingest", "--format", "hf-csv", &file]);
    let out = ok(&store, &["recount", "--org", "acme"]);
    assert_eq!(out, "recounted 1 repository-day in 1 organization\n");
    // A misspelt name must not pass for an organization with nothing to recount.
    let err = fails(&store, &["recount", "--org", "acme-typo"]);
    assert!(err.contains("unknown organization acme-typo"), "{err}");
    // An organization that exists but has no kept events recounts nothing, without error.
    ok(&store, &["org", "create", "empty-org"]);
    let out = ok(&store, &["recount", "--org", "empty-org"]);
    assert_eq!(out, "recounted 0 repository-days in 0 organizations\n");
}
