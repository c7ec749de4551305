//! Counts past the largest the product accepts (2^53 − 1), sums that would pass it, and
//! oversized or broken lines: refused through the CLI with file, line and field, and nothing
//! of the file stored.

use crate::common;
use std::path::{Path, PathBuf};

use std::process::Output;

const HEADER: &str = "repoType,repoName,total,timestamp,downloads";
const MAX: u64 = (1 << 53) - 1;

struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new() -> Self {
        Store {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        common::run_hubstats(&self.dir.path().join("hubstats.db"), args, "")
    }

    fn file(&self, name: &str, rows: &[String]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
        path
    }

    /// Imports `path`, which must be refused; returns the error.
    fn refused(&self, path: &Path) -> String {
        let out = self.run(&["import", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{path:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn imported(&self, path: &Path) {
        let out = self.run(&["import", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{path:?} was refused: {err}");
    }

    fn export(&self, org: &str) -> String {
        let out = self.run(&["export", "--org", org]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn row(name: &str, total: u64, day: &str, downloads: u64) -> String {
    format!("model,{name},{total},{day}T00:00:00.000Z,{downloads}")
}

// Two rows of i64::MAX used to import, and every page of the organization answered 500.
#[test]
fn a_count_past_the_maximum_is_refused_by_line_and_field() {
    let s = Store::new();
    let f = s.file(
        "big.csv",
        &[row("acme/a", 1, "2024-01-01", 9223372036854775807)],
    );
    let err = s.refused(&f);
    assert!(err.contains("big.csv, line 2: downloads: found 9223372036854775807; expected at most 9007199254740991"), "{err}");
    let listed = String::from_utf8_lossy(&s.run(&["org", "list"]).stdout).into_owned();
    assert!(!listed.contains("acme"), "nothing stored: {listed}");
    assert_eq!(s.export("acme"), "", "no rows of the refused file");
}

#[test]
fn a_repository_whose_days_would_pass_the_maximum_is_refused() {
    let s = Store::new();
    let f = s.file(
        "sum.csv",
        &[
            row("acme/a", MAX, "2024-01-01", MAX),
            row("acme/a", MAX, "2024-01-02", 1),
        ],
    );
    let err = s.refused(&f);
    assert!(
        err.contains(
            "sum.csv, line 3: downloads: model acme/a would have 9007199254740992 downloads in all"
        ),
        "{err}"
    );
}

// A file that is fine alone but would overflow what is stored names its line too.
#[test]
fn a_re_import_that_would_overflow_names_its_line() {
    let s = Store::new();
    let first = s.file(
        "first.csv",
        &[row("acme/a", MAX - 10, "2024-01-01", MAX - 10)],
    );
    s.imported(&first);
    let before = s.export("acme");
    let second = s.file(
        "second.csv",
        &[
            row("acme/b", 1, "2024-01-01", 1),
            row("acme/a", MAX - 10, "2024-01-02", 20),
        ],
    );
    let err = s.refused(&second);
    assert!(
        err.contains("second.csv, line 3: downloads: model acme/a would have"),
        "{err}"
    );
    assert_eq!(
        s.export("acme"),
        before,
        "nothing of the refused file is stored"
    );
}

#[test]
fn an_organization_day_past_the_maximum_is_refused() {
    let s = Store::new();
    let half = MAX / 2 + 1;
    let f = s.file(
        "day.csv",
        &[
            row("acme/a", half, "2024-01-01", half),
            row("acme/b", half, "2024-01-01", half),
        ],
    );
    let err = s.refused(&f);
    assert!(err.contains("day.csv, line 3: downloads: organization acme would have 9007199254740992 downloads on 2024-01-01"), "{err}");
}

// A 1 GB line peaked at 3 GB and was printed whole; lines are now bounded while reading.
#[test]
fn a_huge_line_is_refused_while_reading_and_quoted_briefly() {
    let s = Store::new();
    let long = format!(
        "model,acme/{},1,2024-01-01T00:00:00.000Z,1",
        "x".repeat(200_000)
    );
    let f = s.file("long.csv", &[row("acme/a", 1, "2024-01-01", 1), long]);
    let err = s.refused(&f);
    assert!(
        err.contains("long.csv, line 3: the line is longer than 65536 bytes"),
        "{err}"
    );
    assert!(
        err.len() < 600,
        "the error quotes little of the line: {} bytes",
        err.len()
    );
    let name = format!(
        "model,acme/{},1,2024-01-01T00:00:00.000Z,1",
        "y".repeat(5_000)
    );
    let f = s.file("name.csv", &[name]);
    let err = s.refused(&f);
    assert!(err.contains("line 2: repoName"), "{err}");
    assert!(
        err.len() < 600,
        "a bad value is quoted up to 100 bytes: {err}"
    );
}

// An unterminated quote used to be reported as "found 2 fields".
#[test]
fn an_unterminated_quote_is_named() {
    let s = Store::new();
    let f = s.file(
        "quote.csv",
        &[
            row("acme/a", 1, "2024-01-01", 1),
            "model,\"acme/b,1,2024-01-02T00:00:00.000Z,1".into(),
            row("acme/c", 1, "2024-01-03", 1),
        ],
    );
    let err = s.refused(&f);
    assert!(
        err.contains(
            "quote.csv, line 3: malformed CSV: a quoted field runs past the end of its line"
        ),
        "{err}"
    );
}
