//! The demo's sign-in: a user `demo` with a fixed, printed password, admin of every demo
//! organization, and a fresh API token for each run (through `crate::accounts`).

use super::orgs::DemoOrg;
use super::DemoError;
use crate::accounts;
use crate::domain::{Role, Username};
use crate::store::Store;

pub const DEMO_USER: &str = "demo";
/// Not a secret: the demo store holds only generated data and is meant to be shown.
pub const DEMO_PASSWORD: &str = "demo-password";

/// How to sign in to the demo.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub user: Username,
    pub password: &'static str,
    /// A new API token (shown once; only its hash is stored).
    pub token: String,
}

/// Creates the demo user if needed, makes it an admin of every demo organization and issues a
/// fresh API token.
pub fn prepare_login(store: &dyn Store, orgs: &[DemoOrg]) -> Result<DemoLogin, DemoError> {
    let user = Username::parse(DEMO_USER)?;
    if store.password_hash(&user)?.is_none() {
        accounts::create_user(store, &user, DEMO_PASSWORD)?;
    }
    for org in orgs {
        store.set_member(&org.org_name()?, &user, Role::Admin)?;
    }
    let token = accounts::create_token(store, &user)?;
    Ok(DemoLogin {
        user,
        password: DEMO_PASSWORD,
        token,
    })
}
