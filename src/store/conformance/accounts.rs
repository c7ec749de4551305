//! The checks every [`Accounts`] backend passes: each takes a constructor of fresh, empty
//! stores and panics on the first difference from the contract. SQLite runs them in
//! `sqlite/accounts/tests.rs`, ClickHouse in `clickhouse/accounts/tests.rs`.

use crate::domain::{IngestKeyName, OrgName, Plan, Role, Username};
use crate::store::{Accounts, StoreError};

/// Runs every check against stores made by `make`.
pub fn run_all(make: &dyn Fn() -> Box<dyn Accounts>) {
    orgs_are_unique_and_listed_by_name_with_plan(make);
    users_are_unique_and_keep_their_hash(make);
    membership_role_changes_and_removal(make);
    revoked_tokens_no_longer_name_a_user(make);
    sessions_expire_and_can_be_deleted(make);
    a_new_password_ends_sessions_and_a_deleted_user_loses_everything(make);
    a_deleted_organization_loses_its_members(make);
    ingest_keys_are_found_by_hash_until_revoked_and_names_are_unique_among_live_keys(make);
}

fn org(s: &str) -> OrgName {
    OrgName::parse(s).expect("an organization name")
}

fn user(s: &str) -> Username {
    Username::parse(s).expect("a user name")
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn store_with_alice_in_acme(make: &dyn Fn() -> Box<dyn Accounts>) -> Box<dyn Accounts> {
    let s = make();
    s.create_org(&org("acme"), Plan::Team).unwrap();
    s.create_user(&user("alice"), "hash-a", 1_234).unwrap();
    s.set_member(&org("acme"), &user("alice"), Role::Read)
        .unwrap();
    s
}

fn orgs_are_unique_and_listed_by_name_with_plan(make: &dyn Fn() -> Box<dyn Accounts>) {
    let s = store_with_alice_in_acme(make);
    s.create_org(&org("beta"), Plan::Free).unwrap();
    assert!(matches!(
        s.create_org(&org("acme"), Plan::Free),
        Err(StoreError::Conflict(_))
    ));
    assert!(
        matches!(
            s.create_org(&org("ACME"), Plan::Free),
            Err(StoreError::Conflict(_))
        ),
        "organization names are unique ignoring case"
    );
    s.set_plan(&org("beta"), Plan::Enterprise).unwrap();
    assert!(matches!(
        s.set_plan(&org("nope"), Plan::Team),
        Err(StoreError::NotFound(_))
    ));
    let listed: Vec<_> = s
        .orgs()
        .unwrap()
        .into_iter()
        .map(|o| (o.name.to_string(), o.plan))
        .collect();
    assert_eq!(
        listed,
        [
            ("acme".into(), Plan::Team),
            ("beta".into(), Plan::Enterprise)
        ]
    );
    assert_eq!(
        s.org(&org("acme")).unwrap().map(|o| o.plan),
        Some(Plan::Team)
    );
    assert_eq!(s.org(&org("nope")).unwrap(), None);
}

fn users_are_unique_and_keep_their_hash(make: &dyn Fn() -> Box<dyn Accounts>) {
    let s = store_with_alice_in_acme(make);
    assert!(matches!(
        s.create_user(&user("alice"), "x", now_unix()),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.password_hash(&user("alice")).unwrap().as_deref(),
        Some("hash-a")
    );
    assert_eq!(s.password_hash(&user("bob")).unwrap(), None);
    let listed: Vec<_> = (s.users().unwrap().into_iter())
        .map(|u| (u.name.to_string(), u.created_unix, u.orgs))
        .collect();
    assert_eq!(listed, [("alice".to_owned(), 1_234, 1)]);
}

/// [`Accounts::org_and_role`] says what [`Accounts::org`] and [`Accounts::role`] say.
fn check_org_and_role(s: &dyn Accounts) {
    for o in ["acme", "nope"] {
        for u in ["alice", "bob", "nobody"] {
            let (o, u) = (org(o), user(u));
            let apart = s
                .org(&o)
                .unwrap()
                .map(|info| (info, s.role(&o, &u).unwrap()));
            assert_eq!(s.org_and_role(&o, &u).unwrap(), apart, "{o} {u}");
        }
    }
}

fn membership_role_changes_and_removal(make: &dyn Fn() -> Box<dyn Accounts>) {
    let s = store_with_alice_in_acme(make);
    assert_eq!(
        s.role(&org("acme"), &user("alice")).unwrap(),
        Some(Role::Read)
    );
    let acme = s.org(&org("acme")).unwrap().unwrap();
    let alice_in_acme = s.org_and_role(&org("acme"), &user("alice")).unwrap();
    assert_eq!(alice_in_acme, Some((acme.clone(), Some(Role::Read))));
    assert_eq!(
        s.org_and_role(&org("acme"), &user("bob")).unwrap(),
        Some((acme, None))
    );
    assert_eq!(s.org_and_role(&org("nope"), &user("alice")).unwrap(), None);
    check_org_and_role(s.as_ref());
    s.set_member(&org("acme"), &user("alice"), Role::Admin)
        .unwrap();
    assert_eq!(
        s.role(&org("acme"), &user("alice")).unwrap(),
        Some(Role::Admin)
    );
    assert_eq!(
        s.members(&org("acme")).unwrap(),
        [(user("alice"), Role::Admin)]
    );
    assert!(matches!(
        s.set_member(&org("nope"), &user("alice"), Role::Read),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.set_member(&org("acme"), &user("bob"), Role::Read),
        Err(StoreError::NotFound(_))
    ));
    check_org_and_role(s.as_ref());
    s.remove_member(&org("acme"), &user("alice")).unwrap();
    assert_eq!(s.role(&org("acme"), &user("alice")).unwrap(), None);
    check_org_and_role(s.as_ref());
    assert!(matches!(
        s.remove_member(&org("acme"), &user("alice")),
        Err(StoreError::NotFound(_))
    ));
}

fn revoked_tokens_no_longer_name_a_user(make: &dyn Fn() -> Box<dyn Accounts>) {
    let s = store_with_alice_in_acme(make);
    s.create_token(&user("alice"), "t1", "hs_t1", 100).unwrap();
    assert!(matches!(
        s.create_token(&user("bob"), "t2", "hs_t2", 100),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.token_user("t1").unwrap(), Some(user("alice")));
    assert_eq!(s.token_user("t2").unwrap(), None);
    s.touch_token("t1", 1_000).unwrap();
    assert!(s.revoke_token("t1", 1_500).unwrap());
    assert!(
        !s.revoke_token("t1", 1_600).unwrap(),
        "a token is revoked once"
    );
    assert_eq!(s.token_user("t1").unwrap(), None);
    let tokens = s.tokens(&user("alice")).unwrap();
    assert_eq!(tokens.len(), 1, "a revoked token stays listed");
    assert_eq!(tokens[0].prefix.as_deref(), Some("hs_t1"));
    assert_eq!(tokens[0].last_used_unix, Some(1_000));
    assert_eq!(
        (tokens[0].created_unix, tokens[0].revoked_unix),
        (100, Some(1_500))
    );
    s.create_token(&user("alice"), "t3", "hs_t3", 1_800)
        .unwrap();
    // A use is recorded at most once a minute.
    let t3_last_used = |s: &dyn Accounts| {
        let tokens = s.tokens(&user("alice")).unwrap();
        let t3 = tokens.iter().find(|t| t.prefix.as_deref() == Some("hs_t3"));
        t3.unwrap().last_used_unix
    };
    for (now, recorded) in [(2_000, 2_000), (2_030, 2_000), (2_061, 2_061)] {
        s.touch_token("t3", now).unwrap();
        assert_eq!(t3_last_used(&*s), Some(recorded), "used at {now}");
    }
    let mut records = s.token_records().unwrap();
    records.sort_by(|a, b| a.hash.cmp(&b.hash));
    let listed: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.owner.as_str(),
                r.hash.as_str(),
                r.prefix.as_deref(),
                r.created_unix,
                r.last_used_unix,
                r.revoked_unix,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("alice", "t1", Some("hs_t1"), 100, Some(1_000), Some(1_500)),
            ("alice", "t3", Some("hs_t3"), 1_800, Some(2_061), None)
        ],
        "a copy lists every token with its hash"
    );
}

fn sessions_expire_and_can_be_deleted(make: &dyn Fn() -> Box<dyn Accounts>) {
    let s = store_with_alice_in_acme(make);
    let now = now_unix();
    s.create_session("s1", &user("alice"), now + 100).unwrap();
    assert_eq!(s.session_user("s1", now).unwrap(), Some(user("alice")));
    assert_eq!(
        s.session_user("s1", now + 100).unwrap(),
        None,
        "expired at its expiry time"
    );
    s.delete_session("s1").unwrap();
    assert_eq!(s.session_user("s1", now).unwrap(), None);
}

fn a_new_password_ends_sessions_and_a_deleted_user_loses_everything(
    make: &dyn Fn() -> Box<dyn Accounts>,
) {
    let s = store_with_alice_in_acme(make);
    let now = now_unix();
    s.create_session("s1", &user("alice"), now + 100).unwrap();
    s.set_password_hash(&user("alice"), "hash-b").unwrap();
    assert_eq!(s.session_user("s1", now).unwrap(), None);
    assert_eq!(
        s.password_hash(&user("alice")).unwrap().as_deref(),
        Some("hash-b")
    );
    s.create_session("s2", &user("alice"), now + 100).unwrap();
    s.create_token(&user("alice"), "t1", "hs_t1", now_unix())
        .unwrap();
    s.delete_user(&user("alice")).unwrap();
    assert_eq!(s.session_user("s2", now).unwrap(), None);
    assert_eq!(s.token_user("t1").unwrap(), None);
    assert_eq!(s.role(&org("acme"), &user("alice")).unwrap(), None);
    assert!(s.users().unwrap().is_empty());
    // A new user of the same name starts with nothing.
    s.create_user(&user("alice"), "hash-c", now_unix()).unwrap();
    assert_eq!(s.token_user("t1").unwrap(), None);
    assert_eq!(s.role(&org("acme"), &user("alice")).unwrap(), None);
    assert!(s.tokens(&user("alice")).unwrap().is_empty());
}

fn a_deleted_organization_loses_its_members(make: &dyn Fn() -> Box<dyn Accounts>) {
    let s = store_with_alice_in_acme(make);
    s.delete_org(&org("acme")).unwrap();
    assert_eq!(s.org(&org("acme")).unwrap(), None);
    assert!(matches!(
        s.delete_org(&org("acme")),
        Err(StoreError::NotFound(_))
    ));
    s.create_org(&org("acme"), Plan::Free).unwrap();
    assert_eq!(s.role(&org("acme"), &user("alice")).unwrap(), None);
    assert_eq!(s.users().unwrap()[0].orgs, 0);
}

fn ingest_keys_are_found_by_hash_until_revoked_and_names_are_unique_among_live_keys(
    make: &dyn Fn() -> Box<dyn Accounts>,
) {
    let name = |s: &str| IngestKeyName::parse(s).unwrap();
    let s = make();
    s.create_ingest_key(&name("cdn"), "hash-1", "hsi_1", 100)
        .unwrap();
    assert!(matches!(
        s.create_ingest_key(&name("cdn"), "hash-2", "hsi_2", 100),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.ingest_key("hash-1").unwrap(), Some(name("cdn")));
    assert_eq!(s.ingest_key("hash-2").unwrap(), None);
    assert!(s.revoke_ingest_key(&name("cdn"), 500).unwrap());
    assert!(!s.revoke_ingest_key(&name("cdn"), 550).unwrap());
    assert_eq!(s.ingest_key("hash-1").unwrap(), None);
    // The name is free again; the revoked key stays listed.
    s.create_ingest_key(&name("cdn"), "hash-2", "hsi_2", 600)
        .unwrap();
    s.touch_ingest_key("hash-2", 1_000).unwrap();
    let listed = s.ingest_keys().unwrap();
    assert_eq!(listed.len(), 2);
    let live: Vec<_> = listed.iter().filter(|k| k.revoked_unix.is_none()).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(
        (live[0].prefix.as_str(), live[0].last_used_unix),
        ("hsi_2", Some(1_000))
    );
    let mut records = s.ingest_key_records().unwrap();
    records.sort_by(|a, b| a.hash.cmp(&b.hash));
    let listed: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.owner.as_str(),
                r.hash.as_str(),
                r.prefix.as_deref(),
                r.created_unix,
                r.last_used_unix,
                r.revoked_unix,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("cdn", "hash-1", Some("hsi_1"), 100, None, Some(500)),
            ("cdn", "hash-2", Some("hsi_2"), 600, Some(1_000), None)
        ]
    );
}
