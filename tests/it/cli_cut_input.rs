//! Files cut short (a copy interrupted, a log read while it was written): a CSV whose last
//! record has no line end may have lost the end of its last field, which would still read as
//! a valid value, so `hubstats ingest --format hf-csv` and `hubstats import` refuse it, naming
//! the line, and store nothing of it.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use hubstats::domain::{Day, RepoKey, RepoName, RepoType};

/// Runs `hubstats --store <dir>/hubstats.db args...` in `dir` with `stdin` as standard input.
fn hubstats(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = common::hubstats_command(dir.join("hubstats.db"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin); // the command may exit before reading it
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = hubstats(dir, args, b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args` (reading `stdin`), which must fail; its standard error.
fn refused(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let out = hubstats(dir, args, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !out.status.success(),
        "hubstats {args:?} accepted it: {stdout}"
    );
    stderr
}

/// What a cut file's error says after its name and line.
const NO_LINE_END: &str = "no line end: the text ends inside this line, which may be cut short";

const EXPORT_HEADER: &str = "repoType,repoName,total,timestamp,downloads\n";

/// A dataset's downloads are its downloaders per 5-minute window: the end of a `hashedIp` cut
/// off would be one more downloader, that stays once the whole file is ingested.
#[test]
fn an_hf_csv_file_cut_inside_a_hashed_ip_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let whole = "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp\n\
                 2024-05-01T10:00:00Z,200,GET,acme/data,dataset,,9f86d081884c7d65\n\
                 2024-05-01T10:01:00Z,200,GET,acme/data,dataset,,3c59dc048e885024\n";
    // Cut inside the second address: `3c59dc04`.
    let cut = &whole[..whole.len() - 9];
    assert!(cut.ends_with(",3c59dc04"), "{cut}");
    std::fs::write(d.join("cut.csv"), cut).unwrap();
    std::fs::write(d.join("whole.csv"), whole).unwrap();

    let stderr = refused(d, &["ingest", "--format", "hf-csv", "cut.csv"], b"");
    assert!(
        stderr.contains(&format!("cut.csv, line 3: {NO_LINE_END}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing from cut.csv was counted"),
        "{stderr}"
    );
    // Standard input alike.
    let stderr = refused(d, &["ingest", "--format", "hf-csv", "-"], cut.as_bytes());
    assert!(
        stderr.contains(&format!("-, line 3: {NO_LINE_END}")),
        "{stderr}"
    );

    let out = ok(d, &["ingest", "--format", "hf-csv", "whole.csv"]);
    assert!(
        out.contains("whole.csv: 2 rows: 2 requests of models and datasets"),
        "{out}"
    );
    assert_eq!(
        ok(d, &["export", "--org", "acme"]),
        format!("{EXPORT_HEADER}dataset,acme/data,2,2024-05-01T00:00:00.000Z,2\n")
    );
    // The cut file again, after the whole one: still refused, the counts unchanged.
    refused(d, &["ingest", "--format", "hf-csv", "cut.csv"], b"");
    assert_eq!(
        ok(d, &["export", "--org", "acme"]),
        format!("{EXPORT_HEADER}dataset,acme/data,2,2024-05-01T00:00:00.000Z,2\n")
    );
}

/// A crawler's user-agent cut before `bot` would read as a browser's.
#[test]
fn an_hf_csv_file_cut_inside_a_user_agent_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let header =
        "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,userAgent";
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let whole = format!(
        "{header}\n\
         2024-05-01T10:00:00Z,200,GET,acme/bert,model,,ip1,US,CA,huggingface_hub/0.24\n\
         2024-05-01T10:00:05Z,200,GET,acme/bert,model,,ip2,US,CA,{googlebot}\n"
    );
    let cut = &whole[..whole.find("Googlebot").unwrap() + "Googl".len()];
    assert!(cut.ends_with("Mozilla/5.0 (compatible; Googl"), "{cut}");
    std::fs::write(d.join("cut.csv"), cut).unwrap();
    std::fs::write(d.join("whole.csv"), &whole).unwrap();

    let stderr = refused(d, &["ingest", "--format", "hf-csv", "cut.csv"], b"");
    assert!(
        stderr.contains(&format!("cut.csv, line 3: {NO_LINE_END}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing from cut.csv was counted"),
        "{stderr}"
    );
    // Cut after the last field, before its line end: still refused (nothing tells the two
    // apart), with CRLF line ends too; a CRLF file cut between its `\r` and `\n` is whole.
    let stderr = refused(
        d,
        &["ingest", "--format", "hf-csv", "-"],
        whole.trim_end().as_bytes(),
    );
    assert!(
        stderr.contains(&format!("-, line 3: {NO_LINE_END}")),
        "{stderr}"
    );
    let crlf = whole.replace('\n', "\r\n");
    let stderr = refused(
        d,
        &["ingest", "--format", "hf-csv", "-"],
        crlf.trim_end().as_bytes(),
    );
    assert!(stderr.contains(NO_LINE_END), "{stderr}");
    let out = hubstats(
        d,
        &["ingest", "--format", "hf-csv", "-"],
        crlf.trim_end_matches('\n').as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = ok(d, &["ingest", "--format", "hf-csv", "whole.csv"]);
    assert!(
        out.contains("whole.csv: 2 rows: 2 requests of models and datasets"),
        "{out}"
    );
    let store = hubstats::store::open(d.join("hubstats.db").to_str().unwrap()).unwrap();
    let mut classes = Vec::new();
    let repo = RepoKey {
        repo_type: RepoType::Model,
        name: RepoName::parse("acme/bert").unwrap(),
    };
    store
        .log_events()
        .unwrap()
        .classified_events_of(
            &repo,
            Day::from_ymd(2024, 5, 1).unwrap(),
            &mut |e, class| {
                classes.push((e.ip, class));
                Ok(())
            },
        )
        .unwrap();
    classes.sort();
    assert_eq!(
        classes,
        [
            (Some("ip1".to_owned()), Some("huggingface_hub".to_owned())),
            (Some("ip2".to_owned()), Some("bot".to_owned())),
        ]
    );
}

/// The breakdown CSV's last field is a count: cut, it is a smaller count.
#[test]
fn a_breakdown_csv_cut_inside_its_last_row_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let whole = format!(
        "{EXPORT_HEADER}model,acme/bert,5000,2024-05-01T00:00:00.000Z,1200\n\
         model,acme/bert,5000,2024-05-02T00:00:00.000Z,3800\n"
    );
    let cut = &whole[..whole.len() - 3];
    assert!(cut.ends_with(",38"), "{cut}");
    std::fs::write(d.join("cut.csv"), cut).unwrap();
    std::fs::write(d.join("whole.csv"), &whole).unwrap();

    let stderr = refused(d, &["import", "cut.csv"], b"");
    assert!(
        stderr.contains(&format!("cut.csv, line 3: {NO_LINE_END}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("nothing from cut.csv was stored"),
        "{stderr}"
    );
    let out = ok(d, &["import", "whole.csv"]);
    assert!(out.contains("whole.csv: 2 rows"), "{out}");
    assert_eq!(ok(d, &["export", "--org", "acme"]), whole);
    refused(d, &["import", "cut.csv"], b"");
    assert_eq!(ok(d, &["export", "--org", "acme"]), whole);
}
