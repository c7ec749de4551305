use super::super::testing::{day, MemCounts};
use super::*;
use crate::domain::PeriodKind;

fn store() -> MemCounts {
    MemCounts::default()
        .with(
            "model",
            "acme/Alpha",
            100,
            &[("2024-02-28", 5), ("2024-02-29", 7), ("2024-03-01", 1)],
        )
        .with(
            "dataset",
            "acme/alpha",
            0,
            &[("2024-02-01", 5), ("2024-02-29", 1)],
        )
        .with(
            "model",
            "acme/beta",
            0,
            &[("2024-01-30", 40), ("2024-02-29", 13)],
        )
        .with("dataset", "acme/gamma", 0, &[("2024-01-01", 2)])
        .with("model", "acmeish/zeta", 0, &[("2024-02-29", 1000)])
}

fn org() -> OrgName {
    OrgName::parse("acme").unwrap()
}

fn names(t: &RepoTable) -> Vec<String> {
    t.rows
        .iter()
        .map(|r| format!("{}:{}", r.key.repo_type, r.key.name))
        .collect()
}

fn last_month() -> Period {
    Period::resolve(PeriodKind::LastMonth, day("2024-03-01"), None, None).unwrap()
}

#[test]
fn last_month_figures_sort_by_downloads_with_stable_ties() {
    let s = store();
    let t = Analytics::new(&s, day("2024-03-01"))
        .repo_table(&org(), last_month(), &TableQuery::default())
        .unwrap();
    // 2024-02-01 ..= 2024-03-01; previous 2024-01-02 ..= 2024-01-31
    assert_eq!(
        names(&t),
        [
            "model:acme/Alpha",
            "model:acme/beta",
            "dataset:acme/alpha",
            "dataset:acme/gamma"
        ]
    );
    let figures: Vec<_> = t
        .rows
        .iter()
        .map(|r| (r.downloads, r.previous_downloads, r.change()))
        .collect();
    assert_eq!(
        figures,
        [
            // No change where data does not cover the previous period (2024-01-02 ..=
            // 2024-01-31): only acme/gamma has data from before it.
            (13, Some(0), None),
            (13, Some(40), None),
            (6, Some(0), None),
            (0, Some(0), Some(0))
        ]
    );
    for r in &t.rows {
        assert_eq!(r.series.sum(), r.downloads, "{}", r.key.name);
        assert_eq!(r.series.points.len(), 30);
    }
    assert_eq!((t.count, t.repo_count), (4, 4));
}

#[test]
fn all_time_uses_totals_and_sparklines_from_the_first_day() {
    let s = store();
    let q = TableQuery {
        sort: SortKey::Total,
        ..Default::default()
    };
    let t = Analytics::new(&s, day("2024-03-01"))
        .repo_table(&org(), Period::ALL_TIME, &q)
        .unwrap();
    assert_eq!(t.rows[0].key.name.as_str(), "acme/Alpha");
    assert_eq!(
        (
            t.rows[0].downloads,
            t.rows[0].total,
            t.rows[0].previous_downloads
        ),
        (113, 113, None)
    );
    assert_eq!(t.rows[0].series.sum(), 13, "daily history only");
    let range = t.rows[0].series.range.unwrap();
    assert_eq!(
        (range.from, range.to),
        (day("2024-01-01"), day("2024-03-01"))
    );
}

#[test]
fn search_is_case_insensitive_and_counts_every_match() {
    let s = store();
    let a = Analytics::new(&s, day("2024-03-01"));
    let q = TableQuery {
        q: Some("ALPHA".into()),
        per_page: 1,
        ..Default::default()
    };
    let t = a.repo_table(&org(), Period::ALL_TIME, &q).unwrap();
    assert_eq!((t.count, t.rows.len()), (2, 1));
    let q = TableQuery {
        q: Some("alpha".into()),
        repo_type: Some(RepoType::Dataset),
        ..Default::default()
    };
    assert_eq!(
        names(&a.repo_table(&org(), Period::ALL_TIME, &q).unwrap()),
        ["dataset:acme/alpha"]
    );
    let q = TableQuery {
        q: Some("zeta".into()),
        ..Default::default()
    };
    assert_eq!(
        a.repo_table(&org(), Period::ALL_TIME, &q).unwrap().count,
        0,
        "other orgs never show"
    );
}

#[test]
fn name_sort_and_paging_cover_every_row_once() {
    let s = store();
    let a = Analytics::new(&s, day("2024-03-01"));
    let mut seen = Vec::new();
    for page in 1..=2 {
        let q = TableQuery {
            sort: SortKey::Name,
            order: Order::Desc,
            page,
            per_page: 2,
            ..Default::default()
        };
        let t = a.repo_table(&org(), last_month(), &q).unwrap();
        seen.extend(names(&t));
    }
    assert_eq!(
        seen,
        [
            "dataset:acme/gamma",
            "model:acme/beta",
            // Names sort without case; a tie breaks by type, models first.
            "model:acme/Alpha",
            "dataset:acme/alpha",
        ]
    );
    // A page past the end is the last page.
    let q = TableQuery {
        sort: SortKey::Name,
        order: Order::Desc,
        page: 3,
        per_page: 2,
        ..Default::default()
    };
    let t = a.repo_table(&org(), last_month(), &q).unwrap();
    assert_eq!((t.page, names(&t).len()), (2, 2));
    // Rows without a change (no full previous period) sort below every change.
    let q = TableQuery {
        sort: SortKey::Change,
        order: Order::Desc,
        ..Default::default()
    };
    let t = a.repo_table(&org(), last_month(), &q).unwrap();
    assert_eq!(names(&t)[0], "dataset:acme/gamma");
    // Regression: ascending put the rows without a change ("—") first; they come last in
    // either order.
    let q = TableQuery {
        order: Order::Asc,
        ..q
    };
    let t = a.repo_table(&org(), last_month(), &q).unwrap();
    assert_eq!(names(&t)[0], "dataset:acme/gamma");
    assert!(t.rows[1..].iter().all(|r| r.change().is_none()));
}

#[test]
fn narrow_searches_give_the_same_figures_as_the_whole_table() {
    let names: Vec<(String, u64)> = (0..24u64).map(|i| (format!("acme/m{i:02}"), i)).collect();
    let mut s = MemCounts::default();
    for (name, i) in &names {
        s = s.with(
            "model",
            name,
            5,
            &[("2024-01-20", 2 * i + 1), ("2024-02-10", i + 1)],
        );
    }
    let a = Analytics::new(&s, day("2024-03-01"));
    let all = TableQuery {
        sort: SortKey::Change,
        per_page: 500,
        ..Default::default()
    };
    let wide = a.repo_table(&org(), last_month(), &all).unwrap();
    for q in ["m07", "M23"] {
        for sort in [SortKey::Downloads, SortKey::Change] {
            let query = TableQuery {
                q: Some(q.into()),
                sort,
                ..Default::default()
            };
            let narrow = a.repo_table(&org(), last_month(), &query).unwrap();
            assert_eq!(narrow.count, 1);
            let row = &narrow.rows[0];
            let same = wide.rows.iter().find(|r| r.key == row.key).unwrap();
            assert_eq!(
                (row.downloads, row.previous_downloads),
                (same.downloads, same.previous_downloads)
            );
            assert_eq!(row.series, same.series);
        }
    }
}

/// The embedded store answers searches from its contiguous names and reads period sums by
/// position (both aligned with its list of repositories); the test double goes name by name
/// and key by key. Every search, type filter and sort gives the same table.
#[test]
fn aligned_reads_answer_as_the_reference_does() {
    use crate::store::sqlite::SqliteCounts;
    use crate::store::{Batch, Counts, SourceId, WriteMode};
    type Repo = (
        &'static str,
        &'static str,
        u64,
        &'static [(&'static str, u64)],
    );
    let repos: [Repo; 6] = [
        (
            "model",
            "acme/Alpha",
            100,
            &[("2024-02-28", 5), ("2024-02-29", 7)],
        ),
        (
            "dataset",
            "acme/alpha",
            0,
            &[("2024-02-01", 5), ("2024-02-29", 1)],
        ),
        (
            "model",
            "acme/beta",
            0,
            &[("2024-01-30", 40), ("2024-02-29", 13)],
        ),
        ("dataset", "acme/gamma", 0, &[("2024-01-01", 2)]),
        ("model", "acme/llama-ll", 0, &[("2024-02-10", 9)]),
        ("model", "acme/small", 0, &[("2024-02-11", 9)]),
    ];
    let mut mem = MemCounts::default();
    let embedded = SqliteCounts::memory().unwrap();
    let mut batch = Batch::new(SourceId::parse("csv").unwrap(), WriteMode::Merge);
    for (t, name, adjustment, days) in repos {
        mem = mem.with(t, name, adjustment as i64, days);
        let key = super::super::testing::key(t, name);
        for (d, n) in days {
            batch.days.push((key.clone(), day(d), *n));
        }
        let sum: u64 = days.iter().map(|(_, n)| n).sum();
        batch.totals.push((key, sum + adjustment));
    }
    batch.apply(&embedded as &dyn Counts).unwrap();
    // The embedded store's reads are aligned (else this would only compare two fallbacks).
    let listed = embedded.repos(&org()).unwrap();
    assert!(embedded.repo_names(&org()).unwrap().aligned_with(&listed));
    let sums = embedded.period_sums(&org(), last_month().range.unwrap());
    assert!(sums.unwrap().aligned_with(&listed).is_some());
    let (a, b) = (
        Analytics::new(&mem, day("2024-03-01")),
        Analytics::new(&embedded, day("2024-03-01")),
    );
    for q in [
        None,
        Some("ALPHA"),
        Some("a"),
        Some("ll"),
        Some("acme/"),
        Some("zz"),
        Some("a\nb"),
    ] {
        for repo_type in [None, Some(RepoType::Model), Some(RepoType::Dataset)] {
            for sort in SortKey::ALL {
                let query = TableQuery {
                    q: q.map(str::to_owned),
                    repo_type,
                    sort,
                    ..Default::default()
                };
                let all_time = Period::resolve(PeriodKind::AllTime, day("2024-03-01"), None, None);
                for period in [last_month(), all_time.unwrap()] {
                    assert_eq!(
                        a.repo_table(&org(), period, &query).unwrap(),
                        b.repo_table(&org(), period, &query).unwrap(),
                        "{query:?} {period:?}"
                    );
                }
            }
        }
    }
}
