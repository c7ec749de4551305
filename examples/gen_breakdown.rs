//! Writes a canonical breakdown CSV (the byte-exact export format) of a generated organization
//! to standard output. Deterministic: the same arguments give the same bytes.
//!
//! ```text
//! cargo run --release --example gen_breakdown -- [--rows N] [--repos R] [--org ORG] [--seed S]
//! ```
//! Defaults: 1,000,000 rows, one repository per 400 rows, org `bigorg`, seed 1. Models come
//! first, then datasets; each repository's days end near 2026-11-26 with gaps, and about one
//! repository in ten has a total below the sum of its days.

use std::io::{self, BufWriter, Write};

use hubstats::breakdown::HEADER;
use hubstats::domain::Day;

struct Args {
    rows: u64,
    repos: u64,
    org: String,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rows: 1_000_000,
        repos: 0,
        org: "bigorg".into(),
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--rows" => args.rows = number()?,
            "--repos" => args.repos = number()?,
            "--seed" => args.seed = number()?,
            "--org" => args.org = value.clone(),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.repos == 0 {
        args.repos = args.rows.div_ceil(400).max(1);
    }
    // Days go back from 2026 with gaps; past ~7,000 rows a repository would reach before 2000.
    if args.rows / args.repos > 7_000 {
        return Err("at most 7,000 rows per repository: raise --repos".into());
    }
    Ok(args)
}

/// SplitMix64: tiny, fast and stable across versions (unlike `rand`'s `StdRng`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn main() -> io::Result<()> {
    let args = parse_args().map_err(io::Error::other)?;
    let mut rng = Rng(args.seed);
    let out = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, out.lock());
    writeln!(out, "{HEADER}")?;
    let last_day = Day::from_ymd(2026, 11, 26).ok_or_else(|| io::Error::other("bad end day"))?;
    let models = args.repos.div_ceil(2);
    for i in 0..args.repos {
        // Names in index order are in byte order: zero-padded numbers, models before datasets.
        let (kind, name) = match i < models {
            true => ("model", format!("{}/model-{i:06}", args.org)),
            false => ("dataset", format!("{}/data-{:06}", args.org, i - models)),
        };
        let rows = args.rows / args.repos + u64::from(i < args.rows % args.repos);
        write_repo(&mut out, &mut rng, kind, &name, rows, last_day)?;
    }
    out.flush()
}

fn write_repo(
    out: &mut impl Write,
    rng: &mut Rng,
    kind: &str,
    name: &str,
    rows: u64,
    last_day: Day,
) -> io::Result<()> {
    // Days with a gap now and then, ending up to 60 days before `last_day`.
    let mut days = Vec::with_capacity(rows as usize);
    let mut day = last_day.add_days(-(rng.below(60) as i32));
    for _ in 0..rows {
        days.push(day);
        day = day.add_days(-1 - i32::from(rng.below(4) == 0));
    }
    days.reverse();
    let scale = 1 + rng.below(1000);
    let downloads: Vec<u64> = days.iter().map(|_| 1 + rng.below(scale)).collect();
    let sum: u64 = downloads.iter().sum();
    let total = match rng.below(10) {
        0 => sum / 2,
        _ => sum + rng.below(sum + 1),
    };
    let mut stamp = String::with_capacity(24);
    for (day, n) in days.iter().zip(&downloads) {
        stamp.clear();
        day.write_timestamp(&mut stamp).map_err(io::Error::other)?;
        writeln!(out, "{kind},{name},{total},{stamp},{n}")?;
    }
    Ok(())
}
