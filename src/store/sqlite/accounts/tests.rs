use super::*;

fn org(s: &str) -> OrgName {
    OrgName::parse(s).unwrap()
}
fn user(s: &str) -> Username {
    Username::parse(s).unwrap()
}

fn store_with_alice_in_acme() -> SqliteAccounts {
    let s = SqliteAccounts::memory().unwrap();
    s.create_org(&org("acme"), Plan::Team).unwrap();
    s.create_user(&user("alice"), "hash-a").unwrap();
    s.set_member(&org("acme"), &user("alice"), Role::Read)
        .unwrap();
    s
}

#[test]
fn orgs_are_unique_and_listed_by_name_with_plan() {
    let s = store_with_alice_in_acme();
    s.create_org(&org("beta"), Plan::Free).unwrap();
    assert!(matches!(
        s.create_org(&org("acme"), Plan::Free),
        Err(StoreError::Conflict(_))
    ));
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

#[test]
fn users_are_unique_and_keep_their_hash() {
    let s = store_with_alice_in_acme();
    assert!(matches!(
        s.create_user(&user("alice"), "x"),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.password_hash(&user("alice")).unwrap().as_deref(),
        Some("hash-a")
    );
    assert_eq!(s.password_hash(&user("bob")).unwrap(), None);
}

#[test]
fn membership_role_changes_and_removal() {
    let s = store_with_alice_in_acme();
    assert_eq!(
        s.role(&org("acme"), &user("alice")).unwrap(),
        Some(Role::Read)
    );
    s.set_member(&org("acme"), &user("alice"), Role::Admin)
        .unwrap();
    assert_eq!(
        s.role(&org("acme"), &user("alice")).unwrap(),
        Some(Role::Admin)
    );
    assert!(matches!(
        s.set_member(&org("nope"), &user("alice"), Role::Read),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.set_member(&org("acme"), &user("bob"), Role::Read),
        Err(StoreError::NotFound(_))
    ));
    s.remove_member(&org("acme"), &user("alice")).unwrap();
    assert_eq!(s.role(&org("acme"), &user("alice")).unwrap(), None);
    assert!(matches!(
        s.remove_member(&org("acme"), &user("alice")),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn revoked_tokens_no_longer_name_a_user() {
    let s = store_with_alice_in_acme();
    s.create_token(&user("alice"), "t1", "hs_t1").unwrap();
    assert!(matches!(
        s.create_token(&user("bob"), "t2", "hs_t2"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.token_user("t1").unwrap(), Some(user("alice")));
    assert_eq!(s.token_user("t2").unwrap(), None);
    assert!(s.revoke_token("t1").unwrap());
    assert!(!s.revoke_token("t1").unwrap(), "a token is revoked once");
    assert_eq!(s.token_user("t1").unwrap(), None);
    let revoked: Option<i64> = s
        .writer()
        .query_row(
            "SELECT revoked_unix FROM tokens WHERE hash = 't1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(revoked.is_some());
}

#[test]
fn sessions_expire_and_can_be_deleted() {
    let s = store_with_alice_in_acme();
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
