//! One generated request as a line of each log format. Every value comes from a fixed
//! vocabulary or a valid repository name, so nothing needs quoting or escaping.

use std::io::{self, Write};

use super::traffic::{FilePath, Request, Target, COUNTRIES, MS_PER_DAY};
use crate::domain::{Day, RepoKey, RepoType};
use crate::ingest::Format;

/// The `hf-csv` header: Hugging Face's 2026 layout.
pub const HF_CSV_HEADER: &str =
    "timestamp,status,method,repoName,repoType,hashedUserId,hashedIp,country,region,userAgent\n";

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Writes requests in one format; `seed` makes the downloader ids of one log its own.
pub struct Renderer {
    pub format: Format,
    pub seed: u64,
}

impl Renderer {
    /// Writes `r` as one line; `false` when the format has no line for it (Hugging Face's
    /// logs hold only the model files the Hub counts; only access logs see pages).
    pub fn write(&self, out: &mut dyn Write, r: &Request<'_>) -> io::Result<bool> {
        match (self.format, r.target) {
            (Format::HfCsv | Format::Jsonl, Target::Page(_)) => Ok(false),
            (Format::HfCsv, Target::File(repo, path))
                if repo.repo_type == RepoType::Model && !path.is_model_query_file() =>
            {
                Ok(false)
            }
            (Format::HfCsv, _) => self.hf_csv(out, r).map(|()| true),
            (Format::Jsonl, _) => self.jsonl(out, r).map(|()| true),
            (Format::Nginx, _) => self.nginx(out, r).map(|()| true),
        }
    }

    fn hf_csv(&self, out: &mut dyn Write, r: &Request<'_>) -> io::Result<()> {
        rfc3339(out, r.at_ms)?;
        write!(out, ",{},{},", r.status, r.method)?;
        repo_name(out, r.target)?;
        write!(out, ",{},", type_name(r.target))?;
        if let Some(user) = r.user {
            self.hashed(out, b'u', user)?;
        }
        out.write_all(b",")?;
        self.hashed(out, b'i', r.address)?;
        let (country, region) = COUNTRIES[r.country];
        writeln!(out, ",{country},{region},{}", r.agent)
    }

    fn jsonl(&self, out: &mut dyn Write, r: &Request<'_>) -> io::Result<()> {
        out.write_all(b"{\"timestamp\":\"")?;
        rfc3339(out, r.at_ms)?;
        write!(
            out,
            "\",\"method\":\"{}\",\"status\":{},\"repoType\":\"{}\",\"repoName\":\"",
            r.method,
            r.status,
            type_name(r.target)
        )?;
        repo_name(out, r.target)?;
        out.write_all(b"\",\"path\":\"")?;
        file_path(out, r.target)?;
        if let Some(user) = r.user {
            out.write_all(b"\",\"hashedUserId\":\"")?;
            self.hashed(out, b'u', user)?;
        }
        out.write_all(b"\",\"hashedIp\":\"")?;
        self.hashed(out, b'i', r.address)?;
        let (country, _) = COUNTRIES[r.country];
        writeln!(
            out,
            "\",\"country\":\"{country}\",\"userAgent\":\"{}\"}}",
            r.agent
        )
    }

    /// nginx's `combined` format with Hub-style URLs.
    fn nginx(&self, out: &mut dyn Write, r: &Request<'_>) -> io::Result<()> {
        let x = mix(self.seed ^ 0xADD2 ^ u64::from(r.address));
        let octets = [
            1 + x % 223,
            (x >> 8) % 256,
            (x >> 16) % 256,
            1 + (x >> 24) % 254,
        ];
        write!(
            out,
            "{}.{}.{}.{} - ",
            octets[0], octets[1], octets[2], octets[3]
        )?;
        match r.user {
            Some(user) => write!(out, "user{user}")?,
            None => out.write_all(b"-")?,
        }
        out.write_all(b" [")?;
        time_local(out, r.at_ms)?;
        write!(out, "] \"{} ", r.method)?;
        url(out, r.target)?;
        let bytes = match r.status {
            200 => 16_384,
            206 => 10_485_760,
            302 | 307 => 1_104,
            404 => 15,
            500 => 21,
            _ => 0,
        };
        writeln!(
            out,
            " HTTP/1.1\" {} {bytes} \"-\" \"{}\"",
            r.status, r.agent
        )
    }

    /// A 32-hex-digit id of pool member `index` of `kind` (`u` users, `i` addresses).
    fn hashed(&self, out: &mut dyn Write, kind: u8, index: u32) -> io::Result<()> {
        let a = mix(self.seed ^ (u64::from(kind) << 40) ^ u64::from(index));
        write!(out, "{a:016x}{:016x}", mix(a))
    }
}

fn type_name(target: Target<'_>) -> &'static str {
    match target {
        Target::File(repo, _) | Target::Page(repo) => repo.repo_type.as_str(),
        Target::Space(..) => "space",
    }
}

fn org_of(repo: &RepoKey) -> &str {
    let name = repo.name.as_str();
    name.split_once('/').map_or(name, |(org, _)| org)
}

fn repo_name(out: &mut dyn Write, target: Target<'_>) -> io::Result<()> {
    match target {
        Target::File(repo, _) | Target::Page(repo) => out.write_all(repo.name.as_str().as_bytes()),
        Target::Space(repo, _) => write!(out, "{}/playground", org_of(repo)),
    }
}

fn file_path(out: &mut dyn Write, target: Target<'_>) -> io::Result<()> {
    match target {
        Target::File(_, FilePath::Static(p) | FilePath::Gguf(p)) | Target::Space(_, p) => {
            out.write_all(p.as_bytes())
        }
        Target::File(_, FilePath::Shard { index, of }) => {
            write!(out, "data/train-{index:05}-of-{of:05}.parquet")
        }
        Target::Page(_) => Ok(()),
    }
}

fn url(out: &mut dyn Write, target: Target<'_>) -> io::Result<()> {
    match target {
        Target::Page(repo) => match repo.repo_type {
            RepoType::Model => write!(out, "/api/models/{}", repo.name),
            RepoType::Dataset => write!(out, "/datasets/{}", repo.name),
        },
        Target::Space(..) => {
            out.write_all(b"/spaces/")?;
            repo_name(out, target)?;
            out.write_all(b"/resolve/main/")?;
            file_path(out, target)
        }
        Target::File(repo, _) => {
            if repo.repo_type == RepoType::Dataset {
                out.write_all(b"/datasets")?;
            }
            write!(out, "/{}/resolve/main/", repo.name)?;
            file_path(out, target)
        }
    }
}

/// `2026-11-27T10:00:00.123Z`.
fn rfc3339(out: &mut dyn Write, at_ms: i64) -> io::Result<()> {
    let (date, ms) = split(at_ms);
    let (h, m, s) = clock(ms);
    write!(
        out,
        "{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}.{:03}Z",
        date.year(),
        u8::from(date.month()),
        date.day(),
        ms % 1000
    )
}

/// `27/Nov/2026:10:00:00 +0000`.
fn time_local(out: &mut dyn Write, at_ms: i64) -> io::Result<()> {
    let (date, ms) = split(at_ms);
    let (h, m, s) = clock(ms);
    let month = MONTHS[usize::from(u8::from(date.month())) - 1];
    write!(
        out,
        "{:02}/{month}/{:04}:{h:02}:{m:02}:{s:02} +0000",
        date.day(),
        date.year()
    )
}

/// The UTC date and the milliseconds into it.
fn split(at_ms: i64) -> (time::Date, i64) {
    let day = Day::from_epoch_days(at_ms.div_euclid(MS_PER_DAY) as i32);
    (day.date(), at_ms.rem_euclid(MS_PER_DAY))
}

fn clock(ms: i64) -> (i64, i64, i64) {
    let secs = ms / 1000;
    (secs / 3600, secs / 60 % 60, secs % 60)
}

/// SplitMix64's finalizer: a well-spread, stable hash of a number.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
