//! The accounts checks every backend passes, against a real server (marked
//! `#[ignore = "needs clickhouse-server"]`; `--include-ignored` runs it and fails without one).

use super::ClickHouseAccounts;
use crate::domain::{Plan, Username};
use crate::store::clickhouse::testing::ClickHouseServer;
use crate::store::{conformance, Accounts};

#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_accounts_conform() {
    let server = ClickHouseServer::start();
    conformance::accounts::run_all(&|| Box::new(ClickHouseAccounts::new(server.client())));
}

// Two application servers on one database: a token revoked through one fails on the next
// request to the other.
#[test]
#[ignore = "needs clickhouse-server"]
fn clickhouse_a_revoked_token_fails_on_every_server() {
    let server = ClickHouseServer::start();
    let client = server.client();
    let (one, two) = (
        ClickHouseAccounts::new(client.clone()),
        ClickHouseAccounts::new(client),
    );
    let alice = Username::parse("alice").unwrap();
    one.create_user(&alice, "hash", 100).unwrap();
    one.create_token(&alice, "t1", "hs_t1", 100).unwrap();
    assert_eq!(two.token_user("t1").unwrap(), Some(alice.clone()));
    assert!(one.revoke_token("t1", 200).unwrap());
    assert_eq!(two.token_user("t1").unwrap(), None);
    // Organizations differing only in case are one, whichever server is asked.
    one.create_org(&crate::domain::OrgName::parse("acme").unwrap(), Plan::Team)
        .unwrap();
    assert!(two
        .create_org(&crate::domain::OrgName::parse("Acme").unwrap(), Plan::Team)
        .is_err());
}
