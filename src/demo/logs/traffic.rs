//! The traffic model behind generated request logs: who asks for which file of which
//! repository, when, and what the server answered.
//!
//! A day's requests come in *sessions*, each drawn from the day's own random stream:
//! - a person or a library downloading a model: `HEAD config.json`, then a few weight,
//!   tokenizer and README files (GGUF repositories: one `*.gguf` file, sometimes resumed with
//!   `206` ranges); now and then a `404` probe, a `POST` or a `500`;
//! - a dataset download: a *burst* of one downloader fetching many parquet shards within
//!   minutes (which the Hub counts once per 5-minute window);
//! - bots and CI jobs: a few downloaders fetching the same popular repositories all day;
//! - space requests, and (for access logs) pages and API calls that are not repository files.
//!
//! Repositories are picked by a Zipf law over their demo popularity rank; downloaders come
//! from pools of users (about half of the sessions are signed in) and addresses.

use rand::rngs::ChaCha8Rng;
use rand::RngExt;
use rand_distr::{Distribution, Zipf};

use crate::domain::{RepoKey, RepoType};

/// Downloaders `0..BOTS` are bots and CI jobs.
pub const BOTS: u32 = 24;
/// Signed-in users (bots included) and client addresses in the pools.
pub const USERS: u32 = 40_000;
pub const ADDRESSES: u32 = 25_000;

pub const MS_PER_DAY: i64 = 86_400_000;

/// A file inside a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePath {
    Static(&'static str),
    /// `data/train-{i:05}-of-{n:05}.parquet`.
    Shard {
        index: u16,
        of: u16,
    },
    /// `{quant}.gguf` in the repository's root (`model-Q4_K_M.gguf`).
    Gguf(&'static str),
}

impl FilePath {
    /// Whether the Hub's default model rules count a request for this file.
    pub fn is_model_query_file(self) -> bool {
        match self {
            FilePath::Static(p) => MODEL_QUERY_FILES.contains(&p),
            FilePath::Gguf(_) => true,
            FilePath::Shard { .. } => false,
        }
    }
}

const MODEL_QUERY_FILES: [&str; 5] = [
    "config.json",
    "config.yaml",
    "hyperparams.yaml",
    "params.json",
    "meta.yaml",
];

/// What a request asked for.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    File(&'a RepoKey, FilePath),
    /// A file of the organization's space (`{org}/playground`).
    Space(&'a RepoKey, &'static str),
    /// A repository's page or API entry: not a repository file.
    Page(&'a RepoKey),
}

/// One request, as every log format describes it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub at_ms: i64,
    pub method: &'static str,
    pub status: u16,
    pub target: Target<'a>,
    /// Index in the user pool, when signed in.
    pub user: Option<u32>,
    /// Index in the address pool.
    pub address: u32,
    pub agent: &'static str,
    /// Index in [`COUNTRIES`].
    pub country: usize,
}

pub const COUNTRIES: [(&str, &str); 8] = [
    ("US", "CA"),
    ("US", "VA"),
    ("FR", "IDF"),
    ("DE", "BE"),
    ("IN", "KA"),
    ("CN", "BJ"),
    ("GB", "ENG"),
    ("JP", "13"),
];

const LIBRARY_AGENTS: [&str; 3] = [
    "huggingface_hub/0.26.2; python/3.11.9; torch/2.5.1",
    "transformers/4.46.3; python/3.10.14",
    "huggingface_hub/0.24.7; python/3.12.4",
];
const DATASET_AGENT: &str = "datasets/3.1.0; python/3.11.9; pyarrow/18.0.0";
/// Bots and CI jobs, by downloader: a crawler, a CI job (the `ci` class's `ci/true` marker, as
/// `huggingface_hub` sends it under CI) and a plain script (class `other`).
const BOT_AGENTS: [&str; 3] = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "huggingface_hub/0.26.2; python/3.11.9; ci/true",
    "python-requests/2.32.3",
];
const BROWSER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0";
const CURL_AGENT: &str = "curl/8.5.0";

const MODEL_FILES: [&str; 6] = [
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
    "special_tokens_map.json",
    "README.md",
];
const QUANTS: [&str; 4] = [
    "model-Q4_K_M.gguf",
    "model-Q5_K_M.gguf",
    "model-Q8_0.gguf",
    "model-f16.gguf",
];

/// The repositories a log covers, most popular first, and how to pick one.
pub struct Catalog<'a> {
    repos: Vec<(&'a RepoKey, bool)>,
    zipf: Zipf<f64>,
}

impl<'a> Catalog<'a> {
    /// `ranked`: repositories in popularity order (most popular first); not empty.
    pub fn new(ranked: Vec<&'a RepoKey>) -> Option<Self> {
        let zipf = Zipf::new(ranked.len() as f64, 1.1).ok()?;
        let repos = ranked
            .into_iter()
            .map(|r| (r, r.name.short().to_ascii_lowercase().contains("gguf")))
            .collect();
        Some(Catalog { repos, zipf })
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> (&'a RepoKey, bool) {
        let rank = self.zipf.sample(rng) as usize;
        self.repos[rank.clamp(1, self.repos.len()) - 1]
    }
}

/// Draws sessions from one random stream (a day's).
pub struct Sessions<'c, 'a> {
    pub catalog: &'c Catalog<'a>,
    pub rng: ChaCha8Rng,
}

impl<'a> Sessions<'_, 'a> {
    /// Appends the requests of one session starting at `start_ms` to `out`.
    pub fn next(&mut self, start_ms: i64, out: &mut Vec<Request<'a>>) {
        let roll = self.rng.random_range(0..1000);
        let (repo, gguf) = self.catalog.pick(&mut self.rng);
        let mut s = Session::new(&mut self.rng, start_ms, repo);
        match roll {
            0..=99 => s.bot(out),
            100..=129 => s.space(out),
            130..=159 => s.page(out),
            _ => match repo.repo_type {
                RepoType::Model if gguf => s.gguf(out),
                RepoType::Model => s.model(out),
                RepoType::Dataset => s.dataset(out),
            },
        }
    }
}

/// One downloader's requests, with its clock.
struct Session<'s, 'a> {
    rng: &'s mut ChaCha8Rng,
    repo: &'a RepoKey,
    at_ms: i64,
    user: Option<u32>,
    address: u32,
    country: usize,
    agent: &'static str,
}

impl<'s, 'a> Session<'s, 'a> {
    fn new(rng: &'s mut ChaCha8Rng, at_ms: i64, repo: &'a RepoKey) -> Self {
        let user = rng.random_bool(0.45).then(|| rng.random_range(BOTS..USERS));
        // A signed-in user mostly comes from their own address.
        let address = match user {
            Some(u) if rng.random_bool(0.8) => BOTS + u % (ADDRESSES - BOTS),
            _ => rng.random_range(BOTS..ADDRESSES),
        };
        let country = (address as usize * 7 + 3) % COUNTRIES.len();
        let agent = LIBRARY_AGENTS[rng.random_range(0..LIBRARY_AGENTS.len())];
        Session {
            rng,
            repo,
            at_ms,
            user,
            address,
            country,
            agent,
        }
    }

    /// Adds a request at most `max_gap_ms` after the previous one.
    fn push(
        &mut self,
        out: &mut Vec<Request<'a>>,
        max_gap_ms: i64,
        method: &'static str,
        status: u16,
        target: Target<'a>,
    ) {
        self.at_ms += self.rng.random_range(0..=max_gap_ms);
        out.push(Request {
            at_ms: self.at_ms,
            method,
            status,
            target,
            user: self.user,
            address: self.address,
            agent: self.agent,
            country: self.country,
        });
    }

    fn file(&self, path: FilePath) -> Target<'a> {
        Target::File(self.repo, path)
    }

    /// A status for a file that exists: mostly a redirect to the CDN, sometimes cached.
    fn found(&mut self) -> u16 {
        match self.rng.random_range(0..100) {
            0..=59 => 302,
            60..=84 => 200,
            85..=96 => 304,
            97..=98 => 307,
            _ => 500,
        }
    }

    fn model(&mut self, out: &mut Vec<Request<'a>>) {
        let status = self.found();
        self.push(
            out,
            50,
            "HEAD",
            status,
            self.file(FilePath::Static("config.json")),
        );
        if self.rng.random_bool(0.25) {
            let status = self.found();
            self.push(
                out,
                300,
                "GET",
                status,
                self.file(FilePath::Static("config.json")),
            );
        }
        for _ in 0..self.rng.random_range(0..=5) {
            let path = MODEL_FILES[self.rng.random_range(0..MODEL_FILES.len())];
            let status = self.found();
            self.push(out, 2_000, "GET", status, self.file(FilePath::Static(path)));
        }
        match self.rng.random_range(0..100) {
            0..=5 => {
                let probe = FilePath::Static("adapter_config.json");
                self.push(out, 500, "HEAD", 404, self.file(probe));
            }
            6..=8 => {
                // An interrupted weight download resumed with ranges.
                for _ in 0..self.rng.random_range(1..=3) {
                    let weights = FilePath::Static("model.safetensors");
                    self.push(out, 30_000, "GET", 206, self.file(weights));
                }
            }
            9..=10 => {
                let config = FilePath::Static("config.json");
                self.push(out, 1_000, "POST", 200, self.file(config));
            }
            _ => {}
        }
    }

    fn gguf(&mut self, out: &mut Vec<Request<'a>>) {
        let quant = QUANTS[self.rng.random_range(0..QUANTS.len())];
        self.agent = if self.rng.random_bool(0.5) {
            CURL_AGENT
        } else {
            self.agent
        };
        if self.rng.random_bool(0.05) {
            self.push(
                out,
                100,
                "GET",
                404,
                self.file(FilePath::Gguf("model-Q3.gguf")),
            );
        }
        let status = self.found();
        self.push(out, 100, "GET", status, self.file(FilePath::Gguf(quant)));
        if self.rng.random_bool(0.3) {
            for _ in 0..self.rng.random_range(1..=4) {
                self.push(out, 60_000, "GET", 206, self.file(FilePath::Gguf(quant)));
            }
        }
        if self.rng.random_bool(0.3) {
            let readme = FilePath::Static("README.md");
            self.push(out, 1_000, "GET", 200, self.file(readme));
        }
    }

    /// A burst: many shards of one dataset by one downloader within minutes.
    fn dataset(&mut self, out: &mut Vec<Request<'a>>) {
        self.agent = DATASET_AGENT;
        let shards = burst_size(self.rng);
        let readme = FilePath::Static("README.md");
        self.push(out, 50, "HEAD", 200, self.file(readme));
        for index in 0..shards {
            let status = match self.rng.random_range(0..100) {
                0..=7 => 206,
                8 => 404,
                _ => self.found(),
            };
            let shard = FilePath::Shard { index, of: shards };
            self.push(out, 3_000, "GET", status, self.file(shard));
        }
    }

    /// A bot or CI job: the same few downloaders, polling popular repositories.
    fn bot(&mut self, out: &mut Vec<Request<'a>>) {
        let bot = self.rng.random_range(0..BOTS);
        self.user = (bot % 2 == 0).then_some(bot);
        self.address = bot;
        self.agent = BOT_AGENTS[bot as usize % BOT_AGENTS.len()];
        match self.repo.repo_type {
            RepoType::Model => {
                let config = self.file(FilePath::Static("config.json"));
                self.push(out, 10, "HEAD", 304, config);
                self.push(out, 100, "GET", 302, config);
            }
            RepoType::Dataset => {
                let of = self.rng.random_range(1..=8);
                for index in 0..of {
                    let shard = self.file(FilePath::Shard { index, of });
                    self.push(out, 500, "GET", 302, shard);
                }
            }
        }
    }

    fn space(&mut self, out: &mut Vec<Request<'a>>) {
        self.agent = BROWSER_AGENT;
        let file = ["app.py", "requirements.txt", "README.md"][self.rng.random_range(0..3)];
        self.push(out, 10, "GET", 200, Target::Space(self.repo, file));
    }

    fn page(&mut self, out: &mut Vec<Request<'a>>) {
        self.agent = BROWSER_AGENT;
        self.push(out, 10, "GET", 200, Target::Page(self.repo));
    }
}

/// Shards fetched in one dataset burst: mostly a few, sometimes hundreds.
fn burst_size(rng: &mut ChaCha8Rng) -> u16 {
    let z: f64 = rng.sample(rand_distr::StandardNormal);
    (1.5 + 1.2 * z).exp().clamp(1.0, 400.0) as u16
}
