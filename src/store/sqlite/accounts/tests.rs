use super::*;
use crate::store::conformance;

#[test]
fn sqlite_accounts_conform() {
    conformance::accounts::run_all(&|| Box::new(SqliteAccounts::memory().unwrap()));
}
