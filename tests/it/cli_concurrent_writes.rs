//! Account commands never wait for a count write, and a second writer waits (saying so)
//! instead of failing with "database is locked".

use crate::common;

use std::process::Output;
use std::time::{Duration, Instant};

use hubstats::domain::{Day, RepoKey, RepoName, RepoType};
use hubstats::store::{SourceId, WriteMode};

fn hubstats(store: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    common::run_hubstats(store, args, stdin)
}

// A 64 s import used to make sign-ins answer 500 and `user create` fail with "database is
// locked": accounts now live in their own file, and writers wait for each other.
#[test]
fn accounts_stay_writable_and_a_second_import_waits_during_a_long_import() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hubstats.db");
    let store = hubstats::store::open(path.to_str().unwrap()).unwrap();
    // A long import: a count write held open by this process.
    let mut write = store
        .write(&SourceId::breakdown(), WriteMode::Merge)
        .unwrap();
    let key = RepoKey {
        repo_type: RepoType::Model,
        name: RepoName::parse("acme/held").unwrap(),
    };
    write
        .set(&key, Day::from_ymd(2024, 1, 1).unwrap(), 5)
        .unwrap();

    let started = Instant::now();
    let out = hubstats(
        &path,
        &["user", "create", "alice", "--password-stdin"],
        "a long passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "user create waited for the import"
    );

    let csv = dir.path().join("second.csv");
    std::fs::write(
        &csv,
        "repoType,repoName,total,timestamp,downloads\nmodel,acme/b,3,2024-01-02T00:00:00.000Z,3\n",
    )
    .unwrap();
    let second = {
        let (path, csv) = (path.clone(), csv.clone());
        std::thread::spawn(move || hubstats(&path, &["import", csv.to_str().unwrap()], ""))
    };
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !second.is_finished(),
        "the second import waits for the first"
    );
    write.commit().unwrap();
    let out = second.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("locked by another write"),
        "the wait is reported: {err}"
    );
    let export = hubstats(&path, &["export", "--org", "acme"], "");
    let csv = String::from_utf8_lossy(&export.stdout);
    assert!(
        csv.contains("model,acme/b,3,2024-01-02") && csv.contains("model,acme/held,5,2024-01-01"),
        "{csv}"
    );
}
