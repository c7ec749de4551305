//! Per-library counting rules through the built binary: `repo set-library`, `repo libraries`,
//! a `library` field in jsonl events and a rules file's `[libraries]`, checked with `export`.

use crate::common;

use std::path::Path;

use crate::common::run_hubstats;

fn ok(store: &Path, args: &[&str]) -> String {
    let out = run_hubstats(store, args, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hubstats {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

fn fails(store: &Path, args: &[&str]) -> String {
    let out = run_hubstats(store, args, "");
    assert!(!out.status.success(), "hubstats {args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

/// A model request for `path` on 2024-05-0`day` (second `second`), naming `library` if given.
fn request(day: u8, second: u8, path: &str, status: u16, library: Option<&str>) -> String {
    let library = library.map_or(String::new(), |l| format!(r#","library":"{l}""#));
    format!(
        r#"{{"timestamp":"2024-05-0{day}T10:00:{second:02}Z","method":"GET","status":{status},"repoType":"model","repoName":"acme/bert","path":"{path}"{library}}}"#
    ) + "\n"
}

/// Two days of a model's requests; the first line names `library` when given.
fn log(library: Option<&str>) -> String {
    [
        request(1, 0, "adapter_config.json", 200, library),
        request(1, 1, "adapter_config.json", 302, None),
        request(1, 2, "config.json", 200, None),
        request(1, 3, "adapter_model.safetensors", 200, None),
        request(2, 0, "adapter_config.json", 200, None),
        request(2, 1, "q4/model.gguf", 200, None),
        request(2, 2, "config.json", 304, None),
    ]
    .concat()
}

fn export(store: &Path) -> String {
    ok(store, &["export", "--org", "acme"])
}

const HEADER: &str = "repoType,repoName,total,timestamp,downloads\n";

#[test]
fn set_library_and_recount_equal_a_fresh_ingest_under_that_library() {
    let work = tempfile::tempdir().unwrap();
    let plain = work.path().join("plain.jsonl");
    let named = work.path().join("named.jsonl");
    std::fs::write(&plain, log(None)).unwrap();
    std::fs::write(&named, log(Some("peft"))).unwrap();

    let a = work.path().join("a.db");
    ok(
        &a,
        &["ingest", "--format", "jsonl", plain.to_str().unwrap()],
    );
    let by_default = export(&a);
    assert_eq!(
        by_default,
        format!(
            "{HEADER}model,acme/bert,3,2024-05-01T00:00:00.000Z,1\n\
             model,acme/bert,3,2024-05-02T00:00:00.000Z,2\n"
        )
    );
    let out = ok(&a, &["repo", "set-library", "model", "acme/bert", "peft"]);
    assert_eq!(
        out,
        "acme/bert: counted under peft (set by hand): path:\"adapter_config.json\"; \
         2 repository-days recounted\n"
    );
    // A repository the store knows nothing of (not yet logged, or misspelt): set, with a
    // warning; one it knows gets none.
    let out = common::run_hubstats(
        &a,
        &["repo", "set-library", "model", "acme/bret", "peft"],
        "",
    );
    assert!(out.status.success());
    let warning = String::from_utf8(out.stderr).unwrap();
    assert!(
        warning.contains("warning: the store has no counts or kept events of acme/bret"),
        "{warning}"
    );
    let out = common::run_hubstats(
        &a,
        &["repo", "set-library", "model", "acme/bert", "peft"],
        "",
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "");
    ok(&a, &["recount"]);
    let under_peft = export(&a);

    let b = work.path().join("b.db");
    ok(
        &b,
        &["ingest", "--format", "jsonl", named.to_str().unwrap()],
    );
    assert_eq!(under_peft, export(&b));
    assert_eq!(
        under_peft,
        format!(
            "{HEADER}model,acme/bert,4,2024-05-01T00:00:00.000Z,2\n\
             model,acme/bert,4,2024-05-02T00:00:00.000Z,2\n"
        )
    );

    // Set by hand wins over the logs; cleared, the logs' library applies again.
    ok(
        &b,
        &["repo", "set-library", "model", "acme/bert", "transformers"],
    );
    assert_eq!(export(&b), by_default);
    let out = ok(
        &b,
        &["repo", "set-library", "model", "acme/bert", "--clear"],
    );
    assert!(
        out.contains("counted under peft (named by its logs)"),
        "{out}"
    );
    assert_eq!(export(&b), under_peft);
    let out = ok(
        &a,
        &["repo", "set-library", "model", "acme/bert", "--clear"],
    );
    assert!(
        out.contains("no library: counted by the default query files"),
        "{out}"
    );
    assert_eq!(export(&a), by_default);
}

#[test]
fn unknown_libraries_and_datasets_are_refused_with_a_way_forward() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("s.db");
    let plain = work.path().join("plain.jsonl");
    std::fs::write(&plain, log(None)).unwrap();
    ok(
        &store,
        &["ingest", "--format", "jsonl", plain.to_str().unwrap()],
    );
    let before = export(&store);
    let err = fails(
        &store,
        &["repo", "set-library", "model", "acme/bert", "pef"],
    );
    assert!(
        err.contains("unknown library \"pef\"") && err.contains("hubstats repo libraries"),
        "{err}"
    );
    let err = fails(
        &store,
        &["repo", "set-library", "dataset", "acme/d", "peft"],
    );
    assert!(err.contains("[possible values: model]"), "{err}");
    let err = fails(&store, &["repo", "set-library", "model", "acme/bert"]);
    assert!(err.contains("<LIBRARY>"), "{err}");
    assert_eq!(export(&store), before);

    // Listing needs no store.
    let list = ok(&work.path().join("none.db"), &["repo", "libraries"]);
    assert!(
        list.contains("peft\tpath:\"adapter_config.json\"\n"),
        "{list}"
    );
    assert!(
        list.contains("transformers\t(the default query files)\n"),
        "{list}"
    );
    assert!(list.contains(
        "open_clip\tpath:\"open_clip_model.safetensors\" OR path:\"model.safetensors\" OR"
    ));
    assert!(!work.path().join("none.db").exists());
}

#[test]
fn recount_under_a_rules_file_with_libraries_equals_a_fresh_ingest_under_it() {
    let work = tempfile::tempdir().unwrap();
    let named = work.path().join("named.jsonl");
    std::fs::write(&named, log(Some("mylib"))).unwrap();
    let rules = work.path().join("rules.toml");
    std::fs::write(
        &rules,
        "statuses = [200, 302]\n\
         [libraries]\n\
         mylib = 'path_extension:\"safetensors\" OR (path_filename:\"config\" AND path_prefix:\"\")'\n",
    )
    .unwrap();
    let (named, rules) = (named.to_str().unwrap(), rules.to_str().unwrap());

    // Without the rules file, mylib is unknown: the default query files count.
    let a = work.path().join("a.db");
    ok(&a, &["ingest", "--format", "jsonl", named]);
    assert_eq!(
        export(&a),
        format!(
            "{HEADER}model,acme/bert,3,2024-05-01T00:00:00.000Z,1\n\
             model,acme/bert,3,2024-05-02T00:00:00.000Z,2\n"
        )
    );
    ok(&a, &["recount", "--rules", rules]);
    let recounted = export(&a);

    let b = work.path().join("b.db");
    ok(
        &b,
        &["ingest", "--format", "jsonl", "--rules", rules, named],
    );
    assert_eq!(recounted, export(&b));
    assert_eq!(
        recounted,
        format!(
            "{HEADER}model,acme/bert,3,2024-05-01T00:00:00.000Z,2\n\
             model,acme/bert,3,2024-05-02T00:00:00.000Z,1\n"
        )
    );
    assert!(ok(&a, &["repo", "libraries", "--rules", rules]).contains("mylib\tpath_extension"));

    let bad = work.path().join("bad.toml");
    std::fs::write(&bad, "[libraries]\npeft = 'path:\"x\" OR'\n").unwrap();
    let err = fails(&a, &["recount", "--rules", bad.to_str().unwrap()]);
    assert!(
        err.contains("libraries.peft: at character 12: expected a field"),
        "{err}"
    );
}
