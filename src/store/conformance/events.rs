//! The checks every [`LogEvents`] backend passes: each takes a constructor of fresh, empty
//! stores (a [`Counts`] whose `log_events()` is some) and panics on the first difference from
//! the contract. SQLite runs them in `sqlite/counts/tests.rs`, ClickHouse in
//! `clickhouse/events/tests.rs`.

use crate::domain::{Day, LibraryName, LogEvent, OrgName, RepoKey};
use crate::store::reference::{day, key};
use crate::store::{Counts, EventFields, LibraryRecord, LogEvents, RepoLibrary};

type MakeStore<'a> = &'a dyn Fn() -> Box<dyn Counts>;

/// One write of the same event, made one way or another.
type OneWrite<'a> = &'a dyn Fn(&dyn LogEvents);

/// Runs every check against stores made by `make`.
pub fn run_all(make: MakeStore<'_>) {
    an_event_is_stored_once_whatever_the_writes(make);
    a_large_write_counts_each_new_event_once(make);
    an_event_keeps_its_greatest_class_in_any_order(make);
    a_dropped_write_stores_nothing(make);
    repository_days_are_listed_in_export_order_and_filtered(make);
    events_are_read_by_day_and_with_their_class(make);
    several_repositories_are_read_at_once_as_one_by_one(make);
    log_files_are_recorded_once(make);
    the_downloader_secret_is_made_once(make);
    the_latest_naming_wins_in_any_order_and_ties_go_to_the_greatest_name(make);
    a_library_set_by_hand_wins_and_changes_are_marked_until_counted(make);
    pruning_drops_earlier_days_and_moves_the_horizon_forward_only(make);
    a_removed_organization_loses_its_events_and_libraries(make);
}

fn events_of(store: &dyn Counts) -> &dyn LogEvents {
    store
        .log_events()
        .expect("the backend keeps request-log events")
}

fn lib(s: &str) -> LibraryName {
    LibraryName::parse(s).expect("a library name")
}

fn org(s: &str) -> OrgName {
    OrgName::parse(s).expect("an organization name")
}

/// An event of `repo` at `seconds` after midnight of `on`, by `user`.
fn event(repo: &RepoKey, on: &str, seconds: i64, user: &str) -> LogEvent {
    LogEvent {
        repo: repo.clone(),
        at_ms: i64::from(day(on).epoch_days()) * 86_400_000 + seconds * 1000,
        method: "GET".to_owned(),
        status: 200,
        path: Some("config.json".to_owned()),
        user: Some(user.to_owned()),
        ip: None,
    }
}

/// Pushes `events` (with `agent`) in one write and commits it; returns what the commit says.
fn push_all(events: &dyn LogEvents, batch: &[LogEvent], agent: Option<&str>) -> u64 {
    let mut write = events.add_events().expect("a write");
    for e in batch {
        write.push(e.clone(), agent).expect("a push");
    }
    write.commit().expect("a commit")
}

/// Every (repository, day) with events, as `event_days` lists them.
fn event_days(events: &dyn LogEvents, org: Option<&str>, from: Option<&str>) -> Vec<String> {
    let org = org.map(self::org);
    let mut out = Vec::new();
    events
        .event_days(org.as_ref(), from.map(day), &mut |repo, d| {
            out.push(format!("{} {} {d}", repo.repo_type, repo.name));
            Ok(())
        })
        .expect("event days");
    out
}

/// The classes of a repository-day's events and how many have each.
fn classes(events: &dyn LogEvents, repo: &RepoKey, on: &str) -> Vec<(Option<String>, u64)> {
    let mut out = Vec::new();
    events
        .agent_classes(repo, day(on), &mut |class, n| {
            out.push((class, n));
            Ok(())
        })
        .expect("agent classes");
    out
}

fn class(c: Option<&str>, n: u64) -> (Option<String>, u64) {
    (c.map(str::to_owned), n)
}

fn an_event_is_stored_once_whatever_the_writes(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let m = key("model", "acme/m");
    let (a, b, c) = (
        event(&m, "2024-05-01", 1, "u"),
        event(&m, "2024-05-01", 2, "u"),
        event(&m, "2024-05-01", 3, "u"),
    );
    let first = push_all(events, &[a.clone(), b.clone(), b.clone()], Some("x"));
    assert_eq!(first, 2, "an event pushed twice in one write is new once");
    let second = push_all(events, &[b, c, a], Some("x"));
    assert_eq!(second, 1, "only the event the store did not hold is new");
    assert_eq!(classes(events, &m, "2024-05-01"), [class(Some("x"), 3)]);
    assert_eq!(
        push_all(events, &[], None),
        0,
        "an empty write adds nothing"
    );
}

/// More events than a backend buffers at once (SQLite sorts 131,072 at a time, ClickHouse
/// sends about 8 MB at a time), some held before and some pushed twice.
fn a_large_write_counts_each_new_event_once(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let repos = [key("model", "acme/big"), key("dataset", "acme/big")];
    let batch = |from: i64, to: i64| -> Vec<LogEvent> {
        (from..to)
            .map(|i| {
                let repo = &repos[(i % 2) as usize];
                event(repo, "2024-05-01", i % 86_400, &format!("user-{i}"))
            })
            .collect()
    };
    assert_eq!(push_all(events, &batch(0, 10_000), Some("a")), 10_000);
    let mut large = batch(5_000, 150_000);
    large.extend(batch(140_000, 145_000));
    assert_eq!(push_all(events, &large, Some("b")), 140_000);
    let total: u64 = repos
        .iter()
        .flat_map(|r| classes(events, r, "2024-05-01"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, 150_000);
}

fn an_event_keeps_its_greatest_class_in_any_order(make: MakeStore<'_>) {
    let m = key("model", "acme/m");
    let e = event(&m, "2024-05-03", 1, "u");
    let writes: [OneWrite<'_>; 4] = [
        &|s| assert_eq!(push_all(s, std::slice::from_ref(&e), Some("browser")), 0),
        &|s| assert_eq!(push_all(s, std::slice::from_ref(&e), Some("mirror")), 0),
        &|s| assert_eq!(push_all(s, &[e.clone(), e.clone()], Some("ci")), 0),
        &|s| assert_eq!(push_all(s, std::slice::from_ref(&e), None), 0),
    ];
    for rotation in 0..writes.len() {
        let store = make();
        let events = events_of(store.as_ref());
        // The event is held before the rotated writes, so each one finds it.
        assert_eq!(push_all(events, std::slice::from_ref(&e), Some("bot")), 1);
        for i in 0..writes.len() {
            writes[(i + rotation) % writes.len()](events);
        }
        assert_eq!(
            classes(events, &m, "2024-05-03"),
            [class(Some("mirror"), 1)],
            "rotation {rotation}"
        );
    }
}

fn a_dropped_write_stores_nothing(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let m = key("model", "acme/m");
    {
        let mut write = events.add_events().unwrap();
        for i in 0..500 {
            write
                .push(event(&m, "2024-05-04", i, "u"), Some("bot"))
                .unwrap();
        }
        write.push(event(&m, "2024-05-04", 999, "u"), None).unwrap();
        write.name_library(&m, 1, &lib("peft")).unwrap();
    }
    assert!(event_days(events, None, None).is_empty(), "no event kept");
    assert_eq!(events.library(&m).unwrap(), RepoLibrary::default());
    let mut changed = 0;
    events
        .library_changes(None, &mut |_| {
            changed += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(changed, 0, "no library change marked");
    let again = push_all(events, &[event(&m, "2024-05-04", 1, "u")], None);
    assert_eq!(
        again, 1,
        "an event of a dropped write is new to a later one"
    );
}

fn repository_days_are_listed_in_export_order_and_filtered(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let batch = [
        event(&key("dataset", "acme/d"), "2024-05-01", 1, "u"),
        event(&key("model", "beta/z"), "2024-05-02", 1, "u"),
        event(&key("model", "acme/b"), "2024-05-03", 1, "u"),
        event(&key("model", "acme/b"), "2024-05-01", 1, "u"),
        event(&key("model", "acme/b"), "2024-05-01", 2, "u"),
        event(&key("model", "acme/B"), "2024-05-09", 1, "u"),
        event(&key("model", "acme-x/a"), "2024-05-01", 1, "u"),
    ];
    assert_eq!(push_all(events, &batch, None), 7);
    assert_eq!(
        event_days(events, None, None),
        [
            "model acme-x/a 2024-05-01",
            "model acme/B 2024-05-09",
            "model acme/b 2024-05-01",
            "model acme/b 2024-05-03",
            "model beta/z 2024-05-02",
            "dataset acme/d 2024-05-01",
        ]
    );
    assert_eq!(
        event_days(events, Some("acme"), None),
        [
            "model acme/B 2024-05-09",
            "model acme/b 2024-05-01",
            "model acme/b 2024-05-03",
            "dataset acme/d 2024-05-01",
        ],
        "acme's only, not acme-x's"
    );
    assert_eq!(
        event_days(events, Some("acme"), Some("2024-05-02")),
        ["model acme/B 2024-05-09", "model acme/b 2024-05-03"]
    );
    let mut days = Vec::new();
    let b = key("model", "acme/b");
    events
        .days_of(&b, &mut |d| {
            days.push(d);
            Ok(())
        })
        .unwrap();
    assert_eq!(days, [day("2024-05-01"), day("2024-05-03")]);
}

fn several_repositories_are_read_at_once_as_one_by_one(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let (m, n, x, d) = (
        key("model", "acme/m"),
        key("model", "acme/n"),
        key("model", "beta/x"),
        key("dataset", "acme/m"),
    );
    let mut batch = Vec::new();
    for (repo, days) in [
        (&m, &["2024-05-01", "2024-05-02", "2024-05-03"][..]),
        (&n, &["2024-05-02", "2024-05-04"]),
        (&x, &["2024-05-02"]),
        (&d, &["2024-05-02", "2024-05-03"]),
    ] {
        for (i, on) in days.iter().enumerate() {
            for user in ["u", "v"] {
                batch.push(event(repo, on, i as i64, user));
            }
        }
    }
    push_all(events, &batch, None);
    // The same event twice in another write: read once.
    push_all(events, &batch[..2], Some("bot"));
    let empty = key("model", "acme/none");
    let one_by_one = |asked: &[(&RepoKey, Day, Day)], fields| {
        let mut read: Vec<(usize, Day, LogEvent)> = Vec::new();
        for (i, (repo, first, last)) in asked.iter().enumerate() {
            events
                .events_of_days(repo, *first, *last, fields, &mut |day, e| {
                    read.push((i, day, e));
                    Ok(())
                })
                .unwrap();
        }
        read
    };
    let (may1, may2, may3, may5) = (
        day("2024-05-01"),
        day("2024-05-02"),
        day("2024-05-03"),
        day("2024-05-05"),
    );
    let models: [(&RepoKey, Day, Day); 4] = [
        (&m, may2, may3),
        (&empty, may1, may5),
        (&x, may1, may5),
        (&n, may3, may5),
    ];
    let datasets: [(&RepoKey, Day, Day); 1] = [(&d, may1, may2)];
    for (asked, fields) in [
        (&models[..], EventFields::All),
        (&models[..], EventFields::Request),
        (&datasets[..], EventFields::All),
    ] {
        let mut at_once: Vec<(usize, Day, LogEvent)> = Vec::new();
        events
            .events_of_repos(asked, fields, &mut |i, day, e| {
                at_once.push((i, day, e));
                Ok(())
            })
            .unwrap();
        // Each repository's events together, by day; the repositories in any order.
        let mut seen: Vec<usize> = Vec::new();
        for w in at_once.windows(2) {
            if w[0].0 == w[1].0 {
                assert!(w[0].1 <= w[1].1, "a repository's days in order");
            }
        }
        for (i, _, _) in &at_once {
            if seen.last() != Some(i) {
                assert!(!seen.contains(i), "repository {i} read in two runs");
                seen.push(*i);
            }
        }
        let sorted = |mut v: Vec<(usize, Day, LogEvent)>| {
            v.sort_by(|a, b| (a.0, a.1, &a.2.user).cmp(&(b.0, b.1, &b.2.user)));
            v
        };
        let expected = sorted(one_by_one(asked, fields));
        assert!(!expected.is_empty());
        assert_eq!(sorted(at_once), expected, "{fields:?}");
    }
}

fn events_are_read_by_day_and_with_their_class(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let m = key("model", "acme/m");
    let mut batch: Vec<LogEvent> = ["2024-05-03", "2024-05-01", "2024-05-02", "2024-05-05"]
        .iter()
        .enumerate()
        .map(|(i, d)| event(&m, d, i as i64, "u"))
        .collect();
    let mut odd = event(&m, "2024-05-02", 7, "u");
    (odd.method, odd.status, odd.path, odd.user, odd.ip) = (
        "HEAD".into(),
        302,
        None,
        None,
        Some("ip\tw\\ith\nodd bytes é".into()),
    );
    batch.push(odd.clone());
    push_all(events, &batch, Some("bot"));
    push_all(
        events,
        &[event(&key("model", "acme/n"), "2024-05-02", 1, "u")],
        None,
    );
    let read_with = |fields| {
        let mut read: Vec<(Day, LogEvent)> = Vec::new();
        events
            .events_of_days(
                &m,
                day("2024-05-02"),
                day("2024-05-04"),
                fields,
                &mut |d, e| {
                    read.push((d, e));
                    Ok(())
                },
            )
            .unwrap();
        read
    };
    let read = read_with(EventFields::All);
    let read_days: Vec<Day> = read.iter().map(|(d, _)| *d).collect();
    assert_eq!(
        read_days,
        [day("2024-05-02"), day("2024-05-02"), day("2024-05-03")],
        "the range's days in order, every event of each"
    );
    let mut expected = vec![batch[0].clone(), batch[2].clone(), odd.clone()];
    let mut got: Vec<LogEvent> = read.into_iter().map(|(_, e)| e).collect();
    expected.sort_by_key(|e| e.at_ms);
    got.sort_by_key(|e| e.at_ms);
    assert_eq!(got, expected, "every field read back");
    // The request alone: the same events, in the same order of days, without instant or ids.
    let requests = read_with(EventFields::Request);
    let request_days: Vec<Day> = requests.iter().map(|(d, _)| *d).collect();
    assert_eq!(request_days, read_days);
    let as_request = |e: &LogEvent| (e.repo.clone(), e.method.clone(), e.status, e.path.clone());
    let mut got: Vec<_> = requests.iter().map(|(_, e)| as_request(e)).collect();
    let mut expected: Vec<_> = expected.iter().map(as_request).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "the request's fields read back");
    assert!(
        requests
            .iter()
            .all(|(_, e)| e.at_ms == 0 && e.user.is_none() && e.ip.is_none()),
        "only the request is read"
    );
    let mut of_day = Vec::new();
    events
        .classified_events_of(&m, day("2024-05-02"), &mut |e, c| {
            of_day.push((e, c));
            Ok(())
        })
        .unwrap();
    of_day.sort_by_key(|(e, _)| e.at_ms);
    let bot = Some("bot".to_owned());
    assert_eq!(of_day, [(batch[2].clone(), bot.clone()), (odd, bot)]);
}

fn log_files_are_recorded_once(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let name = "hf-csv:0123abcd";
    assert_eq!(events.log_file(name).unwrap(), None);
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    events
        .record_log_file(name, 10, 7, Some("hf-csv:4ead"))
        .unwrap();
    events
        .record_log_file(name, 99, 99, Some("hf-csv:other"))
        .unwrap();
    let info = events.log_file(name).unwrap().expect("recorded");
    assert_eq!((info.rows, info.events), (10, 7), "the first record stays");
    assert!(info.ingested_unix >= before && info.ingested_unix <= before + 60);
    assert_eq!(events.log_file("hf-csv:0123abce").unwrap(), None);
    // A head recorded may be known; a backend that keeps heads knows which are not.
    let keeps_heads = info.head.is_some();
    assert!(matches!(info.head.as_deref(), Some("hf-csv:4ead") | None));
    let may_know = |prefix, head| events.may_know_log_file(prefix, head).unwrap();
    assert!(may_know("hf-csv:", "hf-csv:4ead"));
    if keeps_heads {
        assert!(
            !may_know("hf-csv:", "hf-csv:other"),
            "only the first record stays"
        );
        assert!(!may_know("jsonl:", "jsonl:4ead"));
    }
    events.record_log_file("jsonl:00ff", 3, 2, None).unwrap();
    events.record_log_file("http:key", 3, 2, None).unwrap();
    if keeps_heads {
        // A file recorded without its head (before heads were) may have any.
        assert!(may_know("jsonl:", "jsonl:4ead"));
        assert!(
            !may_know("hf-csv:", "hf-csv:other"),
            "others are under other prefixes"
        );
    }
    let mut listed = Vec::new();
    events
        .log_files(&mut |name, info| {
            listed.push((name.to_owned(), info.rows, info.events));
            Ok(())
        })
        .unwrap();
    assert_eq!(
        listed,
        [
            ("hf-csv:0123abcd".to_owned(), 10, 7),
            ("http:key".to_owned(), 3, 2),
            ("jsonl:00ff".to_owned(), 3, 2)
        ],
        "by name"
    );
}

fn the_downloader_secret_is_made_once(make: MakeStore<'_>) {
    let store = make();
    let secret = events_of(store.as_ref()).downloader_secret().unwrap();
    assert_eq!(secret.len(), 32);
    assert_eq!(
        events_of(store.as_ref()).downloader_secret().unwrap(),
        secret
    );
    let other = make();
    let other = events_of(other.as_ref());
    assert_ne!(other.downloader_secret().unwrap(), secret);
    other.set_downloader_secret(&secret).unwrap();
    assert_eq!(
        other.downloader_secret().unwrap(),
        secret,
        "a copy's secret"
    );
}

fn name_all(events: &dyn LogEvents, repo: &RepoKey, namings: &[(i64, &str)]) {
    let mut write = events.add_events().unwrap();
    for (at, l) in namings {
        write.name_library(repo, *at, &lib(l)).unwrap();
    }
    write.commit().unwrap();
}

fn marked(events: &dyn LogEvents, org: Option<&str>) -> Vec<String> {
    let org = org.map(self::org);
    let mut out = Vec::new();
    events
        .library_changes(org.as_ref(), &mut |r| {
            out.push(format!("{} {}", r.repo_type, r.name));
            Ok(())
        })
        .unwrap();
    out
}

fn the_latest_naming_wins_in_any_order_and_ties_go_to_the_greatest_name(make: MakeStore<'_>) {
    let namings = [(5, "timm"), (9, "peft"), (9, "flair"), (1, "spacy")];
    for rotation in 0..namings.len() {
        let store = make();
        let events = events_of(store.as_ref());
        let repo = key("model", "acme/m");
        let mut order = namings.to_vec();
        order.rotate_left(rotation);
        // One naming per write, and all of them in one write.
        for one in &order {
            name_all(events, &repo, &[*one]);
        }
        let other = key("model", "acme/n");
        name_all(events, &other, &order);
        for r in [&repo, &other] {
            let now = events.library(r).unwrap();
            assert_eq!(now.from_logs, Some(lib("peft")), "{order:?}");
            assert_eq!((&now.set, now.effective()), (&None, Some(&lib("peft"))));
        }
    }
}

fn a_library_set_by_hand_wins_and_changes_are_marked_until_counted(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let repo = key("model", "acme/m");
    assert_eq!(events.library(&repo).unwrap(), RepoLibrary::default());
    name_all(events, &repo, &[(1, "peft")]);
    name_all(events, &key("model", "beta/m"), &[(1, "timm")]);
    assert_eq!(marked(events, None), ["model acme/m", "model beta/m"]);
    assert_eq!(marked(events, Some("acme")), ["model acme/m"]);
    // Counted under another library than the current one: still marked.
    events.library_counted(&repo, Some(&lib("timm"))).unwrap();
    assert_eq!(marked(events, Some("acme")), ["model acme/m"]);
    events.library_counted(&repo, Some(&lib("peft"))).unwrap();
    assert!(marked(events, Some("acme")).is_empty());
    // Set by hand to the library it is counted under: nothing to recount.
    events.set_library(&repo, Some(&lib("peft"))).unwrap();
    assert!(marked(events, Some("acme")).is_empty());
    let now = events.set_library(&repo, Some(&lib("timm"))).unwrap();
    assert_eq!(
        (now.set.as_ref(), now.effective()),
        (Some(&lib("timm")), Some(&lib("timm")))
    );
    assert_eq!(now.from_logs, Some(lib("peft")));
    assert_eq!(marked(events, Some("acme")), ["model acme/m"]);
    events.library_counted(&repo, Some(&lib("timm"))).unwrap();
    // A later naming in logs does not change a library set by hand.
    name_all(events, &repo, &[(2, "spacy")]);
    assert!(marked(events, Some("acme")).is_empty());
    let now = events.set_library(&repo, None).unwrap();
    assert_eq!((&now.set, now.effective()), (&None, Some(&lib("spacy"))));
    assert_eq!(marked(events, Some("acme")), ["model acme/m"]);
    // Removing a library by hand from a repository that has none marks nothing.
    let bare = key("model", "acme/bare");
    assert_eq!(
        events.set_library(&bare, None).unwrap(),
        RepoLibrary::default()
    );
    assert_eq!(marked(events, Some("acme")), ["model acme/m"]);
    events
        .set_library(&key("model", "beta/m"), Some(&lib("timm")))
        .unwrap();
    // Several at once, in the order asked (unknown and repeated ones too), as one by one.
    let (m, beta, none) = (&repo, &key("model", "beta/m"), &key("model", "gamma/none"));
    let asked = [beta, none, m, &bare, m];
    let one_by_one: Vec<RepoLibrary> = asked.iter().map(|r| events.library(r).unwrap()).collect();
    assert_eq!(events.libraries_of(&asked).unwrap(), one_by_one);
    assert_eq!(one_by_one[0].effective(), Some(&lib("timm")));
    assert_eq!(one_by_one[2].effective(), Some(&lib("spacy")));
    assert_eq!(one_by_one[1], RepoLibrary::default());
    assert!(events.libraries_of(&[]).unwrap().is_empty());
    let mut records = Vec::new();
    events
        .libraries(&mut |repo, record| {
            records.push((repo.name.as_str().to_owned(), record));
            Ok(())
        })
        .unwrap();
    let record = |set: Option<&str>, named: Option<(i64, &str)>| LibraryRecord {
        set: set.map(lib),
        named: named.map(|(at, l)| (at, lib(l))),
    };
    assert_eq!(
        records,
        [
            ("acme/m".to_owned(), record(None, Some((2, "spacy")))),
            ("beta/m".to_owned(), record(Some("timm"), Some((1, "timm")))),
        ],
        "every repository with a library, in export order"
    );
}

fn pruning_drops_earlier_days_and_moves_the_horizon_forward_only(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    assert_eq!(events.horizon().unwrap(), None);
    let m = key("model", "acme/m");
    let batch = [
        event(&m, "2024-04-30", 1, "u"),
        event(&m, "2024-05-01", 1, "u"),
        event(&m, "2024-05-01", 2, "u"),
        event(&m, "2024-05-02", 1, "u"),
        event(&key("dataset", "beta/d"), "2024-04-01", 1, "u"),
    ];
    push_all(events, &batch, None);
    assert_eq!(events.prune_before(day("2024-05-01")).unwrap(), 2);
    assert_eq!(events.horizon().unwrap(), Some(day("2024-05-01")));
    assert_eq!(
        event_days(events, None, None),
        ["model acme/m 2024-05-01", "model acme/m 2024-05-02"]
    );
    assert_eq!(events.prune_before(day("2024-04-01")).unwrap(), 0);
    assert_eq!(
        events.horizon().unwrap(),
        Some(day("2024-05-01")),
        "never back"
    );
    assert_eq!(events.prune_before(day("2024-05-02")).unwrap(), 2);
    assert_eq!(events.horizon().unwrap(), Some(day("2024-05-02")));
    assert_eq!(event_days(events, None, None), ["model acme/m 2024-05-02"]);
}

fn a_removed_organization_loses_its_events_and_libraries(make: MakeStore<'_>) {
    let store = make();
    let events = events_of(store.as_ref());
    let (a, b) = (key("model", "acme/m"), key("model", "acmex/m"));
    push_all(
        events,
        &[
            event(&a, "2024-05-01", 1, "u"),
            event(&b, "2024-05-01", 1, "u"),
        ],
        None,
    );
    name_all(events, &a, &[(1, "peft")]);
    name_all(events, &b, &[(1, "peft")]);
    events.record_log_file("hf-csv:feed", 2, 2, None).unwrap();
    store.remove_org(&org("acme")).unwrap();
    assert_eq!(event_days(events, None, None), ["model acmex/m 2024-05-01"]);
    assert_eq!(events.library(&a).unwrap(), RepoLibrary::default());
    assert_eq!(events.library(&b).unwrap().from_logs, Some(lib("peft")));
    assert_eq!(marked(events, None), ["model acmex/m"]);
    assert_eq!(
        events.log_file("hf-csv:feed").unwrap(),
        None,
        "a file that held the organization's events may be ingested again"
    );
    let again = push_all(events, &[event(&a, "2024-05-01", 1, "u")], None);
    assert_eq!(again, 1, "the organization's events come back as new");
}
