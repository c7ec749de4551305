//! `hubstats demo-logs` through the built binary: the same arguments write the same bytes,
//! every format ingests without an error, and the counts are what the Hub's rules make of the
//! rows (counted here from the `jsonl` log by a brute-force counter of the rules in docs/LOGS.md).

use crate::common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

const TODAY: &str = "2026-11-27";
const DEMO_ORGS: [&str; 4] = [
    "acme-ai",
    "Northwind-Labs",
    "tinker.garage",
    "streamline-ml",
];

/// `hubstats --store <dir>/hubstats.db args...`: its standard output, failing on an error.
fn ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = common::run_hubstats(&dir.join("hubstats.db"), args, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    out.stdout
}

fn generate(dir: &Path, format: &str, rows: &str, seed: &str) -> Vec<u8> {
    let args = [
        "demo-logs",
        "--format",
        format,
        "--rows",
        rows,
        "--seed",
        seed,
        "--days",
        "3",
        "--repos",
        "40",
        "--today",
        TODAY,
    ];
    ok(dir, &args)
}

/// (repoType, repoName, day) → downloads of every organization's export.
fn exported(dir: &Path) -> BTreeMap<(String, String, String), u64> {
    let mut counts = BTreeMap::new();
    for org in DEMO_ORGS {
        let out = common::run_hubstats(&dir.join("hubstats.db"), &["export", "--org", org], "");
        if !out.status.success() {
            continue; // no log row of this organization
        }
        for line in String::from_utf8(out.stdout).unwrap().lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let day = f[3][..10].to_owned();
            counts.insert((f[0].into(), f[1].into(), day), f[4].parse().unwrap());
        }
    }
    counts
}

#[test]
fn the_same_arguments_write_the_same_rows_and_another_seed_other_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for format in ["hf-csv", "jsonl", "nginx"] {
        let first = generate(d, format, "2000", "7");
        assert_eq!(generate(d, format, "2000", "7"), first, "{format}");
        assert_ne!(generate(d, format, "2000", "8"), first, "{format}");
        let header = usize::from(format == "hf-csv");
        assert_eq!(first.split(|&b| b == b'\n').count() - 1, 2000 + header);
    }
    // A day's rows depend on the day, not on the range: the last two days of a 3-day log are
    // the rows of a 2-day log with as many rows per day.
    let three = generate(d, "jsonl", "3000", "7");
    let two = ok(
        d,
        &[
            "demo-logs",
            "--format",
            "jsonl",
            "--rows",
            "2000",
            "--seed",
            "7",
            "--days",
            "2",
            "--repos",
            "40",
            "--today",
            TODAY,
        ],
    );
    assert!(three.ends_with(&two));
}

#[test]
fn every_format_ingests_without_an_error_and_counts_by_the_rules() {
    for format in ["hf-csv", "jsonl", "nginx"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let log = d.join(format!("log.{format}"));
        std::fs::write(&log, generate(d, format, "6000", "3")).unwrap();
        let summary = String::from_utf8(ok(
            d,
            &["ingest", "--format", format, log.to_str().unwrap()],
        ))
        .unwrap();
        assert!(summary.contains(": 6,000 rows: "), "{summary}");
        let skipped: u64 = number_before(&summary, " of Spaces (not counted)");
        assert!(skipped > 0, "{summary}");
        if format == "nginx" {
            assert!(
                number_before(&summary, " not repository files") > 0,
                "{summary}"
            );
        }
        let counts = exported(d);
        let total: u64 = counts.values().sum();
        let days: BTreeSet<&str> = counts.keys().map(|k| k.2.as_str()).collect();
        let types: BTreeSet<&str> = counts.keys().map(|k| k.0.as_str()).collect();
        let repos: BTreeSet<&str> = counts.keys().map(|k| k.1.as_str()).collect();
        assert_eq!(days.len(), 3, "{format}: {days:?}");
        assert_eq!(types.len(), 2, "{format}: {types:?}");
        assert!(repos.len() > 30, "{format}: {} repositories", repos.len());
        // Requests that do not count (206, 404, POST, README, a dataset's burst) are many.
        assert!(total > 600 && total < 5000, "{format}: {total} downloads");
        if format == "jsonl" {
            let text = std::fs::read_to_string(&log).unwrap();
            assert_eq!(counts, brute_force(&text));
        }
    }
}

/// The number just before `marker` in `text`.
fn number_before(text: &str, marker: &str) -> u64 {
    let end = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} in {text}"));
    let start = text[..end].rfind(' ').map_or(0, |i| i + 1);
    text[start..end].replace(',', "").parse().unwrap()
}

/// The rules of docs/LOGS.md, applied to every row of a `jsonl` log: candidates are GET/HEAD with
/// 200, 302, 304 or 307; a model counts root query files and `*.gguf`; a dataset counts one
/// per downloader (user, else address) per 5-minute window.
fn brute_force(jsonl: &str) -> BTreeMap<(String, String, String), u64> {
    let mut counts = BTreeMap::new();
    let mut rows = HashSet::new();
    let mut windows = HashSet::new();
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
        let (kind, path) = (s("repoType"), s("path"));
        let method_ok = ["GET", "HEAD"].contains(&s("method").as_str());
        let status_ok = [200, 302, 304, 307].contains(&v["status"].as_u64().unwrap());
        if kind == "space" || !method_ok || !status_ok || !rows.insert(line.to_owned()) {
            continue;
        }
        let ts = s("timestamp");
        let key = (kind.clone(), s("repoName"), ts[..10].to_owned());
        let counts_it = if kind == "model" {
            let root = [
                "config.json",
                "config.yaml",
                "hyperparams.yaml",
                "params.json",
                "meta.yaml",
            ];
            let file = path.rsplit('/').next().unwrap();
            root.contains(&path.as_str()) || (file.ends_with(".gguf") && file.len() > 5)
        } else {
            let who = match v.get("hashedUserId") {
                Some(u) => format!("u{u}"),
                None => format!("i{}", s("hashedIp")),
            };
            // Minutes and seconds to the window: HH:MM of the timestamp, MM rounded down to 5.
            let minute: u32 = ts[14..16].parse().unwrap();
            let window = format!("{}{:02}", &ts[..14], minute / 5 * 5);
            windows.insert((key.clone(), window, who))
        };
        if counts_it {
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

/// Generated logs carry the clients the shipped user-agent classes know, bots and CI jobs
/// included, so `exclude=bot,ci` has something to leave out.
#[test]
fn generated_clients_fall_into_the_shipped_user_agent_classes() {
    let dir = tempfile::tempdir().unwrap();
    let log = String::from_utf8(generate(dir.path(), "jsonl", "3000", "3")).unwrap();
    let classes = hubstats::ingest::AgentClasses::default();
    let mut seen = BTreeSet::new();
    for line in log.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        seen.insert(classes.classify(event["userAgent"].as_str()).to_owned());
    }
    for class in ["bot", "ci", "other", "transformers", "huggingface_hub"] {
        assert!(seen.contains(class), "no {class} in {seen:?}");
    }
}
