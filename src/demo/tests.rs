//! Properties of the generated data (no store involved).

use super::orgs::{demo_orgs, DemoOrg};
use crate::domain::{Day, RepoKey};

fn today() -> Day {
    "2026-11-27".parse().unwrap()
}

/// One repository's generated days through `through`.
struct Drawn {
    key: RepoKey,
    days: Vec<(Day, u64)>,
    before_history: u64,
}

impl Drawn {
    fn total(&self) -> u64 {
        self.before_history + self.days.iter().map(|d| d.1).sum::<u64>()
    }
}

fn history_start(org: &DemoOrg, today: Day) -> Day {
    today.add_days(1 - org.shape.history_days)
}

fn draw(org: &DemoOrg, start: Day, through: Day) -> Vec<Drawn> {
    org.draw_repos()
        .unwrap()
        .into_iter()
        .map(|repo| {
            let mut days = Vec::new();
            let sums = repo
                .profile
                .for_each_day(start, through, |d, n| days.push((d, n)));
            Drawn {
                key: repo.key,
                days,
                before_history: sums.before_history,
            }
        })
        .collect()
}

fn large_org(repos: usize) -> DemoOrg {
    demo_orgs(repos).remove(0)
}

#[test]
fn every_org_spans_its_history_and_ends_on_the_reference_day() {
    for org in demo_orgs(300) {
        let start = history_start(&org, today());
        let drawn = draw(&org, start, today());
        let days: Vec<Day> = drawn
            .iter()
            .flat_map(|r| r.days.iter().map(|d| d.0))
            .collect();
        assert_eq!(days.iter().min(), Some(&start), "{}", org.name);
        assert_eq!(days.iter().max(), Some(&today()), "{}", org.name);
        assert_eq!(drawn.len(), org.repos);
    }
}

#[test]
fn popularity_is_heavy_tailed() {
    let org = large_org(300);
    let mut totals: Vec<u64> = draw(&org, history_start(&org, today()), today())
        .iter()
        .map(Drawn::total)
        .collect();
    totals.sort_unstable();
    let all: u64 = totals.iter().sum();
    let top3: u64 = totals.iter().rev().take(3).sum();
    let median = totals[totals.len() / 2];
    eprintln!(
        "max {} median {median} top3 share {:.2}",
        totals[totals.len() - 1],
        top3 as f64 / all as f64
    );
    assert!(
        totals[totals.len() - 1] > 1_000_000,
        "a few repositories have millions"
    );
    assert!(
        (100..20_000).contains(&median),
        "most have hundreds to thousands: {median}"
    );
    assert!(
        top3 * 4 > all,
        "the top 1% make more than a quarter of all downloads"
    );
}

#[test]
fn weekends_are_quieter() {
    let org = large_org(300);
    let mut per_weekday = [0u64; 7];
    for repo in draw(&org, history_start(&org, today()), today()) {
        for (day, n) in repo.days {
            per_weekday[day.date().weekday().number_days_from_monday() as usize] += n;
        }
    }
    let weekday_avg = per_weekday[..5].iter().sum::<u64>() as f64 / 5.0;
    let weekend_avg = per_weekday[5..].iter().sum::<u64>() as f64 / 2.0;
    assert!(weekend_avg < 0.85 * weekday_avg, "{per_weekday:?}");
    assert!(weekend_avg > 0.4 * weekday_avg, "{per_weekday:?}");
}

#[test]
fn some_repositories_predate_history_and_some_stopped() {
    let org = large_org(300);
    let drawn = draw(&org, history_start(&org, today()), today());
    let with_adjustment = drawn.iter().filter(|r| r.before_history > 0).count();
    let stopped = drawn
        .iter()
        .filter(|r| r.days.last().is_some_and(|d| d.0 < today().add_days(-60)))
        .count();
    let launched_late = drawn
        .iter()
        .filter(|r| r.days.first().is_some_and(|d| d.0 > today().add_days(-365)))
        .count();
    eprintln!(
        "adjusted {with_adjustment} stopped {stopped} launched in the last year {launched_late}"
    );
    assert!((15..120).contains(&with_adjustment), "{with_adjustment}");
    assert!((5..60).contains(&stopped), "{stopped}");
    assert!(launched_late > 50, "{launched_late}");
}

#[test]
fn generation_is_deterministic_and_only_extends() {
    let org = large_org(120);
    let start = history_start(&org, today());
    let a = draw(&org, start, today());
    let later = draw(&org, start, today().add_days(30));
    let bigger = draw(&large_org(150), start, today());
    for ((a, l), b) in a.iter().zip(&later).zip(&bigger) {
        assert_eq!(a.key, l.key);
        assert_eq!(a.key, b.key);
        assert_eq!(a.days, b.days);
        assert_eq!(a.before_history, l.before_history);
        let prefix: Vec<_> = l.days.iter().copied().filter(|d| d.0 <= today()).collect();
        assert_eq!(a.days, prefix, "{}", a.key.name);
    }
}

#[test]
fn benchmark_size_has_millions_of_rows() {
    // The 20,000-repository organization should hold ~8M rows; rows grow linearly with the
    // number of repositories, so a tenth of it is checked here to keep the test fast.
    let org = large_org(2_000);
    let start = history_start(&org, today());
    let mut rows = 0u64;
    for repo in org.draw_repos().unwrap() {
        repo.profile.for_each_day(start, today(), |_, _| rows += 1);
    }
    assert!((700_000..950_000).contains(&rows), "{rows}");
}
