//! Ingest through `ingest_reader` into a real (temporary) store: counting, exactly-once, and
//! all-or-nothing files.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::domain::{IngestKeyName, OrgName, RepoType};
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

/// A file ingested before is found by the check that hashes it beside the parse, and a
/// parse stopped by it stores nothing; a file not ingested before is not found, and a check
/// told that the parse is over stops without an answer.
#[test]
fn a_file_ingested_before_is_found_early_and_its_stopped_parse_stores_nothing() {
    let store = Stores::memory().unwrap();
    let events = store.log_events().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..50)
        .map(|i| format!("2024-05-01T10:00:{i:02}Z,200,GET,acme/m,model,u{i},\n"))
        .collect();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, format!("{HEADER}\n{rows}")).unwrap();
    let other = dir.path().join("b.csv");
    std::fs::write(&other, format!("{HEADER}\n{}", &rows[..rows.len() / 2])).unwrap();

    let check = KnownCheck::new();
    assert!(check.run(events, &path, Format::HfCsv).is_none());
    assert!(!check.found.load(Ordering::Relaxed));
    let first = ingest_file(&store, &path, Format::HfCsv, &Rules::default(), &mut |_| {}).unwrap();
    assert!(!first.duplicate);
    assert_eq!((first.rows, first.counted, first.new_events), (50, 50, 50));

    let info = check.run(events, &path, Format::HfCsv).expect("found");
    assert_eq!((info.rows, info.events), (50, 50));
    assert!(check.found.load(Ordering::Relaxed));
    // Under another format, or another text, it is a file not ingested yet.
    assert!(KnownCheck::new()
        .run(events, &path, Format::Jsonl)
        .is_none());
    assert!(KnownCheck::new()
        .run(events, &other, Format::HfCsv)
        .is_none());
    let over = KnownCheck::new();
    over.over.store(true, Ordering::Relaxed);
    assert!(over.run(events, &path, Format::HfCsv).is_none());

    // A parse told to stop ends with the mark of a known file and stores nothing, in every
    // format.
    let before = daily(&store);
    let stopped = AtomicBool::new(true);
    for format in [Format::HfCsv, Format::Jsonl, Format::Nginx] {
        let file = File::open(&other).unwrap();
        let e = read_and_count(
            &store,
            "b.csv",
            file,
            format,
            &Rules::default(),
            DayBounds::default(),
            &mut |_| {},
            Some(&stopped),
        )
        .unwrap_err();
        assert!(
            matches!(&e, IngestError::Open { source, .. } if input::is_known(source)),
            "{format}: {e}"
        );
    }
    assert_eq!(daily(&store), before);
    // Ingested again whole: the recorded figures, nothing changed.
    let again = ingest_file(&store, &path, Format::HfCsv, &Rules::default(), &mut |_| {}).unwrap();
    assert!(again.duplicate);
    assert_eq!((again.rows, again.counted, again.new_events), (50, 50, 0));
    assert_eq!(daily(&store), before);
}

/// A file is recorded with its head (the digest of its text's first MiB), and the check of a
/// new file stops once that much of it showed that no file recorded begins so; a store
/// holding a file recorded without its head (an older one) has the whole file hashed.
#[test]
fn a_new_file_is_hashed_a_second_time_only_to_its_head() {
    use sha2::{Digest, Sha256};
    let store = Stores::memory().unwrap();
    let events = store.log_events().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, first: u32| {
        let rows: String = (first..first + 60_000)
            .map(|i| format!("2024-05-01T10:00:00Z,200,GET,acme/m,model,u{i},\n"))
            .collect();
        let text = format!("{HEADER}\n{rows}");
        assert!(text.len() > 2 * input::HEAD_BYTES);
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        (path, text)
    };
    let (a, a_text) = file("a.csv", 0);
    let (b, _) = file("b.csv", 100_000);
    let ingest = |path| ingest_file(&store, path, Format::HfCsv, &Rules::default(), &mut |_| {});
    ingest(&a).unwrap();
    let digest = |bytes: &[u8]| hex::encode(Sha256::digest(bytes));
    let info = events
        .log_file(&format!("hf-csv:{}", digest(a_text.as_bytes())))
        .unwrap()
        .expect("recorded");
    let head = format!("hf-csv:{}", digest(&a_text.as_bytes()[..input::HEAD_BYTES]));
    assert_eq!(info.head, Some(head));

    let hashed = |path| {
        let check = KnownCheck::new();
        let found = check.run(events, path, Format::HfCsv).is_some();
        (found, check.hashed.load(Ordering::Relaxed))
    };
    let b_len = std::fs::metadata(&b).unwrap().len();
    let (found, bytes) = hashed(&b);
    assert!(!found);
    assert!(bytes < 2 * input::HEAD_BYTES as u64, "{bytes} of {b_len}");
    // A file ingested before is hashed whole and found.
    let a_len = std::fs::metadata(&a).unwrap().len();
    assert_eq!(hashed(&a), (true, a_len));
    // A file recorded without its head might begin as any: every file is hashed whole.
    events.record_log_file("hf-csv:0ld", 1, 1, None).unwrap();
    assert_eq!(hashed(&b), (false, b_len));
    // Under another format, it does not matter.
    let check = KnownCheck::new();
    assert!(check.run(events, &b, Format::Jsonl).is_none());
    assert!(check.hashed.load(Ordering::Relaxed) < b_len);
}

/// `ingest_file` stops the parse of a file ingested before once its check found it: with a
/// parse slowed to 100 ms per 64 KiB (through the progress callback), the read ends long
/// before the file's last byte, where a parse the check does not reach would go on to it
/// (and still report a duplicate, from its own digest).
#[test]
fn ingesting_a_file_again_stops_its_parse_early() {
    let store = Stores::memory().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..20_000)
        .map(|i| {
            format!(
                "2024-05-01T10:{:02}:{:02}Z,200,GET,acme/m{},model,u{i},\n",
                i / 60 % 60,
                i % 60,
                i % 7
            )
        })
        .collect();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, format!("{HEADER}\n{rows}")).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 8 * (1 << 16), "{size} bytes: many progress reports");
    let first = ingest_file(&store, &path, Format::HfCsv, &Rules::default(), &mut |_| {}).unwrap();
    assert_eq!((first.rows, first.duplicate), (20_000, false));
    let before = daily(&store);
    let mut read = 0;
    let mut slow = |bytes: u64| {
        read = bytes;
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let again = ingest_file(&store, &path, Format::HfCsv, &Rules::default(), &mut slow).unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.rows, again.counted, again.new_events),
        (20_000, first.counted, 0)
    );
    assert!(read < size / 2, "the parse read {read} of {size} bytes");
    assert_eq!(daily(&store), before);
}

/// An events write that fails at its `fail_at`th push (a full disk, a lost server).
struct FailingWrite {
    pushed: usize,
    fail_at: usize,
}

impl EventsWrite for FailingWrite {
    fn push(&mut self, _: LogEvent, _: Option<&str>) -> Result<(), StoreError> {
        self.pushed += 1;
        match self.pushed == self.fail_at {
            true => Err(StoreError::Backend("the disk is full".into())),
            false => Ok(()),
        }
    }
    fn name_library(&mut self, _: &RepoKey, _: i64, _: &LibraryName) -> Result<(), StoreError> {
        Ok(())
    }
    fn commit(self: Box<Self>) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// The two threads of a read stop at the first failure, and it is the one reported: a store
/// error stops the parser (whose later bad row is never reached or never reported), a bad row
/// before the store fails is reported as such.
#[test]
fn a_read_reports_its_first_failure_from_either_thread() {
    let rows = 50_000;
    let bad_line = 40_000; // line 1 is the header
    let text: String = std::iter::once(HEADER.to_owned())
        .chain((2..=rows + 1).map(|line| match line == bad_line {
            true => "2024-05-01T10:00:00Z,2x0,GET,acme/m,model,u,".to_owned(),
            false => format!(
                "2024-05-01T10:{:02}:{:02}Z,200,GET,acme/m,model,u{line},",
                line / 60 % 60,
                line % 60
            ),
        }))
        .map(|l| l + "\n")
        .collect();
    let rules = Rules::default();
    let read = |fail_at: usize| {
        let mut write = FailingWrite { pushed: 0, fail_at };
        let tap = Tap::new(text.as_bytes());
        let result = read_events(
            "a.csv",
            tap,
            Format::HfCsv,
            &rules,
            DayBounds::default(),
            &[],
            &mut write,
        );
        (result.map(|_| ()), write.pushed)
    };
    // The store fails first: its error, and the parser stopped (no row error, no more rows).
    let (result, pushed) = read(1_000);
    assert!(
        matches!(&result, Err(IngestError::Store { file, .. }) if file == "a.csv"),
        "{result:?}"
    );
    assert_eq!(pushed, 1_000);
    // The bad row comes first: its line, and nothing after it stored.
    let (result, pushed) = read(45_000);
    assert!(
        matches!(result, Err(IngestError::Invalid { line, .. }) if line == bad_line as u64),
        "{result:?}"
    );
    assert!(pushed < bad_line, "{pushed} rows stored");
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
        if let Parsed::Event(r) = p {
            write.push(r.event, None)?;
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

fn model_request(at: &str, path: &str, library: Option<&str>) -> String {
    let mut o = serde_json::json!({
        "timestamp": at, "method": "GET", "status": 200,
        "repoType": "model", "repoName": "acme/m", "path": path,
    });
    if let Some(l) = library {
        o["library"] = l.into();
    }
    o.to_string() + "\n"
}

#[test]
fn a_library_named_later_recounts_the_earlier_days() {
    let store = Stores::memory().unwrap();
    let day1 = model_request("2024-05-01T10:00:00Z", "adapter_config.json", None)
        + &model_request("2024-05-01T10:00:01Z", "adapter_config.json", None)
        + &model_request("2024-05-01T10:00:02Z", "config.json", None);
    ingest(&store, "1", &day1, Format::Jsonl).unwrap();
    assert_eq!(daily(&store)[0].3, 1);
    let day2 = model_request("2024-05-02T10:00:00Z", "adapter_config.json", Some("peft"));
    let report = ingest(&store, "2", &day2, Format::Jsonl).unwrap();
    assert_eq!(report.repo_days, 2);
    let counts: Vec<u64> = daily(&store).iter().map(|r| r.3).collect();
    assert_eq!(counts, vec![2, 1]);
    // An older naming of another library changes nothing: the latest naming wins.
    let older = model_request("2024-04-30T10:00:00Z", "x.bin", Some("timm"));
    ingest(&store, "3", &older, Format::Jsonl).unwrap();
    let counts: Vec<u64> = daily(&store).iter().map(|r| r.3).collect();
    assert_eq!(counts, vec![2, 1]);
}

#[test]
fn a_library_change_whose_recount_never_ran_is_completed_by_the_next_ingest() {
    let store = Stores::memory().unwrap();
    let day1 = model_request("2024-05-01T10:00:00Z", "adapter_config.json", None);
    ingest(&store, "1", &day1, Format::Jsonl).unwrap();
    assert!(daily(&store).is_empty());
    // As if `repo set-library` died after storing the library, before recounting.
    let repo = RepoKey {
        repo_type: RepoType::Model,
        name: crate::domain::RepoName::parse("acme/m").unwrap(),
    };
    let peft = crate::domain::LibraryName::parse("peft").unwrap();
    let events = store.log_events().unwrap();
    events.set_library(&repo, Some(&peft)).unwrap();
    assert!(daily(&store).is_empty());
    let other = format!("{HEADER}\n2024-06-01T10:00:00Z,200,GET,zeta/x,model,u,\n");
    let report = ingest(&store, "other.csv", &other, Format::HfCsv).unwrap();
    assert_eq!(report.repo_days, 2);
    assert_eq!(daily(&store)[0].3, 1);
    // Counted: no longer marked.
    let mut marked = 0;
    events
        .library_changes(None, &mut |_| {
            marked += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(marked, 0);
}

/// The user-agent classes of the kept events of `org/name` (a model) on 2024-05-01.
fn agent_classes(store: &Stores, repo_type: RepoType, name: &str) -> Vec<(Option<String>, u64)> {
    let repo = RepoKey {
        repo_type,
        name: crate::domain::RepoName::parse(name).unwrap(),
    };
    let day = crate::domain::Day::from_ymd(2024, 5, 1).unwrap();
    let mut out = Vec::new();
    store
        .log_events()
        .unwrap()
        .agent_classes(&repo, day, &mut |class, n| {
            out.push((class, n));
            Ok(())
        })
        .unwrap();
    out
}

fn classes(pairs: &[(&str, u64)]) -> Vec<(Option<String>, u64)> {
    pairs
        .iter()
        .map(|(c, n)| (Some((*c).to_owned()), *n))
        .collect()
}

#[test]
fn each_kept_event_keeps_the_class_of_its_user_agent_in_every_format() {
    let store = Stores::memory().unwrap();
    let csv = format!(
        "{HEADER},userAgent\n\
         2024-05-01T10:00:00Z,200,GET,acme/m,model,u,,transformers/4.44.0; hf_hub/0.24.5\n\
         2024-05-01T10:00:01Z,200,GET,acme/m,model,u,,curl/8.5.0\n\
         2024-05-01T10:00:02Z,200,GET,acme/m,model,u,,\n"
    );
    ingest(&store, "a.csv", &csv, Format::HfCsv).unwrap();
    let nginx = r#"203.0.113.9 - - [01/May/2024:10:00:00 +0000] "GET /acme/m/resolve/main/config.json HTTP/1.1" 200 5 "-" "git-lfs/3.5.1 (GitHub; linux amd64)""#;
    ingest(&store, "access.log", nginx, Format::Nginx).unwrap();
    let jsonl = r#"{"timestamp":"2024-05-01T11:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/m","userAgent":"Mozilla/5.0 (compatible; bingbot/2.0)"}"#;
    ingest(&store, "e.jsonl", jsonl, Format::Jsonl).unwrap();
    assert_eq!(
        agent_classes(&store, RepoType::Model, "acme/m"),
        classes(&[
            ("bot", 1),
            ("curl/wget", 1),
            ("git", 1),
            ("other", 1),
            ("transformers", 1)
        ])
    );
    // Counts include every class.
    assert_eq!(daily(&store)[0].3, 5);
}

#[test]
fn an_event_read_with_two_user_agents_keeps_the_same_class_in_any_order() {
    let line = |agent: &str| {
        format!(
            r#"{{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"dataset","repoName":"acme/d","userAgent":"{agent}"}}"#
        )
    };
    let (a, b) = (line("curl/8"), line("datasets/2.21.0; hf_hub/0.24"));
    for (first, second) in [(&a, &b), (&b, &a)] {
        let store = Stores::memory().unwrap();
        ingest(&store, "1", first, Format::Jsonl).unwrap();
        ingest(&store, "2", second, Format::Jsonl).unwrap();
        assert_eq!(
            agent_classes(&store, RepoType::Dataset, "acme/d"),
            classes(&[("datasets", 1)])
        );
    }
}

// ---- exactly once: any split, order and duplication gives the same store ----

/// A random event, as a JSON line (a small domain, so windows, users, duplicates and library
/// namings collide).
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
            "adapter_config.json",
            "model.safetensors",
            "dist/en_core-3.7-py3-none-any.whl",
        ])),
        (prop::option::of(0..3u8), prop::option::of(0..3u8)),
        prop::option::of(prop::sample::select(vec![
            "peft",
            "timm",
            "spacy",
            "transformers",
        ])),
    )
        .prop_map(
            |(dataset, repo, secs, (method, status), path, (user, ip), library)| {
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
                if let Some(l) = library {
                    o["library"] = l.into();
                }
                o.to_string()
            },
        )
}

/// Whether a request for `path` of a model of `library` counts, by the rules of docs/LOGS.md for the
/// libraries [`event_line`] names.
fn model_file_counts(library: Option<&str>, path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let has_ext = |ext: &str| file.len() > ext.len() + 1 && file.ends_with(&format!(".{ext}"));
    has_ext("gguf")
        || match library {
            Some("peft") => path == "adapter_config.json",
            Some("timm") => path == "pytorch_model.bin" || path == "model.safetensors",
            Some("spacy") => has_ext("whl"),
            _ => path == "config.json",
        }
}

/// The rules of docs/LOGS.md, written again as plainly as possible over the distinct
/// events: (type, name, day) → downloads.
fn reference(lines: &[String]) -> BTreeMap<(RepoType, String, i32), u64> {
    let mut counts = BTreeMap::new();
    let mut dataset_seen = HashSet::new();
    let all: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    // A request is the same whatever library its line names.
    let distinct: Vec<serde_json::Value> = all
        .iter()
        .map(|v| {
            let mut request = v.clone();
            request.as_object_mut().unwrap().remove("library");
            request.to_string()
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .map(|text| serde_json::from_str(&text).unwrap())
        .collect();
    let s = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let secs_of = |v: &serde_json::Value| {
        time::OffsetDateTime::parse(
            &s(v, "timestamp").unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp()
    };
    // A model's library: the one of its latest event naming one (ties: the greatest name).
    let mut libraries: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for v in &all {
        if let (Some("model"), Some(library)) = (s(v, "repoType").as_deref(), s(v, "library")) {
            let naming = (secs_of(v), library);
            let latest = libraries.entry(s(v, "repoName").unwrap()).or_default();
            if naming > *latest {
                *latest = naming;
            }
        }
    }
    for v in &distinct {
        let secs = secs_of(v);
        let day = secs.div_euclid(86_400) as i32;
        let status = v["status"].as_u64().unwrap();
        if ![200, 302, 304, 307].contains(&status) {
            continue;
        }
        let name = s(v, "repoName").unwrap();
        if s(v, "repoType").unwrap() == "model" {
            let library = libraries.get(&name).map(|(_, l)| l.as_str());
            if s(v, "path").is_none_or(|p| model_file_counts(library, &p)) {
                *counts.entry((RepoType::Model, name, day)).or_default() += 1;
            }
        } else {
            let who = s(v, "hashedUserId")
                .or(s(v, "hashedIp"))
                .unwrap_or_else(|| v.to_string());
            if dataset_seen.insert((name.clone(), secs.div_euclid(300), who)) {
                *counts.entry((RepoType::Dataset, name, day)).or_default() += 1;
            }
        }
    }
    counts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Batches over HTTP keep the file rules: split anyhow, sent in any order, one of them
    /// retried under its key, they give the store one file of all the lines gives.
    #[test]
    fn batches_count_like_one_file_whatever_the_retries(
        lines in prop::collection::vec(event_line(), 1..40),
        cuts in prop::collection::vec(0..40usize, 0..4),
        order_seed in any::<u64>(),
        retried in any::<prop::sample::Index>(),
    ) {
        let whole = Stores::memory().unwrap();
        ingest(&whole, "all", &(lines.join("\n") + "\n"), Format::Jsonl).unwrap();
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (lines.len() + 1)).collect();
        bounds.extend([0, lines.len()]);
        bounds.sort();
        let mut batches: Vec<(String, String)> = bounds
            .windows(2)
            .filter(|w| w[0] < w[1])
            .enumerate()
            .map(|(i, w)| (format!("key-{i}"), lines[w[0]..w[1]].join("\n")))
            .collect();
        let retry = batches[retried.index(batches.len())].clone();
        let n = batches.len();
        batches.rotate_left((order_seed as usize) % n);
        batches.push(retry.clone());
        let store = Stores::memory().unwrap();
        let sender = IngestKeyName::parse("shipper").unwrap();
        let mut duplicates = Vec::new();
        for (key, text) in &batches {
            let key = IdempotencyKey::parse(key).unwrap();
            let report =
                ingest_batch(&store, &sender, &key, text.as_bytes(), Format::Jsonl, &Rules::default())
                    .unwrap();
            duplicates.push(report.duplicate);
        }
        let last = duplicates.pop();
        prop_assert_eq!(last, Some(true));
        prop_assert!(duplicates.iter().all(|d| !d));
        prop_assert_eq!(daily(&store), daily(&whole));
        // The retried key with other bytes is refused and changes nothing.
        let key = IdempotencyKey::parse(&retry.0).unwrap();
        let other = format!("{}\n{}", retry.1, lines[0]);
        let refused =
            ingest_batch(&store, &sender, &key, other.as_bytes(), Format::Jsonl, &Rules::default());
        prop_assert!(matches!(refused, Err(BatchError::KeyReused(_))));
        prop_assert_eq!(daily(&store), daily(&whole));
        // Another sender's batch under the same key is its own, and counted.
        let other_sender = IngestKeyName::parse("other-shipper").unwrap();
        let report =
            ingest_batch(&store, &other_sender, &key, other.as_bytes(), Format::Jsonl, &Rules::default())
                .unwrap();
        prop_assert!(!report.duplicate);
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
