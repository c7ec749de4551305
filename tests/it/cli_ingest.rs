//! `hubstats ingest` through the built binary, checked with `hubstats export`.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs `hubstats --store <dir>/hubstats.db args...` in `dir` with `stdin` as standard input.
fn hubstats(dir: &Path, args: &[&str], stdin: &str) -> Output {
    hubstats_bytes(dir, args, stdin.as_bytes())
}

fn hubstats_bytes(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = common::hubstats_command(dir.join("hubstats.db"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = hubstats(dir, args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const OLD_HEADER: &str = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,requestType,isInternal";
const NEW_HEADER: &str =
    "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,userAgent";

#[test]
fn hf_csv_files_in_both_layouts_are_counted_once_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = write(
        d,
        "old.csv",
        &format!(
            "{OLD_HEADER}\n\
             2024-05-01T10:00:00.000Z,200,GET,acme/bert,model,u1,ip1,FR,IDF,file,false\n\
             2024-05-01T10:01:00.000Z,206,GET,acme/bert,model,u1,ip1,FR,IDF,file,false\n\
             2024-05-01T10:02:00.000Z,200,GET,acme/data,dataset,u1,ip1,FR,IDF,file,false\n\
             2024-05-01T10:03:00.000Z,200,GET,acme/app,space,u1,ip1,FR,IDF,file,false\n"
        ),
    );
    // The same dataset window continues in the next file: still one download.
    let new = write(
        d,
        "new.csv",
        &format!(
            "{NEW_HEADER}\n\
             2024-05-01T12:04:00+02:00,302,HEAD,acme/data,dataset,u1,ip2,FR,IDF,hf_hub\n\
             2024-05-02T09:00:00Z,200,GET,acme/bert,model,,ip9,US,CA,curl/8\n"
        ),
    );
    let out = ok(
        d,
        &[
            "ingest",
            "--format",
            "hf-csv",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
        ],
        "",
    );
    assert!(
        out.contains("old.csv: 4 rows: 3 requests of models and datasets (events), 1 of Spaces (not counted); 3 new events"),
        "{out}"
    );
    assert!(out.contains("1 new organization"), "{out}");
    let export = ok(d, &["export", "--org", "acme"], "");
    let expected = "repoType,repoName,total,timestamp,downloads\n\
                    model,acme/bert,2,2024-05-01T00:00:00.000Z,1\n\
                    model,acme/bert,2,2024-05-02T00:00:00.000Z,1\n\
                    dataset,acme/data,1,2024-05-01T00:00:00.000Z,1\n";
    assert_eq!(export, expected);

    // The same bytes again, under another name: nothing changes.
    let copy = write(d, "copy.csv", &std::fs::read_to_string(&old).unwrap());
    let out = ok(
        d,
        &["ingest", "--format", "hf-csv", copy.to_str().unwrap()],
        "",
    );
    assert!(out.contains("already ingested"), "{out}");
    assert_eq!(ok(d, &["export", "--org", "acme"], ""), expected);
    assert!(ok(d, &["org", "list"], "").contains("acme"));
}

#[test]
fn jsonl_from_stdin_adds_to_imported_breakdown_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let breakdown = write(
        d,
        "b.csv",
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,10,2024-05-01T00:00:00.000Z,4\n",
    );
    ok(d, &["import", breakdown.to_str().unwrap()], "");
    let events = [
        r#"{"timestamp":"2024-05-01T10:00:00Z","method":"GET","status":200,"repoType":"model","repoName":"acme/bert","path":"config.json"}"#,
        r#"{"timestamp":"2024-05-01T10:00:01Z","method":"GET","status":200,"repoType":"model","repoName":"acme/bert","path":"model.safetensors"}"#,
        r#"{"timestamp":"2024-05-01T10:00:02Z","method":"GET","status":200,"repoType":"model","repoName":"acme/bert","path":"gguf/q4.gguf"}"#,
    ]
    .join("\n");
    let help = ok(d, &["ingest", "--help"], "");
    assert!(
        help.contains("[possible values: hf-csv, jsonl, nginx]"),
        "{help}"
    );
    let out = ok(d, &["ingest", "--format", "jsonl", "-"], &events);
    assert!(
        out.starts_with("-: 3 rows: 3 requests of models and datasets (events), 0 of Spaces"),
        "{out}"
    );
    assert_eq!(
        ok(d, &["export", "--org", "acme"], ""),
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,12,2024-05-01T00:00:00.000Z,6\n"
    );
}

#[test]
fn a_bad_row_names_file_line_and_field_and_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(
        d,
        "good.csv",
        &format!("{NEW_HEADER}\n2024-05-01T10:00:00Z,200,GET,acme/bert,model,u,,,,\n"),
    );
    let long = "9".repeat(5000);
    let bad = write(
        d,
        "bad.csv",
        &format!(
            "{NEW_HEADER}\n\
             2024-05-01T11:00:00Z,200,GET,acme/bert,model,u,,,,\n\
             2024-05-01T11:00:00Z,{long},GET,acme/bert,model,u,,,,\n"
        ),
    );
    let out = hubstats(
        d,
        &[
            "ingest",
            "--format",
            "hf-csv",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
        "",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.csv, line 3: field status"), "{stderr}");
    assert!(
        stderr.contains("(5000 bytes)") && stderr.len() < 600,
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing from") && stderr.contains("good.csv"),
        "{stderr}"
    );
    assert_eq!(
        ok(d, &["export", "--org", "acme"], ""),
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,1,2024-05-01T00:00:00.000Z,1\n"
    );
}

#[test]
fn an_input_that_cannot_be_read_is_named_as_such_not_as_a_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = d.join("logs");
    std::fs::create_dir(&folder).unwrap();
    for format in ["hf-csv", "jsonl", "nginx"] {
        let out = hubstats(
            d,
            &["ingest", "--format", format, folder.to_str().unwrap()],
            "",
        );
        assert!(!out.status.success(), "{format}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("logs: cannot read the file"),
            "{format}: {stderr}"
        );
        assert!(
            !stderr.contains("line") && !stderr.contains("CSV"),
            "{format}: {stderr}"
        );
    }
}

fn gzip(text: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

/// Rotated logs are compressed: a gzip file (here of two members, as `cat a.gz b.gz` makes)
/// is read as its text, and is the same log as that text uncompressed.
#[test]
fn gzip_files_are_read_as_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let row = |second: u32, user: &str| {
        format!("2024-05-01T10:00:{second:02}Z,200,GET,acme/bert,model,{user},,,,\n")
    };
    let head = format!("{NEW_HEADER}\n{}", row(0, "u1"));
    let tail = (1..40)
        .map(|i| row(i, &format!("u{i}")))
        .collect::<String>();
    let gz = d.join("requests.csv.gz");
    std::fs::write(&gz, [gzip(head.as_bytes()), gzip(tail.as_bytes())].concat()).unwrap();
    let out = ok(
        d,
        &["ingest", "--format", "hf-csv", gz.to_str().unwrap()],
        "",
    );
    assert!(
        out.contains("40 rows: 40 requests of models and datasets"),
        "{out}"
    );
    let counted = "repoType,repoName,total,timestamp,downloads\n\
                   model,acme/bert,40,2024-05-01T00:00:00.000Z,40\n";
    assert_eq!(ok(d, &["export", "--org", "acme"], ""), counted);

    // The same text, uncompressed or from standard input: already ingested.
    let plain = write(d, "requests.csv", &format!("{head}{tail}"));
    let out = ok(
        d,
        &["ingest", "--format", "hf-csv", plain.to_str().unwrap()],
        "",
    );
    assert!(out.contains("already ingested"), "{out}");
    let stdin = gzip(format!("{head}{tail}").as_bytes());
    let out = hubstats_bytes(d, &["ingest", "--format", "hf-csv", "-"], &stdin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("already ingested"));

    // A damaged gzip file is unreadable, and counts nothing.
    let mut damaged = gzip(row(50, "u50").as_bytes());
    let middle = damaged.len() / 2;
    damaged.truncate(middle);
    let bad = d.join("cut.csv.gz");
    std::fs::write(&bad, damaged).unwrap();
    let out = hubstats(
        d,
        &["ingest", "--format", "hf-csv", bad.to_str().unwrap()],
        "",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cut.csv.gz: cannot read the file"),
        "{stderr}"
    );
    assert_eq!(ok(d, &["export", "--org", "acme"], ""), counted);
}

#[test]
fn nginx_logs_count_repository_files_and_skip_other_urls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let line = |addr: &str, user: &str, time: &str, url: &str, status: u16| {
        format!(
            r#"{addr} - {user} [{time} +0000] "GET {url} HTTP/1.1" {status} 1234 "-" "huggingface_hub/0.24""#
        )
    };
    let log = [
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:00:00",
            "/acme/bert/resolve/main/config.json",
            200,
        ),
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:00:01",
            "/acme/bert/resolve/main/model.safetensors",
            200,
        ),
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:00:02",
            "/acme/bert/resolve/v1/gguf/q4.gguf",
            302,
        ),
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:01:00",
            "/datasets/acme/data/resolve/main/train.parquet",
            200,
        ),
        line(
            "198.51.100.8",
            "-",
            "01/May/2024:10:02:00",
            "/datasets/acme/data/resolve/main/test.parquet",
            200,
        ),
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:03:00",
            "/datasets/acme/data/resolve/main/test.parquet",
            200,
        ),
        line(
            "198.51.100.7",
            "bob",
            "01/May/2024:10:03:00",
            "/datasets/acme/data/resolve/main/test.parquet",
            206,
        ),
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:04:00",
            "/spaces/acme/app/resolve/main/app.py",
            200,
        ),
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:04:00",
            "/api/models?author=acme",
            200,
        ),
        line(
            "198.51.100.7",
            "-",
            "01/May/2024:10:04:00",
            "/acme/bert/blob/main/README.md",
            200,
        ),
    ]
    .join("\n");
    let access = write(d, "access.log", &(log.clone() + "\n"));
    let out = ok(
        d,
        &["ingest", "--format", "nginx", access.to_str().unwrap()],
        "",
    );
    assert!(
        out.contains("10 rows: 7 requests of models and datasets (events), 1 of Spaces (not counted), 2 not repository files"),
        "{out}"
    );
    assert_eq!(
        ok(d, &["export", "--org", "acme"], ""),
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,2,2024-05-01T00:00:00.000Z,2\n\
         dataset,acme/data,2,2024-05-01T00:00:00.000Z,2\n"
    );
    // Raw addresses never reach the store file.
    let stored = std::fs::read(d.join("hubstats.db")).unwrap();
    let needle = b"198.51.100.7";
    assert!(!stored.windows(needle.len()).any(|w| w == needle));

    let junk = write(d, "junk.log", &format!("{log}\nGET / HTTP/1.1\n"));
    let out = hubstats(
        d,
        &["ingest", "--format", "nginx", junk.to_str().unwrap()],
        "",
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("junk.log, line 11: field line"), "{stderr}");
}

/// A jsonl log of `n` events over 3 repositories and 20 days.
fn big_log(n: u64) -> String {
    let mut out = String::with_capacity(n as usize * 160);
    for i in 0..n {
        let (kind, repo) = match i % 3 {
            0 => ("model", "acme/bert"),
            1 => ("dataset", "acme/data"),
            _ => ("model", "zeta/llama"),
        };
        let day = 1 + (i * 7 % 20);
        let secs = i * 13 % 86_400;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        out.push_str(&format!(
            r#"{{"timestamp":"2024-05-{day:02}T{h:02}:{m:02}:{s:02}Z","method":"GET","status":200,"repoType":"{kind}","repoName":"{repo}","hashedUserId":"u{}"}}"#,
            i % 97
        ));
        out.push('\n');
    }
    out
}

fn exports(d: &Path) -> String {
    ok(d, &["export", "--org", "acme"], "") + &ok(d, &["export", "--org", "zeta"], "")
}

#[test]
fn an_ingest_killed_at_any_moment_leaves_all_or_nothing_and_a_rerun_completes_it() {
    let work = tempfile::tempdir().unwrap();
    let first = write(work.path(), "first.jsonl", &big_log(300));
    let big = write(work.path(), "big.jsonl", &big_log(30_000));
    let (first, big) = (first.to_str().unwrap(), big.to_str().unwrap());

    let full_dir = tempfile::tempdir().unwrap();
    ok(full_dir.path(), &["ingest", "--format", "jsonl", first], "");
    let before = exports(full_dir.path());
    let started = std::time::Instant::now();
    ok(full_dir.path(), &["ingest", "--format", "jsonl", big], "");
    let took = started.elapsed().as_millis() as u64;
    let full = exports(full_dir.path());
    assert_ne!(before, full);

    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        ok(d, &["ingest", "--format", "jsonl", first], "");
        let mut child = Command::new(env!("CARGO_BIN_EXE_hubstats"))
            .arg("--store")
            .arg(d.join("hubstats.db"))
            .args(["ingest", "--format", "jsonl", big])
            .env_remove("HUBSTATS_STORE")
            .env_remove("HUBSTATS_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(seed % (took + 1)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let after = exports(d);
        assert!(
            after == before || after == full,
            "a partial count:\n{after}"
        );
        ok(d, &["ingest", "--format", "jsonl", big], "");
        assert_eq!(exports(d), full);
    }
}

#[test]
fn recount_under_a_changed_rules_file_equals_a_fresh_ingest_under_it() {
    let work = tempfile::tempdir().unwrap();
    let csv = write(
        work.path(),
        "log.csv",
        &format!(
            "{NEW_HEADER}\n\
             2024-05-01T10:00:00Z,200,GET,acme/bert,model,u,,,,\n\
             2024-05-01T10:00:01Z,302,GET,acme/bert,model,u,,,,\n\
             2024-05-02T10:00:00Z,302,GET,acme/bert,model,u,,,,\n\
             2024-05-02T10:00:00Z,200,GET,acme/data,dataset,u,,,,\n\
             2024-05-02T10:06:00Z,200,GET,acme/data,dataset,u,,,,\n"
        ),
    );
    let rules = write(
        work.path(),
        "rules.toml",
        "statuses = [200]\ndataset_window_secs = 3600\n",
    );
    let (csv, rules) = (csv.to_str().unwrap(), rules.to_str().unwrap());

    let store = tempfile::tempdir().unwrap();
    let d = store.path();
    ok(d, &["ingest", "--format", "hf-csv", csv], "");
    let hub = ok(d, &["export", "--org", "acme"], "");
    assert_eq!(
        hub,
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,3,2024-05-01T00:00:00.000Z,2\n\
         model,acme/bert,3,2024-05-02T00:00:00.000Z,1\n\
         dataset,acme/data,2,2024-05-02T00:00:00.000Z,2\n"
    );
    // From a day on: earlier days keep their counts.
    let out = ok(
        d,
        &["recount", "--rules", rules, "--from", "2024-05-02"],
        "",
    );
    assert_eq!(out, "recounted 2 repository-days in 1 organization\n");
    assert_eq!(
        ok(d, &["export", "--org", "acme"], ""),
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,2,2024-05-01T00:00:00.000Z,2\n\
         dataset,acme/data,1,2024-05-02T00:00:00.000Z,1\n"
    );
    let out = ok(d, &["recount", "--rules", rules], "");
    assert_eq!(out, "recounted 3 repository-days in 1 organization\n");
    let recounted = ok(d, &["export", "--org", "acme"], "");

    let fresh = tempfile::tempdir().unwrap();
    let f = fresh.path();
    ok(
        f,
        &["ingest", "--format", "hf-csv", "--rules", rules, csv],
        "",
    );
    assert_eq!(recounted, ok(f, &["export", "--org", "acme"], ""));
    assert_eq!(
        recounted,
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,1,2024-05-01T00:00:00.000Z,1\n\
         dataset,acme/data,1,2024-05-02T00:00:00.000Z,1\n"
    );
    // And back to the Hub's rules.
    ok(d, &["recount", "--org", "acme"], "");
    assert_eq!(ok(d, &["export", "--org", "acme"], ""), hub);

    let bad = write(work.path(), "bad.toml", "statuses = [42]\n");
    let out = hubstats(d, &["recount", "--rules", bad.to_str().unwrap()], "");
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("statuses: 42"));
}

// Regression: a line dated 2460 was counted, and All Time then answered 400 for the whole
// organization ("a period of 159095 days is too long to chart").
#[test]
fn a_line_dated_after_the_day_after_the_reference_day_refuses_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fn pinned<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [&["--today", "2024-05-31"][..], args].concat()
    }
    let jsonl = |at: &str| {
        format!(
            r#"{{"timestamp":"{at}","method":"GET","status":200,"repoType":"model","repoName":"acme/bert","path":"config.json"}}"#
        )
    };
    let good = write(d, "good.jsonl", &jsonl("2024-05-01T10:00:00Z"));
    ok(
        d,
        &pinned(&["ingest", "--format", "jsonl", good.to_str().unwrap()]),
        "",
    );
    let breakdown = write(
        d,
        "b.csv",
        "repoType,repoName,total,timestamp,downloads\n\
         dataset,acme/data,4,2024-05-01T00:00:00.000Z,4\n",
    );
    ok(d, &pinned(&["import", breakdown.to_str().unwrap()]), "");
    let stored = "repoType,repoName,total,timestamp,downloads\n\
                  model,acme/bert,1,2024-05-01T00:00:00.000Z,1\n\
                  dataset,acme/data,4,2024-05-01T00:00:00.000Z,4\n";
    assert_eq!(ok(d, &["export", "--org", "acme"], ""), stored);

    let nginx = |time: &str| {
        format!(
            r#"198.51.100.7 - - [{time} +0000] "GET /acme/bert/resolve/main/config.json HTTP/1.1" 200 1234 "-" "curl/8""#
        )
    };
    let late = [
        (
            "jsonl",
            "late.jsonl",
            [
                jsonl("2024-05-31T10:00:00Z"),
                jsonl("2024-06-01T23:59:59Z"),
                jsonl("2460-01-01T00:00:00Z"),
            ]
            .join("\n"),
            "late.jsonl, line 3: field timestamp",
            "2460-01-01",
        ),
        (
            "hf-csv",
            "late.csv",
            format!(
                "{NEW_HEADER}\n\
                 2024-06-01T12:00:00Z,200,GET,acme/bert,model,u,,,,\n\
                 2100-01-01T00:00:00Z,200,GET,acme/bert,model,u,,,,\n"
            ),
            "late.csv, line 3: field timestamp",
            "2100-01-01",
        ),
        (
            "nginx",
            "late.log",
            [nginx("01/Jun/2024:23:00:00"), nginx("02/Jun/2024:00:00:00")].join("\n"),
            "late.log, line 2: field time_local",
            "2024-06-02",
        ),
    ];
    for (format, name, text, line, day) in late {
        let file = write(d, name, &text);
        let out = hubstats(
            d,
            &pinned(&["ingest", "--format", format, file.to_str().unwrap()]),
            "",
        );
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{format}: {stderr}");
        assert!(stderr.contains(line), "{format}: {stderr}");
        assert!(
            stderr.contains(day) && stderr.contains("2024-05-31"),
            "{format}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("nothing from {} was counted", file.display())),
            "{format}: {stderr}"
        );
        assert_eq!(ok(d, &["export", "--org", "acme"], ""), stored, "{format}");
    }

    // The breakdown CSV too.
    let late = write(
        d,
        "late-b.csv",
        "repoType,repoName,total,timestamp,downloads\n\
         dataset,acme/data,9,2024-06-01T00:00:00.000Z,4\n\
         dataset,acme/data,9,2024-06-02T00:00:00.000Z,5\n",
    );
    let out = hubstats(d, &pinned(&["import", late.to_str().unwrap()]), "");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("late-b.csv, line 3: timestamp") && stderr.contains("2024-06-02"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing from"), "{stderr}");
    assert_eq!(ok(d, &["export", "--org", "acme"], ""), stored);

    // The day after the reference day is accepted: a clock ahead of the server's.
    let tomorrow = write(d, "tomorrow.jsonl", &jsonl("2024-06-01T23:59:59Z"));
    ok(
        d,
        &pinned(&["ingest", "--format", "jsonl", tomorrow.to_str().unwrap()]),
        "",
    );
    assert_eq!(
        ok(d, &["export", "--org", "acme"], ""),
        "repoType,repoName,total,timestamp,downloads\n\
         model,acme/bert,2,2024-05-01T00:00:00.000Z,1\n\
         model,acme/bert,2,2024-06-01T00:00:00.000Z,1\n\
         dataset,acme/data,4,2024-05-01T00:00:00.000Z,4\n"
    );
}
