//! Known download data for the browser tests, written through the store's `WriteTx`, and the
//! figures a page should show, computed from the breakdown CSV (not from the code that renders
//! the pages).

use hubstats::breakdown::export::write_breakdown;
use hubstats::domain::{Day, Plan, RepoKey, RepoName, RepoType, Role};
use hubstats::store::{Counts, SourceId, WriteMode};

use super::super::common::{org_name, TestApp};

/// The pinned reference day ("today") of every browser test.
pub const TODAY: &str = "2025-06-30";
/// First day of Last Month: the 30 days ending on [`TODAY`], inclusive.
pub const LAST_MONTH_FROM: &str = "2025-06-01";

pub const ORG: &str = "acme";
pub const USER: &str = "alice";

/// One repository of the fixture: daily downloads on the days `from_back..=to_back` days
/// before today (0 = today), around `base` a day, plus downloads counted before daily history.
struct Repo {
    repo_type: RepoType,
    name: &'static str,
    to_back: i32,
    from_back: i32,
    base: u64,
    before_history: u64,
}

const fn repo(
    repo_type: RepoType,
    name: &'static str,
    (to_back, from_back): (i32, i32),
    base: u64,
    before_history: u64,
) -> Repo {
    Repo {
        repo_type,
        name,
        to_back,
        from_back,
        base,
        before_history,
    }
}

use RepoType::{Dataset, Model};

/// `acme`'s repositories: long-lived ones, a recent launch, one that stopped before Last Month,
/// some with downloads before daily history. `globex` shares a name to catch leaks.
const REPOS: &[Repo] = &[
    repo(Model, "acme/bert-base", (0, 420), 120, 0),
    repo(Model, "acme/bert-large", (0, 200), 45, 0),
    repo(Model, "acme/gpt-mini", (0, 60), 300, 0),
    repo(Model, "acme/vision-tiny", (100, 400), 20, 0),
    repo(Model, "acme/whisper-small", (0, 400), 8, 5_000),
    repo(Model, "acme/llama-chat", (0, 30), 900, 0),
    repo(Dataset, "acme/bert-corpus", (0, 365), 30, 0),
    repo(Dataset, "acme/wiki-dump", (0, 400), 75, 12_345),
    repo(Dataset, "acme/chat-logs", (10, 90), 15, 0),
    repo(Dataset, "acme/images-small", (0, 400), 4, 0),
    repo(Model, "globex/bert-base", (0, 100), 50, 0),
];

/// The names of `acme`'s repositories.
pub fn acme_repos() -> Vec<&'static str> {
    REPOS
        .iter()
        .map(|r| r.name)
        .filter(|n| n.starts_with("acme/"))
        .collect()
}

/// Downloads of day `back` days before today: weekly rhythm, a slow wave, a launch spike.
fn downloads(r: &Repo, back: i32, seed: u64) -> u64 {
    let b = back as u64;
    let weekly = if back % 7 < 2 { 2 } else { 4 };
    let wave = (b * 31 + seed * 17) % (r.base / 2 + 1);
    let spike = if back == r.from_back - 3 {
        r.base * 5
    } else {
        0
    };
    r.base * weekly / 4 + wave + spike
}

/// Organizations `acme` (Team) and `globex` (Team), user `alice` reading `acme`, and the
/// downloads of [`REPOS`].
pub fn populate(app: &TestApp) {
    app.org(ORG, Plan::Team);
    app.org("globex", Plan::Team);
    app.user(USER);
    app.member(ORG, USER, Role::Read);
    let today: Day = TODAY.parse().expect("TODAY");
    let mut tx = (app.store)
        .write(&SourceId::breakdown(), WriteMode::Merge)
        .expect("write");
    for (seed, r) in REPOS.iter().enumerate() {
        let key = RepoKey {
            repo_type: r.repo_type,
            name: RepoName::parse(r.name).expect("fixture name"),
        };
        let mut sum = 0;
        for back in r.to_back..=r.from_back {
            let n = downloads(r, back, seed as u64);
            sum += n;
            tx.set(&key, today.add_days(-back), n).expect("set");
        }
        tx.set_total(&key, sum + r.before_history)
            .expect("set_total");
    }
    tx.commit().expect("commit");
}

/// `acme`'s breakdown CSV, as the export writes it.
pub fn breakdown_csv(app: &TestApp) -> Vec<u8> {
    let mut out = Vec::new();
    write_breakdown(app.store.as_ref(), &org_name(ORG), &mut out).expect("write_breakdown");
    out
}

/// One data row of the breakdown CSV.
pub struct CsvRow {
    pub repo_type: String,
    pub repo_name: String,
    pub total: u64,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub downloads: u64,
}

/// Parses the breakdown CSV (header checked).
pub fn csv_rows(csv: &[u8]) -> Vec<CsvRow> {
    let text = std::str::from_utf8(csv).expect("UTF-8 CSV");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("repoType,repoName,total,timestamp,downloads")
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 5, "CSV row {line:?}");
            CsvRow {
                repo_type: f[0].to_owned(),
                repo_name: f[1].to_owned(),
                total: f[2].parse().expect("total"),
                day: f[3][..10].to_owned(),
                downloads: f[4].parse().expect("downloads"),
            }
        })
        .collect()
}

/// Headline figures: all, models, datasets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub all: u64,
    pub model: u64,
    pub dataset: u64,
}

impl Totals {
    fn add(&mut self, repo_type: &str, n: u64) {
        self.all += n;
        match repo_type {
            "model" => self.model += n,
            "dataset" => self.dataset += n,
            other => panic!("repoType {other:?}"),
        }
    }
}

/// All Time: every repository's `total`, as the store lists them. (Not from the CSV: a
/// repository whose downloads all predate daily history has no CSV row.)
pub fn all_time_totals(store: &dyn Counts, org: &str) -> Totals {
    let mut t = Totals::default();
    for r in store.repos(&org_name(org)).expect("repos").iter() {
        t.add(r.key.repo_type.as_str(), r.total);
    }
    t
}

/// Downloads on the days `from..=to` (`YYYY-MM-DD`).
pub fn range_totals(rows: &[CsvRow], from: &str, to: &str) -> Totals {
    let mut t = Totals::default();
    for r in rows
        .iter()
        .filter(|r| r.day.as_str() >= from && r.day.as_str() <= to)
    {
        t.add(&r.repo_type, r.downloads);
    }
    t
}
