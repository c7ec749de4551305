//! The download model of one demo repository: a [`RepoProfile`] drawn once from the
//! repository's seed, and its daily series, drawn day by day from the launch on.
//!
//! Daily mean = popularity × launch ramp × slow trend × weekday factor × (1 + release boost),
//! times a little day-to-day noise; the count is a Poisson draw of that mean. Popularity is
//! log-normal (a heavy tail: most repositories get a few downloads a day, a few get
//! thousands). Releases arrive at random and decay over days.
//!
//! Determinism: every random number comes from ChaCha8 streams seeded by the repository's
//! seed, and the series is always drawn from the launch day forward, so a day's count never
//! depends on how far the series is drawn: re-running later only adds days.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};

use crate::domain::{Day, RepoType};

/// The parameters of one repository's downloads, relative to its organization's history
/// start (offset 0 = first day of daily history).
#[derive(Debug, Clone, PartialEq)]
pub struct RepoProfile {
    seed: u64,
    /// Mean downloads per day once launched, before trend and seasonality.
    pub popularity: f64,
    /// Launch, in days after history start; negative when the repository existed before
    /// daily history began.
    pub launch: i32,
    /// Days after launch at which downloads stop (the repository went private or was
    /// superseded), if ever.
    pub stop_after: Option<i32>,
    ramp_days: f64,
    weekend_factor: f64,
    trend_per_year: f64,
    releases_per_year: f64,
    launch_boost: f64,
    boost_decay: f64,
}

/// How an organization's repositories are spread: history length and popularity scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrgShape {
    pub history_days: i32,
    /// Multiplies every repository's popularity.
    pub scale: f64,
    /// Popularity floors of the first repositories (the organization's well-known ones).
    pub flagships: &'static [f64],
}

/// Draws repository `index` of an organization whose seed is `org_seed`.
pub fn profile(org_seed: u64, index: usize, repo_type: RepoType, shape: &OrgShape) -> RepoProfile {
    let seed = repo_seed(org_seed, index);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let z: f64 = rng.sample(rand_distr::StandardNormal);
    let type_shift = if repo_type == RepoType::Dataset {
        -0.6
    } else {
        0.0
    };
    let mut popularity = (1.0 + type_shift + 2.2 * z).exp().min(40_000.0) * shape.scale;
    let launch = draw_launch(&mut rng, shape.history_days);
    let mut stop_after = rng.random_bool(0.08).then(|| rng.random_range(20..700));
    if let Some(&floor) = shape.flagships.get(index) {
        popularity = popularity.max(floor * shape.scale);
        stop_after = None;
    }
    // The first repository predates daily history and never stops, so every organization
    // has downloads on its first day of history (which is how a re-run finds that day).
    let launch = if index == 0 {
        -rng.random_range(200..600)
    } else {
        launch
    };
    RepoProfile {
        seed,
        popularity,
        launch,
        stop_after,
        ramp_days: rng.random_range(3.0..45.0),
        weekend_factor: rng.random_range(0.5..0.85),
        trend_per_year: rng.random_range(-0.9..0.6),
        releases_per_year: rng.random_range(0.0..6.0),
        launch_boost: rng.random_range(1.0..12.0),
        boost_decay: rng.random_range(0.75..0.95),
    }
}

/// Launch offsets: a share of repositories predate daily history; the rest launch over the
/// history, more of them recently (hubs grow).
fn draw_launch(rng: &mut ChaCha8Rng, history_days: i32) -> i32 {
    if rng.random_bool(0.2) {
        return -rng.random_range(30..700);
    }
    let u: f64 = rng.random();
    (f64::from(history_days) * u.powf(0.9)) as i32
}

fn repo_seed(org_seed: u64, index: usize) -> u64 {
    // SplitMix64 finalizer over (org seed, index): well-spread, stable across versions.
    let mut x = org_seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Downloads of a repository before and during daily history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeriesSums {
    /// Downloads before the first day of daily history: the `total` adjustment.
    pub before_history: u64,
    /// Sum of the daily counts passed to the callback.
    pub daily: u64,
}

impl SeriesSums {
    pub fn total(self) -> u64 {
        self.before_history + self.daily
    }
}

impl RepoProfile {
    /// Calls `f(day, downloads)` for every day with at least one download from the later of
    /// `history_start` and the launch through `through`. Days before `history_start` are
    /// drawn too (so a day's count never depends on the range) and only summed.
    pub fn for_each_day(
        &self,
        history_start: Day,
        through: Day,
        mut f: impl FnMut(Day, u64),
    ) -> SeriesSums {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xD0_D0);
        let release_chance = self.releases_per_year / 365.0;
        let launch_day = history_start.add_days(self.launch);
        let mut boost = self.launch_boost;
        let mut sums = SeriesSums::default();
        for t in 0..=launch_day.days_until(through) {
            if self.stop_after.is_some_and(|s| t >= s) {
                break;
            }
            let day = launch_day.add_days(t);
            let noise: f64 = rng.sample(StandardNormal);
            let mean = self.mean(t, day, boost) * (0.25 * noise).exp();
            if rng.random_bool(release_chance) {
                boost += rng.random_range(1.0..8.0);
            }
            boost *= self.boost_decay;
            let downloads = poisson(&mut rng, mean);
            if day < history_start {
                sums.before_history += downloads;
            } else if downloads > 0 {
                f(day, downloads);
                sums.daily += downloads;
            }
        }
        sums
    }

    /// The expected downloads on day `t` after launch, before noise.
    fn mean(&self, t: i32, day: Day, boost: f64) -> f64 {
        let t = f64::from(t);
        let ramp = 1.0 - (-(t + 1.0) / self.ramp_days).exp();
        let trend = (self.trend_per_year * t / 365.0).exp();
        // 1970-01-01 was a Thursday: Monday = 0 … Saturday = 5, Sunday = 6.
        let weekday = (day.epoch_days() + 3).rem_euclid(7);
        let season = if weekday >= 5 {
            self.weekend_factor
        } else {
            1.0
        };
        self.popularity * ramp * trend * season * (1.0 + boost)
    }
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    match Poisson::new(mean) {
        Ok(p) => p.sample(rng) as u64,
        Err(_) => 0, // mean is 0 (or not finite): no downloads
    }
}
