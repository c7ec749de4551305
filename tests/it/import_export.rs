//! `hubstats import` and `hubstats export` through the built binary: byte-exact round trips,
//! canonical ordering, and validation that leaves the store untouched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SEED: &str = include_str!("../data/seed.csv");
const HEADER: &str = "repoType,repoName,total,timestamp,downloads\n";

/// A fresh store in its own directory; commands run there so messages name files relatively.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file into the workspace; returns its name.
    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        name.to_owned()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_hubstats"))
            .current_dir(self.dir.path())
            .env_remove("HUBSTATS_STORE")
            .env_remove("HUBSTATS_CONFIG")
            .args(["--store", "store.db"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail; returns its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "{args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    fn import(&self, name: &str, text: &str) -> String {
        let file = self.write(name, text);
        self.ok(&["import", &file])
    }

    fn export(&self, org: &str) -> String {
        self.ok(&["export", "--org", org])
    }
}

#[test]
fn the_seed_sample_round_trips_byte_for_byte() {
    let ws = Workspace::new();
    let report = ws.import("seed.csv", SEED);
    assert_eq!(
        report,
        "seed.csv: 6 rows, 2 repositories, 1 new organization\n"
    );
    assert_eq!(ws.export("huggingface"), SEED);
    ws.ok(&["export", "--org", "huggingface", "--output", "out.csv"]);
    assert_eq!(std::fs::read_to_string(ws.path("out.csv")).unwrap(), SEED);
}

#[test]
fn reimport_sets_the_same_values() {
    let ws = Workspace::new();
    ws.import("seed.csv", SEED);
    let again = ws.import("seed.csv", SEED);
    assert_eq!(
        again,
        "seed.csv: 6 rows, 2 repositories, 0 new organizations\n"
    );
    assert_eq!(ws.export("huggingface"), SEED);
}

#[test]
fn a_total_below_the_sum_of_days_round_trips() {
    let ws = Workspace::new();
    let csv = format!(
        "{HEADER}model,acme/low,5,2024-01-01T00:00:00.000Z,4\nmodel,acme/low,5,2024-01-02T00:00:00.000Z,9\n"
    );
    ws.import("low.csv", &csv);
    assert_eq!(ws.export("acme"), csv);
}

#[test]
fn export_orders_models_first_then_names_by_bytes_then_days() {
    let ws = Workspace::new();
    let shuffled = format!(
        "{HEADER}\
         dataset,acme/a,3,2024-01-02T00:00:00.000Z,2\n\
         model,acme/a,7,2024-01-02T00:00:00.000Z,3\n\
         model,acme/B,1,2024-01-05T00:00:00.000Z,1\n\
         dataset,acme/a,3,2024-01-01T00:00:00.000Z,1\n\
         model,acme/a,7,2024-01-01T00:00:00.000Z,4\n"
    );
    ws.import("shuffled.csv", &shuffled);
    let expected = format!(
        "{HEADER}\
         model,acme/B,1,2024-01-05T00:00:00.000Z,1\n\
         model,acme/a,7,2024-01-01T00:00:00.000Z,4\n\
         model,acme/a,7,2024-01-02T00:00:00.000Z,3\n\
         dataset,acme/a,3,2024-01-01T00:00:00.000Z,1\n\
         dataset,acme/a,3,2024-01-02T00:00:00.000Z,2\n"
    );
    assert_eq!(ws.export("acme"), expected);
}

#[test]
fn crlf_bom_and_quoted_fields_import_to_the_canonical_form() {
    let ws = Workspace::new();
    let messy = "\u{feff}\"repoType\",repoName,total,timestamp,downloads\r\n\
                 \"model\",\"huggingface/CodeBERTa-small-v1\",\"4362460\",2021-01-22T00:00:00Z,4\r\n\
                 model,huggingface/CodeBERTa-small-v1,4362460,\"2021-01-23T00:00:00.000Z\",\"7\"\r\n\
                 model,huggingface/CodeBERTa-small-v1,4362460,2021-01-24T00:00:00.000Z,2\r\n\
                 dataset,huggingface/documentation-images,2167284,2021-11-27T00:00:00.000Z,3\r\n\
                 dataset,huggingface/documentation-images,2167284,2021-11-28T00:00:00.000Z,18\r\n\
                 dataset,huggingface/documentation-images,2167284,2021-11-29T00:00:00.000Z,7\r\n";
    ws.import("messy.csv", messy);
    assert_eq!(ws.export("huggingface"), SEED);
    // Without its last line end, the file may be cut short (`7` of `72`): refused.
    let cut = ws.write("cut.csv", messy.replace("\r\n", "\n").trim_end());
    let stderr = ws.fails(&["import", &cut]);
    assert!(
        stderr.contains("cut.csv, line 7: no line end") && stderr.contains("may be cut short"),
        "{stderr}"
    );
}

#[test]
fn days_without_downloads_are_not_exported_but_keep_the_total() {
    let ws = Workspace::new();
    ws.import(
        "zero.csv",
        &format!("{HEADER}model,acme/z,10,2024-01-01T00:00:00.000Z,0\nmodel,acme/z,10,2024-01-02T00:00:00.000Z,3\n"),
    );
    assert_eq!(
        ws.export("acme"),
        format!("{HEADER}model,acme/z,10,2024-01-02T00:00:00.000Z,3\n")
    );
}

/// Each invalid file is rejected with a message naming file, line and field, and stores nothing.
#[test]
fn every_invalid_file_is_rejected_and_changes_nothing() {
    let row = |r: &str| {
        format!("{HEADER}model,huggingface/CodeBERTa-small-v1,4362460,2021-01-22T00:00:00.000Z,4\n{r}\n")
    };
    let cases = [
        ("wrong_header", "repoType,repoName,total,date,downloads\nmodel,acme/x,1,2024-01-01T00:00:00.000Z,1\n".into()),
        ("empty_file", String::new()),
        ("bad_type", row("space,acme/x,1,2024-01-01T00:00:00.000Z,1")),
        ("bad_name", row("model,acme/x y,1,2024-01-01T00:00:00.000Z,1")),
        ("name_without_org", row("model,x,1,2024-01-01T00:00:00.000Z,1")),
        ("not_midnight", row("model,acme/x,1,2024-01-01T13:00:00.000Z,1")),
        ("not_utc", row("model,acme/x,1,2024-01-01T00:00:00.000+02:00,1")),
        ("date_only", row("model,acme/x,1,2024-01-01,1")),
        ("negative_downloads", row("model,acme/x,1,2024-01-01T00:00:00.000Z,-1")),
        ("decimal_total", row("model,acme/x,1.5,2024-01-01T00:00:00.000Z,1")),
        ("empty_downloads", row("model,acme/x,1,2024-01-01T00:00:00.000Z,")),
        ("missing_field", row("model,acme/x,1,2024-01-01T00:00:00.000Z")),
        (
            "inconsistent_total",
            row("model,acme/x,5,2024-01-01T00:00:00.000Z,1\nmodel,acme/x,6,2024-01-02T00:00:00.000Z,1"),
        ),
        (
            "duplicate_day",
            row("model,acme/x,5,2024-01-01T00:00:00.000Z,1\nmodel,acme/x,5,2024-01-01T00:00:00Z,2"),
        ),
        (
            "duplicate_day_out_of_order",
            row("model,acme/x,5,2024-01-03T00:00:00.000Z,1\nmodel,acme/x,5,2024-01-01T00:00:00.000Z,1\nmodel,acme/x,5,2024-01-03T00:00:00.000Z,2"),
        ),
    ];
    let ws = Workspace::new();
    ws.import("seed.csv", SEED);
    for (name, csv) in cases {
        let file = ws.write(&format!("{name}.csv"), &csv);
        let stderr = ws.fails(&["import", &file]);
        insta::assert_snapshot!(name, stderr);
        assert_eq!(ws.export("huggingface"), SEED, "{name} changed huggingface");
        assert!(
            ws.fails(&["export", "--org", "acme"]).contains("acme"),
            "{name} created acme"
        );
    }
}

#[test]
fn earlier_files_of_a_failed_import_stay_imported() {
    let ws = Workspace::new();
    let good = ws.write("good.csv", SEED);
    let bad = ws.write(
        "bad.csv",
        &format!("{HEADER}model,acme/x,1,2024-01-01T00:00:00.000Z,-1\n"),
    );
    let out = ws.run(&["import", &good, &bad]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "good.csv: 6 rows, 2 repositories, 1 new organization\n"
    );
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
    assert_eq!(ws.export("huggingface"), SEED);
}

#[test]
fn exporting_an_unknown_organization_fails_without_output() {
    let ws = Workspace::new();
    ws.import("seed.csv", SEED);
    let out = ws.run(&["export", "--org", "nobody", "--output", "nobody.csv"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown organization nobody"), "{stderr}");
    assert!(!Path::new(&ws.path("nobody.csv")).exists());
    let out = ws.run(&["export", "--org", "nobody"]);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(ws
        .fails(&["export", "--org", "not an org"])
        .contains("--org"));
}

#[test]
fn a_missing_file_is_named() {
    let ws = Workspace::new();
    let stderr = ws.fails(&["import", "missing.csv"]);
    assert!(
        stderr.contains("missing.csv") && stderr.contains("cannot read"),
        "{stderr}"
    );
}

/// `hubstats export --org X | head` must not report an error when `head` stops reading.
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    let ws = Workspace::new();
    let mut csv = String::from(HEADER);
    for d in 1..=28 {
        for r in 0..800 {
            csv.push_str(&format!(
                "model,acme/repo-{r:03},9999,2024-02-{d:02}T00:00:00.000Z,{d}\n"
            ));
        }
    }
    ws.import("big.csv", &csv);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hubstats"))
        .current_dir(ws.dir.path())
        .args(["--store", "store.db", "export", "--org", "acme"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        csv.len() > 1 << 20,
        "the export must outgrow the pipe buffer"
    );
}
