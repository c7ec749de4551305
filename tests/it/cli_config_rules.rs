//! The config file's `rules` through the built binary: `ingest` and `recount` count under
//! them, and `--rules` overrides them for one command.

use crate::common;

use std::path::Path;

fn ok(store: &Path, args: &[&str]) -> String {
    let out = common::run_hubstats(store, args, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ingest_and_recount_follow_the_config_files_rules_unless_given_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = d.join("hubstats.db");
    std::fs::write(d.join("only-302.toml"), "statuses = [302]\n").unwrap();
    std::fs::write(d.join("hub.toml"), "").unwrap();
    let config = d.join("hubstats.toml");
    std::fs::write(&config, "rules = \"only-302.toml\"\n").unwrap();
    let config = config.to_str().unwrap();
    let log = d.join("log.csv");
    std::fs::write(
        &log,
        "timestamp,status,method,repoName,repoType\n\
         2024-05-01T10:00:00Z,200,GET,acme/bert,model\n\
         2024-05-01T10:01:00Z,302,GET,acme/bert,model\n",
    )
    .unwrap();
    let export = || ok(&store, &["export", "--org", "acme"]);
    let row = |n: u32| {
        format!(
            "repoType,repoName,total,timestamp,downloads\n\
             model,acme/bert,{n},2024-05-01T00:00:00.000Z,{n}\n"
        )
    };
    let log = log.to_str().unwrap();
    ok(
        &store,
        &["--config", config, "ingest", "--format", "hf-csv", log],
    );
    assert_eq!(export(), row(1));
    let hub = d.join("hub.toml");
    let hub = hub.to_str().unwrap();
    ok(&store, &["--config", config, "recount", "--rules", hub]);
    assert_eq!(export(), row(2));
    ok(&store, &["--config", config, "recount"]);
    assert_eq!(export(), row(1));
}
