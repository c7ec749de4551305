use super::*;
use crate::store::Stores;

fn org(s: &str) -> OrgName {
    OrgName::parse(s).unwrap()
}
fn user(s: &str) -> Username {
    Username::parse(s).unwrap()
}

/// acme (team) with alice (admin); freeco (free) with alice (read); bob in nothing.
fn store() -> Stores {
    let s = Stores::memory().unwrap();
    s.create_org(&org("acme"), Plan::Team).unwrap();
    s.create_org(&org("freeco"), Plan::Free).unwrap();
    create_user(&s, &user("alice"), "correct horse").unwrap();
    create_user(&s, &user("bob"), "battery staple").unwrap();
    s.set_member(&org("acme"), &user("alice"), Role::Admin)
        .unwrap();
    s.set_member(&org("freeco"), &user("alice"), Role::Read)
        .unwrap();
    s
}

#[test]
fn passwords_are_argon2id_with_random_salt() {
    let a = hash_password("pw").unwrap();
    let b = hash_password("pw").unwrap();
    assert!(a.starts_with("$argon2id$"), "{a}");
    assert_ne!(a, b, "salts differ");
    assert!(verify_password(&a, "pw"));
    assert!(!verify_password(&a, "pW"));
    assert!(!verify_password("not a phc string", "pw"));
    assert!(matches!(
        hash_password(""),
        Err(AccountError::EmptyPassword)
    ));
}

/// Hashes stored by earlier builds still verify, and new ones keep their parameters
/// (argon2id, version 19, 19 MiB, 2 passes, 1 lane, a 16-byte salt). `stored` was made by
/// argon2 0.5.
#[test]
fn stored_password_hashes_still_verify() {
    let stored = "$argon2id$v=19$m=19456,t=2,p=1$tNSaskf4nHLEhE8PwKY5ig$\
                  7nzxfCKs8D03NLl8DnUnQ9yXfnzuANjKkls6rurdQ8c";
    assert!(verify_password(stored, "correct horse battery staple"));
    assert!(!verify_password(stored, "correct horse battery stapler"));
    let fresh = hash_password("pw").unwrap();
    let salt = fresh.split('$').nth(4).unwrap();
    assert!(
        fresh.starts_with("$argon2id$v=19$m=19456,t=2,p=1$") && salt.len() == 22,
        "{fresh}"
    );
}

#[test]
fn check_password_accepts_only_the_right_password() {
    let s = store();
    assert!(check_password(&s, &user("alice"), "correct horse").unwrap());
    assert!(!check_password(&s, &user("alice"), "battery staple").unwrap());
    assert!(!check_password(&s, &user("nobody"), "correct horse").unwrap());
}

/// What the store keeps of tokens and sessions is their SHA-256: the same digest whatever
/// the library's version, or every stored token would stop working.
#[test]
fn secret_hashes_are_sha256_hex() {
    assert_eq!(
        secret_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn tokens_are_stored_hashed_and_revocable() {
    let s = store();
    let token = create_token(&s, &user("bob")).unwrap();
    assert!(
        token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64,
        "{token}"
    );
    assert_eq!(
        s.token_user(&token).unwrap(),
        None,
        "the raw token is not what is stored"
    );
    assert_eq!(
        principal_from_token(&s, &token).unwrap().user(),
        Some(&user("bob"))
    );
    assert!(revoke_token(&s, &token).unwrap());
    assert_eq!(
        principal_from_token(&s, &token).unwrap(),
        Principal::Rejected
    );
    assert!(!revoke_token(&s, "hs_unknown").unwrap());
    assert!(create_token(&s, &user("nobody")).is_err());
}

#[test]
fn sessions_identify_their_user_until_ended() {
    let s = store();
    let id = start_session(&s, &user("alice")).unwrap();
    let p = principal_from_session(&s, &id).unwrap();
    assert_eq!((p.user(), p.session()), (Some(&user("alice")), Some(&id)));
    assert_eq!(
        principal_from_session(&s, &SessionId::from_cookie("forged")).unwrap(),
        Principal::Rejected
    );
    end_session(&s, &id).unwrap();
    assert_eq!(
        principal_from_session(&s, &id).unwrap(),
        Principal::Rejected
    );
    assert!(
        !format!("{id:?}").contains(id.secret()),
        "Debug hides the secret"
    );
}

#[test]
fn access_rule() {
    let s = store();
    let alice = Principal::User {
        user: user("alice"),
        session: None,
    };
    let bob = Principal::User {
        user: user("bob"),
        session: None,
    };
    let ok = authorize(&s, &org("acme"), &alice).unwrap();
    assert_eq!((ok.role, ok.plan), (Role::Admin, Plan::Team));
    let err = |p: &Principal, o: &str| authorize(&s, &org(o), p).unwrap_err();
    assert!(matches!(
        err(&Principal::Anonymous, "acme"),
        AccessError::Unauthenticated
    ));
    assert!(matches!(
        err(&Principal::Rejected, "acme"),
        AccessError::Unauthenticated
    ));
    assert!(
        matches!(
            err(&Principal::Anonymous, "ghost"),
            AccessError::Unauthenticated
        ),
        "anonymous callers learn nothing"
    );
    assert!(matches!(err(&alice, "ghost"), AccessError::UnknownOrg(_)));
    assert!(matches!(err(&bob, "acme"), AccessError::NotMember(_)));
    assert!(
        matches!(err(&bob, "freeco"), AccessError::NotMember(_)),
        "membership before plan"
    );
    assert!(matches!(err(&alice, "freeco"), AccessError::NotPaid(_)));
    s.set_plan(&org("freeco"), Plan::Enterprise).unwrap();
    assert_eq!(
        authorize(&s, &org("freeco"), &alice).unwrap().role,
        Role::Read
    );
}

#[test]
fn memberships_lists_only_the_users_orgs() {
    let s = store();
    let names = |u: &str| -> Vec<String> {
        memberships(&s, &user(u))
            .unwrap()
            .into_iter()
            .map(|(o, _)| o.name.to_string())
            .collect()
    };
    assert_eq!(names("alice"), ["acme", "freeco"]);
    assert!(names("bob").is_empty());
}

#[test]
fn secrets_compare_exactly() {
    assert!(secrets_equal("abc", "abc"));
    assert!(!secrets_equal("abc", "abd"));
    assert!(!secrets_equal("abc", "abcd"));
}
