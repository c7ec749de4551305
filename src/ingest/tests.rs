//! Ingest through `ingest_reader` into a real (temporary) store: counting, exactly-once, and
//! all-or-nothing files.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::domain::{OrgName, RepoType};
use crate::store::{Counts, DailyFilter, Stores};

/// The store's daily downloads of `acme`, as (type, name, day, downloads).
fn daily(store: &Stores) -> Vec<(RepoType, String, i32, u64)> {
    let mut rows = Vec::new();
    let org = OrgName::parse("acme").unwrap();
    store
        .for_each_daily(&org, DailyFilter::default(), &mut |r| {
            rows.push((
                r.repo_type,
                r.repo_name.to_owned(),
                r.day.epoch_days(),
                r.downloads,
            ));
            Ok(())
        })
        .unwrap();
    rows
}

fn ingest(
    store: &Stores,
    name: &str,
    text: &str,
    format: Format,
) -> Result<IngestReport, IngestError> {
    ingest_reader(
        store,
        name,
        text.as_bytes(),
        format,
        &Rules::default(),
        &mut |_| {},
    )
}

const HEADER: &str = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp";

#[test]
fn hf_csv_counts_models_per_request_and_datasets_per_window() {
    let store = Stores::memory().unwrap();
    let csv = format!(
        "{HEADER}\n\
         2024-05-01T10:00:00Z,200,GET,acme/m,model,u,\n\
         2024-05-01T10:00:01Z,200,GET,acme/m,model,u,\n\
         2024-05-01T10:00:02Z,206,GET,acme/m,model,u,\n\
         2024-05-01T10:00:00Z,200,GET,acme/d,dataset,u,\n\
         2024-05-01T10:04:59Z,302,HEAD,acme/d,dataset,u,\n\
         2024-05-01T10:05:00Z,200,GET,acme/d,dataset,u,\n\
         2024-05-01T23:59:00-01:00,200,GET,acme/d,dataset,,ip\n\
         2024-05-01T10:00:00Z,200,GET,acme/s,space,u,\n"
    );
    let report = ingest(&store, "a.csv", &csv, Format::HfCsv).unwrap();
    assert_eq!((report.rows, report.counted, report.skipped), (8, 7, 1));
    assert_eq!(report.orgs_created, 1);
    let d = |y, m, dd| crate::domain::Day::from_ymd(y, m, dd).unwrap().epoch_days();
    assert_eq!(
        daily(&store),
        vec![
            (RepoType::Model, "acme/m".into(), d(2024, 5, 1), 2),
            (RepoType::Dataset, "acme/d".into(), d(2024, 5, 1), 2),
            (RepoType::Dataset, "acme/d".into(), d(2024, 5, 2), 1),
        ]
    );
    let again = ingest(&store, "copy.csv", &csv, Format::HfCsv).unwrap();
    assert!(again.duplicate);
    assert_eq!(daily(&store).len(), 3);
}

#[test]
fn a_bad_row_stores_nothing_of_its_file() {
    let store = Stores::memory().unwrap();
    let csv = format!(
        "{HEADER}\n\
         2024-05-01T10:00:00Z,200,GET,acme/m,model,u,\n\
         2024-05-01T10:00:00Z,200,GET,acme/m,modle,u,\n"
    );
    let e = ingest(&store, "bad.csv", &csv, Format::HfCsv).unwrap_err();
    assert!(
        e.to_string().starts_with("bad.csv, line 3: field repoType"),
        "{e}"
    );
    assert!(daily(&store).is_empty());
    // The good rows alone are counted later, as new events.
    let good: String = csv.lines().take(2).map(|l| format!("{l}\n")).collect();
    let report = ingest(&store, "good.csv", &good, Format::HfCsv).unwrap();
    assert_eq!(report.new_events, 1);
    assert_eq!(daily(&store).len(), 1);
}

#[test]
fn a_dataset_window_split_across_files_counts_once() {
    let store = Stores::memory().unwrap();
    let line = |t: &str| {
        format!(
            r#"{{"timestamp":"2024-05-01T10:0{t}Z","method":"GET","status":200,"repoType":"dataset","repoName":"acme/d","hashedUserId":"u"}}"#
        )
    };
    ingest(&store, "1", &line("1:00"), Format::Jsonl).unwrap();
    ingest(&store, "2", &line("2:00"), Format::Jsonl).unwrap();
    assert_eq!(daily(&store)[0].3, 1);
}

#[test]
fn model_paths_count_by_the_default_query_files() {
    let store = Stores::memory().unwrap();
    let text: String = ["config.json", "model.safetensors", "sub/config.json", "x/m.gguf"]
        .iter()
        .map(|p| format!(r#"{{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m","path":"{p}"}}"#) + "\n")
        .collect();
    ingest(&store, "p.jsonl", &text, Format::Jsonl).unwrap();
    assert_eq!(daily(&store)[0].3, 2);
}

#[test]
fn a_file_whose_recount_never_ran_is_completed_by_a_rerun() {
    // As if the process died after the events committed, before the counts did.
    let store = Stores::memory().unwrap();
    let csv = format!("{HEADER}\n2024-05-01T10:00:00Z,200,GET,acme/m,model,u,\n");
    let events = store.log_events().unwrap();
    let mut write = events.add_events().unwrap();
    let mut kept = 0;
    hf_csv::read(csv.as_bytes(), &mut |_, p| {
        if let Parsed::Event(e) = p {
            write.add(&e)?;
            kept += 1;
        }
        Ok(())
    })
    .ok()
    .unwrap();
    write.commit().unwrap();
    assert_eq!(kept, 1);
    assert!(daily(&store).is_empty());
    let report = ingest(&store, "again.csv", &csv, Format::HfCsv).unwrap();
    assert!(!report.duplicate);
    assert_eq!((report.new_events, report.repo_days), (0, 1));
    assert_eq!(daily(&store)[0].3, 1);
}

#[test]
fn a_deleted_organization_comes_back_when_its_file_is_ingested_again() {
    let store = Stores::memory().unwrap();
    let csv = format!(
        "{HEADER}\n2024-05-01T10:00:00Z,200,GET,acme/m,model,u,\n\
         2024-05-01T10:00:00Z,200,GET,zeta/m,model,u,\n"
    );
    ingest(&store, "a.csv", &csv, Format::HfCsv).unwrap();
    let acme = OrgName::parse("acme").unwrap();
    store.remove_org(&acme).unwrap();
    assert!(daily(&store).is_empty());
    let report = ingest(&store, "a.csv", &csv, Format::HfCsv).unwrap();
    assert_eq!((report.duplicate, report.new_events), (false, 1));
    assert_eq!(daily(&store)[0].3, 1);
    let zeta = OrgName::parse("zeta").unwrap();
    assert_eq!(store.repos(&zeta).unwrap()[0].total, 1);
}

// ---- exactly once: any split, order and duplication gives the same store ----

/// A random event, as a JSON line (a small domain, so windows, users and duplicates collide).
fn event_line() -> impl Strategy<Value = String> {
    (
        prop::bool::ANY,
        0..2u8,
        0..(2 * 86_400i64),
        prop::sample::select(vec![
            ("GET", 200),
            ("HEAD", 302),
            ("GET", 206),
            ("GET", 404),
            ("GET", 304),
        ]),
        prop::option::of(prop::sample::select(vec![
            "config.json",
            "a.bin",
            "q/x.gguf",
        ])),
        prop::option::of(0..3u8),
        prop::option::of(0..3u8),
    )
        .prop_map(|(dataset, repo, secs, (method, status), path, user, ip)| {
            let kind = if dataset { "dataset" } else { "model" };
            let at = time::OffsetDateTime::from_unix_timestamp(1_714_521_600 + secs)
                .unwrap()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            let mut o = serde_json::json!({
                "timestamp": at, "method": method, "status": status,
                "repoType": kind, "repoName": format!("acme/r{repo}"),
            });
            if let Some(p) = path {
                o["path"] = p.into();
            }
            if let Some(u) = user {
                o["hashedUserId"] = format!("u{u}").into();
            }
            if let Some(i) = ip {
                o["hashedIp"] = format!("ip{i}").into();
            }
            o.to_string()
        })
}

/// The rules of the product's README, written again as plainly as possible over the distinct
/// events: (type, name, day) → downloads.
fn reference(lines: &[String]) -> BTreeMap<(RepoType, String, i32), u64> {
    let mut counts = BTreeMap::new();
    let mut dataset_seen = HashSet::new();
    let distinct: HashSet<&String> = lines.iter().collect();
    for line in distinct {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
        let at = time::OffsetDateTime::parse(
            &s("timestamp").unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let secs = at.unix_timestamp();
        let day = secs.div_euclid(86_400) as i32;
        let status = v["status"].as_u64().unwrap();
        if ![200, 302, 304, 307].contains(&status) {
            continue;
        }
        let name = s("repoName").unwrap();
        if s("repoType").unwrap() == "model" {
            let counts_path = match s("path") {
                None => true,
                Some(p) => p == "config.json" || p.ends_with(".gguf"),
            };
            if counts_path {
                *counts.entry((RepoType::Model, name, day)).or_default() += 1;
            }
        } else {
            let who = s("hashedUserId")
                .or(s("hashedIp"))
                .unwrap_or_else(|| line.clone());
            if dataset_seen.insert((name.clone(), secs.div_euclid(300), who)) {
                *counts.entry((RepoType::Dataset, name, day)).or_default() += 1;
            }
        }
    }
    counts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn counts_depend_only_on_the_set_of_events(
        lines in prop::collection::vec(event_line(), 1..60),
        cuts in prop::collection::vec(0..60usize, 0..4),
        order_seed in any::<u64>(),
        twice in any::<prop::sample::Index>(),
    ) {
        let whole = Stores::memory().unwrap();
        ingest(&whole, "all", &(lines.join("\n") + "\n"), Format::Jsonl).unwrap();
        let expected = daily(&whole);
        let reference: Vec<_> = reference(&lines)
            .into_iter()
            .map(|((t, n, d), c)| (t, n, d, c))
            .collect();
        let mut sorted = expected.clone();
        sorted.sort();
        let mut reference_sorted = reference;
        reference_sorted.sort();
        prop_assert_eq!(&sorted, &reference_sorted);

        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (lines.len() + 1)).collect();
        bounds.extend([0, lines.len()]);
        bounds.sort();
        let mut parts: Vec<String> = bounds
            .windows(2)
            .filter(|w| w[0] < w[1])
            .map(|w| lines[w[0]..w[1]].join("\n"))
            .collect();
        parts.push(parts[twice.index(parts.len())].clone());
        let n = parts.len();
        parts.rotate_left((order_seed as usize) % n);
        if order_seed & 1 == 1 {
            parts.reverse();
        }
        let split = Stores::memory().unwrap();
        for (i, part) in parts.iter().enumerate() {
            ingest(&split, &format!("part{i}"), part, Format::Jsonl).unwrap();
        }
        prop_assert_eq!(daily(&split), expected);
    }
}

// `--format nginx` was listed in --help but refused by the parser.
#[test]
fn every_format_name_parses_back() {
    for name in Format::NAMES {
        assert_eq!(name.parse::<Format>().unwrap().as_str(), name);
    }
}

// ---- robustness: any bytes, in any format, never panic; a refused file stores nothing ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_input_never_panics_and_a_refused_file_stores_nothing(
        body in prop::collection::vec(any::<u8>(), 0..400),
        format in prop::sample::select(vec![Format::HfCsv, Format::Jsonl, Format::Nginx]),
    ) {
        let store = Stores::memory().unwrap();
        let mut input = match format {
            Format::HfCsv => format!("{HEADER}\n").into_bytes(),
            Format::Jsonl | Format::Nginx => Vec::new(),
        };
        input.extend(&body);
        let result = ingest_reader(&store, "x", &input[..], format, &Rules::default(), &mut |_| {});
        if result.is_err() {
            prop_assert!(daily(&store).is_empty());
            let mut any_event = false;
            store.log_events().unwrap().event_days(None, None, &mut |_, _| {
                any_event = true;
                Ok(())
            }).unwrap();
            prop_assert!(!any_event);
        }
    }
}
