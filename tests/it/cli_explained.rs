//! What the commands say, through the built binary: `org list` lines up, and `ingest` into a
//! new store says events and downloads apart and what to do next.

use crate::common;

use std::path::Path;

const TODAY: &str = "2024-05-03";
const HEADER: &str =
    "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,userAgent";

fn ok(store: &Path, args: &[&str], stdin: &str) -> String {
    ok_with_stderr(store, args, stdin).0
}

/// Standard output and standard error of a command that must succeed.
fn ok_with_stderr(store: &Path, args: &[&str], stdin: &str) -> (String, String) {
    let out = common::run_hubstats(store, args, stdin);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
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

// Regression: after `ingest` into a new store the summary said "3 counted" for 1 download,
// "skipped (spaces)", and nothing of the free plan and missing members that make the
// dashboard answer 403.
#[test]
fn ingest_into_a_new_store_says_events_downloads_and_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("hubstats.db");
    let log = dir.path().join("logs.csv");
    // Three requests of one downloader within five minutes: one dataset download.
    std::fs::write(
        &log,
        format!(
            "{HEADER}\n\
             2024-05-01T10:00:00.000Z,200,GET,acme/data,dataset,u1,ip1,FR,IDF,curl/8\n\
             2024-05-01T10:01:00.000Z,200,GET,acme/data,dataset,u1,ip1,FR,IDF,curl/8\n\
             2024-05-01T10:02:00.000Z,200,GET,acme/data,dataset,u1,ip1,FR,IDF,curl/8\n\
             2024-05-01T10:03:00.000Z,200,GET,acme/app,space,u1,ip1,FR,IDF,curl/8\n"
        ),
    )
    .unwrap();
    let log = log.to_str().unwrap();
    let (out, advice) = ok_with_stderr(
        &store,
        &["--today", TODAY, "ingest", "--format", "hf-csv", log],
        "",
    );
    assert!(
        out.contains(&format!(
            "{log}: 4 rows: 3 requests of models and datasets (events), 1 of Spaces (not \
             counted); 3 new events; 1 repository-day recounted: 1 download; 1 new organization"
        )),
        "{out}"
    );
    // What to do next is advice, on standard error: the summary is the output.
    assert!(!out.contains("free plan"), "{out}");
    assert!(
        advice.contains("New organization acme is on the free plan with no members"),
        "{advice}"
    );
    // The commands it prints lead to the dashboard: run them as printed.
    let hubstats = format!("hubstats --store {}", store.display());
    let commands: Vec<Vec<String>> = advice
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(&format!("{hubstats} ")))
        .map(|l| l.split('#').next().unwrap().trim().replace("USER", "ana"))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    let names: Vec<String> = (commands.iter())
        .map(|c| c[..c.len().min(2)].join(" "))
        .collect();
    assert_eq!(
        names,
        ["user create", "member add", "org set-plan", "serve"],
        "{advice}"
    );
    for command in &commands[..3] {
        let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
        if args[..2] == ["user", "create"] {
            args.push("--password-stdin");
        }
        ok(&store, &args, "a password of some length");
    }
    assert!(ok(&store, &["member", "list", "acme"], "").contains("ana"));
    let orgs = ok(&store, &["org", "list"], "");
    let acme: Vec<&str> = orgs.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(acme, ["acme", "team", "1"], "{orgs}");
    // Nothing new the second time: nothing to say.
    let (again, advice) = ok_with_stderr(
        &store,
        &["--today", TODAY, "ingest", "--format", "hf-csv", log],
        "",
    );
    assert!(again.contains("already ingested"), "{again}");
    assert!(!advice.contains("free plan"), "{advice}");
}

// Regression: the documented list of commands (docs/OPERATIONS.md) gave `ingest-key create` (and `list`) twice.
#[test]
fn the_documented_command_list_names_each_command_once() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/OPERATIONS.md"))
            .unwrap();
    let usage = readme.split("COMMAND\n").nth(1).unwrap();
    let usage = &usage[..usage.find("```").unwrap()];
    let mut seen = std::collections::BTreeSet::new();
    for line in usage.lines() {
        // Up to two commands a line, each `name [sub]` followed by its arguments.
        for part in line.split("   ").map(str::trim).filter(|p| !p.is_empty()) {
            let words: Vec<&str> = part.split_whitespace().take(2).collect();
            let sub = words
                .get(1)
                .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            if words[0].starts_with(['(', '['])
                || !words[0].chars().all(|c| c.is_ascii_lowercase() || c == '-')
            {
                continue;
            }
            let name = format!("{} {}", words[0], sub.copied().unwrap_or_default());
            assert!(seen.insert(name.clone()), "{name} listed twice:\n{usage}");
        }
    }
    assert!(seen.contains("ingest-key create"), "{seen:?}");
}
