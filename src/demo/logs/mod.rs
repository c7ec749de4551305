//! Realistic request logs of the demo's repositories, in any format `hubstats ingest` reads:
//! for the demo's log-fed organization, for benchmarks, and for trying the ingest path.
//!
//! - [`traffic`]: the sessions (who requests what, when, with which answer);
//! - [`render`]: one request as a line of `hf-csv`, `jsonl` or `nginx`.
//!
//! Streaming: requests are drawn one session at a time and written at once, so memory does
//! not grow with the number of rows. Deterministic: each day draws from its own ChaCha8
//! stream, seeded by the seed and the day, so a day's rows depend only on (seed, day, rows
//! that day, repositories) — two logs that share a day share its rows, and ingesting both
//! counts that day once.

pub mod render;
pub mod traffic;

use std::io::{self, Write};

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

use self::render::{mix, Renderer, HF_CSV_HEADER};
use self::traffic::{Catalog, Sessions, MS_PER_DAY};
use super::orgs::DemoRepo;
use crate::domain::{Day, RepoKey};
use crate::ingest::Format;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSpec {
    pub format: Format,
    /// Rows written in all (header excluded), spread evenly over the days.
    pub rows: u64,
    /// Days covered, ending with `through`.
    pub days: u32,
    pub through: Day,
    pub seed: u64,
}

/// Repositories ranked by their demo popularity, most popular first: the order a Zipf law
/// picks them in.
pub fn ranked(repos: &[DemoRepo]) -> Vec<&RepoKey> {
    let mut by_popularity: Vec<&DemoRepo> = repos.iter().collect();
    by_popularity.sort_by(|a, b| b.profile.popularity.total_cmp(&a.profile.popularity));
    by_popularity.into_iter().map(|r| &r.key).collect()
}

/// Writes the log `spec` describes over `repos` (most popular first) to `out`; returns the
/// rows written. Nothing is written for an empty repository list or zero days.
pub fn write_log(spec: &LogSpec, repos: Vec<&RepoKey>, out: &mut dyn Write) -> io::Result<u64> {
    let Some(catalog) = Catalog::new(repos) else {
        return Ok(0);
    };
    let renderer = Renderer {
        format: spec.format,
        seed: spec.seed,
    };
    if spec.format == Format::HfCsv {
        out.write_all(HF_CSV_HEADER.as_bytes())?;
    }
    let days = u64::from(spec.days);
    let mut written = 0;
    for i in 0..days {
        let rows = spec.rows * (i + 1) / days.max(1) - spec.rows * i / days.max(1);
        let day = spec.through.add_days(i as i32 + 1 - spec.days as i32);
        written += write_day(&renderer, &catalog, day, rows, out)?;
    }
    Ok(written)
}

/// Writes `rows` rows of requests on `day`; sessions start evenly through the day.
fn write_day(
    renderer: &Renderer,
    catalog: &Catalog<'_>,
    day: Day,
    rows: u64,
    out: &mut dyn Write,
) -> io::Result<u64> {
    let day_seed = mix(renderer.seed ^ mix(day.epoch_days() as u64) ^ rows.rotate_left(32));
    let mut sessions = Sessions {
        catalog,
        rng: ChaCha8Rng::seed_from_u64(day_seed),
    };
    let start = i64::from(day.epoch_days()) * MS_PER_DAY;
    let last_ms = start + MS_PER_DAY - 1;
    let mut session = Vec::new();
    let mut written = 0;
    while written < rows {
        let offset = (u128::from(written) * MS_PER_DAY as u128 / u128::from(rows)) as i64;
        session.clear();
        sessions.next(start + offset, &mut session);
        for request in &mut session {
            if written == rows {
                break;
            }
            // A session that would run past midnight stays in its day.
            request.at_ms = request.at_ms.min(last_ms);
            if renderer.write(out, request)? {
                written += 1;
            }
        }
    }
    Ok(written)
}
