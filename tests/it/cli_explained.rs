//! What the commands say, through the built binary: `org list` lines up, and `ingest` into a
//! new store says events and downloads apart and what to do next.

use crate::common;

use std::path::Path;

fn ok(store: &Path, args: &[&str], stdin: &str) -> String {
    let out = common::run_hubstats(store, args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

// Regression: `org list` padded its header to 32 characters, not its rows.
#[test]
fn org_list_lines_up_its_rows_with_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("hubstats.db");
    let long = "a-rather-long-organization-name-of-forty-two";
    for (org, plan) in [("acme", "team"), (long, "enterprise"), ("Zeta", "free")] {
        ok(&store, &["org", "create", org, "--plan", plan], "");
    }
    let list = ok(&store, &["org", "list"], "");
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 4, "{list}");
    let plan_at = lines[0].find("PLAN").unwrap();
    assert!(plan_at > long.len(), "{list}");
    for line in &lines[1..] {
        let plan = line[plan_at..].split_whitespace().next().unwrap();
        assert!(["team", "enterprise", "free"].contains(&plan), "{list}");
        assert_eq!(line.len(), lines[0].len(), "REPOS is aligned right: {list}");
        assert!(line.ends_with(" 0"), "{list}");
    }
}
